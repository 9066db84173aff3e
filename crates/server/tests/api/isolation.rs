//! A request for another organisation's object answers exactly like a missing object.
//! Every API route, every role, against a second organisation.

use crate::api_test;
use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use switchboard_core::Role;
use switchboard_server::api::ROUTES;

struct Ids {
    org: String,
    ws: String,
    team: String,
    user: String,
    token: String,
    item: String,
    source: String,
    entry: String,
    channel: String,
    webhook: String,
    topic: String,
    annotation: String,
    spike: String,
    conversation: String,
    rule: String,
    sla_policy: String,
    saved_reply: String,
}

fn fill(path: &str, ids: &Ids) -> String {
    path.replace("{org}", &ids.org)
        .replace("{ws}", &ids.ws)
        .replace("{team}", &ids.team)
        .replace("{user}", &ids.user)
        .replace("{token}", &ids.token)
        .replace("{item}", &ids.item)
        .replace("{source}", &ids.source)
        .replace("{entry}", &ids.entry)
        .replace("{channel}", &ids.channel)
        .replace("{webhook}", &ids.webhook)
        .replace("{topic}", &ids.topic)
        .replace("{annotation}", &ids.annotation)
        .replace("{spike}", &ids.spike)
        .replace("{conversation}", &ids.conversation)
        .replace("{rule}", &ids.rule)
        .replace("{policy}", &ids.sla_policy)
        .replace("{reply}", &ids.saved_reply)
        // Query parameters that pass validation, so only the lookup can answer.
        + if path.ends_with("/import") { "?format=ndjson" } else { "" }
}

/// A body that passes validation, so the answer can only come from the lookup.
fn body_for(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        ("PATCH", "/api/v1/workspaces/{ws}") => json!({"name": "Renamed"}),
        ("POST", "/api/v1/workspaces/{ws}/teams") => {
            json!({"name": "Intruders", "function": "support"})
        }
        ("PATCH", "/api/v1/workspaces/{ws}/teams/{team}") => json!({"name": "Renamed"}),
        ("POST", "/api/v1/workspaces/{ws}/teams/{team}/members") => {
            json!({"user": "owner@globex.example"})
        }
        ("POST", "/api/v1/workspaces/{ws}/members") => {
            json!({"email": "mole@acme.example", "role": "viewer", "password": "long enough password"})
        }
        ("PATCH", "/api/v1/workspaces/{ws}/members/{user}") => json!({"role": "viewer"}),
        ("POST", "/api/v1/workspaces/{ws}/ingest-sources") => json!({"name": "intruder"}),
        ("POST", "/api/v1/workspaces/{ws}/channels/{channel}/credentials") => {
            json!({"access_token": "x"})
        }
        ("POST", "/api/v1/workspaces/{ws}/channels") => {
            json!({"network": "mastodon", "name": "x", "base_url": "http://127.0.0.1:9", "access_token": "x"})
        }
        ("POST", "/api/v1/workspaces/{ws}/dictionary") => {
            json!({"kind": "competitor", "label": "Acme", "terms": ["Acme"]})
        }
        ("POST", "/api/v1/workspaces/{ws}/topics")
        | ("PATCH", "/api/v1/workspaces/{ws}/topics/{topic}") => {
            json!({"name": "Spy", "query": "acme"})
        }
        ("POST", "/api/v1/workspaces/{ws}/annotations") => {
            json!({"title": "Spy", "at": "2026-11-19T08:00:00Z"})
        }
        ("POST", "/api/v1/workspaces/{ws}/webhooks") => {
            json!({"name": "intruder", "url": "http://127.0.0.1:9/hook"})
        }
        ("POST", "/api/v1/workspaces/{ws}/conversations/{conversation}/assign") => {
            json!({"user": "me"})
        }
        ("POST", "/api/v1/workspaces/{ws}/conversations/{conversation}/status") => {
            json!({"status": "closed"})
        }
        ("POST", "/api/v1/workspaces/{ws}/routing-rules")
        | ("POST", "/api/v1/workspaces/{ws}/routing-rules/preview")
        | ("PATCH", "/api/v1/workspaces/{ws}/routing-rules/{rule}") => {
            json!({"name": "Spy", "actions": {"priority": "high"}})
        }
        ("POST", "/api/v1/workspaces/{ws}/routing/rerun") => {
            json!({"from": "2026-01-01", "to": "2027-01-01"})
        }
        ("POST", "/api/v1/workspaces/{ws}/conversations/{conversation}/notes") => {
            json!({"body": "Spy note @owner"})
        }
        ("POST", "/api/v1/workspaces/{ws}/conversations/{conversation}/replies") => {
            json!({"body": "Spy reply", "idempotency_key": "spy"})
        }
        ("PATCH", "/api/v1/workspaces/{ws}/conversations/{conversation}") => {
            json!({"priority": "urgent", "tags": ["spy"]})
        }
        ("POST", "/api/v1/workspaces/{ws}/conversations/{conversation}/handoffs") => {
            json!({"note": "Spy hand-off"})
        }
        ("POST", "/api/v1/workspaces/{ws}/conversations/{conversation}/presence") => {
            json!({"state": "viewing"})
        }
        ("POST", "/api/v1/workspaces/{ws}/saved-replies")
        | ("PATCH", "/api/v1/workspaces/{ws}/saved-replies/{reply}") => {
            json!({"name": "Spy", "body": "Hi {{author}}"})
        }
        ("POST", "/api/v1/workspaces/{ws}/sla-policies")
        | ("PATCH", "/api/v1/workspaces/{ws}/sla-policies/{policy}") => {
            json!({"team": "Support", "priority": "low", "first_response_minutes": 30, "resolution_minutes": 60})
        }
        _ => return None,
    })
}

