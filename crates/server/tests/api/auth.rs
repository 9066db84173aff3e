use crate::api_test;
use crate::helpers::*;
use serde_json::json;
use switchboard_core::Role;

api_test! {
    login_sets_a_hardened_session_cookie_and_me_describes_the_caller => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let res = app.post("/api/v1/auth/login", json!({"email": "Manager@Acme.example", "password": PASSWORD}), &Auth::None).await;
        assert_eq!(res.status, 200, "{}", res.text);
        let cookie = res.headers["set-cookie"].to_str().unwrap();
        assert!(cookie.starts_with("sb_session="), "{cookie}");
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attr), "{cookie} lacks {attr}");
        }
        assert!(!cookie.contains("Secure"), "plain HTTP cookie must not be Secure");
        let session = app.login("manager@acme.example", PASSWORD).await;
        let me = app.get("/api/v1/me", &session).await;
        assert_eq!(me.status, 200);
        assert_eq!(me.body["user"]["email"], "manager@acme.example");
        assert_eq!(me.body["organizations"][0]["org"]["slug"], "acme");
        assert_eq!(me.body["organizations"][0]["role"], "member");
        // The manager role is held in the parent and inherited by the child workspace.
        let ws = me.body["workspaces"].as_array().unwrap();
        assert_eq!(ws.len(), 2);
        for w in ws {
            assert_eq!(w["roles"], json!(["manager"]));
        }
        let child = ws.iter().find(|w| w["id"] == acme.child.as_str()).unwrap();
        assert_eq!(child["parent"]["id"], acme.global.as_str());
        assert!(me.body["csrf_token"].as_str().unwrap().len() > 20);
        assert!(!me.text.contains("password"), "no hashes in /me");
    };

    secure_cookie_behind_tls_proxy => |app: TestApp| async move {
        app.org("acme").await;
        let req = app.client.post(app.url("/api/v1/auth/login")).header("x-forwarded-proto", "https")
            .json(&json!({"email": "owner@acme.example", "password": PASSWORD}));
        let res = app.send(req).await;
        assert!(res.headers["set-cookie"].to_str().unwrap().contains("; Secure"));
    };

    wrong_password_and_unknown_account_answer_alike => |app: TestApp| async move {
        app.org("acme").await;
        let a = app.post("/api/v1/auth/login", json!({"email": "owner@acme.example", "password": "wrong password!"}), &Auth::None).await;
        let b = app.post("/api/v1/auth/login", json!({"email": "nobody@acme.example", "password": "wrong password!"}), &Auth::None).await;
        assert_eq!(a.status, 401);
        assert_eq!((a.status, a.text), (b.status, b.text));
    };

    login_is_rate_limited_per_account_with_retry_after => |app: TestApp| async move {
        app.org("acme").await;
        for _ in 0..5 {
            let r = app.post("/api/v1/auth/login", json!({"email": "agent@acme.example", "password": "guess guess guess"}), &Auth::None).await;
            assert_eq!(r.status, 401);
        }
        let r = app.post("/api/v1/auth/login", json!({"email": "agent@acme.example", "password": PASSWORD}), &Auth::None).await;
        assert_eq!(r.status, 429, "even the right password waits: {}", r.text);
        assert_eq!(r.error_code(), "rate_limited");
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&retry));
        // Another account from the same address is not locked out by this one.
        let ok = app.post("/api/v1/auth/login", json!({"email": "viewer@acme.example", "password": PASSWORD}), &Auth::None).await;
        assert_eq!(ok.status, 200);
    };

    login_is_rate_limited_per_client_address => |app: TestApp| async move {
        app.org("acme").await;
        for i in 0..20 {
            let email = format!("ghost{i}@acme.example");
            let r = app.post("/api/v1/auth/login", json!({"email": email, "password": "guess guess guess"}), &Auth::None).await;
            assert_eq!(r.status, 401);
        }
        let r = app.post("/api/v1/auth/login", json!({"email": "owner@acme.example", "password": PASSWORD}), &Auth::None).await;
        assert_eq!(r.status, 429);
        assert!(r.headers.contains_key("retry-after"));
    };

    cookie_writes_need_the_csrf_token => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let session = app.login("owner@acme.example", PASSWORD).await;
        let Auth::Session { cookie, .. } = &session else { unreachable!() };
        let forged = Auth::Session { cookie: cookie.clone(), csrf: "forged".into() };
        let path = format!("/api/v1/workspaces/{}/teams", acme.global);
        let r = app.post(&path, json!({"name": "Sales DACH", "function": "sales"}), &forged).await;
        assert_eq!((r.status.as_u16(), r.error_code()), (403, "csrf_failed"));
        let teams = app.get(&path, &session).await;
        assert_eq!(teams.body["teams"].as_array().unwrap().len(), 1, "nothing was created");
        let r = app.post(&path, json!({"name": "Sales DACH", "function": "sales"}), &session).await;
        assert_eq!(r.status, 201, "{}", r.text);
    };

    logout_ends_the_session => |app: TestApp| async move {
        app.org("acme").await;
        let session = app.login("owner@acme.example", PASSWORD).await;
        let r = app.post("/api/v1/auth/logout", json!({}), &session).await;
        assert_eq!(r.status, 204);
        assert_eq!(app.get("/api/v1/me", &session).await.status, 401);
    };

    tokens_are_shown_once_act_as_their_user_and_can_be_revoked => |app: TestApp| async move {
        let acme = app.org("acme").await;
        let session = app.login("analyst@acme.example", PASSWORD).await;
        let created = app.post("/api/v1/tokens", json!({"name": "BI export"}), &session).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let secret = created.body["token"].as_str().unwrap().to_string();
        assert!(secret.starts_with("sb_") && secret.len() > 40);
        assert!(secret.starts_with(created.body["prefix"].as_str().unwrap()));
        let bearer = Auth::Bearer(secret.clone());
        let me = app.get("/api/v1/me", &bearer).await;
        assert_eq!(me.body["user"]["email"], "analyst@acme.example");
        assert!(me.body.get("csrf_token").is_none(), "bearer callers need no CSRF token");
        // Scoped to the user's permissions: an analyst's token cannot manage teams.
        let r = app.post(&format!("/api/v1/workspaces/{}/teams", acme.global), json!({"name": "X"}), &bearer).await;
        assert_eq!(r.status, 403);
        let list = app.get("/api/v1/tokens", &session).await;
        assert!(!list.text.contains(&secret), "the secret is never listed");
        let id = created.body["id"].as_str().unwrap();
        assert!(list.body["tokens"].as_array().unwrap().iter().any(|t| t["id"] == id && !t["last_used_at"].is_null()));
        let revoked = app.delete(&format!("/api/v1/tokens/{id}"), &session).await;
        assert_eq!(revoked.status, 200);
        assert!(revoked.body["revoked_at"].is_string());
        let after = app.get("/api/v1/me", &bearer).await;
        assert_eq!((after.status.as_u16(), after.error_code()), (401, "unauthenticated"));
        // The analyst cannot revoke someone else's token: it answers like a missing one.
        let owner_tokens = app.get("/api/v1/tokens", &acme.token(Role::Owner)).await;
        let other = owner_tokens.body["tokens"][0]["id"].as_str().unwrap();
        assert_eq!(app.delete(&format!("/api/v1/tokens/{other}"), &session).await.status, 404);
    };

    bad_tokens_are_rejected => |app: TestApp| async move {
        for auth in [Auth::Bearer("sb_nope".into()), Auth::Bearer("".into()), Auth::None] {
            let r = app.get("/api/v1/me", &auth).await;
            assert_eq!((r.status.as_u16(), r.error_code()), (401, "unauthenticated"), "{auth:?}");
        }
        let r = app.send(app.client.get(app.url("/api/v1/me")).header("authorization", "Basic Zm9vOmJhcg==")).await;
        assert_eq!(r.status, 401);
    };
}

api_test! {
    resetting_a_password_signs_the_user_out_everywhere => |app: TestApp| async move {
        app.org("acme").await;
        let session = app.login("owner@acme.example", PASSWORD).await;
        app.app.cli_add_user("acme", "owner@acme.example", None, "a brand new password", true).await.unwrap();
        assert_eq!(app.get("/api/v1/me", &session).await.status, 401);
        let old = app.post("/api/v1/auth/login", json!({"email": "owner@acme.example", "password": PASSWORD}), &Auth::None).await;
        assert_eq!(old.status, 401);
        app.login("owner@acme.example", "a brand new password").await;
    };
}
