//! Live channels against a local server that speaks Mastodon's documented API.

use crate::api_test;
use crate::helpers::*;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use switchboard_core::Role;

#[derive(Default)]
struct Instance {
    token: String,
    notifications: Vec<Value>,
}

type Shared = Arc<Mutex<Instance>>;

fn authorised(s: &Shared, h: &HeaderMap) -> bool {
    let want = format!("Bearer {}", s.lock().unwrap().token);
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str())
}

fn refused() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "The access token is invalid"})),
    )
        .into_response()
}

async fn verify(State(s): State<Shared>, h: HeaderMap) -> Response {
    if !authorised(&s, &h) {
        return refused();
    }
    Json(json!({"id": "1", "username": "acme", "acct": "acme", "display_name": "Acme"}))
        .into_response()
}

/// Newest first; `min_id` returns the entities just after it.
async fn notifications(
    State(s): State<Shared>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !authorised(&s, &h) {
        return refused();
    }
    let min: u64 = q.get("min_id").and_then(|m| m.parse().ok()).unwrap_or(0);
    let mut page: Vec<Value> = s
        .lock()
        .unwrap()
        .notifications
        .iter()
        .filter(|n| n["id"].as_str().unwrap().parse::<u64>().unwrap() > min)
        .cloned()
        .collect();
    page.reverse();
    Json(page).into_response()
}

fn mention(id: u64, text: &str) -> Value {
    let account = json!({"id": "77", "username": "lena", "acct": "lena@example.social", "display_name": "Lena", "followers_count": 310});
    json!({
        "id": id.to_string(), "type": "mention", "created_at": "2026-11-20T09:00:00.000Z", "account": account,
        "status": {
            "id": format!("9{id}"), "created_at": "2026-11-20T09:00:00.000Z", "in_reply_to_id": null, "spoiler_text": "",
            "visibility": "public", "language": "de", "uri": format!("https://example.social/users/lena/statuses/9{id}"),
            "url": format!("https://example.social/@lena/9{id}"), "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
            "content": format!("<p><span class=\"h-card\"><a href=\"https://mastodon.example/@acme\" class=\"u-url mention\">@<span>acme</span></a></span> {text}</p>"),
            "account": account, "mentions": [{"id": "1", "username": "acme", "acct": "acme", "url": "https://mastodon.example/@acme"}], "tags": [],
        }
    })
}

async fn instance() -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Instance {
        token: "good-token".into(),
        notifications: vec![mention(10, "Die App stürzt seit dem Update ständig ab")],
    }));
    let app = Router::new()
        .route("/api/v1/accounts/verify_credentials", get(verify))
        .route("/api/v1/notifications", get(notifications))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, shared)
}

api_test! {
    mastodon_channel_polls_with_a_cursor_and_needs_reconnect_when_the_token_is_refused => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let admin = acme.token(Role::Admin);
        let (url, mastodon) = instance().await;
        let channels = format!("/api/v1/workspaces/{}/channels", acme.global);
        let refused = app.post(&channels, json!({"network": "mastodon", "name": "Acme on Mastodon", "base_url": url, "access_token": "wrong"}), &admin).await;
        assert_eq!((refused.status.as_u16(), refused.error_field()), (422, "access_token"), "{}", refused.text);
        let bad_feed = app.post(&channels, json!({"network": "mastodon", "name": "x", "base_url": url, "access_token": "good-token", "feeds": ["timeline"]}), &admin).await;
        assert_eq!((bad_feed.status.as_u16(), bad_feed.error_field()), (422, "feeds[0]"));
        assert_eq!(app.post(&channels, json!({"network": "mastodon", "name": "x", "base_url": url, "access_token": "good-token"}), &acme.token(Role::Agent)).await.status, 403);

        let created = app.post(&channels, json!({"network": "mastodon", "name": "Acme on Mastodon", "base_url": url, "access_token": "good-token"}), &admin).await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!((created.body["account"].as_str(), created.body["status"].as_str()), (Some("acme"), Some("active")));
        let id = created.body["id"].as_str().unwrap().to_string();

        let polled = app.post(&format!("{channels}/{id}/poll"), json!({}), &admin).await;
        assert_eq!((polled.status.as_u16(), polled.body["imported"].as_u64()), (200, Some(1)), "{}", polled.text);
        let items = app.get(&format!("/api/v1/workspaces/{}/items", acme.global), &admin).await;
        let item = items.body["items"].as_array().unwrap().iter().find(|i| i["network"] == "mastodon" && i["kind"] == "mention").cloned().unwrap();
        assert!(item["text"].as_str().unwrap().contains("stürzt"), "{item}");
        assert_eq!(item["sentiment"]["label"], "negative");

        // The cursor holds: only what is new comes in.
        mastodon.lock().unwrap().notifications.push(mention(11, "Wo kann ich das Pro-Abo kaufen?"));
        let polled = app.post(&format!("{channels}/{id}/poll"), json!({}), &admin).await;
        assert_eq!((polled.body["imported"].as_u64(), polled.body["unchanged"].as_u64()), (Some(1), Some(0)), "{}", polled.text);

        // The token is revoked on the instance: the channel needs reconnecting, visibly.
        mastodon.lock().unwrap().token = "rotated".into();
        let polled = app.post(&format!("{channels}/{id}/poll"), json!({}), &admin).await;
        assert_eq!(polled.body["channel"]["status"], "needs_reconnect", "{}", polled.text);
        let listed = app.get(&channels, &acme.token(Role::Viewer)).await;
        assert_eq!(listed.body["channels"][0]["status"], "needs_reconnect");
        assert!(!listed.text.contains("good-token") && !listed.text.contains("rotated"), "credentials never leave the server");
        let session = app.login("owner@acme.example", PASSWORD).await;
        let Auth::Session { cookie, .. } = session else { unreachable!() };
        let page = app.send(app.client.get(app.url(&format!("/w/{}", acme.global))).header("cookie", format!("sb_session={cookie}"))).await;
        assert!(page.text.contains("needs reconnect") && page.text.contains("Acme on Mastodon"), "the UI shows it");
        // A due poll skips it until someone reconnects.
        assert_eq!(app.app.poll_due().await.unwrap(), 0);

        let again = app.post(&format!("{channels}/{id}/credentials"), json!({"access_token": "rotated"}), &admin).await;
        assert_eq!((again.status.as_u16(), again.body["status"].as_str()), (200, Some("active")), "{}", again.text);
        assert_eq!(app.delete(&format!("{channels}/{id}"), &admin).await.status, 204);
    };
}

