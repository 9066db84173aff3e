//! SLA policies of the unified inbox: editing and validation, the breach list, a
//! conversation's timers before and after closing, and the inbox metrics.
//!
//! Every organisation fixture has a 24/7 policy of its Support team for `normal` priority
//! (first response 60 minutes, resolution 480) and a conversation routed there whose first
//! item is from 2026-11-20T10:00Z, long breached.

use crate::api_test;
use crate::helpers::*;
use serde_json::{json, Value};
use switchboard_core::{NewItem, Role};

fn base(org: &Org) -> String {
    format!("/api/v1/workspaces/{}", org.global)
}

fn ago(minutes: i64) -> String {
    switchboard_store::timestamp(time::OffsetDateTime::now_utc() - time::Duration::minutes(minutes))
}

/// A complaint (routed to Support) posted `minutes` ago; returns its conversation id.
async fn complaint(app: &TestApp, org: &Org, external_id: &str, minutes: i64) -> String {
    let item: NewItem = serde_json::from_value(json!({
        "network": "mastodon",
        "external_id": external_id,
        "kind": "post",
        "author": {"id": "7", "handle": "lena@example.social", "display_name": "Lena", "followers": 80},
        "text": "Die App stürzt seit dem Update ständig ab",
        "created_at": ago(minutes),
    }))
    .unwrap();
    let write = app.app.prepare(item);
    app.app.store_items(&org.global, vec![write]).await.unwrap();
    app.app.route_new_items().await.unwrap();
    let mut c = app.app.store.read().await.unwrap();
    let item =
        switchboard_store::items::get_by_external(&mut c, &org.global, "mastodon", external_id)
            .await
            .unwrap()
            .expect("stored");
    switchboard_store::inbox::conversation_of_item(&mut c, &item.id)
        .await
        .unwrap()
        .expect("threaded")
}

fn ids(list: &Value) -> Vec<String> {
    list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["conversation_id"].as_str().unwrap().to_string())
        .collect()
}

