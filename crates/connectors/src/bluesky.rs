//! Bluesky (AT Protocol XRPC) client: post searches and the account's notifications.
//!
//! Session: `com.atproto.server.createSession` with the handle and an app password gives an
//! access and a refresh JWT. A request answered `400 ExpiredToken`/`InvalidToken` or `401`
//! refreshes the session once (`com.atproto.server.refreshSession` with the refresh JWT; if the
//! refresh itself is refused, a new session is created with the app password) and is retried
//! once. When the app password is refused, the error is [`ConnectorError::Unauthorized`].
//!
//! Cursor semantics: `app.bsky.feed.searchPosts` (with `sort=latest`) and
//! `app.bsky.notification.listNotifications` both list newest first, and their `cursor` leads
//! to *older* entries. A poll therefore walks from the newest page backwards until it reaches
//! the frontier stored in [`BlueskyFeedCursor`](crate::BlueskyFeedCursor) (the newest `indexedAt` seen and the URIs seen
//! at that instant); everything before the frontier is new. If the walk is interrupted (page
//! limit or spent rate limit) before reaching the frontier, the API cursor of the next page and
//! the would-be new frontier are kept in `resume`, and the next poll continues the walk from
//! there, so nothing between is lost. The first poll of a feed reads only the newest page and
//! sets the frontier. This assumes the listing is ordered by `indexedAt`, as both endpoints
//! are in practice (notifications are by definition; `sort=latest` search is).
//!
//! Notifications: `mention`, `reply` and `quote` become items (a mention or quote that is not
//! itself a reply has kind `mention`; the whole notification is the item's `raw`); every other
//! reason (`like`, `repost`, `follow`, …) is counted in [`PollResult::skipped`].

use std::sync::Mutex;

use reqwest::header::HeaderMap;
use reqwest::{Client, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use switchboard_core::ItemKind;
use switchboard_ingest::{normalize_timestamp, parse_record, Format, NewItem};

use crate::{
    error_message, json_body, send, spent_rate_limit, BlueskyResume, ConnectorError, Cursor,
    PollResult, RetryPolicy,
};

/// Maximum `limit` of searchPosts and listNotifications.
const MAX_LIMIT: u32 = 100;

/// The session of a Bluesky account, as `createSession`/`refreshSession` return it (the JSON
/// field names are the API's). Secret: store it sealed.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SessionTokens {
    pub access_jwt: String,
    pub refresh_jwt: String,
    pub did: String,
    pub handle: String,
}

impl std::fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTokens")
            .field("did", &self.did)
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

/// One thing a Bluesky channel follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlueskyFeed {
    /// `app.bsky.notification.listNotifications` of the account.
    Notifications,
    /// `app.bsky.feed.searchPosts?q=…&sort=latest` (Lucene-like query syntax of the AppView).
    Search(String),
}

impl BlueskyFeed {
    /// The feed's key in [`Cursor::bluesky`]: `notifications` or `search:{query}`.
    pub fn key(&self) -> String {
        match self {
            BlueskyFeed::Notifications => "notifications".to_string(),
            BlueskyFeed::Search(q) => format!("search:{}", q.trim()),
        }
    }
}

/// A client for one Bluesky account on its PDS (or any service that proxies `app.bsky.*`).
pub struct BlueskyClient {
    service: String,
    identifier: String,
    password: String,
    http: Client,
    policy: RetryPolicy,
    limit: u32,
    session: Mutex<Option<SessionTokens>>,
}

impl std::fmt::Debug for BlueskyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlueskyClient")
            .field("service", &self.service)
            .field("identifier", &self.identifier)
            .finish_non_exhaustive()
    }
}

impl BlueskyClient {
    /// `service_url` is the account's PDS (`https://bsky.social`), `handle` the handle or DID
    /// to log in with, `app_password` an app password (Settings → App passwords).
    pub fn new(service_url: &str, handle: &str, app_password: &str, http: Client) -> BlueskyClient {
        BlueskyClient {
            service: service_url.trim().trim_end_matches('/').to_string(),
            identifier: handle.trim().trim_start_matches('@').to_string(),
            password: app_password.to_string(),
            http,
            policy: RetryPolicy::default(),
            limit: 50,
            session: Mutex::new(None),
        }
    }

    /// Starts from a stored session instead of logging in on the first request.
    pub fn with_session(self, tokens: SessionTokens) -> BlueskyClient {
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = Some(tokens);
        self
    }

    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> BlueskyClient {
        self.policy = policy;
        self
    }

    /// Entries per page (1 to 100; default 50).
    pub fn with_page_limit(mut self, limit: u32) -> BlueskyClient {
        self.limit = limit.clamp(1, MAX_LIMIT);
        self
    }

