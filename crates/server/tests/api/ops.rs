use crate::api_test;
use crate::helpers::*;
use serde_json::json;
use switchboard_core::Role;

api_test! {
    workspaces_list_with_parent_and_slug_or_id_addressing => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let owner = acme.token(Role::Owner);
        let list = app.get("/api/v1/workspaces", &owner).await;
        assert_eq!(list.status, 200);
        let ws = list.body["workspaces"].as_array().unwrap();
        assert_eq!(ws.len(), 2);
        for w in ws {
            for key in ["id", "slug", "name", "parent_id", "parent", "org"] {
                assert!(w.get(key).is_some(), "{key} missing in {w}");
            }
        }
        let by_slug = app.get("/api/v1/workspaces/acme-child", &owner).await;
        let by_id = app.get(&format!("/api/v1/workspaces/{}", acme.child), &owner).await;
        assert_eq!(by_slug.body, by_id.body);
        assert_eq!(by_slug.body["parent"]["slug"], "acme-global");
        assert_eq!(app.get("/api/v1/workspaces/acme/acme-child", &owner).await.status, 404, "slash is not a path separator here");
    };

    create_update_and_delete_workspaces_with_checks => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let owner = acme.token(Role::Owner);
        let created = app.post("/api/v1/workspaces", json!({"name": "Acme FR", "parent": "acme-global"}), &owner).await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.body["slug"], "acme-fr");
        assert_eq!(created.body["parent_id"], acme.global.as_str());
        let id = created.body["id"].as_str().unwrap().to_string();
        assert_eq!(id.len(), 36, "public ids are UUIDs");

        let dup = app.post("/api/v1/workspaces", json!({"name": "Other", "slug": "acme-fr"}), &owner).await;
        assert_eq!((dup.status.as_u16(), dup.error_code(), dup.error_field()), (409, "conflict", "slug"));

        // A workspace cannot move under its own descendant.
        let cycle = app.patch(&format!("/api/v1/workspaces/{}", acme.global), json!({"parent": id}), &owner).await;
        assert_eq!((cycle.status.as_u16(), cycle.error_field()), (422, "parent"), "{}", cycle.text);

        let renamed = app.patch(&format!("/api/v1/workspaces/{id}"), json!({"name": "Acme France", "parent": null}), &owner).await;
        assert_eq!(renamed.status, 200, "{}", renamed.text);
        assert_eq!(renamed.body["name"], "Acme France");
        assert!(renamed.body["parent_id"].is_null());

        let refused = app.delete(&format!("/api/v1/workspaces/{}", acme.global), &owner).await;
        assert_eq!((refused.status.as_u16(), refused.error_code()), (409, "conflict"), "parent with children");
        assert_eq!(app.delete(&format!("/api/v1/workspaces/{id}"), &owner).await.status, 204);
        assert_eq!(app.get(&format!("/api/v1/workspaces/{id}"), &owner).await.status, 404);
    };

    roles_are_enforced_by_the_service => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let teams = format!("/api/v1/workspaces/{}/teams", acme.global);
        let members = format!("/api/v1/workspaces/{}/members", acme.global);
        let body = json!({"name": "Recruiting", "function": "recruiting"});
        for role in [Role::Viewer, Role::Agent, Role::Analyst, Role::Ambassador, Role::Contributor, Role::Publisher] {
            let r = app.post(&teams, body.clone(), &acme.token(role)).await;
            assert_eq!((r.status.as_u16(), r.error_code()), (403, "forbidden"), "{role} created a team");
            let r = app.post(&members, json!({"email": "x@acme.example", "role": "viewer", "password": "long enough pw"}), &acme.token(role)).await;
            assert_eq!(r.status, 403, "{role} added a member");
        }
        assert_eq!(app.post(&teams, body, &acme.token(Role::Manager)).await.status, 201);
        // Ambassadors see the workspace but not its member list.
        assert_eq!(app.get(&members, &acme.token(Role::Ambassador)).await.status, 403);
        assert_eq!(app.get(&members, &acme.token(Role::Viewer)).await.status, 200);
        // Only owners make owners.
        let grant = app.post(&members, json!({"email": "boss@acme.example", "role": "owner", "password": "long enough pw"}), &acme.token(Role::Admin)).await;
        assert_eq!(grant.status, 403);
        let grant = app.post(&members, json!({"email": "boss@acme.example", "role": "owner", "password": "long enough pw"}), &acme.token(Role::Owner)).await;
        assert_eq!(grant.status, 201, "{}", grant.text);
        // Deleting a workspace is for owners alone.
        let child = format!("/api/v1/workspaces/{}", acme.child);
        assert_eq!(app.delete(&child, &acme.token(Role::Admin)).await.status, 403);
        // Top-level workspaces are for organisation owners and admins.
        let r = app.post("/api/v1/workspaces", json!({"name": "Rogue"}), &acme.token(Role::Admin)).await;
        assert_eq!(r.status, 403, "{}", r.text);
    };

    members_and_teams_round_trip => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let admin = acme.token(Role::Admin);
        let members = format!("/api/v1/workspaces/{}/members", acme.child);
        let added = app.post(&members, json!({"email": "Jun@Acme.example", "name": "Jun Park", "role": "agent", "password": "long enough pw"}), &admin).await;
        assert_eq!(added.status, 201, "{}", added.text);
        assert_eq!(added.body["email"], "jun@acme.example");
        let jun = added.body["user_id"].as_str().unwrap().to_string();
        let again = app.post(&members, json!({"email": "jun@acme.example", "role": "viewer"}), &admin).await;
        assert_eq!((again.status.as_u16(), again.error_field()), (409, "email"));
        let no_pw = app.post(&members, json!({"email": "new@acme.example", "role": "viewer"}), &admin).await;
        assert_eq!((no_pw.status.as_u16(), no_pw.error_field()), (422, "password"));
        // The new member can sign in and sees only the child workspace.
        let session = app.login("jun@acme.example", "long enough pw").await;
        let mine = app.get("/api/v1/workspaces", &session).await;
        assert_eq!(mine.body["workspaces"].as_array().unwrap().len(), 1);
        assert_eq!(mine.body["workspaces"][0]["parent"]["name"], "Global", "the centre of excellence is named to its children's members");
        assert_eq!(app.get(&format!("/api/v1/workspaces/{}", acme.global), &session).await.status, 404);

        let team = app.post(&format!("/api/v1/workspaces/{}/teams", acme.child), json!({"name": "Support KR", "function": "support"}), &admin).await;
        let team_id = team.body["id"].as_str().unwrap().to_string();
        let tm = format!("/api/v1/workspaces/{}/teams/{team_id}/members", acme.child);
        let r = app.post(&tm, json!({"user": "jun@acme.example"}), &admin).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["members"][0]["email"], "jun@acme.example");
        // Someone with no role in the workspace cannot join its team.
        let outsider = app.post(&tm, json!({"user": "nobody@else.example"}), &admin).await;
        assert_eq!((outsider.status.as_u16(), outsider.error_field()), (422, "user"));

        let role = app.patch(&format!("{members}/{jun}"), json!({"role": "manager"}), &admin).await;
        assert_eq!(role.body["role"], "manager");
        assert_eq!(app.delete(&format!("{members}/{jun}"), &admin).await.status, 204);
        let team_view = app.get(&format!("/api/v1/workspaces/{}/teams/{team_id}", acme.child), &admin).await;
        assert_eq!(team_view.body["members"], json!([]), "leaving the workspace leaves its teams");
        assert_eq!(app.get("/api/v1/workspaces", &session).await.body["workspaces"], json!([]));
    };

    every_change_is_audited_and_only_admins_read_it => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let manager = acme.token(Role::Manager);
        let team = app.post(&format!("/api/v1/workspaces/{}/teams", acme.global), json!({"name": "Product", "function": "product"}), &manager).await;
        let id = team.body["id"].as_str().unwrap();
        app.patch(&format!("/api/v1/workspaces/{}/teams/{id}", acme.global), json!({"name": "Product & UX"}), &manager).await;
        let audit = format!("/api/v1/workspaces/{}/audit", acme.global);
        assert_eq!(app.get(&audit, &manager).await.status, 403);
        let log = app.get(&audit, &acme.token(Role::Admin)).await;
        assert_eq!(log.status, 200);
        let e = &log.body["entries"][0];
        assert_eq!(e["action"], "team.update");
        assert_eq!(e["actor"], "manager@acme.example");
        assert_eq!(e["target_id"], id);
        assert_eq!(e["before"]["name"], "Product");
        assert_eq!(e["after"]["name"], "Product & UX");
        assert_eq!(log.body["entries"][1]["action"], "team.create");
        let page = app.get(&format!("{audit}?limit=1&before={}", e["id"].as_str().unwrap()), &acme.token(Role::Admin)).await;
        assert_eq!(page.body["entries"][0]["action"], "team.create");
        let org_log = app.get(&format!("/api/v1/orgs/{}/audit", acme.slug), &acme.token(Role::Owner)).await;
        assert!(org_log.text.contains("\"org.create\""), "{}", org_log.text);
        assert_eq!(app.get(&format!("/api/v1/orgs/{}/audit", acme.slug), &acme.token(Role::Admin)).await.status, 403, "workspace admin is not an org admin");
        let bad = app.get(&format!("{audit}?limit=9999"), &acme.token(Role::Admin)).await;
        assert_eq!((bad.status.as_u16(), bad.error_code(), bad.error_field()), (400, "invalid_query", "limit"));
    };
}

