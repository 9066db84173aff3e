//! CSV with a header row and a mapping from item fields to column names.

use std::fmt;
use std::io::{self, BufRead, Read};
use std::str::FromStr;

use serde_json::{Map, Value};
use switchboard_core::{Author, ItemKind, Metrics, Network, NewItem};

use crate::json::Sink;
use crate::normalize::{
    clean_url, extract_hashtags, extract_mentions, extract_urls, normalize_handle, normalize_lang,
    normalize_timestamp,
};
use crate::{make_record, Outcome, ReadError, RecordError};

/// An item field a CSV column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CsvField {
    Text,
    ExternalId,
    CreatedAt,
    AuthorId,
    AuthorHandle,
    AuthorName,
    Followers,
    Kind,
    Network,
    Lang,
    Url,
    ParentId,
    RootId,
    Likes,
    Shares,
    Replies,
}

impl CsvField {
    pub const ALL: &'static [CsvField] = &[
        CsvField::Text,
        CsvField::ExternalId,
        CsvField::CreatedAt,
        CsvField::AuthorId,
        CsvField::AuthorHandle,
        CsvField::AuthorName,
        CsvField::Followers,
        CsvField::Kind,
        CsvField::Network,
        CsvField::Lang,
        CsvField::Url,
        CsvField::ParentId,
        CsvField::RootId,
        CsvField::Likes,
        CsvField::Shares,
        CsvField::Replies,
    ];

    /// Fields every mapping must name.
    pub const REQUIRED: &'static [CsvField] =
        &[CsvField::Text, CsvField::ExternalId, CsvField::CreatedAt];

    pub fn as_str(self) -> &'static str {
        match self {
            CsvField::Text => "text",
            CsvField::ExternalId => "external_id",
            CsvField::CreatedAt => "created_at",
            CsvField::AuthorId => "author_id",
            CsvField::AuthorHandle => "author_handle",
            CsvField::AuthorName => "author_name",
            CsvField::Followers => "followers",
            CsvField::Kind => "kind",
            CsvField::Network => "network",
            CsvField::Lang => "lang",
            CsvField::Url => "url",
            CsvField::ParentId => "parent_id",
            CsvField::RootId => "root_id",
            CsvField::Likes => "likes",
            CsvField::Shares => "shares",
            CsvField::Replies => "replies",
        }
    }
}

impl fmt::Display for CsvField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CsvField {
    type Err = MappingError;
    fn from_str(s: &str) -> Result<CsvField, MappingError> {
        let s = s.trim();
        CsvField::ALL
            .iter()
            .copied()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| MappingError::UnknownField(s.to_string()))
    }
}

/// Why a CSV mapping spec was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("unknown field `{0}`; expected one of: text, external_id, created_at, author_id, author_handle, author_name, followers, kind, network, lang, url, parent_id, root_id, likes, shares, replies")]
    UnknownField(String),
    #[error("`{0}`: expected FIELD=COLUMN")]
    Syntax(String),
    #[error("field `{0}` mapped twice")]
    Duplicate(CsvField),
    #[error("field `{0}` is required")]
    Missing(CsvField),
    #[error("no network: map a `network` column or give a fixed network")]
    NoNetwork,
}

/// Which CSV column (by header name) holds each item field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvMapping {
    columns: Vec<(CsvField, String)>,
    network: Option<Network>,
}

impl CsvMapping {
    /// Parses `"text=body,external_id=id,created_at=date,author_handle=user"`. `text`,
    /// `external_id` and `created_at` are required. `network` names the network of every row;
    /// a mapped `network` column overrides it where the cell is not empty; one of the two is
    /// required. Unmapped `kind` is `post`.
    pub fn parse(spec: &str, network: Option<Network>) -> Result<CsvMapping, MappingError> {
        let mut columns: Vec<(CsvField, String)> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, column) = part
                .split_once('=')
                .ok_or_else(|| MappingError::Syntax(part.to_string()))?;
            let field: CsvField = field.parse()?;
            let column = column.trim();
            if column.is_empty() {
                return Err(MappingError::Syntax(part.to_string()));
            }
            if columns.iter().any(|(f, _)| *f == field) {
                return Err(MappingError::Duplicate(field));
            }
            columns.push((field, column.to_string()));
        }
        CsvMapping::new(columns, network)
    }

    /// A mapping from `(field, column)` pairs.
    pub fn new(
        columns: Vec<(CsvField, String)>,
        network: Option<Network>,
    ) -> Result<CsvMapping, MappingError> {
        for required in CsvField::REQUIRED {
            if !columns.iter().any(|(f, _)| f == required) {
                return Err(MappingError::Missing(*required));
            }
        }
        if network.is_none() && !columns.iter().any(|(f, _)| *f == CsvField::Network) {
            return Err(MappingError::NoNetwork);
        }
        Ok(CsvMapping { columns, network })
    }

    /// The column mapped to `field`.
    pub fn column(&self, field: CsvField) -> Option<&str> {
        self.columns
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, c)| c.as_str())
    }

    /// The network given for every row, if any.
    pub fn fixed_network(&self) -> Option<Network> {
        self.network
    }
}

