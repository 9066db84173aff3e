//! Replies to a Bluesky conversation, sent once through a local PDS that speaks the XRPC calls
//! of a reply: getPosts, createRecord (a taken record key gets the reference PDS's 500) and
//! getRecord.

use crate::api_test;
use crate::helpers::*;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use switchboard_core::Role;

const MENTION: &str = "at://did:plc:minji/app.bsky.feed.post/3kabc";

#[derive(Default)]
struct Pds {
    access: String,
    logins: usize,
    refreshes: usize,
    /// Posts of the account: (record key, record).
    created: Vec<(String, Value)>,
    /// The path of every authenticated request.
    requests: Vec<String>,
}

type Shared = Arc<Mutex<Pds>>;

fn xrpc_error(status: StatusCode, error: &str, message: &str) -> Response {
    (status, Json(json!({"error": error, "message": message}))).into_response()
}

/// Records the request; refuses any access token but the current one.
fn gate(p: &mut Pds, h: &HeaderMap, uri: &Uri) -> Option<Response> {
    p.requests.push(uri.path().to_string());
    let want = format!("Bearer {}", p.access);
    (h.get("authorization").and_then(|v| v.to_str().ok()) != Some(want.as_str()))
        .then(|| xrpc_error(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has expired"))
}

fn session(access: &str) -> Response {
    Json(json!({"accessJwt": access, "refreshJwt": "refresh-1", "did": "did:plc:acme", "handle": "acme.bsky.social"}))
        .into_response()
}

async fn create_session(State(s): State<Shared>, Json(body): Json<Value>) -> Response {
    if body["password"] != "app-pass-1234" {
        return xrpc_error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationRequired",
            "Invalid identifier or password",
        );
    }
    let mut p = s.lock().unwrap();
    p.logins += 1;
    p.access = format!("access-{}", p.logins);
    session(&p.access)
}

async fn refresh_session(State(s): State<Shared>, h: HeaderMap) -> Response {
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer refresh-1") {
        return xrpc_error(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "Token has been revoked",
        );
    }
    let mut p = s.lock().unwrap();
    p.refreshes += 1;
    p.access = format!("refreshed-{}", p.refreshes);
    session(&p.access)
}

fn mention() -> Value {
    json!({
        "uri": MENTION, "cid": "bafy1",
        "author": {"did": "did:plc:minji", "handle": "minji.bsky.social", "displayName": "Minji"},
        "record": {"$type": "app.bsky.feed.post", "text": "@acme.bsky.social my order is late, please refund",
                   "createdAt": "2026-11-20T09:00:00.000Z", "langs": ["en"]},
        "indexedAt": "2026-11-20T09:00:01.000Z"
    })
}

async fn list_notifications(State(s): State<Shared>, h: HeaderMap, uri: Uri) -> Response {
    if let Some(r) = gate(&mut s.lock().unwrap(), &h, &uri) {
        return r;
    }
    let mut n = mention();
    n["reason"] = json!("mention");
    n["isRead"] = json!(false);
    Json(json!({"notifications": [n]})).into_response()
}

async fn get_posts(
    State(s): State<Shared>,
    h: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = gate(&mut s.lock().unwrap(), &h, &uri) {
        return r;
    }
    let posts = if q.get("uris").map(String::as_str) == Some(MENTION) {
        vec![mention()]
    } else {
        vec![]
    };
    Json(json!({"posts": posts})).into_response()
}

async fn create_record(
    State(s): State<Shared>,
    h: HeaderMap,
    uri: Uri,
    Json(body): Json<Value>,
) -> Response {
    let mut p = s.lock().unwrap();
    if let Some(r) = gate(&mut p, &h, &uri) {
        return r;
    }
    let rkey = body["rkey"].as_str().unwrap_or_default().to_string();
    if body["repo"] != "did:plc:acme" || rkey.len() != 13 {
        return xrpc_error(StatusCode::BAD_REQUEST, "InvalidRequest", "bad request");
    }
    if p.created.iter().any(|(k, _)| *k == rkey) {
        return xrpc_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Internal Server Error",
        );
    }
    p.created.push((rkey.clone(), body["record"].clone()));
    Json(json!({"uri": format!("at://did:plc:acme/app.bsky.feed.post/{rkey}"), "cid": "bafyreply"}))
        .into_response()
}

async fn get_record(
    State(s): State<Shared>,
    h: HeaderMap,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = &mut s.lock().unwrap();
    if let Some(r) = gate(p, &h, &uri) {
        return r;
    }
    let rkey = q.get("rkey").cloned().unwrap_or_default();
    match p.created.iter().find(|(k, _)| *k == rkey) {
        Some((k, record)) => Json(json!({"uri": format!("at://did:plc:acme/app.bsky.feed.post/{k}"), "cid": "bafyreply", "value": record}))
            .into_response(),
        None => xrpc_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "Could not locate record",
        ),
    }
}

async fn pds() -> (String, Shared) {
    let shared: Shared = Arc::default();
    let router = Router::new()
        .route(
            "/xrpc/com.atproto.server.createSession",
            post(create_session),
        )
        .route(
            "/xrpc/com.atproto.server.refreshSession",
            post(refresh_session),
        )
        .route(
            "/xrpc/app.bsky.notification.listNotifications",
            get(list_notifications),
        )
        .route("/xrpc/app.bsky.feed.getPosts", get(get_posts))
        .route("/xrpc/com.atproto.repo.createRecord", post(create_record))
        .route("/xrpc/com.atproto.repo.getRecord", get(get_record))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, shared)
}

