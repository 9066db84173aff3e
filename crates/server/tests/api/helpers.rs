use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;
use switchboard_core::Role;
use switchboard_server::{Application, ServerConfig};
use switchboard_service::ops::{AddMember, CreateTeam, CreateWorkspace};
use switchboard_service::{Actor, App, ServiceConfig};
use switchboard_store::testing::TestDb;
use switchboard_store::Backend;

pub const PASSWORD: &str = "correct-horse-battery";

pub struct TestApp {
    pub addr: SocketAddr,
    pub app: App,
    pub client: reqwest::Client,
    _db: TestDb,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn error_field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or("")
    }
}

/// How a request authenticates.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Bearer(String),
    Session { cookie: String, csrf: String },
}

/// One organisation's people and places, made through the service layer.
pub struct Org {
    pub slug: String,
    pub id: String,
    pub global: String,
    pub child: String,
    pub team: String,
    /// An item stored in the parent workspace and a webhook source there.
    pub item: String,
    pub source: String,
    /// A dictionary entry of the parent workspace.
    pub entry: String,
    /// A live channel of the parent workspace (never polled in tests that do not say so).
    pub channel: String,
    /// An outbound webhook of the parent workspace, subscribed to `inbox.handoff` only (so
    /// tests emitting other events do not reach it) and pointing at a closed port.
    pub webhook: String,
    /// A listening topic, an annotation and a spike (alert) of the parent workspace.
    pub topic: String,
    pub annotation: String,
    pub spike: String,
    /// The inbox conversation of `item` (routed by the defaults to the Support team) and a
    /// disabled routing rule of the parent workspace.
    pub conversation: String,
    pub rule: String,
    /// An SLA policy of the Support team for `normal` priority (24/7, 60 / 480 minutes).
    pub sla_policy: String,
    /// A saved reply of the parent workspace.
    pub saved_reply: String,
    /// Bearer token per workspace role held in the parent workspace.
    pub tokens: Vec<(Role, String, String)>,
}

