//! Mastodon REST client: notifications, hashtag timelines and status searches, polled forward
//! with `min_id`.
//!
//! Cursor semantics: per feed, the id of the newest entity seen. A poll asks for
//! `min_id=<cursor>`, which the API answers with the entities *immediately* newer than the
//! cursor (newest first within the page); the `Link: <…>; rel="prev"` header then leads to the
//! next newer page, followed until a page is empty. Because paging runs forward from the
//! cursor, stopping early (page limit, spent rate limit) loses nothing: the cursor is the
//! newest id actually read and the next poll continues from there. `/api/v2/search` sends no
//! `Link` header; there a full page is followed by asking again with `min_id` = its newest id.
//!
//! The first poll of a feed (no cursor) reads only the newest page and sets the cursor, rather
//! than walking the whole history.
//!
//! Notifications are requested without a `types[]` filter: the ingest parser decides what is an
//! item (mentions, statuses of followed accounts, edits), and everything else (favourites,
//! reblogs, follows, …) is counted in [`PollResult::skipped`] while still advancing the cursor.

use reqwest::header::{HeaderMap, LINK};
use reqwest::{Client, RequestBuilder, StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;
use switchboard_ingest::{parse_record, Format};

use crate::{
    error_message, json_body, send, spent_rate_limit, ConnectorError, Cursor, PollResult,
    RetryPolicy,
};

/// Mastodon's maximum `limit` for notifications and timelines.
const MAX_LIMIT: u32 = 40;

/// One thing a Mastodon channel follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MastodonFeed {
    /// `GET /api/v1/notifications` of the authenticated account.
    Notifications,
    /// `GET /api/v1/timelines/tag/{hashtag}` (a leading `#` is ignored).
    Hashtag(String),
    /// `GET /api/v2/search?q=…&type=statuses` (keywords; full-text search must be enabled on
    /// the instance).
    Search(String),
}

impl MastodonFeed {
    /// The feed's key in [`Cursor::mastodon`]: `notifications`, `tag:{name}` (lowercase, no
    /// `#`), `search:{query}`.
    pub fn key(&self) -> String {
        match self {
            MastodonFeed::Notifications => "notifications".to_string(),
            MastodonFeed::Hashtag(tag) => format!("tag:{}", normalize_tag(tag)),
            MastodonFeed::Search(q) => format!("search:{}", q.trim()),
        }
    }
}

fn normalize_tag(tag: &str) -> String {
    tag.trim().trim_start_matches('#').to_lowercase()
}

/// The authenticated account, from `GET /api/v1/accounts/verify_credentials`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MastodonAccount {
    pub id: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub acct: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub url: Option<String>,
}

/// A client for one Mastodon account on one instance.
#[derive(Debug, Clone)]
pub struct MastodonClient {
    base: String,
    token: String,
    http: Client,
    policy: RetryPolicy,
    limit: u32,
}

impl MastodonClient {
    /// `base_url` is the instance (`https://mastodon.social`); `access_token` an OAuth token
    /// with `read` (and `write:statuses` for replies).
    pub fn new(base_url: &str, access_token: &str, http: Client) -> MastodonClient {
        MastodonClient {
            base: base_url.trim().trim_end_matches('/').to_string(),
            token: access_token.to_string(),
            http,
            policy: RetryPolicy::default(),
            limit: MAX_LIMIT,
        }
    }

    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> MastodonClient {
        self.policy = policy;
        self
    }

    /// Entities per page (1 to 40; default 40).
    pub fn with_page_limit(mut self, limit: u32) -> MastodonClient {
        self.limit = limit.clamp(1, MAX_LIMIT);
        self
    }

    fn get(&self, url: &str) -> RequestBuilder {
        self.http.get(url).bearer_auth(&self.token)
    }

    fn first_page_url(
        &self,
        feed: &MastodonFeed,
        min_id: Option<&str>,
    ) -> Result<Url, ConnectorError> {
        let mut params: Vec<(&str, String)> = Vec::new();
        let path = match feed {
            MastodonFeed::Notifications => "/api/v1/notifications".to_string(),
            MastodonFeed::Hashtag(tag) => {
                let mut url = self.parse_url("/api/v1/timelines/tag/")?;
                url.path_segments_mut()
                    .map_err(|_| ConnectorError::Protocol(format!("bad base URL {:?}", self.base)))?
                    .pop_if_empty()
                    .push(&normalize_tag(tag));
                url.path().to_string()
            }
            MastodonFeed::Search(q) => {
                params.push(("q", q.trim().to_string()));
                params.push(("type", "statuses".to_string()));
                "/api/v2/search".to_string()
            }
        };
        params.push(("limit", self.limit.to_string()));
        if let Some(id) = min_id {
            params.push(("min_id", id.to_string()));
        }
        let mut url = self.parse_url(&path)?;
        url.query_pairs_mut().extend_pairs(params);
        Ok(url)
    }