/// The mapping resolved against a header: column indexes by field.
struct Resolved {
    index: [Option<usize>; 16],
}

impl Resolved {
    fn get<'r>(&self, rec: &'r csv::StringRecord, field: CsvField) -> Option<&'r str> {
        let i = self.index[field as usize]?;
        rec.get(i).map(str::trim).filter(|s| !s.is_empty())
    }
}

pub(crate) fn read<R: BufRead>(
    reader: R,
    mapping: &CsvMapping,
    sink: Sink<'_>,
) -> Result<u64, ReadError> {
    let (prefix, rest) = crate::json::sniff(reader, 3)?; // drops a byte order mark
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(CrlfToLf::new(crate::json::chain(prefix, rest)));
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(csv_error(e, true)),
    };
    if headers.is_empty() {
        return Err(ReadError::CsvHeader("no header row".into()));
    }
    let mut index = [None; 16];
    for (field, column) in &mapping.columns {
        let pos = headers
            .iter()
            .position(|h| h == column)
            .or_else(|| {
                headers
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(column.trim()))
            })
            .ok_or_else(|| {
                ReadError::CsvHeader(format!(
                    "column `{column}` (for {field}) is not in the header: {}",
                    headers.iter().collect::<Vec<_>>().join(", ")
                ))
            })?;
        index[*field as usize] = Some(pos);
    }
    let resolved = Resolved { index };
    let header_names: Vec<String> = headers.iter().map(str::to_string).collect();

    let mut rec = csv::StringRecord::new();
    let mut count = 0u64;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                count += 1;
                let line = rec.position().map_or(0, |p| p.line());
                let parsed = row_item(&rec, &resolved, mapping, &header_names)
                    .map(|i| Outcome::Item(Box::new(i)));
                if sink(make_record(line, parsed)).is_break() {
                    break;
                }
            }
            Err(e) => {
                let line = e.position().map(|p| p.line());
                match (e.kind(), line) {
                    (csv::ErrorKind::Utf8 { .. }, Some(line)) => {
                        count += 1;
                        let err = RecordError::new(format!("not UTF-8: {e}"));
                        if sink(make_record(line, Err(err))).is_break() {
                            break;
                        }
                    }
                    _ => return Err(csv_error(e, false)),
                }
            }
        }
    }
    Ok(count)
}

/// Reads CRLF line ends as LF (lone CRs are kept). The csv crate's record positions count
/// lines wrongly with CRLF input; with LF they are the lines an editor shows. Cells that held
/// CRLF inside quotes hold LF.
struct CrlfToLf<R> {
    inner: R,
    pending_cr: bool,
}

impl<R: BufRead> CrlfToLf<R> {
    fn new(inner: R) -> Self {
        CrlfToLf {
            inner,
            pending_cr: false,
        }
    }
}

impl<R: BufRead> Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let avail = self.inner.fill_buf()?;
            if avail.is_empty() {
                if std::mem::take(&mut self.pending_cr) {
                    out[0] = b'\r';
                    return Ok(1);
                }
                return Ok(0);
            }
            let mut n = 0;
            if std::mem::take(&mut self.pending_cr) && avail[0] != b'\n' {
                out[0] = b'\r';
                n = 1;
            }
            let mut used = 0;
            while used < avail.len() && n < out.len() {
                let b = avail[used];
                used += 1;
                if b == b'\r' {
                    match avail.get(used) {
                        Some(b'\n') => continue,
                        Some(_) => {}
                        None => {
                            self.pending_cr = true;
                            break;
                        }
                    }
                }
                out[n] = b;
                n += 1;
            }
            self.inner.consume(used);
            if n > 0 {
                return Ok(n);
            }
        }
    }
}

fn csv_error(e: csv::Error, header: bool) -> ReadError {
    if e.is_io_error() {
        if let csv::ErrorKind::Io(_) = e.kind() {
            if let csv::ErrorKind::Io(io) = e.into_kind() {
                return ReadError::Io(io);
            }
            unreachable!("checked above");
        }
    }
    if header {
        ReadError::CsvHeader(e.to_string())
    } else {
        ReadError::Csv(e.to_string())
    }
}

fn parse_count(
    r: &Resolved,
    rec: &csv::StringRecord,
    field: CsvField,
) -> Result<Option<i64>, RecordError> {
    match r.get(rec, field) {
        None => Ok(None),
        Some(s) => {
            let digits: String = s.chars().filter(|c| *c != ',' && *c != '_').collect();
            digits
                .parse::<i64>()
                .map(Some)
                .map_err(|_| RecordError::new(format!("{field}: not an integer: {s:?}")))
        }
    }
}

