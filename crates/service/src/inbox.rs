//! The unified inbox: every item is threaded into a conversation, and a new conversation is
//! routed to the team that should answer it by the workspace's routing rules.
//!
//! **Threading.** An item's conversation is found by its thread key, unique per workspace
//! and network:
//!
//! - a direct message keys by its participants, `dm:` followed by the sorted, lower-cased
//!   handles of the author and the workspace's own account on that network (the `account`
//!   of a live channel of the workspace on that network). When the author *is* the own
//!   account (a message we sent), its mentions stand for the other side. Without a known own
//!   account the key is the author alone, so one person's DMs stay one conversation;
//! - any other item that answers something (a reply or comment) keys by its `root_id`, or by
//!   its `parent_id` when the network gives no root;
//! - a top-level item (a post, mention or review) keys by its own external id, so replies
//!   that arrive later, carrying it as their root, join it. A top-level mention makes a
//!   `mention` conversation, a DM a `dm` one, everything else a `thread`.
//!
//! One item belongs to one conversation; processing an item again changes nothing.
//!
//! **Routing** happens once, when a conversation is created, on the item that created it
//! (later items do not re-route it; [`App::rerun_routing`] does). The workspace's rules are
//! tried in order (`position`, then creation): all of a rule's conditions must hold; its
//! actions apply; evaluation stops at the first match unless the rule says
//! `continue_matching`, in which case later rules can add tags, change the team, and so on.
//! A conversation no rule matches goes to the unassigned queue (team NULL). A workspace
//! without enabled rules uses the defaults: complaint or bug_report to its `support` team
//! (bug_report also tagged `product`), purchase_intent to `sales`, recruiting to
//! `recruiting`, feature_request to `product`, each only if the workspace has a team with
//! that function.
//!
//! **Assignment** by a rule: `round_robin` gives the conversation to the team member who has
//! been given the fewest of the team's conversations so far (ties by user id), which takes
//! turns; `least_loaded` to the member with the fewest open or pending ones; a user id to
//! that member.

use crate::access::Access;
use crate::{Actor, App, Audit, ServiceError, ServiceResult, NONE};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_core::{validate, Item, ItemKind, Permission, Team, TeamFunction, Workspace};
use switchboard_search::document::handle_keys;
use switchboard_search::matcher::Prepared;
use switchboard_search::{parse, IndexDoc, Query};
use switchboard_store::inbox::{
    self as store, Conversation, ConversationEvent, ConversationFilter, NewEvent, Routing, RuleRow,
    ThreadRef,
};
use switchboard_store::{items, new_id, now, teams, AnyConnection};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The router's name in `inbox_cursor`.
pub const ROUTER_CURSOR: &str = "router";
/// Changes routed per write transaction.
const ROUTE_BATCH: i64 = 2000;
/// As for the search index: a hole in the change log is waited for this long.
const GAP_TIMEOUT: Duration = Duration::from_secs(30);
/// Items a rule preview looks at.
const PREVIEW_ITEMS: i64 = 1000;
const PREVIEW_SAMPLES: usize = 10;
/// At most this many conversations are examined per page when `q` filters a list.
const Q_SCAN_LIMIT: usize = 2000;

pub const STATUSES: &[&str] = &["open", "pending", "snoozed", "closed"];
pub const PRIORITIES: &[&str] = &["low", "normal", "high", "urgent"];

/// The router's memory of holes in the change log; shared by clones of [`App`].
#[derive(Clone, Default)]
pub(crate) struct RouterState {
    gaps: Arc<tokio::sync::Mutex<HashMap<i64, Instant>>>,
}

// ---------------------------------------------------------------- threading

fn norm_handle(h: &str) -> String {
    h.trim().trim_start_matches('@').to_lowercase()
}

/// The conversation kind and thread key of an item (see the module documentation).
pub fn thread_of(item: &Item, own_account: Option<&str>) -> (&'static str, String) {
    if item.kind == ItemKind::DirectMessage {
        let author = norm_handle(&item.author.handle);
        let own = own_account.map(norm_handle).filter(|o| !o.is_empty());
        let mut people: Vec<String> = match own {
            Some(own) if own == author => {
                let mut v: Vec<String> = item.mentions.iter().map(|m| norm_handle(m)).collect();
                v.push(own);
                v
            }
            Some(own) => vec![author, own],
            None => vec![author],
        };
        people.retain(|p| !p.is_empty());
        people.sort();
        people.dedup();
        return ("dm", format!("dm:{}", people.join(",")));
    }
    if let Some(root) = item.root_id.as_deref().filter(|r| !r.is_empty()) {
        return ("thread", root.to_string());
    }
    if let Some(parent) = item.parent_id.as_deref().filter(|r| !r.is_empty()) {
        return ("thread", parent.to_string());
    }
    let kind = if item.kind == ItemKind::Mention {
        "mention"
    } else {
        "thread"
    };
    (kind, item.external_id.clone())
}

// ---------------------------------------------------------------- rules

/// All given conditions must hold; an empty list or absent value is no condition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conditions {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub intents_any: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sentiments_any: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub langs_any: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub networks_any: Vec<String>,
    /// A listening query (docs/query-language.md) the item must match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_followers: Option<i64>,
    /// Handles; `anna` matches `anna@mastodon.social`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vip_authors: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Actions {
    /// A team id or name of the workspace; stored as the id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add_tags: Vec<String>,
    /// `round_robin`, `least_loaded`, or a user id among the team's members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assign: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    pub name: String,
    /// Evaluation order, lowest first; default after the last rule.
    #[serde(default)]
    pub position: Option<i64>,
    #[serde(default)]
    pub conditions: Conditions,
    #[serde(default)]
    pub actions: Actions,
    #[serde(default)]
    pub continue_matching: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A change to a rule: what is given replaces what was.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulePatch {
    pub name: Option<String>,
    pub position: Option<i64>,
    pub conditions: Option<Conditions>,
    pub actions: Option<Actions>,
    pub continue_matching: Option<bool>,
    pub enabled: Option<bool>,
}

/// A rule ready to evaluate.
#[derive(Debug, Clone)]
struct Compiled {
    id: String,
    conditions: Conditions,
    query: Option<Query>,
    actions: Actions,
    continue_matching: bool,
}

impl Compiled {
    fn from_row(r: &RuleRow) -> Option<Compiled> {
        let conditions: Conditions = serde_json::from_value(r.conditions.clone()).ok()?;
        let actions: Actions = serde_json::from_value(r.actions.clone()).ok()?;
        // Validated when saved; a query that no longer parses disables the rule.
        let query = match conditions.query.as_deref() {
            Some(q) => Some(parse(q).ok()?),
            None => None,
        };
        Some(Compiled {
            id: r.id.clone(),
            conditions,
            query,
            actions,
            continue_matching: r.continue_matching,
        })
    }

