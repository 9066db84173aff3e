//! MastodonClient against a local axum server that implements the documented endpoints
//! (notifications, tag timeline, v2 search, verify_credentials, statuses) with state:
//! `min_id`/`max_id`/`limit` paging, `Link` headers, rate-limit headers, `Idempotency-Key`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use switchboard_connectors::{ConnectorError, Cursor, MastodonClient, MastodonFeed, RetryPolicy};
use switchboard_core::ItemKind;

const TOKEN: &str = "good-token";

#[derive(Default)]
struct Mock {
    base: String,
    notifications: Vec<Value>,
    tag_statuses: HashMap<String, Vec<Value>>,
    search_statuses: Vec<Value>,
    /// Answer this many requests with 503 (`u32::MAX`: always).
    fail_5xx: u32,
    /// Answer this many requests with 429 and this `Retry-After`...
    too_many: Option<(u32, String)>,
    /// ... after letting this many through.
    pass_before_429: u32,
    /// Send `X-RateLimit-Remaining: 0` with a reset 120 s ahead.
    remaining_zero: bool,
    /// Path and query of every request, in order.
    requests: Vec<String>,
    /// Idempotency-Key → id of the status created with it.
    idempotency: HashMap<String, String>,
    created: Vec<Value>,
    next_status_id: u64,
}

type S = Arc<Mutex<Mock>>;

impl Mock {
    /// Records the request and applies auth and the configured failures.
    fn gate(&mut self, headers: &HeaderMap, uri: &Uri) -> Option<Response> {
        self.requests.push(
            uri.path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
        );
        if self.fail_5xx > 0 {
            if self.fail_5xx != u32::MAX {
                self.fail_5xx -= 1;
            }
            return Some((StatusCode::SERVICE_UNAVAILABLE, "busy").into_response());
        }
        if let Some((n, retry_after)) = &mut self.too_many {
            if self.pass_before_429 > 0 {
                self.pass_before_429 -= 1;
            } else if *n > 0 {
                *n -= 1;
                let ra = retry_after.clone();
                return Some(
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", ra)],
                        Json(json!({"error": "Too many requests"})),
                    )
                        .into_response(),
                );
            }
        }
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if auth != format!("Bearer {TOKEN}") {
            return Some(
                (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"error": "The access token is invalid"})),
                )
                    .into_response(),
            );
        }
        None
    }

    fn respond(&self, body: Value, link: Option<String>) -> Response {
        let mut resp = Json(body).into_response();
        let h = resp.headers_mut();
        if let Some(link) = link {
            h.insert("link", link.parse().unwrap());
        }
        let reset = time::OffsetDateTime::now_utc() + Duration::from_secs(120);
        let reset = reset
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        h.insert("x-ratelimit-limit", "300".parse().unwrap());
        let remaining = if self.remaining_zero { "0" } else { "299" };
        h.insert("x-ratelimit-remaining", remaining.parse().unwrap());
        h.insert("x-ratelimit-reset", reset.parse().unwrap());
        resp
    }
}

fn num(v: &Value) -> u64 {
    v["id"].as_str().unwrap().parse().unwrap()
}

/// Mastodon's paging: `max_id`/`since_id` bound the range; `min_id` returns the entities
/// immediately newer than it; pages are newest first; `Link` has `next` (older) and `prev`
/// (newer) when the page is not empty.
fn page(all: &[Value], q: &HashMap<String, String>, url: &str) -> (Value, Option<String>) {
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20)
        .min(40);
    let arg = |k: &str| q.get(k).and_then(|v| v.parse::<u64>().ok());
    let mut items: Vec<&Value> = all
        .iter()
        .filter(|v| arg("max_id").is_none_or(|m| num(v) < m))
        .filter(|v| arg("since_id").is_none_or(|m| num(v) > m))
        .filter(|v| arg("min_id").is_none_or(|m| num(v) > m))
        .collect();
    if arg("min_id").is_some() {
        items.sort_by_key(|v| num(v));
        items.truncate(limit);
        items.reverse();
    } else {
        items.sort_by_key(|v| std::cmp::Reverse(num(v)));
        items.truncate(limit);
    }
    let link = (!items.is_empty()).then(|| {
        let newest = num(items[0]);
        let oldest = num(items[items.len() - 1]);
        format!(
            "<{url}?limit={limit}&max_id={oldest}>; rel=\"next\", <{url}?limit={limit}&min_id={newest}>; rel=\"prev\""
        )
    });
    (Value::Array(items.into_iter().cloned().collect()), link)
}