impl Org {
    pub fn token(&self, role: Role) -> Auth {
        Auth::Bearer(
            self.tokens
                .iter()
                .find(|(r, _, _)| *r == role)
                .map(|t| t.1.clone())
                .expect("role token"),
        )
    }
    pub fn user_id(&self, role: Role) -> String {
        self.tokens
            .iter()
            .find(|(r, _, _)| *r == role)
            .map(|t| t.2.clone())
            .expect("role user")
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        let db = TestDb::new(backend).await?;
        let app = App::new(db.open().await, ServiceConfig::default());
        let config = ServerConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            ..ServerConfig::default()
        };
        let server = Application::build(app.clone(), config).await.expect("bind");
        let addr = server.local_addr();
        tokio::spawn(server.run_until_stopped());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Some(TestApp {
            addr,
            app,
            client,
            _db: db,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        auth: &Auth,
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        req = match auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Session { cookie, csrf } => req
                .header("cookie", format!("sb_session={cookie}"))
                .header("x-csrf-token", csrf),
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Resp {
        self.request(Method::GET, path, None, auth).await
    }
    pub async fn post(&self, path: &str, body: Value, auth: &Auth) -> Resp {
        self.request(Method::POST, path, Some(body), auth).await
    }
    pub async fn patch(&self, path: &str, body: Value, auth: &Auth) -> Resp {
        self.request(Method::PATCH, path, Some(body), auth).await
    }
    pub async fn delete(&self, path: &str, auth: &Auth) -> Resp {
        self.request(Method::DELETE, path, None, auth).await
    }

    /// Logs in through the API and returns the session.
    pub async fn login(&self, email: &str, password: &str) -> Auth {
        let res = self
            .post(
                "/api/v1/auth/login",
                json!({"email": email, "password": password}),
                &Auth::None,
            )
            .await;
        assert_eq!(res.status, 200, "login failed: {}", res.text);
        let set_cookie = res
            .headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("cookie")
            .to_string();
        let cookie = set_cookie
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("sb_session=")
            .to_string();
        Auth::Session {
            cookie,
            csrf: res.body["csrf_token"].as_str().expect("csrf").to_string(),
        }
    }

    /// An organisation with a parent workspace, a child, a team, an owner and one user per
    /// role in the parent, each with an API token.
    pub async fn org(&self, slug: &str) -> Org {
        let app = &self.app;
        let owner_email = format!("owner@{slug}.example");
        let (owner, _) = app
            .cli_add_user(slug, &owner_email, Some("Owner"), PASSWORD, true)
            .await
            .unwrap();
        let cw = |name: &str, s: &str, parent: Option<String>| CreateWorkspace {
            org: Some(slug.to_string()),
            name: name.into(),
            slug: Some(s.into()),
            parent,
        };
        let global = app
            .create_workspace(&Actor::Cli, cw("Global", &format!("{slug}-global"), None))
            .await
            .unwrap();
        let child = app
            .create_workspace(
                &Actor::Cli,
                cw(
                    "Child",
                    &format!("{slug}-child"),
                    Some(global.workspace.id.clone()),
                ),
            )
            .await
            .unwrap();
        let team = app
            .create_team(
                &Actor::Cli,
                &global.workspace.id,
                CreateTeam {
                    name: "Support".into(),
                    function: switchboard_core::TeamFunction::Support,
                },
            )
            .await
            .unwrap();
        let mut tokens = Vec::new();
        let (_, owner_token) = app.create_token(&owner, "test").await.unwrap();
        tokens.push((Role::Owner, owner_token, owner.id.clone()));
        for role in Role::ALL.iter().filter(|r| **r != Role::Owner) {
            let email = format!("{role}@{slug}.example");
            let m = app
                .add_member(
                    &Actor::Cli,
                    &global.workspace.id,
                    AddMember {
                        email: email.clone(),
                        role: *role,
                        name: None,
                        password: Some(PASSWORD.into()),
                    },
                )
                .await
                .unwrap();
            let user = app.user_by_email(&email).await.unwrap();
            let (_, token) = app.create_token(&user, "test").await.unwrap();
            tokens.push((*role, token, m.user_id));
        }
        let item = sample_item(
            &format!("{slug}-1"),
            "Die App stürzt seit dem Update ständig ab",
        );
        let write = app.prepare(item);
        app.store_items(&global.workspace.id, vec![write])
            .await
            .unwrap();
        let stored = app
            .list_items(&Actor::Cli, &global.workspace.id, None, 1)
            .await
            .unwrap()
            .items
            .remove(0);
        app.create_ingest_source(&Actor::Cli, &global.workspace.id, "crm", "ndjson")
            .await
            .unwrap();
        let entry = app
            .add_dictionary_entry(
                &Actor::Cli,
                &global.workspace.id,
                serde_json::from_value(
                    json!({"kind": "product", "label": "Phone", "terms": ["Acme Phone"]}),
                )
                .unwrap(),
            )
            .await
            .unwrap();
        // Stored directly: creating a channel through the service checks its credentials
        // against the network.
        let channel_id = switchboard_store::new_id();
        let row = switchboard_store::items::channels::ChannelRow {
            channel: switchboard_core::Channel {
                id: channel_id.clone(),
                workspace_id: global.workspace.id.clone(),
                network: switchboard_core::Network::Mastodon,
                name: "Main".into(),
                base_url: "http://127.0.0.1:9".into(),
                account: slug.into(),
                feeds: vec!["notifications".into()],
                status: switchboard_core::ChannelStatus::NeedsReconnect,
                status_message: None,
                next_poll_at: "2100-01-01T00:00:00.000Z".into(),
                last_polled_at: None,
                created_at: switchboard_store::now(),
            },
            credentials_sealed: app.config.secrets.seal("{}").unwrap(),
            key_id: app.config.secrets.key_id().into(),
            cursor: "{}".into(),
        };
        let mut tx = app.store.write().await.unwrap();
        switchboard_store::items::channels::insert(&mut tx, &row)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let webhook = app
            .create_webhook(
                &Actor::Cli,
                &global.workspace.id,
                serde_json::from_value(json!({
                    "name": "CRM", "url": "http://127.0.0.1:9/hook", "events": ["inbox.handoff"]
                }))
                .unwrap(),
            )
            .await
            .unwrap();
        let topic = app
            .create_topic(
                &Actor::Cli,
                &global.workspace.id,
                serde_json::from_value(json!({"name": "App", "kind": "product", "query": "app"}))
                    .unwrap(),
            )
            .await
            .unwrap();
        let annotation = app
            .create_annotation(
                &Actor::Cli,
                &global.workspace.id,
                serde_json::from_value(
                    json!({"title": "App 4.2 release", "kind": "release", "at": "2026-11-19T08:00:00Z"}),
                )
                .unwrap(),
            )
            .await
            .unwrap();
        // Stored directly: a real one needs a detected surge (see listening.rs).
        let spike = switchboard_core::Spike {
            id: switchboard_store::new_id(),
            workspace_id: global.workspace.id.clone(),
            topic_id: topic.id.clone(),
            series: "volume".into(),
            bucket_secs: 3600,
            window_start: "2026-11-19T10:00:00.000Z".into(),
            window_end: "2026-11-19T11:00:00.000Z".into(),
            observed: 40.0,
            baseline: 4.0,
            change_pct: 900.0,
            score: 9.0,
            annotation_id: None,
            annotation_title: None,
            terms: vec![],
            intents: vec![],
            summary: "App: volume +900% vs baseline".into(),
            acknowledged_by: None,
            acknowledged_at: None,
            created_at: switchboard_store::now(),
        };
        let mut tx = app.store.write().await.unwrap();
        switchboard_store::listening::insert_spike(&mut tx, &spike)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // Disabled, so the workspace keeps the default routing.
        let rule = app
            .create_routing_rule(
                &Actor::Cli,
                &global.workspace.id,
                serde_json::from_value(json!({
                    "name": "VIPs", "enabled": false,
                    "conditions": {"vip_authors": ["ceo"]}, "actions": {"priority": "urgent"}
                }))
                .unwrap(),
            )
            .await
            .unwrap();
        let saved_reply = app
            .create_saved_reply(
                &Actor::Cli,
                &global.workspace.id,
                serde_json::from_value(json!({
                    "name": "Thanks", "body": "Hi {{author}}, thanks for writing to {{workspace}}. {{agent}}"
                }))
                .unwrap(),
            )
            .await
            .unwrap();
        app.route_new_items().await.unwrap();
        let mut c = app.store.read().await.unwrap();
        let conversation = switchboard_store::inbox::conversation_of_item(&mut c, &stored.id)
            .await
            .unwrap()
            .expect("the item is threaded");
        drop(c);
        let sla_policy = app
            .create_sla_policy(
                &Actor::Cli,
                &global.workspace.id,
                serde_json::from_value(json!({
                    "team": "Support", "priority": "normal",
                    "first_response_minutes": 60, "resolution_minutes": 480
                }))
                .unwrap(),
            )
            .await
            .unwrap();
        let org_id = global.org.id.clone();
        Org {
            slug: slug.into(),
            id: org_id,
            global: global.workspace.id,
            child: child.workspace.id,
            team: team.id,
            item: stored.id,
            source: "crm".into(),
            entry: entry.id,
            channel: channel_id,
            webhook: webhook.webhook.id,
            topic: topic.id,
            annotation: annotation.id,
            spike: spike.id,
            conversation,
            rule: rule.id,
            sla_policy: sla_policy.id,
            saved_reply: saved_reply.id,
            tokens,
        }
    }
}

pub fn sample_item(external_id: &str, text: &str) -> switchboard_core::NewItem {
    serde_json::from_value(json!({
        "network": "mastodon",
        "external_id": external_id,
        "kind": "post",
        "author": {"id": "42", "handle": "kim@example.social", "display_name": "Kim", "followers": 120},
        "text": text,
        "created_at": "2026-11-20T10:00:00.000Z",
    }))
    .unwrap()
}

/// `api_test!(name => |app: TestApp| async move { ... })` runs the body on each backend.
#[macro_export]
macro_rules! api_test {
    ($($name:ident => $body:expr;)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn(switchboard_store::Backend::Sqlite).await.unwrap();
                ($body)(app).await;
            }
            #[tokio::test]
            async fn postgres() {
                let Some(app) = $crate::helpers::TestApp::spawn(switchboard_store::Backend::Postgres).await else { return };
                ($body)(app).await;
            }
        }
    )*};
}

