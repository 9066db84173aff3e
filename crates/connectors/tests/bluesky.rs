//! BlueskyClient against a local axum server implementing the documented XRPC endpoints with
//! state: createSession / refreshSession (tokens issued, expired, revoked), searchPosts and
//! listNotifications (newest first, opaque `cursor` leading to older entries), rate limits, and
//! the calls of a reply: getPosts, createRecord (a taken record key is refused as the
//! reference PDS does) and getRecord.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use switchboard_connectors::{
    BlueskyClient, BlueskyFeed, ConnectorError, Cursor, RetryPolicy, SessionTokens,
};
use switchboard_core::ItemKind;

const HANDLE: &str = "acme.bsky.social";
const DID: &str = "did:plc:acme";

#[derive(Default)]
struct Mock {
    password: String,
    issued: u32,
    access_valid: HashSet<String>,
    access_expired: HashSet<String>,
    refresh_valid: HashSet<String>,
    /// PostViews, in the order they were indexed (oldest first).
    posts: Vec<Value>,
    /// Notifications, oldest first.
    notifications: Vec<Value>,
    /// Answer queries with 429 and `ratelimit-reset` this many seconds ahead...
    too_many: Option<u64>,
    /// ... after letting this many queries through.
    pass_before_429: u32,
    /// Send `ratelimit-remaining: 0` on queries.
    remaining_zero: bool,
    fail_5xx: u32,
    /// Path and query of every request.
    requests: Vec<String>,
    /// Records of the account's repo (app.bsky.feed.post), in creation order.
    repo: Vec<Created>,
    /// How createRecord refuses a taken record key: the reference PDS answers 500
    /// `InternalServerError` (bluesky-social/atproto#3718); an explicit 400 is proposed.
    duplicate_as_400: bool,
    /// Create this many records, then answer 502 as if the response had been lost.
    lose_created_responses: u32,
}

#[derive(Clone)]
struct Created {
    rkey: String,
    cid: String,
    record: Value,
}

impl Created {
    fn uri(&self) -> String {
        format!("at://{DID}/app.bsky.feed.post/{}", self.rkey)
    }
}

type S = Arc<Mutex<Mock>>;

fn xrpc_error(status: StatusCode, error: &str, message: &str) -> Response {
    (status, Json(json!({"error": error, "message": message}))).into_response()
}

impl Mock {
    fn issue(&mut self) -> Value {
        self.issued += 1;
        let access = format!("access-{}", self.issued);
        let refresh = format!("refresh-{}", self.issued);
        self.access_valid.insert(access.clone());
        self.refresh_valid.insert(refresh.clone());
        json!({"accessJwt": access, "refreshJwt": refresh, "handle": HANDLE, "did": DID, "active": true})
    }

    /// Every access token issued so far expires (as after two hours).
    fn expire_access(&mut self) {
        let valid = std::mem::take(&mut self.access_valid);
        self.access_expired.extend(valid);
    }

    fn bearer(headers: &HeaderMap) -> String {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("")
            .to_string()
    }

    fn gate(&mut self, headers: &HeaderMap, uri: &Uri) -> Option<Response> {
        self.requests.push(
            uri.path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
        );
        if self.fail_5xx > 0 {
            self.fail_5xx -= 1;
            return Some(xrpc_error(
                StatusCode::BAD_GATEWAY,
                "UpstreamFailure",
                "upstream",
            ));
        }
        if self.too_many.is_some() && self.pass_before_429 > 0 {
            self.pass_before_429 -= 1;
        } else if let Some(secs) = self.too_many {
            let reset = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + secs;
            let mut r = xrpc_error(
                StatusCode::TOO_MANY_REQUESTS,
                "RateLimitExceeded",
                "Rate Limit Exceeded",
            );
            let h = r.headers_mut();
            h.insert("ratelimit-limit", "3000".parse().unwrap());
            h.insert("ratelimit-remaining", "0".parse().unwrap());
            h.insert("ratelimit-reset", reset.to_string().parse().unwrap());
            return Some(r);
        }
        let token = Self::bearer(headers);
        if self.access_valid.contains(&token) {
            None
        } else if self.access_expired.contains(&token) {
            Some(xrpc_error(
                StatusCode::BAD_REQUEST,
                "ExpiredToken",
                "Token has expired",
            ))
        } else {
            Some(xrpc_error(
                StatusCode::UNAUTHORIZED,
                "AuthenticationRequired",
                "Authentication Required",
            ))
        }
    }

    fn respond(&self, body: Value) -> Response {
        let mut r = Json(body).into_response();
        let reset = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 300;
        let h = r.headers_mut();
        h.insert("ratelimit-limit", "3000".parse().unwrap());
        let remaining = if self.remaining_zero { "0" } else { "2999" };
        h.insert("ratelimit-remaining", remaining.parse().unwrap());
        h.insert("ratelimit-reset", reset.to_string().parse().unwrap());
        h.insert("ratelimit-policy", "3000;w=300".parse().unwrap());
        r
    }
}