fn count(pds: &Shared, path: &str) -> usize {
    pds.lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| *r == path)
        .count()
}

api_test! {
    a_bluesky_reply_is_posted_once_in_the_thread_and_keeps_the_renewed_session => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let admin = acme.token(Role::Admin);
        let agent = acme.token(Role::Agent);
        let (url, pds) = pds().await;
        let channels = format!("/api/v1/workspaces/{}/channels", acme.global);
        let created = app.post(&channels, json!({"network": "bluesky", "name": "Bluesky", "base_url": url, "handle": "acme.bsky.social", "app_password": "app-pass-1234"}), &admin).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let channel_id = created.body["id"].as_str().unwrap().to_string();
        let polled = app.post(&format!("{channels}/{channel_id}/poll"), json!({}), &admin).await;
        assert_eq!(polled.body["imported"].as_u64(), Some(1), "{}", polled.text);
        app.app.route_new_items().await.unwrap();
        let mut c = app.app.store.read().await.unwrap();
        let item = switchboard_store::items::get_by_external(&mut c, &acme.global, "bluesky", MENTION).await.unwrap().expect("stored");
        let conversation = switchboard_store::inbox::conversation_of_item(&mut c, &item.id).await.unwrap().expect("threaded");
        drop(c);
        let conv = format!("/api/v1/workspaces/{}/conversations/{conversation}", acme.global);

        // Bluesky posts hold 300 graphemes: a longer reply is refused when written.
        let long = app.post(&format!("{conv}/replies"), json!({"body": "a".repeat(301)}), &agent).await;
        assert_eq!((long.status.as_u16(), long.error_field()), (422, "body"), "{}", long.text);
        assert!(long.text.contains("300"), "{}", long.text);

        // The stored access token has expired by the time the job runs.
        pds.lock().unwrap().access = "refreshed-1".into();
        let text = "@minji.bsky.social sorry! The refund is on its way.";
        let first = app.post(&format!("{conv}/replies"), json!({"body": text, "idempotency_key": "k1"}), &agent).await;
        assert_eq!(first.status, 201, "{}", first.text);
        let reply_id = first.body["id"].as_str().unwrap().to_string();
        app.app.run_due_jobs().await.unwrap();
        app.app.run_due_jobs().await.unwrap();

        let rkey = {
            let p = pds.lock().unwrap();
            assert_eq!(p.created.len(), 1, "posted more than once");
            let (rkey, record) = &p.created[0];
            assert_eq!(record["text"], text);
            let parent = json!({"uri": MENTION, "cid": "bafy1"});
            assert_eq!(record["reply"], json!({"root": parent, "parent": parent}));
            assert_eq!(record["facets"][0]["features"][0]["did"], "did:plc:minji");
            assert_eq!(p.refreshes, 1);
            rkey.clone()
        };
        assert_eq!(count(&pds, "/xrpc/com.atproto.repo.createRecord"), 1);
        let replies = app.get(&format!("{conv}/replies"), &agent).await;
        let reply = &replies.body["replies"][0];
        let remote_id = format!("at://did:plc:acme/app.bsky.feed.post/{rkey}");
        assert_eq!((reply["status"].as_str(), reply["remote_id"].as_str()), (Some("sent"), Some(remote_id.as_str())), "{reply}");
        assert_eq!(reply["remote_url"], format!("https://bsky.app/profile/did:plc:acme/post/{rkey}").as_str());

        // The renewed session was sealed with the outcome: no refresh on the next poll.
        let mut c = app.app.store.read().await.unwrap();
        let row = switchboard_store::items::channels::get(&mut c, &channel_id).await.unwrap().unwrap();
        drop(c);
        let credentials: Value = serde_json::from_str(&app.app.config.secrets.open(&row.credentials_sealed, &row.key_id).unwrap()).unwrap();
        assert_eq!(credentials["session"]["accessJwt"], "refreshed-1");
        assert_eq!(row.channel.status, switchboard_core::ChannelStatus::Active);
        let polled = app.post(&format!("{channels}/{channel_id}/poll"), json!({}), &admin).await;
        assert_eq!(polled.body["channel"]["status"], "active", "{}", polled.text);
        assert_eq!(pds.lock().unwrap().refreshes, 1);

        // A crash after the post but before its commit: the job runs again, the record key
        // is taken, and the post already there is the one recorded.
        let mut tx = app.app.store.write().await.unwrap();
        sqlx::query("UPDATE conversation_replies SET status = 'queued' WHERE id = $1").bind(&reply_id).execute(&mut *tx).await.unwrap();
        sqlx::query("UPDATE jobs SET status = 'queued' WHERE dedupe_key = $1").bind(&reply_id).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        app.app.run_due_jobs().await.unwrap();
        assert_eq!(pds.lock().unwrap().created.len(), 1, "one post on the PDS");
        assert!(count(&pds, "/xrpc/com.atproto.repo.getRecord") >= 1);
        let replies = app.get(&format!("{conv}/replies"), &agent).await;
        let reply = &replies.body["replies"][0];
        assert_eq!((reply["status"].as_str(), reply["remote_id"].as_str()), (Some("sent"), Some(remote_id.as_str())), "{reply}");

        // Another reply is another post.
        let second = app.post(&format!("{conv}/replies"), json!({"body": "Anything else?"}), &agent).await;
        assert_eq!(second.status, 201, "{}", second.text);
        app.app.run_due_jobs().await.unwrap();
        let p = pds.lock().unwrap();
        assert_eq!(p.created.len(), 2);
        assert_ne!(p.created[1].0, rkey);
    };
}
