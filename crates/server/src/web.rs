//! The server-rendered web UI. Plain HTML forms (POST + redirect), CSRF token in every form,
//! messages carried across the redirect in a short-lived cookie.

use crate::extract::{authenticate, client_ip, cookie, is_secure, set_cookie, SESSION_COOKIE};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine;
use maud::{html, Markup, DOCTYPE};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::HashMap;
use switchboard_core::{ChannelStatus, Permission, Role, TeamFunction};
use switchboard_service::ops::{
    AddMember, AddTeamMember, CreateTeam, CreateWorkspace, MeView, UpdateMember, UpdateTeam,
    UpdateWorkspace, WorkspaceView,
};
use switchboard_service::{Actor, AuthUser, Credential, ServiceError};

mod inbox;
mod listening;

const FLASH_COOKIE: &str = "sb_flash";
const LOGIN_CSRF_COOKIE: &str = "sb_login_csrf";
/// Modules still to come; Listening and Inbox (the real ones) are linked on their own.
const MODULES: &[&str] = &["Publishing", "Advocacy", "Attribution", "Reports"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login_submit))
        .route("/logout", post(logout))
        .route("/switch", get(switch))
        .route("/workspaces", get(workspaces_page).post(workspace_create))
        .route("/w/{ws}", get(workspace_page))
        .route("/w/{ws}/update", post(workspace_update))
        .route("/w/{ws}/delete", post(workspace_delete))
        .route("/w/{ws}/teams", post(team_create))
        .route("/w/{ws}/teams/{team}", get(team_page))
        .route("/w/{ws}/teams/{team}/update", post(team_update))
        .route("/w/{ws}/teams/{team}/delete", post(team_delete))
        .route("/w/{ws}/teams/{team}/members", post(team_member_add))
        .route(
            "/w/{ws}/teams/{team}/members/{user}/remove",
            post(team_member_remove),
        )
        .route("/w/{ws}/members", get(members_page).post(member_add))
        .route("/w/{ws}/members/{user}/role", post(member_role))
        .route("/w/{ws}/members/{user}/remove", post(member_remove))
        .route("/w/{ws}/audit", get(workspace_audit_page))
        .route("/orgs/{org}/audit", get(org_audit_page))
        .route("/settings/tokens", get(tokens_page).post(token_create))
        .route("/settings/tokens/{id}/revoke", post(token_revoke))
        .merge(listening::routes())
        .merge(inbox::routes())
        .route(
            "/static/app.css",
            get(|| async { static_file("text/css", include_str!("../static/app.css")) }),
        )
        .route(
            "/static/app.js",
            get(|| async { static_file("text/javascript", include_str!("../static/app.js")) }),
        )
        .route(
            "/favicon.ico",
            get(|| async { static_file("image/svg+xml", include_str!("../static/favicon.svg")) }),
        )
}

fn static_file(mime: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// A signed-in person using the web UI (cookie sessions only); otherwise a redirect to /login.
pub struct WebUser {
    auth: AuthUser,
    csrf: String,
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let q = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
            Redirect::to(&format!("/login?{q}")).into_response()
        };
        if cookie(&parts.headers, SESSION_COOKIE).is_none() {
            return Err(to_login());
        }
        match authenticate(state, &parts.headers).await {
            Ok(auth) => {
                let csrf = match &auth.credential {
                    Credential::Session { csrf_token, .. } => csrf_token.clone(),
                    Credential::Token { .. } => String::new(),
                };
                Ok(WebUser { auth, csrf })
            }
            Err(ServiceError::Unauthenticated) => Err(to_login()),
            Err(e) => Err(error_page(e)),
        }
    }
}

impl WebUser {
    fn actor(&self) -> Actor {
        self.auth.actor()
    }

    /// Parses a form body and checks its CSRF token.
    fn form<T: DeserializeOwned>(&self, body: &Bytes) -> Result<T, String> {
        let fields: HashMap<String, String> =
            serde_urlencoded::from_bytes(body).map_err(|e| format!("unreadable form: {e}"))?;
        let sent = fields.get("csrf_token").map(String::as_str).unwrap_or("");
        if self.csrf.is_empty() || !switchboard_service::auth::constant_time_eq(sent, &self.csrf) {
            return Err("the form has expired; reload the page and try again".into());
        }
        serde_urlencoded::from_bytes(body).map_err(|e| format!("invalid form: {e}"))
    }
}

// ---- flash messages ----

fn flash_cookie(kind: &str, msg: &str) -> String {
    let v = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}|{msg}"));
    format!("{FLASH_COOKIE}={v}; Path=/; Max-Age=60; HttpOnly; SameSite=Lax")
}

fn read_flash(headers: &HeaderMap) -> Option<(String, String)> {
    let raw = cookie(headers, FLASH_COOKIE)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()?;
    let s = String::from_utf8(bytes).ok()?;
    let (k, m) = s.split_once('|')?;
    Some((k.to_string(), m.to_string()))
}