async fn create_session(State(s): State<S>, uri: Uri, Json(body): Json<Value>) -> Response {
    let mut m = s.lock().unwrap();
    m.requests.push(uri.path().to_string());
    let id_ok = body["identifier"] == HANDLE || body["identifier"] == DID;
    if !id_ok || body["password"] != m.password.as_str() {
        return xrpc_error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationRequired",
            "Invalid identifier or password",
        );
    }
    let tokens = m.issue();
    Json(tokens).into_response()
}

async fn refresh_session(State(s): State<S>, headers: HeaderMap, uri: Uri) -> Response {
    let mut m = s.lock().unwrap();
    m.requests.push(uri.path().to_string());
    let token = Mock::bearer(&headers);
    if !m.refresh_valid.remove(&token) {
        return xrpc_error(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "Token has been revoked",
        );
    }
    let tokens = m.issue();
    Json(tokens).into_response()
}

/// Newest first; `cursor` is an opaque offset into that order; `limit` 1–100 (default 25).
fn listing(all: &[Value], q: &HashMap<String, String>) -> (Vec<Value>, Option<String>) {
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let offset: usize = q
        .get("cursor")
        .map(|c| c.strip_prefix("off:").unwrap().parse().unwrap())
        .unwrap_or(0);
    let newest_first: Vec<&Value> = all.iter().rev().collect();
    let page: Vec<Value> = newest_first
        .iter()
        .skip(offset)
        .take(limit)
        .map(|v| (*v).clone())
        .collect();
    let end = offset + page.len();
    let cursor = (end < newest_first.len()).then(|| format!("off:{end}"));
    (page, cursor)
}

async fn search_posts(
    State(s): State<S>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(r) = m.gate(&headers, &uri) {
        return r;
    }
    let Some(needle) = q.get("q").map(|s| s.to_lowercase()) else {
        return xrpc_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Params must have the property \"q\"",
        );
    };
    let matching: Vec<Value> = m
        .posts
        .iter()
        .filter(|p| {
            p["record"]["text"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains(&needle)
        })
        .cloned()
        .collect();
    let (posts, cursor) = listing(&matching, &q);
    let mut body = json!({"posts": posts, "hitsTotal": matching.len()});
    if let Some(c) = cursor {
        body["cursor"] = json!(c);
    }
    m.respond(body)
}

async fn list_notifications(
    State(s): State<S>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(r) = m.gate(&headers, &uri) {
        return r;
    }
    let (notifications, cursor) = listing(&m.notifications, &q);
    let mut body = json!({"notifications": notifications, "seenAt": null});
    if let Some(c) = cursor {
        body["cursor"] = json!(c);
    }
    m.respond(body)
}

async fn get_posts(
    State(s): State<S>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(r) = m.gate(&headers, &uri) {
        return r;
    }
    let uris: Vec<&String> = q
        .iter()
        .filter(|(k, _)| k == "uris")
        .map(|(_, v)| v)
        .collect();
    if uris.is_empty() || uris.len() > 25 {
        return xrpc_error(StatusCode::BAD_REQUEST, "InvalidRequest", "uris: 1 to 25");
    }
    // Unknown (deleted) posts are left out, as the AppView does.
    let mut posts = Vec::new();
    for u in uris {
        if let Some(p) = m.posts.iter().find(|p| p["uri"] == u.as_str()) {
            posts.push(p.clone());
        } else if let Some(c) = m.repo.iter().find(|c| c.uri() == *u) {
            posts.push(json!({"uri": c.uri(), "cid": c.cid, "author": {"did": DID, "handle": HANDLE},
                              "record": c.record, "indexedAt": c.record["createdAt"], "labels": []}));
        }
    }
    m.respond(json!({"posts": posts}))
}

fn is_tid(s: &str) -> bool {
    const ALPHABET: &str = "234567abcdefghijklmnopqrstuvwxyz";
    s.len() == 13 && "234567abcdefghij".contains(&s[..1]) && s.chars().all(|c| ALPHABET.contains(c))
}

