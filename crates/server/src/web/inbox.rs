//! The Inbox page: three panes (the queues; the chosen queue's conversations with filters; the
//! open conversation with its timeline, SLA timers and actions). Every action is a plain form
//! that posts to a handler here, which calls the service and redirects back (PRG). app.js adds
//! keyboard shortcuts, the saved-reply picker, the presence heartbeat and send-once buttons;
//! the page works without it.

use super::listening::{cookie_zone, local, parse_ts, zone};
use super::{describe, error_page, not_found_page, redirect_with, Ctx, WebUser};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use futures_util::future::join_all;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use switchboard_core::{Item, Network, Permission, Team, User};
use switchboard_service::handoff::HandoffInput;
use switchboard_service::inbox::{
    AssignInput, ConversationDetail, ConversationPatch, ConversationQuery, StatusInput, PRIORITIES,
};
use switchboard_service::inbox_work::{NoteInput, Present, ReplyInput};
use switchboard_service::sla::{SlaTimers, Timer, TimerState};
use switchboard_service::ServiceError;
use switchboard_store::inbox::{Conversation, ConversationEvent};
use switchboard_store::inbox_work::{Reply, SavedReply};

/// Conversations per page of the list.
const PAGE: i64 = 50;
/// Queue counts stop here ("100+"): counting is a listing, and a long one is not cheap.
const COUNT_CAP: i64 = 100;
const SENTIMENTS: &[&str] = &["positive", "neutral", "negative", "mixed"];
/// The enrichment's intents (switchboard-enrich's `Intent::ALL`; the server does not depend
/// on that crate).
const INTENTS: &[&str] = &[
    "complaint",
    "question",
    "purchase_intent",
    "praise",
    "recruiting",
    "bug_report",
    "feature_request",
];
const LANGS: &[&str] = &["en", "de", "fr", "es", "it", "nl", "pt", "ko", "zh", "ja"];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/w/{ws}/inbox", get(inbox_page))
        .route("/w/{ws}/inbox/metrics", get(metrics_page))
        .route("/w/{ws}/inbox/{conversation}", get(conversation_page))
        .route("/w/{ws}/inbox/{conversation}/assign", post(assign))
        .route("/w/{ws}/inbox/{conversation}/status", post(status))
        .route("/w/{ws}/inbox/{conversation}/priority", post(priority))
        .route("/w/{ws}/inbox/{conversation}/tags", post(tags))
        .route("/w/{ws}/inbox/{conversation}/note", post(note))
        .route("/w/{ws}/inbox/{conversation}/reply", post(reply))
        .route("/w/{ws}/inbox/{conversation}/handoff", post(handoff))
}

// ---- parameters, links, times ----

#[derive(Deserialize, Default, Clone)]
struct InboxQuery {
    #[serde(default)]
    view: String,
    /// Absent: open conversations; `any`: every status.
    #[serde(default)]
    status: String,
    #[serde(default)]
    network: String,
    #[serde(default)]
    intent: String,
    #[serde(default)]
    sentiment: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    assignee: String,
    /// An SLA timer state: `ok`, `warning`, `breached`, `met` or `paused`.
    #[serde(default)]
    sla: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    cursor: String,
}

impl InboxQuery {
    fn status_shown(&self) -> &str {
        match self.status.trim() {
            "" => "open",
            s => s,
        }
    }

    /// Filters other than the queue and the status are set (the "more filters" are open).
    fn more_filters(&self) -> bool {
        [
            &self.network,
            &self.intent,
            &self.sentiment,
            &self.lang,
            &self.tag,
            &self.assignee,
            &self.sla,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
    }

    fn to_service(&self, limit: i64) -> ConversationQuery {
        let some = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
        ConversationQuery {
            view: some(&self.view),
            status: match self.status_shown() {
                "any" => None,
                s => Some(s.to_string()),
            },
            network: some(&self.network),
            intent: some(&self.intent),
            sentiment: some(&self.sentiment),
            lang: some(&self.lang),
            assignee: some(&self.assignee),
            tag: some(&self.tag),
            q: some(&self.q),
            sla: some(&self.sla),
            limit: Some(limit),
            cursor: some(&self.cursor),
        }
    }
}

/// A path segment with everything but unreserved characters percent-encoded.
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds the page's links, keeping the queue and filters.
struct Links {
    /// `/w/{ws}/inbox`
    base: String,
    params: Vec<(&'static str, String)>,
}

impl Links {
    fn new(ws: &str, q: &InboxQuery) -> Links {
        Links {
            base: format!("/w/{}/inbox", seg(ws)),
            params: vec![
                ("view", q.view.clone()),
                ("status", q.status.clone()),
                ("network", q.network.clone()),
                ("intent", q.intent.clone()),
                ("sentiment", q.sentiment.clone()),
                ("lang", q.lang.clone()),
                ("tag", q.tag.clone()),
                ("assignee", q.assignee.clone()),
                ("sla", q.sla.clone()),
                ("q", q.q.clone()),
                ("cursor", q.cursor.clone()),
            ],
        }
    }

    fn query(&self, changes: &[(&str, &str)]) -> String {
        let mut kept: Vec<(&str, &str)> = Vec::new();
        for (k, v) in &self.params {
            let v = changes
                .iter()
                .find(|c| c.0 == *k)
                .map(|c| c.1)
                .unwrap_or(v.as_str());
            if !v.trim().is_empty() {
                kept.push((k, v));
            }
        }
        if kept.is_empty() {
            String::new()
        } else {
            format!("?{}", serde_urlencoded::to_string(kept).unwrap_or_default())
        }
    }

    /// The list with some parameters changed (an empty value drops one).
    fn list(&self, changes: &[(&str, &str)]) -> String {
        format!("{}{}", self.base, self.query(changes))
    }

    /// A conversation, with the list as it is.
    fn conversation(&self, id: &str) -> String {
        format!("{}/{}{}", self.base, seg(id), self.query(&[]))
    }

    fn action(&self, id: &str, what: &str) -> String {
        format!("{}/{}/{what}", self.base, seg(id))
    }
}

/// Where a form goes back to: the inbox page it was sent from (in this workspace), or the
/// conversation.
fn back_to(body: &Bytes, ws: &str, conversation: &str) -> String {
    let base = format!("/w/{}/inbox", seg(ws));
    let fallback = format!("{base}/{}", seg(conversation));
    let fields: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    match fields.get("back") {
        Some(b)
            if b.strip_prefix(&base)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
                && b.bytes().all(|c| (0x21..0x7f).contains(&c)) =>
        {
            b.clone()
        }
        _ => fallback,
    }
}

/// How long ago, briefly: `now`, `5m`, `3h`, `2d`, then the date.
fn age(ts: &str, now: Timestamp, tz: &TimeZone) -> String {
    let Some(t) = parse_ts(ts) else {
        return String::new();
    };
    let secs = now.as_second() - t.as_second();
    match secs {
        s if s < 60 => "now".into(),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s if s < 7 * 86_400 => format!("{}d", s / 86_400),
        _ => t.to_zoned(tz.clone()).strftime("%b %d").to_string(),
    }
}

fn minutes(m: i64) -> String {
    match m {
        m if m < 60 => format!("{m} min"),
        m if m < 24 * 60 && m % 60 == 0 => format!("{} h", m / 60),
        m if m < 24 * 60 => format!("{} h {} min", m / 60, m % 60),
        m if m % (24 * 60) < 60 => format!("{} d", m / (24 * 60)),
        m => format!("{} d {} h", m / (24 * 60), (m % (24 * 60)) / 60),
    }
}

/// The first line of a text, at most `max` characters.
fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let line = line.trim();
    if line.chars().count() <= max {
        line.to_string()
    } else {
        let cut: String = line.chars().take(max).collect();
        format!("{}…", cut.trim_end())
    }
}

fn author_name(item: &Item) -> &str {
    if item.author.display_name.trim().is_empty() {
        &item.author.handle
    } else {
        &item.author.display_name
    }
}

/// Mistakes in what was asked (shown by the filters); anything else is an error page.
fn is_input_error(e: &ServiceError) -> bool {
    matches!(
        e,
        ServiceError::Validation(_) | ServiceError::QuerySyntax { .. }
    )
}

// ---- what the page loads ----

/// Who is who: names by user id and by e-mail address (events name their actor by address).
#[derive(Default)]
struct People {
    by_id: HashMap<String, String>,
    by_email: HashMap<String, String>,
    /// Each team's members: (user id, name), for the "assign to" list.
    teams: Vec<(Team, Vec<(String, String)>)>,
    /// Members of the workspace outside its teams.
    others: Vec<(String, String)>,
}

impl People {
    fn add(&mut self, id: &str, email: &str, name: &str) {
        let shown = if name.trim().is_empty() { email } else { name };
        self.by_id.insert(id.to_string(), shown.to_string());
        self.by_email
            .insert(email.to_lowercase(), shown.to_string());
    }

