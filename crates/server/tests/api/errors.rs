use crate::api_test;
use crate::helpers::*;
use serde_json::json;
use switchboard_core::Role;

api_test! {
    bad_input_gets_a_clear_error_naming_the_field => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let Auth::Bearer(token) = acme.token(Role::Owner) else { unreachable!() };
        let url = app.url(&format!("/api/v1/workspaces/{}/teams", acme.global));
        let post = |body: &'static str, ct: &'static str| app.client.post(&url).bearer_auth(&token).header("content-type", ct).body(body);

        let r = app.send(post("{\"name\": ", "application/json")).await;
        assert_eq!((r.status.as_u16(), r.error_code()), (400, "malformed_json"), "{}", r.text);
        let r = app.send(post("", "application/json")).await;
        assert_eq!((r.status.as_u16(), r.error_code()), (400, "malformed_json"));
        let r = app.send(post("name=x", "application/x-www-form-urlencoded")).await;
        assert_eq!((r.status.as_u16(), r.error_code()), (415, "unsupported_media_type"));
        let r = app.send(post("{\"function\": \"support\"}", "application/json")).await;
        assert_eq!((r.status.as_u16(), r.error_code(), r.error_field()), (422, "validation_failed", "name"), "{}", r.text);
        let r = app.send(post("{\"name\": \"A\", \"function\": \"marketing\"}", "application/json")).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (422, "function"), "{}", r.text);
        assert!(r.body["error"]["message"].as_str().unwrap().contains("support"), "lists the choices: {}", r.text);
        let r = app.send(post("{\"name\": 5}", "application/json")).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (422, "name"));
        let r = app.send(post("{\"name\": \"A\", \"colour\": \"red\"}", "application/json")).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (422, "colour"), "{}", r.text);
        let r = app.send(post("{\"name\": \"   \"}", "application/json")).await;
        assert_eq!((r.status.as_u16(), r.error_field()), (422, "name"));

        let ws = app.post("/api/v1/workspaces", json!({"name": "X", "slug": "Not A Slug"}), &acme.token(Role::Owner)).await;
        assert_eq!((ws.status.as_u16(), ws.error_field()), (422, "slug"));
        let m = app.post(&format!("/api/v1/workspaces/{}/members", acme.global), json!({"email": "not-an-email", "role": "agent"}), &acme.token(Role::Owner)).await;
        assert_eq!((m.status.as_u16(), m.error_field()), (422, "email"));

        // None of it changed what was stored.
        let teams = app.get(&format!("/api/v1/workspaces/{}/teams", acme.global), &acme.token(Role::Owner)).await;
        assert_eq!(teams.body["teams"].as_array().unwrap().len(), 1);
    };

    bodies_over_one_mebibyte_are_refused => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let Auth::Bearer(token) = acme.token(Role::Owner) else { unreachable!() };
        let big = format!("{{\"name\": \"{}\"}}", "x".repeat(1024 * 1024 + 10));
        let r = app.send(app.client.post(app.url("/api/v1/workspaces")).bearer_auth(&token).header("content-type", "application/json").body(big)).await;
        assert_eq!((r.status.as_u16(), r.error_code()), (413, "payload_too_large"), "{}", r.text);
    };

    unknown_routes_and_methods_answer_json => |app: TestApp| async move {
        let r = app.get("/api/v1/nothing-here", &Auth::None).await;
        assert_eq!((r.status.as_u16(), r.error_code()), (404, "not_found"));
        let r = app.request(reqwest::Method::PUT, "/api/v1/me", None, &Auth::None).await;
        assert_eq!((r.status.as_u16(), r.error_code()), (405, "method_not_allowed"));
    };

    health_readiness_metrics_and_headers => |app: TestApp| async move {
        let h = app.get("/healthz", &Auth::None).await;
        assert_eq!((h.status.as_u16(), h.text.as_str()), (200, "ok"));
        assert_eq!(app.get("/readyz", &Auth::None).await.status, 200);
        let me = app.get("/api/v1/me", &Auth::None).await;
        for name in ["content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy", "x-request-id"] {
            assert!(me.headers.contains_key(name), "missing {name}");
        }
        assert_eq!(me.headers["cache-control"], "no-store");
        let csp = me.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
        // A request id sent by a proxy is kept, so logs can be joined across hops.
        let r = app.send(app.client.get(app.url("/healthz")).header("x-request-id", "abc-123")).await;
        assert_eq!(r.headers["x-request-id"], "abc-123");
        let m = app.get("/metrics", &Auth::None).await;
        assert!(m.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
        assert!(m.text.contains("switchboard_http_requests_total{method=\"GET\",route=\"/api/v1/me\",status=\"401\"} 1"), "{}", m.text);
        assert!(m.text.contains("# TYPE switchboard_http_request_duration_seconds histogram"));
    };
}
