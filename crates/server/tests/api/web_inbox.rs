//! The Inbox page without a browser: who sees it, what it shows, and its forms (PRG, CSRF,
//! the service's permissions, one reply per idempotency key).

use crate::api_test;
use crate::helpers::*;
use switchboard_core::Role;

/// The value of the first `<input name="{name}" value="…">` of a page.
fn field(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no field {name}"));
    let rest = &html[at + name.len() + 15..];
    rest.split('"').next().unwrap().to_string()
}

api_test! {
    web_inbox_renders_the_three_panes_for_an_agent => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let agent = Browser::sign_in(&app, "agent@acme.example").await;
        let agent_user = app.app.user_by_email("agent@acme.example").await.unwrap();
        let base = format!("/w/{}/inbox", acme.global);

        let r = agent.get(&format!("/w/{}", acme.global)).await;
        assert!(r.text.contains(&format!("href=\"{base}\"")), "Inbox is linked in the nav");
        assert!(!r.text.contains("Inbox<small>soon"), "Inbox is no longer 'soon'");

        let r = agent.get(&base).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.text.contains("data-inbox"), "the three-pane layout");
        // Queues: All, Mine, Unassigned and the workspace's team, with the open count.
        for q in ["data-queue=\"all\"", "data-queue=\"mine\"", "data-queue=\"unassigned\"", &format!("data-queue=\"team:{}\"", acme.team)] {
            assert!(r.text.contains(q), "queue {q}");
        }
        assert!(r.text.contains("title=\"Open conversations\">1<"), "a count of one open conversation");
        // The conversation's row: author, first line, network, intent, team, nobody assigned.
        assert!(r.text.contains(&format!("data-conversation=\"{}\"", acme.conversation)));
        assert!(r.text.contains("Die App stürzt seit dem Update ständig ab"));
        assert!(r.text.contains(">Kim<") && r.text.contains(">mastodon<"));
        assert!(r.text.contains("class=\"team\">Support<"), "{}", r.text);
        assert!(r.text.contains("id=\"shortcut-hint\"") && r.text.contains("id=\"shortcut-help\""), "shortcuts shown");

        // The team's queue lists it too; the unassigned queue does not.
        let r = agent.get(&format!("{base}?view=team%3A{}", acme.team)).await;
        assert!(r.text.contains(&format!("data-conversation=\"{}\"", acme.conversation)));
        let r = agent.get(&format!("{base}?view=unassigned")).await;
        assert!(!r.text.contains(&format!("data-conversation=\"{}\"", acme.conversation)));

        // The conversation: timeline, SLA timers, actions, and a reply form whose saved reply
        // is filled in for this customer and agent.
        let r = agent.get(&format!("{base}/{}", acme.conversation)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.text.contains("id=\"timeline\"") && r.text.contains("data-event=\"routed\""));
        assert!(r.text.contains("id=\"sla\"") && r.text.contains("First response"), "SLA timers");
        assert!(r.text.contains("id=\"assign-me\"") && r.text.contains("id=\"close-form\""));
        assert!(r.text.contains("id=\"reply-form\"") && r.text.contains("name=\"idempotency_key\""));
        let filled = format!("Hi @kim@example.social, thanks for writing to Global. {}", agent_user.name);
        assert!(r.text.contains(&format!("data-body=\"{filled}\"")), "{}", r.text);
        assert!(r.text.contains(&format!("data-presence-url=\"/api/v1/workspaces/{}/conversations/{}/presence\"", acme.global, acme.conversation)));

        // A query in the listening language narrows the list; a syntax error shows its column.
        let r = agent.get(&format!("{base}?q=globex")).await;
        assert!(!r.text.contains(&format!("data-conversation=\"{}\"", acme.conversation)));
        let r = agent.get(&format!("{base}?q=app+OR")).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains("column 7: "), "{}", r.text);
        let r = agent.get(&format!("{base}?status=sleeping")).await;
        assert_eq!(r.status, 422);
        assert!(r.text.contains("status: expected one of"));
        // The SLA filter: the fixture's conversation is long past its first-response target.
        let r = agent.get(&format!("{base}?sla=breached")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.text.contains(&format!("data-conversation=\"{}\"", acme.conversation)) && r.text.contains("SLA breached"));
        let r = agent.get(&format!("{base}?sla=met")).await;
        assert!(!r.text.contains(&format!("data-conversation=\"{}\"", acme.conversation)));
        // A conversation that is not there.
        assert_eq!(agent.get(&format!("{base}/nope")).await.status, 404);
    };

    web_inbox_is_not_found_outside_the_organisation_and_forbidden_without_inbox_read => |app: TestApp| async move {
        let acme = app.org("acme").await;
        app.org("globex").await;
        let outsider = Browser::sign_in(&app, "agent@globex.example").await;
        for path in [format!("/w/{}/inbox", acme.global), format!("/w/{}/inbox/{}", acme.global, acme.conversation)] {
            assert_eq!(outsider.get(&path).await.status, 404, "{path}");
        }
        // Posting to another organisation's conversation changes nothing.
        let (_, page) = outsider.submit(&format!("/w/{}/inbox/{}/status", acme.global, acme.conversation), &[("status", "closed")]).await;
        assert_eq!(page.status, 404);
        // An ambassador is a member without inbox.read.
        let ambassador = Browser::sign_in(&app, "ambassador@acme.example").await;
        let r = ambassador.get(&format!("/w/{}/inbox", acme.global)).await;
        assert_eq!(r.status, 403, "{}", r.text);
        let r = ambassador.get(&format!("/w/{}", acme.global)).await;
        assert!(!r.text.contains(&format!("/w/{}/inbox", acme.global)), "no Inbox link without inbox.read");
        let detail = app.get(&format!("/api/v1/workspaces/{}/conversations/{}", acme.global, acme.conversation), &acme.token(Role::Owner)).await;
        assert_eq!(detail.body["status"], "open");
    };

    web_inbox_refuses_a_viewers_reply_and_hides_the_controls => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let viewer = Browser::sign_in(&app, "viewer@acme.example").await;
        let conv = format!("/w/{}/inbox/{}", acme.global, acme.conversation);
        let r = viewer.get(&conv).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.text.contains("Die App stürzt"), "a viewer reads the conversation");
        for hidden in ["id=\"reply-form\"", "id=\"assign-me\"", "id=\"close-form\"", "id=\"assign-form\"", "id=\"note-form\""] {
            assert!(!r.text.contains(hidden), "a viewer sees {hidden}");
        }
        assert!(r.text.contains("id=\"read-only\""));

        // The handlers refuse anyway, saying why.
        let (red, page) = viewer.submit(&format!("{conv}/reply"), &[("body", "Hallo"), ("idempotency_key", "v1"), ("back", &conv)]).await;
        assert_eq!(red.headers["location"], conv.as_str());
        assert!(page.text.contains("class=\"flash error\"") && page.text.contains("does not allow"), "{}", page.text);
        for (action, fields) in [("assign", vec![("user", "me")]), ("status", vec![("status", "closed")]), ("note", vec![("body", "x")]), ("priority", vec![("priority", "urgent")]), ("tags", vec![("tags", "vip")])] {
            let (_, page) = viewer.submit(&format!("{conv}/{action}"), &fields).await;
            assert!(page.text.contains("does not allow"), "{action}: {}", page.text);
        }
        let owner = acme.token(Role::Owner);
        let api = format!("/api/v1/workspaces/{}/conversations/{}", acme.global, acme.conversation);
        let replies = app.get(&format!("{api}/replies"), &owner).await;
        assert_eq!(replies.body["replies"].as_array().unwrap().len(), 0, "nothing was queued");
        let detail = app.get(&api, &owner).await;
        assert_eq!((detail.body["status"].as_str(), detail.body["priority"].as_str()), (Some("open"), Some("normal")));
        assert!(detail.body["assignee_id"].is_null());

        // Without the session's CSRF token, nothing happens either.
        let agent = Browser::sign_in(&app, "agent@acme.example").await;
        let r = app.send(app.client.post(app.url(&format!("{conv}/status"))).header("cookie", format!("sb_session={}", agent.cookie))
            .header("content-type", "application/x-www-form-urlencoded").body("status=closed&csrf_token=wrong")).await;
        assert_eq!(r.status, 303);
        assert_eq!(app.get(&api, &owner).await.body["status"], "open");
    };

    web_inbox_forms_assign_reply_once_note_tag_and_close => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let agent = Browser::sign_in(&app, "agent@acme.example").await;
        let agent_id = acme.user_id(Role::Agent);
        let owner = acme.token(Role::Owner);
        let conv = format!("/w/{}/inbox/{}", acme.global, acme.conversation);
        let api = format!("/api/v1/workspaces/{}/conversations/{}", acme.global, acme.conversation);
        let back = format!("{conv}?view=mine");

        // Assign to me: back to the page it came from, with the message.
        let (r, page) = agent.submit(&format!("{conv}/assign"), &[("user", "me"), ("back", &back)]).await;
        assert_eq!(r.headers["location"], back.as_str());
        assert!(page.text.contains("Assigned to you."), "{}", page.text);
        assert_eq!(app.get(&api, &owner).await.body["assignee_id"], agent_id.as_str());
        assert!(page.text.contains("data-event=\"assigned\""), "the timeline shows the assignment");
        assert!(page.text.contains(&format!("data-conversation=\"{}\"", acme.conversation)), "listed under Mine");
        // A back link elsewhere is not followed.
        let (r, _) = agent.submit(&format!("{conv}/assign"), &[("user", "me"), ("back", "https://evil.example/")]).await;
        assert_eq!(r.headers["location"], conv.as_str());

        // The reply form, sent twice with its key (a double click): one reply.
        let page = agent.get(&conv).await;
        let key = field(&page.text, "idempotency_key");
        assert!(key.len() >= 16, "{key}");
        let fields = [("body", "Hallo Kim, das tut uns leid."), ("idempotency_key", key.as_str()), ("back", conv.as_str())];
        let (_, page) = agent.submit(&format!("{conv}/reply"), &fields).await;
        assert!(page.text.contains("Reply queued"), "{}", page.text);
        assert!(page.text.contains("data-reply-status=\"queued\""), "the reply is on the timeline");
        let (_, page) = agent.submit(&format!("{conv}/reply"), &fields).await;
        assert!(page.text.contains("already sent"), "{}", page.text);
        let replies = app.get(&format!("{api}/replies"), &owner).await;
        assert_eq!(replies.body["replies"].as_array().unwrap().len(), 1, "one reply for one key");
        // A fresh form has a fresh key.
        assert_ne!(field(&agent.get(&conv).await.text, "idempotency_key"), key);
        // Without a script, a saved reply is chosen and the box left empty: the service fills it.
        let (_, page) = agent.submit(&format!("{conv}/reply"), &[("body", ""), ("saved_reply", &acme.saved_reply), ("idempotency_key", "k2")]).await;
        assert!(page.text.contains("Reply queued"), "{}", page.text);
        let replies = app.get(&format!("{api}/replies"), &owner).await;
        let bodies: Vec<&str> = replies.body["replies"].as_array().unwrap().iter().map(|r| r["body"].as_str().unwrap()).collect();
        assert!(bodies.iter().any(|b| b.starts_with("Hi @kim@example.social, thanks for writing to Global.")), "{bodies:?}");
        // Neither a body nor a saved reply: said so.
        let (_, page) = agent.submit(&format!("{conv}/reply"), &[("body", "  "), ("idempotency_key", "k3")]).await;
        assert!(page.text.contains("write a reply or pick a saved reply"));

        // An internal note mentioning a teammate.
        let (_, page) = agent.submit(&format!("{conv}/note"), &[("body", "@manager bitte Erstattung prüfen")]).await;
        assert!(page.text.contains("1 teammate(s) mentioned"), "{}", page.text);
        assert!(page.text.contains("<span class=\"mention\">@manager</span>"));

        // Send to CRM: queued to the fixture's CRM webhook and on the timeline.
        let (_, page) = agent.submit(&format!("{conv}/handoff"), &[("note", "Bitte Rückruf")]).await;
        assert!(page.text.contains("Sent to CRM"), "{}", page.text);
        assert!(page.text.contains("data-event=\"handoff\""), "{}", page.text);
        assert_eq!(app.get(&format!("{api}/handoffs"), &owner).await.body["handoffs"][0]["note"], "Bitte Rückruf");

        // Priority and tags, on the timeline and in the audit log.
        let (_, page) = agent.submit(&format!("{conv}/priority"), &[("priority", "urgent")]).await;
        assert!(page.text.contains("Priority set.") && page.text.contains("data-event=\"priority\""));
        let (_, page) = agent.submit(&format!("{conv}/tags"), &[("tags", "Refund, #vip, refund")]).await;
        assert!(page.text.contains("Tags saved."), "{}", page.text);
        let detail = app.get(&api, &owner).await.body;
        assert_eq!(detail["priority"], "urgent");
        assert_eq!(detail["tags"], serde_json::json!(["refund", "vip"]));
        let (_, page) = agent.submit(&format!("{conv}/priority"), &[("priority", "whenever")]).await;
        assert!(page.text.contains("priority: expected one of"));
        let audit = app.get(&format!("/api/v1/workspaces/{}/audit", acme.global), &owner).await;
        assert_eq!(audit.text.matches("\"conversation.update\"").count(), 2, "priority, then tags: {}", audit.text);

        // Snooze until tomorrow, then close.
        let (_, page) = agent.submit(&format!("{conv}/status"), &[("status", "snoozed"), ("snooze", "tomorrow"), ("tz", "Europe/Berlin")]).await;
        assert!(page.text.contains("Snoozed."), "{}", page.text);
        assert_eq!(app.get(&api, &owner).await.body["status"], "snoozed");
        let (_, page) = agent.submit(&format!("{conv}/status"), &[("status", "snoozed"), ("snooze", "until"), ("until", "2001-01-01T10:00")]).await;
        assert!(page.text.contains("pick a time in the future"));
        let (_, page) = agent.submit(&format!("{conv}/status"), &[("status", "closed"), ("back", &conv)]).await;
        assert!(page.text.contains("Closed."));
        assert_eq!(app.get(&api, &owner).await.body["status"], "closed");
        assert!(page.text.contains("id=\"reopen-form\"") && !page.text.contains("id=\"close-form\""));
        // Closed conversations leave the default (open) list but are there under "any".
        let list = agent.get(&format!("/w/{}/inbox", acme.global)).await;
        assert!(!list.text.contains(&format!("data-conversation=\"{}\"", acme.conversation)));
        let list = agent.get(&format!("/w/{}/inbox?status=any", acme.global)).await;
        assert!(list.text.contains(&format!("data-conversation=\"{}\"", acme.conversation)));
    };
}