    fn name(&self, id: &str) -> String {
        self.by_id
            .get(id)
            .cloned()
            .unwrap_or_else(|| "a former member".into())
    }

    fn actor(&self, actor: &str) -> String {
        match actor {
            "router" => "Routing".into(),
            "cli" => "The command line".into(),
            a => self
                .by_email
                .get(&a.to_lowercase())
                .cloned()
                .unwrap_or_else(|| a.to_string()),
        }
    }
}

async fn load_people(
    state: &AppState,
    user: &WebUser,
    ctx: &Ctx,
    ws: &str,
    teams: &[Team],
    assignees: &[String],
) -> People {
    let actor = user.actor();
    let mut people = People::default();
    let me = &user.auth.user;
    people.add(&me.id, &me.email, &me.name);
    let views = join_all(teams.iter().map(|t| state.app.get_team(&actor, ws, &t.id))).await;
    let mut in_teams = HashSet::new();
    for (t, v) in teams.iter().zip(views) {
        let members: Vec<(String, String)> = match v {
            Ok(v) => v
                .members
                .iter()
                .map(|m| {
                    people.add(&m.user_id, &m.email, &m.name);
                    in_teams.insert(m.user_id.clone());
                    (m.user_id.clone(), m.name.clone())
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        people.teams.push((t.clone(), members));
    }
    if ctx.can(Permission::MembersRead) {
        if let Ok(members) = state.app.list_members(&actor, ws).await {
            for m in members {
                people.add(&m.user_id, &m.email, &m.name);
                if !in_teams.contains(&m.user_id)
                    && m.role.permissions().contains(&Permission::InboxReply)
                {
                    people.others.push((m.user_id.clone(), m.name.clone()));
                }
            }
        }
    }
    // Assignees who are members through a parent workspace or the organisation.
    let unknown: Vec<&String> = assignees
        .iter()
        .filter(|id| !people.by_id.contains_key(*id))
        .collect();
    if !unknown.is_empty() {
        if let Ok(mut c) = state.app.store.read().await {
            for id in unknown {
                if let Ok(Some(u)) = switchboard_store::users::get(&mut c, id).await {
                    people.add(&u.id, &u.email, &u.name);
                }
            }
        }
    }
    people
}

/// The open count of each queue, as shown next to it ("100+" past the cap).
async fn queue_counts(
    state: &AppState,
    user: &WebUser,
    ws: &str,
    views: &[String],
) -> HashMap<String, String> {
    let actor = user.actor();
    let counts = join_all(views.iter().map(|v| {
        state.app.list_conversations(
            &actor,
            ws,
            ConversationQuery {
                view: Some(v.clone()),
                status: Some("open".into()),
                limit: Some(COUNT_CAP),
                ..ConversationQuery::default()
            },
        )
    }))
    .await;
    views
        .iter()
        .zip(counts)
        .filter_map(|(v, r)| {
            let p = r.ok()?;
            let n = p.conversations.len();
            let shown = if p.next_cursor.is_some() {
                format!("{n}+")
            } else {
                n.to_string()
            };
            Some((v.clone(), shown))
        })
        .collect()
}

/// The listed conversations that are not closed and have a breached (or else a nearly due)
/// SLA timer. Only the page's rows are looked at.
async fn sla_marks(
    state: &AppState,
    user: &WebUser,
    ws: &str,
    conversations: &[Conversation],
) -> HashMap<String, TimerState> {
    let ids: Vec<String> = conversations
        .iter()
        .filter(|c| c.status != "closed")
        .map(|c| c.id.clone())
        .collect();
    let Ok(timers) = state
        .app
        .sla_of_conversations(&user.actor(), ws, &ids)
        .await
    else {
        return HashMap::new();
    };
    timers
        .into_iter()
        .filter_map(|(id, t)| {
            let states = [t.first_response.state, t.resolution.state];
            [TimerState::Breached, TimerState::Warning]
                .into_iter()
                .find(|want| states.contains(want))
                .map(|mark| (id, mark))
        })
        .collect()
}

/// Each listed conversation's first item (who started it and what they said). Read from
/// the store in one pass: the conversations come from `list_conversations`, which has
/// checked that the caller may read them, and a `get_conversation` per row would load every
/// timeline of the page.
async fn openers(
    state: &AppState,
    conversations: &[Conversation],
) -> Result<HashMap<String, Item>, ServiceError> {
    let mut c = state.app.store.read().await?;
    let mut first: HashMap<String, String> = HashMap::new();
    for conv in conversations {
        let ids = switchboard_store::inbox::item_ids(&mut c, &conv.id).await?;
        if let Some(id) = ids.into_iter().next() {
            first.insert(id, conv.id.clone());
        }
    }
    let ids: Vec<String> = first.keys().cloned().collect();
    let items = switchboard_store::items::get_many(&mut c, &ids).await?;
    Ok(items
        .into_iter()
        .filter_map(|i| first.get(&i.id).cloned().map(|conv| (conv, i)))
        .collect())
}

/// What the open conversation pane shows besides the conversation.
struct Selected {
    detail: ConversationDetail,
    sla: Option<SlaTimers>,
    replies: Vec<Reply>,
    presence: Vec<Present>,
    /// The customer's latest item (what a reply answers), for the saved-reply previews.
    customer: Option<Item>,
}

async fn load_selected(
    state: &AppState,
    user: &WebUser,
    ws: &str,
    id: &str,
) -> Result<Selected, ServiceError> {
    let actor = user.actor();
    let detail = state.app.get_conversation(&actor, ws, id).await?;
    let cid = detail.conversation.id.clone();
    let (sla, replies, presence, channels) = tokio::try_join!(
        state.app.conversation_sla(&actor, ws, &cid),
        state.app.list_replies(&actor, ws, &cid),
        state.app.get_presence(&actor, ws, &cid),
        state.app.list_channels(&actor, ws),
    )?;
    // As the service picks it: the newest item not written by our own account there.
    let own: Vec<String> = channels
        .iter()
        .filter(|ch| ch.network.as_str() == detail.conversation.network)
        .map(|ch| ch.account.to_lowercase())
        .collect();
    let ours = |i: &Item| {
        let h = i.author.handle.trim_start_matches('@').to_lowercase();
        own.iter().any(|a| {
            h == *a
                || h.strip_prefix(a.as_str())
                    .is_some_and(|r| r.starts_with('@'))
        })
    };
    let customer = detail.items.iter().rev().find(|i| !ours(i)).cloned();
    Ok(Selected {
        detail,
        sla,
        replies,
        presence,
        customer,
    })
}

/// A saved reply filled in for this conversation, as the service fills it when sending.
fn preview(saved: &SavedReply, customer: Option<&Item>, me: &User, workspace: &str) -> String {
    let agent = if me.name.trim().is_empty() {
        me.email.split('@').next().unwrap_or_default().to_string()
    } else {
        me.name.trim().to_string()
    };
    let (handle, name) = match customer {
        Some(c) => {
            let h = c.author.handle.trim_start_matches('@').to_string();
            let n = if c.author.display_name.trim().is_empty() {
                h.clone()
            } else {
                c.author.display_name.trim().to_string()
            };
            (h, n)
        }
        None => (String::new(), String::new()),
    };
    let vars: HashMap<&str, String> = [
        ("author", format!("@{handle}")),
        ("author_name", name),
        ("agent", agent),
        ("workspace", workspace.to_string()),
    ]
    .into_iter()
    .collect();
    switchboard_service::inbox_work::render(&saved.body, &vars)
        .unwrap_or_else(|_| saved.body.clone())
}

// ---- the page ----

async fn inbox_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    Path(ws): Path<String>,
    Query(q): Query<InboxQuery>,
) -> Response {
    render_inbox(&state, &headers, &user, &ws, &q, None).await
}

async fn conversation_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    Path((ws, conversation)): Path<(String, String)>,
    Query(q): Query<InboxQuery>,
) -> Response {
    render_inbox(&state, &headers, &user, &ws, &q, Some(&conversation)).await
}

async fn render_inbox(
    state: &AppState,
    headers: &HeaderMap,
    user: &WebUser,
    ws: &str,
    q: &InboxQuery,
    selected_id: Option<&str>,
) -> Response {
    let ctx = match Ctx::load(state, user, headers, Some(ws)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(w) = ctx.current.clone() else {
        return not_found_page();
    };
    if !ctx.can(Permission::InboxRead) {
        return error_page(ServiceError::Forbidden(format!(
            "needs permission {} in workspace {}",
            Permission::InboxRead,
            w.workspace.slug
        )));
    }
    let ws_id = w.workspace.id.clone();
    let actor = user.actor();
    let (_, tz) = cookie_zone(headers);
    let now = Timestamp::now();

    let selected = match selected_id {
        Some(id) => match load_selected(state, user, &ws_id, id).await {
            Ok(s) => Some(s),
            Err(e) => return error_page(e),
        },
        None => None,
    };
    let (teams, saved) = match tokio::try_join!(
        state.app.list_teams(&actor, &ws_id),
        state.app.list_saved_replies(&actor, &ws_id),
    ) {
        Ok(x) => x,
        Err(e) => return error_page(e),
    };
    let (page, problem) = match state
        .app
        .list_conversations(&actor, &ws_id, q.to_service(PAGE))
        .await
    {
        Ok(p) => (Some(p), None),
        Err(e) if is_input_error(&e) => (None, Some(e)),
        Err(e) => return error_page(e),
    };
    let conversations: &[Conversation] = page.as_ref().map(|p| &p.conversations[..]).unwrap_or(&[]);
    let mut views: Vec<String> = vec!["all".into(), "mine".into(), "unassigned".into()];
    views.extend(teams.iter().map(|t| format!("team:{}", t.id)));
    let mut assignees: Vec<String> = conversations
        .iter()
        .filter_map(|c| c.assignee_id.clone())
        .collect();
    if let Some(s) = &selected {
        assignees.extend(s.detail.conversation.assignee_id.clone());
    }
    let (counts, marks, people, openers) = tokio::join!(
        queue_counts(state, user, &ws_id, &views),
        sla_marks(state, user, &ws_id, conversations),
        load_people(state, user, &ctx, &ws_id, &teams, &assignees),
        openers(state, conversations),
    );
    let openers = match openers {
        Ok(o) => o,
        Err(e) => return error_page(e),
    };
    let links = Links::new(&ws_id, q);
    let team_names: HashMap<&str, &str> = teams
        .iter()
        .map(|t| (t.id.as_str(), t.name.as_str()))
        .collect();
    let page_view = PageView {
        ctx: &ctx,
        links: &links,
        q,
        tz: &tz,
        now,
        people: &people,
        team_names: &team_names,
        me: &user.auth.user,
        workspace: &w.workspace.name,
        can_reply: ctx.can(Permission::InboxReply),
    };
    let current_view = match q.view.trim() {
        "" => "all",
        v => v,
    };
    let current_team = current_view.strip_prefix("team:").and_then(|t| {
        teams
            .iter()
            .find(|x| x.id == t || x.name.eq_ignore_ascii_case(t))
    });
    let title = match current_view {
        "all" => "All conversations".to_string(),
        "mine" => "Assigned to me".to_string(),
        "unassigned" => "Unassigned".to_string(),
        _ => current_team
            .map(|t| t.name.clone())
            .unwrap_or_else(|| current_view.to_string()),
    };
    let body = html! {
        div.inbox data-inbox {
            (queues_pane(&page_view, &views, &teams, &counts, current_view))
            section.conv-pane aria-labelledby="list-h" {
                div.conv-pane-head {
                    h1 #list-h { (title) " " span.muted.small { "in " (w.workspace.name) } }
                    (filters(&page_view, &people, problem.as_ref()))
                }
                @if let Some(p) = &page {
                    p.list-meta.muted.small {
                        (p.conversations.len()) @if p.next_cursor.is_some() { "+" } " conversation" @if p.conversations.len() != 1 { "s" }
                        ", latest activity first"
                        @if !q.cursor.is_empty() { " · " a href=(links.list(&[("cursor", "")])) { "back to the newest" } }
                    }
                    ol.conv-list #conv-list {
                        @for c in &p.conversations {
                            (conversation_row(&page_view, c, openers.get(&c.id), marks.get(&c.id).copied(), selected.as_ref().is_some_and(|s| s.detail.conversation.id == c.id)))
                        }
                    }
                    @if p.conversations.is_empty() {
                        p.empty.muted { "Nothing here. " @if q.status_shown() == "open" { "Open conversations routed here show up within seconds." } }
                    }
                    @if let Some(c) = &p.next_cursor {
                        p.more { a.button #more-link href=(links.list(&[("cursor", c.as_str())])) { "More conversations" } }
                    }
                }
            }
            @match &selected {
                Some(s) => { (conversation_pane(&page_view, s, &saved)) }
                None => {
                    section.conv-detail.placeholder {
                        div.empty-state {
                            h2 { "No conversation open" }
                            p.muted { "Pick one from the list, or press " kbd { "j" } " to open the first." }
                        }
                    }
                }
            }
            (shortcut_help())
        }
    };
    let mut res = ctx.render("Inbox", "inbox", body);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(e) = &problem {
        *res.status_mut() =
            StatusCode::from_u16(e.code().http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    }
    res
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MetricsQuery {
    /// Days back from now: 7, 30 (default) or 90.
    days: String,
}

/// Per team and per agent: volume, first response, resolution and SLA attainment over the
/// last 7, 30 or 90 days (by first item), for the team leads and executives who do not work
/// the queues themselves.
async fn metrics_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    Path(ws): Path<String>,
    Query(q): Query<MetricsQuery>,
) -> Response {
    let ctx = match Ctx::load(&state, &user, &headers, Some(&ws)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(w) = ctx.current.clone() else {
        return not_found_page();
    };
    let days: i64 = match q.days.trim() {
        "7" => 7,
        "90" => 90,
        _ => 30,
    };
    let to = Timestamp::now();
    let from = match to.checked_sub(jiff::SignedDuration::from_hours(days * 24)) {
        Ok(f) => f,
        Err(e) => return error_page(ServiceError::internal(e)),
    };
    let m = match state
        .app
        .inbox_metrics(&user.actor(), &w.workspace.id, (from, to))
        .await
    {
        Ok(m) => m,
        Err(e) => return error_page(e),
    };
    let base = format!("/w/{}/inbox", seg(&w.workspace.id));
    let minutes = |m: Option<i64>| match m {
        None => "–".to_string(),
        Some(m) if m < 120 => format!("{m} min"),
        Some(m) if m < 48 * 60 => format!("{:.1} h", m as f64 / 60.0),
        Some(m) => format!("{:.1} d", m as f64 / 1440.0),
    };
    let table = |rows: &[switchboard_service::sla::MetricsRow], who: &str, nobody: &str| {
        html! {
            table.metrics {
                thead {
                    tr {
                        th { (who) } th.num { "Conversations" } th.num { "First response, median" }
                        th.num { "First response, p90" } th.num { "Resolution, median" } th.num { "SLA attainment" }
                    }
                }
                tbody {
                    @for r in rows {
                        tr {
                            td { (r.name.clone().unwrap_or_else(|| nobody.to_string())) }
                            td.num { (r.conversations) }
                            td.num { (minutes(r.first_response_median_minutes)) }
                            td.num { (minutes(r.first_response_p90_minutes)) }
                            td.num { (minutes(r.resolution_median_minutes)) }
                            td.num {
                                @match r.sla_attainment_pct {
                                    Some(p) => { span class={"badge " (if p >= 90.0 { "ok" } else if p >= 75.0 { "warn" } else { "danger" })} { (format!("{p:.0}%")) } }
                                    None => { span.muted title="No SLA policy covers these" { "–" } }
                                }
                            }
                        }
                    }
                    @if rows.is_empty() { tr { td colspan="6" .muted { "No conversations started in this period." } } }
                }
            }
        }
    };
    let body = html! {
        div.metrics-page {
            p.small { a href=(base) { "← Inbox" } }
            h1 { "Inbox metrics " span.muted.small { "in " (w.workspace.name) } }
            nav.intervals aria-label="Period" {
                @for d in [7i64, 30, 90] {
                    a.active[d == days] href={(base) "/metrics?days=" (d)} { "Last " (d) " days" }
                }
            }
            p.muted.small {
                "Conversations that started in the period. Times are wall-clock from the first message; "
                "attainment counts conversations under an SLA policy with no breached timer."
            }
            h2 { "By team" }
            (table(&m.teams, "Team", "Unassigned queue"))
            h2 { "By agent" }
            (table(&m.agents, "Agent", "Nobody assigned"))
        }
    };
    ctx.render("Inbox metrics", "inbox", body)
}

/// What rendering needs to hand around.
struct PageView<'a> {
    ctx: &'a Ctx,
    links: &'a Links,
    q: &'a InboxQuery,
    tz: &'a TimeZone,
    now: Timestamp,
    people: &'a People,
    team_names: &'a HashMap<&'a str, &'a str>,
    me: &'a User,
    workspace: &'a str,
    can_reply: bool,
}

impl PageView<'_> {
    fn team(&self, id: Option<&str>) -> String {
        match id {
            Some(t) => self
                .team_names
                .get(t)
                .map(|n| n.to_string())
                .unwrap_or_else(|| "a deleted team".into()),
            None => "Unassigned queue".into(),
        }
    }

    fn person(&self, id: &str) -> String {
        if id == self.me.id {
            format!("{} (you)", self.people.name(id))
        } else {
            self.people.name(id)
        }
    }
}

fn queues_pane(
    v: &PageView,
    views: &[String],
    teams: &[Team],
    counts: &HashMap<String, String>,
    current: &str,
) -> Markup {
    let label = |view: &str| -> String {
        match view {
            "all" => "All".into(),
            "mine" => "Mine".into(),
            "unassigned" => "Unassigned".into(),
            t => t
                .strip_prefix("team:")
                .and_then(|id| teams.iter().find(|x| x.id == id))
                .map(|x| x.name.clone())
                .unwrap_or_else(|| t.to_string()),
        }
    };
    let is_current = |view: &str| {
        view == current
            || view
                .strip_prefix("team:")
                .zip(current.strip_prefix("team:"))
                .is_some_and(|(a, b)| {
                    teams
                        .iter()
                        .any(|t| t.id == a && (t.name.eq_ignore_ascii_case(b) || t.id == b))
                })
    };
    html! {
        nav.queues aria-label="Queues" {
            @for (i, view) in views.iter().enumerate() {
                @if i == 3 { h2.queue-group { "Teams" } }
                @if i == 0 { h2.queue-group { "Inbox" } }
                a.queue.active[is_current(view)] href=(v.links.list(&[("view", if view == "all" { "" } else { view.as_str() }), ("cursor", "")]))
                    aria-current=(if is_current(view) { "page" } else { "false" }) data-queue=(view) {
                    span.q-name { (label(view)) }
                    @if let Some(n) = counts.get(view) { span.count title="Open conversations" { (n) } }
                }
            }
            @if teams.is_empty() { p.muted.small { "No teams yet: everything routed waits in Unassigned." } }
            p.small { a #metrics-link href={(v.links.base) "/metrics"} { "Team metrics" } }
            div.kbd-hint #shortcut-hint {
                p { strong { "Keyboard" } }
                p { kbd { "j" } " " kbd { "k" } " next / previous" }
                p { kbd { "a" } " assign to me" }
                p { kbd { "e" } " close" }
                p { kbd { "r" } " reply" }
                p { kbd { "?" } " all shortcuts" }
            }
        }
    }
}

fn filters(v: &PageView, people: &People, problem: Option<&ServiceError>) -> Markup {
    let q = v.q;
    let syntax = matches!(problem, Some(ServiceError::QuerySyntax { .. }));
    let status = q.status_shown();
    html! {
        form.inbox-filters method="get" action=(v.links.base) role="search" {
            @if !q.view.is_empty() { input type="hidden" name="view" value=(q.view); }
            div.query-row {
                label.sr-only for="iq" { "Search conversations" }
                input #iq.mono type="search" name="q" value=(q.q) placeholder="refund lang:de" autocomplete="off" spellcheck="false"
                    aria-invalid=(if syntax { "true" } else { "false" }) title="The listening query language: words, \"phrases\", OR, NOT, lang:de, intent:complaint…";
                label.sr-only for="f-status" { "Status" }
                select #f-status name="status" data-autosubmit {
                    @for (value, label) in [("open", "Open"), ("pending", "Pending"), ("snoozed", "Snoozed"), ("closed", "Closed"), ("any", "Any status")] {
                        option value=(value) selected[status == value] { (label) }
                    }
                }
                button type="submit" { "Filter" }
            }
            @match problem {
                Some(ServiceError::QuerySyntax { position, message, .. }) => {
                    (syntax_error(&q.q, *position, message))
                }
                Some(e) => { div.query-error #query-error role="alert" { p { (describe(e)) } } }
                None => {}
            }
            details.more-filters open[q.more_filters()] {
                summary { "More filters" @if q.more_filters() { " (on)" } }
                div.filter-grid {
                    div {
                        label for="f-network" { "Network" }
                        select #f-network name="network" {
                            option value="" { "Any" }
                            @for n in Network::ALL { option value=(n) selected[q.network == n.as_str()] { (n) } }
                        }
                    }
                    div {
                        label for="f-intent" { "Intent" }
                        select #f-intent name="intent" {
                            option value="" { "Any" }
                            @for i in INTENTS { option value=(i) selected[q.intent == *i] { (i.replace('_', " ")) } }
                        }
                    }
                    div {
                        label for="f-sentiment" { "Sentiment" }
                        select #f-sentiment name="sentiment" {
                            option value="" { "Any" }
                            @for s in SENTIMENTS { option value=(s) selected[q.sentiment == *s] { (s) } }
                        }
                    }
                    div {
                        label for="f-lang" { "Language" }
                        input #f-lang name="lang" value=(q.lang) list="lang-list" placeholder="de" autocomplete="off";
                        datalist #lang-list { @for l in LANGS { option value=(l) {} } }
                    }
                    div {
                        label for="f-tag" { "Tag" }
                        input #f-tag name="tag" value=(q.tag) placeholder="product" autocomplete="off";
                    }
                    div {
                        label for="f-assignee" { "Assignee" }
                        select #f-assignee name="assignee" {
                            option value="" { "Anyone" }
                            option value="me" selected[q.assignee == "me"] { "Me" }
                            @for (id, name) in assignable(people) {
                                @if id != v.me.id { option value=(id) selected[q.assignee == id] { (name) } }
                            }
                        }
                    }
                    div {
                        label for="f-sla" { "SLA" }
                        select #f-sla name="sla" {
                            option value="" { "Any" }
                            @for (value, label) in [("breached", "Breached"), ("warning", "Due soon"), ("ok", "On track"), ("met", "Met"), ("paused", "Paused")] {
                                option value=(value) selected[q.sla == value] { (label) }
                            }
                        }
                    }
                }
                p { button.secondary type="submit" { "Apply filters" } " " a href=(v.links.list(&[("network", ""), ("intent", ""), ("sentiment", ""), ("lang", ""), ("tag", ""), ("assignee", ""), ("sla", ""), ("q", ""), ("cursor", "")])) { "Clear" } }
            }
        }
    }
}

