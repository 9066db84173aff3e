//! SIGKILL the server in the middle of a webhook ingest load: every acknowledged item must
//! be there afterwards and the SQLite file must pass its integrity check.

mod common;

use common::{ok, run, serve};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn sigkill_during_webhook_ingest_loses_no_acknowledged_item() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let owner = [
        "user",
        "add",
        "--email",
        "boss@example.com",
        "--org",
        "acme",
        "--owner",
        "--password-stdin",
    ];
    ok(run(d, &owner, Some("a long password\n")));
    let ws = ok(run(
        d,
        &["workspace", "add", "--org", "acme", "--name", "Acme"],
        None,
    ));
    let ws: serde_json::Value = serde_json::from_str(&ws).unwrap();
    let ws_id = ws["id"].as_str().unwrap().to_string();
    let source = ["source", "add", "--workspace", "acme", "--name", "load"];
    let secret = ok(run(d, &source, None)).trim().to_string();

    let (mut server, base) = serve(d);

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for t in 0..4 {
        let (base, ws_id, secret, acked, stop) = (
            base.clone(),
            ws_id.clone(),
            secret.clone(),
            acknowledged.clone(),
            stop.clone(),
        );
        senders.push(std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let ids: Vec<String> = (0..25).map(|i| format!("t{t}-d{n}-i{i}")).collect();
                let body: String = ids
                    .iter()
                    .map(|id| format!("{{\"network\":\"mastodon\",\"external_id\":\"{id}\",\"kind\":\"mention\",\"author\":{{\"id\":\"1\"}},\"text\":\"Login geht nicht seit dem Update {id}\",\"created_at\":\"2026-11-20T10:00:00Z\"}}\n"))
                    .collect();
                let ts = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
                let sig = switchboard_service::webhook::sign(&secret, ts, body.as_bytes()).unwrap();
                let res = client
                    .post(format!("{base}/api/v1/workspaces/{ws_id}/ingest/load"))
                    .header("x-switchboard-timestamp", ts.to_string())
                    .header("x-switchboard-delivery", format!("t{t}-d{n}"))
                    .header("x-switchboard-signature", sig)
                    .body(body)
                    .send();
                match res {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().extend(ids),
                    Ok(r) => panic!("delivery refused: {}", r.status()),
                    Err(_) => return, // the server is gone
                }
                n += 1;
            }
        }));
    }
    // Let the load run, then kill the server without warning while deliveries are in flight.
    let start = Instant::now();
    while acknowledged.lock().unwrap().len() < 2_000 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.0.kill().unwrap(); // SIGKILL on Unix
    server.0.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.join().unwrap();
    }
    let acked = acknowledged.lock().unwrap().clone();
    assert!(
        acked.len() >= 100,
        "the load ran ({} acknowledged)",
        acked.len()
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = switchboard_store::Store::open(&switchboard_store::sqlite_url_for_dir(d))
            .await
            .unwrap();
        assert_eq!(store.integrity_check().await.unwrap(), "ok");
        let mut c = store.read().await.unwrap();
        let stored = switchboard_store::items::count(&mut c, &ws_id)
            .await
            .unwrap();
        assert!(
            stored as usize >= acked.len(),
            "stored {stored} < acknowledged {}",
            acked.len()
        );
        for id in &acked {
            assert!(
                switchboard_store::items::get_by_external(&mut c, &ws_id, "mastodon", id)
                    .await
                    .unwrap()
                    .is_some(),
                "acknowledged item {id} is missing after the crash"
            );
        }
    });
}
