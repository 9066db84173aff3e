//! The Listening page: search with highlighted matches, volume and sentiment over time and
//! share of voice as server-rendered SVG (no script needed), breakdowns, topics, annotations
//! and spike alerts; and a page per item.

use super::{describe, done, error_page, not_found_page, redirect_with, Ctx, WebUser};
use crate::extract::{cookie, is_secure, set_cookie};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;
use switchboard_core::{Annotation, AnnotationKind, Item, Permission, Spike, Topic, TopicKind};
use switchboard_service::listening::{
    check_query, Analytics, AnalyticsParams, AnnotationInput, Bucket, Interval, SearchHit,
    SearchPage, ShareOfVoice, TopicInput,
};
use switchboard_service::ServiceError;

/// The time zone chosen last, for pages opened without `tz=`.
const TZ_COOKIE: &str = "tz";
const TZ_COOKIE_MAX_AGE: u64 = 365 * 86_400;
/// Mentions per page of results.
const PAGE: usize = 50;
/// Alerts listed in the panel.
const ALERTS_SHOWN: usize = 8;
/// Offered in the time zone field; any other IANA name can be typed.
const COMMON_ZONES: &[&str] = &[
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Seoul",
    "Asia/Tokyo",
    "Australia/Sydney",
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/w/{ws}/listening", get(listening_page))
        .route("/w/{ws}/topics", post(topic_create))
        .route("/w/{ws}/topics/{id}/delete", post(topic_delete))
        .route("/w/{ws}/annotations", post(annotation_create))
        .route("/w/{ws}/spikes/{id}/ack", post(spike_ack))
        .route("/w/{ws}/items/{item}", get(item_page))
}

// ---- parameters, time zones and links ----

#[derive(Deserialize, Default)]
struct ListeningQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    interval: String,
    #[serde(default)]
    tz: String,
    #[serde(default)]
    cursor: String,
}

/// An IANA name as it may appear in a cookie or a URL (no `;`, spaces or quotes).
pub(super) fn plausible_tz(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '-'))
}

pub(super) fn zone(name: &str) -> Option<TimeZone> {
    plausible_tz(name)
        .then(|| TimeZone::get(name).ok())
        .flatten()
}

/// The zone of the `tz` cookie, or UTC.
pub(super) fn cookie_zone(headers: &HeaderMap) -> (String, TimeZone) {
    cookie(headers, TZ_COOKIE)
        .and_then(|n| zone(&n).map(|z| (n, z)))
        .unwrap_or_else(|| ("UTC".into(), TimeZone::UTC))
}

pub(super) fn parse_ts(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok()
}

/// A stored RFC 3339 time as `YYYY-MM-DD HH:MM` in the zone.
pub(super) fn local(ts: &str, tz: &TimeZone) -> String {
    match parse_ts(ts) {
        Some(t) => t
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string(),
        None => ts.to_string(),
    }
}

fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// A `from`/`to` field: a date (local midnight; the day after for an inclusive `to`), a
/// local date and time, or an RFC 3339 time.
fn parse_bound(
    field: &str,
    value: &str,
    tz: &TimeZone,
    end: bool,
) -> Result<Option<Timestamp>, ServiceError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if let Some(t) = parse_ts(v) {
        return Ok(Some(t));
    }
    let bad = || ServiceError::invalid(field, "use a date (YYYY-MM-DD) or an RFC 3339 time");
    let civil = if v.len() == 10 {
        let d = v.parse::<jiff::civil::Date>().map_err(|_| bad())?;
        let d = if end {
            d.tomorrow().map_err(|_| bad())?
        } else {
            d
        };
        d.at(0, 0, 0, 0)
    } else {
        v.parse::<jiff::civil::DateTime>().map_err(|_| bad())?
    };
    civil
        .to_zoned(tz.clone())
        .map(|z| Some(z.timestamp()))
        .map_err(|_| bad())
}

/// The period looked at: as asked, or the 30 days up to now.
fn resolve_bounds(
    p: &ListeningQuery,
    tz: &TimeZone,
) -> Result<(Timestamp, Timestamp), ServiceError> {
    let to = parse_bound("to", &p.to, tz, true)?.unwrap_or_else(Timestamp::now);
    let from = match parse_bound("from", &p.from, tz, false)? {
        Some(f) => f,
        None => Timestamp::from_second(to.as_second() - 30 * 86_400)
            .map_err(|_| ServiceError::invalid("to", "out of range"))?,
    };
    if from >= to {
        return Err(ServiceError::invalid("from", "from must be before to"));
    }
    Ok((whole_seconds(from), whole_seconds(to)))
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

fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    let kept: Vec<(&str, &str)> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .copied()
        .collect();
    if kept.is_empty() {
        return path.to_string();
    }
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(kept).unwrap_or_default()
    )
}

/// Where a form on the Listening page goes back to: the page it was sent from, if that is
/// this workspace's Listening page; otherwise its plain form.
fn back_to(body: &Bytes, ws: &str) -> String {
    let list = format!("/w/{}/listening", seg(ws));
    let fields: HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    match fields.get("back") {
        Some(b)
            if (b == &list || b.starts_with(&format!("{list}?")))
                && b.bytes().all(|c| (0x21..0x7f).contains(&c)) =>
        {
            b.clone()
        }
        _ => list,
    }
}

/// What the page shows, for building links that change one thing.
struct View {
    ws: String,
    list: String,
    q: String,
    topic: String,
    from: String,
    to: String,
    interval: String,
    tz_param: String,
    tz_name: String,
    tz: TimeZone,
    /// This page's own address (path and query), for forms to come back to.
    here: String,
    ws_id: String,
    /// Names of the workspaces the person can see, for mentions from child workspaces.
    names: HashMap<String, String>,
}

impl View {
    /// A link to this page with some parameters changed (an empty value drops one).
    fn href(&self, changes: &[(&str, &str)]) -> String {
        let mut params: Vec<(&str, &str)> = vec![
            ("q", &self.q),
            ("topic", &self.topic),
            ("from", &self.from),
            ("to", &self.to),
            ("interval", &self.interval),
            ("tz", &self.tz_param),
        ];
        for &(k, v) in changes {
            match params.iter_mut().find(|p| p.0 == k) {
                Some(p) => p.1 = v,
                None => params.push((k, v)),
            }
        }
        with_query(&self.list, &params)
    }