/// Everyone a conversation can be given to, once each, in team order.
fn assignable(people: &People) -> Vec<(String, String)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (_, members) in &people.teams {
        for (id, name) in members {
            if seen.insert(id.clone()) {
                out.push((id.clone(), name.clone()));
            }
        }
    }
    for (id, name) in &people.others {
        if seen.insert(id.clone()) {
            out.push((id.clone(), name.clone()));
        }
    }
    out
}

/// "column N: message" under the query box, with a caret under column N.
fn syntax_error(text: &str, position: usize, message: &str) -> Markup {
    let before: String = text.chars().take(position.saturating_sub(1)).collect();
    html! {
        div.query-error #query-error role="alert" {
            pre.caret { (text) "\n" span.ghost aria-hidden="true" { (before) } span.caret-mark { "^" } }
            p { "column " (position) ": " (message) }
        }
    }
}

fn status_badge(status: &str) -> Markup {
    html! { span class={"badge status status-" (status)} { (status) } }
}

fn priority_badge(priority: &str) -> Markup {
    html! {
        @if priority != "normal" { span class={"badge prio prio-" (priority)} title="Priority" { (priority) } }
    }
}

fn sla_badge(state: Option<TimerState>) -> Markup {
    html! {
        @match state {
            Some(TimerState::Breached) => { span.badge.danger.sla title="An SLA timer is past due" { "SLA breached" } }
            Some(TimerState::Warning) => { span.badge.warn.sla title="An SLA timer is nearly due" { "SLA due soon" } }
            _ => {}
        }
    }
}

