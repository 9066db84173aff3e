//! SLA policies of the unified inbox and their clocks.
//!
//! A policy belongs to a team and a priority and sets two targets in business minutes: the
//! first response (met at the conversation's `first_response_at`, or its first `reply_sent`
//! timeline event) and the
//! resolution (met when the conversation is closed; `closed_at`). Both clocks start at the
//! conversation's first item and only run inside the policy's business hours, read in its
//! IANA time zone; a policy without business hours counts around the clock. The resolution
//! clock stops while the conversation is pending (waiting on the customer) or snoozed, and
//! its due time moves on by the business minutes it stood still; the first-response clock
//! runs until the first reply whatever the status.
//!
//! Each timer is `ok`, `warning` (at most 20% of the target left), `breached` (due time
//! passed before it was met, or met late), `met` (met in time) or `paused` (the resolution
//! clock while it stands, with the minutes it had left).

use crate::access::Access;
use crate::{Actor, App, Audit, ServiceError, ServiceResult, NONE};
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use switchboard_core::{Permission, Team, Workspace};
use switchboard_store::sla::{self as store, SlaFacts, SlaPolicyRow};
use switchboard_store::{new_id, now, teams, AnyConnection};

const PRIORITIES: &[&str] = crate::inbox::PRIORITIES;
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// How far the clock looks ahead for business time before giving up (about ten years).
const MAX_DAYS: i64 = 3700;
/// Conversations looked at by a breach list or a metrics report.
const SCAN_LIMIT: i64 = 10_000;

// ---------------------------------------------------------------- the clock

/// The calendar of a policy: its time zone and, per weekday from Monday, the business hours
/// as seconds after local midnight; `None` counts around the clock.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub tz: TimeZone,
    pub hours: Option<[Option<(i32, i32)>; 7]>,
}

impl Calendar {
    /// The business windows of a local date as instants (a local time in a DST gap moves
    /// forward, an ambiguous one takes the earlier instant).
    fn window(&self, date: Date) -> Option<(Timestamp, Timestamp)> {
        let hours = self.hours.as_ref()?;
        let (s, e) = hours[date.weekday().to_monday_zero_offset() as usize]?;
        let at = |secs: i32| -> Option<Timestamp> {
            // 24:00 is the next day's midnight.
            let (d, secs) = if secs >= 24 * 3600 {
                (date.tomorrow().ok()?, secs - 24 * 3600)
            } else {
                (date, secs)
            };
            let t = Time::new((secs / 3600) as i8, (secs / 60 % 60) as i8, 0, 0).ok()?;
            Some(d.to_datetime(t).to_zoned(self.tz.clone()).ok()?.timestamp())
        };
        let (s, e) = (at(s)?, at(e)?);
        (s < e).then_some((s, e))
    }

    fn local_date(&self, t: Timestamp) -> Date {
        t.to_zoned(self.tz.clone()).date()
    }
}

fn secs(a: Timestamp, b: Timestamp) -> i64 {
    b.as_second() - a.as_second()
}

/// Whole business minutes from `from` to `to` (0 when `to` is not after `from`).
pub fn business_minutes_between(cal: &Calendar, from: Timestamp, to: Timestamp) -> i64 {
    if to <= from {
        return 0;
    }
    if cal.hours.is_none() {
        return secs(from, to) / 60;
    }
    let mut total = 0;
    let mut day = cal.local_date(from);
    let last = cal.local_date(to);
    let mut guard = 0;
    while day <= last && guard <= MAX_DAYS {
        if let Some((s, e)) = cal.window(day) {
            let (s, e) = (s.max(from), e.min(to));
            if s < e {
                total += secs(s, e);
            }
        }
        match day.tomorrow() {
            Ok(d) => day = d,
            Err(_) => break,
        }
        guard += 1;
    }
    total / 60
}

