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
//!
//! Replies ([`BlueskyClient::post_reply`]): `app.bsky.feed.getPosts` gives the parent's CID
//! and its thread root, then `com.atproto.repo.createRecord` writes the post under a record
//! key derived from the caller's reply key, which makes a repeated attempt land on the same
//! record instead of posting twice.

use std::sync::Mutex;

use reqwest::header::HeaderMap;
use reqwest::{Client, RequestBuilder, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use switchboard_core::ItemKind;
use switchboard_ingest::{normalize_timestamp, parse_record, Format, NewItem};
use unicode_segmentation::UnicodeSegmentation;

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

    /// An authenticated XRPC call built by `build` from the current session. A refused or
    /// expired access token renews the session once (refresh, else log in) and the call is
    /// repeated; any other non-2xx answer is handed back as a [`Refusal`] for the caller to
    /// read (a missing record is an answer, not a failure, for some callers).
    async fn call(
        &self,
        what: &str,
        build: impl Fn(&SessionTokens) -> RequestBuilder,
    ) -> Result<Result<(HeaderMap, Value), Refusal>, ConnectorError> {
        let mut renewed = false;
        loop {
            let tokens = match self.session() {
                Some(t) => t,
                None => {
                    renewed = true;
                    self.login().await?
                }
            };
            let resp = send(&self.policy, what, || build(&tokens)).await?;
            if resp.status().is_success() {
                let headers = resp.headers().clone();
                return Ok(Ok((headers, json_body(resp, what).await?)));
            }
            let (status, code, message) = error_message(resp).await;
            let refusal = Refusal {
                status,
                code,
                message,
            };
            if refusal.is_auth() {
                if !renewed {
                    renewed = true;
                    self.refresh(&tokens).await?;
                    continue;
                }
                return Err(refusal.into_error(what));
            }
            return Ok(Err(refusal));
        }
    }

    /// An authenticated XRPC query. Returns the response headers and JSON body.
    async fn query(
        &self,
        method: &str,
        params: &[(&str, String)],
    ) -> Result<(HeaderMap, Value), ConnectorError> {
        let what = format!("bluesky {method}");
        let url = self.url(method);
        self.call(&what, |tokens| {
            self.http
                .get(&url)
                .query(params)
                .bearer_auth(&tokens.access_jwt)
        })
        .await?
        .map_err(|r| r.into_error(&what))
    }

    /// Posts `text` as a reply to the post `parent_uri` (`at://…/app.bsky.feed.post/…`) and
    /// returns the new post.
    ///
    /// Exactly once: the record key is a TID derived from `reply_key` ([`tid_for_key`]), so
    /// every attempt for one reply writes the same `at://` URI and a PDS holds at most one
    /// record there. When `createRecord` fails for any reason other than refused credentials
    /// or a rate limit (the reference PDS answers a taken key with a 500, a lost response
    /// looks like a network error), the key is looked up with `getRecord`: if the record is
    /// there, the reply was already posted and that record is returned.
    ///
    /// Text over [`MAX_POST_GRAPHEMES`] is refused with [`ConnectorError::Invalid`] before any
    /// request, rather than cut. A mention of the parent post's author (`@handle`) becomes a
    /// mention facet, since the handle's DID is known from the parent.
    pub async fn post_reply(
        &self,
        parent_uri: &str,
        text: &str,
        reply_key: &str,
    ) -> Result<PostedRecord, ConnectorError> {
        check_post_text(text).map_err(ConnectorError::Invalid)?;
        if !is_post_uri(parent_uri) {
            return Err(ConnectorError::Invalid(format!(
                "{parent_uri:?} is not the at:// URI of a Bluesky post"
            )));
        }
        let rkey = tid_for_key(reply_key);
        let parent = match self.parent_refs(parent_uri).await {
            Ok(p) => p,
            // Deleted after an earlier attempt posted the reply: that post is the result.
            Err(gone @ ConnectorError::Invalid(_)) => {
                return match self.own_post(&rkey).await {
                    Ok(Some((uri, cid))) => Ok(self.posted(uri, cid, true)),
                    _ => Err(gone),
                }
            }
            Err(e) => return Err(e),
        };
        let mut record = json!({
            "$type": POST_COLLECTION,
            "text": text,
            "createdAt": now_rfc3339(),
            "reply": {
                "root": {"uri": parent.root.0, "cid": parent.root.1},
                "parent": {"uri": parent.uri, "cid": parent.cid},
            },
        });
        if let Some(facets) = mention_facets(text, &parent.author_handle, &parent.author_did) {
            record["facets"] = facets;
        }
        let what = "bluesky createRecord";
        let url = self.url("com.atproto.repo.createRecord");
        let created = self
            .call(what, |tokens| {
                let body = json!({
                    "repo": tokens.did,
                    "collection": POST_COLLECTION,
                    "rkey": rkey,
                    "record": record,
                });
                self.http
                    .post(&url)
                    .bearer_auth(&tokens.access_jwt)
                    .json(&body)
            })
            .await;
        let failure = match created {
            Ok(Ok((_, body))) => {
                let (uri, cid) = uri_and_cid(&body, what)?;
                return Ok(self.posted(uri, cid, false));
            }
            Ok(Err(refusal)) => refusal.into_error(what),
            Err(e) => e,
        };
        if matches!(
            failure,
            ConnectorError::Unauthorized(_) | ConnectorError::RateLimited { .. }
        ) {
            return Err(failure);
        }
        match self.own_post(&rkey).await {
            Ok(Some((uri, cid))) => {
                tracing::debug!(%uri, error = %failure, "reply was already posted");
                Ok(self.posted(uri, cid, true))
            }
            Ok(None) => Err(failure),
            Err(e) => {
                tracing::debug!(error = %e, "could not check for an earlier post");
                Err(failure)
            }
        }
    }

    fn posted(&self, uri: String, cid: String, already_posted: bool) -> PostedRecord {
        // Post links on bsky.app accept the DID, which survives handle changes.
        let url = uri
            .strip_prefix("at://")
            .and_then(|rest| rest.split_once('/'))
            .and_then(|(repo, path)| Some((repo, path.strip_prefix(POST_COLLECTION)?)))
            .and_then(|(repo, rest)| Some((repo, rest.strip_prefix('/')?)))
            .map(|(repo, rkey)| format!("https://bsky.app/profile/{repo}/post/{rkey}"));
        PostedRecord {
            uri,
            cid,
            url,
            already_posted,
        }
    }

    /// The parent's strong ref, its thread root's, and its author, from
    /// `app.bsky.feed.getPosts`.
    async fn parent_refs(&self, parent_uri: &str) -> Result<ParentRefs, ConnectorError> {
        let method = "app.bsky.feed.getPosts";
        let what = format!("bluesky {method}");
        let (_, body) = self
            .query(method, &[("uris", parent_uri.to_string())])
            .await?;
        let posts = body
            .get("posts")
            .and_then(Value::as_array)
            .ok_or_else(|| ConnectorError::Protocol(format!("{what}: no `posts` array")))?;
        let Some(post) = posts.first() else {
            return Err(ConnectorError::Invalid(format!(
                "the post being answered ({parent_uri}) is gone: deleted, or hidden from this account"
            )));
        };
        let (uri, cid) = uri_and_cid(post, &what)?;
        let root = match post.pointer("/record/reply/root") {
            Some(root) => uri_and_cid(root, &format!("{what}: reply root"))?,
            None => (uri.clone(), cid.clone()),
        };
        let author = |field: &str| {
            post.get("author")
                .and_then(|a| a.get(field))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Ok(ParentRefs {
            author_did: author("did"),
            author_handle: author("handle"),
            uri,
            cid,
            root,
        })
    }

    /// `com.atproto.repo.getRecord` of the account's post `rkey`: its URI and CID, or `None`
    /// when there is no such record.
    async fn own_post(&self, rkey: &str) -> Result<Option<(String, String)>, ConnectorError> {
        let what = "bluesky getRecord";
        let url = self.url("com.atproto.repo.getRecord");
        let answer = self
            .call(what, |tokens| {
                self.http
                    .get(&url)
                    .query(&[
                        ("repo", tokens.did.as_str()),
                        ("collection", POST_COLLECTION),
                        ("rkey", rkey),
                    ])
                    .bearer_auth(&tokens.access_jwt)
            })
            .await?;
        match answer {
            Ok((_, body)) => uri_and_cid(&body, what).map(Some),
            // The reference PDS says `InvalidRequest` ("Could not locate record"); the lexicon
            // names `RecordNotFound`.
            Err(r)
                if r.status == StatusCode::BAD_REQUEST
                    && matches!(r.code.as_deref(), Some("RecordNotFound" | "InvalidRequest")) =>
            {
                Ok(None)
            }
            Err(r) => Err(r.into_error(what)),
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
    Refusal {
        status,
        code,
        message,
    }
    .into_error(what)
}

/// A non-2xx XRPC answer (after `send` dealt with 429 and 5xx).
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: Option<String>,
    message: String,
}

impl Refusal {
    /// Whether the access token (or the account) was refused.
    fn is_auth(&self) -> bool {
        let auth_code = matches!(
            self.code.as_deref(),
            Some(
                "ExpiredToken"
                    | "InvalidToken"
                    | "AuthenticationRequired"
                    | "AccountTakedown"
                    | "AccountDeactivated"
                    | "AuthFactorTokenRequired"
            )
        );
        self.status == StatusCode::UNAUTHORIZED || self.status == StatusCode::FORBIDDEN || auth_code
    }

    fn into_error(self, what: &str) -> ConnectorError {
        let Refusal {
            status,
            code,
            message,
        } = &self;
        if self.is_auth() {
            let code = code
                .as_deref()
                .map(|c| format!("{c}: "))
                .unwrap_or_default();
            ConnectorError::Unauthorized(format!("{what}: {code}{message}"))
        } else {
            ConnectorError::Protocol(format!("{what}: HTTP {status}: {message}"))
        }
    }
}

/// The collection of posts.
const POST_COLLECTION: &str = "app.bsky.feed.post";

/// The most graphemes `app.bsky.feed.post` allows in `text`.
pub const MAX_POST_GRAPHEMES: usize = 300;
/// The most UTF-8 bytes `app.bsky.feed.post` allows in `text` (the lexicon's `maxLength`).
const MAX_POST_BYTES: usize = 3000;

/// Whether `text` fits in one Bluesky post (300 graphemes, 3000 bytes); else why not.
pub fn check_post_text(text: &str) -> Result<(), String> {
    let graphemes = text.graphemes(true).count();
    if graphemes > MAX_POST_GRAPHEMES {
        return Err(format!(
            "a Bluesky post holds at most {MAX_POST_GRAPHEMES} characters; this one has {graphemes}"
        ));
    }
    if text.len() > MAX_POST_BYTES {
        return Err(format!(
            "a Bluesky post holds at most {MAX_POST_BYTES} bytes of text; this one has {}",
            text.len()
        ));
    }
    Ok(())
}

/// A post created by [`BlueskyClient::post_reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedRecord {
    /// `at://{did}/app.bsky.feed.post/{rkey}`.
    pub uri: String,
    pub cid: String,
    /// Its page on bsky.app.
    pub url: Option<String>,
    /// True when an earlier attempt had already created it.
    pub already_posted: bool,
}

struct ParentRefs {
    uri: String,
    cid: String,
    root: (String, String),
    author_did: String,
    author_handle: String,
}

fn uri_and_cid(v: &Value, what: &str) -> Result<(String, String), ConnectorError> {
    let field = |name: &str| match v.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(ConnectorError::Protocol(format!("{what}: no `{name}`"))),
    };
    Ok((field("uri")?, field("cid")?))
}