fn conversation_row(
    v: &PageView,
    c: &Conversation,
    opener: Option<&Item>,
    sla: Option<TimerState>,
    active: bool,
) -> Markup {
    html! {
        li.conv-row.active[active] data-conversation=(c.id) {
            a.conv-link href=(v.links.conversation(&c.id)) aria-current=(if active { "true" } else { "false" }) {
                div.row-top {
                    strong.author { @if let Some(i) = opener { (author_name(i)) } @else { "Unknown" } }
                    @if let Some(i) = opener { span.muted.handle { " @" (i.author.handle.trim_start_matches('@')) } }
                    time.age datetime=(c.last_item_at) title=(local(&c.last_item_at, v.tz)) { (age(&c.last_item_at, v.now, v.tz)) }
                }
                p.row-text { @if let Some(i) = opener { (first_line(&i.text, 140)) } }
                div.row-meta {
                    span.badge.net { (c.network) }
                    @if let Some(i) = opener {
                        @for intent in &i.intents { span.badge.intent { (intent.replace('_', " ")) } }
                        @if !i.sentiment.label.is_empty() && i.sentiment.label != "neutral" {
                            span class={"badge sent-" (i.sentiment.label)} { (i.sentiment.label) }
                        }
                    }
                    @if c.status != "open" { (status_badge(&c.status)) }
                    (priority_badge(&c.priority))
                    (sla_badge(sla))
                    @if c.item_count > 1 { span.muted.small title="Messages" { "✉ " (c.item_count) } }
                }
                div.row-owner.small.muted {
                    span.team { (v.team(c.team_id.as_deref())) }
                    " · "
                    @match &c.assignee_id {
                        Some(a) => { span.assignee { (v.person(a)) } }
                        None => { span.assignee.nobody { "nobody yet" } }
                    }
                }
            }
        }
    }
}

