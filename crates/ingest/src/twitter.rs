//! X/Twitter archive `data/tweets.js` (`window.YTD.tweets.part0 = [{"tweet": {…}}, …]`), or the
//! same array without the assignment.
//!
//! Decisions (see docs/formats.md):
//! - The archive never names the tweets' author: every item's author is the
//!   [`TwitterAccount`] given with the format (from the archive's `data/account.js`, see
//!   [`TwitterAccount::from_account_js`]); without one the author is left empty.
//! - `full_text` has HTML entities (`&amp;`, `&lt;`, …): they are decoded; t.co links listed
//!   in `entities.urls` are replaced by their expanded URL in the text.
//! - Retweets (`RT @user: …`) are kept as the account's own posts, text as archived.

use std::io::BufRead;

use serde_json::Value;
use switchboard_core::{Author, ItemKind, Metrics, Network, NewItem};

use crate::json::{self, push_unique, Obj, Sink};
use crate::normalize::{
    clean_url, decode_entities, extract_hashtags, extract_mentions, extract_urls, normalize_handle,
    normalize_hashtag, normalize_lang,
};
use crate::{Outcome, Parsed, ReadError, RecordError};

/// The archive's owner, who wrote every tweet in `tweets.js`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TwitterAccount {
    /// `accountId` in account.js.
    pub id: String,
    /// `username`, without `@`.
    pub handle: String,
    /// `accountDisplayName`.
    pub display_name: String,
}

impl TwitterAccount {
    pub fn new(
        id: impl Into<String>,
        handle: impl Into<String>,
        display_name: impl Into<String>,
    ) -> TwitterAccount {
        TwitterAccount {
            id: id.into(),
            handle: normalize_handle(&handle.into()),
            display_name: display_name.into(),
        }
    }

    /// Reads the archive's `data/account.js`
    /// (`window.YTD.account.part0 = [{"account": {"accountId", "username", "accountDisplayName", …}}]`).
    pub fn from_account_js(text: &str) -> Result<TwitterAccount, RecordError> {
        let json = strip_assignment(text.trim_start_matches('\u{FEFF}'));
        let value: Value = serde_json::from_str(json)
            .map_err(|e| RecordError::new(format!("account.js: invalid JSON: {e}")))?;
        let first = match &value {
            Value::Array(list) => list.first().unwrap_or(&Value::Null),
            v => v,
        };
        let outer = Obj::root(first)?;
        let account = match outer.obj("account", "account.")? {
            Some(a) => a,
            None => outer,
        };
        Ok(TwitterAccount::new(
            account.req_id("accountId")?,
            account.str_or_empty("username")?,
            account.str_or_empty("accountDisplayName")?,
        ))
    }
}

fn strip_assignment(text: &str) -> &str {
    let t = text.trim_start();
    if t.starts_with("window.") {
        if let Some(eq) = t.find('=') {
            return &t[eq + 1..];
        }
    }
    t
}

pub(crate) fn read<R: BufRead>(
    reader: R,
    account: &TwitterAccount,
    sink: Sink<'_>,
) -> Result<u64, ReadError> {
    let (mut prefix, rest) = json::sniff(reader, 256)?;
    let start = prefix
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(prefix.len());
    if prefix[start..].starts_with(b"window.") {
        match prefix.iter().position(|&b| b == b'=') {
            Some(eq) => {
                prefix.drain(..=eq);
            }
            None => {
                return Err(ReadError::Json(
                    "not a tweets.js: no `=` after `window.YTD…`".into(),
                ))
            }
        }
    }
    match json::first_non_ws(&prefix) {
        Some(b'[') => {}
        None => return Ok(0),
        Some(_) => {
            return Err(ReadError::Json(
                "not a tweets.js: expected `window.YTD.tweets.part0 = [` or a JSON array".into(),
            ))
        }
    }
    let input = json::chain(prefix, rest);
    let mut parse = |v: Value| parse_value(v, account);
    json::stream_array(input, &mut parse, sink)
}

/// One element: `{"tweet": {…}}` or the tweet object itself (older archives).
pub(crate) fn parse_value(value: Value, account: &TwitterAccount) -> Parsed {
    let outer = Obj::root(&value)?;
    let tweet = match outer.obj("tweet", "tweet.")? {
        Some(t) => t,
        None => outer,
    };
    let mut item = tweet_item(tweet, account)?;
    item.raw = Some(value);
    Ok(Outcome::Item(Box::new(item)))
}

fn tweet_item(t: Obj<'_>, account: &TwitterAccount) -> Result<NewItem, RecordError> {
    let pre = |nested: &'static str, own: &'static str| -> &'static str {
        if t.prefix.is_empty() {
            own
        } else {
            nested
        }
    };
    let id = match t.id("id_str")? {
        Some(id) => id,
        None => t.req_id("id").map_err(|_| t.missing("id_str"))?,
    };
    let raw_text = match t.str("full_text")? {
        Some(s) => s,
        None => t.str("text")?.ok_or_else(|| t.missing("full_text"))?,
    };
    let created_at = t.date("created_at")?;
    let mut text = decode_entities(raw_text).into_owned();

    let entities = t.obj("entities", pre("tweet.entities.", "entities."))?;
    let (mut hashtags, mut mentions, mut urls) = (Vec::new(), Vec::new(), Vec::new());
    match entities {
        Some(e) => {
            for h in e.arr("hashtags")?.unwrap_or(&[]) {
                if let Some(tag) = h.get("text").and_then(Value::as_str) {
                    push_unique(&mut hashtags, normalize_hashtag(tag));
                }
            }
            for m in e.arr("user_mentions")?.unwrap_or(&[]) {
                if let Some(name) = m.get("screen_name").and_then(Value::as_str) {
                    push_unique(&mut mentions, normalize_handle(name));
                }
            }
            for u in e.arr("urls")?.unwrap_or(&[]) {
                let expanded = u.get("expanded_url").and_then(Value::as_str);
                let short = u.get("url").and_then(Value::as_str);
                if let Some(exp) = expanded {
                    let cleaned = clean_url(exp);
                    if let Some(short) = short.filter(|s| !s.is_empty()) {
                        text = text.replace(short, &cleaned);
                    }
                    push_unique(&mut urls, cleaned);
                }
            }
        }
        None => {
            hashtags = extract_hashtags(&text);
            mentions = extract_mentions(&text);
            urls = extract_urls(&text);
        }
    }

    let parent_id = t.id("in_reply_to_status_id_str")?;
    let parent_id = match parent_id {
        Some(p) => Some(p),
        None => t.id("in_reply_to_status_id")?,
    };
    let url = if account.handle.is_empty() {
        format!("https://x.com/i/web/status/{id}")
    } else {
        format!("https://x.com/{}/status/{id}", account.handle)
    };
    Ok(NewItem {
        network: Network::X,
        external_id: id,
        kind: if parent_id.is_some() {
            ItemKind::Reply
        } else {
            ItemKind::Post
        },
        author: Author {
            id: account.id.clone(),
            handle: account.handle.clone(),
            display_name: account.display_name.clone(),
            followers: None,
        },
        text,
        hashtags,
        mentions,
        urls,
        lang: t.str("lang")?.and_then(normalize_lang),
        created_at,
        url: Some(url),
        parent_id,
        root_id: None,
        metrics: Metrics {
            likes: t.count("favorite_count")?,
            shares: t.count("retweet_count")?,
            replies: t.count("reply_count")?,
        },
        raw: None,
    })
}
