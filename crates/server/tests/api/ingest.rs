use crate::api_test;
use crate::helpers::*;
use serde_json::json;
use switchboard_core::Role;
use switchboard_service::webhook::sign;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn deliver(
    app: &TestApp,
    path: &str,
    secret: &str,
    delivery: &str,
    ts: i64,
    body: &str,
) -> Resp {
    let sig = sign(secret, ts, body.as_bytes()).unwrap();
    let req = app
        .client
        .post(app.url(path))
        .header("x-switchboard-timestamp", ts.to_string())
        .header("x-switchboard-delivery", delivery)
        .header("x-switchboard-signature", sig)
        .header("content-type", "application/x-ndjson")
        .body(body.to_string());
    app.send(req).await
}

fn ndjson(items: &[(&str, &str)]) -> String {
    items
        .iter()
        .map(|(id, text)| serde_json::to_string(&sample_item(id, text)).unwrap() + "\n")
        .collect()
}

api_test! {
    signed_webhook_deliveries_are_verified_durable_and_replay_safe => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let admin = acme.token(Role::Admin);
        let created = app.post(&format!("/api/v1/workspaces/{}/ingest-sources", acme.global), json!({"name": "helpdesk"}), &admin).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let secret = created.body["secret"].as_str().unwrap().to_string();
        let listed = app.get(&format!("/api/v1/workspaces/{}/ingest-sources", acme.global), &admin).await;
        assert!(!listed.text.contains(&secret), "the secret is shown once");

        let path = format!("/api/v1/workspaces/{}/ingest/helpdesk", acme.global);
        let body = ndjson(&[("w-1", "Where can I buy the Pro plan?"), ("w-2", "배송이 너무 늦어요")]);
        let r = deliver(&app, &path, &secret, "d-1", now(), &body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((r.body["imported"].as_u64(), r.body["replayed"].as_bool()), (Some(2), Some(false)));
        // Acknowledged means stored.
        let items = app.get(&format!("/api/v1/workspaces/{}/items", acme.global), &admin).await;
        assert!(items.text.contains("배송이 너무 늦어요"));
        let again = deliver(&app, &path, &secret, "d-1", now(), &ndjson(&[("w-3", "new text under an old id")])).await;
        assert_eq!((again.status.as_u16(), again.body["replayed"].as_bool()), (200, Some(true)));
        let items = app.get(&format!("/api/v1/workspaces/{}/items", acme.global), &admin).await;
        assert!(!items.text.contains("new text under an old id"), "a replayed delivery ingests nothing");

        let bad = deliver(&app, &path, "whsec_wrong", "d-2", now(), &body).await;
        assert_eq!((bad.status.as_u16(), bad.error_code()), (401, "invalid_signature"));
        let unknown = deliver(&app, &format!("/api/v1/workspaces/{}/ingest/nope", acme.global), &secret, "d-2", now(), &body).await;
        assert_eq!((unknown.status, &unknown.text), (bad.status, &bad.text), "an unknown source reads like a bad signature");
        let stale = deliver(&app, &path, &secret, "d-3", now() - 301, &body).await;
        assert_eq!(stale.status, 401);
        let unsigned = app.send(app.client.post(app.url(&path)).body(body.clone())).await;
        assert_eq!(unsigned.status, 401);

        let broken = format!("{}{{\"network\": \"mastodon\"}}\n", ndjson(&[("w-9", "fine")]));
        let r = deliver(&app, &path, &secret, "d-4", now(), &broken).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (422, "record 2"), "{}", r.text);
        let items = app.get(&format!("/api/v1/workspaces/{}/items?limit=500", acme.global), &admin).await;
        assert!(!items.text.contains("w-9"), "a delivery is all or nothing");
        let no_id = app.send(app.client.post(app.url(&path))
            .header("x-switchboard-timestamp", now().to_string())
            .header("x-switchboard-signature", sign(&secret, now(), body.as_bytes()).unwrap())
            .body(body.clone())).await;
        assert_eq!((no_id.status.as_u16(), no_id.error_field()), (422, "X-Switchboard-Delivery"));
        // The same source under its organisation's slug path works too.
        let by_slug = deliver(&app, "/api/v1/workspaces/acme%2Facme-global/ingest/helpdesk", &secret, "d-5", now(), &ndjson(&[("w-5", "ok")])).await;
        assert_eq!(by_slug.status, 200, "{}", by_slug.text);
    };

    upload_import_streams_counts_and_reports_record_numbers => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let Auth::Bearer(token) = acme.token(Role::Admin) else { unreachable!() };
        let url = app.url(&format!("/api/v1/workspaces/{}/import?format=ndjson", acme.global));
        let upload = |body: String, url: String| app.client.post(url).bearer_auth(&token).body(body);
        let body = ndjson(&[("u-1", "Die App stürzt ab"), ("u-2", "这个质量太差了"), ("u-3", "Love it 😍")]);
        let r = app.send(upload(body.clone(), url.clone())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((r.body["records"].as_u64(), r.body["imported"].as_u64()), (Some(3), Some(3)));
        let r = app.send(upload(body.clone(), url.clone())).await;
        assert_eq!((r.body["imported"].as_u64(), r.body["unchanged"].as_u64()), (Some(0), Some(3)));

        let broken = format!("{}not json\n{}", ndjson(&[("u-4", "a")]), ndjson(&[("u-5", "b")]));
        let r = app.send(upload(broken.clone(), url.clone())).await;
        assert_eq!(r.status, 422);
        assert_eq!((r.body["imported"].as_u64(), r.body["rejected"].as_u64()), (Some(2), Some(1)));
        assert_eq!(r.body["errors"][0]["record"].as_u64(), Some(2));
        let strict = app.send(upload(broken.replace("u-4", "u-6").replace("u-5", "u-7"), format!("{url}&strict=true"))).await;
        assert_eq!((strict.status.as_u16(), strict.body["rolled_back"].as_bool()), (422, Some(true)));
        let items = app.get(&format!("/api/v1/workspaces/{}/items?limit=500", acme.global), &acme.token(Role::Admin)).await;
        assert!(!items.text.contains("\"u-6\""), "strict wrote nothing");

        let r = app.send(upload(body.clone(), app.url(&format!("/api/v1/workspaces/{}/import", acme.global)))).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (400, "format"));
        let r = app.send(upload(body, app.url(&format!("/api/v1/workspaces/{}/import?format=tiktok-dump", acme.global)))).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (400, "format"));
        let agent = acme.token(Role::Agent);
        let r = app.request(reqwest::Method::POST, &format!("/api/v1/workspaces/{}/import?format=ndjson", acme.global), None, &agent).await;
        assert_eq!(r.status, 403, "agents do not import");
    };

    items_are_enriched_listed_newest_first_and_paged => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let viewer = acme.token(Role::Viewer);
        let r = app.get(&format!("/api/v1/workspaces/{}/items/{}", acme.global, acme.item), &viewer).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["lang"], "de");
        assert_eq!(r.body["sentiment"]["label"], "negative");
        assert!(r.body.get("raw").is_none(), "raw payloads are not in listings");
        for i in 0..5 {
            let write = app.app.prepare(sample_item(&format!("p-{i}"), "ok"));
            app.app.store_items(&acme.global, vec![write]).await.unwrap();
        }
        let page1 = app.get(&format!("/api/v1/workspaces/{}/items?limit=4", acme.global), &viewer).await;
        assert_eq!(page1.body["items"].as_array().unwrap().len(), 4);
        let cursor = page1.body["next_cursor"].as_str().unwrap();
        let page2 = app.get(&format!("/api/v1/workspaces/{}/items?limit=4&cursor={cursor}", acme.global), &viewer).await;
        assert_eq!(page2.body["items"].as_array().unwrap().len(), 2);
        assert!(page2.body["next_cursor"].is_null());
        let bad = app.get(&format!("/api/v1/workspaces/{}/items?cursor=zzz", acme.global), &viewer).await;
        assert_eq!((bad.status.as_u16(), bad.error_field()), (422, "cursor"));
        assert_eq!(app.get(&format!("/api/v1/workspaces/{}/items", acme.global), &acme.token(Role::Ambassador)).await.status, 403);
    };
}

