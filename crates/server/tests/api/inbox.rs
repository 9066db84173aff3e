//! The unified inbox: threading, default and custom routing, preview, re-run, and working a
//! team's queue with the permissions of each role.

use crate::api_test;
use crate::helpers::*;
use serde_json::{json, Value};
use switchboard_core::{NewItem, Role, TeamFunction};
use switchboard_service::ops::CreateTeam;
use switchboard_service::Actor;

fn new_item(v: Value) -> NewItem {
    let mut base = json!({
        "network": "mastodon",
        "kind": "post",
        "author": {"id": "7", "handle": "lena@example.social", "display_name": "Lena", "followers": 80},
        "created_at": "2026-11-21T09:00:00.000Z",
    });
    for (k, x) in v.as_object().unwrap() {
        base[k] = x.clone();
    }
    serde_json::from_value(base).unwrap()
}

/// Stores the items and runs the router as `serve` does every half second.
async fn deliver(app: &TestApp, ws: &str, items: Vec<Value>) {
    let writes = items
        .into_iter()
        .map(|v| app.app.prepare(new_item(v)))
        .collect();
    app.app.store_items(ws, writes).await.unwrap();
    app.app.route_new_items().await.unwrap();
}

async fn conversation_of(app: &TestApp, ws: &str, external_id: &str) -> Value {
    let mut c = app.app.store.read().await.unwrap();
    let item = switchboard_store::items::get_by_external(&mut c, ws, "mastodon", external_id)
        .await
        .unwrap()
        .expect("stored");
    let id = switchboard_store::inbox::conversation_of_item(&mut c, &item.id)
        .await
        .unwrap()
        .expect("threaded");
    drop(c);
    serde_json::to_value(
        app.app
            .get_conversation(&Actor::Cli, ws, &id)
            .await
            .unwrap(),
    )
    .unwrap()
}

async fn add_team(app: &TestApp, ws: &str, name: &str, function: TeamFunction) -> String {
    app.app
        .create_team(
            &Actor::Cli,
            ws,
            CreateTeam {
                name: name.into(),
                function,
            },
        )
        .await
        .unwrap()
        .id
}

