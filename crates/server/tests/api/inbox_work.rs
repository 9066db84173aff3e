//! Working a conversation: notes with @mentions, saved replies, and replies sent once through
//! a local server that speaks Mastodon's `POST /api/v1/statuses`.

use crate::api_test;
use crate::helpers::*;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use switchboard_core::Role;

/// Every `POST /api/v1/statuses` request as received: (authorization, idempotency key, body).
#[derive(Default)]
struct Instance {
    requests: Vec<(String, String, Value)>,
    /// Statuses created, one per idempotency key (as Mastodon keeps them for an hour).
    created: Vec<(String, String)>,
    /// The account revoked the app's token: every call is refused.
    revoked: bool,
}

type Shared = Arc<Mutex<Instance>>;

async fn verify(h: HeaderMap) -> Response {
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer good-token") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "The access token is invalid"})),
        )
            .into_response();
    }
    Json(json!({"id": "1", "username": "acme", "acct": "acme", "display_name": "Acme"}))
        .into_response()
}

async fn statuses(State(s): State<Shared>, h: HeaderMap, Json(body): Json<Value>) -> Response {
    let header = |n: &str| {
        h.get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let key = header("idempotency-key");
    let mut s = s.lock().unwrap();
    if s.revoked {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "The access token was revoked"})),
        )
            .into_response();
    }
    s.requests
        .push((header("authorization"), key.clone(), body.clone()));
    let id = match s.created.iter().find(|(k, _)| !key.is_empty() && *k == key) {
        Some((_, id)) => id.clone(),
        None => {
            let id = format!("11{}", s.created.len() + 1);
            s.created.push((key, id.clone()));
            id
        }
    };
    Json(
        json!({"id": id, "content": body["status"], "in_reply_to_id": body["in_reply_to_id"],
        "url": format!("https://mastodon.example/@acme/{id}")}),
    )
    .into_response()
}

async fn instance() -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Instance::default()));
    let app = Router::new()
        .route("/api/v1/accounts/verify_credentials", get(verify))
        .route("/api/v1/statuses", post(statuses))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, shared)
}