api_test! {
    dictionaries_tag_items_and_extend_intents_and_children_inherit_them => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let analyst = acme.token(Role::Analyst);
        let dict = format!("/api/v1/workspaces/{}/dictionary", acme.global);
        let r = app.post(&dict, json!({"kind": "competitor", "label": "Globex", "terms": ["Globex", "글로벡스", "格洛贝克斯"]}), &analyst).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = app.post(&dict, json!({"kind": "intent", "label": "feature_request", "terms": ["bitte einbauen", "please add"]}), &analyst).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let bad = app.post(&dict, json!({"kind": "intent", "label": "gossip", "terms": ["x"]}), &analyst).await;
        assert_eq!((bad.status.as_u16(), bad.error_field()), (422, "label"));
        let bad = app.post(&dict, json!({"kind": "product", "label": "X", "terms": ["ok", " "]}), &analyst).await;
        assert_eq!((bad.status.as_u16(), bad.error_field()), (422, "terms[1]"));
        assert_eq!(app.post(&dict, json!({"kind": "product", "label": "Y", "terms": ["y"]}), &acme.token(Role::Agent)).await.status, 403);

        // Items in the child workspace are tagged with the parent's (centre of excellence's) dictionary.
        let owner = acme.token(Role::Owner);
        let Auth::Bearer(token) = owner.clone() else { unreachable!() };
        let body = ndjson(&[("d-1", "Globex ist billiger, aber die Acme Phone Kamera ist besser. Dunkelmodus bitte einbauen"), ("d-2", "글로벡스로 바꿀까 고민 중")]);
        let r = app.send(app.client.post(app.url(&format!("/api/v1/workspaces/{}/import?format=ndjson", acme.child))).bearer_auth(&token).body(body)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let items = app.get(&format!("/api/v1/workspaces/{}/items", acme.child), &owner).await;
        let find = |id: &str| items.body["items"].as_array().unwrap().iter().find(|i| i["external_id"] == id).cloned().unwrap();
        let d1 = find("d-1");
        assert!(d1["tags"].as_array().unwrap().contains(&json!("competitor:Globex")), "{d1}");
        assert!(d1["tags"].as_array().unwrap().contains(&json!("product:Phone")), "{d1}");
        assert!(d1["intents"].as_array().unwrap().contains(&json!("feature_request")), "{d1}");
        assert_eq!(find("d-2")["tags"], json!(["competitor:Globex"]));
        let listed = app.get(&format!("/api/v1/workspaces/{}/dictionary", acme.child), &acme.token(Role::Viewer)).await;
        assert_eq!(listed.body["entries"].as_array().unwrap().len(), 3, "inherited entries are listed");
        let id = listed.body["entries"].as_array().unwrap().iter().find(|e| e["label"] == "Globex").unwrap()["id"].as_str().unwrap().to_string();
        assert_eq!(app.delete(&format!("/api/v1/workspaces/{}/dictionary/{id}", acme.child), &analyst).await.status, 404, "deleted where it lives, not in a child");
        assert_eq!(app.delete(&format!("{dict}/{id}"), &analyst).await.status, 204);
    };
}