fn ids(list: &Value) -> Vec<String> {
    list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

api_test! {
    defaults_route_complaints_to_support_and_purchases_to_sales => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let ws = acme.global.clone();
        let sales = add_team(&app, &ws, "Sales", TeamFunction::Sales).await;
        deliver(&app, &ws, vec![
            json!({"external_id": "de-1", "lang": "de",
                   "text": "Total enttäuscht: die App stürzt ständig ab und der Support antwortet nicht. Eine Frechheit!"}),
            json!({"external_id": "buy-1", "lang": "en", "created_at": "2026-11-21T09:30:00.000Z",
                   "text": "How much does the Acme Phone cost? I want to buy two, where can I order them?"}),
        ]).await;
        let de = conversation_of(&app, &ws, "de-1").await;
        assert_eq!(de["team_id"], acme.team.as_str(), "German complaint goes to support: {de}");
        assert!(de["routed_by_rule"].as_str().unwrap().starts_with("default:"), "{de}");
        // A crash report that is also a complaint still reaches Product through its tag.
        assert_eq!(de["tags"], json!(["product"]), "{de}");
        assert_eq!(de["kind"], "thread");
        assert_eq!(de["status"], "open");
        assert_eq!(de["item_count"], 1);
        assert_eq!(de["events"][0]["kind"], "created");
        assert_eq!(de["events"][1]["kind"], "routed");
        let buy = conversation_of(&app, &ws, "buy-1").await;
        assert_eq!(buy["team_id"], sales.as_str(), "purchase intent goes to sales: {buy}");

        // A reply naming the post as its root joins it, whenever it comes; it does not re-route.
        deliver(&app, &ws, vec![json!({
            "external_id": "de-2", "kind": "reply", "root_id": "de-1", "parent_id": "de-1", "lang": "de",
            "created_at": "2026-11-21T10:00:00.000Z",
            "author": {"id": "1", "handle": "acme@example.social", "display_name": "Acme"},
            "text": "Das tut uns leid! Schreib uns bitte eine DM."
        })]).await;
        let joined = conversation_of(&app, &ws, "de-2").await;
        assert_eq!(joined["id"], de["id"]);
        assert_eq!(joined["item_count"], 2);
        assert_eq!(joined["team_id"], acme.team.as_str());
        let items: Vec<&str> = joined["items"].as_array().unwrap().iter().map(|i| i["external_id"].as_str().unwrap()).collect();
        assert_eq!(items, ["de-1", "de-2"]);
        assert_eq!(joined["last_item_at"], "2026-11-21T10:00:00.000Z");
        // Routing the same log again changes nothing.
        let again = app.app.route_new_items().await.unwrap();
        assert_eq!((again.created, again.joined), (0, 0));
        assert_eq!(conversation_of(&app, &ws, "de-2").await["item_count"], 2);

        // Through the API: the support queue, filters, the unassigned queue, q over the items.
        let agent = acme.token(Role::Agent);
        let base = format!("/api/v1/workspaces/{ws}/conversations");
        let support = app.get(&format!("{base}?view=team:Support"), &agent).await;
        assert_eq!(support.status, 200, "{}", support.text);
        let support_ids = ids(&support.body);
        assert!(support_ids.contains(&de["id"].as_str().unwrap().to_string()));
        assert!(!support_ids.contains(&buy["id"].as_str().unwrap().to_string()));
        let by_id = app.get(&format!("{base}?view=team:{sales}"), &agent).await;
        assert_eq!(ids(&by_id.body), vec![buy["id"].as_str().unwrap().to_string()]);
        let german = app.get(&format!("{base}?lang=de&network=mastodon&status=open"), &agent).await;
        assert!(ids(&german.body).contains(&de["id"].as_str().unwrap().to_string()));
        assert!(!ids(&german.body).contains(&buy["id"].as_str().unwrap().to_string()));
        let q = app.get(&format!("{base}?q=frechheit"), &agent).await;
        assert_eq!(ids(&q.body), vec![de["id"].as_str().unwrap().to_string()], "{}", q.text);
        let q_reply = app.get(&format!("{base}?q=%22schreib%20uns%22"), &agent).await;
        assert_eq!(ids(&q_reply.body), vec![de["id"].as_str().unwrap().to_string()], "q matches any item");
        // q pages too: two conversations mention the app (the fixture's and de-1).
    let first = app.get(&format!("{base}?q=app&limit=1"), &agent).await;
    let cursor = first.body["next_cursor"].as_str().expect("a next page");
    let second = app
        .get(&format!("{base}?q=app&limit=1&cursor={cursor}"), &agent)
        .await;
    let mut both = [ids(&first.body), ids(&second.body)].concat();
    both.sort();
    let mut want = vec![acme.conversation.clone(), de["id"].as_str().unwrap().to_string()];
    want.sort();
    assert_eq!(both, want);
    let bad = app.get(&format!("{base}?q=%28broken"), &agent).await;
        assert_eq!((bad.status.as_u16(), bad.error_code()), (400, "query_syntax"));
        let bad_view = app.get(&format!("{base}?view=team:Nobody"), &agent).await;
        assert_eq!(bad_view.status, 422, "{}", bad_view.text);
        let paged = app.get(&format!("{base}?limit=1"), &agent).await;
        assert_eq!(ids(&paged.body).len(), 1);
        let cursor = paged.body["next_cursor"].as_str().expect("a next page");
        let next = app.get(&format!("{base}?limit=1&cursor={cursor}"), &agent).await;
        assert_eq!(next.status, 200);
        assert_ne!(ids(&next.body), ids(&paged.body));
        let one = app.get(&format!("{base}/{}", de["id"].as_str().unwrap()), &agent).await;
        assert_eq!(one.status, 200);
        assert_eq!(one.body["items"].as_array().unwrap().len(), 2);
    };

    custom_rules_tag_then_route_and_preview_counts => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let ws = acme.global.clone();
        let manager = acme.token(Role::Manager);
        let rules = format!("/api/v1/workspaces/{ws}/routing-rules");
        // Editing rules needs inbox.manage; a query must parse.
        let denied = app.post(&rules, json!({"name": "x"}), &acme.token(Role::Agent)).await;
        assert_eq!(denied.status, 403);
        let bad = app.post(&rules, json!({"name": "Bad", "conditions": {"query": "login AND ("}}), &manager).await;
        assert_eq!((bad.status.as_u16(), bad.error_code(), bad.error_field()), (400, "query_syntax", "conditions.query"));
        let no_team = app.post(&rules, json!({"name": "Bad", "actions": {"team": "Nobody"}}), &manager).await;
        assert_eq!((no_team.status.as_u16(), no_team.error_field()), (422, "actions.team"));

        let login = app.post(&rules, json!({
            "name": "Login trouble", "position": 10, "continue_matching": true,
            "conditions": {"query": "login OR anmelden OR einloggen"},
            "actions": {"add_tags": ["login"], "priority": "high"}
        }), &manager).await;
        assert_eq!(login.status, 201, "{}", login.text);
        let german = app.post(&rules, json!({
            "name": "German to support", "position": 20,
            "conditions": {"langs_any": ["de"]}, "actions": {"team": "Support"}
        }), &manager).await;
        assert_eq!(german.status, 201, "{}", german.text);
        assert_eq!(german.body["actions"]["team"], acme.team.as_str(), "stored as the team id");
        let listed = app.get(&rules, &acme.token(Role::Viewer)).await;
        let names: Vec<&str> = listed.body["rules"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["VIPs", "Login trouble", "German to support"]);

        deliver(&app, &ws, vec![
            json!({"external_id": "de-login", "lang": "de", "text": "Ich kann mich seit gestern nicht mehr anmelden"}),
            json!({"external_id": "en-login", "lang": "en", "text": "The login page is broken again"}),
            json!({"external_id": "de-other", "lang": "de", "text": "Schönes Wetter heute in Berlin"}),
        ]).await;
        let de = conversation_of(&app, &ws, "de-login").await;
        assert_eq!(de["tags"], json!(["login"]), "{de}");
        assert_eq!(de["priority"], "high");
        assert_eq!(de["team_id"], acme.team.as_str(), "the next rule routes it");
        assert_eq!(de["routed_by_rule"], german.body["id"]);
        let en = conversation_of(&app, &ws, "en-login").await;
        assert_eq!(en["tags"], json!(["login"]));
        assert!(en["team_id"].is_null(), "no rule gives it a team: the unassigned queue");
        let other = conversation_of(&app, &ws, "de-other").await;
        assert!(other["tags"].as_array().unwrap().is_empty());
        assert_eq!(other["team_id"], acme.team.as_str());
        let unassigned = app.get(&format!("/api/v1/workspaces/{ws}/conversations?view=unassigned"), &manager).await;
        assert_eq!(ids(&unassigned.body), vec![en["id"].as_str().unwrap().to_string()]);
        let tagged = app.get(&format!("/api/v1/workspaces/{ws}/conversations?tag=login"), &manager).await;
        assert_eq!(ids(&tagged.body).len(), 2);

        // Preview: placed first, the rule is reached by the German login item and sends it to support.
        let preview = format!("{rules}/preview");
        let first = app.post(&preview, json!({
            "name": "Anmelden", "position": 1, "conditions": {"query": "anmelden OR login"}, "actions": {"team": "Support"}
        }), &manager).await;
        assert_eq!(first.status, 200, "{}", first.text);
        assert_eq!(first.body["items"], 4, "the fixture item and three new ones");
        assert_eq!(first.body["matched"], 2);
        assert_eq!(first.body["teams"], json!([{"team_id": acme.team, "team": "Support", "count": 2}]));
        assert_eq!(first.body["samples"].as_array().unwrap().len(), 2);
        // Placed last, the German item never reaches it (the German rule stops there); the
        // English one does, and without a team action it stays in the unassigned queue.
        let last = app.post(&preview, json!({
            "name": "Anmelden", "conditions": {"query": "anmelden OR login"}, "actions": {"priority": "urgent"}
        }), &manager).await;
        assert_eq!(last.body["matched"], 1, "{}", last.text);
        assert_eq!(last.body["teams"], json!([{"team_id": null, "team": "Unassigned queue", "count": 1}]));
        assert_eq!(last.body["samples"][0]["text"], "The login page is broken again");
        let viewer_preview = app.post(&preview, json!({"name": "x"}), &acme.token(Role::Viewer)).await;
        assert_eq!(viewer_preview.status, 403);

        // Disable the German rule and re-run: the German conversations leave the support queue.
        let german_id = german.body["id"].as_str().unwrap();
        let patched = app.patch(&format!("{rules}/{german_id}"), json!({"enabled": false}), &manager).await;
        assert_eq!((patched.status.as_u16(), &patched.body["enabled"]), (200, &json!(false)), "{}", patched.text);
        let rerun = app.post(&format!("/api/v1/workspaces/{ws}/routing/rerun"),
            json!({"from": "2026-11-21T00:00:00Z", "to": "2026-11-22T00:00:00Z"}), &manager).await;
        assert_eq!(rerun.status, 200, "{}", rerun.text);
        assert_eq!(rerun.body["conversations"], 3);
        assert_eq!(rerun.body["changed"], 2, "the two German ones");
        let de = conversation_of(&app, &ws, "de-login").await;
        assert!(de["team_id"].is_null(), "{de}");
        assert_eq!(de["tags"], json!(["login"]));
        assert_eq!(de["events"].as_array().unwrap().last().unwrap()["kind"], "rerouted");
        let bad_range = app.post(&format!("/api/v1/workspaces/{ws}/routing/rerun"),
            json!({"from": "2026-11-22", "to": "2026-11-21"}), &manager).await;
        assert_eq!(bad_range.status, 422);
        let deleted = app.delete(&format!("{rules}/{german_id}"), &manager).await;
        assert_eq!(deleted.status, 204);
        let audit = app.get(&format!("/api/v1/workspaces/{ws}/audit"), &acme.token(Role::Owner)).await;
        for action in ["routing_rule.create", "routing_rule.update", "routing_rule.delete", "routing.rerun"] {
            assert!(audit.text.contains(action), "audit lacks {action}");
        }
    };

    an_agent_works_the_team_queue_and_a_viewer_cannot_assign => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let ws = acme.global.clone();
        let agent = acme.token(Role::Agent);
        let viewer = acme.token(Role::Viewer);
        let base = format!("/api/v1/workspaces/{ws}/conversations");
        let conv = format!("{base}/{}", acme.conversation);

        let queue = app.get(&format!("{base}?view=team:{}", acme.team), &agent).await;
        assert_eq!(queue.status, 200, "{}", queue.text);
        assert_eq!(ids(&queue.body), vec![acme.conversation.clone()], "the fixture complaint is in the support queue");
        assert!(ids(&app.get(&format!("{base}?view=mine"), &agent).await.body).is_empty());

        // A viewer reads but cannot assign or change the status.
        assert_eq!(app.get(&conv, &viewer).await.status, 200);
        let denied = app.post(&format!("{conv}/assign"), json!({"user": "me"}), &viewer).await;
        assert_eq!((denied.status.as_u16(), denied.error_code()), (403, "forbidden"));
        let denied = app.post(&format!("{conv}/status"), json!({"status": "closed"}), &viewer).await;
        assert_eq!(denied.status, 403);
        // Nobody can be given a conversation they cannot read.
        let ambassador = acme.user_id(Role::Ambassador);
        let refused = app.post(&format!("{conv}/assign"), json!({"user": ambassador}), &agent).await;
        assert_eq!((refused.status.as_u16(), refused.error_field()), (422, "user"));

        let mine = app.post(&format!("{conv}/assign"), json!({"user": "me"}), &agent).await;
        assert_eq!(mine.status, 200, "{}", mine.text);
        assert_eq!(mine.body["assignee_id"], acme.user_id(Role::Agent).as_str());
        assert_eq!(mine.body["team_id"], acme.team.as_str());
        assert_eq!(ids(&app.get(&format!("{base}?view=mine"), &agent).await.body), vec![acme.conversation.clone()]);
        let by_assignee = app.get(&format!("{base}?assignee={}", acme.user_id(Role::Agent)), &viewer).await;
        assert_eq!(ids(&by_assignee.body), vec![acme.conversation.clone()]);

        let snooze = app.post(&format!("{conv}/status"), json!({"status": "snoozed"}), &agent).await;
        assert_eq!((snooze.status.as_u16(), snooze.error_field()), (422, "snoozed_until"));
        let closed = app.post(&format!("{conv}/status"), json!({"status": "closed"}), &agent).await;
        assert_eq!(closed.status, 200, "{}", closed.text);
        assert_eq!(closed.body["status"], "closed");
        assert!(ids(&app.get(&format!("{base}?status=open"), &agent).await.body).is_empty());
        assert_eq!(ids(&app.get(&format!("{base}?status=closed"), &agent).await.body), vec![acme.conversation.clone()]);

        let detail = app.get(&conv, &agent).await;
        let kinds: Vec<&str> = detail.body["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["created", "routed", "assigned", "status"]);
        assert_eq!(detail.body["events"][2]["actor"], "agent@acme.example");
        let audit = app.get(&format!("/api/v1/workspaces/{ws}/audit"), &acme.token(Role::Owner)).await;
        assert!(audit.text.contains("conversation.assign"), "{}", audit.text);
    };

    the_customer_writing_again_reopens_a_closed_conversation => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let ws = acme.global.clone();
        deliver(&app, &ws, vec![json!({"external_id": "r-1", "lang": "de",
            "text": "Die App stürzt ständig ab, bitte helft mir"})]).await;
        let conv = conversation_of(&app, &ws, "r-1").await;
        let id = conv["id"].as_str().unwrap().to_string();
        app.app.set_conversation_status(&Actor::Cli, &ws, &id, serde_json::from_value(json!({"status": "closed"})).unwrap()).await.unwrap();
        deliver(&app, &ws, vec![json!({"external_id": "r-2", "kind": "reply", "root_id": "r-1", "parent_id": "r-1",
            "created_at": "2026-11-21T11:00:00.000Z", "text": "Immer noch kaputt!"})]).await;
        let again = conversation_of(&app, &ws, "r-2").await;
        assert_eq!(again["id"], id.as_str());
        assert_eq!(again["status"], "open", "{again}");
        let kinds: Vec<&str> = again["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds.last(), Some(&"reopened"), "{kinds:?}");
        // A snooze that has run out opens the conversation again.
        app.app.set_conversation_status(&Actor::Cli, &ws, &id, serde_json::from_value(json!({"status": "snoozed", "snoozed_until": "2026-01-01T00:00:00Z"})).unwrap()).await.unwrap();
        assert_eq!(app.app.wake_snoozed().await.unwrap(), 1);
        let woke = conversation_of(&app, &ws, "r-1").await;
        assert_eq!(woke["status"], "open");
        assert_eq!(woke["events"].as_array().unwrap().last().unwrap()["kind"], "snooze_ended");
    };

    rules_assign_round_robin_among_the_team => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let ws = acme.global.clone();
        for role in [Role::Agent, Role::Publisher] {
            app.app.add_team_member(&Actor::Cli, &ws, &acme.team, serde_json::from_value(json!({"user": format!("{role}@acme.example")})).unwrap()).await.unwrap();
        }
        let manager = acme.token(Role::Manager);
        let made = app.post(&format!("/api/v1/workspaces/{ws}/routing-rules"), json!({
            "name": "Everything to support", "actions": {"team": "Support", "assign": "round_robin"}
        }), &manager).await;
        assert_eq!(made.status, 201, "{}", made.text);
        deliver(&app, &ws, (1..=4).map(|i| json!({"external_id": format!("rr-{i}"), "text": format!("Frage Nummer {i}")})).collect()).await;
        let mut counts = std::collections::HashMap::new();
        for i in 1..=4 {
            let c = conversation_of(&app, &ws, &format!("rr-{i}")).await;
            *counts.entry(c["assignee_id"].as_str().unwrap().to_string()).or_insert(0) += 1;
        }
        assert_eq!(counts.get(&acme.user_id(Role::Agent)), Some(&2), "{counts:?}");
        assert_eq!(counts.get(&acme.user_id(Role::Publisher)), Some(&2), "{counts:?}");

        // Least loaded counts open and pending work only: once the agent has closed theirs,
        // the next two go to the agent.
        let rule_id = made.body["id"].as_str().unwrap();
        let patched = app.patch(&format!("/api/v1/workspaces/{ws}/routing-rules/{rule_id}"),
            json!({"actions": {"team": "Support", "assign": "least_loaded"}}), &manager).await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        let agent = acme.token(Role::Agent);
        let mine = app.get(&format!("/api/v1/workspaces/{ws}/conversations?view=mine"), &agent).await;
        for id in ids(&mine.body) {
            let r = app.post(&format!("/api/v1/workspaces/{ws}/conversations/{id}/status"), json!({"status": "closed"}), &agent).await;
            assert_eq!(r.status, 200);
        }
        deliver(&app, &ws, vec![json!({"external_id": "ll-1", "text": "Noch eine Frage"})]).await;
        deliver(&app, &ws, vec![json!({"external_id": "ll-2", "text": "Und noch eine Frage"})]).await;
        for ext in ["ll-1", "ll-2"] {
            assert_eq!(conversation_of(&app, &ws, ext).await["assignee_id"], acme.user_id(Role::Agent).as_str(), "{ext}");
        }
        let bad = app.post(&format!("/api/v1/workspaces/{ws}/routing-rules"), json!({
            "name": "Nobody", "actions": {"team": "Support", "assign": acme.user_id(Role::Viewer)}
        }), &manager).await;
        assert_eq!((bad.status.as_u16(), bad.error_field()), (422, "actions.assign"));
    };
}