    fn parse_url(&self, path: &str) -> Result<Url, ConnectorError> {
        Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| ConnectorError::Protocol(format!("bad base URL {:?}: {e}", self.base)))
    }

    /// Polls one feed for entities newer than `cursor`'s entry for it. Returns the new items
    /// and `cursor` with this feed's entry advanced.
    pub async fn poll(
        &self,
        feed: &MastodonFeed,
        cursor: &Cursor,
    ) -> Result<PollResult, ConnectorError> {
        let key = feed.key();
        let since = cursor.mastodon.get(&key).cloned();
        let mut newest = since.clone();
        let mut items = Vec::new();
        let mut skipped = 0u64;
        let mut retry_after = None;
        let mut url = self.first_page_url(feed, since.as_deref())?;
        let what = format!("mastodon {key}");
        for page in 1..=self.policy.max_pages.max(1) {
            let resp = match send(&self.policy, &what, || self.get(url.as_str())).await {
                Ok(resp) => resp,
                // Rate limited after some pages: keep what was read (the cursor is consistent).
                Err(ConnectorError::RateLimited { retry_after: wait }) if page > 1 => {
                    retry_after = Some(wait);
                    break;
                }
                Err(e) => return Err(e),
            };
            let resp = check_status(resp, &what).await?;
            let headers = resp.headers().clone();
            let body = json_body(resp, &what).await?;
            let entities = match (feed, body) {
                (MastodonFeed::Search(_), Value::Object(mut o)) => match o.remove("statuses") {
                    Some(Value::Array(a)) => a,
                    _ => {
                        return Err(ConnectorError::Protocol(format!(
                            "{what}: no `statuses` array"
                        )))
                    }
                },
                (MastodonFeed::Search(_), _) => {
                    return Err(ConnectorError::Protocol(format!(
                        "{what}: expected an object"
                    )))
                }
                (_, Value::Array(a)) => a,
                _ => {
                    return Err(ConnectorError::Protocol(format!(
                        "{what}: expected an array"
                    )))
                }
            };
            let count = entities.len();
            let mut advanced = false;
            for entity in entities {
                let id = match entity.get("id") {
                    Some(Value::String(s)) if !s.is_empty() => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => {
                        return Err(ConnectorError::Protocol(format!(
                            "{what}: an entity has no `id`"
                        )))
                    }
                };
                if since.as_deref().is_some_and(|s| !id_gt(&id, s)) {
                    continue; // not newer than the cursor: already delivered
                }
                if newest.as_deref().is_none_or(|n| id_gt(&id, n)) {
                    newest = Some(id.clone());
                    advanced = true;
                }
                match parse_record(&Format::Mastodon, entity) {
                    Ok(Some(item)) => items.push(item),
                    Ok(None) => skipped += 1,
                    Err(e) => {
                        tracing::warn!(%what, %id, error = %e, "skipping malformed entity");
                        skipped += 1;
                    }
                }
            }
            if let Some(wait) = spent_rate_limit(&headers, &self.policy) {
                retry_after = Some(wait);
                break;
            }
            if since.is_none() || count == 0 || !advanced || page == self.policy.max_pages {
                break;
            }
            url = match link_rel(&headers, "prev") {
                Some(next) => self.same_origin(&next)?,
                None if matches!(feed, MastodonFeed::Search(_)) && count >= self.limit as usize => {
                    self.first_page_url(feed, newest.as_deref())?
                }
                None => break,
            };
        }
        let mut cursor = cursor.clone();
        if let Some(id) = newest {
            cursor.mastodon.insert(key, id);
        }
        Ok(PollResult {
            items,
            cursor,
            skipped,
            retry_after,
        })
    }

    /// A pagination link must point at the same instance: the token is never sent elsewhere.
    fn same_origin(&self, link: &str) -> Result<Url, ConnectorError> {
        let base = self.parse_url("/")?;
        let url = Url::parse(link)
            .or_else(|_| base.join(link))
            .map_err(|e| ConnectorError::Protocol(format!("bad Link URL {link:?}: {e}")))?;
        if url.origin() != base.origin() {
            return Err(ConnectorError::Protocol(format!(
                "Link URL {link:?} leaves the instance {}",
                self.base
            )));
        }
        Ok(url)
    }

    /// `GET /api/v1/accounts/verify_credentials`: checks the token and names the account.
    pub async fn verify_credentials(&self) -> Result<MastodonAccount, ConnectorError> {
        let what = "mastodon verify_credentials";
        let url = self.parse_url("/api/v1/accounts/verify_credentials")?;
        let resp = send(&self.policy, what, || self.get(url.as_str())).await?;
        let resp = check_status(resp, what).await?;
        let body = json_body(resp, what).await?;
        serde_json::from_value(body)
            .map_err(|e| ConnectorError::Protocol(format!("{what}: not an Account: {e}")))
    }

    /// `POST /api/v1/statuses` replying to `in_reply_to_id` with `text`; returns the new
    /// status's id and web address. `idempotency_key` is sent as `Idempotency-Key`, so a
    /// retried request (ours after a 5xx, or the caller's after a crash) does not post twice.
    pub async fn post_reply(
        &self,
        in_reply_to_id: &str,
        text: &str,
        idempotency_key: &str,
    ) -> Result<PostedStatus, ConnectorError> {
        let what = "mastodon post status";
        let url = self.parse_url("/api/v1/statuses")?;
        let body = serde_json::json!({ "status": text, "in_reply_to_id": in_reply_to_id });
        let resp = send(&self.policy, what, || {
            self.http
                .post(url.as_str())
                .bearer_auth(&self.token)
                .header("Idempotency-Key", idempotency_key)
                .json(&body)
        })
        .await?;
        let resp = check_status(resp, what).await?;
        let status = json_body(resp, what).await?;
        match status.get("id") {
            Some(Value::String(id)) if !id.is_empty() => Ok(PostedStatus {
                id: id.clone(),
                url: status
                    .get("url")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            }),
            _ => Err(ConnectorError::Protocol(format!(
                "{what}: the created status has no id"
            ))),
        }
    }
}

