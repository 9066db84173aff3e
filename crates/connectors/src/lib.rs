//! HTTP clients for Mastodon and Bluesky that poll for new items with persisted cursors.
//!
//! Each client polls one *feed* at a time ([`MastodonFeed`], [`BlueskyFeed`]) and returns a
//! [`PollResult`]: the new items (already normalised by `switchboard-ingest`), how many records
//! were deliberately skipped, the updated [`Cursor`] and, when the server's rate limit is spent,
//! how long to wait. The caller stores the cursor (it is JSON-serialisable) and hands it back
//! on the next poll; a poll never returns an item older than the cursor.
//!
//! Errors ([`ConnectorError`]) say what the caller should do: `Unauthorized` means the channel
//! needs reconnecting, `RateLimited` carries the wait, `Unavailable` is worth retrying later,
//! `Protocol` means the server does not speak the documented API, `Invalid` that the request
//! itself cannot succeed (a post that is too long).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::{Deserialize, Serialize};
use switchboard_core::NewItem;

mod bluesky;
mod mastodon;

pub use bluesky::{
    check_post_text, tid_for_key, BlueskyClient, BlueskyFeed, PostedRecord, SessionTokens,
    MAX_POST_GRAPHEMES,
};
pub use mastodon::{MastodonAccount, MastodonClient, MastodonFeed, PostedStatus};

/// What a poll needs to remember between runs, for every feed of a channel. Serialisable so
/// the caller can store it (JSON) in the database; unknown feeds are kept untouched.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct Cursor {
    /// Mastodon: per feed key ([`MastodonFeed::key`]), the id of the newest entity seen (a
    /// notification id for notifications, a status id for hashtags and searches). It is sent
    /// as `min_id` on the next poll.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mastodon: BTreeMap<String, String>,
    /// Bluesky: per feed key ([`BlueskyFeed::key`]), how far the feed has been read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bluesky: BTreeMap<String, BlueskyFeedCursor>,
}

/// How far one Bluesky feed (search or notifications) has been read. Both endpoints page
/// backwards in time (newest first, `cursor` leads to older entries), so "new since last
/// time" is everything newer than a frontier: the newest `indexedAt` seen, plus the URIs seen
/// at exactly that instant (so equal timestamps are neither lost nor repeated).
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct BlueskyFeedCursor {
    /// The newest `indexedAt` (normalised to UTC milliseconds) up to which everything was read.
    #[serde(default)]
    pub seen_until: Option<String>,
    /// URIs of the entries whose `indexedAt` is exactly `seen_until`.
    #[serde(default)]
    pub seen_uris: Vec<String>,
    /// Set when a walk back to `seen_until` was interrupted (page limit or rate limit): the
    /// next poll resumes from this API cursor and adopts the new frontier once it is reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<BlueskyResume>,
}

/// An interrupted walk back through a Bluesky feed; see [`BlueskyFeedCursor::resume`].
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct BlueskyResume {
    /// The API `cursor` of the next (older) page.
    pub cursor: String,
    /// The frontier to adopt once the walk reaches the old one.
    pub newest: Option<String>,
    #[serde(default)]
    pub newest_uris: Vec<String>,
}

/// The outcome of one poll of one feed.
#[derive(Debug, Clone, PartialEq)]
pub struct PollResult {
    /// New items, in the order the server returned them.
    pub items: Vec<NewItem>,
    /// The cursor to store and pass to the next poll (the input with this feed updated).
    pub cursor: Cursor,
    /// Records that are deliberately not items (likes, follows, favourites, …) or could not
    /// be parsed (logged with `tracing::warn`).
    pub skipped: u64,
    /// Set when the server said the rate limit is spent: wait this long before the next
    /// request. Paging stopped early; the cursor is consistent and the next poll continues.
    pub retry_after: Option<Duration>,
}

/// Why a connector call failed.
#[derive(thiserror::Error, Debug)]
pub enum ConnectorError {
    /// The credentials were refused (401/403, invalid/expired token, bad app password): the
    /// channel must show "needs reconnect".
    #[error("credentials refused: {0}")]
    Unauthorized(String),
    /// Rate limited (429) and the wait is longer than we are willing to sleep in-line.
    #[error("rate limited; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    /// 5xx or network errors after bounded retries with backoff.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A response that does not match the documented API.
    #[error("unexpected response: {0}")]
    Protocol(String),
    /// The request cannot succeed as it is (a post over the network's length limit, a reply
    /// to a post that is gone): sending it again will not help.
    #[error("refused: {0}")]
    Invalid(String),
}

impl ConnectorError {
    /// Whether the channel's credentials must be renewed by a person.
    pub fn needs_reconnect(&self) -> bool {
        matches!(self, ConnectorError::Unauthorized(_))
    }
}

/// Retry and paging limits shared by both clients.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all for a request answered with 5xx or failing on the network (≥ 1).
    pub attempts: u32,
    /// Backoff before the second attempt; doubled for each further one.
    pub base_delay: Duration,
    /// A 429 whose wait is at most this long is slept through in-line and retried once.
    pub max_inline_wait: Duration,
    /// Wait assumed when a 429 names none.
    pub default_rate_limit_wait: Duration,
    /// Pages fetched at most per poll of one feed.
    pub max_pages: u32,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(100),
            max_inline_wait: Duration::from_secs(2),
            default_rate_limit_wait: Duration::from_secs(60),
            max_pages: 10,
        }
    }
}

