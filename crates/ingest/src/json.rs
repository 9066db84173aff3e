//! Streaming JSON plumbing shared by the JSON formats: sniffing the first bytes, NDJSON lines,
//! arrays streamed element by element through serde visitors, and typed access to a record's
//! fields with error messages that name the field.

use std::fmt;
use std::io::{self, BufRead, Cursor, Read};
use std::ops::ControlFlow;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::normalize::normalize_timestamp;
use crate::{make_record, Parsed, ReadError, Record, RecordError};

/// The longest NDJSON line accepted; a longer one is reported as a malformed record and
/// skipped without being held in memory.
pub(crate) const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

pub(crate) type Sink<'a> = &'a mut dyn FnMut(Record) -> ControlFlow<()>;
pub(crate) type ParseFn<'a> = &'a mut dyn FnMut(Value) -> Parsed;

/// The reader after sniffing: the bytes looked at, then the rest.
pub(crate) type Sniffed<R> = io::Chain<Cursor<Vec<u8>>, R>;

/// Reads the first bytes (at least `want`, and at least up to the first non-whitespace byte)
/// without losing them. A UTF-8 byte order mark is dropped.
pub(crate) fn sniff<R: BufRead>(mut r: R, want: usize) -> io::Result<(Vec<u8>, R)> {
    let mut prefix = Vec::new();
    loop {
        let enough = prefix.len() >= want && first_non_ws(&prefix).is_some();
        if enough {
            break;
        }
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        let n = if prefix.len() < want {
            buf.len().min(want - prefix.len())
        } else {
            buf.len()
        };
        prefix.extend_from_slice(&buf[..n]);
        r.consume(n);
    }
    if prefix.starts_with(b"\xEF\xBB\xBF") {
        prefix.drain(..3);
    }
    Ok((prefix, r))
}

pub(crate) fn chain<R: BufRead>(prefix: Vec<u8>, rest: R) -> Sniffed<R> {
    Cursor::new(prefix).chain(rest)
}

pub(crate) fn first_non_ws(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| !b.is_ascii_whitespace())
}

/// The first key of a JSON object starting at the first non-whitespace byte, if the prefix
/// holds it.
pub(crate) fn first_key(bytes: &[u8]) -> Option<&str> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    if bytes[start] != b'{' {
        return None;
    }
    let rest = &bytes[start + 1..];
    let q = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    if rest[q] != b'"' {
        return None;
    }
    let key = &rest[q + 1..];
    let end = key.iter().position(|&b| b == b'"' || b == b'\\')?;
    std::str::from_utf8(&key[..end]).ok()
}

/// Whether `{`-started input is one pretty-printed JSON document rather than NDJSON: its first
/// non-blank line (if the prefix holds a whole line) is an incomplete JSON value.
pub(crate) fn is_multiline_document(prefix: &[u8]) -> bool {
    let mut rest = prefix;
    while let Some(nl) = memchr::memchr(b'\n', rest) {
        let line = &rest[..nl];
        if line.iter().all(u8::is_ascii_whitespace) {
            rest = &rest[nl + 1..];
            continue;
        }
        return matches!(serde_json::from_slice::<IgnoredAny>(line), Err(e) if e.is_eof());
    }
    false
}

/// A single JSON document that is one record (e.g. a pretty-printed status).
pub(crate) fn stream_document<R: Read>(
    reader: R,
    parse: ParseFn<'_>,
    sink: Sink<'_>,
) -> Result<u64, ReadError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let value =
        <Value as serde::Deserialize>::deserialize(&mut de).map_err(|e| top_level_error(e, ""))?;
    de.end()
        .map_err(|e| top_level_error(e, "after the JSON document"))?;
    let _ = sink(make_record(1, parse(value)));
    Ok(1)
}

/// NDJSON, or a single pretty-printed document (see [`is_multiline_document`]).
pub(crate) fn stream_ndjson_or_document<R: BufRead>(
    prefix: Vec<u8>,
    rest: R,
    parse: ParseFn<'_>,
    sink: Sink<'_>,
) -> Result<u64, ReadError> {
    let document = first_non_ws(&prefix) == Some(b'{') && is_multiline_document(&prefix);
    let input = chain(prefix, rest);
    if document {
        stream_document(input, parse, sink)
    } else {
        stream_ndjson(input, parse, sink)
    }
}

// ---------------------------------------------------------------------------------------------
// NDJSON
// ---------------------------------------------------------------------------------------------