/// The value of cookie `name` set by a response.
pub fn cookie_value(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
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

/// A signed-in browser: the session cookie, its CSRF token, and the flash cookie a
/// redirect left (sent along with the next page, as a browser would).
pub struct Browser<'a> {
    pub app: &'a TestApp,
    pub cookie: String,
    pub csrf: String,
}

impl<'a> Browser<'a> {
    pub async fn sign_in(app: &'a TestApp, email: &str) -> Browser<'a> {
        let Auth::Session { cookie, csrf } = app.login(email, PASSWORD).await else {
            unreachable!()
        };
        Browser { app, cookie, csrf }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.get_with(path, "").await
    }

    pub async fn get_with(&self, path: &str, extra_cookie: &str) -> Resp {
        let mut c = format!("sb_session={}", self.cookie);
        if !extra_cookie.is_empty() {
            c = format!("{c}; {extra_cookie}");
        }
        self.app
            .send(self.app.client.get(self.app.url(path)).header("cookie", c))
            .await
    }

    /// Posts a form with the session's CSRF token; returns the redirect and the page it
    /// leads to (with its flash message).
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> (Resp, Resp) {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &self.csrf));
        let body = serde_urlencoded::to_string(all).unwrap();
        let r = self
            .app
            .send(
                self.app
                    .client
                    .post(self.app.url(path))
                    .header("cookie", format!("sb_session={}", self.cookie))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body),
            )
            .await;
        assert_eq!(r.status, 303, "{path}: {}", r.text);
        let to = r.headers["location"].to_str().unwrap().to_string();
        let flash = cookie_value(&r.headers, "sb_flash")
            .map(|v| format!("sb_flash={v}"))
            .unwrap_or_default();
        let page = self.get_with(&to, &flash).await;
        (r, page)
    }
}