    /// The current session, to persist (sealed) after a poll: it changes when refreshed.
    pub fn session(&self) -> Option<SessionTokens> {
        self.session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_session(&self, tokens: SessionTokens) {
        *self.session.lock().unwrap_or_else(|p| p.into_inner()) = Some(tokens);
    }

    fn url(&self, method: &str) -> String {
        format!("{}/xrpc/{method}", self.service)
    }

    /// `com.atproto.server.createSession`: logs in with the app password.
    pub async fn login(&self) -> Result<SessionTokens, ConnectorError> {
        let what = "bluesky createSession";
        let url = self.url("com.atproto.server.createSession");
        let body = json!({ "identifier": self.identifier, "password": self.password });
        let resp = send(&self.policy, what, || self.http.post(&url).json(&body)).await?;
        let tokens = self.session_response(resp, what).await?;
        self.set_session(tokens.clone());
        Ok(tokens)
    }

    /// `com.atproto.server.refreshSession`; a refused refresh falls back to [`Self::login`].
    async fn refresh(&self, tokens: &SessionTokens) -> Result<SessionTokens, ConnectorError> {
        let what = "bluesky refreshSession";
        let url = self.url("com.atproto.server.refreshSession");
        let resp = send(&self.policy, what, || {
            self.http.post(&url).bearer_auth(&tokens.refresh_jwt)
        })
        .await?;
        match self.session_response(resp, what).await {
            Ok(tokens) => {
                self.set_session(tokens.clone());
                Ok(tokens)
            }
            Err(ConnectorError::Unauthorized(why)) => {
                tracing::debug!(%why, "refresh refused; logging in again");
                self.login().await
            }
            Err(e) => Err(e),
        }
    }

    async fn session_response(
        &self,
        resp: reqwest::Response,
        what: &str,
    ) -> Result<SessionTokens, ConnectorError> {
        if !resp.status().is_success() {
            return Err(classify(resp, what).await);
        }
        let body = json_body(resp, what).await?;
        serde_json::from_value(body)
            .map_err(|e| ConnectorError::Protocol(format!("{what}: not a session: {e}")))
    }

    /// An authenticated XRPC query. Returns the response headers and JSON body.
    async fn query(
        &self,
        method: &str,
        params: &[(&str, String)],
    ) -> Result<(HeaderMap, Value), ConnectorError> {
        let what = format!("bluesky {method}");
        let url = self.url(method);
        let mut renewed = false;
        loop {
            let tokens = match self.session() {
                Some(t) => t,
                None => {
                    renewed = true;
                    self.login().await?
                }
            };
            let resp = send(&self.policy, &what, || {
                self.http
                    .get(&url)
                    .query(params)
                    .bearer_auth(&tokens.access_jwt)
            })
            .await?;
            if resp.status().is_success() {
                let headers = resp.headers().clone();
                return Ok((headers, json_body(resp, &what).await?));
            }
            let err = classify(resp, &what).await;
            if matches!(err, ConnectorError::Unauthorized(_)) && !renewed {
                renewed = true;
                self.refresh(&tokens).await?;
                continue;
            }
            return Err(err);
        }
    }

    /// Polls one feed for entries newer than `cursor`'s frontier for it. Returns the new items
    /// and `cursor` with this feed's entry advanced.
    pub async fn poll(
        &self,
        feed: &BlueskyFeed,
        cursor: &Cursor,
    ) -> Result<PollResult, ConnectorError> {
        let key = feed.key();
        let mut state = cursor.bluesky.get(&key).cloned().unwrap_or_default();
        let first_poll = state.seen_until.is_none() && state.resume.is_none();
        let (mut api_cursor, mut newest, mut newest_uris) = match state.resume.take() {
            Some(r) => (Some(r.cursor), r.newest, r.newest_uris),
            None => (None, None, Vec::new()),
        };
        let (method, list_field) = match feed {
            BlueskyFeed::Notifications => {
                ("app.bsky.notification.listNotifications", "notifications")
            }
            BlueskyFeed::Search(_) => ("app.bsky.feed.searchPosts", "posts"),
        };
        let what = format!("bluesky {method}");
        let mut items = Vec::new();
        let mut skipped = 0u64;
        let mut retry_after = None;
        let mut interrupted_at = None;
        for page in 1..=self.policy.max_pages.max(1) {
            let mut params: Vec<(&str, String)> = Vec::new();
            if let BlueskyFeed::Search(q) = feed {
                params.push(("q", q.trim().to_string()));
                params.push(("sort", "latest".to_string()));
            }
            params.push(("limit", self.limit.to_string()));
            if let Some(c) = &api_cursor {
                params.push(("cursor", c.clone()));
            }
            let (headers, mut body) = match self.query(method, &params).await {
                Ok(r) => r,
                // Rate limited in the middle of a walk: keep what was read, resume here later.
                Err(ConnectorError::RateLimited { retry_after: wait }) if page > 1 => {
                    retry_after = Some(wait);
                    interrupted_at = api_cursor.clone();
                    break;
                }
                Err(e) => return Err(e),
            };
            let entries = match body.get_mut(list_field).map(Value::take) {
                Some(Value::Array(a)) => a,
                _ => {
                    return Err(ConnectorError::Protocol(format!(
                        "{what}: no `{list_field}` array"
                    )))
                }
            };
            let next = match body.get("cursor") {
                Some(Value::String(c)) if !c.is_empty() => Some(c.clone()),
                None | Some(Value::Null) | Some(Value::String(_)) => None,
                Some(_) => {
                    return Err(ConnectorError::Protocol(format!(
                        "{what}: `cursor` is not a string"
                    )))
                }
            };
            let count = entries.len();
            let mut reached = false;
            for entry in entries {
                let uri = entry
                    .get("uri")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        ConnectorError::Protocol(format!("{what}: an entry has no `uri`"))
                    })?
                    .to_string();
                let indexed = entry
                    .get("indexedAt")
                    .and_then(Value::as_str)
                    .and_then(|s| normalize_timestamp(s).ok())
                    .ok_or_else(|| {
                        ConnectorError::Protocol(format!("{what}: {uri}: no valid `indexedAt`"))
                    })?;
                if let Some(seen) = &state.seen_until {
                    if indexed < *seen {
                        reached = true;
                        break;
                    }
                    if indexed == *seen && state.seen_uris.contains(&uri) {
                        continue;
                    }
                }
                match &newest {
                    Some(n) if indexed < *n => {}
                    Some(n) if indexed == *n => {
                        if !newest_uris.contains(&uri) {
                            newest_uris.push(uri.clone());
                        }
                    }
                    _ => {
                        newest = Some(indexed);
                        newest_uris = vec![uri.clone()];
                    }
                }
                let converted = match feed {
                    BlueskyFeed::Search(_) => parse_record(&Format::Bluesky, entry),
                    BlueskyFeed::Notifications => notification_item(entry),
                };
                match converted {
                    Ok(Some(item)) => items.push(item),
                    Ok(None) => skipped += 1,
                    Err(e) => {
                        tracing::warn!(%what, %uri, error = %e, "skipping malformed entry");
                        skipped += 1;
                    }
                }
            }
            let spent = spent_rate_limit(&headers, &self.policy);
            if spent.is_some() {
                retry_after = spent;
            }
            let Some(next) = next else { break };
            if reached || count == 0 || first_poll {
                break;
            }
            if spent.is_some() || page >= self.policy.max_pages {
                interrupted_at = Some(next);
                break;
            }
            api_cursor = Some(next);
        }
        match interrupted_at {
            Some(next) => {
                state.resume = Some(BlueskyResume {
                    cursor: next,
                    newest,
                    newest_uris,
                })
            }
            None => {
                state.resume = None;
                match (&state.seen_until, newest) {
                    (Some(seen), Some(n)) if n == *seen => {
                        for uri in newest_uris {
                            if !state.seen_uris.contains(&uri) {
                                state.seen_uris.push(uri);
                            }
                        }
                    }
                    (Some(seen), Some(n)) if n < *seen => {}
                    (_, Some(n)) => {
                        state.seen_until = Some(n);
                        state.seen_uris = newest_uris;
                    }
                    (_, None) => {}
                }
            }
        }
        let mut cursor = cursor.clone();
        cursor.bluesky.insert(key, state);
        Ok(PollResult {
            items,
            cursor,
            skipped,
            retry_after,
        })
    }
}