api_test! {
    every_route_every_role_answers_foreign_objects_like_missing_ones => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let globex = app.org("globex").await;
        let foreign_token_id = app.get("/api/v1/tokens", &globex.token(Role::Owner)).await.body["tokens"][0]["id"].as_str().unwrap().to_string();
        let foreign = Ids {
            org: globex.slug.clone(),
            ws: globex.global.clone(),
            team: globex.team.clone(),
            user: globex.user_id(Role::Agent),
            token: foreign_token_id,
            item: globex.item.clone(),
            source: globex.source.clone(),
            entry: globex.entry.clone(),
            channel: globex.channel.clone(),
            webhook: globex.webhook.clone(),
            topic: globex.topic.clone(),
            annotation: globex.annotation.clone(),
            spike: globex.spike.clone(),
            conversation: globex.conversation.clone(),
            rule: globex.rule.clone(),
            sla_policy: globex.sla_policy.clone(),
            saved_reply: globex.saved_reply.clone(),
        };
        let missing = Ids {
            org: "no-such-org".into(),
            ws: switchboard_store::new_id(),
            team: switchboard_store::new_id(),
            user: switchboard_store::new_id(),
            token: switchboard_store::new_id(),
            item: switchboard_store::new_id(),
            source: "no-such-source".into(),
            entry: switchboard_store::new_id(),
            channel: switchboard_store::new_id(),
            webhook: switchboard_store::new_id(),
            topic: switchboard_store::new_id(),
            annotation: switchboard_store::new_id(),
            spike: switchboard_store::new_id(),
            conversation: switchboard_store::new_id(),
            rule: switchboard_store::new_id(),
            sla_policy: switchboard_store::new_id(),
            saved_reply: switchboard_store::new_id(),
        };
        let foreign_slug = Ids { ws: "globex-global".into(), ..Ids { org: globex.id.clone(), ..foreign_clone(&foreign) } };
        let mut checked = 0;
        for role in Role::ALL {
            let auth = acme.token(*role);
            for (method, path) in ROUTES.iter().filter(|(_, p)| p.contains('{')) {
                let m = Method::from_bytes(method.as_bytes()).unwrap();
                let want = app.request(m.clone(), &fill(path, &missing), body_for(method, path), &auth).await;
                // Signed webhooks take no user credentials: everything unsigned is a 401.
                let expected = if path.ends_with("/ingest/{source}") { 401 } else { 404 };
                assert_eq!(want.status, expected, "{role} {method} {path} (missing): {}", want.text);
                for ids in [&foreign, &foreign_slug] {
                    let got = app.request(m.clone(), &fill(path, ids), body_for(method, path), &auth).await;
                    assert_eq!((got.status, &got.text), (want.status, &want.text), "{role} {method} {path} leaked");
                    checked += 1;
                }
            }
            // Lists show nothing of the other organisation.
            let list = app.get("/api/v1/workspaces", &auth).await;
            assert!(!list.text.contains(&globex.global) && !list.text.contains("globex"), "{role} sees globex: {}", list.text);
            let me = app.get("/api/v1/me", &auth).await;
            assert!(!me.text.contains("globex"), "{role} /me mentions globex");
        }
        assert!(checked > 150, "walked {checked} requests");

        // And the other organisation's data is untouched.
        let owner = globex.token(Role::Owner);
        let ws = app.get(&format!("/api/v1/workspaces/{}", globex.global), &owner).await;
        assert_eq!(ws.body["name"], "Global");
        let teams = app.get(&format!("/api/v1/workspaces/{}/teams", globex.global), &owner).await;
        assert_eq!(teams.body["teams"].as_array().unwrap().len(), 1);
        assert_eq!(teams.body["teams"][0]["name"], "Support");
        let members = app.get(&format!("/api/v1/workspaces/{}/members", globex.global), &owner).await;
        assert_eq!(members.body["members"].as_array().unwrap().len(), Role::ALL.len() - 1);
        assert!(members.text.contains("\"agent\""));
        let tokens = app.get("/api/v1/tokens", &owner).await;
        assert!(tokens.body["tokens"][0]["revoked_at"].is_null());
    };
}

fn foreign_clone(i: &Ids) -> Ids {
    Ids {
        org: i.org.clone(),
        ws: i.ws.clone(),
        team: i.team.clone(),
        user: i.user.clone(),
        token: i.token.clone(),
        item: i.item.clone(),
        source: i.source.clone(),
        entry: i.entry.clone(),
        channel: i.channel.clone(),
        webhook: i.webhook.clone(),
        topic: i.topic.clone(),
        annotation: i.annotation.clone(),
        spike: i.spike.clone(),
        conversation: i.conversation.clone(),
        rule: i.rule.clone(),
        sla_policy: i.sla_policy.clone(),
        saved_reply: i.saved_reply.clone(),
    }
}
