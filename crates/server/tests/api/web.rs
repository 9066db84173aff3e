//! The web UI without a browser: redirects, CSRF on forms, the login form.

use crate::api_test;
use crate::helpers::*;
use switchboard_core::Role;

fn form_csrf(html: &str) -> String {
    let i = html
        .find("name=\"csrf_token\" value=\"")
        .expect("csrf field")
        + 25;
    html[i..].split('"').next().unwrap().to_string()
}

api_test! {
    pages_redirect_to_login_and_the_login_form_works => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let r = app.get(&format!("/w/{}/members", acme.global), &Auth::None).await;
        assert_eq!(r.status, 303);
        assert!(r.headers["location"].to_str().unwrap().starts_with("/login?next=%2Fw%2F"));

        let page = app.get("/login", &Auth::None).await;
        assert_eq!(page.status, 200);
        assert!(page.headers["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
        let csrf = form_csrf(&page.text);
        let login_cookie = cookie_value(&page.headers, "sb_login_csrf").unwrap();
        assert_eq!(csrf, login_cookie);

        // Without the matching cookie the form is refused (login CSRF).
        let body = format!("email=owner%40acme.example&password={PASSWORD}&csrf_token={csrf}&next=%2Fworkspaces");
        let r = app.send(app.client.post(app.url("/login")).header("content-type", "application/x-www-form-urlencoded").body(body.clone())).await;
        assert_eq!(r.status, 403);
        assert!(cookie_value(&r.headers, "sb_session").is_none());

        let r = app.send(app.client.post(app.url("/login")).header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("sb_login_csrf={login_cookie}")).body(body)).await;
        assert_eq!(r.status, 303, "{}", r.text);
        assert_eq!(r.headers["location"], "/workspaces");
        let session = cookie_value(&r.headers, "sb_session").unwrap();

        let page = app.send(app.client.get(app.url("/workspaces")).header("cookie", format!("sb_session={session}"))).await;
        assert_eq!(page.status, 200);
        assert!(page.text.contains("acme-child") && page.text.contains("Listening"), "workspace list and module nav");

        // A form post without the session's CSRF token changes nothing.
        let team_form = format!("/w/{}/teams", acme.global);
        let r = app.send(app.client.post(app.url(&team_form)).header("cookie", format!("sb_session={session}"))
            .header("content-type", "application/x-www-form-urlencoded").body("name=Sneaky&function=sales&csrf_token=wrong")).await;
        assert_eq!(r.status, 303);
        let teams = app.get(&format!("/api/v1/workspaces/{}/teams", acme.global), &acme.token(Role::Owner)).await;
        assert!(!teams.text.contains("Sneaky"));
        // With it, the team is created.
        let csrf = form_csrf(&page.text);
        let r = app.send(app.client.post(app.url(&team_form)).header("cookie", format!("sb_session={session}"))
            .header("content-type", "application/x-www-form-urlencoded").body(format!("name=Sales+DACH&function=sales&csrf_token={csrf}"))).await;
        assert_eq!(r.status, 303);
        let teams = app.get(&format!("/api/v1/workspaces/{}/teams", acme.global), &acme.token(Role::Owner)).await;
        assert!(teams.text.contains("Sales DACH"), "{}", teams.text);
    };

    wrong_login_shows_the_form_again_with_401 => |app: TestApp| async move {
        app.org("acme").await;
        let page = app.get("/login", &Auth::None).await;
        let csrf = form_csrf(&page.text);
        let body = format!("email=owner%40acme.example&password=nope-nope-nope&csrf_token={csrf}");
        let r = app.send(app.client.post(app.url("/login")).header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("sb_login_csrf={csrf}")).body(body)).await;
        assert_eq!(r.status, 401);
        assert!(r.text.contains("Wrong e-mail address or password"));
    };

    login_next_parameter_cannot_leave_the_site => |app: TestApp| async move {
        app.org("acme").await;
        let page = app.get("/login", &Auth::None).await;
        let csrf = form_csrf(&page.text);
        let body = format!("email=owner%40acme.example&password={PASSWORD}&csrf_token={csrf}&next=%2F%2Fevil.example");
        let r = app.send(app.client.post(app.url("/login")).header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("sb_login_csrf={csrf}")).body(body)).await;
        assert_eq!(r.headers["location"], "/");
    };

    other_organisations_pages_are_not_found => |app: TestApp| async move {
        app.org("acme").await;
        let globex = app.org("globex").await;
        let session = app.login("owner@acme.example", PASSWORD).await;
        let Auth::Session { cookie, .. } = session else { unreachable!() };
        for path in [format!("/w/{}", globex.global), format!("/w/{}/members", globex.global), format!("/w/{}/teams/{}", globex.global, globex.team), "/orgs/globex/audit".into()] {
            let r = app.send(app.client.get(app.url(&path)).header("cookie", format!("sb_session={cookie}"))).await;
            assert_eq!(r.status, 404, "{path}");
        }
    };
}