api_test! {
    web_inbox_metrics_show_each_team_and_agent_to_inbox_readers_only => |app: TestApp| async move {
        let acme = app.org("acme").await;
        // The fixture conversation started 2026-11-20; close it so resolution has a figure.
        let conv = format!("/api/v1/workspaces/{}/conversations/{}", acme.global, acme.conversation);
        assert_eq!(app.post(&format!("{conv}/assign"), serde_json::json!({"user": "me"}), &acme.token(Role::Agent)).await.status, 200);
        assert_eq!(app.post(&format!("{conv}/status"), serde_json::json!({"status": "closed"}), &acme.token(Role::Agent)).await.status, 200);
        let viewer = Browser::sign_in(&app, "viewer@acme.example").await;
        let page = viewer.get(&format!("/w/{}/inbox/metrics?days=90", acme.global)).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains("By team") && page.text.contains("By agent"), "{}", page.text);
        assert!(page.text.contains("<td>Support</td>"), "the fixture's team: {}", page.text);
        assert!(page.text.contains("<td>agent@acme.example</td>"), "{}", page.text);
        // The conversation breached its 24/7 SLA long ago: 0% attainment.
        assert!(page.text.contains("badge danger\">0%"), "{}", page.text);
        let inbox = viewer.get(&format!("/w/{}/inbox", acme.global)).await;
        assert!(inbox.text.contains("id=\"metrics-link\""));
        let ambassador = Browser::sign_in(&app, "ambassador@acme.example").await;
        assert_eq!(ambassador.get(&format!("/w/{}/inbox/metrics", acme.global)).await.status, 403);
    };
}
