//! Outbound webhooks against a local receiver: signed deliveries, retries with backoff,
//! Slack's format, permissions and validation. The worker is driven by calling
//! `run_due_jobs` directly, never by sleeping.

use crate::api_test;
use crate::helpers::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use switchboard_core::Role;
use switchboard_service::webhook;

/// Records every request and answers with the queued statuses, then 200.
#[derive(Default)]
struct Receiver {
    answers: VecDeque<u16>,
    got: Vec<(HeaderMap, Bytes)>,
}

type Shared = Arc<Mutex<Receiver>>;

async fn hook(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let mut r = s.lock().unwrap();
    r.got.push((headers, body));
    let status = r.answers.pop_front().unwrap_or(200);
    (
        StatusCode::from_u16(status).unwrap(),
        format!("answered {status}"),
    )
}

async fn receiver(answers: &[u16]) -> (String, Shared) {
    let shared: Shared = Arc::new(Mutex::new(Receiver {
        answers: answers.iter().copied().collect(),
        got: Vec::new(),
    }));
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, shared)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Checks the request's signature the way a receiver would.
fn verify(secret: &str, h: &HeaderMap, body: &[u8]) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    webhook::verify(
        secret,
        header(h, webhook::TIMESTAMP_HEADER),
        header(h, webhook::SIGNATURE_HEADER),
        body,
        now,
        300,
    )
    .expect("the signature verifies with the secret returned at creation");
}