async fn notifications(
    State(s): State<S>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(r) = m.gate(&headers, &uri) {
        return r;
    }
    let url = format!("{}/api/v1/notifications", m.base);
    let (body, link) = page(&m.notifications, &q, &url);
    m.respond(body, link)
}

async fn tag_timeline(
    State(s): State<S>,
    Path(tag): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(r) = m.gate(&headers, &uri) {
        return r;
    }
    let url = format!("{}/api/v1/timelines/tag/{tag}", m.base);
    let all = m.tag_statuses.get(&tag).cloned().unwrap_or_default();
    let (body, link) = page(&all, &q, &url);
    m.respond(body, link)
}

/// v2 search: `q` matched in the content, `type=statuses`, `min_id`/`max_id`, `limit`
/// (default 20, max 40); no `Link` header (search paginates by `offset` or ids).
async fn search(
    State(s): State<S>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(r) = m.gate(&headers, &uri) {
        return r;
    }
    if q.get("type").map(String::as_str) != Some("statuses") {
        return (StatusCode::UNPROCESSABLE_ENTITY, "type").into_response();
    }
    let needle = q.get("q").cloned().unwrap_or_default().to_lowercase();
    let matching: Vec<Value> = m
        .search_statuses
        .iter()
        .filter(|s| {
            s["content"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains(&needle)
        })
        .cloned()
        .collect();
    let (statuses, _) = page(&matching, &q, "");
    m.respond(
        json!({"accounts": [], "statuses": statuses, "hashtags": []}),
        None,
    )
}

async fn verify(State(s): State<S>, headers: HeaderMap, uri: Uri) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(r) = m.gate(&headers, &uri) {
        return r;
    }
    m.respond(
        json!({"id": "42", "username": "acme", "acct": "acme", "display_name": "Acme", "url": "https://m.example/@acme"}),
        None,
    )
}

async fn post_status(
    State(s): State<S>,
    headers: HeaderMap,
    uri: Uri,
    Json(body): Json<Value>,
) -> Response {
    let mut m = s.lock().unwrap();
    if let Some(r) = m.gate(&headers, &uri) {
        return r;
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(id) = key.as_ref().and_then(|k| m.idempotency.get(k)) {
        let existing = m.created.iter().find(|s| s["id"] == id.as_str()).cloned();
        return m.respond(existing.unwrap(), None);
    }
    if body["status"].as_str().unwrap_or("").is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error": "Validation failed: Text can't be blank"})),
        )
            .into_response();
    }
    m.next_status_id += 1;
    let id = (900 + m.next_status_id).to_string();
    let mut st = status(&id, body["status"].as_str().unwrap(), "acme");
    st["in_reply_to_id"] = body["in_reply_to_id"].clone();
    m.created.push(st.clone());
    if let Some(k) = key {
        m.idempotency.insert(k, id);
    }
    m.respond(st, None)
}

async fn start(mock: Mock) -> (String, S) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = Arc::new(Mutex::new(Mock {
        base: base.clone(),
        ..mock
    }));
    let app = Router::new()
        .route("/api/v1/notifications", get(notifications))
        .route("/api/v1/timelines/tag/{tag}", get(tag_timeline))
        .route("/api/v2/search", get(search))
        .route("/api/v1/accounts/verify_credentials", get(verify))
        .route("/api/v1/statuses", post(post_status))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, state)
}

fn status(id: &str, text: &str, acct: &str) -> Value {
    json!({
        "id": id,
        "uri": format!("https://m.example/users/{acct}/statuses/{id}"),
        "url": format!("https://m.example/@{acct}/{id}"),
        "created_at": "2024-11-01T09:15:30.123Z",
        "content": format!("<p>{text}</p>"),
        "visibility": "public",
        "in_reply_to_id": null,
        "language": "en",
        "account": {"id": format!("acc-{acct}"), "acct": acct, "display_name": acct.to_uppercase(),
                    "url": format!("https://m.example/@{acct}"), "followers_count": 10},
        "mentions": [], "tags": [],
        "favourites_count": 1, "reblogs_count": 0, "replies_count": 0
    })
}