fn timer_row(name: &str, t: &Timer, tz: &TimeZone) -> Markup {
    let (class, label) = match t.state {
        TimerState::Ok => ("ok", "on track"),
        TimerState::Warning => ("warn", "due soon"),
        TimerState::Breached => ("danger", "breached"),
        TimerState::Met => ("met", "met"),
        TimerState::Paused => ("paused", "paused"),
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = t.remaining_minutes {
        parts.push(format!("{} left", minutes(m)));
    }
    if let Some(m) = t.overdue_minutes {
        parts.push(format!("{} over", minutes(m)));
    }
    match (&t.met_at, &t.due_at) {
        (Some(m), _) => parts.push(format!("at {}", local(m, tz))),
        (None, Some(d)) => parts.push(format!("due {}", local(d, tz))),
        (None, None) => {}
    }
    parts.push(format!("target {}", minutes(t.target_minutes)));
    html! {
        li class={"timer timer-" (class)} {
            span.timer-name { (name) }
            span class={"badge " (class)} { (label) }
            span.small.muted { (parts.join(" · ")) }
        }
    }
}

/// One line of the timeline: an item from the network, or something that happened here.
enum Entry<'a> {
    Item(&'a Item),
    Event(&'a ConversationEvent),
}

fn timeline<'a>(d: &'a ConversationDetail) -> Vec<Entry<'a>> {
    let mut all: Vec<(i64, i32, usize, Entry<'a>)> = Vec::new();
    let key = |s: &str| parse_ts(s).map(|t| t.as_millisecond()).unwrap_or(i64::MAX);
    for (n, i) in d.items.iter().enumerate() {
        all.push((key(&i.created_at), 1, n, Entry::Item(i)));
    }
    for (n, e) in d.events.iter().enumerate() {
        // "created" and "routed" come with the first item; they read better after it.
        all.push((key(&e.at), 2, n, Entry::Event(e)));
    }
    all.sort_by_key(|(t, kind, n, _)| (*t, *kind, *n));
    all.into_iter().map(|(_, _, _, e)| e).collect()
}

fn conversation_pane(v: &PageView, s: &Selected, saved: &[SavedReply]) -> Markup {
    let c = &s.detail.conversation;
    let opener = s.detail.items.first();
    let replies: HashMap<&str, &Reply> = s.replies.iter().map(|r| (r.id.as_str(), r)).collect();
    let presence_url = format!(
        "/api/v1/workspaces/{}/conversations/{}/presence",
        seg(&c.workspace_id),
        seg(&c.id)
    );
    let here = v.links.conversation(&c.id);
    let handle = s
        .customer
        .as_ref()
        .map(|i| format!("@{}", i.author.handle.trim_start_matches('@')))
        .unwrap_or_default();
    html! {
        section.conv-detail #conversation data-conversation=(c.id) data-presence-url=(presence_url)
            data-csrf=(v.ctx.csrf) data-can-reply=(if v.can_reply { "true" } else { "false" }) aria-labelledby="conv-h" {
            header.conv-head {
                div.conv-title {
                    h2 #conv-h {
                        @if let Some(i) = opener { (author_name(i)) " " span.muted.handle { "@" (i.author.handle.trim_start_matches('@')) } }
                        @else { "Conversation" }
                    }
                    div.conv-badges #conv-state {
                        span.badge.net { (c.network) } " "
                        span.badge { (c.kind) } " "
                        (status_badge(&c.status)) " "
                        @if c.priority != "normal" { (priority_badge(&c.priority)) " " }
                        @for t in &c.tags { span.badge.tag { "#" (t) } " " }
                        @if let Some(u) = &c.snoozed_until { span.small.muted { "snoozed until " (local(u, v.tz)) } }
                    }
                    p.conv-owner.small {
                        "Team " strong #conv-team { (v.team(c.team_id.as_deref())) }
                        " · Assignee " strong #conv-assignee {
                            @match &c.assignee_id { Some(a) => { (v.person(a)) } None => { "nobody" } }
                        }
                    }
                }
                div.presence #presence role="status" aria-live="polite" {
                    (presence_markup(&s.presence))
                }
            }
            @if let Some(sla) = &s.sla {
                ul.sla-timers #sla aria-label="SLA timers" {
                    (timer_row("First response", &sla.first_response, v.tz))
                    (timer_row("Resolution", &sla.resolution, v.tz))
                }
            }
            @if v.can_reply { (actions(v, c, &here)) }
            ol.timeline #timeline {
                @for e in timeline(&s.detail) {
                    @match e {
                        Entry::Item(i) => { (item_entry(v, i)) }
                        Entry::Event(e) => { (event_entry(v, e, &replies)) }
                    }
                }
            }
            @if v.can_reply {
                (reply_form(v, c, &here, saved, s.customer.as_ref(), &handle))
                (note_form(v, c, &here))
            } @else {
                p.read-only.muted.small #read-only { "You can read this conversation; replying, notes and assignment need the inbox.reply permission." }
            }
        }
    }
}

fn presence_markup(others: &[Present]) -> Markup {
    html! {
        @for p in others {
            span class={"who " (if p.state == "replying" { "replying" } else { "viewing" })} title=(p.email) {
                (if p.name.trim().is_empty() { &p.email } else { &p.name }) " is " (p.state)
            }
        }
    }
}

fn hidden_back(here: &str) -> Markup {
    html! { input type="hidden" name="back" value=(here); }
}

