//! Hand-off to a CRM or helpdesk: the conversation posted once, signed, to the webhooks that
//! subscribe to `inbox.handoff`, and the receiver's record id kept on the conversation.

use crate::api_test;
use crate::helpers::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use switchboard_core::Role;
use switchboard_service::webhook;

type Got = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A helpdesk that opens a ticket per request and answers its id and link.
async fn ticket(State(got): State<Got>, headers: HeaderMap, body: Bytes) -> Json<Value> {
    let mut g = got.lock().unwrap();
    g.push((headers, body));
    let n = 4710 + g.len();
    Json(json!({"id": n, "url": format!("https://help.example/tickets/{n}")}))
}

async fn helpdesk() -> (String, Got) {
    let got: Got = Arc::default();
    let app = Router::new()
        .route("/tickets", post(ticket))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/tickets", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

fn kinds(detail: &Value) -> Vec<String> {
    detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

api_test! {
    a_handoff_posts_the_conversation_once_and_records_the_ticket => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let admin = acme.token(Role::Admin);
        let agent = acme.token(Role::Agent);
        let conv = format!("/api/v1/workspaces/{}/conversations/{}", acme.global, acme.conversation);
        let (url, got) = helpdesk().await;
        let created = app.post(&format!("/api/v1/workspaces/{}/webhooks", acme.global),
            json!({"name": "Helpdesk", "url": url, "events": ["inbox.*"]}), &admin).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let secret = created.body["secret"].as_str().unwrap().to_string();

        // A viewer reads but does not hand off.
        let denied = app.post(&format!("{conv}/handoffs"), json!({"webhook": "Helpdesk"}), &acme.token(Role::Viewer)).await;
        assert_eq!(denied.status, 403, "{}", denied.text);
        let unknown = app.post(&format!("{conv}/handoffs"), json!({"webhook": "Zendesk"}), &agent).await;
        assert_eq!((unknown.status.as_u16(), unknown.error_field()), (422, "webhook"), "{}", unknown.text);
        let long = app.post(&format!("{conv}/handoffs"), json!({"note": "x".repeat(2001)}), &agent).await;
        assert_eq!((long.status.as_u16(), long.error_field()), (422, "note"), "{}", long.text);

        let first = app.post(&format!("{conv}/handoffs"), json!({"webhook": "helpdesk", "note": "Refund please"}), &agent).await;
        assert_eq!(first.status, 202, "{}", first.text);
        let h = &first.body["handoffs"][0];
        assert_eq!((h["status"].as_str(), h["webhook_name"].as_str(), h["note"].as_str()), (Some("pending"), Some("Helpdesk"), Some("Refund please")));
        // Pressed again before it went out: the same hand-off, nothing new queued.
        let again = app.post(&format!("{conv}/handoffs"), json!({"webhook": "Helpdesk"}), &agent).await;
        assert_eq!(again.status, 202, "{}", again.text);
        assert_eq!(again.body["handoffs"][0]["id"], h["id"]);

        app.app.run_due_jobs().await.unwrap();
        app.app.run_due_jobs().await.unwrap();
        {
            let got = got.lock().unwrap();
            assert_eq!(got.len(), 1, "posted once");
            let (headers, body) = &got[0];
            let hv = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
            webhook::verify(&secret, hv(webhook::TIMESTAMP_HEADER), hv(webhook::SIGNATURE_HEADER), body,
                time::OffsetDateTime::now_utc().unix_timestamp(), 300).expect("signed with the webhook's secret");
            assert_eq!(hv("x-switchboard-event"), Some("inbox.handoff"));
            let b: Value = serde_json::from_slice(body).unwrap();
            let data = &b["data"];
            assert_eq!(data["conversation"]["id"], acme.conversation.as_str());
            assert_eq!(data["handoff_id"], h["id"]);
            assert_eq!(data["note"], "Refund please");
            assert_eq!(data["conversation"]["team"]["name"], "Support", "{data}");
            assert!(!data["items"].as_array().unwrap().is_empty(), "the thread goes along: {data}");
            assert_eq!(data["customer"]["handle"], data["items"][0]["author"]["handle"]);
            assert!(data["customer"]["handle"].is_string(), "{data}");
        }
        let list = app.get(&format!("{conv}/handoffs"), &acme.token(Role::Viewer)).await;
        assert_eq!(list.status, 200, "{}", list.text);
        let done = &list.body["handoffs"][0];
        assert_eq!((done["status"].as_str(), done["remote_id"].as_str(), done["remote_url"].as_str()),
            (Some("delivered"), Some("4711"), Some("https://help.example/tickets/4711")));
        let detail = app.get(&conv, &agent).await.body;
        let k = kinds(&detail);
        assert!(k.contains(&"handoff".to_string()) && k.contains(&"handed_off".to_string()), "{k:?}");
        let handed = detail["events"].as_array().unwrap().iter().find(|e| e["kind"] == "handed_off").unwrap();
        assert_eq!(handed["data"]["remote_id"], "4711");

        // Delivered: handing off again sends an update, a second ticket here.
        let update = app.post(&format!("{conv}/handoffs"), json!({"webhook": "Helpdesk"}), &agent).await;
        assert_eq!(update.status, 202);
        assert_ne!(update.body["handoffs"][0]["id"], h["id"]);
        app.app.run_due_jobs().await.unwrap();
        assert_eq!(got.lock().unwrap().len(), 2);
    };

    a_handoff_nobody_can_receive_is_refused_and_a_failed_one_says_why => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let admin = acme.token(Role::Admin);
        let agent = acme.token(Role::Agent);
        let conv = format!("/api/v1/workspaces/{}/conversations/{}", acme.global, acme.conversation);
        // The fixture's CRM webhook points at a closed port; a receiver that rejects the
        // request (4xx) fails the hand-off at once.
        let (url, _) = helpdesk().await;
        let rejecting = app.post(&format!("/api/v1/workspaces/{}/webhooks", acme.global),
            json!({"name": "Old CRM", "url": url.replace("/tickets", "/gone"), "events": ["inbox.handoff"]}), &admin).await;
        assert_eq!(rejecting.status, 201, "{}", rejecting.text);
        let r = app.post(&format!("{conv}/handoffs"), json!({}), &agent).await;
        assert_eq!(r.status, 202, "{}", r.text);
        let names: Vec<&str> = r.body["handoffs"].as_array().unwrap().iter().map(|h| h["webhook_name"].as_str().unwrap()).collect();
        assert_eq!(names, ["CRM", "Old CRM"], "every subscribed webhook");
        app.app.run_due_jobs().await.unwrap();
        let list = app.get(&format!("{conv}/handoffs"), &agent).await.body;
        let by = |name: &str| list["handoffs"].as_array().unwrap().iter().find(|h| h["webhook_name"] == name).unwrap().clone();
        let old = by("Old CRM");
        assert_eq!(old["status"], "failed");
        assert!(old["error"].as_str().unwrap().contains("404"), "{old}");
        assert_eq!(by("CRM")["status"], "pending", "a closed port is retried later");
        let detail = app.get(&conv, &agent).await.body;
        assert!(kinds(&detail).contains(&"handoff_failed".to_string()));

        // Without any subscribed webhook the agent is told what to set up.
        for hook in app.get(&format!("/api/v1/workspaces/{}/webhooks", acme.global), &admin).await.body["webhooks"].as_array().unwrap() {
            let del = app.delete(&format!("/api/v1/workspaces/{}/webhooks/{}", acme.global, hook["id"].as_str().unwrap()), &admin).await;
            assert_eq!(del.status, 204);
        }
        let none = app.post(&format!("{conv}/handoffs"), json!({}), &agent).await;
        assert_eq!((none.status.as_u16(), none.error_field()), (422, "webhook"), "{}", none.text);
        assert!(none.text.contains("inbox.handoff"), "{}", none.text);
    };
}