fn redirect_with(to: &str, kind: &str, msg: &str) -> Response {
    let mut res = Redirect::to(to).into_response();
    if let Ok(v) = HeaderValue::from_str(&flash_cookie(kind, msg)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn describe(e: &ServiceError) -> String {
    match e {
        ServiceError::Validation(v) => format!("{}: {}", v.field, v.message),
        ServiceError::Conflict {
            field: Some(f),
            message,
        } => format!("{f}: {message}"),
        ServiceError::Store(_) | ServiceError::Internal(_) => {
            tracing::error!(error = %e, "web request failed");
            "something went wrong on our side; it has been logged".into()
        }
        other => other.to_string(),
    }
}

/// After a form: back to `to` with a success or error message.
fn done<T>(to: &str, ok: &str, r: Result<T, ServiceError>) -> Response {
    match r {
        Ok(_) => redirect_with(to, "ok", ok),
        Err(e) => redirect_with(to, "error", &describe(&e)),
    }
}

// ---- layout ----

struct Ctx {
    me: MeView,
    csrf: String,
    flash: Option<(String, String)>,
    current: Option<WorkspaceView>,
}

impl Ctx {
    async fn load(
        state: &AppState,
        user: &WebUser,
        headers: &HeaderMap,
        ws: Option<&str>,
    ) -> Result<Ctx, Response> {
        let me = state.app.me(&user.auth.user).await.map_err(error_page)?;
        let current = match ws {
            Some(r) => Some(
                state
                    .app
                    .get_workspace(&user.actor(), r)
                    .await
                    .map_err(error_page)?,
            ),
            None => None,
        };
        Ok(Ctx {
            me,
            csrf: user.csrf.clone(),
            flash: read_flash(headers),
            current,
        })
    }

    fn can(&self, p: Permission) -> bool {
        self.current
            .as_ref()
            .is_some_and(|w| w.permissions.contains(&p))
    }

    fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf_token" value=(self.csrf); }
    }

    fn ws_path(&self) -> String {
        self.current
            .as_ref()
            .map(|w| format!("/w/{}", w.workspace.id))
            .unwrap_or_else(|| "/workspaces".into())
    }

    fn render(&self, title: &str, active: &str, body: Markup) -> Response {
        let page = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · Switchboard" }
                    link rel="stylesheet" href="/static/app.css";
                    link rel="icon" href="/favicon.ico" type="image/svg+xml";
                    script src="/static/app.js" defer {}
                }
                body {
                    header.top {
                        a.brand href="/" { "Switchboard" }
                        form.inline.switcher method="get" action="/switch" {
                            label.inline for="ws-switch" hidden { "Workspace" }
                            select #ws-switch name="ws" data-autosubmit aria-label="Workspace" {
                                @if self.current.is_none() { option value="" selected { "Choose a workspace…" } }
                                @for m in &self.me.organizations {
                                    optgroup label=(m.org.name) {
                                        @for (depth, w) in tree_order(&self.me.workspaces, &m.org.id) {
                                            option value=(w.workspace.id) selected[self.current.as_ref().is_some_and(|c| c.workspace.id == w.workspace.id)] {
                                                ("\u{a0}\u{a0}".repeat(depth)) @if depth > 0 { "↳ " } (w.workspace.name)
                                            }
                                        }
                                    }
                                }
                            }
                            " " button.secondary type="submit" data-js-hide { "Go" }
                        }
                        nav.modules aria-label="Modules" {
                            @if let Some(w) = &self.current {
                                a.active[active == "workspace"] href={"/w/" (w.workspace.id)} { "Workspace" }
                                @if self.can(Permission::ListeningRead) {
                                    a.active[active == "listening"] href={"/w/" (w.workspace.id) "/listening"} { "Listening" }
                                }
                                @if self.can(Permission::InboxRead) {
                                    a.active[active == "inbox"] href={"/w/" (w.workspace.id) "/inbox"} { "Inbox" }
                                }
                            } @else {
                                span.soon title="Choose a workspace first" { "Listening" }
                                span.soon title="Choose a workspace first" { "Inbox" }
                            }
                            @for m in MODULES {
                                span.soon title="Coming in a later release" { (m) small { "soon" } }
                            }
                        }
                        span.spacer {}
                        a.active[active == "workspaces"] href="/workspaces" { "All workspaces" }
                        a.active[active == "tokens"] href="/settings/tokens" { "API tokens" }
                        span.muted { (self.me.user.email) }
                        form.inline method="post" action="/logout" {
                            (self.csrf_field())
                            button.secondary type="submit" { "Log out" }
                        }
                    }
                    main {
                        @if let Some((kind, msg)) = &self.flash {
                            div class={"flash " (kind)} role=(if kind == "error" { "alert" } else { "status" }) { (msg) }
                        }
                        (body)
                    }
                }
            }
        };
        let mut res = page.into_response();
        if self.flash.is_some() {
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{FLASH_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax"
            )) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        res
    }

    fn workspace_tabs(&self, active: &str) -> Markup {
        let Some(w) = &self.current else {
            return html! {};
        };
        let base = format!("/w/{}", w.workspace.id);
        html! {
            h1 { (w.workspace.name) " " span.muted.mono { (w.org.slug) "/" (w.workspace.slug) } }
            nav.tabs {
                a.active[active == "overview"] href=(base) { "Overview & teams" }
                @if self.can(Permission::MembersRead) { a.active[active == "members"] href={(base) "/members"} { "Members" } }
                @if self.can(Permission::AuditRead) { a.active[active == "audit"] href={(base) "/audit"} { "Audit log" } }
            }
        }
    }
}