/// The action bar. Each action is its own small form; a new one (a hand-off to a CRM, say)
/// is one more `form.action` in `#conv-actions`.
fn actions(v: &PageView, c: &Conversation, here: &str) -> Markup {
    let csrf = v.ctx.csrf_field();
    let mine = c.assignee_id.as_deref() == Some(v.me.id.as_str());
    html! {
        div.conv-actions #conv-actions {
            @if !mine {
                form.action #assign-me method="post" action=(v.links.action(&c.id, "assign")) {
                    (csrf) (hidden_back(here))
                    input type="hidden" name="user" value="me";
                    button type="submit" title="Shortcut: a" { "Assign to me " kbd { "a" } }
                }
            }
            @if c.status != "closed" {
                form.action #close-form method="post" action=(v.links.action(&c.id, "status")) {
                    (csrf) (hidden_back(here))
                    input type="hidden" name="status" value="closed";
                    button.secondary type="submit" title="Shortcut: e" { "Close " kbd { "e" } }
                }
            } @else {
                form.action #reopen-form method="post" action=(v.links.action(&c.id, "status")) {
                    (csrf) (hidden_back(here))
                    input type="hidden" name="status" value="open";
                    button.secondary type="submit" { "Reopen" }
                }
            }
            @if c.status != "pending" {
                form.action method="post" action=(v.links.action(&c.id, "status")) {
                    (csrf) (hidden_back(here))
                    input type="hidden" name="status" value="pending";
                    button.secondary type="submit" title="Waiting on the customer" { "Pending" }
                }
            }
            @if c.status == "pending" || c.status == "snoozed" {
                form.action method="post" action=(v.links.action(&c.id, "status")) {
                    (csrf) (hidden_back(here))
                    input type="hidden" name="status" value="open";
                    button.secondary type="submit" { "Open" }
                }
            }
            details.action-menu {
                summary { "Snooze" }
                form.menu method="post" action=(v.links.action(&c.id, "status")) {
                    (csrf) (hidden_back(here))
                    input type="hidden" name="status" value="snoozed";
                    input type="hidden" name="tz" value=(v.tz.iana_name().unwrap_or("UTC"));
                    div.snooze-presets {
                        @for (value, label) in [("1h", "1 hour"), ("4h", "4 hours"), ("tomorrow", "Tomorrow 9:00"), ("next_week", "Monday 9:00")] {
                            button.secondary type="submit" name="snooze" value=(value) { (label) }
                        }
                    }
                    label for="snooze-until" { "Until (" (v.tz.iana_name().unwrap_or("UTC")) ")" }
                    div.inline-row {
                        input #snooze-until type="datetime-local" name="until";
                        button.secondary type="submit" name="snooze" value="until" { "Snooze" }
                    }
                }
            }
            details.action-menu {
                summary { "Assign…" }
                form.menu #assign-form method="post" action=(v.links.action(&c.id, "assign")) {
                    (csrf) (hidden_back(here))
                    label for="assign-team" { "Team" }
                    select #assign-team name="team" {
                        @if c.team_id.is_none() { option value="" selected { "Unassigned queue" } }
                        @for (t, _) in &v.people.teams {
                            option value=(t.id) selected[c.team_id.as_deref() == Some(t.id.as_str())] { (t.name) }
                        }
                    }
                    label for="assign-user" { "Person" }
                    select #assign-user name="user" {
                        option value="" { "Keep (or nobody, for a new team)" }
                        @for (t, members) in &v.people.teams {
                            @if !members.is_empty() {
                                optgroup label=(t.name) {
                                    @for (id, name) in members {
                                        option value=(id) selected[c.assignee_id.as_deref() == Some(id.as_str())] { (name) }
                                    }
                                }
                            }
                        }
                        @if !v.people.others.is_empty() {
                            optgroup label="Other members" {
                                @for (id, name) in &v.people.others {
                                    option value=(id) { (name) }
                                }
                            }
                        }
                    }
                    p { button type="submit" { "Assign" } }
                }
            }
            details.action-menu {
                summary { "Priority & tags" }
                div.menu {
                    form method="post" action=(v.links.action(&c.id, "priority")) {
                        (csrf) (hidden_back(here))
                        label for="set-priority" { "Priority" }
                        div.inline-row {
                            select #set-priority name="priority" {
                                @for p in PRIORITIES { option value=(p) selected[c.priority == *p] { (p) } }
                            }
                            button.secondary type="submit" { "Set" }
                        }
                    }
                    form method="post" action=(v.links.action(&c.id, "tags")) {
                        (csrf) (hidden_back(here))
                        label for="set-tags" { "Tags (comma-separated)" }
                        div.inline-row {
                            input #set-tags name="tags" value=(c.tags.join(", ")) placeholder="refund, vip" autocomplete="off";
                            button.secondary type="submit" { "Save" }
                        }
                    }
                }
            }
            details.action-menu #handoff-menu {
                summary { "Send to CRM…" }
                form.menu #handoff-form method="post" action=(v.links.action(&c.id, "handoff")) {
                    (csrf) (hidden_back(here))
                    p.muted.small {
                        "Posts this conversation to the CRM and helpdesk webhooks set up for "
                        code { "inbox.handoff" } "; their ticket links appear in the timeline."
                    }
                    label for="handoff-note" { "Note for the receiving team (optional)" }
                    textarea #handoff-note name="note" rows="3" maxlength="2000" {}
                    p { button type="submit" { "Send to CRM" } }
                }
            }
        }
    }
}

fn item_entry(v: &PageView, i: &Item) -> Markup {
    html! {
        li.entry.message data-item=(i.id) {
            div.entry-head {
                strong { (author_name(i)) } " " span.muted.small { "@" (i.author.handle.trim_start_matches('@')) }
                @if let Some(f) = i.author.followers { span.muted.small { " · " (f) " followers" } }
                " " time.muted.small datetime=(i.created_at) { (local(&i.created_at, v.tz)) }
            }
            p.entry-text { (i.text) }
            div.entry-meta {
                span.badge.net { (i.network) " " (i.kind) }
                @if let Some(l) = &i.lang { span.badge.lang { (l) } }
                @if !i.sentiment.label.is_empty() { span class={"badge sent-" (i.sentiment.label)} { (i.sentiment.label) } }
                @for intent in &i.intents { span.badge.intent { (intent.replace('_', " ")) } }
                @if let Some(u) = i.url.as_deref().filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
                    a.small href=(u) rel="noopener noreferrer" target="_blank" { "View on " (i.network) " ↗" }
                }
            }
        }
    }
}

fn str_of<'a>(d: &'a serde_json::Value, k: &str) -> Option<&'a str> {
    d.get(k).and_then(|x| x.as_str()).filter(|s| !s.is_empty())
}

fn event_entry(v: &PageView, e: &ConversationEvent, replies: &HashMap<&str, &Reply>) -> Markup {
    let who = v.people.actor(&e.actor);
    let when = html! { time.muted.small datetime=(e.at) { (local(&e.at, v.tz)) } };
    let d = &e.data;
    match e.kind.as_str() {
        "note" => html! {
            li.entry.note data-event="note" {
                div.entry-head { strong { (who) } " " span.badge.note-badge { "internal note" } " " (when) }
                p.entry-text { (mentions_marked(str_of(d, "body").unwrap_or(""))) }
                @if let Some(m) = d.get("mentions").and_then(|m| m.as_array()).filter(|m| !m.is_empty()) {
                    p.small.muted { "Mentioned: "
                        @for (n, x) in m.iter().enumerate() {
                            @if n > 0 { ", " }
                            (str_of(x, "name").or_else(|| str_of(x, "email")).unwrap_or("someone"))
                        }
                    }
                }
            }
        },
        "reply" => {
            let reply = str_of(d, "reply_id").and_then(|id| replies.get(id).copied());
            let status = reply
                .map(|r| r.status.as_str())
                .or_else(|| str_of(d, "status"))
                .unwrap_or("queued");
            let body = reply
                .map(|r| r.body.as_str())
                .or_else(|| str_of(d, "body"))
                .unwrap_or("");
            html! {
                li class={"entry reply reply-" (status)} data-event="reply" data-reply-status=(status) {
                    div.entry-head {
                        strong { (who) } " " span.badge.reply-badge { "reply" } " "
                        span class={"badge reply-state " (match status { "sent" => "ok", "failed" => "danger", _ => "warn" })} {
                            (match status { "sent" => "sent", "failed" => "failed", _ => "queued" })
                        }
                        " " (when)
                    }
                    p.entry-text { (body) }
                    @if let Some(r) = reply {
                        @if let Some(err) = &r.error { p.small.error-text { "Not sent: " (err) } }
                        @if let Some(u) = r.remote_url.as_deref().filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
                            p.small { a href=(u) rel="noopener noreferrer" target="_blank" { "View the reply ↗" } }
                        }
                    }
                }
            }
        }
        kind => {
            let text: Markup = match kind {
                "created" => html! { "Conversation started" },
                "routed" | "rerouted" => {
                    let team = v.team(str_of(d, "team_id"));
                    html! {
                        @if kind == "routed" { "Routed to " } @else { "Re-routed to " }
                        strong { (team) }
                        @if let Some(a) = str_of(d, "assignee_id") { " and given to " strong { (v.person(a)) } }
                        @if let Some(p) = str_of(d, "priority").filter(|p| *p != "normal") { ", priority " (p) }
                        @if let Some(t) = d.get("tags").and_then(|t| t.as_array()).filter(|t| !t.is_empty()) {
                            ", tagged " @for (n, x) in t.iter().enumerate() { @if n > 0 { ", " } (x.as_str().unwrap_or("")) }
                        }
                        @if let Some(r) = str_of(d, "rule") { @if r.starts_with("default:") { " by the default rules" } @else { " by a routing rule" } }
                    }
                }
                "assigned" => html! {
                    strong { (who) } " assigned it to " strong { (v.team(str_of(d, "team_id"))) }
                    " · " @match str_of(d, "assignee_id") { Some(a) => { strong { (v.person(a)) } } None => { "nobody in particular" } }
                },
                "status" => html! {
                    strong { (who) } " changed the status "
                    @if let Some(f) = str_of(d, "from") { "from " (f) " " }
                    "to " strong.status-to { (str_of(d, "to").unwrap_or("?")) }
                    @if let Some(u) = str_of(d, "snoozed_until") { " until " (local(u, v.tz)) }
                },
                "reopened" => html! { "Reopened: the customer wrote again" },
                "snooze_ended" => html! { "The snooze ran out; open again" },
                "reply_sent" => html! {
                    "Reply " strong { "sent" } " on the network"
                    @if let Some(u) = str_of(d, "remote_url").filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
                        " · " a href=(u) rel="noopener noreferrer" target="_blank" { "view ↗" }
                    }
                },
                "handoff" => html! {
                    strong { (who) } " handed it off"
                    @if let Some(n) = str_of(d, "note") { ": " em { (n) } }
                },
                "handed_off" => html! {
                    "Handed off to " strong { (str_of(d, "webhook").unwrap_or("the receiver")) }
                    @if let Some(r) = str_of(d, "remote_id") { " as " span.mono { (r) } }
                    @if let Some(u) = str_of(d, "remote_url").filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
                        " · " a href=(u) rel="noopener noreferrer" target="_blank" { "open ↗" }
                    }
                },
                "handoff_failed" => html! {
                    span.error-text { "Hand-off to " (str_of(d, "webhook").unwrap_or("the receiver")) " failed: " (str_of(d, "error").unwrap_or("unknown error")) }
                },
                "reply_failed" => {
                    html! { span.error-text { "Reply failed: " (str_of(d, "error").unwrap_or("unknown error")) } }
                }
                "priority" => {
                    html! { strong { (who) } " set the priority to " strong { (str_of(d, "to").unwrap_or("?")) } }
                }
                "tags" => html! {
                    strong { (who) } " set the tags to "
                    @match d.get("to").and_then(|t| t.as_array()).filter(|t| !t.is_empty()) {
                        Some(t) => { @for (n, x) in t.iter().enumerate() { @if n > 0 { ", " } strong { (x.as_str().unwrap_or("")) } } }
                        None => { "none" }
                    }
                },
                other => html! { strong { (who) } " · " (other.replace('_', " ")) },
            };
            html! {
                li.entry.event data-event=(kind) { span.event-dot aria-hidden="true" {} span.event-text { (text) } " " (when) }
            }
        }
    }
}