async fn deliveries(app: &TestApp, ws: &str, id: &str, auth: &Auth) -> Vec<Value> {
    let res = app
        .get(
            &format!("/api/v1/workspaces/{ws}/webhooks/{id}/deliveries"),
            auth,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["deliveries"].as_array().unwrap().clone()
}

/// Makes a queued delivery due now (as if its backoff had passed).
async fn due_now(app: &TestApp, delivery: &Value) {
    let mut tx = app.app.store.write().await.unwrap();
    let moved = switchboard_store::jobs::set_run_at(
        &mut tx,
        delivery["job_id"].as_str().unwrap(),
        &switchboard_store::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(moved, "the job was queued: {delivery}");
}

api_test! {
    test_event_is_delivered_once_signed_and_emit_dedupes => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let admin = acme.token(Role::Admin);
        let (url, rx) = receiver(&[]).await;
        let hooks = format!("/api/v1/workspaces/{}/webhooks", acme.global);
        let created = app.post(&hooks, json!({"name": "Ops", "url": url, "events": ["alert.*"]}), &admin).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.body["id"].as_str().unwrap().to_string();
        let secret = created.body["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_"));
        assert_eq!((created.body["format"].as_str(), created.body["events"].clone()), (Some("switchboard"), json!(["alert.*"])));
        let listed = app.get(&hooks, &admin).await;
        assert_eq!(listed.body["webhooks"].as_array().unwrap().len(), 2, "{}", listed.text);
        assert!(!listed.text.contains(&secret) && !listed.text.contains("secret"), "the secret is shown once");

        let queued = app.post(&format!("{hooks}/{id}/test"), json!({}), &admin).await;
        assert_eq!((queued.status.as_u16(), queued.body["status"].as_str(), queued.body["event"].as_str()), (202, Some("pending"), Some("webhook.test")), "{}", queued.text);
        assert!(rx.lock().unwrap().got.is_empty(), "nothing is sent before the worker runs");
        assert_eq!(app.app.run_due_jobs().await.unwrap(), 1);
        assert_eq!(app.app.run_due_jobs().await.unwrap(), 0, "done jobs are not run again");
        {
            let r = rx.lock().unwrap();
            assert_eq!(r.got.len(), 1);
            let (h, body) = &r.got[0];
            verify(&secret, h, body);
            assert_eq!(header(h, "x-switchboard-event"), Some("webhook.test"));
            assert_eq!(header(h, webhook::DELIVERY_HEADER), queued.body["id"].as_str());
            assert_eq!(header(h, "content-type"), Some("application/json"));
            let b: Value = serde_json::from_slice(body).unwrap();
            assert_eq!((b["id"].clone(), b["event"].as_str(), b["workspace_id"].as_str()), (queued.body["id"].clone(), Some("webhook.test"), Some(acme.global.as_str())));
            assert!(b["created_at"].as_str().unwrap().ends_with('Z'));
            assert!(b["data"]["summary"].as_str().unwrap().contains("Ops"), "{b}");
            assert!(webhook::verify("whsec_wrong", header(h, webhook::TIMESTAMP_HEADER), header(h, webhook::SIGNATURE_HEADER), body, time::OffsetDateTime::now_utc().unix_timestamp(), 300).is_err());
        }
        let ds = deliveries(&app, &acme.global, &id, &admin).await;
        assert_eq!(ds.len(), 1);
        assert_eq!((ds[0]["status"].as_str(), ds[0]["attempts"].as_i64(), ds[0]["last_status"].as_i64()), (Some("delivered"), Some(1), Some(200)));
        assert!(ds[0]["delivered_at"].is_string() && ds[0]["last_error"].is_null() && ds[0]["next_attempt_at"].is_null());

        // An event raised twice (the same dedupe key) in the callers' transactions: one delivery.
        for _ in 0..2 {
            let mut tx = app.app.store.write().await.unwrap();
            switchboard_service::outbound::emit(&mut tx, &acme.global, "alert.spike", "rule-1:2026-11-20T10", json!({"summary": "Mentions tripled"})).await.unwrap();
            switchboard_service::outbound::emit(&mut tx, &acme.global, "publish.done", "p-1", json!({})).await.unwrap();
            tx.commit().await.unwrap();
        }
        // Emitted and rolled back: nothing.
        let mut tx = app.app.store.write().await.unwrap();
        let added = switchboard_service::outbound::emit(&mut tx, &acme.global, "alert.spike", "rolled-back", json!({})).await.unwrap();
        assert_eq!(added.len(), 1);
        tx.rollback().await.unwrap();
        assert_eq!(app.app.run_due_jobs().await.unwrap(), 1, "one subscribed webhook, one occurrence");
        {
            let r = rx.lock().unwrap();
            assert_eq!(r.got.len(), 2);
            let (h, body) = &r.got[1];
            verify(&secret, h, body);
            assert_eq!(header(h, "x-switchboard-event"), Some("alert.spike"));
            let b: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(b["data"], json!({"summary": "Mentions tripled"}));
        }
        let ds = deliveries(&app, &acme.global, &id, &admin).await;
        assert_eq!(ds.iter().map(|d| d["event"].as_str().unwrap()).collect::<Vec<_>>(), ["alert.spike", "webhook.test"], "newest first; the fixture's webhook and other events are untouched");
    };

    failed_attempts_are_retried_with_backoff_and_recorded => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let admin = acme.token(Role::Owner);
        let (url, rx) = receiver(&[500]).await;
        let hooks = format!("/api/v1/workspaces/{}/webhooks", acme.global);
        let created = app.post(&hooks, json!({"name": "Flaky", "url": url}), &admin).await;
        let id = created.body["id"].as_str().unwrap().to_string();
        let secret = created.body["secret"].as_str().unwrap().to_string();
        app.post(&format!("{hooks}/{id}/test"), json!({}), &admin).await;

        let before = time::OffsetDateTime::now_utc();
        assert_eq!(app.app.run_due_jobs().await.unwrap(), 1);
        let d = deliveries(&app, &acme.global, &id, &admin).await.remove(0);
        assert_eq!((d["status"].as_str(), d["attempts"].as_i64(), d["last_status"].as_i64()), (Some("retrying"), Some(1), Some(500)), "{d}");
        assert!(d["last_error"].as_str().unwrap().contains("HTTP 500") && d["last_error"].as_str().unwrap().contains("answered 500"), "{d}");
        // Stored timestamps sort as text.
        let after = time::OffsetDateTime::now_utc();
        let next = d["next_attempt_at"].as_str().unwrap();
        let (lo, hi) = (switchboard_store::timestamp(before + time::Duration::seconds(30)), switchboard_store::timestamp(after + time::Duration::seconds(30)));
        assert!(lo.as_str() <= next && next <= hi.as_str(), "first retry after 30 s: {lo} <= {next} <= {hi}");
        assert_eq!(app.app.run_due_jobs().await.unwrap(), 0, "not due yet");

        due_now(&app, &d).await;
        assert_eq!(app.app.run_due_jobs().await.unwrap(), 1);
        let d2 = deliveries(&app, &acme.global, &id, &admin).await.remove(0);
        assert_eq!((d2["status"].as_str(), d2["attempts"].as_i64(), d2["last_status"].as_i64()), (Some("delivered"), Some(2), Some(200)), "{d2}");
        assert!(d2["last_error"].is_null());
        {
            let r = rx.lock().unwrap();
            assert_eq!(r.got.len(), 2);
            assert_eq!(header(&r.got[0].0, webhook::DELIVERY_HEADER), header(&r.got[1].0, webhook::DELIVERY_HEADER), "one delivery id on every attempt");
            verify(&secret, &r.got[1].0, &r.got[1].1);
        }

        // A refusal (4xx other than 408/425/429) fails at once; retrying would not help.
        rx.lock().unwrap().answers.push_back(404);
        app.post(&format!("{hooks}/{id}/test"), json!({}), &admin).await;
        assert_eq!(app.app.run_due_jobs().await.unwrap(), 1);
        let d3 = deliveries(&app, &acme.global, &id, &admin).await.remove(0);
        assert_eq!((d3["status"].as_str(), d3["attempts"].as_i64(), d3["last_status"].as_i64()), (Some("failed"), Some(1), Some(404)), "{d3}");
        let mut c = app.app.store.read().await.unwrap();
        let job = switchboard_store::jobs::get(&mut c, d3["job_id"].as_str().unwrap()).await.unwrap().unwrap();
        assert_eq!(job.status, switchboard_store::jobs::JobStatus::Dead);
        drop(c);

        // A server that keeps failing: 8 attempts, then failed.
        rx.lock().unwrap().answers.extend([503; 8]);
        let queued = app.post(&format!("{hooks}/{id}/test"), json!({}), &admin).await;
        for attempt in 1..=8 {
            assert_eq!(app.app.run_due_jobs().await.unwrap(), 1, "attempt {attempt}");
            let d = deliveries(&app, &acme.global, &id, &admin).await.remove(0);
            assert_eq!(d["id"], queued.body["id"]);
            assert_eq!(d["attempts"].as_i64(), Some(attempt));
            if attempt < 8 {
                assert_eq!(d["status"], "retrying");
                due_now(&app, &d).await;
            } else {
                assert_eq!((d["status"].as_str(), d["last_status"].as_i64(), d["next_attempt_at"].is_null()), (Some("failed"), Some(503), true), "{d}");
            }
        }
        assert_eq!(app.app.run_due_jobs().await.unwrap(), 0);
        assert_eq!(rx.lock().unwrap().got.len(), 2 + 1 + 8);
    };

    unreachable_receivers_are_retried_with_the_error_recorded => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let admin = acme.token(Role::Admin);
        let hooks = format!("/api/v1/workspaces/{}/webhooks", acme.global);
        let test = app.post(&format!("{hooks}/{}/test", acme.webhook), json!({}), &admin).await;
        assert_eq!(test.status, 202, "the test reaches a webhook whatever its events: {}", test.text);
        assert_eq!(app.app.run_due_jobs().await.unwrap(), 1);
        let d = deliveries(&app, &acme.global, &acme.webhook, &admin).await.remove(0);
        assert_eq!((d["status"].as_str(), d["attempts"].as_i64(), d["last_status"].clone()), (Some("retrying"), Some(1), Value::Null), "{d}");
        let error = d["last_error"].as_str().unwrap();
        assert!(error.contains("onnect") && !error.contains("/hook"), "says why, without the URL (a Slack URL is a secret): {error}");
        assert!(d["next_attempt_at"].is_string());

        // Deleting the webhook drops what is queued for it.
        assert_eq!(app.delete(&format!("{hooks}/{}", acme.webhook), &admin).await.status, 204);
        let mut tx = app.app.store.write().await.unwrap();
        switchboard_store::jobs::set_run_at(&mut tx, d["job_id"].as_str().unwrap(), &switchboard_store::now()).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(app.app.run_due_jobs().await.unwrap(), 1);
        let mut c = app.app.store.read().await.unwrap();
        let job = switchboard_store::jobs::get(&mut c, d["job_id"].as_str().unwrap()).await.unwrap().unwrap();
        assert_eq!(job.status, switchboard_store::jobs::JobStatus::Done);
    };

    slack_webhooks_get_text_and_blocks => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let admin = acme.token(Role::Admin);
        let (url, rx) = receiver(&[]).await;
        let hooks = format!("/api/v1/workspaces/{}/webhooks", acme.global);
        let created = app.post(&hooks, json!({"name": "Slack #social", "url": url, "format": "slack", "events": ["alert.spike"]}), &admin).await;
        assert_eq!((created.status.as_u16(), created.body["format"].as_str()), (201, Some("slack")), "{}", created.text);
        let id = created.body["id"].as_str().unwrap();
        let secret = created.body["secret"].as_str().unwrap();
        let mut tx = app.app.store.write().await.unwrap();
        switchboard_service::outbound::emit(&mut tx, &acme.global, "alert.spike", "s-1", json!({"summary": "Mentions of *Acme Phone* up 300% <in 1 h>"})).await.unwrap();
        tx.commit().await.unwrap();
        app.post(&format!("{hooks}/{id}/test"), json!({}), &admin).await;
        assert_eq!(app.app.run_due_jobs().await.unwrap(), 2);
        let r = rx.lock().unwrap();
        assert_eq!(r.got.len(), 2);
        let mut texts = Vec::new();
        for (h, body) in &r.got {
            verify(secret, h, body);
            let b: Value = serde_json::from_slice(body).unwrap();
            assert!(b["text"].is_string() && b["blocks"].is_array(), "{b}");
            assert_eq!((b["blocks"][0]["type"].as_str(), b["blocks"][0]["text"]["type"].as_str(), b["blocks"][1]["type"].as_str()), (Some("section"), Some("mrkdwn"), Some("context")));
            assert!(b["blocks"][1]["elements"][0]["text"].as_str().unwrap().contains("Global"), "names the workspace: {b}");
            texts.push(b["text"].as_str().unwrap().to_string());
        }
        texts.sort();
        assert_eq!(texts[0], "Mentions of *Acme Phone* up 300% &lt;in 1 h&gt;");
        assert!(texts[1].starts_with("Test delivery"), "{texts:?}");
    };

    webhooks_need_integrations_manage_and_valid_input => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let admin = acme.token(Role::Admin);
        let hooks = format!("/api/v1/workspaces/{}/webhooks", acme.global);
        let hook = format!("{hooks}/{}", acme.webhook);
        let body = json!({"name": "Mine", "url": "https://hooks.example.com/x"});
        for role in [Role::Viewer, Role::Manager, Role::Agent, Role::Analyst] {
            let auth = acme.token(role);
            assert_eq!(app.get(&hooks, &auth).await.status, 403, "{role} lists");
            assert_eq!(app.post(&hooks, body.clone(), &auth).await.status, 403, "{role} creates");
            assert_eq!(app.get(&format!("{hook}/deliveries"), &auth).await.status, 403, "{role} reads deliveries");
            assert_eq!(app.post(&format!("{hook}/test"), json!({}), &auth).await.status, 403, "{role} tests");
            assert_eq!(app.delete(&hook, &auth).await.status, 403, "{role} deletes");
            let missing = format!("{hooks}/{}", switchboard_store::new_id());
            assert_eq!(app.delete(&missing, &auth).await.status, 404, "{role}: a missing webhook is not found");
        }
        // The child workspace's admins see the parent's webhooks only through the parent.
        let child_hook = format!("/api/v1/workspaces/{}/webhooks/{}/deliveries", acme.child, acme.webhook);
        assert_eq!(app.get(&child_hook, &admin).await.status, 404);

        for (bad, field) in [
            (json!({"name": "x", "url": "ftp://example.com"}), "url"),
            (json!({"name": "x", "url": "example.com/hook"}), "url"),
            (json!({"name": "x", "url": "http://"}), "url"),
            (json!({"name": "x"}), "url"),
            (json!({"name": " ", "url": "https://example.com"}), "name"),
            (json!({"name": "x", "url": "https://example.com", "format": "teams"}), "format"),
            (json!({"name": "x", "url": "https://example.com", "events": ["alert.spike", "Alert Spike"]}), "events[1]"),
            (json!({"name": "x", "url": "https://example.com", "secret": "mine"}), "secret"),
        ] {
            let res = app.post(&hooks, bad.clone(), &admin).await;
            assert_eq!((res.status.as_u16(), res.error_code(), res.error_field()), (422, "validation_failed", field), "{bad}: {}", res.text);
        }
        let dup = app.post(&hooks, json!({"name": "CRM", "url": "https://example.com"}), &admin).await;
        assert_eq!((dup.status.as_u16(), dup.error_field()), (409, "name"), "{}", dup.text);
        let q = app.get(&format!("{hook}/deliveries?limit=0"), &admin).await;
        assert_eq!((q.status.as_u16(), q.error_field()), (400, "limit"));

        let created = app.post(&hooks, body, &admin).await;
        assert_eq!(created.status, 201);
        let id = created.body["id"].as_str().unwrap();
        assert_eq!(app.delete(&format!("{hooks}/{id}"), &admin).await.status, 204);
        assert_eq!(app.get(&format!("{hooks}/{id}/deliveries"), &admin).await.status, 404);
        let audit = app.get(&format!("/api/v1/workspaces/{}/audit", acme.global), &admin).await;
        let actions: Vec<&str> = audit.body["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert!(actions.starts_with(&["webhook.delete", "webhook.create"]), "{actions:?}");
        assert!(!audit.text.contains("whsec_"), "the secret is not in the audit log");
    };
}