async fn create_record(
    State(s): State<S>,
    headers: HeaderMap,
    uri: Uri,
    Json(body): Json<Value>,
) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(r) = m.gate(&headers, &uri) {
        return r;
    }
    if body["repo"] != DID && body["repo"] != HANDLE {
        return xrpc_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Could not find repo",
        );
    }
    if body["collection"] != "app.bsky.feed.post" {
        return xrpc_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "unexpected collection",
        );
    }
    let record = body["record"].clone();
    let text = record["text"].as_str().unwrap_or("");
    let valid = record["$type"] == "app.bsky.feed.post"
        && record["createdAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
        && text.len() <= 3000
        && ["root", "parent"].iter().all(|r| {
            let reply = &record["reply"];
            reply.is_null() || (reply[r]["uri"].is_string() && reply[r]["cid"].is_string())
        });
    if !valid {
        return xrpc_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Invalid app.bsky.feed.post record",
        );
    }
    let rkey = match body["rkey"].as_str() {
        Some(k) if is_tid(k) => k.to_string(),
        Some(_) => {
            return xrpc_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "Invalid record key: posts take a TID",
            )
        }
        None => format!("3kauto{:07}", m.repo.len()),
    };
    if m.repo.iter().any(|c| c.rkey == rkey) {
        return if m.duplicate_as_400 {
            xrpc_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "Record already exists",
            )
        } else {
            xrpc_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Internal Server Error",
            )
        };
    }
    let created = Created {
        cid: format!("bafyreply{}", m.repo.len() + 1),
        rkey,
        record,
    };
    m.repo.push(created.clone());
    if m.lose_created_responses > 0 {
        m.lose_created_responses -= 1;
        return xrpc_error(StatusCode::BAD_GATEWAY, "UpstreamFailure", "lost");
    }
    m.respond(json!({"uri": created.uri(), "cid": created.cid,
                     "commit": {"cid": "bafycommit", "rev": "3kcommit"}, "validationStatus": "valid"}))
}

async fn get_record(
    State(s): State<S>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(r) = m.gate(&headers, &uri) {
        return r;
    }
    let (repo, collection, rkey) = (
        q.get("repo").map(String::as_str).unwrap_or(""),
        q.get("collection").map(String::as_str).unwrap_or(""),
        q.get("rkey").map(String::as_str).unwrap_or(""),
    );
    let found = m.repo.iter().find(|c| {
        (repo == DID || repo == HANDLE) && collection == "app.bsky.feed.post" && c.rkey == rkey
    });
    match found {
        Some(c) => m.respond(json!({"uri": c.uri(), "cid": c.cid, "value": c.record})),
        // As the reference PDS answers.
        None => xrpc_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            &format!("Could not locate record: at://{repo}/{collection}/{rkey}"),
        ),
    }
}

async fn start(mock: Mock) -> (String, S) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(Mutex::new(Mock {
        password: "app-pass-1234".into(),
        ..mock
    }));
    let app = Router::new()
        .route(
            "/xrpc/com.atproto.server.createSession",
            axum::routing::post(create_session),
        )
        .route(
            "/xrpc/com.atproto.server.refreshSession",
            axum::routing::post(refresh_session),
        )
        .route("/xrpc/app.bsky.feed.searchPosts", get(search_posts))
        .route(
            "/xrpc/app.bsky.notification.listNotifications",
            get(list_notifications),
        )
        .route("/xrpc/app.bsky.feed.getPosts", get(get_posts))
        .route(
            "/xrpc/com.atproto.repo.createRecord",
            axum::routing::post(create_record),
        )
        .route("/xrpc/com.atproto.repo.getRecord", get(get_record))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, state)
}

fn author(name: &str) -> Value {
    json!({"did": format!("did:plc:{name}"), "handle": format!("{name}.bsky.social"),
           "displayName": name.to_uppercase()})
}

fn record(text: &str, reply_to: Option<&str>) -> Value {
    let mut r = json!({"$type": "app.bsky.feed.post", "text": text,
                       "createdAt": "2024-11-01T09:15:30.123Z", "langs": ["en"]});
    if let Some(parent) = reply_to {
        r["reply"] = json!({"parent": {"uri": parent, "cid": "bafyparent"},
                            "root": {"uri": parent, "cid": "bafyparent"}});
    }
    r
}

fn post(n: u32, text: &str, indexed_at: &str) -> Value {
    json!({
        "uri": format!("at://did:plc:erin/app.bsky.feed.post/p{n}"),
        "cid": format!("bafy{n}"),
        "author": author("erin"),
        "record": record(text, None),
        "replyCount": 0, "repostCount": 1, "likeCount": 2, "quoteCount": 0,
        "indexedAt": indexed_at,
        "labels": []
    })
}

fn notification(
    n: u32,
    reason: &str,
    text: Option<&str>,
    reply_to: Option<&str>,
    at: &str,
) -> Value {
    let mut v = json!({
        "uri": format!("at://did:plc:frank/app.bsky.feed.post/n{n}"),
        "cid": format!("bafyn{n}"),
        "author": author("frank"),
        "reason": reason,
        "record": {},
        "isRead": false,
        "indexedAt": at,
        "labels": []
    });
    match text {
        Some(t) => v["record"] = record(t, reply_to),
        None => {
            v["uri"] = json!(format!("at://did:plc:frank/app.bsky.feed.{reason}/n{n}"));
            v["record"] = json!({"$type": format!("app.bsky.feed.{reason}"), "createdAt": at});
            if reason == "like" {
                v["reasonSubject"] = json!("at://did:plc:acme/app.bsky.feed.post/mine");
            }
        }
    }
    v
}