    fn topic_href(&self, id: &str) -> String {
        self.href(&[("topic", id), ("q", "")])
    }

    /// The current query narrowed by one more term.
    fn narrow_href(&self, text: &str, term: &str) -> String {
        let q = if text.trim().is_empty() {
            term.to_string()
        } else {
            format!("({}) {term}", text.trim())
        };
        self.href(&[("q", &q), ("topic", "")])
    }
}

fn quoted(term: &str) -> Option<String> {
    (!term.contains('"') && !term.is_empty()).then(|| format!("\"{term}\""))
}

// ---- the page ----

struct Results {
    analytics: Analytics,
    sov: ShareOfVoice,
    page: SearchPage,
    from: Timestamp,
    to: Timestamp,
}

/// Mistakes in what was asked (shown next to the query box); anything else is an error page.
fn is_input_error(e: &ServiceError) -> bool {
    matches!(
        e,
        ServiceError::Validation(_) | ServiceError::QuerySyntax { .. }
    )
}

async fn listening_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    Path(ws): Path<String>,
    Query(p): Query<ListeningQuery>,
) -> Response {
    let ctx = match Ctx::load(&state, &user, &headers, Some(&ws)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(w) = ctx.current.clone() else {
        return not_found_page();
    };
    let ws_id = w.workspace.id.clone();
    let actor = user.actor();
    let mut problem: Option<ServiceError> = None;

    let asked_tz = p.tz.trim();
    let mut remember_tz = None;
    let (tz_name, tz) = if asked_tz.is_empty() {
        cookie_zone(&headers)
    } else {
        match zone(asked_tz) {
            Some(z) => {
                remember_tz = Some(asked_tz.to_string());
                (asked_tz.to_string(), z)
            }
            None => {
                problem = Some(ServiceError::invalid(
                    "tz",
                    format!(
                        "unknown time zone '{asked_tz}'; use an IANA name such as Europe/Berlin"
                    ),
                ));
                ("UTC".into(), TimeZone::UTC)
            }
        }
    };

    let (topics, annotations, spikes) = match tokio::try_join!(
        state.app.list_topics(&actor, &ws_id),
        state.app.list_annotations(&actor, &ws_id),
        state.app.list_spikes(&actor, &ws_id, 50),
    ) {
        Ok(x) => x,
        Err(e) => return error_page(e),
    };
    let chosen = topics
        .iter()
        .find(|t| !p.topic.is_empty() && t.id == p.topic);
    if !p.topic.is_empty() && chosen.is_none() && problem.is_none() {
        problem = Some(ServiceError::invalid(
            "topic",
            "no such topic in this workspace",
        ));
    }
    let text = chosen
        .map(|t| t.query.clone())
        .unwrap_or_else(|| p.q.clone());
    // The topic being looked at: chosen, or the one whose query was typed.
    let active = chosen.or_else(|| {
        topics
            .iter()
            .find(|t| !text.trim().is_empty() && t.query.trim() == text.trim())
    });

    let view = View {
        list: format!("/w/{}/listening", seg(&ws_id)),
        ws: format!("/w/{}", seg(&ws_id)),
        q: if chosen.is_some() {
            String::new()
        } else {
            p.q.clone()
        },
        topic: chosen.map(|t| t.id.clone()).unwrap_or_default(),
        from: p.from.trim().to_string(),
        to: p.to.trim().to_string(),
        interval: p.interval.trim().to_string(),
        tz_param: remember_tz.clone().unwrap_or_default(),
        tz_name,
        tz,
        here: String::new(),
        ws_id: ws_id.clone(),
        names: ctx
            .me
            .workspaces
            .iter()
            .map(|x| (x.workspace.id.clone(), x.workspace.name.clone()))
            .collect(),
    };
    let view = View {
        here: view.href(&[("cursor", p.cursor.as_str())]),
        ..view
    };

    if problem.is_none() {
        let field = if chosen.is_some() { "topic" } else { "q" };
        if let Err(e) = check_query(field, &text) {
            problem = Some(e);
        }
    }
    let mut results = None;
    if problem.is_none() {
        match load_results(&state, &user, &ws_id, &p, &view, chosen, &text).await {
            Ok(r) => results = Some(r),
            Err(e) if is_input_error(&e) => problem = Some(e),
            Err(e) => return error_page(e),
        }
    }

    let manage = ctx.can(Permission::ListeningManage);
    let topic_name = |id: &str| {
        topics
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.name.clone())
            .unwrap_or_else(|| "deleted topic".into())
    };
    let body = html! {
        div.listening {
            aside.sidebar {
                (topics_panel(&ctx, &view, &topics, active, manage))
                (annotations_panel(&ctx, &view, &annotations, manage))
            }
            div.listening-main {
                h1 { "Listening " span.muted { (w.workspace.name) } }
                (query_form(&view, &text, chosen, problem.as_ref()))
                (alerts_panel(&ctx, &view, &spikes, &topic_name, manage))
                @if let Some(r) = &results {
                    (results_markup(&view, &text, r, active, &spikes))
                }
            }
        }
    };
    let mut res = ctx.render("Listening", "listening", body);
    if let Some(e) = &problem {
        *res.status_mut() =
            StatusCode::from_u16(e.code().http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    }
    if let Some(name) = remember_tz {
        if let Ok(v) = HeaderValue::from_str(&set_cookie(
            TZ_COOKIE,
            &name,
            TZ_COOKIE_MAX_AGE,
            is_secure(&state, &headers),
        )) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

async fn load_results(
    state: &AppState,
    user: &WebUser,
    ws: &str,
    p: &ListeningQuery,
    view: &View,
    chosen: Option<&Topic>,
    text: &str,
) -> Result<Results, ServiceError> {
    let (from, to) = resolve_bounds(p, &view.tz)?;
    let interval = Some(view.interval.clone()).filter(|i| !i.is_empty());
    let frame = AnalyticsParams {
        q: None,
        topic: None,
        from: Some(from.to_string()),
        to: Some(to.to_string()),
        interval,
        tz: Some(view.tz_name.clone()),
    };
    let params = AnalyticsParams {
        q: chosen.is_none().then(|| text.to_string()),
        topic: chosen.map(|t| t.id.clone()),
        ..frame.clone()
    };
    // The listed mentions are those the charts count: the query within the period.
    let range = format!("since:{from} until:{to}");
    let search_text = if text.trim().is_empty() {
        range
    } else {
        format!("({}) {range}", text.trim())
    };
    let cursor = Some(p.cursor.as_str()).filter(|c| !c.is_empty());
    let actor = user.actor();
    // The search first: it brings the index up to date with this process's own writes,
    // which a read running beside it would skip (see `App::fresh_index`).
    let page = state
        .app
        .search(&actor, ws, &search_text, PAGE, cursor)
        .await?;
    let (analytics, sov) = tokio::try_join!(
        state.app.analytics(&actor, ws, &params),
        state.app.share_of_voice(&actor, ws, &[], &frame),
    )?;
    Ok(Results {
        analytics,
        sov,
        page,
        from,
        to,
    })
}

fn topics_panel(
    ctx: &Ctx,
    view: &View,
    topics: &[Topic],
    active: Option<&Topic>,
    manage: bool,
) -> Markup {
    html! {
        section.card.panel aria-labelledby="topics-h" {
            h2 #topics-h { "Topics" }
            ul.topic-list #topic-list {
                li.active[active.is_none() && view.q.is_empty()] {
                    a href=(view.href(&[("topic", ""), ("q", "")])) { "All mentions" }
                }
                @for t in topics {
                    li.active[active.is_some_and(|a| a.id == t.id)] {
                        a href=(view.topic_href(&t.id)) title=(t.query) { (t.name) }
                        " " span.badge { (t.kind) }
                        @if manage {
                            form.inline.delete method="post" action={(view.ws) "/topics/" (seg(&t.id)) "/delete"} data-confirm={"Delete topic " (t.name) "?"} {
                                (ctx.csrf_field())
                                button.link-danger type="submit" title={"Delete " (t.name)} aria-label={"Delete topic " (t.name)} { "×" }
                            }
                        }
                    }
                }
            }
            @if topics.is_empty() { p.muted.small { "No topics yet." } }
            @if manage {
                details.add open[topics.is_empty()] {
                    summary { "Add a topic" }
                    form method="post" action={(view.ws) "/topics"} {
                        (ctx.csrf_field())
                        input type="hidden" name="back" value=(view.here);
                        label for="topic-name" { "Name" }
                        input #topic-name name="name" required maxlength="100" placeholder="Acme App";
                        label for="topic-kind" { "Kind" }
                        select #topic-kind name="kind" {
                            @for k in TopicKind::ALL { option value=(k) selected[*k == TopicKind::Brand] { (k) } }
                        }
                        label for="topic-query" { "Query" }
                        input #topic-query.mono name="query" required placeholder="app OR #acmeapp" value=(view.q);
                        p { button type="submit" { "Add topic" } }
                    }
                }
            }
        }
    }
}

fn annotations_panel(ctx: &Ctx, view: &View, annotations: &[Annotation], manage: bool) -> Markup {
    let mut recent: Vec<&Annotation> = annotations.iter().collect();
    recent.sort_by(|a, b| b.at.cmp(&a.at));
    html! {
        section.card.panel aria-labelledby="annotations-h" {
            h2 #annotations-h { "Annotations" }
            @if recent.is_empty() { p.muted.small { "Mark releases, campaigns and outages to see them on the chart." } }
            ul.annotation-list #annotation-list {
                @for a in recent.iter().take(12) {
                    li {
                        strong { (a.title) } " " span class={"badge ann-" (a.kind)} { (a.kind) }
                        br; span.muted.small { (local(&a.at, &view.tz)) }
                    }
                }
            }
            @if manage {
                details.add {
                    summary { "Add an annotation" }
                    form method="post" action={(view.ws) "/annotations"} {
                        (ctx.csrf_field())
                        input type="hidden" name="back" value=(view.here);
                        input type="hidden" name="tz" value=(view.tz_name);
                        label for="ann-title" { "Title" }
                        input #ann-title name="title" required maxlength="200" placeholder="App 4.3 release";
                        label for="ann-kind" { "Kind" }
                        select #ann-kind name="kind" {
                            @for k in AnnotationKind::ALL { option value=(k) { (k) } }
                        }
                        label for="ann-at" { "When (" (view.tz_name) ")" }
                        input #ann-at type="datetime-local" name="at" required;
                        p { button type="submit" { "Add annotation" } }
                    }
                }
            }
        }
    }
}

