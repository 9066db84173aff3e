//! Readers for the networks' export and API formats, normalised into Switchboard's item model
//! ([`switchboard_core::NewItem`]). No I/O beyond the reader it is given.
//!
//! [`read`] streams any supported [`Format`] record by record with memory flat in the input
//! size; [`parse_record`] and [`parse_switchboard_line`] handle one record (e.g. a webhook
//! body). `docs/formats.md` documents every format's field mapping.

use std::fmt;
use std::io::BufRead;
use std::ops::ControlFlow;
use std::str::FromStr;

pub use switchboard_core::{Author, ItemKind, Metrics, Network, NewItem};

mod activitypub;
mod bluesky;
mod csvfmt;
mod json;
mod mastodon;
pub mod normalize;
mod switchboard;
mod twitter;

pub use csvfmt::{CsvField, CsvMapping, MappingError};
pub use normalize::{
    clean_url, extract_hashtags, extract_mentions, extract_urls, html_to_text, normalize_timestamp,
};
pub use switchboard::parse_switchboard_line;
pub use twitter::TwitterAccount;

/// An input format [`read`] understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// Mastodon REST `Status` and `Notification` entities: a JSON array or NDJSON.
    Mastodon,
    /// `outbox.json` of a Mastodon (ActivityPub) account archive.
    ActivityPubOutbox,
    /// Bluesky `PostView`s: `searchPosts` / `getAuthorFeed` responses, a bare array, or NDJSON.
    Bluesky,
    /// X/Twitter archive `tweets.js` (or its bare JSON array). The archive does not name the
    /// author of the tweets; the account given here becomes every item's author.
    TwitterArchive(TwitterAccount),
    /// CSV with a header row and a column mapping.
    Csv(CsvMapping),
    /// Switchboard's own NDJSON: one [`NewItem`] per line (`docs/item.schema.json`).
    Switchboard,
}

impl Format {
    /// The names [`Format::from_str`] accepts.
    pub const NAMES: &'static [&'static str] = &[
        "mastodon",
        "activitypub-outbox",
        "bluesky",
        "twitter-archive",
        "csv",
        "ndjson",
    ];

    pub fn csv(mapping: CsvMapping) -> Format {
        Format::Csv(mapping)
    }

    pub fn twitter_archive(account: TwitterAccount) -> Format {
        Format::TwitterArchive(account)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Format::Mastodon => "mastodon",
            Format::ActivityPubOutbox => "activitypub-outbox",
            Format::Bluesky => "bluesky",
            Format::TwitterArchive(_) => "twitter-archive",
            Format::Csv(_) => "csv",
            Format::Switchboard => "ndjson",
        }
    }

    /// The network every item of this format belongs to (`None` for CSV and NDJSON, where
    /// it comes from the data or the mapping).
    pub fn network(&self) -> Option<Network> {
        match self {
            Format::Mastodon | Format::ActivityPubOutbox => Some(Network::Mastodon),
            Format::Bluesky => Some(Network::Bluesky),
            Format::TwitterArchive(_) => Some(Network::X),
            Format::Csv(m) => m.fixed_network(),
            Format::Switchboard => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a format name was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("unknown format {0:?}; expected one of: mastodon, activitypub-outbox, bluesky, twitter-archive, csv, ndjson")]
    Unknown(String),
    #[error("the csv format needs a column mapping (Format::csv(CsvMapping::parse(...)))")]
    CsvNeedsMapping,
}

impl FromStr for Format {
    type Err = FormatError;

    /// `"csv"` is refused: it needs a mapping, see [`Format::csv`]. `"twitter-archive"` gives an
    /// archive with no account (authors left empty), see [`Format::twitter_archive`].
    fn from_str(s: &str) -> Result<Format, FormatError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mastodon" => Ok(Format::Mastodon),
            "activitypub-outbox" | "outbox" => Ok(Format::ActivityPubOutbox),
            "bluesky" => Ok(Format::Bluesky),
            "twitter-archive" | "x-archive" => {
                Ok(Format::TwitterArchive(TwitterAccount::default()))
            }
            "ndjson" | "switchboard" => Ok(Format::Switchboard),
            "csv" => Err(FormatError::CsvNeedsMapping),
            _ => Err(FormatError::Unknown(s.to_string())),
        }
    }
}

/// One record of the input and what it became.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Where the record is: the 1-based line for NDJSON and CSV (the line the record starts
    /// on, counting the header, as an editor shows it), the 1-based element index for JSON
    /// arrays (`orderedItems`, `posts`, `feed`, the tweets array, a bare array).
    pub number: u64,
    /// `Ok(Some(item))`: an item. `Ok(None)`: a well-formed record that is deliberately not an
    /// item (see [`Record::skipped`] for why, e.g. a notification without a status).
    /// `Err`: a malformed record.
    pub result: Result<Option<NewItem>, RecordError>,
    /// Why a record was skipped (`Some` exactly when `result` is `Ok(None)`).
    pub skipped: Option<&'static str>,
}

