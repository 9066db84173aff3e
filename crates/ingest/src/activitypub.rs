//! `outbox.json` of a Mastodon account archive: an ActivityStreams `OrderedCollection` whose
//! `orderedItems` are streamed one activity at a time.
//!
//! Decisions (see docs/formats.md):
//! - `Create` of a `Note` (or `Article`, `Page`, `Question`) is an item; its external id is the
//!   object's ActivityPub id (a URL), and `parent_id` is `inReplyTo` (also a URL).
//! - `Announce` (a boost) is skipped: the archive holds only the boosted post's URL.
//! - Other activities, and `Create` whose object is only a link, are skipped.
//! - A Note addressed to neither the public nor a followers collection is a direct message.

use std::io::BufRead;

use serde_json::Value;
use switchboard_core::{Author, ItemKind, Metrics, Network, NewItem};

use crate::json::{self, push_unique, Obj, Sink};
use crate::mastodon::host_of;
use crate::normalize::{
    clean_url, extract_hashtags, extract_mentions, normalize_handle, normalize_hashtag,
    normalize_lang, parse_html,
};
use crate::{Outcome, Parsed, ReadError, RecordError};

pub(crate) fn read<R: BufRead>(reader: R, sink: Sink<'_>) -> Result<u64, ReadError> {
    let (prefix, rest) = json::sniff(reader, 1)?;
    let first = json::first_non_ws(&prefix);
    let input = json::chain(prefix, rest);
    let mut parse = parse_value;
    match first {
        Some(b'{') => json::stream_keyed_array(input, &["orderedItems", "items"], &mut parse, sink),
        Some(b'[') => json::stream_array(input, &mut parse, sink),
        None => Ok(0),
        Some(_) => Err(ReadError::Json(
            "not an ActivityPub outbox: expected a JSON object".into(),
        )),
    }
}

const CONTENT_TYPES: &[&str] = &["Note", "Article", "Page", "Question"];
const PUBLIC: &[&str] = &[
    "https://www.w3.org/ns/activitystreams#Public",
    "as:Public",
    "Public",
];

pub(crate) fn parse_value(value: Value) -> Parsed {
    let activity = Obj::root(&value)?;
    let kind = activity.req_str("type")?;
    let note = match kind {
        "Create" | "Update" => match activity.get("object") {
            None => return Err(activity.missing("object")),
            Some(Value::Object(map)) => Obj {
                map,
                prefix: "object.",
            },
            Some(_) => return Ok(Outcome::Skipped("Create of a linked object, not embedded")),
        },
        "Announce" => {
            return Ok(Outcome::Skipped(
                "boost (Announce): the archive holds only the boosted post's URL",
            ))
        }
        t if CONTENT_TYPES.contains(&t) => activity,
        _ => return Ok(Outcome::Skipped("activity that is not a post")),
    };
    let note_type = note.req_str("type")?;
    if !CONTENT_TYPES.contains(&note_type) {
        return Ok(Outcome::Skipped("object that is not a post"));
    }
    let mut item = note_item(note, activity)?;
    item.raw = Some(value);
    Ok(Outcome::Item(Box::new(item)))
}

/// `https://host/users/alice` → `alice@host`; other shapes give the URL's last segment and
/// host, or nothing.
fn handle_from_actor(actor: &str) -> String {
    let Some(host) = host_of(actor) else {
        return String::new();
    };
    let path = actor.split_once("://").map_or("", |(_, r)| r);
    let path = path.split_once('/').map_or("", |(_, p)| p);
    let path = path.split(['?', '#']).next().unwrap_or("");
    let name = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .trim_start_matches('@');
    if name.is_empty() {
        String::new()
    } else {
        format!("{name}@{host}")
    }
}

fn as_id(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        Value::Object(m) => m.get("id").and_then(Value::as_str),
        _ => None,
    }
}

fn addressees(o: &Obj<'_>, key: &str) -> Vec<String> {
    match o.get(key) {
        Some(Value::Array(list)) => list.iter().filter_map(as_id).map(str::to_string).collect(),
        Some(v) => as_id(v).map(str::to_string).into_iter().collect(),
        None => Vec::new(),
    }
}