    fn matches(&self, item: &Item, prepared: &Prepared) -> bool {
        let c = &self.conditions;
        let any = |list: &[String], v: &str| list.is_empty() || list.iter().any(|x| x == v);
        if !c.intents_any.is_empty() && !c.intents_any.iter().any(|i| item.intents.contains(i)) {
            return false;
        }
        if !any(&c.sentiments_any, &item.sentiment.label)
            || !any(&c.langs_any, item.lang.as_deref().unwrap_or("und"))
            || !any(&c.networks_any, item.network.as_str())
        {
            return false;
        }
        if let Some(min) = c.min_followers {
            if item.author.followers.unwrap_or(0) < min {
                return false;
            }
        }
        if !c.vip_authors.is_empty() {
            let keys = handle_keys(&item.author.handle);
            let vip = c
                .vip_authors
                .iter()
                .any(|v| handle_keys(v).first().is_some_and(|k| keys.contains(k)));
            if !vip {
                return false;
            }
        }
        if let Some(q) = &self.query {
            if !prepared.matches(q) {
                return false;
            }
        }
        true
    }
}

/// Where a conversation goes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Outcome {
    pub team_id: Option<String>,
    pub priority: String,
    pub tags: Vec<String>,
    /// The assignment directive of the last matching rule that had one.
    pub assign: Option<String>,
    /// The last rule that matched (`default:INTENT` for a default), None when none did.
    pub rule: Option<String>,
    /// Every rule that matched, in order.
    #[serde(skip)]
    pub matched: Vec<String>,
}

/// The defaults for a workspace without rules: (intent, team function, extra tag).
/// Bug reports come first: a crash report is usually a complaint too, and it must still reach
/// Support tagged for Product.
const DEFAULTS: &[(&str, TeamFunction, Option<&str>)] = &[
    ("bug_report", TeamFunction::Support, Some("product")),
    ("complaint", TeamFunction::Support, None),
    ("purchase_intent", TeamFunction::Sales, None),
    ("recruiting", TeamFunction::Recruiting, None),
    ("feature_request", TeamFunction::Product, None),
];

/// A workspace's rules and teams, loaded once per batch.
struct RoutingContext {
    rules: Vec<Compiled>,
    teams: Vec<Team>,
    /// Own account per network, from the workspace's live channels.
    own_accounts: HashMap<String, String>,
}

impl RoutingContext {
    async fn load(c: &mut AnyConnection, workspace_id: &str) -> ServiceResult<Option<Self>> {
        if switchboard_store::workspaces::get(c, workspace_id)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let rules = store::list_rules(c, workspace_id)
            .await?
            .iter()
            .filter(|r| r.enabled)
            .filter_map(Compiled::from_row)
            .collect();
        let teams = teams::list(c, workspace_id).await?;
        let own_accounts = items::channels::list(c, workspace_id)
            .await?
            .into_iter()
            .map(|ch| (ch.network.as_str().to_string(), ch.account))
            .collect();
        Ok(Some(RoutingContext {
            rules,
            teams,
            own_accounts,
        }))
    }

    fn evaluate(&self, item: &Item) -> Outcome {
        evaluate(&self.rules, &self.teams, item)
    }
}

fn evaluate(rules: &[Compiled], teams: &[Team], item: &Item) -> Outcome {
    let mut out = Outcome {
        priority: "normal".into(),
        ..Outcome::default()
    };
    if rules.is_empty() {
        for (intent, function, tag) in DEFAULTS {
            if !item.intents.iter().any(|i| i == intent) {
                continue;
            }
            let Some(team) = teams.iter().find(|t| t.function == *function) else {
                continue;
            };
            out.team_id = Some(team.id.clone());
            out.tags.extend(tag.map(str::to_string));
            out.rule = Some(format!("default:{intent}"));
            out.matched.push(format!("default:{intent}"));
            break;
        }
        return out;
    }
    let doc = IndexDoc::from_item(item);
    let prepared = Prepared::new(&doc);
    for r in rules {
        if !r.matches(item, &prepared) {
            continue;
        }
        let a = &r.actions;
        if let Some(t) = &a.team {
            // A rule naming a team deleted since leaves the team as it was.
            if teams.iter().any(|x| &x.id == t) {
                out.team_id = Some(t.clone());
            }
        }
        if let Some(p) = &a.priority {
            out.priority = p.clone();
        }
        for t in &a.add_tags {
            if !out.tags.contains(t) {
                out.tags.push(t.clone());
            }
        }
        if a.assign.is_some() {
            out.assign = a.assign.clone();
        }
        out.rule = Some(r.id.clone());
        out.matched.push(r.id.clone());
        if !r.continue_matching {
            break;
        }
    }
    out
}

/// The user a directive names, among the team's members; None when it names nobody.
async fn resolve_assignee(
    c: &mut AnyConnection,
    workspace_id: &str,
    team_id: Option<&str>,
    directive: Option<&str>,
) -> ServiceResult<Option<String>> {
    let (Some(team_id), Some(directive)) = (team_id, directive) else {
        return Ok(None);
    };
    let members: Vec<String> = teams::members(c, team_id)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    if members.is_empty() {
        return Ok(None);
    }
    match directive {
        "round_robin" | "least_loaded" => {
            let loads: HashMap<String, (i64, i64)> =
                store::assignee_loads(c, workspace_id, team_id)
                    .await?
                    .into_iter()
                    .map(|(u, total, active)| (u, (total, active)))
                    .collect();
            let key = |u: &String| {
                let (total, active) = loads.get(u).copied().unwrap_or((0, 0));
                let n = if directive == "round_robin" {
                    total
                } else {
                    active
                };
                (n, u.clone())
            };
            Ok(members.iter().min_by_key(|u| key(u)).cloned())
        }
        user => Ok(members.into_iter().find(|m| m == user)),
    }
}

// ---------------------------------------------------------------- the router

#[derive(Debug, Clone, Default, Serialize)]
pub struct RouteReport {
    /// Conversations created (and routed).
    pub created: u64,
    /// Items that joined an existing conversation.
    pub joined: u64,
    /// Items already in a conversation.
    pub unchanged: u64,
    pub seq: i64,
}