async fn threaded(app: &TestApp, ws: &str, external_id: &str) -> bool {
    let mut c = app.app.store.read().await.unwrap();
    let item = switchboard_store::items::get_by_external(&mut c, ws, "mastodon", external_id)
        .await
        .unwrap()
        .expect("stored");
    switchboard_store::inbox::conversation_of_item(&mut c, &item.id)
        .await
        .unwrap()
        .is_some()
}

/// PostgreSQL hands out change-log numbers at insert time, so a transaction that has not
/// committed yet leaves a hole that later commits skip over; the router must wait there
/// (SQLite serialises writers, so it never sees one).
#[tokio::test]
async fn the_router_waits_for_a_transaction_that_has_not_committed_yet() {
    let Some(app) = TestApp::spawn(switchboard_store::Backend::Postgres).await else {
        return;
    };
    let acme = app.org("acme").await;
    let ws = acme.global.clone();
    let before = app.app.route_new_items().await.unwrap().seq;
    let mut slow = app.app.store.write().await.unwrap();
    let late = app.app.prepare(new_item(
        json!({"external_id": "gap-1", "text": "Erste Nachricht"}),
    ));
    switchboard_store::items::upsert_batch(&mut slow, &ws, vec![late])
        .await
        .unwrap();
    let early = app.app.prepare(new_item(
        json!({"external_id": "gap-2", "text": "Zweite Nachricht"}),
    ));
    app.app.store_items(&ws, vec![early]).await.unwrap();

    let report = app.app.route_new_items().await.unwrap();
    assert_eq!(
        (report.seq, report.created),
        (before, 0),
        "waits at the hole"
    );
    assert!(!threaded(&app, &ws, "gap-2").await);

    slow.commit().await.unwrap();
    let report = app.app.route_new_items().await.unwrap();
    assert_eq!((report.seq, report.created), (before + 2, 2));
    assert!(threaded(&app, &ws, "gap-1").await && threaded(&app, &ws, "gap-2").await);
}