#[derive(Default)]
struct Pds {
    access: String,
    refreshes: usize,
    logins: usize,
}

type SharedPds = Arc<Mutex<Pds>>;

async fn create_session(State(s): State<SharedPds>, Json(body): Json<Value>) -> Response {
    if body["password"] != "app-pass-1234" {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}))).into_response();
    }
    let mut p = s.lock().unwrap();
    p.logins += 1;
    p.access = format!("access-{}", p.logins);
    Json(json!({"accessJwt": p.access, "refreshJwt": "refresh-1", "did": "did:plc:acme", "handle": "acme.bsky.social"})).into_response()
}

async fn refresh_session(State(s): State<SharedPds>, h: HeaderMap) -> Response {
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer refresh-1") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "ExpiredToken", "message": "Token has expired"})),
        )
            .into_response();
    }
    let mut p = s.lock().unwrap();
    p.refreshes += 1;
    p.access = format!("refreshed-{}", p.refreshes);
    Json(json!({"accessJwt": p.access, "refreshJwt": "refresh-1", "did": "did:plc:acme", "handle": "acme.bsky.social"})).into_response()
}

async fn list_notifications(State(s): State<SharedPds>, h: HeaderMap) -> Response {
    let want = format!("Bearer {}", s.lock().unwrap().access);
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str()) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "ExpiredToken", "message": "Token has expired"})),
        )
            .into_response();
    }
    Json(json!({"notifications": [{
        "uri": "at://did:plc:minji/app.bsky.feed.post/3kabc", "cid": "bafy1",
        "author": {"did": "did:plc:minji", "handle": "minji.bsky.social", "displayName": "Minji"},
        "reason": "mention",
        "record": {"$type": "app.bsky.feed.post", "text": "@acme.bsky.social 배송이 너무 늦어요 환불해 주세요", "createdAt": "2026-11-20T09:00:00.000Z", "langs": ["ko"]},
        "indexedAt": "2026-11-20T09:00:01.000Z", "isRead": false
    }]}))
    .into_response()
}

api_test! {
    bluesky_channel_keeps_its_rotated_session_sealed_between_polls => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let admin = acme.token(Role::Admin);
        let pds: SharedPds = Arc::default();
        let router = Router::new()
            .route("/xrpc/com.atproto.server.createSession", axum::routing::post(create_session))
            .route("/xrpc/com.atproto.server.refreshSession", axum::routing::post(refresh_session))
            .route("/xrpc/app.bsky.notification.listNotifications", get(list_notifications))
            .with_state(pds.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

        let channels = format!("/api/v1/workspaces/{}/channels", acme.global);
        let wrong = app.post(&channels, json!({"network": "bluesky", "name": "Bluesky", "base_url": url, "handle": "acme.bsky.social", "app_password": "nope"}), &admin).await;
        assert_eq!((wrong.status.as_u16(), wrong.error_field()), (422, "app_password"), "{}", wrong.text);
        let created = app.post(&channels, json!({"network": "bluesky", "name": "Bluesky", "base_url": url, "handle": "acme.bsky.social", "app_password": "app-pass-1234"}), &admin).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.body["id"].as_str().unwrap().to_string();
        let polled = app.post(&format!("{channels}/{id}/poll"), json!({}), &admin).await;
        assert_eq!(polled.body["imported"].as_u64(), Some(1), "{}", polled.text);
        assert_eq!(pds.lock().unwrap().logins, 1, "the session from creating the channel was reused");

        // The access token expires: the client refreshes, and the new session is what gets sealed.
        pds.lock().unwrap().access = "refreshed-1".into();
        pds.lock().unwrap().refreshes = 0;
        let polled = app.post(&format!("{channels}/{id}/poll"), json!({}), &admin).await;
        assert_eq!((polled.body["channel"]["status"].as_str(), polled.body["unchanged"].as_u64()), (Some("active"), Some(0)), "{}", polled.text);
        let refreshes = pds.lock().unwrap().refreshes;
        let polled = app.post(&format!("{channels}/{id}/poll"), json!({}), &admin).await;
        assert_eq!(polled.body["channel"]["status"], "active", "{}", polled.text);
        assert_eq!(pds.lock().unwrap().refreshes, refreshes, "the rotated session was stored, so no second refresh");
        let items = app.get(&format!("/api/v1/workspaces/{}/items", acme.global), &admin).await;
        let item = items.body["items"].as_array().unwrap().iter().find(|i| i["network"] == "bluesky").cloned().unwrap();
        assert_eq!((item["lang"].as_str(), item["sentiment"]["label"].as_str()), (Some("ko"), Some("negative")), "{item}");
    };
}