/// A status created by [`MastodonClient::post_reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedStatus {
    pub id: String,
    /// Its web page, when the instance gives one.
    pub url: Option<String>,
}

/// 2xx passes; 401/403 are `Unauthorized`; anything else is `Protocol`.
async fn check_status(
    resp: reqwest::Response,
    what: &str,
) -> Result<reqwest::Response, ConnectorError> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let (status, _, message) = error_message(resp).await;
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        Err(ConnectorError::Unauthorized(format!("{what}: {message}")))
    } else {
        Err(ConnectorError::Protocol(format!(
            "{what}: HTTP {status}: {message}"
        )))
    }
}

/// Whether Mastodon id `a` is newer than `b`: ids are numeric strings (compared as numbers of
/// any length); other ids compare as strings.
fn id_gt(a: &str, b: &str) -> bool {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if numeric(a) && numeric(b) {
        let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        (a.len(), a) > (b.len(), b)
    } else {
        a > b
    }
}

/// The URL of the `Link` header entry with `rel="{rel}"` (RFC 8288).
fn link_rel(headers: &HeaderMap, rel: &str) -> Option<String> {
    for value in headers.get_all(LINK) {
        let value = value.to_str().ok()?;
        let mut rest = value;
        while let Some(start) = rest.find('<') {
            let end = start + rest[start..].find('>')?;
            let url = &rest[start + 1..end];
            let after = &rest[end + 1..];
            let params_end = after.find('<').unwrap_or(after.len());
            let params = &after[..params_end];
            let matches = params.split(';').any(|p| {
                let p = p.trim().trim_end_matches(',').trim();
                p.strip_prefix("rel=").is_some_and(|v| {
                    v.trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case(rel))
                })
            });
            if matches {
                return Some(url.to_string());
            }
            rest = &after[params_end..];
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn ids_compare_as_numbers() {
        assert!(id_gt("110", "99"));
        assert!(!id_gt("99", "110"));
        assert!(!id_gt("5", "5"));
        assert!(id_gt("b", "a"));
    }

    #[test]
    fn link_header() {
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static(
                "<https://m.example/api/v1/notifications?max_id=7>; rel=\"next\", <https://m.example/api/v1/notifications?min_id=9>; rel=\"prev\"",
            ),
        );
        assert_eq!(
            link_rel(&h, "prev").as_deref(),
            Some("https://m.example/api/v1/notifications?min_id=9")
        );
        assert_eq!(
            link_rel(&h, "next").as_deref(),
            Some("https://m.example/api/v1/notifications?max_id=7")
        );
        assert_eq!(link_rel(&h, "last"), None);
    }

    #[test]
    fn feed_keys() {
        assert_eq!(MastodonFeed::Hashtag("#Rust".into()).key(), "tag:rust");
        assert_eq!(MastodonFeed::Search(" acme ".into()).key(), "search:acme");
    }
}