api_test! {
    an_agent_of_a_child_workspace_sees_only_its_queues => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let member = app.app.add_member(&switchboard_service::Actor::Cli, &acme.child, switchboard_service::ops::AddMember {
            email: "kid-agent@acme.example".into(), role: Role::Agent, name: None, password: Some("long enough pw".into()),
        }).await.unwrap();
        let user = app.app.user_by_email("kid-agent@acme.example").await.unwrap();
        assert_eq!(user.id, member.user_id);
        let (_, token) = app.app.create_token(&user, "test").await.unwrap();
        let agent = Auth::Bearer(token);

        // Its own workspace's inbox: readable (empty here).
        let own = app.get(&format!("/api/v1/workspaces/{}/conversations", acme.child), &agent).await;
        assert_eq!(own.status, 200, "{}", own.text);
        assert!(own.body["conversations"].as_array().unwrap().is_empty());
        // The parent's queues and conversations are not there for it, listed or by id, and
        // it cannot reach them through its own workspace either.
        let parent = format!("/api/v1/workspaces/{}/conversations", acme.global);
        assert_eq!(app.get(&parent, &agent).await.status, 404);
        assert_eq!(app.get(&format!("{parent}/{}", acme.conversation), &agent).await.status, 404);
        let sideways = format!("/api/v1/workspaces/{}/conversations/{}", acme.child, acme.conversation);
        assert_eq!(app.get(&sideways, &agent).await.status, 404);
        let reply = app.post(&format!("{sideways}/replies"), json!({"body": "hi"}), &agent).await;
        assert_eq!(reply.status, 404, "{}", reply.text);
        let assign = app.post(&format!("{parent}/{}/assign", acme.conversation), json!({"user": "me"}), &agent).await;
        assert_eq!(assign.status, 404, "{}", assign.text);
    };
}

