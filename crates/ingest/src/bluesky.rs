//! Bluesky `app.bsky.feed.defs#postView`s: `searchPosts` (`{"posts": […]}`), `getAuthorFeed`
//! / `getTimeline` (`{"feed": [{"post": …, "reason"?: …}]}`), a bare array, or NDJSON of
//! PostViews or feed entries.
//!
//! Decisions (see docs/formats.md):
//! - external id and parent/root ids are `at://` URIs; `url` is the bsky.app link.
//! - A repost in a feed (`reason: #reasonRepost`) becomes an item for the reposted post (its
//!   own author, text and metrics); the reposter stays in `raw`.
//! - Mentions, links and tags come from the record's facets (byte ranges over UTF-8); without
//!   facets they are taken from the text. An external embed's URI counts as a link.

use std::io::BufRead;

use serde_json::Value;
use switchboard_core::{Author, ItemKind, Metrics, Network, NewItem};

use crate::json::{self, push_unique, Obj, Sink};
use crate::normalize::{
    clean_url, extract_hashtags, extract_mentions, extract_urls, normalize_handle,
    normalize_hashtag, normalize_lang,
};
use crate::{Outcome, Parsed, ReadError, RecordError};

pub(crate) fn read<R: BufRead>(reader: R, sink: Sink<'_>) -> Result<u64, ReadError> {
    let (prefix, rest) = json::sniff(reader, 4096)?;
    let first = json::first_non_ws(&prefix);
    let wrapper = matches!(
        json::first_key(&prefix),
        Some("posts" | "feed" | "cursor" | "hitsTotal")
    );
    let mut parse = parse_value;
    match first {
        Some(b'[') => json::stream_array(json::chain(prefix, rest), &mut parse, sink),
        Some(b'{') if wrapper => json::stream_keyed_array(
            json::chain(prefix, rest),
            &["posts", "feed"],
            &mut parse,
            sink,
        ),
        _ => json::stream_ndjson_or_document(prefix, rest, &mut parse, sink),
    }
}

/// A PostView or a feed entry (`{post, reply?, reason?}`).
pub(crate) fn parse_value(value: Value) -> Parsed {
    let obj = Obj::root(&value)?;
    let post = if !obj.has("uri") && obj.has("post") {
        obj.req_obj("post", "post.")?
    } else {
        obj
    };
    // Repost (`reason`) or not, the item is the post itself; the reason stays in raw.
    let mut item = post_item(post)?;
    item.raw = Some(value);
    Ok(Outcome::Item(Box::new(item)))
}

fn rkey(uri: &str) -> &str {
    uri.rsplit('/').next().unwrap_or("")
}

fn post_item(p: Obj<'_>) -> Result<NewItem, RecordError> {
    let pre = |nested: &'static str, own: &'static str| -> &'static str {
        if p.prefix.is_empty() {
            own
        } else {
            nested
        }
    };
    let uri = p.req_str("uri")?;
    let author = p.req_obj("author", pre("post.author.", "author."))?;
    let record = p.req_obj("record", pre("post.record.", "record."))?;
    let did = author.req_str("did")?;
    let handle = normalize_handle(author.str_or_empty("handle")?);
    let text = record.req_str("text")?;
    let created_at = record.date("createdAt")?;

    let mut hashtags = Vec::new();
    let mut mentions = Vec::new();
    let mut urls = Vec::new();
    match record.arr("facets")? {
        Some(facets) => {
            for facet in facets {
                let range = facet.get("index");
                let slice = range.and_then(|r| {
                    let start = r.get("byteStart")?.as_u64()? as usize;
                    let end = r.get("byteEnd")?.as_u64()? as usize;
                    text.get(start..end)
                });
                let features = facet.get("features").and_then(Value::as_array);
                for f in features.map(Vec::as_slice).unwrap_or(&[]) {
                    let ty = f.get("$type").and_then(Value::as_str).unwrap_or("");
                    match ty {
                        "app.bsky.richtext.facet#mention" => {
                            let h = match slice {
                                Some(s) if s.starts_with('@') => normalize_handle(s),
                                _ => f
                                    .get("did")
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                                    .to_string(),
                            };
                            push_unique(&mut mentions, h);
                        }
                        "app.bsky.richtext.facet#link" => {
                            if let Some(u) = f.get("uri").and_then(Value::as_str) {
                                push_unique(&mut urls, clean_url(u));
                            }
                        }
                        "app.bsky.richtext.facet#tag" => {
                            if let Some(t) = f.get("tag").and_then(Value::as_str) {
                                push_unique(&mut hashtags, normalize_hashtag(t));
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        None => {
            hashtags = extract_hashtags(text);
            mentions = extract_mentions(text);
            urls = extract_urls(text);
        }
    }
    if let Some(embed) = record.obj("embed", "record.embed.")? {
        if let Some(ext) = embed.obj("external", "record.embed.external.")? {
            if let Some(u) = ext.str("uri")? {
                push_unique(&mut urls, clean_url(u));
            }
        }
    }

    let reply = record.obj("reply", "record.reply.")?;
    let (parent_id, root_id) = match reply {
        Some(r) => {
            let parent = r.req_obj("parent", "record.reply.parent.")?;
            let root = r.obj("root", "record.reply.root.")?;
            (
                Some(parent.req_str("uri")?.to_string()),
                root.map(|o| o.req_str("uri").map(str::to_string))
                    .transpose()?,
            )
        }
        None => (None, None),
    };
    let lang = record
        .arr("langs")?
        .and_then(|l| l.first())
        .and_then(Value::as_str)
        .and_then(normalize_lang);
    let profile = if handle.is_empty() || handle == "handle.invalid" {
        did
    } else {
        &handle
    };
    let url = format!("https://bsky.app/profile/{profile}/post/{}", rkey(uri));
    Ok(NewItem {
        network: Network::Bluesky,
        external_id: uri.to_string(),
        kind: if parent_id.is_some() {
            ItemKind::Reply
        } else {
            ItemKind::Post
        },
        author: Author {
            id: did.to_string(),
            handle,
            display_name: author.str_or_empty("displayName")?.to_string(),
            followers: author.int("followersCount")?,
        },
        text: text.to_string(),
        hashtags,
        mentions,
        urls,
        lang,
        created_at,
        url: Some(url),
        parent_id,
        root_id,
        metrics: Metrics {
            likes: p.count("likeCount")?,
            shares: p.count("repostCount")?,
            replies: p.count("replyCount")?,
        },
        raw: None,
    })
}