/// A notification about a post (`mention`, `reply`, `quote`) as an item; others are `None`.
fn notification_item(n: Value) -> Result<Option<NewItem>, switchboard_ingest::RecordError> {
    let reason = n.get("reason").and_then(Value::as_str).unwrap_or("");
    if !matches!(reason, "mention" | "reply" | "quote") {
        return Ok(None);
    }
    // The notification carries the post's record and author beside it: a PostView without
    // counts, which the ingest parser reads.
    let mut view = serde_json::Map::new();
    for field in ["uri", "cid", "author", "record", "indexedAt", "labels"] {
        if let Some(v) = n.get(field) {
            view.insert(field.to_string(), v.clone());
        }
    }
    let Some(mut item) = parse_record(&Format::Bluesky, Value::Object(view))? else {
        return Ok(None);
    };
    if reason != "reply" && item.kind == ItemKind::Post {
        item.kind = ItemKind::Mention;
    }
    item.raw = Some(n);
    Ok(Some(item))
}

/// The error for a non-2xx XRPC response: refused credentials are `Unauthorized`.
async fn classify(resp: reqwest::Response, what: &str) -> ConnectorError {
    let (status, code, message) = error_message(resp).await;
    let auth_code = matches!(
        code.as_deref(),
        Some(
            "ExpiredToken"
                | "InvalidToken"
                | "AuthenticationRequired"
                | "AccountTakedown"
                | "AccountDeactivated"
                | "AuthFactorTokenRequired"
        )
    );
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN || auth_code {
        let code = code.map(|c| format!("{c}: ")).unwrap_or_default();
        ConnectorError::Unauthorized(format!("{what}: {code}{message}"))
    } else {
        ConnectorError::Protocol(format!("{what}: HTTP {status}: {message}"))
    }
}
