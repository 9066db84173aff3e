//! The one item model every network's posts, comments, replies, mentions, direct messages and
//! reviews are normalised into. `NewItem` is what importers and connectors produce (and the
//! shape of Switchboard's own NDJSON import format); `Item` is what is stored, with enrichment.

use serde::{Deserialize, Serialize};

crate::role::string_enum!(
    /// Where an item was published.
    Network {
        Mastodon => "mastodon",
        Bluesky => "bluesky",
        X => "x",
        Facebook => "facebook",
        Instagram => "instagram",
        Linkedin => "linkedin",
        Youtube => "youtube",
        Tiktok => "tiktok",
        Reddit => "reddit",
        Reviews => "reviews",
        Web => "web",
        Other => "other",
    }
);

crate::role::string_enum!(
    /// What kind of thing an item is.
    ItemKind {
        Post => "post",
        Reply => "reply",
        Comment => "comment",
        Mention => "mention",
        DirectMessage => "direct_message",
        Review => "review",
    }
);

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Author {
    /// The network's stable id for the account.
    pub id: String,
    /// The handle as people type it, without a leading `@` (e.g. `alice@mastodon.social`).
    #[serde(default)]
    pub handle: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub followers: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    #[serde(default)]
    pub likes: i64,
    #[serde(default)]
    pub shares: i64,
    #[serde(default)]
    pub replies: i64,
}

/// An item as an importer or connector produces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewItem {
    pub network: Network,
    /// The network's id for the item; unique per workspace and network.
    pub external_id: String,
    pub kind: ItemKind,
    pub author: Author,
    /// Plain text: HTML stripped, entities kept as text.
    pub text: String,
    #[serde(default)]
    pub hashtags: Vec<String>,
    #[serde(default)]
    pub mentions: Vec<String>,
    /// Links with tracking parameters (utm_*, fbclid, ...) removed.
    #[serde(default)]
    pub urls: Vec<String>,
    /// ISO 639-1 as declared by the network, if it declares one.
    #[serde(default)]
    pub lang: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    #[serde(default)]
    pub url: Option<String>,
    /// The external id of the item this one answers.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// The external id of the conversation's first item.
    #[serde(default)]
    pub root_id: Option<String>,
    #[serde(default)]
    pub metrics: Metrics,
    /// The payload as received, kept for audit.
    #[serde(default)]
    pub raw: Option<serde_json::Value>,
}

/// What Switchboard adds to an item: detected language, sentiment, intents and the
/// workspace dictionary tags (products, competitors) found in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Enrichment {
    pub lang: Option<String>,
    /// positive, neutral or negative.
    pub sentiment: String,
    /// -1.0 (very negative) to 1.0 (very positive).
    pub sentiment_score: f64,
    pub intents: Vec<String>,
    pub tags: Vec<String>,
}

/// A stored item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub id: String,
    pub workspace_id: String,
    pub network: Network,
    pub external_id: String,
    pub kind: ItemKind,
    pub author: Author,
    pub text: String,
    pub hashtags: Vec<String>,
    pub mentions: Vec<String>,
    pub urls: Vec<String>,
    pub lang: Option<String>,
    pub created_at: String,
    pub url: Option<String>,
    pub parent_id: Option<String>,
    pub root_id: Option<String>,
    pub metrics: Metrics,
    pub sentiment: Sentiment,
    pub intents: Vec<String>,
    pub tags: Vec<String>,
    pub ingested_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sentiment {
    pub label: String,
    pub score: f64,
}

/// A signed webhook that pushes items into a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestSource {
    pub id: String,
    pub workspace_id: String,
    /// The `{source}` in `/api/v1/workspaces/{ws}/ingest/{source}`.
    pub name: String,
    /// The body format: `ndjson` (Switchboard items) or a network format name.
    pub format: String,
    pub created_at: String,
}

crate::role::string_enum!(
    /// What a dictionary entry names.
    DictionaryKind {
        Brand => "brand",
        Product => "product",
        Competitor => "competitor",
        Intent => "intent",
    }
);

/// Names tagged on items (`product:Acme Phone`), or extra keywords for an intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DictionaryEntry {
    pub id: String,
    pub workspace_id: String,
    pub kind: DictionaryKind,
    /// The tag (brand, product, competitor) or the intent name (`complaint`, ...).
    pub label: String,
    /// Names and aliases, or keywords.
    pub terms: Vec<String>,
    /// Intent entries: a listening query; items it matches get the intent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    pub created_at: String,
}

crate::role::string_enum!(
    /// Whether a channel is being polled, and if not, why.
    ChannelStatus {
        Active => "active",
        NeedsReconnect => "needs_reconnect",
        RateLimited => "rate_limited",
        Error => "error",
    }
);

/// A live connection to a network account. Its credentials are never part of this record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    pub id: String,
    pub workspace_id: String,
    pub network: Network,
    pub name: String,
    /// The Mastodon instance or Bluesky service, e.g. `https://mastodon.social`.
    pub base_url: String,
    pub account: String,
    /// What is followed: `notifications`, `tag:NAME`, `search:QUERY`.
    pub feeds: Vec<String>,
    pub status: ChannelStatus,
    pub status_message: Option<String>,
    pub next_poll_at: String,
    pub last_polled_at: Option<String>,
    pub created_at: String,
}

crate::role::string_enum!(
    /// What a listening topic follows.
    TopicKind {
        Brand => "brand",
        Product => "product",
        Competitor => "competitor",
        Campaign => "campaign",
        Other => "other",
    }
);

/// A saved listening query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Topic {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub kind: TopicKind,
    pub query: String,
    pub created_at: String,
    pub updated_at: String,
}

crate::role::string_enum!(
    /// What happened at an annotated moment.
    AnnotationKind {
        Release => "release",
        Campaign => "campaign",
        Outage => "outage",
        Event => "event",
    }
);

/// A marked event on a workspace's timeline (a release, a campaign launch, an outage).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    pub id: String,
    pub workspace_id: String,
    pub title: String,
    pub kind: AnnotationKind,
    pub at: String,
    pub created_at: String,
}

/// A detected spike in a topic's series; it is also the alert raised for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spike {
    pub id: String,
    pub workspace_id: String,
    pub topic_id: String,
    /// `volume`, `sentiment:negative`, `intent:complaint`, ...
    pub series: String,
    pub bucket_secs: i64,
    pub window_start: String,
    pub window_end: String,
    pub observed: f64,
    pub baseline: f64,
    pub change_pct: f64,
    pub score: f64,
    pub annotation_id: Option<String>,
    pub annotation_title: Option<String>,
    pub terms: Vec<String>,
    pub intents: Vec<String>,
    /// One line: "negative +340% vs baseline, 2 h after 'App 4.2 release'; terms: crash, login".
    pub summary: String,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<String>,
    pub created_at: String,
}