fn query_form(
    view: &View,
    text: &str,
    chosen: Option<&Topic>,
    problem: Option<&ServiceError>,
) -> Markup {
    let syntax = matches!(problem, Some(ServiceError::QuerySyntax { .. }));
    let date_value = |s: &str| {
        if s.len() == 10 {
            s.to_string()
        } else {
            String::new()
        }
    };
    html! {
        form.card.query-form method="get" action=(view.list) role="search" {
            label for="lq" { "Query" @if let Some(t) = chosen { " (topic " strong { (t.name) } "; edit it to search freely)" } }
            div.query-row {
                input #lq.mono type="search" name="q" value=(text) placeholder="app OR \"acme app\" lang:de -globex" autocomplete="off" spellcheck="false" aria-invalid=(if syntax { "true" } else { "false" }) aria-describedby="lq-help";
                button type="submit" { "Search" }
            }
            @match problem {
                Some(ServiceError::QuerySyntax { field, position, message }) => {
                    (syntax_error(text, field, *position, message))
                }
                Some(e) => { div.query-error role="alert" { p { (describe(e)) } } }
                None => {}
            }
            p #lq-help.muted.small {
                "Words and " code { "\"exact phrases\"" } ", " code { "OR" } ", " code { "NOT" } " or " code { "-word" } ", "
                code { "NEAR/3" } ", " code { "#hashtag" } ", " code { "@mention" } ", and "
                code { "lang:de" } " " code { "network:mastodon" } " " code { "sentiment:negative" } " "
                code { "intent:complaint" } " " code { "author:handle" } "."
            }
            div.row {
                div { label for="lq-from" { "From" } input #lq-from type="date" name="from" value=(date_value(&view.from)); }
                div { label for="lq-to" { "To (inclusive)" } input #lq-to type="date" name="to" value=(date_value(&view.to)); }
                div {
                    label for="lq-interval" { "Interval" }
                    select #lq-interval name="interval" {
                        @for (v, l) in [("hour", "Hour"), ("day", "Day"), ("week", "Week")] {
                            option value=(v) selected[view.interval == v || (view.interval.is_empty() && v == "day")] { (l) }
                        }
                    }
                }
                div {
                    label for="lq-tz" { "Time zone" }
                    input #lq-tz name="tz" value=(view.tz_name) list="tz-list" autocomplete="off" spellcheck="false";
                    datalist #tz-list { @for z in COMMON_ZONES { option value=(z) {} } }
                }
            }
        }
    }
}