fn note_item(note: Obj<'_>, activity: Obj<'_>) -> Result<NewItem, RecordError> {
    let external_id = note.req_id("id")?;
    let created_at = if note.has("published") || !activity.has("published") {
        note.date("published")?
    } else {
        activity.date("published")?
    };
    let actor = match note.get("attributedTo").or_else(|| activity.get("actor")) {
        Some(v) => as_id(v).unwrap_or("").to_string(),
        None => String::new(),
    };
    if actor.is_empty() {
        return Err(note.missing("attributedTo"));
    }

    // Content: `content`, else the first of `contentMap`, whose key is the language.
    let content_map = note.obj("contentMap", "object.contentMap.")?;
    let map_first = content_map.and_then(|m| m.map.iter().next());
    let html_src = match note.str("content")? {
        Some(c) => c,
        None => map_first.and_then(|(_, v)| v.as_str()).unwrap_or(""),
    };
    let lang = map_first.and_then(|(k, _)| normalize_lang(k));
    let html = parse_html(html_src);
    let summary = note.str_or_empty("summary")?.trim();
    let text = match (summary.is_empty(), html.text.is_empty()) {
        (true, _) => html.text,
        (false, true) => summary.to_string(),
        (false, false) => format!("{summary}\n\n{}", html.text),
    };

    let tags = note.arr("tag")?;
    let mut hashtags = Vec::new();
    let mut mentions = Vec::new();
    let mut entity_urls: Vec<&str> = Vec::new();
    for t in tags.unwrap_or(&[]) {
        let ty = t.get("type").and_then(Value::as_str).unwrap_or("");
        let name = t.get("name").and_then(Value::as_str).unwrap_or("");
        if let Some(href) = t.get("href").and_then(Value::as_str) {
            entity_urls.push(href);
        }
        match ty {
            "Hashtag" => push_unique(&mut hashtags, normalize_hashtag(name)),
            "Mention" => {
                let mut handle = normalize_handle(name);
                if !handle.contains('@') {
                    if let Some(host) = t.get("href").and_then(Value::as_str).and_then(host_of) {
                        handle = format!("{handle}@{host}");
                    }
                }
                push_unique(&mut mentions, handle)
            }
            _ => {}
        }
    }
    if tags.is_none() {
        hashtags = extract_hashtags(&text);
        mentions = extract_mentions(&text);
    }
    let mut urls = Vec::new();
    for link in &html.links {
        let is_entity = link
            .class
            .split_ascii_whitespace()
            .any(|c| c == "mention" || c == "hashtag")
            || link.rel.split_ascii_whitespace().any(|r| r == "tag")
            || entity_urls.contains(&link.href.as_str());
        if !is_entity && (link.href.starts_with("http://") || link.href.starts_with("https://")) {
            push_unique(&mut urls, clean_url(&link.href));
        }
    }

    let parent_id = note.get("inReplyTo").and_then(as_id).map(str::to_string);
    let mut audience = addressees(&note, "to");
    audience.extend(addressees(&note, "cc"));
    let addressed = !audience.is_empty();
    let public_or_followers = audience
        .iter()
        .any(|a| PUBLIC.contains(&a.as_str()) || a.ends_with("/followers"));
    let kind = if addressed && !public_or_followers {
        ItemKind::DirectMessage
    } else if parent_id.is_some() {
        ItemKind::Reply
    } else {
        ItemKind::Post
    };
    let url = match note.get("url") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Array(list)) => list
            .iter()
            .find_map(|v| as_id(v).or_else(|| v.get("href").and_then(Value::as_str)))
            .map(str::to_string),
        Some(Value::Object(m)) => m.get("href").and_then(Value::as_str).map(str::to_string),
        _ => Some(external_id.clone()),
    };
    Ok(NewItem {
        network: Network::Mastodon,
        external_id,
        kind,
        author: Author {
            handle: handle_from_actor(&actor),
            id: actor,
            display_name: String::new(),
            followers: None,
        },
        text,
        hashtags,
        mentions,
        urls,
        lang,
        created_at,
        url,
        parent_id,
        root_id: None,
        metrics: Metrics::default(),
        raw: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_handles() {
        assert_eq!(
            handle_from_actor("https://mastodon.social/users/alice"),
            "alice@mastodon.social"
        );
        assert_eq!(handle_from_actor("https://ex.org/@bob/"), "bob@ex.org");
        assert_eq!(handle_from_actor("https://ex.org"), "");
    }
}