api_test! {
    demo_seed_gives_each_user_a_working_login_and_enriched_items => |app: TestApp| async move {
        let users = app.app.seed_demo().await.unwrap();
        assert_eq!(users.len(), 9, "an owner and one user per other role");
        let owner = app.login(&users[0].email, &users[0].password).await;
        let ws = app.get("/api/v1/workspaces", &owner).await;
        let names: Vec<&str> = ws.body["workspaces"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["Acme DE", "Acme Global", "Acme KR"]);
        // The hand-written mentions, enriched (the generated listening stream comes on top).
        let items = app.get("/api/v1/workspaces/acme-de/search?q=globex%20OR%20stürzt&limit=50", &owner).await;
        let list = items.body["items"].as_array().unwrap();
        assert!(list.iter().any(|i| i["lang"] == "de" && i["sentiment"]["label"] == "negative" && i["intents"].as_array().unwrap().contains(&json!("bug_report"))), "{}", items.text);
        assert!(list.iter().any(|i| i["tags"].as_array().unwrap().contains(&json!("competitor:Globex"))));
        let total = app.get("/api/v1/workspaces/acme-de/search?q=&limit=1", &owner).await.body["total"].as_u64().unwrap();
        assert!(total > 300, "two weeks of mentions: {total}");
        let topics = app.get("/api/v1/workspaces/acme-global/topics", &owner).await;
        assert_eq!(topics.body["topics"].as_array().unwrap().len(), 4, "{}", topics.text);
        // The inbox is ready to work: saved replies in the region's language, SLA policies.
        let saved = app.get("/api/v1/workspaces/acme-de/saved-replies", &owner).await;
        assert_eq!(saved.body["saved_replies"][0]["name"], "Entschuldigung", "{}", saved.text);
        let policies = app.get("/api/v1/workspaces/acme-kr/sla-policies", &owner).await;
        assert_eq!(policies.body["policies"][0]["time_zone"], "Asia/Seoul", "{}", policies.text);
        // Seeding again keeps the data and hands out new passwords that work.
        let again = app.app.seed_demo().await.unwrap();
        assert_ne!(again[0].password, users[0].password);
        app.login(&again[1].email, &again[1].password).await;
        assert_eq!(app.get("/api/v1/workspaces/acme-de/search?q=&limit=1", &owner).await.body["total"].as_u64().unwrap(), total);
    };
}