/// Threads a batch of items (oldest first) into their conversations, routes the
/// conversations they create, and reopens closed, snoozed or pending ones the customer wrote
/// to again.
async fn thread_batch(
    c: &mut AnyConnection,
    contexts: &HashMap<String, Option<RoutingContext>>,
    items: &[Item],
    report: &mut RouteReport,
) -> ServiceResult<()> {
    let mut batch: Vec<&Item> = Vec::with_capacity(items.len());
    let mut keys: Vec<(&'static str, String, bool)> = Vec::with_capacity(items.len());
    for item in items {
        let Some(Some(ctx)) = contexts.get(&item.workspace_id) else {
            continue;
        };
        let own = ctx
            .own_accounts
            .get(item.network.as_str())
            .map(String::as_str);
        let (kind, key) = thread_of(item, own);
        // Our own account's replies (sent from the network's app) reopen nothing.
        let from_us = own.is_some_and(|o| norm_handle(o) == norm_handle(&item.author.handle));
        batch.push(item);
        keys.push((kind, key, !from_us));
    }
    let refs: Vec<ThreadRef> = batch
        .iter()
        .zip(&keys)
        .map(|(item, (kind, key, reopens))| ThreadRef {
            workspace_id: &item.workspace_id,
            network: item.network.as_str(),
            thread_key: key,
            kind,
            item_id: &item.id,
            item_created_at: &item.created_at,
            reopens: *reopens,
        })
        .collect();
    let mut outcomes: HashMap<usize, Outcome> = HashMap::new();
    let attached = store::attach_items(c, &refs, |i| {
        let item = batch[i];
        let out = match contexts.get(&item.workspace_id) {
            Some(Some(ctx)) => ctx.evaluate(item),
            _ => Outcome::default(),
        };
        let routing = Routing {
            team_id: out.team_id.clone(),
            priority: out.priority.clone(),
            tags: out.tags.clone(),
            rule: out.rule.clone(),
        };
        outcomes.insert(i, out);
        routing
    })
    .await?;

    let mut events: Vec<NewEvent> = Vec::new();
    for (i, a) in attached.iter().enumerate() {
        let item = batch[i];
        if a.already {
            report.unchanged += 1;
            continue;
        }
        if !a.created {
            report.joined += 1;
            if let Some(was) = &a.reopened {
                events.push(NewEvent {
                    conversation_id: &a.conversation_id,
                    actor: "router",
                    kind: "reopened",
                    data: serde_json::json!({ "item_id": item.id, "was": was }),
                });
            }
            continue;
        }
        report.created += 1;
        let Some(out) = outcomes.get(&i) else {
            continue;
        };
        // Assigned one by one, each seeing the previous ones: round robin takes turns even
        // within a batch.
        let assignee = match out.assign.as_deref() {
            Some(directive) => {
                let who = resolve_assignee(
                    c,
                    &item.workspace_id,
                    out.team_id.as_deref(),
                    Some(directive),
                )
                .await?;
                if who.is_some() {
                    store::set_assignment(
                        c,
                        &a.conversation_id,
                        out.team_id.as_deref(),
                        who.as_deref(),
                    )
                    .await?;
                }
                who
            }
            None => None,
        };
        events.push(NewEvent {
            conversation_id: &a.conversation_id,
            actor: "router",
            kind: "created",
            data: serde_json::json!({ "item_id": item.id }),
        });
        events.push(NewEvent {
            conversation_id: &a.conversation_id,
            actor: "router",
            kind: "routed",
            data: serde_json::json!({
                "team_id": out.team_id, "assignee_id": assignee, "priority": out.priority,
                "tags": out.tags, "rule": out.rule,
            }),
        });
    }
    store::add_events(c, &events).await?;
    Ok(())
}

impl App {
    /// Snoozed conversations whose `snoozed_until` has passed are open again, with a timeline
    /// entry saying so.
    pub async fn wake_snoozed(&self) -> ServiceResult<usize> {
        let now = switchboard_store::now();
        let due = {
            let mut c = self.store.read().await?;
            store::due_snoozed(&mut c, &now).await?
        };
        if due.is_empty() {
            return Ok(0);
        }
        let mut tx = self.store.write().await?;
        let mut woken = 0;
        for (id, ws) in &due {
            // Re-checked under the write lock: someone may have closed it meanwhile.
            if let Some(conv) = store::get(&mut tx, ws, id).await? {
                if conv.status == "snoozed" {
                    store::set_status(&mut tx, id, "open", None).await?;
                    store::add_event(
                        &mut tx,
                        id,
                        "router",
                        "snooze_ended",
                        &serde_json::json!({}),
                    )
                    .await?;
                    woken += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(woken)
    }

    /// Follows the store's change log from the router's own cursor: threads every new item
    /// into its conversation and routes the conversations this creates, a batch per write
    /// transaction (the cursor moves in the same transaction). Sequence gaps are handled as
    /// by [`App::sync_index`].
    pub async fn route_new_items(&self) -> ServiceResult<RouteReport> {
        let mut gaps = self.router.gaps.lock().await;
        let mut report = RouteReport::default();
        self.wake_snoozed().await?;
        // Look before taking the write lock: most rounds find nothing to do.
        {
            let mut c = self.store.read().await?;
            report.seq = store::cursor(&mut c, ROUTER_CURSOR).await?;
            if items::changes_after(&mut c, report.seq, 1)
                .await?
                .is_empty()
            {
                return Ok(report);
            }
        }
        loop {
            let mut tx = self.store.write().await?;
            let seq = store::lock_cursor(&mut tx, ROUTER_CURSOR).await?;
            report.seq = seq;
            let changes = items::changes_after(&mut tx, seq, ROUTE_BATCH).await?;
            if changes.is_empty() {
                tx.commit().await?;
                break;
            }
            let mut contiguous = seq;
            let mut blocked = false;
            for (s, _) in &changes {
                if *s == contiguous + 1 {
                    contiguous = *s;
                    continue;
                }
                let seen = *gaps.entry(contiguous + 1).or_insert_with(Instant::now);
                if seen.elapsed() >= GAP_TIMEOUT {
                    contiguous = *s;
                } else {
                    blocked = true;
                    break;
                }
            }
            gaps.retain(|k, _| *k > contiguous);
            let mut seen = HashSet::new();
            let ids: Vec<String> = changes
                .iter()
                .filter(|(s, _)| *s <= contiguous)
                .map(|(_, id)| id.clone())
                .filter(|id| seen.insert(id.clone()))
                .collect();
            let mut found = items::get_many(&mut tx, &ids).await?;
            // Oldest first, so a post seen in the same batch as its replies creates the conversation.
            found.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
            let mut contexts: HashMap<String, Option<RoutingContext>> = HashMap::new();
            for item in &found {
                if !contexts.contains_key(&item.workspace_id) {
                    let ctx = RoutingContext::load(&mut tx, &item.workspace_id).await?;
                    contexts.insert(item.workspace_id.clone(), ctx);
                }
            }
            thread_batch(&mut tx, &contexts, &found, &mut report).await?;
            store::set_cursor(&mut tx, ROUTER_CURSOR, contiguous).await?;
            tx.commit().await?;
            report.seq = contiguous;
            if !found.is_empty() {
                let mut c = self.store.read().await?;
                // Planning help, not the router's work: a refusal (say, no ANALYZE right) is
                // logged and routing goes on.
                if let Err(e) = store::refresh_statistics(&mut c).await {
                    tracing::warn!(error = %e, "could not refresh the inbox tables' statistics");
                }
            }
            if blocked || contiguous == seq || (changes.len() as i64) < ROUTE_BATCH {
                break;
            }
        }
        Ok(report)
    }
}

// ---------------------------------------------------------------- reading and working the inbox

#[derive(Debug, Clone, Default)]
pub struct ConversationQuery {
    /// `all` (default), `mine`, `unassigned` or `team:{team id or name}`.
    pub view: Option<String>,
    pub status: Option<String>,
    pub network: Option<String>,
    pub intent: Option<String>,
    pub sentiment: Option<String>,
    pub lang: Option<String>,
    /// A user id, or `me`.
    pub assignee: Option<String>,
    pub tag: Option<String>,
    /// A listening query: a conversation is listed when any of its items matches.
    pub q: Option<String>,
    /// An SLA timer state (`ok`, `warning`, `breached`, `met`, `paused`): a conversation is
    /// listed when its first-response or resolution timer is in it.
    pub sla: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConversationPage {
    pub conversations: Vec<Conversation>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConversationDetail {
    #[serde(flatten)]
    pub conversation: Conversation,
    /// Oldest first.
    pub items: Vec<Item>,
    /// The timeline, oldest first.
    pub events: Vec<ConversationEvent>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    /// A team id or name of the workspace.
    #[serde(default)]
    pub team: Option<String>,
    /// A user id, or `me`.
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusInput {
    pub status: String,
    /// RFC 3339; required with `snoozed`, refused otherwise.
    #[serde(default)]
    pub snoozed_until: Option<String>,
}

/// Priority and tags set by hand; what is absent stays.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationPatch {
    #[serde(default)]
    pub priority: Option<String>,
    /// Replaces the tags (lower-cased, `#` dropped, repeats removed).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 50;

/// Tags as stored: trimmed, without `#`, lower-case, each once, in the order given.
fn clean_tags(tags: &[String]) -> ServiceResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t = t.trim().trim_start_matches('#').to_lowercase();
        if t.is_empty() || out.contains(&t) {
            continue;
        }
        if t.chars().count() > MAX_TAG_CHARS || t.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                "tags",
                format!("a tag is at most {MAX_TAG_CHARS} characters, without control characters"),
            ));
        }
        out.push(t);
    }
    if out.len() > MAX_TAGS {
        return Err(ServiceError::invalid(
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    Ok(out)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RerunInput {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RerunReport {
    pub conversations: u64,
    /// How many ended up somewhere else (team, assignee, priority or tags).
    pub changed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviewTeam {
    /// None: the unassigned queue.
    pub team_id: Option<String>,
    pub team: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviewSample {
    pub item_id: String,
    pub text: String,
    pub created_at: String,
    pub team_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// Items looked at (the workspace's latest, at most 1,000).
    pub items: u64,
    /// Items this rule would route (reached and matched).
    pub matched: u64,
    pub teams: Vec<PreviewTeam>,
    pub samples: Vec<PreviewSample>,
}

fn bad_cursor() -> ServiceError {
    ServiceError::invalid("cursor", "not a cursor from a previous page")
}

fn encode_cursor(c: &Conversation) -> String {
    base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        format!("{}|{}", c.last_item_at, c.id),
    )
}

fn decode_cursor(s: &str) -> ServiceResult<(String, String)> {
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s)
        .map_err(|_| bad_cursor())?;
    let text = String::from_utf8(bytes).map_err(|_| bad_cursor())?;
    let (a, b) = text.split_once('|').ok_or_else(bad_cursor)?;
    Ok((a.to_string(), b.to_string()))
}

fn one_of(field: &str, v: &str, allowed: &[&str]) -> ServiceResult<String> {
    let v = v.trim().to_ascii_lowercase();
    if allowed.contains(&v.as_str()) {
        Ok(v)
    } else {
        Err(ServiceError::invalid(
            field,
            format!("expected one of: {}", allowed.join(", ")),
        ))
    }
}

fn parse_time(field: &str, v: &str) -> ServiceResult<String> {
    if let Ok(t) = OffsetDateTime::parse(v.trim(), &Rfc3339) {
        return Ok(switchboard_store::timestamp(t));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(v.trim(), &fmt)
        .map(|d| switchboard_store::timestamp(d.midnight().assume_utc()))
        .map_err(|_| ServiceError::invalid(field, "use an RFC 3339 time or YYYY-MM-DD"))
}

/// A team of the workspace by id or name.
fn find_team<'a>(teams: &'a [Team], field: &str, reference: &str) -> ServiceResult<&'a Team> {
    let r = reference.trim();
    teams
        .iter()
        .find(|t| t.id == r)
        .or_else(|| teams.iter().find(|t| t.name.eq_ignore_ascii_case(r)))
        .ok_or_else(|| ServiceError::invalid(field, format!("no team {r:?} in this workspace")))
}

impl App {
    /// A conversation of a workspace the caller can read the inbox of, then permission `p`
    /// (so a conversation the caller cannot see is "not found" before it is "forbidden").
    pub(crate) async fn conversation_in(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        p: Permission,
    ) -> ServiceResult<(Workspace, Conversation)> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::InboxRead)?;
        if !switchboard_core::validate::looks_like_id(id) {
            return Err(ServiceError::NotFound);
        }
        let conv = store::get(&mut c, &wa.workspace.id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        wa.require(p)?;
        Ok((wa.workspace.clone(), conv))
    }

    /// Conversations of the workspace, latest activity first. `q` is matched with the
    /// in-memory matcher against each candidate's items (the SQL filters narrow first), so a
    /// page looks at up to 2,000 conversations; `next_cursor` continues after the last one
    /// looked at.
    pub async fn list_conversations(
        &self,
        actor: &Actor,
        ws: &str,
        q: ConversationQuery,
    ) -> ServiceResult<ConversationPage> {
        let mut c = self.store.read().await?;
        let w = crate::access::workspace_with(&mut c, actor, ws, Permission::InboxRead).await?;
        let me = || {
            actor.user_id().map(str::to_string).ok_or_else(|| {
                ServiceError::invalid("view", "the command line has no inbox of its own")
            })
        };
        let mut f = ConversationFilter::default();
        match q.view.as_deref().map(str::trim).unwrap_or("all") {
            "" | "all" => {}
            "mine" => f.assignee = Some(me()?),
            "unassigned" => f.team = Some(None),
            v => match v.strip_prefix("team:") {
                Some(t) => {
                    let list = teams::list(&mut c, &w.id).await?;
                    f.team = Some(Some(find_team(&list, "view", t)?.id.clone()));
                }
                None => {
                    return Err(ServiceError::invalid(
                        "view",
                        "expected all, mine, unassigned or team:{team}",
                    ))
                }
            },
        }
        if let Some(s) = &q.status {
            f.status = Some(one_of("status", s, STATUSES)?);
        }
        if let Some(n) = &q.network {
            f.network = Some(
                n.parse::<switchboard_core::Network>()
                    .map_err(|e| ServiceError::invalid("network", e))?
                    .as_str()
                    .to_string(),
            );
        }
        if let Some(a) = &q.assignee {
            f.assignee = Some(if a == "me" {
                me()?
            } else {
                a.trim().to_string()
            });
        }
        f.tag = q.tag.clone();
        f.intent = q.intent.clone();
        f.sentiment = q.sentiment.clone();
        f.lang = q.lang.clone();
        let query =
            q.q.as_deref()
                .filter(|s| !s.trim().is_empty())
                .map(|s| parse(s).map_err(|e| ServiceError::query("q", e)))
                .transpose()?;
        let sla = q
            .sla
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| crate::sla::timer_state("sla", s))
            .transpose()?;
        let limit = q.limit.unwrap_or(50).clamp(1, 200);
        let mut before = q.cursor.as_deref().map(decode_cursor).transpose()?;
        if query.is_none() && sla.is_none() {
            let list = store::list(
                &mut c,
                &w.id,
                &f,
                before.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
                limit,
            )
            .await?;
            let next_cursor = (list.len() as i64 == limit)
                .then(|| list.last().map(encode_cursor))
                .flatten();
            return Ok(ConversationPage {
                conversations: list,
                next_cursor,
            });
        }
        // The SQL filters narrow; `q` and the SLA state are checked per candidate, a chunk at
        // a time, until the page is full or Q_SCAN_LIMIT candidates were looked at.
        let mut out = Vec::new();
        let mut scanned = 0usize;
        let mut next_cursor = None;
        'pages: loop {
            let chunk = 200;
            let list = store::list(
                &mut c,
                &w.id,
                &f,
                before.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
                chunk,
            )
            .await?;
            let exhausted = (list.len() as i64) < chunk;
            if let Some(last) = list.last() {
                before = Some((last.last_item_at.clone(), last.id.clone()));
            }
            let ids: Vec<String> = list.iter().map(|c| c.id.clone()).collect();
            let in_state = match sla {
                Some(want) => Some(self.with_sla_state(&mut c, &w.id, &ids, want).await?),
                None => None,
            };
            // One read for the whole chunk's items, not two per conversation.
            let matching: Option<HashSet<String>> = match &query {
                Some(query) => {
                    let wanted: Vec<String> = ids
                        .into_iter()
                        .filter(|id| in_state.as_ref().is_none_or(|s| s.contains(id)))
                        .collect();
                    let mut hits = HashSet::new();
                    for (conv, item) in items::of_conversations(&mut c, &wanted).await? {
                        if !hits.contains(&conv)
                            && Prepared::new(&IndexDoc::from_item(&item)).matches(query)
                        {
                            hits.insert(conv);
                        }
                    }
                    Some(hits)
                }
                None => None,
            };
            for conv in list {
                scanned += 1;
                let hit = in_state.as_ref().is_none_or(|s| s.contains(&conv.id))
                    && matching.as_ref().is_none_or(|m| m.contains(&conv.id));
                let conv_last = conv.clone();
                if hit {
                    out.push(conv);
                }
                if out.len() as i64 == limit || scanned >= Q_SCAN_LIMIT {
                    // Continue after the last conversation looked at.
                    next_cursor = Some(encode_cursor(&conv_last));
                    break 'pages;
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(ConversationPage {
            conversations: out,
            next_cursor,
        })
    }

    pub async fn get_conversation(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
    ) -> ServiceResult<ConversationDetail> {
        let (_, conversation) = self
            .conversation_in(actor, ws, id, Permission::InboxRead)
            .await?;
        let mut c = self.store.read().await?;
        let ids = store::item_ids(&mut c, &conversation.id).await?;
        let mut found: HashMap<String, Item> = items::get_many(&mut c, &ids)
            .await?
            .into_iter()
            .map(|i| (i.id.clone(), i))
            .collect();
        let items = ids.iter().filter_map(|id| found.remove(id)).collect();
        let events = store::events(&mut c, &conversation.id).await?;
        Ok(ConversationDetail {
            conversation,
            items,
            events,
        })
    }

    /// Gives the conversation to a team and/or a person. Moving it to another team without
    /// naming a person clears the assignee; the person must be able to read the inbox here.
    pub async fn assign_conversation(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        input: AssignInput,
    ) -> ServiceResult<Conversation> {
        let (w, before) = self
            .conversation_in(actor, ws, id, Permission::InboxReply)
            .await?;
        if input.team.is_none() && input.user.is_none() {
            return Err(ServiceError::invalid(
                "team",
                "name a team, a user, or both",
            ));
        }
        let mut c = self.store.read().await?;
        let mut team_id = before.team_id.clone();
        if let Some(t) = &input.team {
            let list = teams::list(&mut c, &w.id).await?;
            team_id = Some(find_team(&list, "team", t)?.id.clone());
        }
        let mut assignee = if team_id != before.team_id {
            None
        } else {
            before.assignee_id.clone()
        };
        if let Some(u) = &input.user {
            let uid = if u.trim() == "me" {
                actor.user_id().map(str::to_string).ok_or_else(|| {
                    ServiceError::invalid("user", "the command line is nobody; name a user")
                })?
            } else {
                u.trim().to_string()
            };
            let nobody = || ServiceError::invalid("user", "no such user can read this inbox");
            if !validate::looks_like_id(&uid) {
                return Err(nobody());
            }
            let user = switchboard_store::users::get(&mut c, &uid)
                .await?
                .ok_or_else(nobody)?;
            let access = Access::load(&mut c, &Actor::User(user)).await?;
            let can = access
                .workspaces
                .iter()
                .any(|x| x.workspace.id == w.id && x.can(Permission::InboxRead));
            if !can {
                return Err(nobody());
            }
            assignee = Some(uid);
        }
        drop(c);
        let mut tx = self.store.write().await?;
        store::set_assignment(&mut tx, &before.id, team_id.as_deref(), assignee.as_deref()).await?;
        store::add_event(
            &mut tx,
            &before.id,
            &actor.label(),
            "assigned",
            &serde_json::json!({ "team_id": team_id, "assignee_id": assignee }),
        )
        .await?;
        let after = store::get(&mut tx, &w.id, &before.id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "conversation.assign",
            target_type: "conversation",
            target_id: &before.id,
        }
        .write(
            &mut tx,
            actor,
            Some(
                &serde_json::json!({"team_id": before.team_id, "assignee_id": before.assignee_id}),
            ),
            Some(&serde_json::json!({"team_id": team_id, "assignee_id": assignee})),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn set_conversation_status(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        input: StatusInput,
    ) -> ServiceResult<Conversation> {
        let (w, before) = self
            .conversation_in(actor, ws, id, Permission::InboxReply)
            .await?;
        let status = one_of("status", &input.status, STATUSES)?;
        let until = match (status.as_str(), input.snoozed_until.as_deref()) {
            ("snoozed", Some(t)) => Some(parse_time("snoozed_until", t)?),
            ("snoozed", None) => {
                return Err(ServiceError::invalid(
                    "snoozed_until",
                    "say until when the conversation is snoozed",
                ))
            }
            (_, Some(_)) => {
                return Err(ServiceError::invalid(
                    "snoozed_until",
                    "only a snoozed conversation has a snoozed_until",
                ))
            }
            (_, None) => None,
        };
        let mut tx = self.store.write().await?;
        store::set_status(&mut tx, &before.id, &status, until.as_deref()).await?;
        store::add_event(
            &mut tx,
            &before.id,
            &actor.label(),
            "status",
            &serde_json::json!({ "from": before.status, "to": status, "snoozed_until": until }),
        )
        .await?;
        let after = store::get(&mut tx, &w.id, &before.id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        tx.commit().await?;
        Ok(after)
    }
}

impl App {
    /// Sets the conversation's priority and/or tags by hand (`inbox.reply`), with a timeline
    /// entry per change and an audit entry; nothing changes, nothing is written.
    pub async fn update_conversation(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        patch: ConversationPatch,
    ) -> ServiceResult<Conversation> {
        let (w, conv) = self
            .conversation_in(actor, ws, id, Permission::InboxReply)
            .await?;
        let priority = patch
            .priority
            .as_deref()
            .map(|p| one_of("priority", p, PRIORITIES))
            .transpose()?;
        let tags = patch.tags.as_deref().map(clean_tags).transpose()?;
        let mut tx = self.store.write().await?;
        // Read again under the write lock: routing or another agent may have changed it.
        let before = store::get(&mut tx, &w.id, &conv.id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let priority = priority.unwrap_or_else(|| before.priority.clone());
        let tags = tags.unwrap_or_else(|| before.tags.clone());
        if priority == before.priority && tags == before.tags {
            return Ok(before);
        }
        store::set_priority_tags(&mut tx, &before.id, &priority, &tags).await?;
        let label = actor.label();
        let mut events = Vec::new();
        if priority != before.priority {
            events.push(NewEvent {
                conversation_id: &before.id,
                actor: &label,
                kind: "priority",
                data: serde_json::json!({ "from": before.priority, "to": priority }),
            });
        }
        if tags != before.tags {
            events.push(NewEvent {
                conversation_id: &before.id,
                actor: &label,
                kind: "tags",
                data: serde_json::json!({ "from": before.tags, "to": tags }),
            });
        }
        store::add_events(&mut tx, &events).await?;
        let after = store::get(&mut tx, &w.id, &before.id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "conversation.update",
            target_type: "conversation",
            target_id: &before.id,
        }
        .write(
            &mut tx,
            actor,
            Some(&serde_json::json!({ "priority": before.priority, "tags": before.tags })),
            Some(&serde_json::json!({ "priority": after.priority, "tags": after.tags })),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }
}

// ---------------------------------------------------------------- rules: editing, preview, re-run

fn clean_list(v: &[String]) -> Vec<String> {
    let mut out: Vec<String> = v
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    out.dedup();
    out
}

/// Validates a rule against the workspace's teams and normalises it (team names to ids,
/// values lower-cased).
async fn check_rule(
    c: &mut AnyConnection,
    workspace_id: &str,
    name: &str,
    mut cond: Conditions,
    mut act: Actions,
) -> ServiceResult<(String, Conditions, Actions)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ServiceError::invalid(
            "name",
            "give the rule a name of 1 to 100 characters",
        ));
    }
    let lower = |v: &[String]| -> Vec<String> {
        clean_list(v)
            .into_iter()
            .map(|s| s.to_lowercase())
            .collect()
    };
    cond.intents_any = lower(&cond.intents_any);
    for i in &cond.intents_any {
        i.parse::<switchboard_enrich::Intent>().map_err(|_| {
            ServiceError::invalid("conditions.intents_any", format!("unknown intent {i:?}"))
        })?;
    }
    cond.sentiments_any = lower(&cond.sentiments_any);
    for s in &cond.sentiments_any {
        one_of(
            "conditions.sentiments_any",
            s,
            &["positive", "neutral", "negative", "mixed"],
        )?;
    }
    cond.langs_any = lower(&cond.langs_any);
    cond.networks_any = lower(&cond.networks_any);
    for n in &cond.networks_any {
        n.parse::<switchboard_core::Network>()
            .map_err(|e| ServiceError::invalid("conditions.networks_any", e))?;
    }
    cond.vip_authors = clean_list(&cond.vip_authors);
    if let Some(q) = &cond.query {
        if q.trim().is_empty() {
            cond.query = None;
        } else {
            parse(q).map_err(|e| ServiceError::query("conditions.query", e))?;
        }
    }
    if cond.min_followers.is_some_and(|m| m < 0) {
        return Err(ServiceError::invalid(
            "conditions.min_followers",
            "must not be negative",
        ));
    }
    if let Some(p) = &act.priority {
        act.priority = Some(one_of("actions.priority", p, PRIORITIES)?);
    }
    act.add_tags = clean_list(&act.add_tags);
    if act.add_tags.iter().any(|t| t.chars().count() > 50) {
        return Err(ServiceError::invalid(
            "actions.add_tags",
            "a tag has at most 50 characters",
        ));
    }
    let list = teams::list(c, workspace_id).await?;
    if let Some(t) = &act.team {
        act.team = Some(find_team(&list, "actions.team", t)?.id.clone());
    }
    if let Some(a) = act.assign.as_deref().map(str::trim) {
        let Some(team) = &act.team else {
            return Err(ServiceError::invalid(
                "actions.assign",
                "assigning needs a team action",
            ));
        };
        if a != "round_robin" && a != "least_loaded" {
            let members = teams::members(c, team).await?;
            if !members.iter().any(|m| m.user_id == a) {
                return Err(ServiceError::invalid(
                    "actions.assign",
                    "expected round_robin, least_loaded or the id of a member of the team",
                ));
            }
        }
        act.assign = Some(a.to_string());
    }
    Ok((name.to_string(), cond, act))
}

fn to_json<T: Serialize>(v: &T) -> ServiceResult<serde_json::Value> {
    serde_json::to_value(v).map_err(ServiceError::internal)
}

impl App {
    pub async fn list_routing_rules(&self, actor: &Actor, ws: &str) -> ServiceResult<Vec<RuleRow>> {
        let mut c = self.store.read().await?;
        let w = crate::access::workspace_with(&mut c, actor, ws, Permission::InboxRead).await?;
        Ok(store::list_rules(&mut c, &w.id).await?)
    }

    pub async fn create_routing_rule(
        &self,
        actor: &Actor,
        ws: &str,
        input: RuleInput,
    ) -> ServiceResult<RuleRow> {
        let mut c = self.store.read().await?;
        let w = crate::access::workspace_with(&mut c, actor, ws, Permission::InboxManage).await?;
        let (name, cond, act) =
            check_rule(&mut c, &w.id, &input.name, input.conditions, input.actions).await?;
        let existing = store::list_rules(&mut c, &w.id).await?;
        drop(c);
        let position = input
            .position
            .unwrap_or_else(|| existing.iter().map(|r| r.position).max().unwrap_or(0) + 10);
        let stamp = now();
        let rule = RuleRow {
            id: new_id(),
            workspace_id: w.id.clone(),
            position,
            name,
            conditions: to_json(&cond)?,
            actions: to_json(&act)?,
            continue_matching: input.continue_matching,
            enabled: input.enabled,
            created_at: stamp.clone(),
            updated_at: stamp,
        };
        let mut tx = self.store.write().await?;
        store::insert_rule(&mut tx, &rule).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "routing_rule.create",
            target_type: "routing_rule",
            target_id: &rule.id,
        }
        .write(&mut tx, actor, NONE, Some(&rule))
        .await?;
        tx.commit().await?;
        Ok(rule)
    }

    async fn rule_in(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
    ) -> ServiceResult<(Workspace, RuleRow)> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::InboxRead)?;
        let rule = store::get_rule(&mut c, &wa.workspace.id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        wa.require(Permission::InboxManage)?;
        Ok((wa.workspace.clone(), rule))
    }

    pub async fn update_routing_rule(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
        patch: RulePatch,
    ) -> ServiceResult<RuleRow> {
        let (w, before) = self.rule_in(actor, ws, id).await?;
        let cond = match patch.conditions {
            Some(c) => c,
            None => serde_json::from_value(before.conditions.clone()).unwrap_or_default(),
        };
        let act = match patch.actions {
            Some(a) => a,
            None => serde_json::from_value(before.actions.clone()).unwrap_or_default(),
        };
        let mut c = self.store.read().await?;
        let (name, cond, act) = check_rule(
            &mut c,
            &w.id,
            patch.name.as_deref().unwrap_or(&before.name),
            cond,
            act,
        )
        .await?;
        drop(c);
        let rule = RuleRow {
            name,
            position: patch.position.unwrap_or(before.position),
            conditions: to_json(&cond)?,
            actions: to_json(&act)?,
            continue_matching: patch.continue_matching.unwrap_or(before.continue_matching),
            enabled: patch.enabled.unwrap_or(before.enabled),
            updated_at: now(),
            ..before.clone()
        };
        let mut tx = self.store.write().await?;
        store::update_rule(&mut tx, &rule).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "routing_rule.update",
            target_type: "routing_rule",
            target_id: &rule.id,
        }
        .write(&mut tx, actor, Some(&before), Some(&rule))
        .await?;
        tx.commit().await?;
        Ok(rule)
    }

    pub async fn delete_routing_rule(
        &self,
        actor: &Actor,
        ws: &str,
        id: &str,
    ) -> ServiceResult<()> {
        let (w, rule) = self.rule_in(actor, ws, id).await?;
        let mut tx = self.store.write().await?;
        store::delete_rule(&mut tx, &rule.id).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "routing_rule.delete",
            target_type: "routing_rule",
            target_id: &rule.id,
        }
        .write(&mut tx, actor, Some(&rule), NONE)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// What a rule would do to the workspace's latest 1,000 items: it is placed among the
    /// enabled rules at its position (after them by default) and the whole rule set is
    /// evaluated per item; an item counts when this rule is reached and matches, under the
    /// team the whole set would then route it to.
    pub async fn preview_rule(
        &self,
        actor: &Actor,
        ws: &str,
        input: RuleInput,
    ) -> ServiceResult<Preview> {
        let mut c = self.store.read().await?;
        let w = crate::access::workspace_with(&mut c, actor, ws, Permission::InboxManage).await?;
        let (_, cond, act) =
            check_rule(&mut c, &w.id, &input.name, input.conditions, input.actions).await?;
        let rows = store::list_rules(&mut c, &w.id).await?;
        let team_list = teams::list(&mut c, &w.id).await?;
        let recent = items::list_recent(&mut c, &w.id, None, PREVIEW_ITEMS).await?;
        drop(c);
        let position = input
            .position
            .unwrap_or_else(|| rows.iter().map(|r| r.position).max().unwrap_or(0) + 10);
        let candidate_id = "preview".to_string();
        let candidate = Compiled {
            id: candidate_id.clone(),
            query: cond
                .query
                .as_deref()
                .map(parse)
                .transpose()
                .map_err(|e| ServiceError::query("conditions.query", e))?,
            conditions: cond,
            actions: act,
            continue_matching: input.continue_matching,
        };
        let mut rules: Vec<(i64, Compiled)> = rows
            .iter()
            .filter(|r| r.enabled && r.name != input.name.trim())
            .filter_map(|r| Compiled::from_row(r).map(|c| (r.position, c)))
            .collect();
        let at = rules
            .iter()
            .position(|(p, _)| *p > position)
            .unwrap_or(rules.len());
        rules.insert(at, (position, candidate));
        let rules: Vec<Compiled> = rules.into_iter().map(|(_, c)| c).collect();
        let mut by_team: BTreeMap<Option<String>, u64> = BTreeMap::new();
        let mut samples = Vec::new();
        let mut matched = 0u64;
        for item in &recent {
            let out = evaluate(&rules, &team_list, item);
            if !out.matched.contains(&candidate_id) {
                continue;
            }
            matched += 1;
            *by_team.entry(out.team_id.clone()).or_default() += 1;
            if samples.len() < PREVIEW_SAMPLES {
                samples.push(PreviewSample {
                    item_id: item.id.clone(),
                    text: item.text.chars().take(280).collect(),
                    created_at: item.created_at.clone(),
                    team_id: out.team_id.clone(),
                });
            }
        }
        let mut teams_out: Vec<PreviewTeam> = by_team
            .into_iter()
            .map(|(team_id, count)| PreviewTeam {
                team: team_id
                    .as_ref()
                    .and_then(|id| team_list.iter().find(|t| &t.id == id))
                    .map(|t| t.name.clone())
                    .unwrap_or_else(|| "Unassigned queue".into()),
                team_id,
                count,
            })
            .collect();
        teams_out.sort_by(|a, b| b.count.cmp(&a.count).then(a.team.cmp(&b.team)));
        Ok(Preview {
            items: recent.len() as u64,
            matched,
            teams: teams_out,
            samples,
        })
    }

    /// Routes again, with today's rules, the conversations whose first item falls in
    /// [from, to): team, priority, tags and (when a rule assigns) the assignee are replaced.
    pub async fn rerun_routing(
        &self,
        actor: &Actor,
        ws: &str,
        from: &str,
        to: &str,
    ) -> ServiceResult<RerunReport> {
        let w = {
            let mut c = self.store.read().await?;
            crate::access::workspace_with(&mut c, actor, ws, Permission::InboxManage).await?
        };
        let from = parse_time("from", from)?;
        let to = parse_time("to", to)?;
        if from >= to {
            return Err(ServiceError::invalid("to", "must be after from"));
        }
        let mut tx = self.store.write().await?;
        let ctx = RoutingContext::load(&mut tx, &w.id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let convs = store::first_item_between(&mut tx, &w.id, &from, &to).await?;
        let mut report = RerunReport {
            conversations: 0,
            changed: 0,
        };
        for conv in &convs {
            let Some(first) = store::item_ids(&mut tx, &conv.id).await?.into_iter().next() else {
                continue;
            };
            let Some(item) = items::get(&mut tx, &w.id, &first).await? else {
                continue;
            };
            report.conversations += 1;
            let out = ctx.evaluate(&item);
            let assignee = match resolve_assignee(
                &mut tx,
                &w.id,
                out.team_id.as_deref(),
                out.assign.as_deref(),
            )
            .await?
            {
                Some(a) => Some(a),
                None if out.team_id == conv.team_id => conv.assignee_id.clone(),
                None => None,
            };
            let unchanged = out.team_id == conv.team_id
                && assignee == conv.assignee_id
                && out.priority == conv.priority
                && out.tags == conv.tags;
            if unchanged {
                continue;
            }
            report.changed += 1;
            store::set_routing(
                &mut tx,
                &conv.id,
                out.team_id.as_deref(),
                assignee.as_deref(),
                &out.priority,
                &out.tags,
                out.rule.as_deref(),
            )
            .await?;
            store::add_event(
                &mut tx,
                &conv.id,
                &actor.label(),
                "rerouted",
                &serde_json::json!({
                    "team_id": out.team_id, "assignee_id": assignee, "priority": out.priority,
                    "tags": out.tags, "rule": out.rule,
                }),
            )
            .await?;
        }
        let summary = serde_json::json!({"from": from, "to": to, "conversations": report.conversations, "changed": report.changed});
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "routing.rerun",
            target_type: "workspace",
            target_id: &w.id,
        }
        .write(&mut tx, actor, NONE, Some(&summary))
        .await?;
        tx.commit().await?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::{Author, Metrics, Network, Sentiment};

    fn item(
        kind: ItemKind,
        ext: &str,
        root: Option<&str>,
        parent: Option<&str>,
        author: &str,
    ) -> Item {
        Item {
            id: ext.into(),
            workspace_id: "w".into(),
            network: Network::Mastodon,
            external_id: ext.into(),
            kind,
            author: Author {
                id: author.into(),
                handle: author.into(),
                display_name: String::new(),
                followers: None,
            },
            text: String::new(),
            hashtags: vec![],
            mentions: vec![],
            urls: vec![],
            lang: None,
            created_at: "2026-11-20T10:00:00.000Z".into(),
            url: None,
            parent_id: parent.map(str::to_string),
            root_id: root.map(str::to_string),
            metrics: Metrics::default(),
            sentiment: Sentiment {
                label: "neutral".into(),
                score: 0.0,
            },
            intents: vec![],
            tags: vec![],
            ingested_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn thread_keys_follow_the_documented_rule() {
        let post = item(ItemKind::Post, "p1", None, None, "kim");
        assert_eq!(thread_of(&post, None), ("thread", "p1".into()));
        let reply = item(ItemKind::Reply, "r1", Some("p1"), Some("c9"), "ann");
        assert_eq!(thread_of(&reply, None), ("thread", "p1".into()));
        let comment = item(ItemKind::Comment, "c2", None, Some("c9"), "ann");
        assert_eq!(thread_of(&comment, None), ("thread", "c9".into()));
        let mention = item(ItemKind::Mention, "m1", None, None, "ann");
        assert_eq!(thread_of(&mention, None).0, "mention");
        let dm = item(ItemKind::DirectMessage, "d1", None, None, "Ann@x.social");
        assert_eq!(
            thread_of(&dm, Some("@acme")),
            ("dm", "dm:acme,ann@x.social".into())
        );
        assert_eq!(thread_of(&dm, None), ("dm", "dm:ann@x.social".into()));
        let mut ours = item(ItemKind::DirectMessage, "d2", None, None, "acme");
        ours.mentions = vec!["ann@x.social".into()];
        assert_eq!(thread_of(&ours, Some("acme")), thread_of(&dm, Some("acme")));
    }
}