/// A note's text with its `@word` mentions emphasised; everything else escaped.
fn mentions_marked(text: &str) -> Markup {
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        let escaped = maud::html! { (word.as_str()) }.into_string();
        if word.starts_with('@') && word.len() > 1 {
            out.push_str(&format!("<span class=\"mention\">{escaped}</span>"));
        } else {
            out.push_str(&escaped);
        }
        word.clear();
    };
    for ch in text.chars() {
        if ch.is_whitespace() || matches!(ch, ',' | ';' | '(' | ')') {
            flush(&mut word, &mut out);
            out.push_str(&maud::html! { (ch.to_string()) }.into_string());
        } else {
            word.push(ch);
        }
    }
    flush(&mut word, &mut out);
    PreEscaped(out)
}

fn reply_form(
    v: &PageView,
    c: &Conversation,
    here: &str,
    saved: &[SavedReply],
    customer: Option<&Item>,
    handle: &str,
) -> Markup {
    // One key per rendered form: sending it twice (a double click, a resubmitted form) is one
    // reply, as the service answers a known key with the reply it already made.
    let key = switchboard_service::auth::random_token(18);
    html! {
        form.reply-form #reply-form method="post" action=(v.links.action(&c.id, "reply")) data-once {
            (v.ctx.csrf_field()) (hidden_back(here))
            input type="hidden" name="idempotency_key" value=(key);
            div.reply-head {
                label for="reply-body" { "Reply on " (c.network) @if !handle.is_empty() { " to " strong { (handle) } } }
                @if !saved.is_empty() {
                    span.saved-picker {
                        label.inline-label for="saved-reply" { "Saved reply" }
                        select #saved-reply name="saved_reply" data-fill="#reply-body" {
                            option value="" { "None" }
                            @for s in saved {
                                option value=(s.id) data-body=(preview(s, customer, v.me, v.workspace)) { (s.name) }
                            }
                        }
                    }
                }
            }
            textarea #reply-body name="body" rows="4" maxlength="5000" placeholder="Write a reply, or pick a saved reply (press r to come here)" {}
            div.reply-foot {
                span.muted.small { "Sent once through the workspace's " (c.network) " channel. Variables are filled in for this customer." }
                button #send-reply type="submit" { "Send reply" }
            }
        }
    }
}

fn note_form(v: &PageView, c: &Conversation, here: &str) -> Markup {
    html! {
        form.note-form #note-form method="post" action=(v.links.action(&c.id, "note")) data-once {
            (v.ctx.csrf_field()) (hidden_back(here))
            label for="note-body" { "Internal note " span.muted.small { "(only your team sees it; @name mentions a teammate)" } }
            div.inline-row {
                textarea #note-body name="body" rows="2" maxlength="10000" placeholder="@jonas can you check the refund?" {}
                button.secondary type="submit" { "Add note" }
            }
        }
    }
}

fn shortcut_help() -> Markup {
    html! {
        div.shortcut-help #shortcut-help hidden role="dialog" aria-modal="true" aria-labelledby="shortcut-help-h" {
            div.card {
                h2 #shortcut-help-h { "Keyboard shortcuts" }
                table {
                    tbody {
                        tr { td { kbd { "j" } } td { "Next conversation" } }
                        tr { td { kbd { "k" } } td { "Previous conversation" } }
                        tr { td { kbd { "a" } } td { "Assign the open conversation to me" } }
                        tr { td { kbd { "e" } } td { "Close the open conversation" } }
                        tr { td { kbd { "r" } } td { "Write a reply" } }
                        tr { td { kbd { "?" } } td { "Show or hide this list" } }
                        tr { td { kbd { "Esc" } } td { "Leave a text box, close this list" } }
                    }
                }
                p.muted.small { "Shortcuts work when the cursor is not in a text box." }
                p { button.secondary type="button" data-close-help { "Close" } }
            }
        }
    }
}

// ---- forms ----

fn finish<T>(back: &str, ok: &str, r: Result<T, ServiceError>) -> Response {
    match r {
        Ok(_) => redirect_with(back, "ok", ok),
        Err(e) => redirect_with(back, "error", &describe(&e)),
    }
}

fn non_empty(v: &str) -> Option<String> {
    Some(v.trim().to_string()).filter(|v| !v.is_empty())
}

#[derive(Deserialize)]
struct AssignForm {
    #[serde(default)]
    team: String,
    #[serde(default)]
    user: String,
}

async fn assign(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let back = back_to(&body, &ws, &id);
    let form: AssignForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    let input = AssignInput {
        team: non_empty(&form.team),
        user: non_empty(&form.user),
    };
    let to_me = input.user.as_deref() == Some("me") && input.team.is_none();
    let r = state
        .app
        .assign_conversation(&user.actor(), &ws, &id, input)
        .await;
    finish(
        &back,
        if to_me {
            "Assigned to you."
        } else {
            "Assigned."
        },
        r,
    )
}

#[derive(Deserialize)]
struct StatusForm {
    status: String,
    /// `1h`, `4h`, `tomorrow`, `next_week`, or `until` (then `until` is read).
    #[serde(default)]
    snooze: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    tz: String,
}