fn bare_page(title: &str, status: StatusCode, body: Markup) -> Response {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Switchboard" }
                link rel="stylesheet" href="/static/app.css";
                link rel="icon" href="/favicon.ico" type="image/svg+xml";
            }
            body { main { (body) } }
        }
    };
    (status, page).into_response()
}

pub fn not_found_page() -> Response {
    bare_page(
        "Not found",
        StatusCode::NOT_FOUND,
        html! {
            div.card { h1 { "Not found" } p { "There is nothing here, or it belongs to a workspace you are not a member of." } a href="/" { "Home" } }
        },
    )
}

fn error_page(e: ServiceError) -> Response {
    match e {
        ServiceError::NotFound => not_found_page(),
        ServiceError::Forbidden(msg) => bare_page(
            "Not allowed",
            StatusCode::FORBIDDEN,
            html! {
                div.card { h1 { "Not allowed" } p { (msg) } a href="/" { "Home" } }
            },
        ),
        e => {
            let msg = describe(&e);
            let status = StatusCode::from_u16(e.code().http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            bare_page(
                "Error",
                status,
                html! { div.card { h1 { "Error" } p { (msg) } a href="/" { "Home" } } },
            )
        }
    }
}

// ---- login ----

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only same-site paths, so the login form cannot be used to bounce people elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") => {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

fn login_form(csrf: &str, next: &str, error: Option<&str>) -> Markup {
    html! {
        div.card.login {
            h1 { "Sign in to Switchboard" }
            @if let Some(e) = error { div.flash.error role="alert" { (e) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf_token" value=(csrf);
                input type="hidden" name="next" value=(next);
                label for="email" { "E-mail" }
                input #email type="email" name="email" autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                p { button type="submit" { "Sign in" } }
            }
        }
    }
}

fn login_response(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
    retry_after: Option<u64>,
) -> Response {
    let csrf = switchboard_service::auth::random_token(24);
    let mut res = bare_page("Sign in", status, login_form(&csrf, next, error));
    if let Ok(v) = HeaderValue::from_str(&set_cookie(
        LOGIN_CSRF_COOKIE,
        &csrf,
        3600,
        is_secure(state, headers),
    )) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    if let Some(s) = retry_after {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    res
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if authenticate(&state, &headers).await.is_ok() {
        return Redirect::to(&next).into_response();
    }
    login_response(&state, &headers, StatusCode::OK, &next, None, None)
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    csrf_token: String,
    next: Option<String>,
}

async fn login_submit(State(state): State<AppState>, req: axum::extract::Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let ip = client_ip(&state, &parts);
    let headers = std::mem::take(&mut parts.headers);
    let Ok(bytes) = axum::body::to_bytes(body, crate::MAX_BODY_BYTES).await else {
        return login_response(
            &state,
            &headers,
            StatusCode::PAYLOAD_TOO_LARGE,
            "/",
            Some("The form is too large."),
            None,
        );
    };
    let Ok(form) = serde_urlencoded::from_bytes::<LoginForm>(&bytes) else {
        return login_response(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            "/",
            Some("Enter your e-mail address and password."),
            None,
        );
    };
    let next = safe_next(form.next.as_deref());
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty()
        || !switchboard_service::auth::constant_time_eq(&expected, &form.csrf_token)
    {
        return login_response(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            &next,
            Some("The sign-in form expired; please try again."),
            None,
        );
    }
    match state.app.login(&form.email, &form.password, &ip).await {
        Ok(session) => {
            let secure = is_secure(&state, &headers);
            let mut res = Redirect::to(&next).into_response();
            for c in [
                set_cookie(
                    SESSION_COOKIE,
                    &session.token,
                    session.max_age.as_secs(),
                    secure,
                ),
                set_cookie(LOGIN_CSRF_COOKIE, "", 0, secure),
            ] {
                if let Ok(v) = HeaderValue::from_str(&c) {
                    res.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            res
        }
        Err(ServiceError::RateLimited { retry_after_secs }) => login_response(
            &state,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            Some(&format!(
                "Too many failed attempts. Try again in {} minute(s).",
                retry_after_secs.div_ceil(60)
            )),
            Some(retry_after_secs),
        ),
        Err(ServiceError::InvalidCredentials) => login_response(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            &next,
            Some("Wrong e-mail address or password."),
            None,
        ),
        Err(e) => error_page(e),
    }
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    body: Bytes,
) -> Response {
    if let Err(e) = user.form::<HashMap<String, String>>(&body) {
        return redirect_with("/", "error", &e);
    }
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = state.app.logout(&token).await {
            return error_page(e);
        }
    }
    let mut res = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(
        SESSION_COOKIE,
        "",
        0,
        is_secure(&state, &headers),
    )) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

// ---- workspaces ----

async fn home(State(state): State<AppState>, user: WebUser) -> Response {
    match state.app.me(&user.auth.user).await {
        Ok(me) => match me.organizations.iter().find_map(|m| {
            tree_order(&me.workspaces, &m.org.id)
                .first()
                .map(|(_, w)| *w)
        }) {
            Some(w) => Redirect::to(&format!("/w/{}", w.workspace.id)).into_response(),
            None => Redirect::to("/workspaces").into_response(),
        },
        Err(e) => error_page(e),
    }
}

#[derive(Deserialize)]
struct SwitchQuery {
    ws: Option<String>,
}

async fn switch(Query(q): Query<SwitchQuery>, _user: WebUser) -> Response {
    match q.ws.filter(|w| !w.is_empty()) {
        Some(ws) => Redirect::to(&format!("/w/{}", urlencode(&ws))).into_response(),
        None => Redirect::to("/workspaces").into_response(),
    }
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .map(|v| v.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

/// An organisation's visible workspaces parents-first, each with its depth. A workspace
/// whose parent the caller cannot see starts a tree of its own.
fn tree_order<'a>(list: &'a [WorkspaceView], org: &str) -> Vec<(usize, &'a WorkspaceView)> {
    fn walk<'a>(
        list: &'a [WorkspaceView],
        node: &'a WorkspaceView,
        depth: usize,
        out: &mut Vec<(usize, &'a WorkspaceView)>,
    ) {
        out.push((depth, node));
        if depth < 16 {
            for c in list
                .iter()
                .filter(|w| w.workspace.parent_id.as_deref() == Some(node.workspace.id.as_str()))
            {
                walk(list, c, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    let roots = list.iter().filter(|w| {
        w.workspace.org_id == org
            && w.workspace
                .parent_id
                .as_deref()
                .is_none_or(|p| !list.iter().any(|x| x.workspace.id == p))
    });
    for r in roots {
        walk(list, r, 0, &mut out);
    }
    out
}

fn ws_tree(list: &[WorkspaceView], org: &str) -> Markup {
    html! {
        @for (depth, w) in tree_order(list, org) {
            tr {
                td class={"depth-" (depth.min(6))} {
                    @if depth > 0 { span.muted { "↳ " } }
                    a href={"/w/" (w.workspace.id)} { (w.workspace.name) }
                }
                td.mono { (w.workspace.slug) }
                td { @for r in &w.roles { span.badge { (r) } } }
            }
        }
    }
}

async fn workspaces_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
) -> Response {
    let ctx = match Ctx::load(&state, &user, &headers, None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let creatable: Vec<&WorkspaceView> = ctx
        .me
        .workspaces
        .iter()
        .filter(|w| w.permissions.contains(&Permission::WorkspaceCreateChild))
        .collect();
    let admin_orgs: Vec<_> = ctx
        .me
        .organizations
        .iter()
        .filter(|m| m.role.implied_workspace_role().is_some())
        .collect();
    let body = html! {
        h1 { "Workspaces" }
        p.muted { "A workspace is a brand, region or business unit. A parent workspace is the centre of excellence for its children: roles held there apply to them too." }
        @for m in &ctx.me.organizations {
            h2 { (m.org.name) " " span.muted { "(you are " (m.role) ")" }
                @if m.role.implied_workspace_role().is_some() { " · " a href={"/orgs/" (m.org.slug) "/audit"} { "organisation audit log" } } }
            table {
                thead { tr { th { "Workspace" } th { "Slug" } th { "Your roles" } } }
                tbody #workspace-list { (ws_tree(&ctx.me.workspaces, &m.org.id)) }
            }
        }
        @if ctx.me.organizations.is_empty() { p { "You are not a member of any organisation yet. Ask an administrator to add you." } }
        @if !creatable.is_empty() || !admin_orgs.is_empty() {
            div.card {
                h2 { "New workspace" }
                form method="post" action="/workspaces" {
                    (ctx.csrf_field())
                    div.row {
                        div { label for="ws-name" { "Name" } input #ws-name name="name" required placeholder="Acme FR"; }
                        div { label for="ws-slug" { "Slug (optional)" } input #ws-slug name="slug" placeholder="acme-fr" pattern="[a-z0-9\\-]{2,48}"; }
                        div {
                            label for="ws-parent" { "Parent (centre of excellence)" }
                            select #ws-parent name="parent" {
                                @for m in &admin_orgs { option value={"org:" (m.org.id)} { "None: top level in " (m.org.name) } }
                                @for w in &creatable { option value=(w.workspace.id) { (w.workspace.name) } }
                            }
                        }
                        div { button type="submit" { "Create workspace" } }
                    }
                }
            }
        }
    };
    ctx.render("Workspaces", "workspaces", body)
}

#[derive(Deserialize)]
struct WorkspaceForm {
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    parent: String,
}

async fn workspace_create(State(state): State<AppState>, user: WebUser, body: Bytes) -> Response {
    let form: WorkspaceForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with("/workspaces", "error", &e),
    };
    let (org, parent) = match form.parent.strip_prefix("org:") {
        Some(org) => (Some(org.to_string()), None),
        None => (None, Some(form.parent).filter(|p| !p.is_empty())),
    };
    let input = CreateWorkspace {
        org,
        name: form.name,
        slug: Some(form.slug).filter(|s| !s.trim().is_empty()),
        parent,
    };
    match state.app.create_workspace(&user.actor(), input).await {
        Ok(w) => redirect_with(
            &format!("/w/{}", w.workspace.id),
            "ok",
            &format!("Workspace {} created.", w.workspace.name),
        ),
        Err(e) => redirect_with("/workspaces", "error", &describe(&e)),
    }
}

async fn workspace_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    Path(ws): Path<String>,
) -> Response {
    let ctx = match Ctx::load(&state, &user, &headers, Some(&ws)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(w) = ctx.current.clone() else {
        return not_found_page();
    };
    let teams = match state.app.list_teams(&user.actor(), &w.workspace.id).await {
        Ok(t) => t,
        Err(e) => return error_page(e),
    };
    let channels = match state
        .app
        .list_channels(&user.actor(), &w.workspace.id)
        .await
    {
        Ok(c) => c,
        Err(e) => return error_page(e),
    };
    let base = ctx.ws_path();
    let parents: Vec<&WorkspaceView> = ctx
        .me
        .workspaces
        .iter()
        .filter(|x| {
            x.workspace.org_id == w.workspace.org_id
                && x.workspace.id != w.workspace.id
                && x.permissions.contains(&Permission::WorkspaceCreateChild)
        })
        .collect();
    let body = html! {
        (ctx.workspace_tabs("overview"))
        div.card {
            p {
                "Organisation: " strong { (w.org.name) }
                " · Parent (centre of excellence): "
                @if let Some(p) = &w.parent {
                    @if ctx.me.workspaces.iter().any(|x| x.workspace.id == p.id) { a href={"/w/" (p.id)} { (p.name) } } @else { (p.name) }
                } @else { span.muted { "none (top level)" } }
                @if !w.children.is_empty() {
                    " · Children: " @for (i, c) in w.children.iter().enumerate() { @if i > 0 { ", " } a href={"/w/" (c.id)} { (c.name) } }
                }
            }
            p { "Your roles here: " @for r in &w.roles { span.badge { (r) } } }
        }
        @if !channels.is_empty() {
            h2 { "Channels" }
            table #channel-list {
                thead { tr { th { "Channel" } th { "Network" } th { "Account" } th { "Status" } th { "Last polled (UTC)" } } }
                tbody {
                    @for c in &channels {
                        tr {
                            td { (c.name) } td { (c.network) } td.mono { (c.account) }
                            td {
                                @match c.status {
                                    ChannelStatus::NeedsReconnect => { span.badge.danger { "needs reconnect" } }
                                    ChannelStatus::Active => { span.badge { "active" } }
                                    other => { span.badge.warn { (other.as_str().replace('_', " ")) } }
                                }
                                @if let Some(m) = &c.status_message { br; span.muted { (m) } }
                            }
                            td.muted { (c.last_polled_at.as_deref().map(|t| t.replace('T', " ")).unwrap_or_else(|| "never".into())) }
                        }
                    }
                }
            }
        }
        h2 { "Teams" }
        table {
            thead { tr { th { "Team" } th { "Function" } th { "Created" } } }
            tbody #team-list {
                @for t in &teams {
                    tr { td { a href={(base) "/teams/" (t.id)} { (t.name) } } td { (t.function) } td.muted { (&t.created_at[..10]) } }
                }
                @if teams.is_empty() { tr { td colspan="3" .muted { "No teams yet." } } }
            }
        }
        @if ctx.can(Permission::TeamsManage) {
            div.card {
                h2 { "New team" }
                form method="post" action={(base) "/teams"} {
                    (ctx.csrf_field())
                    div.row {
                        div { label for="team-name" { "Name" } input #team-name name="name" required placeholder="Support DACH"; }
                        div { label for="team-function" { "Function" } (function_select("team-function", TeamFunction::Support)) }
                        div { button type="submit" { "Create team" } }
                    }
                }
            }
        }
        @if ctx.can(Permission::WorkspaceUpdate) {
            div.card {
                h2 { "Settings" }
                form method="post" action={(base) "/update"} {
                    (ctx.csrf_field())
                    div.row {
                        div { label for="set-name" { "Name" } input #set-name name="name" value=(w.workspace.name) required; }
                        div { label for="set-slug" { "Slug" } input #set-slug name="slug" value=(w.workspace.slug) required; }
                        div {
                            label for="set-parent" { "Parent" }
                            select #set-parent name="parent" {
                                option value="" selected[w.workspace.parent_id.is_none()] { "None (top level)" }
                                @for p in &parents { option value=(p.workspace.id) selected[w.workspace.parent_id.as_deref() == Some(p.workspace.id.as_str())] { (p.workspace.name) } }
                            }
                        }
                        div { button type="submit" { "Save" } }
                    }
                }
            }
        }
        @if ctx.can(Permission::WorkspaceDelete) {
            form method="post" action={(base) "/delete"} data-confirm={"Delete workspace " (w.workspace.name) " with its teams and memberships?"} {
                (ctx.csrf_field())
                button.danger type="submit" { "Delete workspace" }
            }
        }
    };
    ctx.render(&w.workspace.name, "workspace", body)
}

fn function_select(id: &str, selected: TeamFunction) -> Markup {
    html! { select id=(id) name="function" { @for f in TeamFunction::ALL { option value=(f) selected[*f == selected] { (f) } } } }
}

fn role_select(id: &str, name: &str, selected: Role, allow_owner: bool) -> Markup {
    html! {
        select id=(id) name=(name) {
            @for r in Role::ALL.iter().filter(|r| allow_owner || **r != Role::Owner || selected == Role::Owner) {
                option value=(r) selected[*r == selected] { (r) }
            }
        }
    }
}

async fn workspace_update(
    State(state): State<AppState>,
    user: WebUser,
    Path(ws): Path<String>,
    body: Bytes,
) -> Response {
    let back = format!("/w/{ws}");
    let form: WorkspaceForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    let parent = Some(Some(form.parent).filter(|p| !p.is_empty()));
    let input = UpdateWorkspace {
        name: Some(form.name),
        slug: Some(form.slug),
        parent,
    };
    done(
        &back,
        "Saved.",
        state.app.update_workspace(&user.actor(), &ws, input).await,
    )
}

async fn workspace_delete(
    State(state): State<AppState>,
    user: WebUser,
    Path(ws): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(e) = user.form::<HashMap<String, String>>(&body) {
        return redirect_with(&format!("/w/{ws}"), "error", &e);
    }
    match state.app.delete_workspace(&user.actor(), &ws).await {
        Ok(()) => redirect_with("/workspaces", "ok", "Workspace deleted."),
        Err(e) => redirect_with(&format!("/w/{ws}"), "error", &describe(&e)),
    }
}

// ---- teams ----

#[derive(Deserialize)]
struct TeamForm {
    name: String,
    function: TeamFunction,
}

async fn team_create(
    State(state): State<AppState>,
    user: WebUser,
    Path(ws): Path<String>,
    body: Bytes,
) -> Response {
    let back = format!("/w/{ws}");
    let form: TeamForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    let r = state
        .app
        .create_team(
            &user.actor(),
            &ws,
            CreateTeam {
                name: form.name,
                function: form.function,
            },
        )
        .await;
    match r {
        Ok(t) => redirect_with(
            &format!("/w/{ws}/teams/{}", t.id),
            "ok",
            &format!("Team {} created.", t.name),
        ),
        Err(e) => redirect_with(&back, "error", &describe(&e)),
    }
}

async fn team_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    Path((ws, team)): Path<(String, String)>,
) -> Response {
    let ctx = match Ctx::load(&state, &user, &headers, Some(&ws)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let view = match state.app.get_team(&user.actor(), &ws, &team).await {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let members = if ctx.can(Permission::MembersRead) {
        state
            .app
            .list_members(&user.actor(), &ws)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let base = format!("{}/teams/{}", ctx.ws_path(), view.team.id);
    let manage = ctx.can(Permission::TeamsManage);
    let body = html! {
        (ctx.workspace_tabs("overview"))
        p { a href=(ctx.ws_path()) { "← All teams" } }
        h2 { "Team " (view.team.name) " " span.badge { (view.team.function) } }
        table {
            thead { tr { th { "Name" } th { "E-mail" } th { "Since" } @if manage { th {} } } }
            tbody #team-members {
                @for m in &view.members {
                    tr {
                        td { (m.name) } td { (m.email) } td.muted { (&m.created_at[..10]) }
                        @if manage {
                            td { form.inline method="post" action={(base) "/members/" (m.user_id) "/remove"} { (ctx.csrf_field()) button.secondary type="submit" { "Remove" } } }
                        }
                    }
                }
                @if view.members.is_empty() { tr { td colspan="4" .muted { "No one in this team yet." } } }
            }
        }
        @if manage {
            div.card {
                h2 { "Add to team" }
                form method="post" action={(base) "/members"} {
                    (ctx.csrf_field())
                    div.row {
                        div {
                            label for="tm-user" { "E-mail of a workspace member" }
                            input #tm-user name="user" list="ws-members" required type="email" placeholder="name@example.com";
                            datalist #ws-members { @for m in &members { option value=(m.email) { (m.name) } } }
                        }
                        div { button type="submit" { "Add" } }
                    }
                }
            }
            div.card {
                h2 { "Edit team" }
                form method="post" action={(base) "/update"} {
                    (ctx.csrf_field())
                    div.row {
                        div { label for="t-name" { "Name" } input #t-name name="name" value=(view.team.name) required; }
                        div { label for="t-function" { "Function" } (function_select("t-function", view.team.function)) }
                        div { button type="submit" { "Save" } }
                    }
                }
                p {}
                form method="post" action={(base) "/delete"} data-confirm={"Delete team " (view.team.name) "?"} {
                    (ctx.csrf_field())
                    button.danger type="submit" { "Delete team" }
                }
            }
        }
    };
    ctx.render(&view.team.name, "workspace", body)
}

async fn team_update(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, team)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let back = format!("/w/{ws}/teams/{team}");
    let form: TeamForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    let input = UpdateTeam {
        name: Some(form.name),
        function: Some(form.function),
    };
    done(
        &back,
        "Saved.",
        state
            .app
            .update_team(&user.actor(), &ws, &team, input)
            .await,
    )
}

async fn team_delete(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, team)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Err(e) = user.form::<HashMap<String, String>>(&body) {
        return redirect_with(&format!("/w/{ws}/teams/{team}"), "error", &e);
    }
    match state.app.delete_team(&user.actor(), &ws, &team).await {
        Ok(()) => redirect_with(&format!("/w/{ws}"), "ok", "Team deleted."),
        Err(e) => redirect_with(&format!("/w/{ws}/teams/{team}"), "error", &describe(&e)),
    }
}

#[derive(Deserialize)]
struct TeamMemberForm {
    user: String,
}

async fn team_member_add(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, team)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let back = format!("/w/{ws}/teams/{team}");
    let form: TeamMemberForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    done(
        &back,
        "Added to the team.",
        state
            .app
            .add_team_member(&user.actor(), &ws, &team, AddTeamMember { user: form.user })
            .await,
    )
}

async fn team_member_remove(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, team, member)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let back = format!("/w/{ws}/teams/{team}");
    if let Err(e) = user.form::<HashMap<String, String>>(&body) {
        return redirect_with(&back, "error", &e);
    }
    done(
        &back,
        "Removed from the team.",
        state
            .app
            .remove_team_member(&user.actor(), &ws, &team, &member)
            .await,
    )
}

// ---- members ----

async fn members_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    Path(ws): Path<String>,
) -> Response {
    let ctx = match Ctx::load(&state, &user, &headers, Some(&ws)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let members = match state.app.list_members(&user.actor(), &ws).await {
        Ok(m) => m,
        Err(e) => return error_page(e),
    };
    let base = format!("{}/members", ctx.ws_path());
    let manage = ctx.can(Permission::MembersManage);
    let owner = ctx
        .current
        .as_ref()
        .is_some_and(|w| w.roles.contains(&Role::Owner));
    let body = html! {
        (ctx.workspace_tabs("members"))
        p.muted { "Direct members of this workspace. Members of a parent workspace and organisation owners and admins also have access." }
        table {
            thead { tr { th { "Name" } th { "E-mail" } th { "Role" } @if manage { th {} } } }
            tbody #member-list {
                @for m in &members {
                    tr {
                        td { (m.name) } td { (m.email) }
                        td {
                            @if manage && (owner || m.role != Role::Owner) {
                                form.inline method="post" action={(base) "/" (m.user_id) "/role"} {
                                    (ctx.csrf_field())
                                    (role_select(&format!("role-{}", m.user_id), "role", m.role, owner))
                                    " " button.secondary type="submit" { "Change" }
                                }
                            } @else { span.badge { (m.role) } }
                        }
                        @if manage {
                            td {
                                @if owner || m.role != Role::Owner {
                                    form.inline method="post" action={(base) "/" (m.user_id) "/remove"} data-confirm={"Remove " (m.email) " from this workspace?"} {
                                        (ctx.csrf_field()) button.danger type="submit" { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
                @if members.is_empty() { tr { td colspan="4" .muted { "No direct members." } } }
            }
        }
        @if manage {
            div.card {
                h2 { "Add member" }
                p.muted { "Someone who already has an account keeps their password; name and initial password are used for new accounts." }
                form method="post" action=(base) {
                    (ctx.csrf_field())
                    div.row {
                        div { label for="m-email" { "E-mail" } input #m-email type="email" name="email" required; }
                        div { label for="m-name" { "Name" } input #m-name name="name"; }
                        div { label for="m-role" { "Role" } (role_select("m-role", "role", Role::Agent, owner)) }
                        div { label for="m-password" { "Initial password" } input #m-password type="password" name="password" autocomplete="new-password" minlength="10"; }
                        div { button type="submit" { "Add member" } }
                    }
                }
            }
        }
    };
    ctx.render("Members", "workspace", body)
}

#[derive(Deserialize)]
struct MemberForm {
    email: String,
    role: Role,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

async fn member_add(
    State(state): State<AppState>,
    user: WebUser,
    Path(ws): Path<String>,
    body: Bytes,
) -> Response {
    let back = format!("/w/{ws}/members");
    let form: MemberForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    let input = AddMember {
        email: form.email,
        role: form.role,
        name: Some(form.name).filter(|n| !n.trim().is_empty()),
        password: Some(form.password).filter(|p| !p.is_empty()),
    };
    match state.app.add_member(&user.actor(), &ws, input).await {
        Ok(m) => redirect_with(&back, "ok", &format!("{} added as {}.", m.email, m.role)),
        Err(e) => redirect_with(&back, "error", &describe(&e)),
    }
}

#[derive(Deserialize)]
struct RoleForm {
    role: Role,
}

async fn member_role(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, member)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let back = format!("/w/{ws}/members");
    let form: RoleForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    done(
        &back,
        "Role changed.",
        state
            .app
            .update_member(
                &user.actor(),
                &ws,
                &member,
                UpdateMember { role: form.role },
            )
            .await,
    )
}

async fn member_remove(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, member)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let back = format!("/w/{ws}/members");
    if let Err(e) = user.form::<HashMap<String, String>>(&body) {
        return redirect_with(&back, "error", &e);
    }
    done(
        &back,
        "Member removed.",
        state.app.remove_member(&user.actor(), &ws, &member).await,
    )
}

// ---- audit ----

#[derive(Deserialize)]
struct AuditQuery {
    before: Option<String>,
}

fn audit_table(entries: &[switchboard_core::AuditEntry], next: Option<String>) -> Markup {
    html! {
        table #audit-log {
            thead { tr { th { "When (UTC)" } th { "Who" } th { "Action" } th { "Target" } th { "Before" } th { "After" } } }
            tbody {
                @for e in entries {
                    tr {
                        td.mono { (e.created_at.replace('T', " ").trim_end_matches('Z')) }
                        td { (e.actor) }
                        td { span.badge { (e.action) } }
                        td { (e.target_type) " " (target_label(e)) br; span.muted.mono { (e.target_id) } }
                        td { @if let Some(b) = &e.before { details { summary { "before" } pre.json { (serde_json::to_string_pretty(b).unwrap_or_default()) } } } }
                        td { @if let Some(a) = &e.after { details { summary { "after" } pre.json { (serde_json::to_string_pretty(a).unwrap_or_default()) } } } }
                    }
                }
                @if entries.is_empty() { tr { td colspan="6" .muted { "Nothing recorded yet." } } }
            }
        }
        @if let Some(n) = next { p { a href={"?before=" (n)} { "Older entries →" } } }
    }
}

/// What people call the target: its name or e-mail address as recorded in the entry.
fn target_label(e: &switchboard_core::AuditEntry) -> String {
    [&e.after, &e.before]
        .into_iter()
        .flatten()
        .find_map(|v| {
            v.get("name")
                .or_else(|| v.get("email"))
                .and_then(|x| x.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default()
}

const AUDIT_PAGE: i64 = 50;

fn next_cursor(entries: &[switchboard_core::AuditEntry]) -> Option<String> {
    (entries.len() as i64 == AUDIT_PAGE)
        .then(|| entries.last().map(|e| e.id.clone()))
        .flatten()
}

async fn workspace_audit_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    Path(ws): Path<String>,
    Query(q): Query<AuditQuery>,
) -> Response {
    let ctx = match Ctx::load(&state, &user, &headers, Some(&ws)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let entries = match state
        .app
        .workspace_audit(&user.actor(), &ws, q.before.as_deref(), AUDIT_PAGE)
        .await
    {
        Ok(e) => e,
        Err(e) => return error_page(e),
    };
    let body =
        html! { (ctx.workspace_tabs("audit")) (audit_table(&entries, next_cursor(&entries))) };
    ctx.render("Audit log", "workspace", body)
}

async fn org_audit_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    Path(org): Path<String>,
    Query(q): Query<AuditQuery>,
) -> Response {
    let ctx = match Ctx::load(&state, &user, &headers, None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let entries = match state
        .app
        .org_audit(&user.actor(), &org, q.before.as_deref(), AUDIT_PAGE)
        .await
    {
        Ok(e) => e,
        Err(e) => return error_page(e),
    };
    let name = ctx
        .me
        .organizations
        .iter()
        .find(|m| m.org.slug == org || m.org.id == org)
        .map(|m| m.org.name.clone())
        .unwrap_or(org);
    let body = html! { h1 { "Audit log: " (name) } (audit_table(&entries, next_cursor(&entries))) };
    ctx.render("Audit log", "workspaces", body)
}

// ---- API tokens ----

async fn tokens_page(State(state): State<AppState>, headers: HeaderMap, user: WebUser) -> Response {
    tokens_render(&state, &headers, &user, None).await
}

async fn tokens_render(
    state: &AppState,
    headers: &HeaderMap,
    user: &WebUser,
    new_secret: Option<(String, String)>,
) -> Response {
    let ctx = match Ctx::load(state, user, headers, None).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let tokens = match state.app.list_tokens(&user.auth.user).await {
        Ok(t) => t,
        Err(e) => return error_page(e),
    };
    let body = html! {
        h1 { "Personal API tokens" }
        p.muted { "A token acts with your permissions. Send it as " code { "Authorization: Bearer <token>" } ". It is shown once; Switchboard keeps only its hash." }
        @if let Some((name, secret)) = &new_secret {
            div.secret role="status" { "New token " strong { (name) } ": " code #new-token { (secret) } br; "Copy it now: it will not be shown again." }
        }
        table {
            thead { tr { th { "Name" } th { "Starts with" } th { "Created" } th { "Last used" } th { "Status" } th {} } }
            tbody {
                @for t in &tokens {
                    tr {
                        td { (t.name) } td.mono { (t.prefix) "…" } td.muted { (&t.created_at[..10]) }
                        td.muted { (t.last_used_at.as_deref().map(|s| &s[..16]).unwrap_or("never")) }
                        td { @if t.revoked_at.is_some() { "revoked" } @else { "active" } }
                        td { @if t.revoked_at.is_none() {
                            form.inline method="post" action={"/settings/tokens/" (t.id) "/revoke"} data-confirm={"Revoke " (t.name) "?"} { (ctx.csrf_field()) button.danger type="submit" { "Revoke" } }
                        } }
                    }
                }
                @if tokens.is_empty() { tr { td colspan="6" .muted { "No tokens." } } }
            }
        }
        div.card {
            h2 { "New token" }
            form method="post" action="/settings/tokens" {
                (ctx.csrf_field())
                div.row { div { label for="tok-name" { "Name" } input #tok-name name="name" required placeholder="BI export"; } div { button type="submit" { "Create token" } } }
            }
        }
    };
    let mut res = ctx.render("API tokens", "tokens", body);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[derive(Deserialize)]
struct TokenForm {
    name: String,
}

async fn token_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    body: Bytes,
) -> Response {
    let form: TokenForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with("/settings/tokens", "error", &e),
    };
    match state.app.create_token(&user.auth.user, &form.name).await {
        // Rendered directly, not redirected: the secret must not travel in a URL or cookie.
        Ok((t, secret)) => tokens_render(&state, &headers, &user, Some((t.name, secret))).await,
        Err(e) => redirect_with("/settings/tokens", "error", &describe(&e)),
    }
}

async fn token_revoke(
    State(state): State<AppState>,
    user: WebUser,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(e) = user.form::<HashMap<String, String>>(&body) {
        return redirect_with("/settings/tokens", "error", &e);
    }
    done(
        "/settings/tokens",
        "Token revoked.",
        state.app.revoke_token(&user.auth.user, &id).await,
    )
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn login_redirects_stay_on_this_site() {
        assert_eq!(safe_next(Some("/w/x")), "/w/x");
        for evil in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(Some(evil)), "/", "{evil}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