/// "column N: message" under the query, with a caret under column N. The caret line repeats
/// the text before the column invisibly, so the caret lines up whatever the characters' width.
fn syntax_error(text: &str, field: &str, position: usize, message: &str) -> Markup {
    let before: String = text.chars().take(position.saturating_sub(1)).collect();
    html! {
        div.query-error #query-error role="alert" {
            @if field == "topic" { p { "The topic's query has an error:" } }
            pre.caret { (text) "\n" span.ghost aria-hidden="true" { (before) } span.caret-mark { "^" } }
            p { "column " (position) ": " (message) }
        }
    }
}

fn alerts_panel(
    ctx: &Ctx,
    view: &View,
    spikes: &[Spike],
    topic_name: &dyn Fn(&str) -> String,
    manage: bool,
) -> Markup {
    let open = spikes
        .iter()
        .filter(|s| s.acknowledged_at.is_none())
        .count();
    html! {
        section.card.alerts #alerts aria-labelledby="alerts-h" {
            h2 #alerts-h { "Alerts" @if open > 0 { " " span.badge.danger { (open) " open" } } }
            @if spikes.is_empty() {
                p.muted.small { "No spikes detected. Topics are checked every minute against their own history." }
            }
            ul.alert-list {
                @for s in spikes.iter().take(ALERTS_SHOWN) {
                    li.acked[s.acknowledged_at.is_some()] {
                        div.alert-text {
                            strong { (s.summary) }
                            br;
                            span.muted.small {
                                (topic_name(&s.topic_id)) " · " (window(&s.window_start, &s.window_end, &view.tz))
                                " · " (s.observed) " vs " (s.baseline) " expected"
                            }
                        }
                        div.alert-actions {
                            a href=(investigate_href(view, s)) { "Show" }
                            @if let Some(by) = &s.acknowledged_by {
                                span.muted.small { "Acknowledged by " (by)
                                    @if let Some(at) = &s.acknowledged_at { ", " (local(at, &view.tz)) } }
                            } @else if manage {
                                form.inline method="post" action={(view.ws) "/spikes/" (seg(&s.id)) "/ack"} {
                                    (ctx.csrf_field())
                                    input type="hidden" name="back" value=(view.here);
                                    button.secondary type="submit" { "Acknowledge" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `2026-11-19 10:00–11:00`, or both dates when the window spans midnight.
fn window(start: &str, end: &str, tz: &TimeZone) -> String {
    let (a, b) = (local(start, tz), local(end, tz));
    match (a.get(..10), b.get(..10), b.get(11..)) {
        (Some(da), Some(db), Some(tb)) if da == db => format!("{a}–{tb}"),
        _ => format!("{a} – {b}"),
    }
}

/// The spike's topic, hour by hour over the days around it.
fn investigate_href(view: &View, s: &Spike) -> String {
    let day = |ts: &str, shift: i64| {
        parse_ts(ts)
            .and_then(|t| Timestamp::from_second(t.as_second() + shift).ok())
            .map(|t| t.to_zoned(view.tz.clone()).strftime("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let (from, to) = (day(&s.window_start, -86_400), day(&s.window_end, 86_400));
    view.href(&[
        ("topic", &s.topic_id),
        ("q", ""),
        ("from", &from),
        ("to", &to),
        ("interval", "hour"),
    ])
}

fn results_markup(
    view: &View,
    text: &str,
    r: &Results,
    active: Option<&Topic>,
    spikes: &[Spike],
) -> Markup {
    let a = &r.analytics;
    let (from, to) = (r.from.as_second(), r.to.as_second());
    let shown: Vec<&Spike> = spikes
        .iter()
        .filter(|s| active.is_some_and(|t| t.id == s.topic_id))
        .filter(
            |s| match (parse_ts(&s.window_start), parse_ts(&s.window_end)) {
                (Some(b), Some(e)) => b.as_second() < to && e.as_second() > from,
                _ => false,
            },
        )
        .collect();
    let per = match a.interval {
        Interval::Hour => "hour",
        Interval::Day => "day",
        Interval::Week => "week",
    };
    html! {
        p.summary #listening-summary {
            strong { (a.total) } " mentions · "
            (local(&a.from, &view.tz)) " – " (local(&a.to, &view.tz)) " (" (a.tz) ")"
        }
        section.card #volume {
            div.card-head {
                h2 { "Volume per " (per) }
                nav.intervals aria-label="Interval" {
                    @for (v, l) in [("hour", "hour"), ("day", "day"), ("week", "week")] {
                        a.active[per == v] href=(view.href(&[("interval", v)])) { (l) }
                    }
                }
            }
            (volume_chart(a, to, &shown, &view.tz))
            (sentiment_legend(a))
            details.chart-table {
                summary { "Show as a table" }
                table {
                    thead { tr { th { "Start" } th.num { "Total" } th.num { "Positive" } th.num { "Neutral" } th.num { "Negative" } th.num { "Mixed" } } }
                    tbody {
                        @for b in &a.buckets {
                            tr { td.mono { (bucket_label(&b.start, a.interval)) } td.num { (b.total) } td.num { (b.positive) } td.num { (b.neutral) } td.num { (b.negative) } td.num { (b.mixed) } }
                        }
                    }
                }
            }
        }
        @if !r.sov.topics.is_empty() {
            section.card #share-of-voice {
                h2 { "Share of voice" }
                (share_of_voice(view, &r.sov, active))
            }
        }
        div.breakdowns {
            (breakdown("Languages", &a.languages, a.total, "unknown"))
            (breakdown("Networks", &a.networks, a.total, "unknown"))
            (breakdown("Intents", &a.intents, a.total, "none"))
            section.card.small-table {
                h3 { "Top authors" }
                table {
                    thead { tr { th { "Author" } th.num.wide { "Followers" } th.num { "Items" } } }
                    tbody {
                        @for au in &a.top_authors {
                            tr {
                                td title=(au.handle) { a href=(view.narrow_href(text, &format!("author:{}", au.handle))) { (au.handle) } }
                                td.num.wide title=(au.followers) { (compact(au.followers)) } td.num { (au.items) }
                            }
                        }
                        @if a.top_authors.is_empty() { tr { td colspan="3" .muted { "None" } } }
                    }
                }
            }
            (terms_table(view, text, "Top terms", &a.top_terms, false))
            (terms_table(view, text, "Top hashtags", &a.top_hashtags, true))
        }
        (hits_markup(view, &r.page))
    }
}

// ---- charts ----

const CHART_W: f64 = 960.0;
const CHART_H: f64 = 260.0;
const PAD_L: f64 = 44.0;
const PAD_R: f64 = 10.0;
const PAD_T: f64 = 32.0;
const PAD_B: f64 = 26.0;

fn n1(x: f64) -> String {
    format!("{x:.1}")
}

/// A round axis top and step for values up to `max`.
fn axis(max: u64) -> (u64, u64) {
    let max = max.max(1);
    let raw = (max as f64 / 4.0).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
        .max(1.0) as u64;
    (step, max.div_ceil(step) * step)
}

/// A bucket's start as people read it, from its local RFC 3339 form.
fn bucket_label(start: &str, interval: Interval) -> String {
    let date = start.get(..10).unwrap_or(start);
    match interval {
        Interval::Hour => format!("{date} {}", start.get(11..16).unwrap_or("")),
        Interval::Day => date.to_string(),
        Interval::Week => format!("week of {date}"),
    }
}

fn axis_label(start: &str, interval: Interval) -> String {
    let Some(dt) = start
        .get(..19)
        .and_then(|s| s.parse::<jiff::civil::DateTime>().ok())
    else {
        return bucket_label(start, interval);
    };
    match interval {
        Interval::Hour if dt.hour() == 0 => dt.strftime("%b %-d").to_string(),
        Interval::Hour => dt.strftime("%H:%M").to_string(),
        _ => dt.strftime("%b %-d").to_string(),
    }
}

/// A bar's segments bottom up: (class, count below, count), negative first.
fn stack(b: &Bucket) -> Vec<(&'static str, u64, u64)> {
    let other = b
        .total
        .saturating_sub(b.positive + b.negative + b.neutral + b.mixed);
    let mut below = 0;
    let mut out = Vec::new();
    for (class, v) in [
        ("seg-neg", b.negative),
        ("seg-mix", b.mixed),
        ("seg-neu", b.neutral),
        ("seg-pos", b.positive),
        ("seg-unk", other),
    ] {
        if v > 0 {
            out.push((class, below, v));
            below += v;
        }
    }
    out
}

/// 950, 12.3k, 4.1M.
fn compact(n: i64) -> String {
    let a = n.unsigned_abs() as f64;
    let sign = if n < 0 { "-" } else { "" };
    if a < 10_000.0 {
        n.to_string()
    } else if a < 1_000_000.0 {
        format!("{sign}{:.1}k", a / 1000.0)
    } else {
        format!("{sign}{:.1}M", a / 1_000_000.0)
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Buckets along the x axis; times map into the bucket holding them.
struct TimeAxis {
    starts: Vec<i64>,
    end: i64,
    slot: f64,
}

impl TimeAxis {
    fn index(&self, t: i64) -> usize {
        self.starts
            .partition_point(|s| *s <= t)
            .saturating_sub(1)
            .min(self.starts.len().saturating_sub(1))
    }

    fn x(&self, t: i64) -> f64 {
        if self.starts.is_empty() || t <= self.starts[0] {
            return PAD_L;
        }
        let i = self.index(t);
        let s = self.starts[i];
        let e = self
            .starts
            .get(i + 1)
            .copied()
            .unwrap_or(self.end)
            .max(s + 1);
        let frac = ((t - s) as f64 / (e - s) as f64).clamp(0.0, 1.0);
        PAD_L + (i as f64 + frac) * self.slot
    }
}

/// Stacked bars of mentions per bucket split by sentiment, annotations as dashed lines and
/// the topic's spike windows shaded.
fn volume_chart(a: &Analytics, end: i64, spikes: &[&Spike], tz: &TimeZone) -> Markup {
    let n = a.buckets.len().max(1);
    let plot_w = CHART_W - PAD_L - PAD_R;
    let plot_h = CHART_H - PAD_T - PAD_B;
    let bottom = PAD_T + plot_h;
    let ta = TimeAxis {
        starts: a
            .buckets
            .iter()
            .map(|b| parse_ts(&b.start).map(|t| t.as_second()).unwrap_or(0))
            .collect(),
        end,
        slot: plot_w / n as f64,
    };
    let (step, top) = axis(a.buckets.iter().map(|b| b.total).max().unwrap_or(0));
    let scale = plot_h / top as f64;
    let gap = if ta.slot >= 4.0 { ta.slot * 0.12 } else { 0.0 };
    let label_every = n.div_ceil(8).max(1);
    let ticks: Vec<u64> = (0..=top / step).map(|i| i * step).collect();
    let per = match a.interval {
        Interval::Hour => "hour",
        Interval::Day => "day",
        Interval::Week => "week",
    };
    html! {
        svg.chart.volume-chart viewBox={"0 0 " (CHART_W) " " (CHART_H)} role="group" aria-label={"Mentions per " (per) ", split by sentiment"} {
            @for t in &ticks {
                @let y = bottom - *t as f64 * scale;
                line.grid x1=(PAD_L) x2=(CHART_W - PAD_R) y1=(n1(y)) y2=(n1(y)) {}
                text.axis x=(PAD_L - 6.0) y=(n1(y + 4.0)) text-anchor="end" { (t) }
            }
            @for s in spikes {
                @let (b, e) = (parse_ts(&s.window_start).map(|t| t.as_second()).unwrap_or(0), parse_ts(&s.window_end).map(|t| t.as_second()).unwrap_or(0));
                @let (i0, i1) = (ta.index(b), ta.index((e - 1).max(b)));
                @let x0 = PAD_L + i0 as f64 * ta.slot;
                @let x1 = PAD_L + (i1 + 1) as f64 * ta.slot;
                rect.spike x=(n1(x0)) y=(PAD_T) width=(n1((x1 - x0).max(3.0))) height=(n1(plot_h)) {
                    title { "Spike " (window(&s.window_start, &s.window_end, tz)) ": " (s.summary) }
                }
            }
            @for (i, b) in a.buckets.iter().enumerate() {
                @let x = PAD_L + i as f64 * ta.slot;
                g.bar {
                    title { (bucket_label(&b.start, a.interval)) ": " (plural(b.total, "item", "items")) " (" (b.negative) " negative)" }
                    rect.hit x=(n1(x)) y=(PAD_T) width=(n1(ta.slot)) height=(n1(plot_h)) {}
                    @for (class, below, v) in stack(b) {
                        rect class=(class) x=(n1(x + gap)) y=(n1(bottom - (below + v) as f64 * scale)) width=(n1((ta.slot - 2.0 * gap).max(0.5))) height=(n1(v as f64 * scale)) {}
                    }
                }
                @if i % label_every == 0 {
                    text.axis x=(n1(x + ta.slot / 2.0)) y=(n1(bottom + 17.0)) text-anchor="middle" { (axis_label(&b.start, a.interval)) }
                }
            }
            line.baseline x1=(PAD_L) x2=(CHART_W - PAD_R) y1=(n1(bottom)) y2=(n1(bottom)) {}
            @for (k, an) in a.annotations.iter().enumerate() {
                @let x = ta.x(parse_ts(&an.at).map(|t| t.as_second()).unwrap_or(0));
                @let right = x > CHART_W - 180.0;
                @let label: String = if an.title.chars().count() > 28 { an.title.chars().take(27).chain(['…']).collect() } else { an.title.clone() };
                g.annotation {
                    title { (an.title) " (" (an.kind) "), " (local(&an.at, tz)) }
                    line.ann x1=(n1(x)) x2=(n1(x)) y1=(PAD_T - 4.0) y2=(n1(bottom)) stroke-dasharray="5 4" {}
                    text.ann-label x=(n1(if right { x - 4.0 } else { x + 4.0 })) y=(if k % 2 == 0 { 12.0 } else { 25.0 }) text-anchor=(if right { "end" } else { "start" }) { (label) }
                }
            }
        }
    }
}

fn sentiment_legend(a: &Analytics) -> Markup {
    let count = |l: &str| {
        a.sentiment
            .iter()
            .find(|(k, _)| k == l)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    };
    html! {
        ul.legend {
            @for (label, class) in [("positive", "seg-pos"), ("neutral", "seg-neu"), ("negative", "seg-neg"), ("mixed", "seg-mix")] {
                li { span class={"swatch " (class)} {} (label) " " span.muted { (count(label)) } }
            }
            @if !a.annotations.is_empty() { li { span.swatch.ann-swatch {} "annotation" } }
            li { span.swatch.spike-swatch {} "spike" }
        }
    }
}

/// A horizontal bar `value` of `max` long.
fn hbar(value: f64, max: f64) -> Markup {
    let w = if max > 0.0 {
        (value / max * 100.0).clamp(0.0, 100.0)
    } else {
        0.0
    };
    html! {
        svg.hbar viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true" {
            rect.track x="0" y="0" width="100" height="8" {}
            rect.fill x="0" y="0" width=(n1(w)) height="8" {}
        }
    }
}

fn share_of_voice(view: &View, sov: &ShareOfVoice, active: Option<&Topic>) -> Markup {
    let mut rows: Vec<_> = sov.topics.iter().collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    html! {
        table.sov {
            thead { tr { th { "Topic" } th.bar-col { span.sr-only { "Share" } } th.num { "Share" } th.num { "Mentions" } } }
            tbody {
                @for v in rows {
                    tr.active[active.is_some_and(|t| t.id == v.topic_id)] {
                        td { a href=(view.topic_href(&v.topic_id)) { (v.name) } " " span.badge { (v.kind) } }
                        td.bar-col title={(v.name) ": " (v.share) "% (" (v.count) ")"} { (hbar(v.share, 100.0)) }
                        td.num { (format!("{:.1}", v.share)) "%" }
                        td.num { (v.count) }
                    }
                }
            }
        }
        p.muted.small { "Each topic's mentions in the period, as a share of all the topics' mentions together." }
    }
}

fn breakdown(title: &str, rows: &[(String, u64)], total: u64, empty_label: &str) -> Markup {
    let max = rows.iter().map(|(_, n)| *n).max().unwrap_or(0) as f64;
    html! {
        section.card.small-table {
            h3 { (title) }
            table {
                tbody {
                    @for (label, n) in rows.iter().take(10) {
                        tr {
                            td title=(label) { @if label.is_empty() { span.muted { (empty_label) } } @else { (label) } }
                            td.bar-col { (hbar(*n as f64, max)) }
                            td.num { (n) }
                            td.num.pct.muted { (if total > 0 { format!("{:.0}%", *n as f64 * 100.0 / total as f64) } else { String::new() }) }
                        }
                    }
                    @if rows.is_empty() { tr { td colspan="4" .muted { "None" } } }
                }
            }
        }
    }
}

fn terms_table(
    view: &View,
    text: &str,
    title: &str,
    terms: &[switchboard_core::listening::TermScore],
    hashtags: bool,
) -> Markup {
    html! {
        section.card.small-table {
            h3 { (title) }
            table {
                thead { tr { th { (if hashtags { "Hashtag" } else { "Term" }) } th.num { "Items" } th.num title="How much more often than in the workspace's other mentions" { "Lift" } } }
                tbody {
                    @for t in terms.iter().take(10) {
                        @let shown = if hashtags { format!("#{}", t.term) } else { t.term.clone() };
                        @let narrowed = if hashtags { Some(shown.clone()) } else { quoted(&t.term) };
                        tr {
                            td title=(shown) { @if let Some(q) = narrowed { a href=(view.narrow_href(text, &q)) { (shown) } } @else { (shown) } }
                            td.num { (t.fg) }
                            td.num { "×" (format!("{:.1}", t.lift)) }
                        }
                    }
                    @if terms.is_empty() { tr { td colspan="3" .muted { "None stand out" } } }
                }
            }
        }
    }
}

// ---- mentions ----

/// The text with the given byte ranges in `<mark>`; everything is escaped. Ranges that are
/// out of bounds or not on character boundaries are ignored.
fn highlighted(text: &str, ranges: &[[usize; 2]]) -> Markup {
    let mut rs: Vec<(usize, usize)> = ranges
        .iter()
        .map(|r| (r[0], r[1]))
        .filter(|(a, b)| {
            a < b && *b <= text.len() && text.is_char_boundary(*a) && text.is_char_boundary(*b)
        })
        .collect();
    rs.sort_unstable();
    let mut parts: Vec<(bool, &str)> = Vec::new();
    let mut pos = 0;
    for (a, b) in rs {
        let a = a.max(pos);
        if a >= b {
            continue;
        }
        if a > pos {
            parts.push((false, &text[pos..a]));
        }
        parts.push((true, &text[a..b]));
        pos = b;
    }
    if pos < text.len() {
        parts.push((false, &text[pos..]));
    }
    html! { @for (m, s) in parts { @if m { mark { (s) } } @else { (s) } } }
}

fn item_meta(item: &Item, tz: &TimeZone) -> Markup {
    let sentiment = item.sentiment.label.as_str();
    html! {
        div.hit-meta {
            span.badge.net { (item.network) }
            strong { @if item.author.display_name.is_empty() { (item.author.handle) } @else { (item.author.display_name) } }
            @if !item.author.handle.is_empty() { span.muted { " @" (item.author.handle) } }
            @if let Some(f) = item.author.followers { span.muted.small title=(f) { " · " (compact(f)) " followers" } }
            " · " time datetime=(item.created_at) { (local(&item.created_at, tz)) }
            @if let Some(l) = &item.lang { " " span.badge.lang title="Language" { (l) } }
            @if !sentiment.is_empty() { " " span class={"badge sent sent-" (sentiment)} title={"Sentiment " (format!("{:.2}", item.sentiment.score))} { (sentiment) } }
            @for i in &item.intents { " " span.badge.intent { (i) } }
        }
    }
}

fn hit_markup(view: &View, h: &SearchHit) -> Markup {
    let item = &h.item;
    html! {
        li.hit {
            (item_meta(item, &view.tz))
            p.hit-text { (highlighted(&item.text, &h.highlights)) }
            div.hit-links {
                @if item.workspace_id != view.ws_id {
                    span.badge.ws title="Heard in a child workspace" { (view.names.get(&item.workspace_id).map(String::as_str).unwrap_or("child workspace")) } " "
                }
                // An item lives in its own workspace; a parent's Listening also hears its children.
                a href={"/w/" (seg(&item.workspace_id)) "/items/" (seg(&item.id))} { "Open conversation" }
                @if let Some(u) = item.url.as_deref().filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
                    " · " a href=(u) rel="noopener noreferrer" target="_blank" { "View on " (item.network) " ↗" }
                }
            }
        }
    }
}

fn hits_markup(view: &View, page: &SearchPage) -> Markup {
    html! {
        section #results {
            h2 { "Mentions " span.muted { "(" (page.total) " matching, newest first)" } }
            @if view.here.contains("cursor=") {
                p.small { a href=(view.href(&[])) { "← Back to the newest" } }
            }
            @if page.items.is_empty() {
                p.muted { "Nothing matches in this period." }
            }
            ol.hits {
                @for h in &page.items { (hit_markup(view, h)) }
            }
            @if let Some(c) = &page.next_cursor {
                p { a.button href={(view.href(&[("cursor", c.as_str())])) "#results"} { "Load more" } }
            }
        }
    }
}

// ---- an item ----

async fn item_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: WebUser,
    Path((ws, id)): Path<(String, String)>,
) -> Response {
    let ctx = match Ctx::load(&state, &user, &headers, Some(&ws)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(w) = ctx.current.clone() else {
        return not_found_page();
    };
    let item = match state
        .app
        .get_item(&user.actor(), &w.workspace.id, &id)
        .await
    {
        Ok(i) => i,
        Err(e) => return error_page(e),
    };
    let (_, tz) = cookie_zone(&headers);
    let ws_path = format!("/w/{}", seg(&w.workspace.id));
    let raw = format!(
        "/api/v1/workspaces/{}/items/{}",
        seg(&w.workspace.id),
        seg(&item.id)
    );
    let list = |v: &[String]| v.join(", ");
    let body = html! {
        p { a href={(ws_path) "/listening"} { "← Listening" } }
        h1 { "Mention " span.muted { "in " (w.workspace.name) } }
        article.card.item #item {
            (item_meta(&item, &tz))
            p.hit-text { (item.text) }
            dl.facts {
                dt { "Kind" } dd { (item.kind) }
                dt { "Network id" } dd.mono { (item.external_id) }
                @if let Some(p) = &item.parent_id { dt { "In reply to" } dd.mono { (p) } }
                @if let Some(r) = &item.root_id { dt { "Conversation" } dd.mono { (r) } }
                dt { "Sentiment" } dd { (item.sentiment.label) " (" (format!("{:.2}", item.sentiment.score)) ")" }
                @if !item.intents.is_empty() { dt { "Intents" } dd { (list(&item.intents)) } }
                @if !item.tags.is_empty() { dt { "Tags" } dd { (list(&item.tags)) } }
                @if !item.hashtags.is_empty() { dt { "Hashtags" } dd { @for t in &item.hashtags { "#" (t) " " } } }
                @if !item.mentions.is_empty() { dt { "Mentions" } dd { @for m in &item.mentions { "@" (m) " " } } }
                @if !item.urls.is_empty() { dt { "Links" } dd { @for u in &item.urls { span.mono { (u) } br; } } }
                dt { "Engagement" } dd { (item.metrics.likes) " likes · " (item.metrics.shares) " shares · " (item.metrics.replies) " replies" }
                dt { "Ingested" } dd { (local(&item.ingested_at, &tz)) }
            }
            div.hit-links {
                @if let Some(u) = item.url.as_deref().filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
                    a href=(u) rel="noopener noreferrer" target="_blank" { "View on " (item.network) " ↗" } " · "
                }
                a href=(raw) { "Raw JSON" }
            }
        }
    };
    ctx.render("Mention", "listening", body)
}

// ---- forms ----

#[derive(Deserialize)]
struct TopicForm {
    name: String,
    #[serde(default)]
    kind: String,
    query: String,
}

async fn topic_create(
    State(state): State<AppState>,
    user: WebUser,
    Path(ws): Path<String>,
    body: Bytes,
) -> Response {
    let back = back_to(&body, &ws);
    let form: TopicForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    let kind = match form.kind.trim() {
        "" => TopicKind::Other,
        k => match k.parse::<TopicKind>() {
            Ok(k) => k,
            Err(e) => return redirect_with(&back, "error", &format!("kind: {e}")),
        },
    };
    let input = TopicInput {
        name: form.name,
        kind,
        query: form.query,
    };
    match state.app.create_topic(&user.actor(), &ws, input).await {
        Ok(t) => redirect_with(
            &with_query(&format!("/w/{}/listening", seg(&ws)), &[("topic", &t.id)]),
            "ok",
            &format!("Topic {} added.", t.name),
        ),
        Err(e) => redirect_with(&back, "error", &describe(&e)),
    }
}

async fn topic_delete(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let list = format!("/w/{}/listening", seg(&ws));
    if let Err(e) = user.form::<HashMap<String, String>>(&body) {
        return redirect_with(&list, "error", &e);
    }
    done(
        &list,
        "Topic deleted.",
        state.app.delete_topic(&user.actor(), &ws, &id).await,
    )
}

#[derive(Deserialize)]
struct AnnotationForm {
    title: String,
    #[serde(default)]
    kind: String,
    at: String,
    #[serde(default)]
    tz: String,
}

/// A `datetime-local` value read in the zone (or an RFC 3339 time as it is), as RFC 3339.
fn local_to_rfc3339(at: &str, tz_name: &str) -> Result<String, String> {
    let at = at.trim();
    if let Some(t) = parse_ts(at) {
        return Ok(t.to_string());
    }
    let tz = if tz_name.trim().is_empty() {
        TimeZone::UTC
    } else {
        zone(tz_name.trim()).ok_or_else(|| format!("tz: unknown time zone '{tz_name}'"))?
    };
    at.parse::<jiff::civil::DateTime>()
        .ok()
        .and_then(|dt| dt.to_zoned(tz).ok())
        .map(|z| z.timestamp().to_string())
        .ok_or_else(|| "at: pick a date and time".to_string())
}

async fn annotation_create(
    State(state): State<AppState>,
    user: WebUser,
    Path(ws): Path<String>,
    body: Bytes,
) -> Response {
    let back = back_to(&body, &ws);
    let form: AnnotationForm = match user.form(&body) {
        Ok(f) => f,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    let kind = match form.kind.trim() {
        "" => AnnotationKind::Event,
        k => match k.parse::<AnnotationKind>() {
            Ok(k) => k,
            Err(e) => return redirect_with(&back, "error", &format!("kind: {e}")),
        },
    };
    let at = match local_to_rfc3339(&form.at, &form.tz) {
        Ok(a) => a,
        Err(e) => return redirect_with(&back, "error", &e),
    };
    let input = AnnotationInput {
        title: form.title,
        kind,
        at,
    };
    done(
        &back,
        "Annotation added.",
        state.app.create_annotation(&user.actor(), &ws, input).await,
    )
}

async fn spike_ack(
    State(state): State<AppState>,
    user: WebUser,
    Path((ws, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let back = back_to(&body, &ws);
    if let Err(e) = user.form::<HashMap<String, String>>(&body) {
        return redirect_with(&back, "error", &e);
    }
    done(
        &back,
        "Alert acknowledged.",
        state.app.acknowledge_spike(&user.actor(), &ws, &id).await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_escape_and_respect_boundaries() {
        let text = "Die <App> stürzt ab";
        let m = highlighted(text, &[[5, 8], [10, 17], [11, 12], [100, 120]]).into_string();
        assert_eq!(m, "Die &lt;<mark>App</mark>&gt; <mark>stürzt</mark> ab");
        // Not on a character boundary (inside ü): ignored rather than a panic.
        let m = highlighted(text, &[[13, 14]]).into_string();
        assert_eq!(m, "Die &lt;App&gt; stürzt ab");
    }

    #[test]
    fn datetime_local_is_read_in_the_zone() {
        assert_eq!(
            local_to_rfc3339("2026-11-19T08:00", "Europe/Berlin").unwrap(),
            "2026-11-19T07:00:00Z"
        );
        assert_eq!(
            local_to_rfc3339("2026-07-01T08:00", "").unwrap(),
            "2026-07-01T08:00:00Z"
        );
        assert_eq!(
            local_to_rfc3339("2026-11-19T08:00:00+09:00", "UTC").unwrap(),
            "2026-11-18T23:00:00Z"
        );
        assert!(local_to_rfc3339("yesterday", "UTC").is_err());
        assert!(local_to_rfc3339("2026-11-19T08:00", "Mars/Olympus").is_err());
    }

    #[test]
    fn date_bounds_are_local_days_and_to_is_inclusive() {
        let tz = TimeZone::get("Asia/Seoul").unwrap();
        let p = ListeningQuery {
            from: "2026-11-01".into(),
            to: "2026-11-02".into(),
            ..Default::default()
        };
        let (f, t) = resolve_bounds(&p, &tz).unwrap();
        assert_eq!(f.to_string(), "2026-10-31T15:00:00Z");
        assert_eq!(t.to_string(), "2026-11-02T15:00:00Z");
        let bad = ListeningQuery {
            from: "2026-11-05".into(),
            to: "2026-11-01".into(),
            ..Default::default()
        };
        assert!(resolve_bounds(&bad, &tz).is_err());
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(axis(0), (1, 1));
        assert_eq!(axis(3), (1, 3));
        assert_eq!(axis(42), (20, 60));
        assert_eq!(axis(100), (50, 100));
    }

    #[test]
    fn back_links_stay_on_the_listening_page() {
        let body = |b: &str| Bytes::from(serde_urlencoded::to_string([("back", b)]).unwrap());
        assert_eq!(
            back_to(&body("/w/ws1/listening?q=app"), "ws1"),
            "/w/ws1/listening?q=app"
        );
        for evil in [
            "https://evil.example",
            "/w/ws1/listeningx",
            "/w/ws2/listening",
            "/w/ws1/listening?q=a\nb",
        ] {
            assert_eq!(back_to(&body(evil), "ws1"), "/w/ws1/listening", "{evil}");
        }
    }
}