/// `at://{authority}/app.bsky.feed.post/{rkey}` with nothing empty.
fn is_post_uri(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("at://") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').collect();
    matches!(parts.as_slice(), [authority, POST_COLLECTION, rkey] if !authority.is_empty() && !rkey.is_empty())
}

fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_string())
}

/// A mention facet for each `@handle` of the parent's author in `text` (byte offsets, as
/// the facet lexicon counts them); `None` when there is none.
fn mention_facets(text: &str, handle: &str, did: &str) -> Option<Value> {
    if handle.is_empty() || handle == "handle.invalid" || !did.starts_with("did:") {
        return None;
    }
    let needle = format!("@{handle}");
    let lower = text.to_ascii_lowercase();
    let needle = needle.to_ascii_lowercase();
    let handle_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut facets = Vec::new();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(&needle) {
        let start = from + pos;
        let end = start + needle.len();
        from = end;
        let before_ok = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !handle_char(c) && c != '@' && c != '.');
        let mut after = text[end..].chars();
        let after_ok = match after.next() {
            None => true,
            // `@a.bsky.social.` ends a sentence; `@a.bsky.social.uk` is another handle.
            Some('.') => !after.next().is_some_and(handle_char),
            Some(c) => !handle_char(c),
        };
        if before_ok && after_ok {
            facets.push(json!({
                "index": {"byteStart": start, "byteEnd": end},
                "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
            }));
        }
    }
    (!facets.is_empty()).then_some(Value::Array(facets))
}

