//! Mastodon REST `Status` and `Notification` entities (a JSON array or NDJSON).
//!
//! Decisions (see docs/formats.md):
//! - A reblog (boost) becomes an item for the reblogged status: its id, author, text and
//!   metrics, kind post/reply by its own `in_reply_to_id`. Who boosted it stays in `raw`.
//! - A `mention` notification yields its status as kind `mention`; `status` and `update`
//!   notifications yield their status with its own kind. Notifications about interactions with
//!   the account's own statuses (favourite, reblog, poll, quote…) and notifications without a
//!   status (follow, …) are skipped, not errors.
//! - A webhook delivery (`status.created`, `status.updated`) yields its `object`; other events
//!   (`account.*`, `report.*`) are skipped.
//! - `visibility: direct` makes the kind `direct_message`, whatever else applies.
//! - A content warning (`spoiler_text`) is kept as the first paragraph of the text.

use std::io::BufRead;

use serde_json::Value;
use switchboard_core::{Author, ItemKind, Metrics, Network, NewItem};

use crate::json::{self, push_unique, strings_of, Obj, Sink};
use crate::normalize::{
    clean_url, extract_hashtags, extract_mentions, normalize_handle, normalize_hashtag,
    normalize_lang, parse_html,
};
use crate::{Outcome, Parsed, ReadError, RecordError};

pub(crate) fn read<R: BufRead>(reader: R, sink: Sink<'_>) -> Result<u64, ReadError> {
    let (prefix, rest) = json::sniff(reader, 4096)?;
    let mut parse = parse_value;
    if json::first_non_ws(&prefix) == Some(b'[') {
        json::stream_array(json::chain(prefix, rest), &mut parse, sink)
    } else {
        json::stream_ndjson_or_document(prefix, rest, &mut parse, sink)
    }
}

/// A Status, a Notification, or a webhook delivery (`{"event", "created_at", "object"}`).
pub(crate) fn parse_value(value: Value) -> Parsed {
    let obj = Obj::root(&value)?;
    if let (Some(event), false) = (obj.str("event")?, obj.has("content")) {
        let item = match event {
            "status.created" | "status.updated" => {
                status_item(obj.req_obj("object", "object.")?, None)?
            }
            _ => return Ok(Outcome::Skipped("webhook event that is not about a status")),
        };
        return Ok(with_raw(item, value));
    }
    let is_notification = !obj.has("content") && obj.str("type")?.is_some() && !obj.has("uri");
    let item = if is_notification {
        let kind = obj.req_str("type")?;
        let Some(status) = obj.obj("status", "status.")? else {
            return Ok(Outcome::Skipped("notification without a status"));
        };
        match kind {
            "mention" => status_item(status, Some(ItemKind::Mention))?,
            "status" | "update" => status_item(status, None)?,
            _ => {
                return Ok(Outcome::Skipped(
                    "notification about an interaction with the account's own status",
                ))
            }
        }
    } else {
        status_item(obj, None)?
    };
    Ok(with_raw(item, value))
}

fn with_raw(mut item: NewItem, raw: Value) -> Outcome {
    item.raw = Some(raw);
    Outcome::Item(Box::new(item))
}

/// Adds the instance's domain to a local account's `acct` (`alice` → `alice@host`), taking the
/// host from the account's profile URL.
fn full_acct(acct: &str, profile_url: Option<&str>) -> String {
    let acct = normalize_handle(acct);
    if acct.contains('@') || acct.is_empty() {
        return acct;
    }
    match profile_url.and_then(host_of) {
        Some(host) => format!("{acct}@{host}"),
        None => acct,
    }
}

pub(crate) fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit('@').next()?;
    (!host.is_empty()).then_some(host)
}