impl Record {
    pub fn item(&self) -> Option<&NewItem> {
        self.result.as_ref().ok().and_then(Option::as_ref)
    }

    pub fn into_item(self) -> Option<NewItem> {
        self.result.ok().flatten()
    }

    pub fn is_skipped(&self) -> bool {
        matches!(self.result, Ok(None))
    }

    pub fn error(&self) -> Option<&RecordError> {
        self.result.as_ref().err()
    }
}

/// What one record produced, before numbering.
#[derive(Debug)]
pub(crate) enum Outcome {
    Item(Box<NewItem>),
    Skipped(&'static str),
}

pub(crate) type Parsed = Result<Outcome, RecordError>;

pub(crate) fn make_record(number: u64, parsed: Parsed) -> Record {
    match parsed {
        Ok(Outcome::Item(item)) => Record {
            number,
            result: Ok(Some(*item)),
            skipped: None,
        },
        Ok(Outcome::Skipped(why)) => Record {
            number,
            result: Ok(None),
            skipped: Some(why),
        },
        Err(e) => Record {
            number,
            result: Err(e),
            skipped: None,
        },
    }
}

/// Why one record could not be turned into an item. The message names the field, e.g.
/// ``missing field `id` `` or `created_at: not a date: "yesterday"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RecordError {
    pub message: String,
}

impl RecordError {
    pub fn new(message: impl Into<String>) -> RecordError {
        RecordError {
            message: message.into(),
        }
    }
}

/// Why the input as a whole could not be read. Records before the failure have already been
/// delivered.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
    /// Not JSON (or not the expected JSON shape) at the top level, or a syntax error inside a
    /// JSON document that cannot be resynchronised.
    #[error("{0}")]
    Json(String),
    /// The CSV header is missing, unreadable or lacks a mapped column.
    #[error("csv: {0}")]
    CsvHeader(String),
    #[error("csv: {0}")]
    Csv(String),
}

/// Streams records from `reader` to `on_record`, one at a time, with memory flat in the input
/// size (one record at a time is held). Returns how many records were delivered. Returns an
/// error only for input that cannot be read at all (I/O error, not JSON at the top level, bad
/// CSV header, a JSON syntax error inside an array); a malformed record is reported through
/// its [`Record`] and reading continues with the next one. `on_record` returning
/// `ControlFlow::Break(())` stops reading early (`Ok` with the count so far).
pub fn read<R: BufRead>(
    reader: R,
    format: &Format,
    mut on_record: impl FnMut(Record) -> ControlFlow<()>,
) -> Result<u64, ReadError> {
    let sink: &mut dyn FnMut(Record) -> ControlFlow<()> = &mut on_record;
    match format {
        Format::Mastodon => mastodon::read(reader, sink),
        Format::ActivityPubOutbox => activitypub::read(reader, sink),
        Format::Bluesky => bluesky::read(reader, sink),
        Format::TwitterArchive(account) => twitter::read(reader, account, sink),
        Format::Csv(mapping) => csvfmt::read(reader, mapping, sink),
        Format::Switchboard => switchboard::read(reader, sink),
    }
}

/// [`read`] over bytes already in memory (e.g. a webhook body or an upload).
pub fn read_slice(
    bytes: &[u8],
    format: &Format,
    on_record: impl FnMut(Record) -> ControlFlow<()>,
) -> Result<u64, ReadError> {
    read(bytes, format, on_record)
}

/// [`read`] that collects every record: convenient for small inputs and tests.
pub fn read_all<R: BufRead>(reader: R, format: &Format) -> Result<Vec<Record>, ReadError> {
    let mut out = Vec::new();
    read(reader, format, |r| {
        out.push(r);
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// Turns one already-parsed JSON record of a JSON format into an item: a Mastodon `Status` or
/// `Notification` (e.g. the `object` of a Mastodon webhook), an ActivityPub `Create`/`Note`,
/// a Bluesky `PostView` or feed entry, a tweet (with or without its `{"tweet": …}` wrapper),
/// or a Switchboard item. `Ok(None)` means the record is deliberately not an item. CSV has no
/// JSON records and is refused.
pub fn parse_record(
    format: &Format,
    value: serde_json::Value,
) -> Result<Option<NewItem>, RecordError> {
    let parsed = match format {
        Format::Mastodon => mastodon::parse_value(value),
        Format::ActivityPubOutbox => activitypub::parse_value(value),
        Format::Bluesky => bluesky::parse_value(value),
        Format::TwitterArchive(account) => twitter::parse_value(value, account),
        Format::Switchboard => switchboard::parse_value(value),
        Format::Csv(_) => {
            return Err(RecordError::new(
                "csv records are rows, not JSON; use read()",
            ))
        }
    };
    match parsed? {
        Outcome::Item(item) => Ok(Some(*item)),
        Outcome::Skipped(_) => Ok(None),
    }
}