/// The alphabet of TIDs ("base32-sortable").
const TID_ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// A TID (13 characters: 53 bits of microseconds since the epoch, 10 bits of clock id)
/// that depends on `key` alone, so that every attempt at one reply uses one record key.
///
/// A UUIDv7 key (the reply ids of Switchboard) gives the TID its own millisecond, so the
/// key reads like a post's creation time as Bluesky's own TIDs do; microseconds and clock
/// id come from a SHA-256 of the key. Any other key takes its time from the hash too, within
/// 2023 and early 2024, never in the future.
pub fn tid_for_key(key: &str) -> String {
    let hash = Sha256::digest(key.as_bytes());
    let mut word = [0u8; 8];
    word.copy_from_slice(&hash[..8]);
    let h = u64::from_be_bytes(word);
    const Y2023_MICROS: u64 = 1_672_531_200_000_000;
    let micros = match uuid_v7_millis(key) {
        Some(ms) => ms * 1000 + (h >> 10) % 1000,
        None => Y2023_MICROS + (h >> 10) % (1 << 45),
    };
    let clock_id = h & 0x3ff;
    let value = ((micros & ((1 << 53) - 1)) << 10) | clock_id;
    (0..13)
        .map(|i| TID_ALPHABET[((value >> (60 - 5 * i)) & 31) as usize] as char)
        .collect()
}