/// Sends a request with the shared policy: network errors and 5xx are retried with
/// exponential backoff, a short 429 is slept through once, a long one is `RateLimited`.
/// Every other status is returned for the caller to interpret.
pub(crate) async fn send(
    policy: &RetryPolicy,
    what: &str,
    build: impl Fn() -> RequestBuilder,
) -> Result<Response, ConnectorError> {
    let attempts = policy.attempts.max(1);
    let mut attempt = 0;
    let mut slept_for_429 = false;
    loop {
        attempt += 1;
        let failure = match build().send().await {
            Ok(resp) if resp.status() == StatusCode::TOO_MANY_REQUESTS => {
                let wait = rate_limit_wait(resp.headers(), SystemTime::now())
                    .unwrap_or(policy.default_rate_limit_wait);
                if !slept_for_429 && wait <= policy.max_inline_wait {
                    tracing::debug!(%what, ?wait, "rate limited; waiting in-line");
                    slept_for_429 = true;
                    attempt -= 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Err(ConnectorError::RateLimited { retry_after: wait });
            }
            Ok(resp) if resp.status().is_server_error() => {
                format!("{what}: HTTP {}", resp.status())
            }
            Ok(resp) => return Ok(resp),
            Err(e) if e.is_builder() => {
                return Err(ConnectorError::Protocol(format!(
                    "{what}: {}",
                    error_chain(&e)
                )))
            }
            Err(e) => format!("{what}: {}", error_chain(&e)),
        };
        if attempt >= attempts {
            return Err(ConnectorError::Unavailable(failure));
        }
        let delay = policy.base_delay * 2u32.saturating_pow(attempt - 1);
        tracing::debug!(%what, %failure, ?delay, attempt, "retrying");
        tokio::time::sleep(delay).await;
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Reads a JSON body, mapping failures to `Protocol`.
pub(crate) async fn json_body(
    resp: Response,
    what: &str,
) -> Result<serde_json::Value, ConnectorError> {
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| ConnectorError::Unavailable(format!("{what}: {}", error_chain(&e))))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ConnectorError::Protocol(format!("{what}: body is not JSON: {e}")))
}

/// How long a 429 asks us to wait: `Retry-After` (seconds or an HTTP date), else the reset
/// time of Mastodon's `X-RateLimit-Reset` (ISO 8601) or Bluesky's `ratelimit-reset` (unix
/// seconds).
pub(crate) fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(v) = header_str(headers, "retry-after") {
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = httpdate::parse_http_date(v) {
            return Some(at.duration_since(now).unwrap_or_default());
        }
    }
    reset_wait(headers, now)
}

/// The wait until the rate-limit window resets, from `X-RateLimit-Reset` (ISO 8601 or unix
/// seconds) or `ratelimit-reset` (unix seconds; the same header name, case-insensitively).
pub(crate) fn reset_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let v = header_str(headers, "x-ratelimit-reset").or(header_str(headers, "ratelimit-reset"))?;
    let at = if let Ok(secs) = v.parse::<u64>() {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    } else {
        let parsed = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
            .ok()
            .or_else(|| {
                let norm = switchboard_ingest::normalize_timestamp(v).ok()?;
                time::OffsetDateTime::parse(&norm, &time::format_description::well_known::Rfc3339)
                    .ok()
            })?;
        SystemTime::from(parsed)
    };
    Some(at.duration_since(now).unwrap_or_default())
}

/// Whether the response says no requests are left in the window (`X-RateLimit-Remaining` or
/// `ratelimit-remaining` is 0); then the wait until the reset.
pub(crate) fn spent_rate_limit(headers: &HeaderMap, policy: &RetryPolicy) -> Option<Duration> {
    let remaining = header_str(headers, "x-ratelimit-remaining")
        .or(header_str(headers, "ratelimit-remaining"))?;
    if remaining.trim().parse::<f64>().ok()? > 0.0 {
        return None;
    }
    Some(reset_wait(headers, SystemTime::now()).unwrap_or(policy.default_rate_limit_wait))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// The error message a JSON error body carries (`{"error": "..."}` on Mastodon,
/// `{"error": "ExpiredToken", "message": "..."}` on Bluesky), else the status.
pub(crate) async fn error_message(resp: Response) -> (StatusCode, Option<String>, String) {
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_default();
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let code = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(|e| e.as_str())
        .map(str::to_string);
    let message = json
        .as_ref()
        .and_then(|j| {
            j.get("message")
                .or(j.get("error_description"))
                .or(j.get("error"))
        })
        .and_then(|e| e.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| format!("HTTP {status}"));
    (status, code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("30"));
        assert_eq!(rate_limit_wait(&h, now), Some(Duration::from_secs(30)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(90));
        h.insert("retry-after", HeaderValue::from_str(&date).unwrap());
        assert_eq!(rate_limit_wait(&h, now), Some(Duration::from_secs(90)));
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2023-11-14T22:13:27.000Z"),
        );
        assert_eq!(rate_limit_wait(&h, now), Some(Duration::from_secs(7)));
        let mut h = HeaderMap::new();
        h.insert("ratelimit-reset", HeaderValue::from_static("1700000005"));
        assert_eq!(rate_limit_wait(&h, now), Some(Duration::from_secs(5)));
        // A reset in the past means no wait.
        h.insert("ratelimit-reset", HeaderValue::from_static("1600000000"));
        assert_eq!(rate_limit_wait(&h, now), Some(Duration::ZERO));
    }
}