fn status_item(s: Obj<'_>, kind_override: Option<ItemKind>) -> Result<NewItem, RecordError> {
    // A reblog's content is the reblogged status.
    let s = match s.obj("reblog", "reblog.")? {
        Some(original) => original,
        None => s,
    };
    let external_id = s.req_id("id")?;
    let created_at = s.date("created_at")?;
    let account = s.req_obj("account", account_prefix(s.prefix))?;
    let author = Author {
        id: account.req_id("id")?,
        handle: full_acct(account.str_or_empty("acct")?, account.str("url")?),
        display_name: account.str_or_empty("display_name")?.to_string(),
        followers: account.int("followers_count")?,
    };

    let html = parse_html(s.str_or_empty("content")?);
    let spoiler = s.str_or_empty("spoiler_text")?.trim();
    let text = if spoiler.is_empty() {
        html.text
    } else if html.text.is_empty() {
        spoiler.to_string()
    } else {
        format!("{spoiler}\n\n{}", html.text)
    };

    let mentions_arr = s.arr("mentions")?;
    let tags_arr = s.arr("tags")?;
    let mentions = match mentions_arr {
        Some(list) => {
            let mut out = Vec::new();
            for m in list {
                let acct = m.get("acct").and_then(Value::as_str).unwrap_or("");
                let url = m.get("url").and_then(Value::as_str);
                push_unique(&mut out, full_acct(acct, url));
            }
            out
        }
        None => extract_mentions(&text),
    };
    let hashtags = match tags_arr {
        Some(list) => {
            let mut out = Vec::new();
            for name in strings_of(list, "name") {
                push_unique(&mut out, normalize_hashtag(name));
            }
            out
        }
        None => extract_hashtags(&text),
    };
    // Links in the content other than mentions and hashtags.
    let entity_urls: Vec<&str> = mentions_arr
        .into_iter()
        .chain(tags_arr)
        .flat_map(|list| strings_of(list, "url"))
        .collect();
    let mut urls = Vec::new();
    for link in &html.links {
        let class = link.class.split_ascii_whitespace();
        let is_entity = class.clone().any(|c| c == "mention" || c == "hashtag")
            || link.rel.split_ascii_whitespace().any(|r| r == "tag")
            || entity_urls.contains(&link.href.as_str());
        if !is_entity && (link.href.starts_with("http://") || link.href.starts_with("https://")) {
            push_unique(&mut urls, clean_url(&link.href));
        }
    }

    let parent_id = s.id("in_reply_to_id")?;
    let kind = if s.str("visibility")? == Some("direct") {
        ItemKind::DirectMessage
    } else if let Some(k) = kind_override {
        k
    } else if parent_id.is_some() {
        ItemKind::Reply
    } else {
        ItemKind::Post
    };
    let url = match s.str("url")? {
        Some(u) => Some(u.to_string()),
        None => s.str("uri")?.map(str::to_string),
    };
    Ok(NewItem {
        network: Network::Mastodon,
        external_id,
        kind,
        author,
        text,
        hashtags,
        mentions,
        urls,
        lang: s.str("language")?.and_then(normalize_lang),
        created_at,
        url,
        parent_id,
        root_id: None,
        metrics: Metrics {
            likes: s.count("favourites_count")?,
            shares: s.count("reblogs_count")?,
            replies: s.count("replies_count")?,
        },
        raw: None,
    })
}

fn account_prefix(status_prefix: &str) -> &'static str {
    match status_prefix {
        "reblog." => "reblog.account.",
        "status." => "status.account.",
        "status.reblog." => "status.reblog.account.",
        "object." => "object.account.",
        _ => "account.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_from_url() {
        assert_eq!(
            host_of("https://mastodon.social/@alice"),
            Some("mastodon.social")
        );
        assert_eq!(
            host_of("https://u@h.example:8443/x"),
            Some("h.example:8443")
        );
        assert_eq!(host_of("nope"), None);
        assert_eq!(full_acct("@bob", Some("https://ex.org/@bob")), "bob@ex.org");
        assert_eq!(
            full_acct("bob@other.net", Some("https://ex.org/@bob")),
            "bob@other.net"
        );
    }
}