fn notification(id: u64, kind: &str) -> Value {
    let mut n = json!({
        "id": id.to_string(),
        "type": kind,
        "created_at": "2024-11-01T09:15:30.123Z",
        "account": {"id": "acc-bob", "acct": "bob", "url": "https://m.example/@bob"},
    });
    if kind != "follow" {
        let author = if kind == "favourite" { "acme" } else { "bob" };
        n["status"] = status(&(1000 + id).to_string(), &format!("note {id}"), author);
    }
    n
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    }
}

fn client(base: &str, token: &str) -> MastodonClient {
    MastodonClient::new(base, token, reqwest::Client::new()).with_retry_policy(fast())
}

fn roundtrip(c: &Cursor) -> Cursor {
    serde_json::from_str(&serde_json::to_string(c).unwrap()).unwrap()
}

#[tokio::test]
async fn notifications_page_forward_with_min_id_and_link_prev() {
    let (base, state) = start(Mock {
        notifications: vec![
            notification(1, "mention"),
            notification(2, "favourite"),
            notification(3, "mention"),
        ],
        ..Mock::default()
    })
    .await;
    let c = client(&base, TOKEN).with_page_limit(2);
    let feed = MastodonFeed::Notifications;

    // First poll: the newest page only, and the cursor is set to its newest id.
    let first = c.poll(&feed, &Cursor::default()).await.unwrap();
    assert_eq!(first.items.len(), 1);
    assert_eq!(first.items[0].external_id, "1003");
    assert_eq!(first.items[0].kind, ItemKind::Mention);
    assert_eq!(first.items[0].text, "note 3");
    assert_eq!(first.items[0].author.handle, "bob@m.example");
    assert_eq!(first.skipped, 1, "the favourite is skipped");
    assert_eq!(first.cursor.mastodon["notifications"], "3");
    assert_eq!(first.retry_after, None);

    // Five new notifications arrive; the stored cursor goes through JSON like in the database.
    {
        let mut m = state.lock().unwrap();
        m.notifications.extend([
            notification(4, "mention"),
            notification(5, "favourite"),
            notification(6, "status"),
            notification(7, "mention"),
            notification(8, "follow"),
        ]);
        m.requests.clear();
    }
    let second = c.poll(&feed, &roundtrip(&first.cursor)).await.unwrap();
    let ids: Vec<&str> = second
        .items
        .iter()
        .map(|i| i.external_id.as_str())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["1004", "1006", "1007"],
        "only the new items: {ids:?}"
    );
    assert_eq!(second.skipped, 2, "favourite and follow skipped");
    assert_eq!(second.cursor.mastodon["notifications"], "8");
    let requests = state.lock().unwrap().requests.clone();
    assert_eq!(
        requests,
        [
            "/api/v1/notifications?limit=2&min_id=3",
            "/api/v1/notifications?limit=2&min_id=5",
            "/api/v1/notifications?limit=2&min_id=7",
            "/api/v1/notifications?limit=2&min_id=8",
        ],
        "first page by min_id, then the Link rel=prev pages until an empty one"
    );

    // Nothing new: nothing returned, cursor unchanged.
    let third = c.poll(&feed, &second.cursor).await.unwrap();
    assert!(third.items.is_empty());
    assert_eq!(third.cursor, second.cursor);
}