/// The 48-bit Unix milliseconds of a hyphenated UUIDv7 (RFC 9562).
fn uuid_v7_millis(key: &str) -> Option<u64> {
    let hex: String = key.trim().chars().filter(|c| *c != '-').collect();
    if key.trim().len() != 36 || hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    if &hex[12..13] != "7" {
        return None;
    }
    u64::from_str_radix(&hex[..12], 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tid_micros(tid: &str) -> u64 {
        let value = tid.bytes().fold(0u64, |acc, b| {
            let digit = TID_ALPHABET.iter().position(|a| *a == b).unwrap() as u64;
            (acc << 5) | digit
        });
        value >> 10
    }

    #[test]
    fn tids_are_valid_stable_and_distinct() {
        let key = "01936b2e-7f3c-7a11-9c3e-4d5e6f708192";
        let tid = tid_for_key(key);
        assert_eq!(tid.len(), 13);
        assert!("234567abcdefghij".contains(&tid[..1]), "{tid}");
        assert!(tid.bytes().all(|b| TID_ALPHABET.contains(&b)), "{tid}");
        assert_eq!(tid, tid_for_key(key), "deterministic");
        assert_ne!(tid, tid_for_key("01936b2e-7f3c-7a11-9c3e-4d5e6f708193"));
        // The UUIDv7's millisecond is the TID's.
        assert_eq!(tid_micros(&tid) / 1000, 0x01936b2e7f3c);
        // Any other key: a valid TID in the past.
        let other = tid_for_key("k1");
        assert_eq!(other.len(), 13);
        let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64 * 1_000_000;
        assert!(tid_micros(&other) < now);
        assert_ne!(other, tid_for_key("k2"));
    }

    #[test]
    fn graphemes_not_chars_are_counted() {
        // A thumb with a skin tone is two code points, 8 bytes; e + U+0301 two code points.
        assert!(check_post_text(&"👍🏽".repeat(300)).is_ok());
        assert!(check_post_text(&"e\u{301}".repeat(300)).is_ok());
        let err = check_post_text(&"a".repeat(301)).unwrap_err();
        assert!(err.contains("300") && err.contains("301"), "{err}");
        // 300 graphemes of 18 bytes each: over the 3000-byte limit.
        let family = "👩\u{200d}👩\u{200d}👧";
        let err = check_post_text(&family.repeat(300)).unwrap_err();
        assert!(err.contains("bytes"), "{err}");
    }

    #[test]
    fn mentions_of_the_parent_author_become_facets() {
        let f = mention_facets(
            "@Erin.bsky.social thanks! cc @erin.bsky.social.",
            "erin.bsky.social",
            "did:plc:erin",
        )
        .unwrap();
        assert_eq!(f.as_array().unwrap().len(), 2);
        assert_eq!(f[0]["index"], json!({"byteStart": 0, "byteEnd": 17}));
        assert_eq!(f[1]["features"][0]["did"], "did:plc:erin");
        assert!(mention_facets(
            "@erin.bsky.social.uk hi",
            "erin.bsky.social",
            "did:plc:erin"
        )
        .is_none());
        assert!(mention_facets(
            "mail x@erin.bsky.social",
            "erin.bsky.social",
            "did:plc:erin"
        )
        .is_none());
    }

    #[test]
    fn post_uris() {
        assert!(is_post_uri("at://did:plc:erin/app.bsky.feed.post/3kabc"));
        assert!(!is_post_uri("at://did:plc:erin/app.bsky.feed.like/3kabc"));
        assert!(!is_post_uri("https://bsky.app/profile/erin/post/3kabc"));
        assert!(!is_post_uri("at://did:plc:erin/app.bsky.feed.post/"));
    }
}