fn at(sec: u32) -> String {
    format!("2024-11-01T10:00:{sec:02}.000Z")
}

fn client(base: &str, password: &str) -> BlueskyClient {
    BlueskyClient::new(base, HANDLE, password, reqwest::Client::new()).with_retry_policy(
        RetryPolicy {
            base_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        },
    )
}

fn roundtrip(c: &Cursor) -> Cursor {
    serde_json::from_str(&serde_json::to_string(c).unwrap()).unwrap()
}

fn count(state: &S, path: &str) -> usize {
    state
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.starts_with(path))
        .count()
}

#[tokio::test]
async fn creates_a_session_then_searches() {
    let (base, state) = start(Mock {
        posts: vec![
            post(1, "Acme is great", &at(1)),
            post(2, "unrelated", &at(2)),
            post(3, "acme support?", &at(3)),
        ],
        ..Mock::default()
    })
    .await;
    let c = client(&base, "app-pass-1234");
    assert!(c.session().is_none());
    let feed = BlueskyFeed::Search("acme".into());
    let r = c.poll(&feed, &Cursor::default()).await.unwrap();
    let texts: Vec<_> = r.items.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(texts, ["acme support?", "Acme is great"]);
    let item = &r.items[0];
    assert_eq!(item.external_id, "at://did:plc:erin/app.bsky.feed.post/p3");
    assert_eq!(item.author.handle, "erin.bsky.social");
    assert_eq!(item.author.id, "did:plc:erin");
    assert_eq!(item.metrics.likes, 2);
    let session = c.session().expect("session kept");
    assert_eq!(session.did, DID);
    assert_eq!(session.access_jwt, "access-1");
    assert!(
        !format!("{session:?}").contains("access-1"),
        "tokens not in Debug"
    );
    let requests = state.lock().unwrap().requests.clone();
    assert_eq!(requests[0], "/xrpc/com.atproto.server.createSession");
    assert_eq!(
        requests[1],
        "/xrpc/app.bsky.feed.searchPosts?q=acme&sort=latest&limit=50"
    );
    // A second poll reuses the session.
    c.poll(&feed, &r.cursor).await.unwrap();
    assert_eq!(count(&state, "/xrpc/com.atproto.server.createSession"), 1);
}

#[tokio::test]
async fn expired_access_token_is_refreshed_and_the_request_retried() {
    let (base, state) = start(Mock {
        posts: vec![post(1, "acme one", &at(1))],
        ..Mock::default()
    })
    .await;
    let c = client(&base, "app-pass-1234");
    let feed = BlueskyFeed::Search("acme".into());
    let first = c.poll(&feed, &Cursor::default()).await.unwrap();
    let stored = c.session().unwrap();

    state.lock().unwrap().expire_access();
    state
        .lock()
        .unwrap()
        .posts
        .push(post(2, "acme two", &at(2)));
    // A client restored from the stored (sealed) session, as after a restart.
    let restored = client(&base, "app-pass-1234").with_session(stored.clone());
    let r = restored.poll(&feed, &first.cursor).await.unwrap();
    assert_eq!(r.items.len(), 1);
    assert_eq!(r.items[0].text, "acme two");
    assert_eq!(count(&state, "/xrpc/com.atproto.server.refreshSession"), 1);
    assert_eq!(
        count(&state, "/xrpc/com.atproto.server.createSession"),
        1,
        "no new login"
    );
    let renewed = restored.session().unwrap();
    assert_ne!(renewed.access_jwt, stored.access_jwt);
    assert_ne!(renewed.refresh_jwt, stored.refresh_jwt);

    // Refresh token revoked too: the app password logs in again.
    {
        let mut m = state.lock().unwrap();
        m.expire_access();
        m.refresh_valid.clear();
    }
    restored.poll(&feed, &r.cursor).await.unwrap();
    assert_eq!(count(&state, "/xrpc/com.atproto.server.createSession"), 2);

    // ... and once the app password is revoked, the channel needs reconnecting.
    {
        let mut m = state.lock().unwrap();
        m.expire_access();
        m.refresh_valid.clear();
        m.password = "revoked".into();
    }
    let err = restored.poll(&feed, &r.cursor).await.unwrap_err();
    assert!(err.needs_reconnect(), "{err:?}");
}

#[tokio::test]
async fn wrong_app_password_needs_reconnect() {
    let (base, state) = start(Mock::default()).await;
    let c = client(&base, "wrong-password");
    let err = c
        .poll(&BlueskyFeed::Notifications, &Cursor::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unauthorized(ref m) if m.contains("Invalid identifier or password")),
        "{err:?}"
    );
    assert!(err.needs_reconnect());
    assert!(c.session().is_none());
    assert_eq!(
        state.lock().unwrap().requests.len(),
        1,
        "no retry of a refusal"
    );
    let err = c.login().await.unwrap_err();
    assert!(err.needs_reconnect());

    // A made-up session is refused, refresh is refused, login is refused: Unauthorized.
    let bogus = SessionTokens {
        access_jwt: "nope".into(),
        refresh_jwt: "nope".into(),
        did: DID.into(),
        handle: HANDLE.into(),
    };
    let err = client(&base, "wrong-password")
        .with_session(bogus)
        .poll(&BlueskyFeed::Notifications, &Cursor::default())
        .await
        .unwrap_err();
    assert!(err.needs_reconnect(), "{err:?}");
}