#[tokio::test]
async fn hashtag_and_search_feeds_keep_one_cursor_each() {
    let tagged: Vec<Value> = (1..=3)
        .map(|i| status(&i.to_string(), &format!("#rust post {i}"), "carol"))
        .collect();
    let searched: Vec<Value> = (10..=14)
        .map(|i| status(&i.to_string(), &format!("acme widget {i}"), "dave"))
        .collect();
    let (base, state) = start(Mock {
        tag_statuses: HashMap::from([("rust".to_string(), tagged)]),
        search_statuses: searched[..2].to_vec(),
        ..Mock::default()
    })
    .await;
    let c = client(&base, TOKEN).with_page_limit(2);
    let tag = MastodonFeed::Hashtag("#Rust".into());
    let kw = MastodonFeed::Search("Acme".into());

    let r = c.poll(&tag, &Cursor::default()).await.unwrap();
    assert_eq!(r.items.len(), 2);
    let r = c.poll(&kw, &r.cursor).await.unwrap();
    assert_eq!(r.items.len(), 2);
    assert_eq!(r.cursor.mastodon["tag:rust"], "3");
    assert_eq!(r.cursor.mastodon["search:Acme"], "11");

    // Three new search hits: paged forward with min_id (search sends no Link header).
    {
        let mut m = state.lock().unwrap();
        m.search_statuses = searched.clone();
        m.requests.clear();
    }
    let r2 = c.poll(&kw, &r.cursor).await.unwrap();
    let mut ids: Vec<_> = r2.items.iter().map(|i| i.external_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["12", "13", "14"]);
    assert_eq!(r2.items[0].author.handle, "dave@m.example");
    assert_eq!(r2.cursor.mastodon["search:Acme"], "14");
    assert_eq!(r2.cursor.mastodon["tag:rust"], "3", "other feeds untouched");
    let requests = state.lock().unwrap().requests.clone();
    assert_eq!(
        requests,
        [
            "/api/v2/search?q=Acme&type=statuses&limit=2&min_id=11",
            "/api/v2/search?q=Acme&type=statuses&limit=2&min_id=13",
        ]
    );
}

#[tokio::test]
async fn refused_token_needs_reconnect_and_good_token_verifies() {
    let (base, _state) = start(Mock::default()).await;
    let err = client(&base, "revoked")
        .poll(&MastodonFeed::Notifications, &Cursor::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unauthorized(ref m) if m.contains("The access token is invalid")),
        "{err:?}"
    );
    assert!(err.needs_reconnect());
    let err = client(&base, "revoked")
        .verify_credentials()
        .await
        .unwrap_err();
    assert!(err.needs_reconnect());
    let account = client(&base, TOKEN).verify_credentials().await.unwrap();
    assert_eq!(account.id, "42");
    assert_eq!(account.acct, "acme");
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let (base, state) = start(Mock {
        too_many: Some((u32::MAX, "30".into())),
        ..Mock::default()
    })
    .await;
    let err = client(&base, TOKEN)
        .poll(&MastodonFeed::Notifications, &Cursor::default())
        .await
        .unwrap_err();
    match err {
        ConnectorError::RateLimited { retry_after } => {
            assert_eq!(retry_after, Duration::from_secs(30))
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(!ConnectorError::RateLimited {
        retry_after: Duration::ZERO
    }
    .needs_reconnect());
    assert_eq!(state.lock().unwrap().requests.len(), 1, "no in-line retry");

    // An HTTP-date Retry-After far away is RateLimited too.
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(600));
    state.lock().unwrap().too_many = Some((1, date));
    let err = client(&base, TOKEN)
        .poll(&MastodonFeed::Notifications, &Cursor::default())
        .await
        .unwrap_err();
    let ConnectorError::RateLimited { retry_after } = err else {
        panic!("{err:?}")
    };
    assert!(
        retry_after > Duration::from_secs(590) && retry_after <= Duration::from_secs(600),
        "{retry_after:?}"
    );
}

