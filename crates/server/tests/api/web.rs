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

fn cookie_value(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| {
            c.split(';')
                .next()
                .unwrap()
                .split_once('=')
                .unwrap()
                .1
                .to_string()
        })
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