#[tokio::test]
async fn notifications_mentions_replies_and_quotes_become_items() {
    let mine = "at://did:plc:acme/app.bsky.feed.post/mine";
    let (base, _state) = start(Mock {
        notifications: vec![
            notification(1, "follow", None, None, &at(1)),
            notification(
                2,
                "mention",
                Some("hey @acme.bsky.social help"),
                None,
                &at(2),
            ),
            notification(3, "like", None, None, &at(3)),
            notification(4, "reply", Some("same problem here"), Some(mine), &at(4)),
            notification(5, "repost", None, None, &at(5)),
            notification(6, "quote", Some("look at this"), None, &at(6)),
        ],
        ..Mock::default()
    })
    .await;
    let c = client(&base, "app-pass-1234");
    let r = c
        .poll(&BlueskyFeed::Notifications, &Cursor::default())
        .await
        .unwrap();
    assert_eq!(r.skipped, 3, "follow, like and repost skipped");
    assert_eq!(r.items.len(), 3);
    let by_text: HashMap<&str, _> = r.items.iter().map(|i| (i.text.as_str(), i)).collect();
    let mention = by_text["hey @acme.bsky.social help"];
    assert_eq!(mention.kind, ItemKind::Mention);
    assert_eq!(mention.author.handle, "frank.bsky.social");
    assert_eq!(mention.author.display_name, "FRANK");
    assert_eq!(
        mention.external_id,
        "at://did:plc:frank/app.bsky.feed.post/n2"
    );
    assert_eq!(mention.mentions, ["acme.bsky.social"]);
    assert_eq!(mention.raw.as_ref().unwrap()["reason"], "mention");
    let reply = by_text["same problem here"];
    assert_eq!(reply.kind, ItemKind::Reply);
    assert_eq!(reply.parent_id.as_deref(), Some(mine));
    assert_eq!(reply.root_id.as_deref(), Some(mine));
    assert_eq!(by_text["look at this"].kind, ItemKind::Mention);
    let state = &r.cursor.bluesky["notifications"];
    assert_eq!(state.seen_until.as_deref(), Some(at(6).as_str()));
}

#[tokio::test]
async fn search_cursor_returns_only_new_posts() {
    let (base, state) = start(Mock {
        posts: vec![
            post(1, "acme a", &at(1)),
            post(2, "acme b", &at(2)),
            post(3, "acme c", &at(3)),
        ],
        ..Mock::default()
    })
    .await;
    let c = client(&base, "app-pass-1234").with_page_limit(2);
    let feed = BlueskyFeed::Search("acme".into());
    // First poll: the newest page only.
    let first = c.poll(&feed, &Cursor::default()).await.unwrap();
    let texts: Vec<_> = first.items.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(texts, ["acme c", "acme b"]);

    // Three new posts, one indexed at the same instant as the newest seen.
    {
        let mut m = state.lock().unwrap();
        m.posts.push(post(4, "acme d", &at(3)));
        m.posts.push(post(5, "acme e", &at(4)));
        m.posts.push(post(6, "acme f", &at(5)));
        m.requests.clear();
    }
    let second = c.poll(&feed, &roundtrip(&first.cursor)).await.unwrap();
    let texts: Vec<_> = second.items.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(texts, ["acme f", "acme e", "acme d"]);
    assert_eq!(
        state.lock().unwrap().requests,
        [
            "/xrpc/app.bsky.feed.searchPosts?q=acme&sort=latest&limit=2",
            "/xrpc/app.bsky.feed.searchPosts?q=acme&sort=latest&limit=2&cursor=off%3A2",
            // p3 (seen, at the frontier instant) ends page 2; page 3 starts older: stop.
            "/xrpc/app.bsky.feed.searchPosts?q=acme&sort=latest&limit=2&cursor=off%3A4",
        ],
        "stops paging at the stored frontier"
    );
    let s = &second.cursor.bluesky["search:acme"];
    assert_eq!(s.seen_until.as_deref(), Some(at(5).as_str()));
    assert_eq!(s.resume, None);

    let third = c.poll(&feed, &second.cursor).await.unwrap();
    assert!(third.items.is_empty());
    assert_eq!(third.cursor, second.cursor);
}