/// When a snooze ends, as RFC 3339.
fn snooze_until(f: &StatusForm, now: Timestamp) -> Result<String, String> {
    let tz = zone(f.tz.trim()).unwrap_or(TimeZone::UTC);
    let bad = || "until: pick a date and time".to_string();
    let at_nine = |d: jiff::civil::Date| {
        d.at(9, 0, 0, 0)
            .to_zoned(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|_| bad())
    };
    let today = now.to_zoned(tz.clone()).date();
    let t = match f.snooze.trim() {
        "1h" => now + jiff::SignedDuration::from_hours(1),
        "4h" => now + jiff::SignedDuration::from_hours(4),
        "tomorrow" => at_nine(today.tomorrow().map_err(|_| bad())?)?,
        "next_week" => at_nine(
            today
                .nth_weekday(1, jiff::civil::Weekday::Monday)
                .map_err(|_| bad())?,
        )?,
        _ => {
            let v = f.until.trim();
            if v.is_empty() {
                return Err(bad());
            }
            match parse_ts(v) {
                Some(t) => t,
                None => v
                    .parse::<jiff::civil::DateTime>()
                    .ok()
                    .and_then(|dt| dt.to_zoned(tz.clone()).ok())
                    .map(|z| z.timestamp())
                    .ok_or_else(bad)?,
            }
        }
    };
    if t <= now {
        return Err("until: pick a time in the future".into());
    }
    Ok(Timestamp::from_second(t.as_second())
        .unwrap_or(t)
        .to_string())
}

async fn status(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let back = back_to(&body, &ws, &id);
    let form: StatusForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    let status = form.status.trim().to_ascii_lowercase();
    let snoozed_until = if status == "snoozed" {
        match snooze_until(&form, Timestamp::now()) {
            Ok(t) => Some(t),
            Err(e) => return redirect_with(&back, "error", &e),
        }
    } else {
        None
    };
    let ok = match status.as_str() {
        "closed" => "Closed.",
        "open" => "Open again.",
        "pending" => "Pending: waiting on the customer.",
        "snoozed" => "Snoozed.",
        _ => "Saved.",
    };
    let r = state
        .app
        .set_conversation_status(
            &user.actor(),
            &ws,
            &id,
            StatusInput {
                status,
                snoozed_until,
            },
        )
        .await;
    finish(&back, ok, r)
}

#[derive(Deserialize)]
struct NoteForm {
    body: String,
}

async fn note(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let back = back_to(&body, &ws, &id);
    let form: NoteForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    let r = state
        .app
        .add_note(&user.actor(), &ws, &id, NoteInput { body: form.body })
        .await;
    match r {
        Ok(n) if !n.mentions.is_empty() => redirect_with(
            &back,
            "ok",
            &format!("Note added; {} teammate(s) mentioned.", n.mentions.len()),
        ),
        r => finish(&back, "Note added.", r),
    }
}

#[derive(Deserialize)]
struct HandoffForm {
    #[serde(default)]
    note: String,
}

async fn handoff(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let back = back_to(&body, &ws, &id);
    let form: HandoffForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    let input = HandoffInput {
        note: non_empty(&form.note),
        webhook: None,
    };
    let r = state
        .app
        .handoff_conversation(&user.actor(), &ws, &id, input)
        .await;
    match r {
        Ok(list) => {
            let names: Vec<&str> = list.iter().map(|h| h.webhook_name.as_str()).collect();
            redirect_with(
                &back,
                "ok",
                &format!(
                    "Sent to {}; the ticket link follows in the timeline.",
                    names.join(", ")
                ),
            )
        }
        Err(e) => redirect_with(&back, "error", &describe(&e)),
    }
}

#[derive(Deserialize)]
struct ReplyForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    saved_reply: String,
    #[serde(default)]
    idempotency_key: String,
}

async fn reply(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let back = back_to(&body, &ws, &id);
    let form: ReplyForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    // What is in the box is sent (the picker fills it in); an empty box with a saved reply
    // chosen (no script) lets the service fill it in.
    let (text, saved) = match (non_empty(&form.body), non_empty(&form.saved_reply)) {
        (Some(b), _) => (Some(b), None),
        (None, Some(s)) => (None, Some(s)),
        (None, None) => {
            return redirect_with(&back, "error", "body: write a reply or pick a saved reply")
        }
    };
    let r = state
        .app
        .create_reply(
            &user.actor(),
            &ws,
            &id,
            ReplyInput {
                body: text,
                saved_reply: saved,
                idempotency_key: non_empty(&form.idempotency_key),
            },
        )
        .await;
    match r {
        Ok(o) if !o.created => redirect_with(
            &back,
            "ok",
            "That reply was already sent from this form; it was not sent again.",
        ),
        r => finish(&back, "Reply queued; it goes out in a moment.", r),
    }
}

#[derive(Deserialize)]
struct PriorityForm {
    priority: String,
}

#[derive(Deserialize)]
struct TagsForm {
    #[serde(default)]
    tags: String,
}

async fn priority(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let back = back_to(&body, &ws, &id);
    let form: PriorityForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    let patch = ConversationPatch {
        priority: Some(form.priority),
        tags: None,
    };
    let r = state
        .app
        .update_conversation(&user.actor(), &ws, &id, patch)
        .await
        .map(|_| ());
    finish(&back, "Priority set.", r)
}

async fn tags(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let back = back_to(&body, &ws, &id);
    let form: TagsForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    let patch = ConversationPatch {
        priority: None,
        tags: Some(form.tags.split(',').map(str::to_string).collect()),
    };
    let r = state
        .app
        .update_conversation(&user.actor(), &ws, &id, patch)
        .await
        .map(|_| ());
    finish(&back, "Tags saved.", r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_links_stay_in_this_inbox() {
        let body = |b: &str| Bytes::from(serde_urlencoded::to_string([("back", b)]).unwrap());
        assert_eq!(
            back_to(&body("/w/ws1/inbox/c1?view=mine"), "ws1", "c1"),
            "/w/ws1/inbox/c1?view=mine"
        );
        assert_eq!(back_to(&body("/w/ws1/inbox"), "ws1", "c1"), "/w/ws1/inbox");
        for evil in [
            "https://evil.example",
            "//evil.example/w/ws1/inbox",
            "/w/ws1/inboxes",
            "/w/ws2/inbox/c1",
            "/w/ws1/inbox/c1?q=a\nb",
        ] {
            assert_eq!(
                back_to(&body(evil), "ws1", "c1"),
                "/w/ws1/inbox/c1",
                "{evil}"
            );
        }
    }

    #[test]
    fn links_keep_filters_and_drop_empty_ones() {
        let q = InboxQuery {
            view: "mine".into(),
            q: "app lang:de".into(),
            cursor: "abc".into(),
            ..InboxQuery::default()
        };
        let l = Links::new("ws 1", &q);
        assert_eq!(l.base, "/w/ws%201/inbox");
        assert_eq!(
            l.list(&[("cursor", "")]),
            "/w/ws%201/inbox?view=mine&q=app+lang%3Ade"
        );
        assert_eq!(
            l.conversation("c1"),
            "/w/ws%201/inbox/c1?view=mine&q=app+lang%3Ade&cursor=abc"
        );
        assert_eq!(q.status_shown(), "open");
        assert_eq!(q.to_service(10).status.as_deref(), Some("open"));
        let any = InboxQuery {
            status: "any".into(),
            ..InboxQuery::default()
        };
        assert_eq!(any.to_service(10).status, None);
    }

    #[test]
    fn snoozes_end_in_the_future_in_the_given_zone() {
        let now: Timestamp = "2026-11-19T12:00:00Z".parse().unwrap();
        let form = |snooze: &str, until: &str| StatusForm {
            status: "snoozed".into(),
            snooze: snooze.into(),
            until: until.into(),
            tz: "Europe/Berlin".into(),
        };
        assert_eq!(
            snooze_until(&form("1h", ""), now).unwrap(),
            "2026-11-19T13:00:00Z"
        );
        assert_eq!(
            snooze_until(&form("tomorrow", ""), now).unwrap(),
            "2026-11-20T08:00:00Z"
        );
        // 2026-11-19 is a Thursday.
        assert_eq!(
            snooze_until(&form("next_week", ""), now).unwrap(),
            "2026-11-23T08:00:00Z"
        );
        assert_eq!(
            snooze_until(&form("until", "2026-11-21T10:30"), now).unwrap(),
            "2026-11-21T09:30:00Z"
        );
        assert!(snooze_until(&form("until", "2026-11-01T10:30"), now).is_err());
        assert!(snooze_until(&form("until", ""), now).is_err());
    }

    #[test]
    fn first_lines_are_cut_on_characters() {
        assert_eq!(first_line("\n  Hallo Welt\nmehr", 80), "Hallo Welt");
        assert_eq!(first_line("stürzt ständig ab", 6), "stürzt…");
    }

    #[test]
    fn note_mentions_are_marked_and_escaped() {
        assert_eq!(
            mentions_marked("@jonas <b>bitte</b>, @").into_string(),
            "<span class=\"mention\">@jonas</span> &lt;b&gt;bitte&lt;/b&gt;, @"
        );
    }
}