/// Calls `f` with each non-blank line (1-based line number, bytes without the line end). A line
/// longer than [`MAX_LINE_BYTES`] is passed as `Err` and skipped without buffering it.
pub(crate) fn for_each_line<R: BufRead>(
    r: R,
    f: impl FnMut(u64, Result<&[u8], RecordError>) -> ControlFlow<()>,
) -> io::Result<()> {
    for_each_line_limited(r, MAX_LINE_BYTES, f)
}

fn deliver(
    f: &mut impl FnMut(u64, Result<&[u8], RecordError>) -> ControlFlow<()>,
    line_no: u64,
    line: &[u8],
) -> ControlFlow<()> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return ControlFlow::Continue(());
    }
    f(line_no, Ok(line))
}

pub(crate) fn for_each_line_limited<R: BufRead>(
    mut r: R,
    max: usize,
    mut f: impl FnMut(u64, Result<&[u8], RecordError>) -> ControlFlow<()>,
) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    let mut line_no = 0u64;
    let mut too_long = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            // A last line without a line end.
            if too_long || !buf.is_empty() {
                line_no += 1;
                let flow = if too_long {
                    f(line_no, Err(too_long_error(max)))
                } else {
                    deliver(&mut f, line_no, &buf)
                };
                let _ = flow;
            }
            return Ok(());
        }
        let (used, flow) = match memchr::memchr(b'\n', avail) {
            Some(p) => {
                line_no += 1;
                let flow = if too_long {
                    f(line_no, Err(too_long_error(max)))
                } else if buf.is_empty() {
                    // The whole line is in the reader's buffer: no copy.
                    if p > max {
                        f(line_no, Err(too_long_error(max)))
                    } else {
                        deliver(&mut f, line_no, &avail[..p])
                    }
                } else if buf.len() + p > max {
                    f(line_no, Err(too_long_error(max)))
                } else {
                    buf.extend_from_slice(&avail[..p]);
                    deliver(&mut f, line_no, &buf)
                };
                too_long = false;
                buf.clear();
                if buf.capacity() > 1 << 20 {
                    buf.shrink_to(64 * 1024);
                }
                (p + 1, flow)
            }
            None => {
                if !too_long {
                    if buf.len() + avail.len() > max {
                        too_long = true;
                        buf = Vec::new();
                    } else {
                        buf.extend_from_slice(avail);
                    }
                }
                (avail.len(), ControlFlow::Continue(()))
            }
        };
        r.consume(used);
        if flow.is_break() {
            return Ok(());
        }
    }
}

fn too_long_error(max: usize) -> RecordError {
    if max >= 1024 * 1024 {
        RecordError::new(format!("record longer than {} MiB", max / (1024 * 1024)))
    } else {
        RecordError::new(format!("record longer than {max} bytes"))
    }
}

/// A serde_json error without its "at line 1 column N" suffix, with the column kept.
pub(crate) fn json_error_message(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let base = match full.rfind(" at line ") {
        Some(p) => &full[..p],
        None => &full,
    };
    if e.column() > 0 {
        format!("{base} (column {})", e.column())
    } else {
        base.to_string()
    }
}

/// NDJSON whose lines are JSON values turned into items by `parse`.
pub(crate) fn stream_ndjson<R: BufRead>(
    reader: R,
    parse: ParseFn<'_>,
    sink: Sink<'_>,
) -> Result<u64, ReadError> {
    let mut count = 0u64;
    for_each_line(reader, |line_no, line| {
        count += 1;
        let parsed = line.and_then(|bytes| {
            serde_json::from_slice::<Value>(bytes)
                .map_err(|e| RecordError::new(format!("invalid JSON: {}", json_error_message(&e))))
        });
        let parsed = parsed.and_then(&mut *parse);
        sink(make_record(line_no, parsed))
    })?;
    Ok(count)
}

// ---------------------------------------------------------------------------------------------
// Streamed arrays
// ---------------------------------------------------------------------------------------------

const STOPPED: &str = "\u{0}switchboard-ingest: stopped by the caller";

/// Delivers each element of a JSON array as a record, holding one element at a time.
struct Elements<'p, 's> {
    parse: ParseFn<'p>,
    sink: Sink<'s>,
    count: u64,
    stopped: bool,
}

impl<'de> DeserializeSeed<'de> for &mut Elements<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for &mut Elements<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(value) = seq.next_element::<Value>()? {
            self.count += 1;
            let record = make_record(self.count, (self.parse)(value));
            if (self.sink)(record).is_break() {
                self.stopped = true;
                return Err(de::Error::custom(STOPPED));
            }
        }
        Ok(())
    }
}