fn row_item(
    rec: &csv::StringRecord,
    r: &Resolved,
    mapping: &CsvMapping,
    headers: &[String],
) -> Result<NewItem, RecordError> {
    use CsvField as F;
    let external_id = r
        .get(rec, F::ExternalId)
        .ok_or_else(|| RecordError::new("external_id: empty"))?
        .to_string();
    let created_raw = r
        .get(rec, F::CreatedAt)
        .ok_or_else(|| RecordError::new("created_at: empty"))?;
    let created_at = normalize_timestamp(created_raw)
        .map_err(|e| RecordError::new(format!("created_at: {e}")))?;
    let network = match r.get(rec, F::Network) {
        Some(n) => n
            .parse::<Network>()
            .map_err(|e| RecordError::new(format!("network: {e}")))?,
        None => mapping
            .network
            .ok_or_else(|| RecordError::new("network: empty"))?,
    };
    let kind = match r.get(rec, F::Kind) {
        Some(k) => k
            .parse::<ItemKind>()
            .map_err(|e| RecordError::new(format!("kind: {e}")))?,
        None => ItemKind::Post,
    };
    // Text keeps its inner whitespace and newlines; only the cell's ends are trimmed.
    let text = r.get(rec, F::Text).unwrap_or("").to_string();
    let handle = r.get(rec, F::AuthorHandle).map(normalize_handle);
    let author = Author {
        id: r
            .get(rec, F::AuthorId)
            .map(str::to_string)
            .or_else(|| handle.clone())
            .unwrap_or_default(),
        handle: handle.unwrap_or_default(),
        display_name: r.get(rec, F::AuthorName).unwrap_or("").to_string(),
        followers: parse_count(r, rec, F::Followers)?,
    };
    let mut raw = Map::new();
    for (i, name) in headers.iter().enumerate() {
        let value = rec.get(i).unwrap_or("");
        raw.insert(name.clone(), Value::String(value.to_string()));
    }
    Ok(NewItem {
        network,
        external_id,
        kind,
        author,
        hashtags: extract_hashtags(&text),
        mentions: extract_mentions(&text),
        urls: extract_urls(&text),
        text,
        lang: r.get(rec, F::Lang).and_then(normalize_lang),
        created_at,
        url: r.get(rec, F::Url).map(clean_url),
        parent_id: r.get(rec, F::ParentId).map(str::to_string),
        root_id: r.get(rec, F::RootId).map(str::to_string),
        metrics: Metrics {
            likes: parse_count(r, rec, F::Likes)?.unwrap_or(0),
            shares: parse_count(r, rec, F::Shares)?.unwrap_or(0),
            replies: parse_count(r, rec, F::Replies)?.unwrap_or(0),
        },
        raw: Some(Value::Object(raw)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_becomes_lf() {
        for cap in [1, 2, 3, 64] {
            let input: &[u8] = b"a\r\nb\rc\r\n\r\nd\r";
            let mut r = CrlfToLf::new(io::BufReader::with_capacity(cap, input));
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, b"a\nb\rc\n\nd\r", "capacity {cap}");
        }
    }

    #[test]
    fn mapping_parses_and_names_unknown_fields() {
        let m = CsvMapping::parse(
            "text=body, external_id=id,created_at=date,author_handle=user",
            Some(Network::Reviews),
        )
        .unwrap();
        assert_eq!(m.column(CsvField::Text), Some("body"));
        assert_eq!(m.column(CsvField::AuthorHandle), Some("user"));
        assert_eq!(m.fixed_network(), Some(Network::Reviews));

        let e = CsvMapping::parse(
            "text=a,external_id=b,created_at=c,colour=d",
            Some(Network::X),
        )
        .unwrap_err();
        assert!(matches!(&e, MappingError::UnknownField(f) if f == "colour"));
        assert!(e.to_string().starts_with("unknown field `colour`"));
        assert_eq!(
            CsvMapping::parse("text=a,external_id=b", Some(Network::X)).unwrap_err(),
            MappingError::Missing(CsvField::CreatedAt)
        );
        assert_eq!(
            CsvMapping::parse("text=a,external_id=b,created_at=c", None).unwrap_err(),
            MappingError::NoNetwork
        );
        assert!(CsvMapping::parse("text=a,external_id=b,created_at=c,network=n", None).is_ok());
        assert_eq!(
            CsvMapping::parse("text=a,text=b", None).unwrap_err(),
            MappingError::Duplicate(CsvField::Text)
        );
        assert_eq!(
            CsvMapping::parse("text", None).unwrap_err(),
            MappingError::Syntax("text".into())
        );
    }
}