#[tokio::test]
async fn interrupted_walk_resumes_on_the_next_poll() {
    let (base, state) = start(Mock {
        posts: vec![post(1, "acme a", &at(1))],
        ..Mock::default()
    })
    .await;
    let c = client(&base, "app-pass-1234")
        .with_page_limit(2)
        .with_retry_policy(RetryPolicy {
            max_pages: 1,
            base_delay: Duration::from_millis(5),
            ..RetryPolicy::default()
        });
    let feed = BlueskyFeed::Search("acme".into());
    let first = c.poll(&feed, &Cursor::default()).await.unwrap();
    assert_eq!(first.items.len(), 1);
    state
        .lock()
        .unwrap()
        .posts
        .extend((2..=6).map(|n| post(n, &format!("acme {n}"), &at(n))));
    let texts = |r: &switchboard_connectors::PollResult| -> Vec<String> {
        r.items.iter().map(|i| i.text.clone()).collect()
    };
    let r1 = c.poll(&feed, &first.cursor).await.unwrap();
    assert_eq!(texts(&r1), ["acme 6", "acme 5"]);
    let s = &r1.cursor.bluesky["search:acme"];
    assert_eq!(
        s.seen_until.as_deref(),
        Some(at(1).as_str()),
        "frontier kept until caught up"
    );
    assert!(s.resume.is_some());
    let r2 = c.poll(&feed, &roundtrip(&r1.cursor)).await.unwrap();
    assert_eq!(texts(&r2), ["acme 4", "acme 3"]);
    let r3 = c.poll(&feed, &r2.cursor).await.unwrap();
    assert_eq!(texts(&r3), ["acme 2"]);
    let s = &r3.cursor.bluesky["search:acme"];
    assert_eq!(s.seen_until.as_deref(), Some(at(6).as_str()));
    assert_eq!(s.resume, None);
    let r4 = c.poll(&feed, &r3.cursor).await.unwrap();
    assert!(r4.items.is_empty());
}