/// A top-level object whose array under one of `keys` is streamed; other keys are skipped
/// without being kept.
struct Keyed<'e, 'p, 's> {
    keys: &'static [&'static str],
    elements: &'e mut Elements<'p, 's>,
    found: bool,
}

impl<'de> Visitor<'de> for &mut Keyed<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "a JSON object with an array under `{}`",
            self.keys.join("` or `")
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if !self.found && self.keys.contains(&key.as_str()) {
                self.found = true;
                map.next_value_seed(&mut *self.elements)?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

fn finish<R: io::Read>(
    result: Result<(), serde_json::Error>,
    de: &mut serde_json::Deserializer<serde_json::de::IoRead<R>>,
    elements: &Elements,
) -> Result<u64, ReadError> {
    match result {
        Ok(()) => {
            de.end()
                .map_err(|e| top_level_error(e, "after the JSON document"))?;
            Ok(elements.count)
        }
        Err(_) if elements.stopped => Ok(elements.count),
        Err(e) => Err(top_level_error(e, "")),
    }
}

fn top_level_error(e: serde_json::Error, context: &str) -> ReadError {
    if e.is_io() {
        return ReadError::Io(io::Error::from(e));
    }
    let what = if e.is_eof() {
        "unexpected end of input"
    } else {
        "invalid JSON"
    };
    if context.is_empty() {
        ReadError::Json(format!("{what}: {e}"))
    } else {
        ReadError::Json(format!("{what} {context}: {e}"))
    }
}

/// A top-level JSON array, streamed.
pub(crate) fn stream_array<R: Read>(
    reader: R,
    parse: ParseFn<'_>,
    sink: Sink<'_>,
) -> Result<u64, ReadError> {
    let mut elements = Elements {
        parse,
        sink,
        count: 0,
        stopped: false,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = de::Deserializer::deserialize_seq(&mut de, &mut elements);
    finish(result, &mut de, &elements)
}

/// A top-level JSON object whose array under the first of `keys` present is streamed.
pub(crate) fn stream_keyed_array<R: Read>(
    reader: R,
    keys: &'static [&'static str],
    parse: ParseFn<'_>,
    sink: Sink<'_>,
) -> Result<u64, ReadError> {
    let mut elements = Elements {
        parse,
        sink,
        count: 0,
        stopped: false,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut keyed = Keyed {
        keys,
        elements: &mut elements,
        found: false,
    };
    let result = de::Deserializer::deserialize_map(&mut de, &mut keyed);
    let found = keyed.found;
    let count = finish(result, &mut de, &elements)?;
    if !found {
        return Err(ReadError::Json(format!(
            "no `{}` array in the top-level object",
            keys.join("` or `")
        )));
    }
    Ok(count)
}

// ---------------------------------------------------------------------------------------------
// Field access
// ---------------------------------------------------------------------------------------------

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A JSON object with the path it was reached by (for error messages), e.g. `account.`.
#[derive(Clone, Copy)]
pub(crate) struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    pub prefix: &'static str,
}

impl<'a> Obj<'a> {
    pub fn root(v: &'a Value) -> Result<Obj<'a>, RecordError> {
        match v {
            Value::Object(map) => Ok(Obj { map, prefix: "" }),
            other => Err(RecordError::new(format!(
                "expected a JSON object, got {}",
                type_name(other)
            ))),
        }
    }

    fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub fn missing(&self, key: &str) -> RecordError {
        RecordError::new(format!("missing field `{}`", self.name(key)))
    }

    fn wrong(&self, key: &str, expected: &str, got: &Value) -> RecordError {
        RecordError::new(format!(
            "`{}`: expected {expected}, got {}",
            self.name(key),
            type_name(got)
        ))
    }

    /// The value under `key`, `None` if absent or null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn str(&self, key: &str) -> Result<Option<&'a str>, RecordError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong(key, "a string", other)),
        }
    }

    /// A string, `""` when absent.
    pub fn str_or_empty(&self, key: &str) -> Result<&'a str, RecordError> {
        Ok(self.str(key)?.unwrap_or(""))
    }

    pub fn req_str(&self, key: &str) -> Result<&'a str, RecordError> {
        self.str(key)?.ok_or_else(|| self.missing(key))
    }

    /// An identifier: a string, or an integer written as a number.
    pub fn id(&self, key: &str) -> Result<Option<String>, RecordError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
            Some(other) => Err(self.wrong(key, "a string id", other)),
        }
    }

    pub fn req_id(&self, key: &str) -> Result<String, RecordError> {
        self.id(key)?.ok_or_else(|| self.missing(key))
    }

    /// An integer, also accepted as a string of digits (X archives write counts as strings).
    pub fn int(&self, key: &str) -> Result<Option<i64>, RecordError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Ok(Some(i)),
                None => Err(self.wrong(key, "an integer", &Value::Number(n.clone()))),
            },
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
                RecordError::new(format!("`{}`: not an integer: {s:?}", self.name(key)))
            }),
            Some(other) => Err(self.wrong(key, "an integer", other)),
        }
    }

    pub fn count(&self, key: &str) -> Result<i64, RecordError> {
        Ok(self.int(key)?.unwrap_or(0))
    }

    pub fn obj(&self, key: &str, prefix: &'static str) -> Result<Option<Obj<'a>>, RecordError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj { map, prefix })),
            Some(other) => Err(self.wrong(key, "an object", other)),
        }
    }

    pub fn req_obj(&self, key: &str, prefix: &'static str) -> Result<Obj<'a>, RecordError> {
        self.obj(key, prefix)?.ok_or_else(|| self.missing(key))
    }

    /// An array, `None` if absent or null.
    pub fn arr(&self, key: &str) -> Result<Option<&'a [Value]>, RecordError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(self.wrong(key, "an array", other)),
        }
    }

    /// A required timestamp, normalised; the error reads `created_at: not a date: "…"`.
    pub fn date(&self, key: &str) -> Result<String, RecordError> {
        let s = self.req_str(key)?;
        normalize_timestamp(s).map_err(|e| RecordError::new(format!("{}: {e}", self.name(key))))
    }
}