api_test! {
    policies_are_edited_by_managers_read_by_viewers_and_validated => |app: TestApp| async move {
        let org = app.org("acme").await;
        let b = base(&org);
        let owner = org.token(Role::Owner);
        let viewer = org.token(Role::Viewer);
        let agent = org.token(Role::Agent);

        let list = app.get(&format!("{b}/sla-policies"), &viewer).await;
        assert_eq!(list.status, 200, "{}", list.text);
        assert_eq!(list.body["policies"].as_array().unwrap().len(), 1);
        assert_eq!(list.body["policies"][0]["id"], org.sla_policy.as_str());
        assert_eq!(list.body["policies"][0]["team_id"], org.team.as_str());
        assert!(list.body["policies"][0]["business_hours"].is_null());

        let good = json!({
            "team": "Support", "priority": "high",
            "first_response_minutes": 30, "resolution_minutes": 240,
            "time_zone": "Europe/Berlin",
            "business_hours": {
                "mon": {"start": "09:00", "end": "17:00"}, "tue": {"start": "09:00", "end": "17:00"},
                "wed": {"start": "09:00", "end": "17:00"}, "thu": {"start": "09:00", "end": "17:00"},
                "fri": {"start": "09:00", "end": "17:00"}
            }
        });
        for who in [&viewer, &agent] {
            let r = app.post(&format!("{b}/sla-policies"), good.clone(), who).await;
            assert_eq!(r.status, 403, "{}", r.text);
            let r = app.patch(&format!("{b}/sla-policies/{}", org.sla_policy), json!({"resolution_minutes": 10}), who).await;
            assert_eq!(r.status, 403, "{}", r.text);
            let r = app.delete(&format!("{b}/sla-policies/{}", org.sla_policy), who).await;
            assert_eq!(r.status, 403, "{}", r.text);
        }

        let bad = |patch: Value| {
            let mut v = good.clone();
            for (k, x) in patch.as_object().unwrap() {
                v[k] = x.clone();
            }
            v
        };
        for (body, field) in [
            (bad(json!({"time_zone": "Mars/Olympus_Mons"})), "time_zone"),
            (bad(json!({"business_hours": {"mon": {"start": "17:00", "end": "09:00"}}})), "business_hours.mon.end"),
            (bad(json!({"business_hours": {"mon": {"start": "9am", "end": "17:00"}}})), "business_hours.mon.start"),
            (bad(json!({"first_response_minutes": 0})), "first_response_minutes"),
            (bad(json!({"resolution_minutes": -5})), "resolution_minutes"),
            (bad(json!({"team": "Nobody"})), "team"),
            (bad(json!({"priority": "whenever"})), "priority"),
        ] {
            let r = app.post(&format!("{b}/sla-policies"), body, &owner).await;
            assert_eq!(r.status, 422, "{field}: {}", r.text);
            assert_eq!(r.error_field(), field, "{}", r.text);
        }
        // One policy per team and priority.
        let r = app.post(&format!("{b}/sla-policies"), bad(json!({"priority": "normal"})), &owner).await;
        assert_eq!(r.status, 409, "{}", r.text);

        let manager = org.token(Role::Manager);
        let created = app.post(&format!("{b}/sla-policies"), good.clone(), &manager).await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.body["team_id"], org.team.as_str());
        assert_eq!(created.body["time_zone"], "Europe/Berlin");
        assert_eq!(created.body["business_hours"]["fri"]["end"], "17:00");
        let id = created.body["id"].as_str().unwrap().to_string();

        let r = app.patch(&format!("{b}/sla-policies/{id}"), json!({"first_response_minutes": 45, "business_hours": null}), &owner).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["first_response_minutes"], 45);
        assert_eq!(r.body["resolution_minutes"], 240);
        assert!(r.body["business_hours"].is_null(), "{}", r.text);
        let r = app.patch(&format!("{b}/sla-policies/{id}"), json!({"resolution_minutes": 0}), &owner).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (422, "resolution_minutes"), "{}", r.text);
        let r = app.get(&format!("{b}/sla-policies/{id}"), &viewer).await;
        assert_eq!(r.body["first_response_minutes"], 45);

        let r = app.delete(&format!("{b}/sla-policies/{id}"), &owner).await;
        assert_eq!(r.status, 204, "{}", r.text);
        let r = app.get(&format!("{b}/sla-policies/{id}"), &owner).await;
        assert_eq!(r.status, 404);
        let audit = app.get(&format!("{b}/audit"), &owner).await;
        assert!(audit.text.contains("sla_policy.create") && audit.text.contains("sla_policy.delete"), "{}", audit.text);
    };

    breaches_timers_closing_and_metrics => |app: TestApp| async move {
        let org = app.org("acme").await;
        let b = base(&org);
        let viewer = org.token(Role::Viewer);
        let agent = org.token(Role::Agent);
        let conv = app.get(&format!("{b}/conversations/{}", org.conversation), &viewer).await;
        assert_eq!((conv.body["team_id"].as_str(), conv.body["priority"].as_str()), (Some(org.team.as_str()), Some("normal")));

        // The fixture conversation is breached on both timers, due counted 24/7 from its first item.
        let list = app.get(&format!("{b}/sla/breaches"), &viewer).await;
        assert_eq!(list.status, 200, "{}", list.text);
        assert_eq!(ids(&list.body), vec![org.conversation.clone()]);
        assert_eq!(list.body["counts"], json!([{"team_id": org.team, "team": "Support", "count": 1}]));
        let sla = &list.body["conversations"][0]["sla"];
        assert_eq!(sla["first_response"]["state"], "breached");
        assert_eq!(sla["first_response"]["due_at"], "2026-11-20T11:00:00.000Z");
        assert_eq!(sla["resolution"]["state"], "breached");
        assert_eq!(sla["resolution"]["due_at"], "2026-11-20T18:00:00.000Z");
        assert!(sla["resolution"]["overdue_minutes"].as_i64().unwrap() > 3 * 24 * 60 - 18 * 60);
        let r = app.get(&format!("{b}/sla/breaches?state=sideways"), &viewer).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (400, "state"), "{}", r.text);

        // A fresh complaint, 10 minutes old: with a 12-minute first-response target it warns.
        let fresh = complaint(&app, &org, "fresh-1", 10).await;
        let r = app.patch(&format!("{b}/sla-policies/{}", org.sla_policy), json!({"first_response_minutes": 12}), &org.token(Role::Owner)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let warn = app.get(&format!("{b}/sla/breaches?state=warning"), &viewer).await;
        assert_eq!(ids(&warn.body), vec![fresh.clone()], "{}", warn.text);
        let t = app.get(&format!("{b}/conversations/{fresh}/sla"), &viewer).await;
        assert_eq!(t.status, 200, "{}", t.text);
        assert_eq!(t.body["sla"]["first_response"]["state"], "warning");
        let left = t.body["sla"]["first_response"]["remaining_minutes"].as_i64().unwrap();
        assert!((1..=2).contains(&left), "{}", t.text);
        assert_eq!(t.body["sla"]["resolution"]["state"], "ok");
        let r = app.patch(&format!("{b}/sla-policies/{}", org.sla_policy), json!({"first_response_minutes": 60}), &org.token(Role::Owner)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let warn = app.get(&format!("{b}/sla/breaches?state=warning"), &viewer).await;
        assert!(ids(&warn.body).is_empty(), "{}", warn.text);

        // Closing meets the fresh one's resolution in time and the old one's too late.
        for id in [&fresh, &org.conversation] {
            let r = app.post(&format!("{b}/conversations/{id}/status"), json!({"status": "closed"}), &agent).await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        let t = app.get(&format!("{b}/conversations/{fresh}/sla"), &viewer).await;
        assert_eq!(t.body["sla"]["resolution"]["state"], "met", "{}", t.text);
        assert!(t.body["sla"]["resolution"]["met_at"].is_string());
        let t = app.get(&format!("{b}/conversations/{}/sla", org.conversation), &viewer).await;
        assert_eq!(t.body["sla"]["resolution"]["state"], "breached", "{}", t.text);
        assert!(t.body["sla"]["resolution"]["met_at"].is_string());
        assert!(t.body["sla"]["resolution"]["overdue_minutes"].as_i64().unwrap() > 0);
        // Closed conversations leave the lists.
        let list = app.get(&format!("{b}/sla/breaches"), &viewer).await;
        assert!(ids(&list.body).is_empty(), "{}", list.text);
        // Reopening clears the close: the resolution clock runs again.
        let r = app.post(&format!("{b}/conversations/{fresh}/status"), json!({"status": "open"}), &agent).await;
        assert_eq!(r.status, 200);
        let t = app.get(&format!("{b}/conversations/{fresh}/sla"), &viewer).await;
        assert_eq!(t.body["sla"]["resolution"]["state"], "ok", "{}", t.text);
        assert!(t.body["sla"]["resolution"]["met_at"].is_null());
        let r = app.post(&format!("{b}/conversations/{fresh}/status"), json!({"status": "closed"}), &agent).await;
        assert_eq!(r.status, 200);

        // The old conversation was answered 30 minutes in.
        let mut tx = app.app.store.write().await.unwrap();
        sqlx::query("UPDATE conversations SET first_response_at = $1 WHERE id = $2")
            .bind("2026-11-20T10:30:00.000Z")
            .bind(&org.conversation)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let t = app.get(&format!("{b}/conversations/{}/sla", org.conversation), &viewer).await;
        assert_eq!(t.body["sla"]["first_response"]["state"], "met", "{}", t.text);

        let m = app.get(&format!("{b}/inbox/metrics?from=2026-11-01&to=2100-01-01"), &viewer).await;
        assert_eq!(m.status, 200, "{}", m.text);
        let teams = m.body["teams"].as_array().unwrap();
        assert_eq!(teams.len(), 1, "{}", m.text);
        let support = &teams[0];
        assert_eq!(support["id"], org.team.as_str());
        assert_eq!(support["name"], "Support");
        assert_eq!(support["conversations"], 2);
        assert_eq!(support["first_response_median_minutes"], 30);
        assert_eq!(support["first_response_p90_minutes"], 30);
        // Nearest rank of two: the shorter, the fresh one closed 10 minutes in.
        assert_eq!(support["resolution_median_minutes"], 10);
        // The old one breached its resolution; the fresh one is within both targets.
        assert_eq!(support["sla_attainment_pct"], 50.0);
        let agents = m.body["agents"].as_array().unwrap();
        assert_eq!(agents.len(), 1, "{}", m.text);
        assert_eq!(agents[0]["conversations"], 2);
        // Only conversations that started in the window count.
        let m = app.get(&format!("{b}/inbox/metrics?from=2026-11-21&to=2026-11-22"), &viewer).await;
        assert_eq!(m.body["teams"], json!([]), "{}", m.text);
        let r = app.get(&format!("{b}/inbox/metrics?from=yesterday"), &viewer).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (400, "from"), "{}", r.text);
    };
}

