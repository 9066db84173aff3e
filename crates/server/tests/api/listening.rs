//! Listening through the API: search with highlights and cursors, query errors with their
//! column, topics, analytics in a time zone, share of voice, and a complaint spike after a
//! release that raises one signed alert.

use crate::api_test;
use crate::helpers::*;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use switchboard_core::Role;
use switchboard_service::webhook;

/// What a local webhook receiver got.
type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

fn item_at(external_id: &str, text: &str, at: &str) -> switchboard_core::NewItem {
    let mut i = sample_item(external_id, text);
    i.created_at = at.to_string();
    i
}

async fn store(app: &TestApp, ws: &str, items: Vec<switchboard_core::NewItem>) {
    let writes = items.into_iter().map(|i| app.app.prepare(i)).collect();
    app.app.store_items(ws, writes).await.unwrap();
}

fn stamp(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(switchboard_store::timestamp)
        .unwrap()
}

fn ids(r: &Resp) -> Vec<String> {
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["external_id"].as_str().unwrap().to_string())
        .collect()
}

api_test! {
    search_finds_items_newest_first_highlights_them_and_pages_with_a_cursor => |app: TestApp| async move {
        let org = app.org("acme").await;
        store(&app, &org.global, vec![
            item_at("a", "Login fails after the update", "2026-11-21T08:00:00Z"),
            item_at("b", "Cannot LOGIN on Android", "2026-11-21T09:00:00Z"),
            item_at("c", "Great delivery, thanks", "2026-11-21T10:00:00Z"),
            item_at("d", "배송이 너무 늦어요", "2026-11-21T11:00:00Z"),
            item_at("e", "login again? still broken", "2026-11-21T12:00:00Z"),
        ]).await;
        let viewer = org.token(Role::Viewer);
        let base = format!("/api/v1/workspaces/{}/search", org.global);
        let r = app.get(&format!("{base}?q=login"), &viewer).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["total"], 3);
        assert_eq!(ids(&r), ["e", "b", "a"]);
        assert_eq!(r.body["items"][1]["highlights"], json!([[7, 12]]), "LOGIN in 'Cannot LOGIN on Android'");

        let r = app.get(&format!("{base}?q=배송"), &viewer).await;
        assert_eq!(ids(&r), ["d"]);

        let mut seen = Vec::new();
        let mut url = format!("{base}?q=login&limit=2");
        loop {
            let r = app.get(&url, &viewer).await;
            assert_eq!(r.status, 200, "{}", r.text);
            seen.extend(ids(&r));
            match r.body["next_cursor"].as_str() {
                Some(c) => url = format!("{base}?q=login&limit=2&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(seen, ["e", "b", "a"]);

        // Newly stored and updated items are searchable at once, the old text gone.
        store(&app, &org.global, vec![item_at("c", "Login page is fine now", "2026-11-21T10:00:00Z")]).await;
        let r = app.get(&format!("{base}?q=login%20-again"), &viewer).await;
        assert_eq!(ids(&r), ["c", "b", "a"]);
        let r = app.get(&format!("{base}?q=delivery"), &viewer).await;
        assert_eq!(r.body["total"], 0);

        // The centre of excellence hears its children; a child does not hear its parent.
        store(&app, &org.child, vec![item_at("kid", "login from the region", "2026-11-21T13:00:00Z")]).await;
        let r = app.get(&format!("{base}?q=region"), &viewer).await;
        assert_eq!(ids(&r), ["kid"]);
        let r = app.get(&format!("/api/v1/workspaces/{}/search?q=android", org.child), &viewer).await;
        assert_eq!(r.body["total"], 0);
    };

    a_query_syntax_error_answers_400_with_its_column => |app: TestApp| async move {
        let org = app.org("acme").await;
        let r = app.get(&format!("/api/v1/workspaces/{}/search?q=refund%20AND%20(late", org.global), &org.token(Role::Viewer)).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.error_code(), "query_syntax");
        assert_eq!(r.error_field(), "q");
        assert_eq!(r.body["error"]["position"], 12);
        assert!(r.body["error"]["message"].as_str().unwrap().contains("unclosed parenthesis"));
        let r = app.get(&format!("/api/v1/workspaces/{}/search?q=x&sort=old", org.global), &org.token(Role::Viewer)).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (400, "sort"));
    };

    topics_are_validated_and_need_listening_manage => |app: TestApp| async move {
        let org = app.org("acme").await;
        let path = format!("/api/v1/workspaces/{}/topics", org.global);
        let r = app.post(&path, json!({"name": "Globex", "kind": "competitor", "query": "globex OR"}), &org.token(Role::Analyst)).await;
        assert_eq!((r.status.as_u16(), r.error_code(), r.error_field()), (400, "query_syntax", "query"), "{}", r.text);
        let r = app.post(&path, json!({"name": "Globex", "kind": "competitor", "query": "globex"}), &org.token(Role::Viewer)).await;
        assert_eq!(r.status, 403);
        let r = app.post(&path, json!({"name": "Globex", "kind": "rival", "query": "globex"}), &org.token(Role::Analyst)).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (422, "kind"), "{}", r.text);
        let r = app.post(&path, json!({"name": "Globex", "kind": "competitor", "query": "globex"}), &org.token(Role::Analyst)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.body["id"].as_str().unwrap().to_string();
        let r = app.post(&path, json!({"name": "Globex", "query": "globex"}), &org.token(Role::Analyst)).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (409, "name"), "{}", r.text);
        let r = app.patch(&format!("{path}/{id}"), json!({"name": "Globex", "kind": "competitor", "query": "globex OR initech"}), &org.token(Role::Analyst)).await;
        assert_eq!(r.body["query"], "globex OR initech");
        let list = app.get(&path, &org.token(Role::Viewer)).await;
        assert_eq!(list.body["topics"].as_array().unwrap().len(), 2);
        assert_eq!(app.delete(&format!("{path}/{id}"), &org.token(Role::Viewer)).await.status, 403);
        assert_eq!(app.delete(&format!("{path}/{id}"), &org.token(Role::Analyst)).await.status, 204);
    };

    analytics_bucket_in_the_users_time_zone_and_find_unusual_terms => |app: TestApp| async move {
        let org = app.org("acme").await;
        let mut items = Vec::new();
        // Background: ordinary mentions over two days.
        for i in 0..30 {
            items.push(item_at(&format!("bg{i}"), "I like the app and the shop", &format!("2026-11-18T{:02}:10:00Z", i % 24)));
        }
        // The rest of what the workspace hears: the background the terms stand out against.
        for i in 0..40 {
            items.push(item_at(&format!("other{i}"), "Nice weather for shopping, the shop is open", &format!("2026-11-1{}T12:{:02}:00Z", 5 + i % 5, i)));
        }
        // 23:30 UTC on the 19th is already the 20th in Berlin.
        items.push(item_at("late", "The app crashes at checkout, terrible", "2026-11-19T23:30:00Z"));
        for i in 0..6 {
            items.push(item_at(&format!("crash{i}"), "The app crashes at checkout, terrible", &format!("2026-11-20T0{i}:30:00Z")));
        }
        store(&app, &org.global, items).await;
        let base = format!("/api/v1/workspaces/{}/analytics?q=app&from=2026-11-18&to=2026-11-21&interval=day", org.global);
        let r = app.get(&format!("{base}&tz=Europe/Berlin"), &org.token(Role::Viewer)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let buckets: Vec<(String, u64, u64)> = r.body["buckets"].as_array().unwrap().iter()
            .map(|b| (b["start"].as_str().unwrap().to_string(), b["total"].as_u64().unwrap(), b["negative"].as_u64().unwrap()))
            .collect();
        // The fixture's own German complaint (10:00 UTC on the 20th) counts too.
        assert_eq!(buckets[2], ("2026-11-20T00:00:00+01:00".to_string(), 8, 8), "{buckets:?}");
        assert_eq!(buckets.len(), 4, "{buckets:?}");
        let total: u64 = buckets.iter().map(|b| b.1).sum();
        assert_eq!(total, 38);
        let terms: Vec<&str> = r.body["top_terms"].as_array().unwrap().iter().map(|t| t["term"].as_str().unwrap()).collect();
        assert!(terms.contains(&"crashes") && terms.contains(&"checkout"), "{terms:?}");
        assert!(!terms.contains(&"app"), "the query's own word is not news: {terms:?}");
        let r = app.get(&format!("{base}&tz=UTC"), &org.token(Role::Viewer)).await;
        let b = r.body["buckets"].as_array().unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!((b[2]["start"].as_str().unwrap(), b[2]["total"].as_u64().unwrap()), ("2026-11-20T00:00:00+00:00", 7));
        let r = app.get(&format!("{base}&tz=Mars/Olympus"), &org.token(Role::Viewer)).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (422, "tz"));
        let r = app.get(&format!("/api/v1/workspaces/{}/analytics?q=app&from=2026-11-21&to=2026-11-18", org.global), &org.token(Role::Viewer)).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (422, "from"));
    };

    share_of_voice_compares_topics => |app: TestApp| async move {
        let org = app.org("acme").await;
        store(&app, &org.global, vec![
            item_at("1", "acme is great", "2026-11-20T08:00:00Z"),
            item_at("2", "acme again", "2026-11-20T09:00:00Z"),
            item_at("3", "acme or globex?", "2026-11-20T10:00:00Z"),
            item_at("4", "globex only", "2026-11-20T11:00:00Z"),
        ]).await;
        let path = format!("/api/v1/workspaces/{}/topics", org.global);
        let a = app.post(&path, json!({"name": "Acme", "kind": "brand", "query": "acme"}), &org.token(Role::Analyst)).await.body["id"].as_str().unwrap().to_string();
        let g = app.post(&path, json!({"name": "Globex", "kind": "competitor", "query": "globex"}), &org.token(Role::Analyst)).await.body["id"].as_str().unwrap().to_string();
        let r = app.get(&format!("/api/v1/workspaces/{}/share-of-voice?topics={a},{g}&from=2026-11-19&to=2026-11-21", org.global), &org.token(Role::Viewer)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let t = &r.body["topics"];
        assert_eq!((t[0]["count"].as_u64(), t[0]["share"].as_f64()), (Some(3), Some(60.0)));
        assert_eq!((t[1]["count"].as_u64(), t[1]["share"].as_f64()), (Some(2), Some(40.0)));
        assert_eq!(t[0]["series"].as_array().unwrap().len(), 2);
    };

    a_complaint_surge_after_a_release_raises_one_signed_alert => |app: TestApp| async move {
        let org = app.org("acme").await;
        let received: Received = Arc::default();
        let router = Router::new()
            .route("/hook", post(|State(s): State<Received>, h: HeaderMap, b: Bytes| async move {
                s.lock().unwrap().push((h, b));
                "ok"
            }))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let admin = org.token(Role::Admin);
        let hook = app.post(&format!("/api/v1/workspaces/{}/webhooks", org.global), json!({"name": "alerts", "url": url, "events": ["alert.*"]}), &admin).await;
        assert_eq!(hook.status, 201, "{}", hook.text);
        let secret = hook.body["secret"].as_str().unwrap().to_string();

        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let hour = now.div_euclid(3600) * 3600;
        let release = hour - 30 * 3600;
        let r = app.post(&format!("/api/v1/workspaces/{}/annotations", org.global), json!({"title": "App 4.2 release", "kind": "release", "at": stamp(release)}), &org.token(Role::Analyst)).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let mut items = Vec::new();
        // A week of ordinary mentions of the app, two or three an hour.
        for h in 0..7 * 24 {
            let t = hour - (7 * 24 - h) * 3600;
            for k in 0..(2 + h % 2) {
                items.push(item_at(&format!("n{h}-{k}"), "Die App funktioniert gut, danke", &stamp(t + 60 * k)));
            }
        }
        // Two hours after the release: thirty complaints an hour for two hours.
        for h in 0..2 {
            for k in 0..30 {
                let t = release + (2 + h) * 3600 + 60 * k;
                items.push(item_at(&format!("c{h}-{k}"), "Seit dem Update stürzt die App beim Login ab, Absturz!", &stamp(t)));
            }
        }
        store(&app, &org.global, items).await;

        let report = app.app.scan_spikes(now).await.unwrap();
        assert_eq!(report.new_spikes, 1, "{report:?}");
        let spikes = app.get(&format!("/api/v1/workspaces/{}/spikes", org.global), &org.token(Role::Viewer)).await;
        let s = spikes.body["spikes"].as_array().unwrap().iter().find(|s| s["id"] != org.spike.as_str()).unwrap().clone();
        let summary = s["summary"].as_str().unwrap();
        assert_eq!(s["series"], "sentiment:negative", "{summary}");
        assert_eq!(s["window_start"].as_str().unwrap(), stamp(release + 2 * 3600));
        assert!(summary.contains("negative +"), "{summary}");
        assert!(summary.contains("2 h after 'App 4.2 release'"), "{summary}");
        assert!(summary.contains("absturz") && summary.contains("login"), "{summary}");
        assert!(summary.contains("complaint"), "{summary}");

        // Found again by the next scan: the same alert, not a new one.
        assert_eq!(app.app.scan_spikes(now + 60).await.unwrap().new_spikes, 0);
        app.app.run_due_jobs().await.unwrap();
        app.app.run_due_jobs().await.unwrap();
        let got = received.lock().unwrap().clone();
        assert_eq!(got.len(), 1, "one delivery for one spike");
        let (h, body) = &got[0];
        let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
        webhook::verify(&secret, get(webhook::TIMESTAMP_HEADER), get(webhook::SIGNATURE_HEADER), body, now, 300).unwrap();
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["event"], "alert.spike");
        assert_eq!(v["data"]["summary"], summary);

        let id = s["id"].as_str().unwrap();
        let ack = format!("/api/v1/workspaces/{}/spikes/{id}/acknowledge", org.global);
        assert_eq!(app.post(&ack, json!({}), &org.token(Role::Viewer)).await.status, 403);
        let r = app.post(&ack, json!({}), &org.token(Role::Analyst)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["acknowledged_by"], "analyst@acme.example");
    };

    intent_rules_written_as_listening_queries_tag_new_items => |app: TestApp| async move {
        let org = app.org("acme").await;
        let path = format!("/api/v1/workspaces/{}/dictionary", org.global);
        let analyst = org.token(Role::Analyst);
        let r = app.post(&path, json!({"kind": "intent", "label": "complaint", "query": "refund NEAR/3 (late"}), &analyst).await;
        assert_eq!((r.status.as_u16(), r.error_code(), r.error_field()), (400, "query_syntax", "query"), "{}", r.text);
        let r = app.post(&path, json!({"kind": "brand", "label": "Acme", "terms": ["Acme"], "query": "acme"}), &analyst).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (422, "query"), "{}", r.text);
        let r = app.post(&path, json!({"kind": "intent", "label": "recruiting", "query": "(praktikum OR werkstudent) lang:de"}), &analyst).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["query"], "(praktikum OR werkstudent) lang:de");
        let ws = org.global.clone();
        let enricher = app.app.workspace_enricher(&ws).await.unwrap();
        let writes = vec![
            enricher.prepare(item_at("p1", "Gibt es bei euch ein Praktikum im Marketing?", "2026-11-21T08:00:00Z")),
            enricher.prepare(item_at("p2", "Das Wetter ist schön heute", "2026-11-21T09:00:00Z")),
        ];
        app.app.store_items(&ws, writes).await.unwrap();
        let r = app.get(&format!("/api/v1/workspaces/{ws}/search?q=intent:recruiting"), &org.token(Role::Viewer)).await;
        assert_eq!(ids(&r), ["p1"], "{}", r.text);
    };
}