/// The string of each element's `key` (objects) in an array, skipping others.
pub(crate) fn strings_of<'a>(items: &'a [Value], key: &'a str) -> impl Iterator<Item = &'a str> {
    items
        .iter()
        .filter_map(move |v| v.get(key).and_then(Value::as_str))
}

/// Pushes unless present or empty.
pub(crate) fn push_unique(list: &mut Vec<String>, value: String) {
    if !value.is_empty() && !list.contains(&value) {
        list.push(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(u64, Result<String, String>)> {
        let mut out = Vec::new();
        // A tiny buffer so lines straddle buffer refills.
        let reader = io::BufReader::with_capacity(4, input);
        for_each_line_limited(reader, max, |n, l| {
            out.push((
                n,
                l.map(|b| String::from_utf8_lossy(b).into_owned())
                    .map_err(|e| e.message),
            ));
            ControlFlow::Continue(())
        })
        .unwrap();
        out
    }

    #[test]
    fn lines_crlf_blank_last_and_too_long() {
        let got = lines(b"one\r\n\n  \ntwo-long-line\nthree\r\nlast", 8);
        assert_eq!(
            got,
            vec![
                (1, Ok("one".into())),
                (4, Err("record longer than 8 bytes".into())),
                (5, Ok("three".into())),
                (6, Ok("last".into())),
            ]
        );
        let got = lines(b"abcdefghijklmnop", 8);
        assert_eq!(got, vec![(1, Err("record longer than 8 bytes".into()))]);
        assert!(lines(b"", 8).is_empty());
        assert!(lines(b"\n\n", 8).is_empty());
        // A long line held entirely in a large buffer is refused too.
        let mut out = Vec::new();
        for_each_line_limited(&b"0123456789\nok\n"[..], 8, |n, l| {
            out.push((n, l.is_ok()));
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(out, vec![(1, false), (2, true)]);
    }

    #[test]
    fn multiline_document_detection() {
        assert!(is_multiline_document(b"{\n  \"id\": \"1\"\n}"));
        assert!(is_multiline_document(b"\n\n{ \"id\":\n"));
        assert!(!is_multiline_document(b"{\"id\":\"1\"}\n{\"id\":\"2\"}\n"));
        assert!(!is_multiline_document(b"{\"id\": broken}\n"));
        assert!(!is_multiline_document(b"{\"id\":\"1\"}"));
    }

    #[test]
    fn first_keys() {
        assert_eq!(first_key(b" {\n \"posts\": []}"), Some("posts"));
        assert_eq!(first_key(b"[1]"), None);
        assert_eq!(first_key(b"{\"po"), None);
    }
}
