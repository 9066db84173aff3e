//! What the index holds of an item, derived from the stored item so it can always be rebuilt.

use crate::tokenize::{fold, keyword};
use switchboard_core::item::{Enrichment, Item, NewItem};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexDoc {
    pub id: String,
    pub workspace_id: String,
    pub network: String,
    pub kind: String,
    /// `und` when the language is unknown.
    pub lang: String,
    pub sentiment: String,
    pub text: String,
    pub hashtags: Vec<String>,
    /// Folded handles, each also without its server part (`anna@mastodon.social` -> `anna`).
    pub mentions: Vec<String>,
    /// Folded handle, handle without server, and display name: what `author:` matches.
    pub author_keys: Vec<String>,
    /// The handle as the network shows it, for top-author lists.
    pub author: String,
    pub followers: i64,
    pub intents: Vec<String>,
    pub tags: Vec<String>,
    /// `created_at` in unix seconds.
    pub ts: i64,
}

pub fn parse_ts(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// A handle and its short forms, folded.
pub fn handle_keys(handle: &str) -> Vec<String> {
    let full = keyword(handle);
    let mut out = vec![full.clone()];
    for sep in ['@', '.'] {
        if let Some((local, _)) = full.split_once(sep) {
            if !local.is_empty() && !out.iter().any(|k| k == local) {
                out.push(local.to_string());
            }
        }
    }
    out
}

impl IndexDoc {
    /// An item not stored yet (enrichment-time rules match against this).
    pub fn from_new(item: &NewItem, e: &Enrichment) -> IndexDoc {
        let stored = Item {
            id: String::new(),
            workspace_id: String::new(),
            network: item.network,
            external_id: item.external_id.clone(),
            kind: item.kind,
            author: item.author.clone(),
            text: item.text.clone(),
            hashtags: item.hashtags.clone(),
            mentions: item.mentions.clone(),
            urls: item.urls.clone(),
            lang: e.lang.clone(),
            created_at: item.created_at.clone(),
            url: item.url.clone(),
            parent_id: item.parent_id.clone(),
            root_id: item.root_id.clone(),
            metrics: item.metrics,
            sentiment: switchboard_core::Sentiment {
                label: e.sentiment.clone(),
                score: e.sentiment_score,
            },
            intents: e.intents.clone(),
            tags: e.tags.clone(),
            ingested_at: String::new(),
            updated_at: String::new(),
        };
        IndexDoc::from_item(&stored)
    }

    pub fn from_item(item: &Item) -> IndexDoc {
        let mut author_keys = handle_keys(&item.author.handle);
        let name = fold(item.author.display_name.trim());
        if !name.is_empty() && !author_keys.contains(&name) {
            author_keys.push(name);
        }
        IndexDoc {
            id: item.id.clone(),
            workspace_id: item.workspace_id.clone(),
            network: item.network.as_str().to_string(),
            kind: item.kind.as_str().to_string(),
            lang: item
                .lang
                .as_deref()
                .map(keyword)
                .unwrap_or_else(|| "und".to_string()),
            sentiment: item.sentiment.label.clone(),
            text: item.text.clone(),
            hashtags: item.hashtags.iter().map(|h| keyword(h)).collect(),
            mentions: item.mentions.iter().flat_map(|m| handle_keys(m)).collect(),
            author_keys,
            author: item.author.handle.clone(),
            followers: item.author.followers.unwrap_or(0),
            intents: item.intents.clone(),
            tags: item.tags.iter().map(|t| keyword(t)).collect(),
            ts: parse_ts(&item.created_at).unwrap_or(0),
        }
    }
}
