//! Switchboard's own NDJSON: each line is one [`NewItem`] as JSON (`docs/item.schema.json`).
//!
//! Lines are taken as written, with light normalisation: `created_at` is validated and
//! normalised to UTC milliseconds, hashtags lose a leading `#` and are lowercased, mentions lose
//! a leading `@`, URLs lose tracking parameters, and `lang: "und"` becomes absent.

use std::io::BufRead;

use serde_json::Value;
use switchboard_core::NewItem;

use crate::json::{self, json_error_message, Sink};
use crate::normalize::{
    clean_url, normalize_handle, normalize_hashtag, normalize_lang, normalize_timestamp,
};
use crate::{make_record, Outcome, Parsed, ReadError, RecordError};

pub(crate) fn read<R: BufRead>(reader: R, sink: Sink<'_>) -> Result<u64, ReadError> {
    let (prefix, rest) = json::sniff(reader, 3)?; // drops a byte order mark
    let mut count = 0u64;
    json::for_each_line(json::chain(prefix, rest), |line_no, line| {
        count += 1;
        let parsed = line
            .and_then(parse_bytes)
            .map(|i| Outcome::Item(Box::new(i)));
        sink(make_record(line_no, parsed))
    })?;
    Ok(count)
}

fn parse_bytes(bytes: &[u8]) -> Result<NewItem, RecordError> {
    let item: NewItem = serde_json::from_slice(bytes).map_err(|e| decode_error(&e))?;
    normalize(item)
}

fn decode_error(e: &serde_json::Error) -> RecordError {
    let prefix = if e.is_syntax() || e.is_eof() {
        "invalid JSON: "
    } else {
        ""
    };
    RecordError::new(format!("{prefix}{}", json_error_message(e)))
}

/// One line of Switchboard NDJSON (without its line end) as an item.
pub fn parse_switchboard_line(line: &str) -> Result<NewItem, RecordError> {
    parse_bytes(line.trim().as_bytes())
}

pub(crate) fn parse_value(value: Value) -> Parsed {
    let item: NewItem = serde_json::from_value(value).map_err(|e| decode_error(&e))?;
    Ok(Outcome::Item(Box::new(normalize(item)?)))
}

fn normalize(mut item: NewItem) -> Result<NewItem, RecordError> {
    if item.external_id.trim().is_empty() {
        return Err(RecordError::new("external_id: empty"));
    }
    item.created_at = normalize_timestamp(&item.created_at)
        .map_err(|e| RecordError::new(format!("created_at: {e}")))?;
    for tag in &mut item.hashtags {
        *tag = normalize_hashtag(tag);
    }
    item.hashtags.retain(|t| !t.is_empty());
    for m in &mut item.mentions {
        *m = normalize_handle(m);
    }
    item.mentions.retain(|m| !m.is_empty());
    for u in &mut item.urls {
        *u = clean_url(u);
    }
    item.author.handle = normalize_handle(&item.author.handle);
    item.lang = item.lang.as_deref().and_then(normalize_lang);
    Ok(item)
}