api_test! {
    pending_and_snoozed_stop_the_resolution_clock_and_a_customer_reply_restarts_it => |app: TestApp| async move {
        let org = app.org("acme").await;
        let b = base(&org);
        let viewer = org.token(Role::Viewer);
        let agent = org.token(Role::Agent);
        let fresh = complaint(&app, &org, "wait-1", 30).await;
        let sla = |t: &Value| t["sla"]["resolution"].clone();
        let t = app.get(&format!("{b}/conversations/{fresh}/sla"), &viewer).await.body;
        let due_before = sla(&t)["due_at"].as_str().unwrap().to_string();

        let r = app.post(&format!("{b}/conversations/{fresh}/status"), json!({"status": "pending"}), &agent).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let t = app.get(&format!("{b}/conversations/{fresh}/sla"), &viewer).await.body;
        assert_eq!(sla(&t)["state"], "paused", "{t}");
        assert!(sla(&t)["due_at"].is_null());
        // The inbox list filters by SLA state.
        let listed = |body: &Value| -> Vec<String> { body["conversations"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect() };
        let paused = app.get(&format!("{b}/conversations?sla=paused"), &viewer).await;
        assert_eq!(paused.status, 200, "{}", paused.text);
        assert_eq!(listed(&paused.body), vec![fresh.clone()]);
        let breached = app.get(&format!("{b}/conversations?sla=breached&view=team:Support"), &viewer).await;
        assert_eq!(listed(&breached.body), vec![org.conversation.clone()], "the fixture's old one");
        let bad = app.get(&format!("{b}/conversations?sla=late"), &viewer).await;
        assert_eq!((bad.status.as_u16(), bad.error_field()), (422, "sla"), "{}", bad.text);
        let left = sla(&t)["remaining_minutes"].as_i64().unwrap();
        assert!((449..=451).contains(&left), "30 of 480 minutes used: {t}");
        // The first response is still owed.
        assert_eq!(t["sla"]["first_response"]["state"], "ok", "{t}");

        // Pretend the wait lasted two hours, then the customer answers: the clock runs again,
        // due two hours later than before.
        let mut tx = app.app.store.write().await.unwrap();
        sqlx::query("UPDATE conversations SET paused_at = $1 WHERE id = $2").bind(ago(120)).bind(&fresh).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
        let item: NewItem = serde_json::from_value(json!({
            "network": "mastodon", "external_id": "wait-2", "kind": "reply", "root_id": "wait-1", "parent_id": "wait-1",
            "author": {"id": "7", "handle": "lena@example.social"}, "text": "Immer noch kaputt", "created_at": ago(0),
        })).unwrap();
        let write = app.app.prepare(item);
        app.app.store_items(&org.global, vec![write]).await.unwrap();
        app.app.route_new_items().await.unwrap();
        let conv = app.get(&format!("{b}/conversations/{fresh}"), &viewer).await.body;
        assert_eq!(conv["status"], "open", "{conv}");
        let t = app.get(&format!("{b}/conversations/{fresh}/sla"), &viewer).await.body;
        assert_eq!(sla(&t)["state"], "ok", "{t}");
        let due_after = sla(&t)["due_at"].as_str().unwrap().to_string();
        let shift = time::OffsetDateTime::parse(&due_after, &time::format_description::well_known::Rfc3339).unwrap()
            - time::OffsetDateTime::parse(&due_before, &time::format_description::well_known::Rfc3339).unwrap();
        assert!((118..=122).contains(&shift.whole_minutes()), "moved by the pause: {due_before} -> {due_after}");

        // Snoozing pauses as well; closing from a pause ends it.
        let until = switchboard_store::timestamp(time::OffsetDateTime::now_utc() + time::Duration::hours(3));
        let r = app.post(&format!("{b}/conversations/{fresh}/status"), json!({"status": "snoozed", "snoozed_until": until}), &agent).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let t = app.get(&format!("{b}/conversations/{fresh}/sla"), &viewer).await.body;
        assert_eq!(sla(&t)["state"], "paused", "{t}");
        let r = app.post(&format!("{b}/conversations/{fresh}/status"), json!({"status": "closed"}), &agent).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let t = app.get(&format!("{b}/conversations/{fresh}/sla"), &viewer).await.body;
        assert_eq!(sla(&t)["state"], "met", "{t}");
    };
}