#[tokio::test]
async fn rate_limits_and_server_errors() {
    let (base, state) = start(Mock {
        posts: (1..=5)
            .map(|n| post(n, &format!("acme {n}"), &at(n)))
            .collect(),
        ..Mock::default()
    })
    .await;
    let c = client(&base, "app-pass-1234").with_page_limit(2);
    let feed = BlueskyFeed::Search("acme".into());
    let first = c.poll(&feed, &Cursor::default()).await.unwrap();

    // 429 with ratelimit-reset 90 s ahead.
    state.lock().unwrap().too_many = Some(90);
    let err = c.poll(&feed, &first.cursor).await.unwrap_err();
    let ConnectorError::RateLimited { retry_after } = err else {
        panic!("{err:?}")
    };
    assert!(
        retry_after > Duration::from_secs(85) && retry_after <= Duration::from_secs(90),
        "{retry_after:?}"
    );

    // ratelimit-remaining: 0 on a success: items kept, paging stopped, wait reported.
    {
        let mut m = state.lock().unwrap();
        m.too_many = None;
        m.remaining_zero = true;
        m.posts
            .extend((6..=9).map(|n| post(n, &format!("acme {n}"), &at(n))));
        m.requests.clear();
    }
    let r = c.poll(&feed, &first.cursor).await.unwrap();
    assert_eq!(r.items.len(), 2);
    assert_eq!(state.lock().unwrap().requests.len(), 1);
    let wait = r.retry_after.expect("retry_after");
    assert!(
        wait > Duration::from_secs(290) && wait <= Duration::from_secs(300),
        "{wait:?}"
    );

    // Two 502s, then the rest of the walk.
    {
        let mut m = state.lock().unwrap();
        m.remaining_zero = false;
        m.fail_5xx = 2;
    }
    let r = c.poll(&feed, &r.cursor).await.unwrap();
    let texts: Vec<_> = r.items.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(texts, ["acme 7", "acme 6"]);
    assert_eq!(r.retry_after, None);
    let s = &r.cursor.bluesky["search:acme"];
    assert_eq!(s.seen_until.as_deref(), Some(at(9).as_str()));

    state.lock().unwrap().fail_5xx = 10;
    let err = c.poll(&feed, &r.cursor).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn rate_limited_mid_walk_resumes_later() {
    let (base, state) = start(Mock {
        posts: vec![post(1, "acme 1", &at(1))],
        ..Mock::default()
    })
    .await;
    let c = client(&base, "app-pass-1234").with_page_limit(2);
    let feed = BlueskyFeed::Search("acme".into());
    let first = c.poll(&feed, &Cursor::default()).await.unwrap();
    {
        let mut m = state.lock().unwrap();
        m.posts
            .extend((2..=6).map(|n| post(n, &format!("acme {n}"), &at(n))));
        m.pass_before_429 = 1;
        m.too_many = Some(60);
    }
    let r = c.poll(&feed, &first.cursor).await.unwrap();
    let texts: Vec<_> = r.items.iter().map(|i| i.text.clone()).collect();
    assert_eq!(texts, ["acme 6", "acme 5"]);
    let wait = r.retry_after.expect("retry_after");
    assert!(
        wait > Duration::from_secs(55) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    let s = &r.cursor.bluesky["search:acme"];
    assert_eq!(s.resume.as_ref().map(|r| r.cursor.as_str()), Some("off:2"));
    assert_eq!(s.seen_until.as_deref(), Some(at(1).as_str()));

    state.lock().unwrap().too_many = None;
    let r = c.poll(&feed, &roundtrip(&r.cursor)).await.unwrap();
    let texts: Vec<_> = r.items.iter().map(|i| i.text.clone()).collect();
    assert_eq!(texts, ["acme 4", "acme 3", "acme 2"]);
    let s = &r.cursor.bluesky["search:acme"];
    assert_eq!(s.seen_until.as_deref(), Some(at(6).as_str()));
    assert_eq!(s.resume, None);
}

// ------------------------------------------------------------------------------ replies

/// A post by erin replying to `parent`, in the thread of `root` (as the AppView shows it).
fn reply_post(n: u32, text: &str, parent: (&str, &str), root: (&str, &str)) -> Value {
    let mut p = post(n, text, &at(n));
    p["record"]["reply"] = json!({"parent": {"uri": parent.0, "cid": parent.1},
                                  "root": {"uri": root.0, "cid": root.1}});
    p
}

fn erin(n: u32) -> String {
    format!("at://did:plc:erin/app.bsky.feed.post/p{n}")
}

const REPLY_KEY: &str = "01936b2e-7f3c-7a11-9c3e-4d5e6f708192";

#[tokio::test]
async fn a_reply_to_a_reply_carries_the_thread_root_and_the_parent() {
    let (base, state) = start(Mock {
        posts: vec![
            post(1, "acme app crashes", &at(1)),
            reply_post(
                2,
                "still crashing",
                (&erin(1), "bafy1"),
                (&erin(1), "bafy1"),
            ),
            reply_post(3, "and again", (&erin(2), "bafy2"), (&erin(1), "bafy1")),
        ],
        ..Mock::default()
    })
    .await;
    let c = client(&base, "app-pass-1234");
    let text = "@erin.bsky.social sorry about that, a fix ships today";
    let posted = c.post_reply(&erin(3), text, REPLY_KEY).await.unwrap();

    let rkey = posted.uri.rsplit('/').next().unwrap().to_string();
    assert!(is_tid(&rkey), "{rkey}");
    assert_eq!(posted.uri, format!("at://{DID}/app.bsky.feed.post/{rkey}"));
    assert_eq!(posted.cid, "bafyreply1");
    assert_eq!(
        posted.url.as_deref(),
        Some(format!("https://bsky.app/profile/{DID}/post/{rkey}").as_str())
    );
    assert!(!posted.already_posted);
    {
        let m = state.lock().unwrap();
        assert_eq!(m.repo.len(), 1);
        let record = &m.repo[0].record;
        assert_eq!(record["text"], text);
        assert_eq!(record["$type"], "app.bsky.feed.post");
        assert_eq!(
            record["reply"],
            json!({"root": {"uri": erin(1), "cid": "bafy1"}, "parent": {"uri": erin(3), "cid": "bafy3"}})
        );
        assert_eq!(
            record["facets"],
            json!([{"index": {"byteStart": 0, "byteEnd": 17},
                    "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:erin"}]}])
        );
        let requests: Vec<&str> = m
            .requests
            .iter()
            .map(|r| r.split('?').next().unwrap())
            .collect();
        assert_eq!(
            requests,
            [
                "/xrpc/com.atproto.server.createSession",
                "/xrpc/app.bsky.feed.getPosts",
                "/xrpc/com.atproto.repo.createRecord",
            ]
        );
    }

    // Answering a top-level post: it is both root and parent.
    let top = c
        .post_reply(&erin(1), "we are on it", "another-key")
        .await
        .unwrap();
    let m = state.lock().unwrap();
    assert_ne!(top.uri, posted.uri);
    let record = &m.repo[1].record;
    assert_eq!(
        record["reply"],
        json!({"root": {"uri": erin(1), "cid": "bafy1"}, "parent": {"uri": erin(1), "cid": "bafy1"}})
    );
    assert!(record.get("facets").is_none());
}