fn events_of(detail: &Value, kind: &str) -> Vec<Value> {
    detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

api_test! {
    a_reply_is_posted_exactly_once_with_the_saved_reply_filled => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let (url, mastodon) = instance().await;
        let created = app.post(&format!("/api/v1/workspaces/{}/channels", acme.global),
            json!({"network": "mastodon", "name": "Acme on Mastodon", "base_url": url, "access_token": "good-token"}),
            &acme.token(Role::Admin)).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let conv = format!("/api/v1/workspaces/{}/conversations/{}", acme.global, acme.conversation);
        let agent = acme.token(Role::Agent);
        let agent_user = app.app.user_by_email("agent@acme.example").await.unwrap();

        // A viewer reads the inbox but does not answer.
        let denied = app.post(&format!("{conv}/replies"), json!({"body": "Hello", "idempotency_key": "v"}), &acme.token(Role::Viewer)).await;
        assert_eq!(denied.status, 403, "{}", denied.text);

        let first = app.post(&format!("{conv}/replies"), json!({"saved_reply": acme.saved_reply, "idempotency_key": "k1"}), &agent).await;
        assert_eq!(first.status, 201, "{}", first.text);
        assert_eq!(first.body["status"], "queued");
        let expected = format!("Hi @kim@example.social, thanks for writing to Global. {}", agent_user.name);
        assert_eq!(first.body["body"], expected.as_str());
        let again = app.post(&format!("{conv}/replies"), json!({"saved_reply": acme.saved_reply, "idempotency_key": "k1"}), &agent).await;
        assert_eq!(again.status, 200, "{}", again.text);
        assert_eq!(again.body["id"], first.body["id"]);
        let reply_id = first.body["id"].as_str().unwrap().to_string();

        app.app.run_due_jobs().await.unwrap();
        app.app.run_due_jobs().await.unwrap();
        {
            let m = mastodon.lock().unwrap();
            assert_eq!(m.requests.len(), 1, "posted more than once");
            let (auth, key, body) = &m.requests[0];
            assert_eq!(auth, "Bearer good-token");
            assert_eq!(key, &reply_id, "the reply id is the Idempotency-Key");
            assert_eq!(body["status"], expected.as_str());
            assert_eq!(body["in_reply_to_id"], "acme-1");
        }
        let replies = app.get(&format!("{conv}/replies"), &acme.token(Role::Viewer)).await;
        assert_eq!(replies.status, 200);
        let list = replies.body["replies"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!((list[0]["status"].as_str(), list[0]["remote_id"].as_str()), (Some("sent"), Some("111")));
        assert_eq!(list[0]["remote_url"], "https://mastodon.example/@acme/111");
        let detail = app.get(&conv, &agent).await.body;
        assert_eq!(events_of(&detail, "reply").len(), 1);
        assert_eq!(events_of(&detail, "reply_sent")[0]["data"]["remote_id"], "111");
        let mut c = app.app.store.read().await.unwrap();
        let first_response = switchboard_store::inbox_work::first_response_at(&mut c, &acme.conversation).await.unwrap();
        drop(c);
        assert!(first_response.is_some());

        // A crash after the post but before its commit: the job runs again and posts with
        // the same key, which the instance answers with the status it already made.
        let mut tx = app.app.store.write().await.unwrap();
        sqlx::query("UPDATE conversation_replies SET status = 'queued' WHERE id = $1").bind(&reply_id).execute(&mut *tx).await.unwrap();
        sqlx::query("UPDATE jobs SET status = 'queued' WHERE dedupe_key = $1").bind(&reply_id).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        app.app.run_due_jobs().await.unwrap();
        {
            let m = mastodon.lock().unwrap();
            assert_eq!(m.requests.len(), 2);
            assert_eq!(m.requests[1].1, reply_id);
            assert_eq!(m.created.len(), 1, "one status on the instance");
        }
        let mut c = app.app.store.read().await.unwrap();
        let again_first = switchboard_store::inbox_work::first_response_at(&mut c, &acme.conversation).await.unwrap();
        drop(c);
        assert_eq!(again_first, first_response, "the first response time stays");

        // Another key is another reply.
        let second = app.post(&format!("{conv}/replies"), json!({"body": "Anything else?", "idempotency_key": "k2"}), &agent).await;
        assert_eq!(second.status, 201, "{}", second.text);
        app.app.run_due_jobs().await.unwrap();
        let m = mastodon.lock().unwrap();
        assert_eq!(m.requests.len(), 3);
        assert_eq!(m.requests[2].2["status"], "Anything else?");
    };

    a_reply_without_a_usable_channel_fails_with_a_reason => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let conv = format!("/api/v1/workspaces/{}/conversations/{}", acme.global, acme.conversation);
        let agent = acme.token(Role::Agent);
        // The fixture's only Mastodon channel needs reconnecting.
        let r = app.post(&format!("{conv}/replies"), json!({"body": "Hello"}), &agent).await;
        assert_eq!(r.status, 201, "{}", r.text);
        app.app.run_due_jobs().await.unwrap();
        let list = app.get(&format!("{conv}/replies"), &agent).await.body;
        let reply = &list["replies"][0];
        assert_eq!(reply["status"], "failed");
        assert!(reply["error"].as_str().unwrap().contains("reconnect"), "{reply}");
        let detail = app.get(&conv, &agent).await.body;
        assert_eq!(events_of(&detail, "reply_failed").len(), 1);
        let mut c = app.app.store.read().await.unwrap();
        assert!(switchboard_store::inbox_work::first_response_at(&mut c, &acme.conversation).await.unwrap().is_none());
        drop(c);

        // The request is checked before anything is queued.
        for (body, field) in [
            (json!({}), "body"),
            (json!({"body": "x", "saved_reply": acme.saved_reply}), "body"),
            (json!({"body": "   "}), "body"),
            (json!({"saved_reply": switchboard_store::new_id()}), "saved_reply"),
        ] {
            let bad = app.post(&format!("{conv}/replies"), body.clone(), &agent).await;
            assert_eq!((bad.status.as_u16(), bad.error_field()), (422, field), "{body}: {}", bad.text);
        }
        assert_eq!(app.get(&format!("{conv}/replies"), &agent).await.body["replies"].as_array().unwrap().len(), 1);
    };

    notes_mention_members_and_appear_in_the_timeline => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let conv = format!("/api/v1/workspaces/{}/conversations/{}", acme.global, acme.conversation);
        let agent = acme.token(Role::Agent);
        let note = app.post(&format!("{conv}/notes"),
            json!({"body": "@Manager can you refund? cc @owner@acme.example, not @ambassador, @nobody or @kim@example.social"}),
            &agent).await;
        assert_eq!(note.status, 201, "{}", note.text);
        let mut mentions: Vec<String> = note.body["mentions"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        mentions.sort();
        let mut want = vec![acme.user_id(Role::Manager), acme.user_id(Role::Owner)];
        want.sort();
        assert_eq!(mentions, want, "the ambassador cannot read the inbox; the others are not members");

        let viewer = acme.token(Role::Viewer);
        assert_eq!(app.post(&format!("{conv}/notes"), json!({"body": "hi"}), &viewer).await.status, 403);
        let bad = app.post(&format!("{conv}/notes"), json!({"body": " "}), &agent).await;
        assert_eq!((bad.status.as_u16(), bad.error_field()), (422, "body"));

        let detail = app.get(&conv, &viewer).await;
        assert_eq!(detail.status, 200);
        let notes = events_of(&detail.body, "note");
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0]["actor"], "agent@acme.example");
        assert!(notes[0]["data"]["body"].as_str().unwrap().starts_with("@Manager can you refund?"));
        assert_eq!(notes[0]["data"]["mentions"].as_array().unwrap().len(), 2);
        let listed = app.get(&format!("{conv}/notes"), &viewer).await;
        assert_eq!(listed.body["notes"][0]["id"], note.body["id"]);
    };

    presence_shows_who_else_is_viewing_or_replying => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let presence = format!("/api/v1/workspaces/{}/conversations/{}/presence", acme.global, acme.conversation);
        let agent = acme.token(Role::Agent);
        let viewer = acme.token(Role::Viewer);
        let first = app.post(&presence, json!({"state": "replying"}), &agent).await;
        assert_eq!(first.status, 200, "{}", first.text);
        assert_eq!(first.body["others"], json!([]));
        // A viewer may view but not claim to be replying.
        assert_eq!(app.post(&presence, json!({"state": "replying"}), &viewer).await.status, 403);
        let bad = app.post(&presence, json!({"state": "typing"}), &viewer).await;
        assert_eq!((bad.status.as_u16(), bad.error_field()), (422, "state"));
        let seen = app.post(&presence, json!({"state": "viewing"}), &viewer).await;
        let others = seen.body["others"].as_array().unwrap();
        assert_eq!(others.len(), 1, "{}", seen.text);
        assert_eq!((others[0]["email"].as_str(), others[0]["state"].as_str()), (Some("agent@acme.example"), Some("replying")));
        let from_agent = app.get(&presence, &agent).await;
        assert_eq!(from_agent.body["others"][0]["email"], "viewer@acme.example");
        assert_eq!(from_agent.body["others"].as_array().unwrap().len(), 1);
        // The ambassador cannot read the inbox.
        assert_eq!(app.get(&presence, &acme.token(Role::Ambassador)).await.status, 403);

        // A second server on the same database sees the same people (presence is stored).
        let other = switchboard_service::App::new(app.app.store.clone(), Default::default());
        let manager = app.app.user_by_email("manager@acme.example").await.unwrap();
        let actor = switchboard_service::Actor::User(manager.clone());
        let there = other.set_presence(&actor, &acme.global, &acme.conversation,
            serde_json::from_value(json!({"state": "viewing"})).unwrap()).await.unwrap();
        let mut emails: Vec<String> = there.iter().map(|p| p.email.clone()).collect();
        emails.sort();
        assert_eq!(emails, ["agent@acme.example", "viewer@acme.example"]);
        let from_first = app.get(&presence, &agent).await.body;
        assert!(from_first["others"].as_array().unwrap().iter().any(|p| p["email"] == "manager@acme.example"), "{from_first}");
        // A heartbeat older than 30 seconds no longer counts.
        let mut tx = app.app.store.write().await.unwrap();
        sqlx::query("UPDATE conversation_presence SET seen_at = '2026-01-01T00:00:00.000Z' WHERE user_id = $1").bind(&manager.id).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        let later = app.get(&presence, &agent).await.body;
        assert!(!later["others"].as_array().unwrap().iter().any(|p| p["email"] == "manager@acme.example"), "{later}");
    };

    saved_replies_are_checked_and_edited_by_inbox_managers => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let base = format!("/api/v1/workspaces/{}/saved-replies", acme.global);
        let manager = acme.token(Role::Manager);
        for body in ["Hi {{customer}}", "Hi {{author", ""] {
            let bad = app.post(&base, json!({"name": "Bad", "body": body}), &manager).await;
            assert_eq!((bad.status.as_u16(), bad.error_field()), (422, "body"), "{body}: {}", bad.text);
        }
        let unknown = app.post(&base, json!({"name": "Bad", "body": "Hi {{customer}}"}), &manager).await;
        assert!(unknown.text.contains("{{customer}}"), "{}", unknown.text);
        assert_eq!(app.post(&base, json!({"name": "Agentish", "body": "Hi"}), &acme.token(Role::Agent)).await.status, 403);

        let made = app.post(&base, json!({"name": "Refund", "body": "Hi {{author_name}}, {{ agent }} from {{workspace}} here."}), &manager).await;
        assert_eq!(made.status, 201, "{}", made.text);
        let id = made.body["id"].as_str().unwrap().to_string();
        let dup = app.post(&base, json!({"name": "Refund", "body": "x"}), &manager).await;
        assert_eq!((dup.status.as_u16(), dup.error_field()), (409, "name"), "{}", dup.text);

        let list = app.get(&base, &acme.token(Role::Viewer)).await;
        assert_eq!(list.status, 200);
        let names: Vec<&str> = list.body["saved_replies"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Refund", "Thanks"]);

        let bad = app.patch(&format!("{base}/{id}"), json!({"body": "{{oops}}"}), &manager).await;
        assert_eq!((bad.status.as_u16(), bad.error_field()), (422, "body"));
        assert_eq!(app.patch(&format!("{base}/{id}"), json!({"name": "x"}), &acme.token(Role::Viewer)).await.status, 403);
        let patched = app.patch(&format!("{base}/{id}"), json!({"name": "Refunds"}), &manager).await;
        assert_eq!((patched.status.as_u16(), patched.body["name"].as_str()), (200, Some("Refunds")));

        // Rendered for the conversation's customer, the acting agent and the workspace.
        let conv = format!("/api/v1/workspaces/{}/conversations/{}", acme.global, acme.conversation);
        let r = app.post(&format!("{conv}/replies"), json!({"saved_reply": id}), &manager).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let manager_user = app.app.user_by_email("manager@acme.example").await.unwrap();
        assert_eq!(r.body["body"], format!("Hi Kim, {} from Global here.", manager_user.name).as_str());

        assert_eq!(app.delete(&format!("{base}/{id}"), &manager).await.status, 204);
        assert_eq!(app.get(&format!("{base}/{id}"), &manager).await.status, 404);
    };

    a_refused_token_fails_the_reply_and_asks_for_a_reconnect => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let (url, mastodon) = instance().await;
        let admin = acme.token(Role::Admin);
        let created = app.post(&format!("/api/v1/workspaces/{}/channels", acme.global),
            json!({"network": "mastodon", "name": "Acme on Mastodon", "base_url": url, "access_token": "good-token"}),
            &admin).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let channel = created.body["id"].as_str().unwrap().to_string();
        mastodon.lock().unwrap().revoked = true;
        let conv = format!("/api/v1/workspaces/{}/conversations/{}", acme.global, acme.conversation);
        let agent = acme.token(Role::Agent);
        let r = app.post(&format!("{conv}/replies"), json!({"body": "Hello", "idempotency_key": "r1"}), &agent).await;
        assert_eq!(r.status, 201, "{}", r.text);
        app.app.run_due_jobs().await.unwrap();
        let reply = &app.get(&format!("{conv}/replies"), &agent).await.body["replies"][0];
        assert_eq!(reply["status"], "failed", "{reply}");
        assert!(reply["error"].as_str().unwrap().contains("revoked"), "{reply}");
        let list = app.get(&format!("/api/v1/workspaces/{}/channels", acme.global), &admin).await;
        let ch = list.body["channels"].as_array().unwrap().iter().find(|c| c["id"] == channel.as_str()).cloned().unwrap();
        assert_eq!(ch["status"], "needs_reconnect", "{ch}");
    };
}