api_test! {
    priority_and_tags_are_set_by_hand_with_a_timeline_entry => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let conv = format!("/api/v1/workspaces/{}/conversations/{}", acme.global, acme.conversation);
        let agent = acme.token(Role::Agent);
        let denied = app.patch(&conv, json!({"priority": "high"}), &acme.token(Role::Viewer)).await;
        assert_eq!(denied.status, 403, "{}", denied.text);
        for (body, field) in [
            (json!({"priority": "asap"}), "priority"),
            (json!({"tags": ["x".repeat(51)]}), "tags"),
            (json!({"tags": (0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()}), "tags"),
        ] {
            let bad = app.patch(&conv, body.clone(), &agent).await;
            assert_eq!((bad.status.as_u16(), bad.error_field()), (422, field), "{body}: {}", bad.text);
        }
        let r = app.patch(&conv, json!({"priority": "URGENT", "tags": ["#Refund", "vip", "refund", " "]}), &agent).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((r.body["priority"].as_str(), r.body["tags"].clone()), (Some("urgent"), json!(["refund", "vip"])));
        // The same again writes nothing more.
        let again = app.patch(&conv, json!({"priority": "urgent"}), &agent).await;
        assert_eq!(again.status, 200);
        let detail = app.get(&conv, &agent).await.body;
        let kinds: Vec<&str> = detail["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "priority").count(), 1, "{kinds:?}");
        assert_eq!(kinds.iter().filter(|k| **k == "tags").count(), 1, "{kinds:?}");
        let listed = app.get(&format!("/api/v1/workspaces/{}/conversations?tag=vip", acme.global), &agent).await;
        assert_eq!(listed.body["conversations"][0]["id"], acme.conversation.as_str());
    };
}