#[tokio::test]
async fn short_retry_after_is_slept_through_once() {
    let (base, state) = start(Mock {
        too_many: Some((1, "1".into())),
        notifications: vec![notification(1, "mention")],
        ..Mock::default()
    })
    .await;
    let started = Instant::now();
    let r = client(&base, TOKEN)
        .poll(&MastodonFeed::Notifications, &Cursor::default())
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(r.items.len(), 1);
    assert_eq!(state.lock().unwrap().requests.len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    let (base, state) = start(Mock {
        fail_5xx: 2,
        notifications: vec![notification(1, "mention")],
        ..Mock::default()
    })
    .await;
    let r = client(&base, TOKEN)
        .poll(&MastodonFeed::Notifications, &Cursor::default())
        .await
        .unwrap();
    assert_eq!(r.items.len(), 1);
    assert_eq!(state.lock().unwrap().requests.len(), 3);
}

#[tokio::test]
async fn persistent_server_errors_are_unavailable() {
    let (base, state) = start(Mock {
        fail_5xx: u32::MAX,
        ..Mock::default()
    })
    .await;
    let err = client(&base, TOKEN)
        .poll(&MastodonFeed::Notifications, &Cursor::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unavailable(ref m) if m.contains("503")),
        "{err:?}"
    );
    assert!(!err.needs_reconnect());
    assert_eq!(state.lock().unwrap().requests.len(), 3, "3 attempts");

    // Nothing listening at all: network errors are retried and end Unavailable too.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = client(&dead, TOKEN).verify_credentials().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn spent_rate_limit_stops_paging_and_reports_the_wait() {
    let (base, state) = start(Mock {
        notifications: vec![notification(1, "mention")],
        ..Mock::default()
    })
    .await;
    let c = client(&base, TOKEN).with_page_limit(2);
    let first = c
        .poll(&MastodonFeed::Notifications, &Cursor::default())
        .await
        .unwrap();
    {
        let mut m = state.lock().unwrap();
        m.notifications
            .extend((2..=7).map(|i| notification(i, "mention")));
        m.remaining_zero = true;
        m.requests.clear();
    }
    let r = c
        .poll(&MastodonFeed::Notifications, &first.cursor)
        .await
        .unwrap();
    assert_eq!(state.lock().unwrap().requests.len(), 1, "paging stopped");
    assert_eq!(r.items.len(), 2);
    assert_eq!(r.cursor.mastodon["notifications"], "3");
    let wait = r.retry_after.expect("retry_after set");
    assert!(
        wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );

    // After the wait the next poll continues where this one stopped.
    state.lock().unwrap().remaining_zero = false;
    let r = c
        .poll(&MastodonFeed::Notifications, &r.cursor)
        .await
        .unwrap();
    let mut ids: Vec<_> = r.items.iter().map(|i| i.external_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["1004", "1005", "1006", "1007"]);
    assert_eq!(r.retry_after, None);
}

#[tokio::test]
async fn post_reply_sends_idempotency_key() {
    let (base, state) = start(Mock::default()).await;
    let c = client(&base, TOKEN);
    let id = c
        .post_reply("1003", "@bob thanks, we're on it", "reply-7f3a")
        .await
        .unwrap();
    // The same key again (a retry after a crash) does not post twice.
    let again = c
        .post_reply("1003", "@bob thanks, we're on it", "reply-7f3a")
        .await
        .unwrap();
    assert_eq!(id, again);
    {
        let m = state.lock().unwrap();
        assert_eq!(m.created.len(), 1);
        assert_eq!(m.idempotency.get("reply-7f3a"), Some(&id.id));
        assert_eq!(m.created[0]["in_reply_to_id"], "1003");
        assert_eq!(m.created[0]["content"], "<p>@bob thanks, we're on it</p>");
        let auth_and_key = m
            .requests
            .iter()
            .filter(|r| *r == "/api/v1/statuses")
            .count();
        assert_eq!(auth_and_key, 2);
    }

    let err = c.post_reply("1003", "", "reply-empty").await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Protocol(ref m) if m.contains("can't be blank")),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limited_mid_walk_keeps_the_pages_read() {
    let (base, state) = start(Mock {
        notifications: vec![notification(1, "mention")],
        ..Mock::default()
    })
    .await;
    let c = client(&base, TOKEN).with_page_limit(2);
    let feed = MastodonFeed::Notifications;
    let first = c.poll(&feed, &Cursor::default()).await.unwrap();
    {
        let mut m = state.lock().unwrap();
        m.notifications
            .extend((2..=7).map(|i| notification(i, "mention")));
        m.pass_before_429 = 1;
        m.too_many = Some((u32::MAX, "30".into()));
    }
    let r = c.poll(&feed, &first.cursor).await.unwrap();
    let mut ids: Vec<_> = r.items.iter().map(|i| i.external_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, ["1002", "1003"]);
    assert_eq!(r.retry_after, Some(Duration::from_secs(30)));
    assert_eq!(r.cursor.mastodon["notifications"], "3");
    state.lock().unwrap().too_many = None;
    let r = c.poll(&feed, &r.cursor).await.unwrap();
    assert_eq!(r.items.len(), 4);
    assert_eq!(r.cursor.mastodon["notifications"], "7");
}