/// The instant `minutes` business minutes after `start`; None when the calendar has no
/// business time within about ten years.
pub fn add_business_minutes(cal: &Calendar, start: Timestamp, minutes: i64) -> Option<Timestamp> {
    let mut left = minutes.max(0) * 60;
    if cal.hours.is_none() {
        return start.checked_add(SignedDuration::from_secs(left)).ok();
    }
    let mut day = cal.local_date(start);
    for _ in 0..MAX_DAYS {
        if let Some((s, e)) = cal.window(day) {
            let s = s.max(start);
            if s < e {
                let avail = secs(s, e);
                if left <= avail {
                    return s.checked_add(SignedDuration::from_secs(left)).ok();
                }
                left -= avail;
            }
        }
        day = day.tomorrow().ok()?;
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerState {
    Ok,
    Warning,
    Breached,
    Met,
    /// Stopped while the conversation is pending or snoozed.
    Paused,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timer {
    pub target_minutes: i64,
    pub due_at: Option<String>,
    pub state: TimerState,
    /// Business minutes left while it runs and is not overdue.
    pub remaining_minutes: Option<i64>,
    /// Business minutes past due: until now while it runs, until it was met when met late.
    pub overdue_minutes: Option<i64>,
    pub met_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaTimers {
    pub policy_id: String,
    pub first_response: Timer,
    pub resolution: Timer,
}

fn parse_ts(s: &str) -> Option<Timestamp> {
    s.parse::<Timestamp>().ok()
}

/// As the store writes times: RFC 3339 UTC with milliseconds.
pub fn format_ts(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Business minutes of the pauses that fall before `until`.
fn paused_before(cal: &Calendar, pauses: &[(Timestamp, Timestamp)], until: Timestamp) -> i64 {
    pauses
        .iter()
        .map(|(a, b)| business_minutes_between(cal, *a, (*b).min(until)))
        .sum()
}

/// When `target` business minutes of running clock are used up: each pause before the due
/// time moves it on, which may bring further pauses before it.
fn due_time(
    cal: &Calendar,
    start: Timestamp,
    target: i64,
    pauses: &[(Timestamp, Timestamp)],
) -> Option<Timestamp> {
    let mut due = add_business_minutes(cal, start, target)?;
    for _ in 0..=pauses.len() {
        let next = add_business_minutes(cal, start, target + paused_before(cal, pauses, due))?;
        if next == due {
            break;
        }
        due = next;
    }
    Some(due)
}

/// One clock. `pauses` are finished pauses; `paused_since` a pause still going on, which
/// stops the clock where it stands (its state is `paused`, with the minutes that were left).
fn timer(
    cal: &Calendar,
    target: i64,
    start: Timestamp,
    met: Option<Timestamp>,
    now: Timestamp,
    pauses: &[(Timestamp, Timestamp)],
    paused_since: Option<Timestamp>,
) -> Timer {
    let due = due_time(cal, start, target, pauses);
    let mut t = Timer {
        target_minutes: target,
        due_at: due.map(format_ts),
        state: TimerState::Ok,
        remaining_minutes: None,
        overdue_minutes: None,
        met_at: met.map(format_ts),
    };
    match (met, due, paused_since) {
        (Some(m), Some(d), _) if m > d => {
            t.state = TimerState::Breached;
            t.overdue_minutes = Some(business_minutes_between(cal, d, m));
        }
        (Some(_), _, _) => t.state = TimerState::Met,
        (None, None, _) => t.state = TimerState::Ok,
        // Overdue before the pause began: it stays breached, by what it was at the pause.
        (None, Some(d), Some(p)) if p >= d => {
            t.state = TimerState::Breached;
            t.overdue_minutes = Some(business_minutes_between(cal, d, p));
        }
        (None, Some(d), Some(p)) => {
            t.state = TimerState::Paused;
            t.due_at = None;
            t.remaining_minutes = Some(business_minutes_between(cal, p, d));
        }
        (None, Some(d), None) if now >= d => {
            t.state = TimerState::Breached;
            t.overdue_minutes = Some(business_minutes_between(cal, d, now));
        }
        (None, Some(d), None) => {
            let left = business_minutes_between(cal, now, d);
            t.remaining_minutes = Some(left);
            // At most 20% of the target left.
            t.state = if left * 5 <= target {
                TimerState::Warning
            } else {
                TimerState::Ok
            };
        }
    }
    t
}

/// Both timers of a conversation under a policy at `now`. The first-response clock runs
/// until the first reply whatever the status; the resolution clock stops while the
/// conversation is pending (waiting on the customer) or snoozed.
pub fn sla_state(policy: &Policy, conv: &SlaFacts, now: Timestamp) -> Option<SlaTimers> {
    let start = parse_ts(&conv.first_item_at)?;
    let responded = conv.first_response_at.as_deref().and_then(parse_ts);
    let closed = if conv.status == "closed" {
        conv.closed_at.as_deref().and_then(parse_ts)
    } else {
        None
    };
    let pauses: Vec<(Timestamp, Timestamp)> = conv
        .pauses
        .iter()
        .filter_map(|(a, b)| Some((parse_ts(a)?, parse_ts(b)?)))
        .collect();
    let paused_since = if closed.is_none() {
        conv.paused_at.as_deref().and_then(parse_ts)
    } else {
        None
    };
    Some(SlaTimers {
        policy_id: policy.row.id.clone(),
        first_response: timer(
            &policy.calendar,
            policy.row.first_response_minutes,
            start,
            responded,
            now,
            &[],
            None,
        ),
        resolution: timer(
            &policy.calendar,
            policy.row.resolution_minutes,
            start,
            closed,
            now,
            &pauses,
            paused_since,
        ),
    })
}

// ---------------------------------------------------------------- policies

/// A stored policy with its calendar read.
#[derive(Debug, Clone)]
pub struct Policy {
    pub row: SlaPolicyRow,
    pub calendar: Calendar,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyInput {
    /// A team id or name of the workspace.
    pub team: String,
    #[serde(default = "normal")]
    pub priority: String,
    pub first_response_minutes: i64,
    pub resolution_minutes: i64,
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Weekday (`mon`..`sun`) to `{"start": "09:00", "end": "17:00"}`; absent or null: 24/7.
    #[serde(default)]
    pub business_hours: Option<BTreeMap<String, Hours>>,
}

fn normal() -> String {
    "normal".into()
}
fn utc() -> String {
    "UTC".into()
}

/// Every field optional; `business_hours: null` makes the policy count 24/7.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyPatch {
    pub team: Option<String>,
    pub priority: Option<String>,
    pub first_response_minutes: Option<i64>,
    pub resolution_minutes: Option<i64>,
    pub time_zone: Option<String>,
    #[serde(default, with = "double_option")]
    pub business_hours: Option<Option<BTreeMap<String, Hours>>>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

fn parse_hhmm(field: &str, v: &str) -> ServiceResult<i32> {
    let bad = || ServiceError::invalid(field, "use HH:MM, from 00:00 to 24:00");
    let (h, m) = v.trim().split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: i32 = h.parse().map_err(|_| bad())?;
    let m: i32 = m.parse().map_err(|_| bad())?;
    if !(0..=24).contains(&h) || !(0..60).contains(&m) || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60)
}

/// Reads and checks a calendar; errors name the field (`time_zone`, `business_hours.mon.end`).
pub fn calendar(
    time_zone: &str,
    hours: Option<&BTreeMap<String, Hours>>,
) -> ServiceResult<Calendar> {
    let tz = TimeZone::get(time_zone.trim()).map_err(|_| {
        ServiceError::invalid(
            "time_zone",
            "not an IANA time zone name, e.g. Europe/Berlin",
        )
    })?;
    let Some(hours) = hours else {
        return Ok(Calendar { tz, hours: None });
    };
    let mut days: [Option<(i32, i32)>; 7] = [None; 7];
    for (day, h) in hours {
        let key = day.trim().to_ascii_lowercase();
        let Some(i) = DAYS.iter().position(|d| *d == key) else {
            return Err(ServiceError::invalid(
                &format!("business_hours.{day}"),
                "expected a weekday: mon, tue, wed, thu, fri, sat, sun",
            ));
        };
        let s = parse_hhmm(&format!("business_hours.{key}.start"), &h.start)?;
        let e = parse_hhmm(&format!("business_hours.{key}.end"), &h.end)?;
        if e <= s {
            return Err(ServiceError::invalid(
                &format!("business_hours.{key}.end"),
                "must be after start",
            ));
        }
        days[i] = Some((s, e));
    }
    if days.iter().all(Option::is_none) {
        return Err(ServiceError::invalid(
            "business_hours",
            "name at least one weekday, or leave it out to count 24/7",
        ));
    }
    Ok(Calendar {
        tz,
        hours: Some(days),
    })
}

fn policy_of(row: SlaPolicyRow) -> Policy {
    let hours: Option<BTreeMap<String, Hours>> = row
        .business_hours
        .clone()
        .and_then(|h| serde_json::from_value(h).ok());
    let calendar = calendar(&row.time_zone, hours.as_ref()).unwrap_or(Calendar {
        tz: TimeZone::UTC,
        hours: None,
    });
    Policy { row, calendar }
}

fn find_team<'a>(teams: &'a [Team], reference: &str) -> ServiceResult<&'a Team> {
    let r = reference.trim();
    teams
        .iter()
        .find(|t| t.id == r)
        .or_else(|| teams.iter().find(|t| t.name.eq_ignore_ascii_case(r)))
        .ok_or_else(|| ServiceError::invalid("team", format!("no team {r:?} in this workspace")))
}

/// Validates an input against the workspace and builds the row (id and times from `base`).
async fn check(
    c: &mut AnyConnection,
    w: &Workspace,
    input: SlaPolicyInput,
    base: Option<&SlaPolicyRow>,
) -> ServiceResult<SlaPolicyRow> {
    let list = teams::list(c, &w.id).await?;
    let team = find_team(&list, &input.team)?.id.clone();
    let priority = input.priority.trim().to_ascii_lowercase();
    if !PRIORITIES.contains(&priority.as_str()) {
        return Err(ServiceError::invalid(
            "priority",
            format!("expected one of: {}", PRIORITIES.join(", ")),
        ));
    }
    for (field, v) in [
        ("first_response_minutes", input.first_response_minutes),
        ("resolution_minutes", input.resolution_minutes),
    ] {
        if !(1..=525_600).contains(&v) {
            return Err(ServiceError::invalid(
                field,
                "must be from 1 to 525600 minutes",
            ));
        }
    }
    let cal = calendar(&input.time_zone, input.business_hours.as_ref())?;
    let hours = input.business_hours.map(|h| {
        h.into_iter()
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v))
            .collect::<BTreeMap<_, _>>()
    });
    let existing = store::list(c, &w.id).await?;
    if existing
        .iter()
        .any(|p| p.team_id == team && p.priority == priority && Some(&p.id) != base.map(|b| &b.id))
    {
        return Err(ServiceError::conflict(
            "priority",
            "this team already has a policy for this priority",
        ));
    }
    let stamp = now();
    Ok(SlaPolicyRow {
        id: base.map_or_else(new_id, |b| b.id.clone()),
        workspace_id: w.id.clone(),
        team_id: team,
        priority,
        first_response_minutes: input.first_response_minutes,
        resolution_minutes: input.resolution_minutes,
        time_zone: cal.tz.iana_name().unwrap_or("UTC").to_string(),
        business_hours: hours.map(|h| serde_json::to_value(h).unwrap_or_default()),
        created_at: base.map_or_else(|| stamp.clone(), |b| b.created_at.clone()),
        updated_at: stamp,
    })
}

// ---------------------------------------------------------------- reports

#[derive(Debug, Clone, Serialize)]
pub struct Breach {
    pub conversation_id: String,
    pub team_id: Option<String>,
    pub assignee_id: Option<String>,
    pub priority: String,
    pub status: String,
    pub first_item_at: String,
    pub sla: SlaTimers,
}

#[derive(Debug, Clone, Serialize)]
pub struct TeamCount {
    pub team_id: String,
    pub team: String,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreachList {
    pub state: TimerState,
    pub conversations: Vec<Breach>,
    pub counts: Vec<TeamCount>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MetricsRow {
    /// A team id or a user id; None: no team / nobody assigned.
    pub id: Option<String>,
    pub name: Option<String>,
    pub conversations: usize,
    /// Wall-clock minutes from the first item to the first reply.
    pub first_response_median_minutes: Option<i64>,
    pub first_response_p90_minutes: Option<i64>,
    /// Wall-clock minutes from the first item to the close.
    pub resolution_median_minutes: Option<i64>,
    /// Conversations under a policy with no breached timer, in percent of those under a
    /// policy; None when none is.
    pub sla_attainment_pct: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub from: String,
    pub to: String,
    pub teams: Vec<MetricsRow>,
    pub agents: Vec<MetricsRow>,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

fn minutes_between(a: &str, b: Option<&str>) -> Option<i64> {
    let (a, b) = (parse_ts(a)?, parse_ts(b?)?);
    Some(secs(a, b).max(0) / 60)
}

fn summarise(
    id: Option<String>,
    name: Option<String>,
    rows: &[(&SlaFacts, Option<&SlaTimers>)],
) -> MetricsRow {
    let mut first: Vec<i64> = rows
        .iter()
        .filter_map(|(f, _)| minutes_between(&f.first_item_at, f.first_response_at.as_deref()))
        .collect();
    first.sort_unstable();
    let mut resolution: Vec<i64> = rows
        .iter()
        .filter(|(f, _)| f.status == "closed")
        .filter_map(|(f, _)| minutes_between(&f.first_item_at, f.closed_at.as_deref()))
        .collect();
    resolution.sort_unstable();
    let under: Vec<&SlaTimers> = rows.iter().filter_map(|(_, t)| *t).collect();
    let kept = under
        .iter()
        .filter(|t| {
            t.first_response.state != TimerState::Breached
                && t.resolution.state != TimerState::Breached
        })
        .count();
    MetricsRow {
        id,
        name,
        conversations: rows.len(),
        first_response_median_minutes: percentile(&first, 50.0),
        first_response_p90_minutes: percentile(&first, 90.0),
        resolution_median_minutes: percentile(&resolution, 50.0),
        sla_attainment_pct: (!under.is_empty())
            .then(|| (kept as f64 * 1000.0 / under.len() as f64).round() / 10.0),
    }
}

fn parse_param(field: &str, v: &str) -> ServiceResult<Timestamp> {
    let v = v.trim();
    if let Ok(t) = v.parse::<Timestamp>() {
        return Ok(t);
    }
    v.parse::<Date>()
        .ok()
        .and_then(|d| d.to_zoned(TimeZone::UTC).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| ServiceError::invalid(field, "use an RFC 3339 time or YYYY-MM-DD"))
}

/// A timer state named in a query (`sla=` of the inbox list).
pub fn timer_state(field: &str, v: &str) -> ServiceResult<TimerState> {
    match v.trim() {
        "ok" => Ok(TimerState::Ok),
        "warning" => Ok(TimerState::Warning),
        "breached" => Ok(TimerState::Breached),
        "met" => Ok(TimerState::Met),
        "paused" => Ok(TimerState::Paused),
        _ => Err(ServiceError::invalid(
            field,
            "expected one of: ok, warning, breached, met, paused",
        )),
    }
}

impl App {
    /// The SLA timers of the given conversations of a workspace now, by conversation id;
    /// conversations no policy covers are absent.
    async fn timers_of(
        &self,
        c: &mut AnyConnection,
        ws_id: &str,
        ids: &[String],
    ) -> ServiceResult<HashMap<String, SlaTimers>> {
        let policies = self.policies(c, ws_id).await?;
        let now = Timestamp::now();
        Ok(store::facts_of_many(c, ws_id, ids)
            .await?
            .into_iter()
            .filter_map(|f| {
                let team = f.team_id.clone()?;
                let timers = sla_state(policies.get(&(team, f.priority.clone()))?, &f, now)?;
                Some((f.id, timers))
            })
            .collect())
    }

    /// Of the given conversations, the ids with a timer (first response or resolution) in
    /// state `want` now.
    pub(crate) async fn with_sla_state(
        &self,
        c: &mut AnyConnection,
        ws_id: &str,
        ids: &[String],
        want: TimerState,
    ) -> ServiceResult<std::collections::HashSet<String>> {
        Ok(self
            .timers_of(c, ws_id, ids)
            .await?
            .into_iter()
            .filter(|(_, t)| t.first_response.state == want || t.resolution.state == want)
            .map(|(id, _)| id)
            .collect())
    }

    /// The SLA timers of some conversations of the workspace (a page of the inbox list), by
    /// conversation id; conversations no policy covers are absent.
    pub async fn sla_of_conversations(
        &self,
        actor: &Actor,
        ws: &str,
        ids: &[String],
    ) -> ServiceResult<HashMap<String, SlaTimers>> {
        let mut c = self.store.read().await?;
        let w = crate::access::workspace_with(&mut c, actor, ws, Permission::InboxRead).await?;
        self.timers_of(&mut c, &w.id, ids).await
    }
}

/// `?state=` of the breach list: `breached` (the default) or `warning`.
pub fn breach_state(state: Option<&str>) -> ServiceResult<TimerState> {
    match state.map(str::trim) {
        None | Some("breached") => Ok(TimerState::Breached),
        Some("warning") => Ok(TimerState::Warning),
        Some(_) => Err(ServiceError::invalid(
            "state",
            "expected one of: breached, warning",
        )),
    }
}

/// `?from=&to=` of the metrics: RFC 3339 or YYYY-MM-DD (UTC midnight); `to` defaults to now,
/// `from` to 30 days before `to`.
pub fn metrics_range(
    from: Option<&str>,
    to: Option<&str>,
) -> ServiceResult<(Timestamp, Timestamp)> {
    let to = match to {
        Some(t) => parse_param("to", t)?,
        None => Timestamp::now(),
    };
    let from = match from {
        Some(f) => parse_param("from", f)?,
        None => to
            .checked_sub(SignedDuration::from_hours(30 * 24))
            .map_err(ServiceError::internal)?,
    };
    if from >= to {
        return Err(ServiceError::invalid("from", "must be before to"));
    }
    Ok((from, to))
}

impl App {
    /// A policy of a workspace the caller can read the inbox of, then permission `p`.
    async fn policy_in(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        p: Permission,
    ) -> ServiceResult<(Workspace, SlaPolicyRow)> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::InboxRead)?;
        let row = store::get(&mut c, &wa.workspace.id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        wa.require(p)?;
        Ok((wa.workspace.clone(), row))
    }

    pub async fn list_sla_policies(
        &self,
        actor: &Actor,
        ws: &str,
    ) -> ServiceResult<Vec<SlaPolicyRow>> {
        let mut c = self.store.read().await?;
        let w = crate::access::workspace_with(&mut c, actor, ws, Permission::InboxRead).await?;
        Ok(store::list(&mut c, &w.id).await?)
    }

    pub async fn get_sla_policy(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
    ) -> ServiceResult<SlaPolicyRow> {
        Ok(self
            .policy_in(actor, ws, id, Permission::InboxRead)
            .await?
            .1)
    }

    pub async fn create_sla_policy(
        &self,
        actor: &Actor,
        ws: &str,
        input: SlaPolicyInput,
    ) -> ServiceResult<SlaPolicyRow> {
        let mut c = self.store.read().await?;
        let w = crate::access::workspace_with(&mut c, actor, ws, Permission::InboxManage).await?;
        let row = check(&mut c, &w, input, None).await?;
        drop(c);
        let mut tx = self.store.write().await?;
        store::insert(&mut tx, &row).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "sla_policy.create",
            target_type: "sla_policy",
            target_id: &row.id,
        }
        .write(&mut tx, actor, NONE, Some(&row))
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    pub async fn update_sla_policy(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        patch: SlaPolicyPatch,
    ) -> ServiceResult<SlaPolicyRow> {
        let (w, before) = self
            .policy_in(actor, ws, id, Permission::InboxManage)
            .await?;
        let input = SlaPolicyInput {
            team: patch.team.unwrap_or_else(|| before.team_id.clone()),
            priority: patch.priority.unwrap_or_else(|| before.priority.clone()),
            first_response_minutes: patch
                .first_response_minutes
                .unwrap_or(before.first_response_minutes),
            resolution_minutes: patch
                .resolution_minutes
                .unwrap_or(before.resolution_minutes),
            time_zone: patch.time_zone.unwrap_or_else(|| before.time_zone.clone()),
            business_hours: match patch.business_hours {
                Some(h) => h,
                None => before
                    .business_hours
                    .clone()
                    .and_then(|h| serde_json::from_value(h).ok()),
            },
        };
        let mut c = self.store.read().await?;
        let row = check(&mut c, &w, input, Some(&before)).await?;
        drop(c);
        let mut tx = self.store.write().await?;
        store::update(&mut tx, &row).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "sla_policy.update",
            target_type: "sla_policy",
            target_id: &row.id,
        }
        .write(&mut tx, actor, Some(&before), Some(&row))
        .await?;
        tx.commit().await?;
        Ok(row)
    }

    pub async fn delete_sla_policy(&self, actor: &Actor, ws: &str, id: &str) -> ServiceResult<()> {
        let (w, before) = self
            .policy_in(actor, ws, id, Permission::InboxManage)
            .await?;
        let mut tx = self.store.write().await?;
        store::delete(&mut tx, &before.id).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "sla_policy.delete",
            target_type: "sla_policy",
            target_id: &before.id,
        }
        .write(&mut tx, actor, Some(&before), NONE)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn policies(
        &self,
        c: &mut AnyConnection,
        ws_id: &str,
    ) -> ServiceResult<HashMap<(String, String), Policy>> {
        Ok(store::list(c, ws_id)
            .await?
            .into_iter()
            .map(|r| ((r.team_id.clone(), r.priority.clone()), policy_of(r)))
            .collect())
    }

    /// The SLA timers of one conversation; None when no policy covers its team and priority.
    pub async fn conversation_sla(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
    ) -> ServiceResult<Option<SlaTimers>> {
        let mut c = self.store.read().await?;
        let w = crate::access::workspace_with(&mut c, actor, ws, Permission::InboxRead).await?;
        let facts = store::facts_of(&mut c, &w.id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let policies = self.policies(&mut c, &w.id).await?;
        let Some(team) = &facts.team_id else {
            return Ok(None);
        };
        Ok(policies
            .get(&(team.clone(), facts.priority.clone()))
            .and_then(|p| sla_state(p, &facts, Timestamp::now())))
    }

    /// Conversations not closed with a timer in `state` (`breached` or `warning`), oldest
    /// first, with counts per team.
    pub async fn sla_breaches(
        &self,
        actor: &Actor,
        ws: &str,
        want: TimerState,
    ) -> ServiceResult<BreachList> {
        let mut c = self.store.read().await?;
        let w = crate::access::workspace_with(&mut c, actor, ws, Permission::InboxRead).await?;
        let policies = self.policies(&mut c, &w.id).await?;
        let team_names: HashMap<String, String> = teams::list(&mut c, &w.id)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        let now = Timestamp::now();
        let mut out = Vec::new();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for f in store::active_with_team(&mut c, &w.id, SCAN_LIMIT).await? {
            let Some(team) = &f.team_id else { continue };
            let Some(p) = policies.get(&(team.clone(), f.priority.clone())) else {
                continue;
            };
            let Some(sla) = sla_state(p, &f, now) else {
                continue;
            };
            if sla.first_response.state != want && sla.resolution.state != want {
                continue;
            }
            *counts.entry(team.clone()).or_default() += 1;
            out.push(Breach {
                conversation_id: f.id.clone(),
                team_id: f.team_id.clone(),
                assignee_id: f.assignee_id.clone(),
                priority: f.priority.clone(),
                status: f.status.clone(),
                first_item_at: f.first_item_at.clone(),
                sla,
            });
        }
        Ok(BreachList {
            state: want,
            conversations: out,
            counts: counts
                .into_iter()
                .map(|(id, count)| TeamCount {
                    team: team_names.get(&id).cloned().unwrap_or_default(),
                    team_id: id,
                    count,
                })
                .collect(),
        })
    }

    /// Per team and per agent, over the conversations that started in [from, to) (default:
    /// the 30 days up to now).
    pub async fn inbox_metrics(
        &self,
        actor: &Actor,
        ws: &str,
        (from, to): (Timestamp, Timestamp),
    ) -> ServiceResult<Metrics> {
        let mut c = self.store.read().await?;
        let w = crate::access::workspace_with(&mut c, actor, ws, Permission::InboxRead).await?;
        let (from_s, to_s) = (format_ts(from), format_ts(to));
        let policies = self.policies(&mut c, &w.id).await?;
        let team_names: HashMap<String, String> = teams::list(&mut c, &w.id)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        let facts = store::started_between(&mut c, &w.id, &from_s, &to_s, SCAN_LIMIT).await?;
        drop(c);
        let now = Timestamp::now();
        let timers: Vec<Option<SlaTimers>> = facts
            .iter()
            .map(|f| {
                let team = f.team_id.as_ref()?;
                let p = policies.get(&(team.clone(), f.priority.clone()))?;
                sla_state(p, f, now)
            })
            .collect();
        let mut by_team: BTreeMap<Option<String>, Vec<(&SlaFacts, Option<&SlaTimers>)>> =
            BTreeMap::new();
        let mut by_agent: BTreeMap<Option<String>, Vec<(&SlaFacts, Option<&SlaTimers>)>> =
            BTreeMap::new();
        for (f, t) in facts.iter().zip(&timers) {
            by_team
                .entry(f.team_id.clone())
                .or_default()
                .push((f, t.as_ref()));
            by_agent
                .entry(f.assignee_id.clone())
                .or_default()
                .push((f, t.as_ref()));
        }
        let mut agents = Vec::new();
        for (id, rows) in &by_agent {
            let name = match id {
                Some(id) => self.user_label(id).await,
                None => None,
            };
            agents.push(summarise(id.clone(), name, rows));
        }
        Ok(Metrics {
            from: from_s,
            to: to_s,
            teams: by_team
                .iter()
                .map(|(id, rows)| {
                    let name = id.as_ref().and_then(|i| team_names.get(i).cloned());
                    summarise(id.clone(), name, rows)
                })
                .collect(),
            agents,
        })
    }

    async fn user_label(&self, id: &str) -> Option<String> {
        let mut c = self.store.read().await.ok()?;
        switchboard_store::users::get(&mut c, id)
            .await
            .ok()
            .flatten()
            .map(|u| u.email)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn office(tz: &str) -> Calendar {
        let mut h = BTreeMap::new();
        for d in ["mon", "tue", "wed", "thu", "fri"] {
            h.insert(
                d.to_string(),
                Hours {
                    start: "09:00".into(),
                    end: "17:00".into(),
                },
            );
        }
        calendar(tz, Some(&h)).unwrap()
    }

    #[test]
    fn around_the_clock_counts_every_minute() {
        let cal = calendar("UTC", None).unwrap();
        assert_eq!(
            business_minutes_between(&cal, ts("2026-11-20T10:00:00Z"), ts("2026-11-21T11:30:59Z")),
            25 * 60 + 30
        );
        assert_eq!(
            business_minutes_between(&cal, ts("2026-11-21T10:00:00Z"), ts("2026-11-20T10:00:00Z")),
            0
        );
    }

    #[test]
    fn the_weekend_is_skipped() {
        // Friday 2026-11-20 16:00 Berlin (15:00Z) to Monday 2026-11-23 10:00 Berlin (09:00Z):
        // one hour on Friday, one on Monday.
        let cal = office("Europe/Berlin");
        assert_eq!(
            business_minutes_between(&cal, ts("2026-11-20T15:00:00Z"), ts("2026-11-23T09:00:00Z")),
            120
        );
        // And the due time of a 2-hour target started then is Monday 10:00 Berlin.
        assert_eq!(
            add_business_minutes(&cal, ts("2026-11-20T15:00:00Z"), 120).map(format_ts),
            Some("2026-11-23T09:00:00.000Z".to_string())
        );
    }

    #[test]
    fn after_hours_start_counts_from_the_next_opening() {
        let cal = office("Europe/Berlin");
        // Tuesday 20:00 Berlin (19:00Z) to Wednesday 09:30 Berlin (08:30Z): 30 minutes.
        assert_eq!(
            business_minutes_between(&cal, ts("2026-11-17T19:00:00Z"), ts("2026-11-18T08:30:00Z")),
            30
        );
        // A 60-minute target started after hours is due at 10:00 the next morning.
        assert_eq!(
            add_business_minutes(&cal, ts("2026-11-17T19:00:00Z"), 60).map(format_ts),
            Some("2026-11-18T09:00:00.000Z".to_string())
        );
        // Started before opening on the same day.
        assert_eq!(
            add_business_minutes(&cal, ts("2026-11-18T05:00:00Z"), 60).map(format_ts),
            Some("2026-11-18T09:00:00.000Z".to_string())
        );
    }

    #[test]
    fn dst_changes_in_berlin_keep_local_business_hours() {
        // Clocks go back on Sunday 2026-10-25: Friday 09:00 Berlin is 07:00Z (CEST), Monday
        // 09:00 Berlin is 08:00Z (CET). Friday 16:00 to Monday 10:00 local is two hours.
        let cal = office("Europe/Berlin");
        assert_eq!(
            business_minutes_between(&cal, ts("2026-10-23T14:00:00Z"), ts("2026-10-26T09:00:00Z")),
            120
        );
        // A 24/7 policy in Berlin counts the extra hour of the night: 25 hours on Sunday.
        let all = calendar("Europe/Berlin", None).unwrap();
        assert_eq!(
            business_minutes_between(&all, ts("2026-10-24T22:00:00Z"), ts("2026-10-25T23:00:00Z")),
            25 * 60
        );
        // Spring forward on Sunday 2026-03-29: Friday 17:00 CET = 16:00Z, Monday 09:00 CEST = 07:00Z.
        assert_eq!(
            add_business_minutes(&cal, ts("2026-03-27T15:00:00Z"), 90).map(format_ts),
            Some("2026-03-30T07:30:00.000Z".to_string())
        );
    }

    #[test]
    fn bad_calendars_name_the_field() {
        let err = |r: ServiceResult<Calendar>| match r {
            Err(ServiceError::Validation(v)) => v.field.clone(),
            other => panic!("expected a validation error, got {other:?}"),
        };
        assert_eq!(err(calendar("Mars/Olympus", None)), "time_zone");
        let mut h = BTreeMap::new();
        h.insert(
            "mon".to_string(),
            Hours {
                start: "17:00".into(),
                end: "09:00".into(),
            },
        );
        assert_eq!(err(calendar("UTC", Some(&h))), "business_hours.mon.end");
        let mut h = BTreeMap::new();
        h.insert(
            "funday".to_string(),
            Hours {
                start: "09:00".into(),
                end: "17:00".into(),
            },
        );
        assert_eq!(err(calendar("UTC", Some(&h))), "business_hours.funday");
        let mut h = BTreeMap::new();
        h.insert(
            "tue".to_string(),
            Hours {
                start: "9".into(),
                end: "17:00".into(),
            },
        );
        assert_eq!(err(calendar("UTC", Some(&h))), "business_hours.tue.start");
    }

    fn policy(first: i64, resolution: i64) -> Policy {
        policy_of(SlaPolicyRow {
            id: "p".into(),
            workspace_id: "w".into(),
            team_id: "t".into(),
            priority: "normal".into(),
            first_response_minutes: first,
            resolution_minutes: resolution,
            time_zone: "Europe/Berlin".into(),
            business_hours: Some(serde_json::json!({
                "mon": {"start": "09:00", "end": "17:00"},
                "tue": {"start": "09:00", "end": "17:00"},
                "wed": {"start": "09:00", "end": "17:00"},
                "thu": {"start": "09:00", "end": "17:00"},
                "fri": {"start": "09:00", "end": "17:00"},
            })),
            created_at: String::new(),
            updated_at: String::new(),
        })
    }

    fn facts(status: &str, responded: Option<&str>, closed: Option<&str>) -> SlaFacts {
        SlaFacts {
            id: "c".into(),
            workspace_id: "w".into(),
            team_id: Some("t".into()),
            assignee_id: None,
            priority: "normal".into(),
            status: status.into(),
            // Monday 2026-11-16 10:00 Berlin.
            first_item_at: "2026-11-16T09:00:00.000Z".into(),
            first_response_at: responded.map(str::to_string),
            closed_at: closed.map(str::to_string),
            paused_at: None,
            pauses: Vec::new(),
        }
    }

    #[test]
    fn the_resolution_clock_stands_still_while_pending_or_snoozed() {
        let p = policy(60, 480);
        // Monday 10:00-12:00 Berlin waiting on the customer: two business hours stood still.
        let mut f = facts("open", Some("2026-11-16T09:10:00.000Z"), None);
        f.pauses = vec![(
            "2026-11-16T09:00:00.000Z".into(),
            "2026-11-16T11:00:00.000Z".into(),
        )];
        let s = sla_state(&p, &f, ts("2026-11-16T12:00:00Z")).unwrap();
        assert_eq!(s.resolution.state, TimerState::Ok);
        assert_eq!(
            s.resolution.due_at.as_deref(),
            Some("2026-11-17T11:00:00.000Z"),
            "Tuesday 12:00 Berlin instead of 10:00"
        );
        assert_eq!(s.resolution.remaining_minutes, Some(480 - 60));
        // The first-response clock does not pause.
        assert_eq!(s.first_response.state, TimerState::Met);

        // Pending now, since 13:00 Berlin: frozen with what was left then, however long it waits.
        f.status = "pending".into();
        f.paused_at = Some("2026-11-16T12:00:00.000Z".into());
        for now in ["2026-11-16T15:00:00Z", "2026-11-20T15:00:00Z"] {
            let s = sla_state(&p, &f, ts(now)).unwrap();
            assert_eq!(s.resolution.state, TimerState::Paused, "{now}");
            assert_eq!(
                s.resolution.remaining_minutes,
                Some(480 - 60),
                "{now}: ran 10-13 less 2 h paused"
            );
            assert_eq!(s.resolution.due_at, None);
        }
        // Already overdue when it was put on hold: it stays breached, by what it was then.
        let mut late = facts("snoozed", None, None);
        late.paused_at = Some("2026-11-17T10:00:00.000Z".into());
        let s = sla_state(&p, &late, ts("2026-11-19T10:00:00Z")).unwrap();
        assert_eq!(s.resolution.state, TimerState::Breached);
        assert_eq!(s.resolution.overdue_minutes, Some(60));
        // A pause after the due time does not excuse a late close.
        let mut f = facts("closed", None, Some("2026-11-17T12:00:00.000Z"));
        f.pauses = vec![(
            "2026-11-17T10:00:00.000Z".into(),
            "2026-11-17T11:00:00.000Z".into(),
        )];
        let s = sla_state(&p, &f, ts("2026-11-18T10:00:00Z")).unwrap();
        assert_eq!(s.resolution.state, TimerState::Breached);
        assert_eq!(
            s.resolution.due_at.as_deref(),
            Some("2026-11-17T09:00:00.000Z")
        );
    }

    #[test]
    fn timers_run_warn_breach_and_meet() {
        let p = policy(60, 480);
        // 30 business minutes in: first response ok with 30 left, resolution ok with 450 left.
        let s = sla_state(&p, &facts("open", None, None), ts("2026-11-16T09:30:00Z")).unwrap();
        assert_eq!(s.first_response.state, TimerState::Ok);
        assert_eq!(s.first_response.remaining_minutes, Some(30));
        assert_eq!(
            s.first_response.due_at.as_deref(),
            Some("2026-11-16T10:00:00.000Z")
        );
        assert_eq!(s.resolution.remaining_minutes, Some(450));
        // 12 minutes left of 60 is 20%: warning.
        let s = sla_state(&p, &facts("open", None, None), ts("2026-11-16T09:48:00Z")).unwrap();
        assert_eq!(s.first_response.state, TimerState::Warning);
        assert_eq!(s.first_response.remaining_minutes, Some(12));
        let s = sla_state(&p, &facts("open", None, None), ts("2026-11-16T09:47:00Z")).unwrap();
        assert_eq!(s.first_response.state, TimerState::Ok);
        // Overdue by business minutes only: Tuesday 10:00 Berlin is 7 business hours (Monday
        // 11–17 and Tuesday 9–10) past Monday's 11:00 due time.
        let s = sla_state(&p, &facts("open", None, None), ts("2026-11-17T09:00:00Z")).unwrap();
        assert_eq!(s.first_response.state, TimerState::Breached);
        assert_eq!(s.first_response.overdue_minutes, Some(7 * 60));
        // Resolution: 8 business hours from Monday 10:00 is Tuesday 10:00 Berlin.
        assert_eq!(
            s.resolution.due_at.as_deref(),
            Some("2026-11-17T09:00:00.000Z")
        );
        assert_eq!(s.resolution.state, TimerState::Breached);
        assert_eq!(s.resolution.overdue_minutes, Some(0));
        // Met in time, and met late.
        let s = sla_state(
            &p,
            &facts(
                "closed",
                Some("2026-11-16T09:20:00.000Z"),
                Some("2026-11-17T10:00:00.000Z"),
            ),
            ts("2026-11-20T09:00:00Z"),
        )
        .unwrap();
        assert_eq!(s.first_response.state, TimerState::Met);
        assert_eq!(s.resolution.state, TimerState::Breached);
        assert_eq!(s.resolution.overdue_minutes, Some(60));
        // A closed_at left over from an earlier close does not count while open again.
        let s = sla_state(
            &p,
            &facts("open", None, Some("2026-11-16T09:10:00.000Z")),
            ts("2026-11-16T09:30:00Z"),
        )
        .unwrap();
        assert_eq!(s.resolution.state, TimerState::Ok);
        assert_eq!(s.resolution.met_at, None);
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50.0), Some(5));
        assert_eq!(percentile(&v, 90.0), Some(9));
        assert_eq!(percentile(&[7], 90.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