api_test! {
    static_assets_are_served => |app: TestApp| async move {
        for (path, mime) in [("/static/app.css", "text/css"), ("/static/app.js", "text/javascript"), ("/favicon.ico", "image/svg+xml")] {
            let r = app.get(path, &Auth::None).await;
            assert_eq!(r.status, 200, "{path}");
            assert_eq!(r.headers["content-type"], mime);
        }
    };
}

api_test! {
    listening_page_shows_topics_mentions_charts_and_alerts => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let viewer = Browser::sign_in(&app, "viewer@acme.example").await;
        let base = format!("/w/{}/listening", acme.global);
        // The fixture's item is from 2026-11-20; ask for its month so the test does not age.
        let period = "from=2026-11-01&to=2026-11-30";

        let r = viewer.get(&format!("/w/{}", acme.global)).await;
        assert!(r.text.contains(&format!("href=\"{base}\"")), "Listening is linked in the nav");

        let r = viewer.get(&format!("{base}?{period}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.text.contains(&format!("?topic={}", acme.topic)) && r.text.contains(">App</a>"), "topic listed");
        assert!(r.text.contains("Die App stürzt seit dem Update ständig ab"), "the item is listed");
        assert!(r.text.contains(&format!("href=\"/w/{}/items/{}\"", acme.global, acme.item)), "item link");
        assert!(r.text.contains("<svg") && r.text.contains("class=\"chart volume-chart\""), "volume chart");
        assert!(r.text.contains("<title>2026-11-20: 1 item ("), "a titled bar for the item's day");
        assert!(r.text.contains("App 4.2 release") && r.text.contains("class=\"ann\""), "annotation on the chart");
        assert!(r.text.contains("App: volume +900% vs baseline"), "alert listed");
        assert!(r.text.contains("id=\"share-of-voice\""), "share of voice");
        assert!(r.text.contains("kim@example.social"), "top author");
        // A viewer may read but not manage: no topic form, no acknowledge button.
        assert!(!r.text.contains("Add topic") && !r.text.contains(">Acknowledge<"));

        // The topic: its spike window is shaded on its chart.
        let r = viewer.get(&format!("{base}?topic={}&{period}", acme.topic)).await;
        assert_eq!(r.status, 200);
        assert!(r.text.contains("class=\"spike\""), "spike window shaded");
        assert!(r.text.contains("value=\"app\""), "the query box shows the topic's query");

        // Search terms are marked; the rest of the text is escaped.
        let q = serde_urlencoded::to_string([("q", "stürzt")]).unwrap();
        let r = viewer.get(&format!("{base}?{q}&{period}")).await;
        assert_eq!(r.status, 200);
        assert!(r.text.contains("<mark>stürzt</mark>"), "{}", r.text);
        let r = viewer.get(&format!("{base}?q=globex&{period}")).await;
        assert!(!r.text.contains("Die App stürzt"), "non-matching items are not listed");

        // A syntax error: 400, "column N: message" under the box with a caret.
        let r = viewer.get(&format!("{base}?q=app+OR")).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.text.contains("column 7: "), "{}", r.text);
        assert!(r.text.contains("class=\"caret\"") && r.text.contains("^"));
        let r = viewer.get(&format!("{base}?q=%22open")).await;
        assert_eq!(r.status, 400);
        assert!(r.text.contains("column 1: unclosed quote"));
        // Other mistakes in the parameters are shown the same way.
        let r = viewer.get(&format!("{base}?tz=Mars%2FOlympus")).await;
        assert_eq!(r.status, 422);
        assert!(r.text.contains("unknown time zone"));
        // A valid zone is remembered.
        let r = viewer.get(&format!("{base}?tz=Asia%2FSeoul&{period}")).await;
        assert_eq!(r.status, 200);
        assert_eq!(cookie_value(&r.headers, "tz").as_deref(), Some("Asia/Seoul"));

        // The item's page, with its raw JSON.
        let r = viewer.get(&format!("/w/{}/items/{}", acme.global, acme.item)).await;
        assert_eq!(r.status, 200);
        assert!(r.text.contains("Die App stürzt") && r.text.contains(&format!("/api/v1/workspaces/{}/items/{}", acme.global, acme.item)));
        let r = viewer.get(&format!("/w/{}/items/nope", acme.global)).await;
        assert_eq!(r.status, 404);

        // A parent hears its children: their mentions link to the item in its own workspace.
        let write = app.app.prepare(sample_item("child-1", "Die App im Kinder-Workspace"));
        app.app.store_items(&acme.child, vec![write]).await.unwrap();
        let child_item = app.app.list_items(&switchboard_service::Actor::Cli, &acme.child, None, 1).await.unwrap().items.remove(0);
        let r = viewer.get(&format!("{base}?q=Kinder&{period}")).await;
        let link = format!("/w/{}/items/{}", acme.child, child_item.id);
        assert!(r.text.contains(&format!("href=\"{link}\"")), "{}", r.text);
        assert_eq!(viewer.get(&link).await.status, 200);
    };

    listening_forms_follow_the_roles => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let base = format!("/w/{}/listening", acme.global);
        let topics_api = format!("/api/v1/workspaces/{}/topics", acme.global);
        let back = format!("{base}?q=app");

        // A viewer's topic is refused, with the reason as a flash message.
        let viewer = Browser::sign_in(&app, "viewer@acme.example").await;
        let (r, page) = viewer.submit(&format!("/w/{}/topics", acme.global),
            &[("name", "Sneaky"), ("kind", "brand"), ("query", "sneaky"), ("back", &back)]).await;
        assert_eq!(r.headers["location"], back.as_str());
        assert_eq!(page.status, 200);
        assert!(page.text.contains("class=\"flash error\"") && page.text.contains("does not allow"), "{}", page.text);
        let topics = app.get(&topics_api, &acme.token(Role::Owner)).await;
        assert!(!topics.text.contains("Sneaky"));
        // Nor can a viewer acknowledge an alert.
        let (_, page) = viewer.submit(&format!("/w/{}/spikes/{}/ack", acme.global, acme.spike), &[]).await;
        assert!(page.text.contains("does not allow"));

        // An analyst manages listening.
        let analyst = Browser::sign_in(&app, "analyst@acme.example").await;
        let r = analyst.get(&base).await;
        assert!(r.text.contains("Add topic") && r.text.contains(">Acknowledge<"));
        // A topic whose query does not parse is refused with the column.
        let (_, page) = analyst.submit(&format!("/w/{}/topics", acme.global),
            &[("name", "Broken"), ("kind", "brand"), ("query", "globex OR")]).await;
        assert!(page.text.contains("column 10"), "{}", page.text);
        let (r, page) = analyst.submit(&format!("/w/{}/topics", acme.global),
            &[("name", "Globex"), ("kind", "competitor"), ("query", "globex OR \"globex corp\"")]).await;
        assert!(r.headers["location"].to_str().unwrap().starts_with(&format!("{base}?topic=")));
        assert!(page.text.contains("Topic Globex added."));
        let topics = app.get(&topics_api, &acme.token(Role::Owner)).await;
        let globex = topics.body["topics"].as_array().unwrap().iter().find(|t| t["name"] == "Globex").expect("created");
        assert_eq!(globex["kind"], "competitor");
        assert_eq!(globex["query"], "globex OR \"globex corp\"");

        // An annotation: the datetime-local value is read in the given zone.
        analyst.submit(&format!("/w/{}/annotations", acme.global),
            &[("title", "Spring sale"), ("kind", "campaign"), ("at", "2026-11-21T09:30"), ("tz", "Europe/Berlin"), ("back", &back)]).await;
        let anns = app.get(&format!("/api/v1/workspaces/{}/annotations", acme.global), &acme.token(Role::Owner)).await;
        let sale = anns.body["annotations"].as_array().unwrap().iter().find(|a| a["title"] == "Spring sale").expect("created");
        assert!(sale["at"].as_str().unwrap().starts_with("2026-11-21T08:30:00"), "{sale}");

        // Acknowledging the alert records who did.
        let (r, page) = analyst.submit(&format!("/w/{}/spikes/{}/ack", acme.global, acme.spike), &[("back", &back)]).await;
        assert_eq!(r.headers["location"], back.as_str());
        assert!(page.text.contains("Acknowledged by analyst@acme.example"), "{}", page.text);

        // Deleting the topic.
        let gid = globex["id"].as_str().unwrap().to_string();
        let (_, page) = analyst.submit(&format!("/w/{}/topics/{gid}/delete", acme.global), &[]).await;
        assert!(page.text.contains("Topic deleted."));
        let topics = app.get(&topics_api, &acme.token(Role::Owner)).await;
        assert!(!topics.text.contains("Globex"));
    };
}