#[tokio::test]
async fn the_same_reply_key_creates_one_record() {
    for duplicate_as_400 in [false, true] {
        let (base, state) = start(Mock {
            posts: vec![post(1, "acme?", &at(1))],
            duplicate_as_400,
            ..Mock::default()
        })
        .await;
        let c = client(&base, "app-pass-1234");
        let first = c.post_reply(&erin(1), "Hello", REPLY_KEY).await.unwrap();
        // Run again, as after a crash before the caller recorded the first answer.
        let again = client(&base, "app-pass-1234")
            .post_reply(&erin(1), "Hello", REPLY_KEY)
            .await
            .unwrap();
        assert_eq!((&again.uri, &again.cid), (&first.uri, &first.cid));
        assert!(again.already_posted);
        let m = state.lock().unwrap();
        assert_eq!(m.repo.len(), 1, "one post on the PDS");
        let rkey = first.uri.rsplit('/').next().unwrap();
        assert!(
            m.requests
                .iter()
                .any(|r| r.starts_with("/xrpc/com.atproto.repo.getRecord?") && r.ends_with(rkey)),
            "{:?}",
            m.requests
        );
    }

    // The PDS created the post but the answer was lost (502): the retry of the same request
    // finds the key taken, and the post already there is the result.
    let (base, state) = start(Mock {
        posts: vec![post(1, "acme?", &at(1))],
        lose_created_responses: 1,
        ..Mock::default()
    })
    .await;
    let posted = client(&base, "app-pass-1234")
        .post_reply(&erin(1), "Hello", REPLY_KEY)
        .await
        .unwrap();
    assert!(posted.already_posted);
    assert_eq!(state.lock().unwrap().repo.len(), 1);
}

#[tokio::test]
async fn reply_errors_map_like_polls() {
    let (base, state) = start(Mock {
        posts: vec![post(1, "acme?", &at(1))],
        ..Mock::default()
    })
    .await;
    let c = client(&base, "app-pass-1234");
    c.login().await.unwrap();

    state.lock().unwrap().too_many = Some(90);
    let err = c.post_reply(&erin(1), "Hello", "k-429").await.unwrap_err();
    let ConnectorError::RateLimited { retry_after } = err else {
        panic!("{err:?}")
    };
    assert!(retry_after > Duration::from_secs(85), "{retry_after:?}");

    // Rate limited on createRecord itself (getPosts let through).
    {
        let mut m = state.lock().unwrap();
        m.pass_before_429 = 1;
    }
    let err = c.post_reply(&erin(1), "Hello", "k-429").await.unwrap_err();
    assert!(matches!(err, ConnectorError::RateLimited { .. }), "{err:?}");

    {
        let mut m = state.lock().unwrap();
        m.too_many = None;
        m.fail_5xx = 100;
    }
    let err = c.post_reply(&erin(1), "Hello", "k-5xx").await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unavailable(_)), "{err:?}");

    // An expired access token is refreshed once and the reply goes out once.
    {
        let mut m = state.lock().unwrap();
        m.fail_5xx = 0;
        m.expire_access();
    }
    let posted = c.post_reply(&erin(1), "Hello", "k-ok").await.unwrap();
    assert!(!posted.already_posted);
    assert_eq!(count(&state, "/xrpc/com.atproto.server.refreshSession"), 1);
    assert_eq!(
        count(&state, "/xrpc/com.atproto.repo.createRecord"),
        2,
        "one 429, one post"
    );
    assert_eq!(state.lock().unwrap().repo.len(), 1);
    assert_eq!(
        c.session().unwrap().access_jwt,
        "access-2",
        "the rotated session"
    );

    // The answered post is gone.
    let err = c.post_reply(&erin(9), "Hello", "k-gone").await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Invalid(ref m) if m.contains("gone")),
        "{err:?}"
    );
    // ... but the retry of a reply that went out before the post was deleted is the reply.
    state.lock().unwrap().posts.clear();
    let again = c.post_reply(&erin(1), "Hello", "k-ok").await.unwrap();
    assert_eq!((&again.uri, again.already_posted), (&posted.uri, true));
    // A refused app password after a revoked session: reconnect.
    {
        let mut m = state.lock().unwrap();
        m.expire_access();
        m.refresh_valid.clear();
        m.password = "revoked".into();
    }
    let err = c.post_reply(&erin(1), "Hello", "k-auth").await.unwrap_err();
    assert!(err.needs_reconnect(), "{err:?}");
    assert_eq!(state.lock().unwrap().repo.len(), 1);
}

#[tokio::test]
async fn text_over_300_graphemes_is_refused_before_any_call() {
    let (base, state) = start(Mock {
        posts: vec![post(1, "acme?", &at(1))],
        ..Mock::default()
    })
    .await;
    let c = client(&base, "app-pass-1234");
    let err = c
        .post_reply(&erin(1), &"a".repeat(301), REPLY_KEY)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Invalid(ref m) if m.contains("300")),
        "{err:?}"
    );
    assert!(!err.needs_reconnect());
    let err = c
        .post_reply("https://bsky.app/profile/erin/post/p1", "hi", REPLY_KEY)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Invalid(_)), "{err:?}");
    assert!(state.lock().unwrap().requests.is_empty(), "nothing sent");

    // 300 graphemes of two code points each fit.
    let posted = c
        .post_reply(&erin(1), &"👍🏽".repeat(300), REPLY_KEY)
        .await
        .unwrap();
    assert!(!posted.already_posted);
}
