//! The unified inbox: conversations (items threaded together), routing rules, the router's
//! cursor in `item_changes`, and each conversation's timeline of events.

use crate::queries::placeholders;
use crate::{classify, opt_str, Result};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Conversation {
    pub id: String,
    pub workspace_id: String,
    pub network: String,
    pub thread_key: String,
    /// `thread`, `dm` or `mention`.
    pub kind: String,
    /// `open`, `pending`, `snoozed` or `closed`.
    pub status: String,
    pub snoozed_until: Option<String>,
    /// `low`, `normal`, `high` or `urgent`.
    pub priority: String,
    /// None: the workspace's unassigned queue.
    pub team_id: Option<String>,
    pub assignee_id: Option<String>,
    pub tags: Vec<String>,
    pub routed_by_rule: Option<String>,
    pub first_item_at: String,
    pub last_item_at: String,
    pub item_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn json_col(r: &AnyRow, col: &str) -> Result<Vec<String>> {
    let s: String = r.try_get(col)?;
    Ok(serde_json::from_str(&s).unwrap_or_default())
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn conversation(r: &AnyRow) -> Result<Conversation> {
    Ok(Conversation {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        network: r.try_get("network")?,
        thread_key: r.try_get("thread_key")?,
        kind: r.try_get("kind")?,
        status: r.try_get("status")?,
        snoozed_until: opt_str(r, "snoozed_until")?,
        priority: r.try_get("priority")?,
        team_id: opt_str(r, "team_id")?,
        assignee_id: opt_str(r, "assignee_id")?,
        tags: json_col(r, "tags")?,
        routed_by_rule: opt_str(r, "routed_by_rule")?,
        first_item_at: r.try_get("first_item_at")?,
        last_item_at: r.try_get("last_item_at")?,
        item_count: r.try_get("item_count")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const CONVERSATION: &str = "SELECT c.id, c.workspace_id, c.network, c.thread_key, c.kind, c.status, \
    c.snoozed_until, c.priority, c.team_id, c.assignee_id, c.tags, c.routed_by_rule, c.first_item_at, \
    c.last_item_at, c.item_count, c.created_at, c.updated_at FROM conversations c";

/// What [`attach_items`] did with one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub conversation_id: String,
    /// The conversation was created for this item (and routed by the caller's `route`).
    pub created: bool,
    /// The item already belonged to a conversation; nothing was written.
    pub already: bool,
    /// The item opened its closed, snoozed or pending conversation again: the status it had.
    pub reopened: Option<String>,
}

/// Where an item goes: its workspace, network and thread key, and the conversation kind to
/// use if the conversation is new.
#[derive(Debug, Clone)]
pub struct ThreadRef<'a> {
    pub workspace_id: &'a str,
    pub network: &'a str,
    pub thread_key: &'a str,
    pub kind: &'a str,
    pub item_id: &'a str,
    pub item_created_at: &'a str,
    /// The customer wrote again: a closed, snoozed or pending conversation this item joins is
    /// opened.
    pub reopens: bool,
}

/// Where a new conversation goes, decided when it is created.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Routing {
    pub team_id: Option<String>,
    pub priority: String,
    pub tags: Vec<String>,
    pub rule: Option<String>,
}

/// Rows per multi-row statement: well under SQLite's 32,766 bind parameters at 16 columns.
const ROWS: usize = 400;

type Key = (String, String, String);

fn key_of(t: &ThreadRef<'_>) -> Key {
    (
        t.workspace_id.to_string(),
        t.network.to_string(),
        t.thread_key.to_string(),
    )
}

/// How many of a batch's items join a conversation, and the earliest and latest of them.
struct Span {
    count: i64,
    first: String,
    last: String,
}

impl Span {
    fn new(at: &str) -> Span {
        Span {
            count: 1,
            first: at.to_string(),
            last: at.to_string(),
        }
    }

    /// A reply that arrives before the post it answers moves the start back.
    fn add(&mut self, at: &str) {
        self.count += 1;
        if at < self.first.as_str() {
            self.first = at.to_string();
        }
        if at > self.last.as_str() {
            self.last = at.to_string();
        }
    }
}

struct NewConversation {
    id: String,
    /// The index of the item that created it.
    at: usize,
    routing: Routing,
    span: Span,
}

/// Puts each item into the conversation of its thread key, in the order given, creating the
/// conversations that do not exist yet; `route(i)` is asked where the conversation created by
/// `refs[i]` goes. Idempotent: an item already in a conversation stays where it is.
///
/// The whole batch costs a fixed handful of statements (look-ups, multi-row inserts, one
/// multi-row counter update), not a few per item: the router's throughput rests on it.
pub async fn attach_items<F>(
    c: &mut AnyConnection,
    refs: &[ThreadRef<'_>],
    mut route: F,
) -> Result<Vec<Attached>>
where
    F: FnMut(usize) -> Routing,
{
    let sqlite = c.backend_name() == "SQLite";
    let item_ids: Vec<&str> = refs.iter().map(|t| t.item_id).collect();
    let members = memberships(&mut *c, &item_ids).await?;
    let wanted: Vec<Key> = refs
        .iter()
        .filter(|t| !members.contains_key(t.item_id))
        .map(key_of)
        .collect();
    let existing = find_threads(&mut *c, &wanted).await?;

    let mut out = Vec::with_capacity(refs.len());
    let mut fresh: HashMap<Key, NewConversation> = HashMap::new();
    // Existing conversations joined, by id.
    let mut joined: HashMap<String, Span> = HashMap::new();
    let mut reopen: BTreeSet<String> = BTreeSet::new();
    // Item -> conversation, for the memberships this batch writes.
    let mut placed: HashMap<&str, String> = HashMap::new();
    for (i, t) in refs.iter().enumerate() {
        // Already in one, before this batch or earlier in it (the same item twice).
        if let Some(id) = members.get(t.item_id).or_else(|| placed.get(t.item_id)) {
            out.push(Attached {
                conversation_id: id.clone(),
                created: false,
                already: true,
                reopened: None,
            });
            continue;
        }
        let key = key_of(t);
        let at = t.item_created_at;
        let (id, created) = if let Some((id, status)) = existing.get(&key) {
            match joined.get_mut(id) {
                Some(span) => span.add(at),
                None => {
                    joined.insert(id.clone(), Span::new(at));
                }
            }
            if t.reopens && status != "open" {
                reopen.insert(id.clone());
            }
            (id.clone(), false)
        } else if let Some(n) = fresh.get_mut(&key) {
            n.span.add(at);
            (n.id.clone(), false)
        } else {
            let n = NewConversation {
                id: crate::new_id(),
                at: i,
                routing: route(i),
                span: Span::new(at),
            };
            let id = n.id.clone();
            fresh.insert(key, n);
            (id, true)
        };
        placed.insert(t.item_id, id.clone());
        out.push(Attached {
            conversation_id: id,
            created,
            already: false,
            reopened: None,
        });
    }

    let now = crate::now();
    let mut created: Vec<&NewConversation> = fresh.values().collect();
    created.sort_by_key(|n| n.at);
    for chunk in created.chunks(ROWS) {
        let sql = format!(
            "INSERT INTO conversations (id, workspace_id, network, thread_key, kind, status, priority, \
             team_id, tags, routed_by_rule, first_item_at, last_item_at, item_count, created_at, updated_at) \
             VALUES {}",
            crate::items::value_rows(sqlite, chunk.len(), 15)
        );
        let mut q = sqlx::query(&sql);
        for n in chunk {
            let t = &refs[n.at];
            q = q
                .bind(&n.id)
                .bind(t.workspace_id)
                .bind(t.network)
                .bind(t.thread_key)
                .bind(t.kind)
                .bind("open")
                .bind(&n.routing.priority)
                .bind(n.routing.team_id.as_deref())
                .bind(json_list(&n.routing.tags))
                .bind(n.routing.rule.as_deref())
                .bind(&n.span.first)
                .bind(&n.span.last)
                .bind(n.span.count)
                .bind(&now)
                .bind(&now);
        }
        q.execute(&mut *c).await.map_err(classify)?;
    }
    let pairs: Vec<(&str, String)> = placed.into_iter().collect();
    for chunk in pairs.chunks(ROWS * 4) {
        let sql = format!(
            "INSERT INTO conversation_items (item_id, conversation_id) VALUES {}",
            crate::items::value_rows(sqlite, chunk.len(), 2)
        );
        let mut q = sqlx::query(&sql);
        for (item, conv) in chunk {
            q = q.bind(*item).bind(conv);
        }
        q.execute(&mut *c).await.map_err(classify)?;
    }
    let joined: Vec<(String, Span)> = joined.into_iter().collect();
    for chunk in joined.chunks(ROWS) {
        let sql = format!(
            "UPDATE conversations SET item_count = conversations.item_count + v.column2, \
             first_item_at = CASE WHEN v.column3 < conversations.first_item_at THEN v.column3 ELSE conversations.first_item_at END, \
             last_item_at = CASE WHEN v.column4 > conversations.last_item_at THEN v.column4 ELSE conversations.last_item_at END, \
             updated_at = v.column5 FROM (VALUES {}) AS v WHERE conversations.id = v.column1",
            crate::items::value_rows(sqlite, chunk.len(), 5)
        );
        let mut q = sqlx::query(&sql);
        for (id, span) in chunk {
            q = q
                .bind(id)
                .bind(span.count)
                .bind(&span.first)
                .bind(&span.last)
                .bind(&now);
        }
        q.execute(&mut *c).await.map_err(classify)?;
    }
    let reopen: Vec<String> = reopen.into_iter().collect();
    let reopened: HashMap<String, String> =
        reopen_many(&mut *c, &reopen).await?.into_iter().collect();
    if !reopened.is_empty() {
        let mut told = HashSet::new();
        for (a, t) in out.iter_mut().zip(refs) {
            if t.reopens && !a.already && !a.created && told.insert(a.conversation_id.clone()) {
                a.reopened = reopened.get(&a.conversation_id).cloned();
            }
        }
    }
    Ok(out)
}

/// The tables the inbox's statements plan on: they grow together during a bulk load.
const PLANNED: &[&str] = &[
    "conversations",
    "conversation_items",
    "conversation_events",
    "items",
];

/// On PostgreSQL, analyzes each of the inbox's tables that changed by a fifth since its
/// statistics were taken (autovacuum's rule; autovacuum may be off, or lag behind a bulk
/// load). Without statistics the planner looks thread keys up by workspace and network alone
/// (0.4 s a batch at 150,000 conversations) and answers an inbox list filtered by intent with
/// a scan of every item (1 s instead of 1.5 ms at 1M items). Returns the tables it analyzed;
/// SQLite's planner needs nothing.
pub async fn refresh_statistics(c: &mut AnyConnection) -> Result<Vec<String>> {
    if c.backend_name() == "SQLite" {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT CAST(relname AS TEXT) AS name, CAST(n_live_tup AS BIGINT) AS live, \
         CAST(n_mod_since_analyze AS BIGINT) AS changed FROM pg_stat_user_tables WHERE relid IN ({})",
        PLANNED
            .iter()
            .map(|t| format!("CAST('{t}' AS regclass)"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut stale = Vec::new();
    for r in sqlx::query(&sql).fetch_all(&mut *c).await? {
        let name: String = r.try_get("name")?;
        let live: i64 = r.try_get("live")?;
        let changed: i64 = r.try_get("changed")?;
        if changed > 500 + live / 5 && PLANNED.contains(&name.as_str()) {
            stale.push(name);
        }
    }
    for t in &stale {
        sqlx::query(&format!("ANALYZE {t}"))
            .execute(&mut *c)
            .await?;
    }
    Ok(stale)
}

/// The conversations the given items belong to: item id -> conversation id.
async fn memberships(c: &mut AnyConnection, item_ids: &[&str]) -> Result<HashMap<String, String>> {
    let sqlite = c.backend_name() == "SQLite";
    let mut out = HashMap::new();
    for chunk in item_ids.chunks(ROWS) {
        let sql = format!(
            "SELECT item_id, conversation_id FROM conversation_items WHERE item_id IN ({})",
            crate::items::in_list(sqlite, 1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&mut *c).await? {
            out.insert(r.try_get("item_id")?, r.try_get("conversation_id")?);
        }
    }
    Ok(out)
}

/// The existing conversations of the given thread keys: key -> (id, status).
async fn find_threads(
    c: &mut AnyConnection,
    keys: &[Key],
) -> Result<HashMap<Key, (String, String)>> {
    let sqlite = c.backend_name() == "SQLite";
    let mut groups: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for (ws, network, key) in keys {
        groups
            .entry((ws.as_str(), network.as_str()))
            .or_default()
            .insert(key.as_str());
    }
    let mut out = HashMap::new();
    for ((ws, network), wanted) in groups {
        let wanted: Vec<&str> = wanted.into_iter().collect();
        for chunk in wanted.chunks(ROWS) {
            let sql = format!(
                "SELECT id, thread_key, status FROM conversations \
                 WHERE workspace_id = {} AND network = {} AND thread_key IN ({})",
                crate::items::placeholder(sqlite, 1),
                crate::items::placeholder(sqlite, 2),
                crate::items::in_list(sqlite, 3, chunk.len())
            );
            let mut q = sqlx::query(&sql).bind(ws).bind(network);
            for k in chunk {
                q = q.bind(*k);
            }
            for r in q.fetch_all(&mut *c).await? {
                let key: String = r.try_get("thread_key")?;
                out.insert(
                    (ws.to_string(), network.to_string(), key),
                    (r.try_get("id")?, r.try_get("status")?),
                );
            }
        }
    }
    Ok(out)
}

pub async fn conversation_of_item(c: &mut AnyConnection, item_id: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT conversation_id FROM conversation_items WHERE item_id = $1")
        .bind(item_id)
        .fetch_optional(c)
        .await?;
    Ok(row.map(|r| r.try_get("conversation_id")).transpose()?)
}

/// The routing outcome, written when a conversation is created or re-routed.
pub async fn set_routing(
    c: &mut AnyConnection,
    id: &str,
    team_id: Option<&str>,
    assignee_id: Option<&str>,
    priority: &str,
    tags: &[String],
    routed_by_rule: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE conversations SET team_id = $1, assignee_id = $2, priority = $3, tags = $4, routed_by_rule = $5, \
         updated_at = $6 WHERE id = $7",
    )
    .bind(team_id)
    .bind(assignee_id)
    .bind(priority)
    .bind(json_list(tags))
    .bind(routed_by_rule)
    .bind(crate::now())
    .bind(id)
    .execute(c)
    .await
    .map_err(classify)?;
    Ok(())
}

/// Priority and tags set by hand (the other columns stay as they are).
pub async fn set_priority_tags(
    c: &mut AnyConnection,
    id: &str,
    priority: &str,
    tags: &[String],
) -> Result<()> {
    sqlx::query("UPDATE conversations SET priority = $1, tags = $2, updated_at = $3 WHERE id = $4")
        .bind(priority)
        .bind(json_list(tags))
        .bind(crate::now())
        .bind(id)
        .execute(c)
        .await
        .map_err(classify)?;
    Ok(())
}

pub async fn set_assignment(
    c: &mut AnyConnection,
    id: &str,
    team_id: Option<&str>,
    assignee_id: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE conversations SET team_id = $1, assignee_id = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(team_id)
    .bind(assignee_id)
    .bind(crate::now())
    .bind(id)
    .execute(c)
    .await
    .map_err(classify)?;
    Ok(())
}

pub async fn set_status(
    c: &mut AnyConnection,
    id: &str,
    status: &str,
    snoozed_until: Option<&str>,
) -> Result<()> {
    set_status_of(c, &[id.to_string()], status, snoozed_until).await
}

/// The one statement that changes conversations' status, so the SLA bookkeeping that rides
/// on it is written once: `closed_at` keeps the first close of a run of closes and clears
/// when the conversation opens again; a pause (pending, snoozed) starts once and is logged
/// when the clock runs again.
async fn set_status_of(
    c: &mut AnyConnection,
    ids: &[String],
    status: &str,
    snoozed_until: Option<&str>,
) -> Result<()> {
    let now = crate::now();
    for chunk in ids.chunks(ROWS) {
        let sql = format!(
            "UPDATE conversations SET status = $1, snoozed_until = $2, updated_at = $3, \
             closed_at = CASE WHEN $1 = 'closed' THEN COALESCE(closed_at, $3) ELSE NULL END, \
             paused_log = CASE WHEN $1 NOT IN ('pending', 'snoozed') AND paused_at IS NOT NULL \
               THEN paused_log || paused_at || '/' || $3 || ';' ELSE paused_log END, \
             paused_at = CASE WHEN $1 IN ('pending', 'snoozed') THEN COALESCE(paused_at, $3) ELSE NULL END \
             WHERE id IN ({})",
            placeholders(4, chunk.len())
        );
        let mut q = sqlx::query(&sql)
            .bind(status)
            .bind(snoozed_until)
            .bind(&now);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(&mut *c).await.map_err(classify)?;
    }
    Ok(())
}

pub async fn get(
    c: &mut AnyConnection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<Conversation>> {
    let row = sqlx::query(&format!(
        "{CONVERSATION} WHERE c.workspace_id = $1 AND c.id = $2"
    ))
    .bind(workspace_id)
    .bind(id)
    .fetch_optional(c)
    .await?;
    row.as_ref().map(conversation).transpose()
}

/// Filters of a conversation list; every one given must hold.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub status: Option<String>,
    pub network: Option<String>,
    /// Some(None): the unassigned queue (no team); Some(Some(id)): that team's queue.
    pub team: Option<Option<String>>,
    pub assignee: Option<String>,
    pub tag: Option<String>,
    /// Conditions on the conversation's items: at least one item must have these.
    pub intent: Option<String>,
    pub sentiment: Option<String>,
    pub lang: Option<String>,
}

/// `%value%` for LIKE with `\` escaping, to find `"value"` inside a JSON array column.
fn like_json_member(v: &str) -> String {
    let quoted = serde_json::to_string(v).unwrap_or_default();
    let escaped = quoted
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Most recent activity first; `before` is a (last_item_at, id) cursor.
pub async fn list(
    c: &mut AnyConnection,
    workspace_id: &str,
    f: &ConversationFilter,
    before: Option<(&str, &str)>,
    limit: i64,
) -> Result<Vec<Conversation>> {
    let mut sql = format!("{CONVERSATION} WHERE c.workspace_id = $1");
    let mut binds: Vec<String> = vec![workspace_id.to_string()];
    let mut add = |sql: &mut String, clause: &str, v: String| {
        binds.push(v);
        sql.push_str(&clause.replace("{}", &format!("${}", binds.len())));
    };
    if let Some(s) = &f.status {
        add(&mut sql, " AND c.status = {}", s.clone());
    }
    if let Some(n) = &f.network {
        add(&mut sql, " AND c.network = {}", n.clone());
    }
    match &f.team {
        Some(Some(t)) => add(&mut sql, " AND c.team_id = {}", t.clone()),
        Some(None) => sql.push_str(" AND c.team_id IS NULL"),
        None => {}
    }
    if let Some(a) = &f.assignee {
        add(&mut sql, " AND c.assignee_id = {}", a.clone());
    }
    if let Some(t) = &f.tag {
        add(
            &mut sql,
            " AND c.tags LIKE {} ESCAPE '\\'",
            like_json_member(t),
        );
    }
    let item_conds = [
        (&f.intent, "i.intents LIKE {} ESCAPE '\\'", true),
        (&f.sentiment, "i.sentiment = {}", false),
        (&f.lang, "i.lang = {}", false),
    ];
    for (v, cond, json) in item_conds {
        if let Some(v) = v {
            let v = if json { like_json_member(v) } else { v.clone() };
            add(
                &mut sql,
                &format!(
                    " AND EXISTS (SELECT 1 FROM conversation_items ci JOIN items i ON i.id = ci.item_id \
                     WHERE ci.conversation_id = c.id AND {cond})"
                ),
                v,
            );
        }
    }
    if let Some((ts, id)) = before {
        let a = binds.len() + 1;
        let b = binds.len() + 2;
        sql.push_str(&format!(
            " AND (c.last_item_at < ${a} OR (c.last_item_at = ${a} AND c.id < ${b}))"
        ));
        binds.push(ts.to_string());
        binds.push(id.to_string());
    }
    sql.push_str(&format!(
        " ORDER BY c.last_item_at DESC, c.id DESC LIMIT ${}",
        binds.len() + 1
    ));
    let mut q = sqlx::query(&sql);
    for b in &binds {
        q = q.bind(b);
    }
    q = q.bind(limit);
    q.fetch_all(c).await?.iter().map(conversation).collect()
}

/// Conversations whose first item falls in [from, to), oldest first (a re-run of routing).
pub async fn first_item_between(
    c: &mut AnyConnection,
    workspace_id: &str,
    from: &str,
    to: &str,
) -> Result<Vec<Conversation>> {
    let rows = sqlx::query(&format!(
        "{CONVERSATION} WHERE c.workspace_id = $1 AND c.first_item_at >= $2 AND c.first_item_at < $3 \
         ORDER BY c.first_item_at, c.id"
    ))
    .bind(workspace_id)
    .bind(from)
    .bind(to)
    .fetch_all(c)
    .await?;
    rows.iter().map(conversation).collect()
}

/// The ids of a conversation's items, oldest first.
pub async fn item_ids(c: &mut AnyConnection, conversation_id: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT ci.item_id FROM conversation_items ci JOIN items i ON i.id = ci.item_id \
         WHERE ci.conversation_id = $1 ORDER BY i.created_at, i.id",
    )
    .bind(conversation_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("item_id")?)).collect()
}

/// Per user, how many conversations of the workspace they hold: (all ever assigned within
/// the team, open or pending ones). Round robin uses the first, least loaded the second.
pub async fn assignee_loads(
    c: &mut AnyConnection,
    workspace_id: &str,
    team_id: &str,
) -> Result<Vec<(String, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT assignee_id, COUNT(*) AS total, \
         SUM(CASE WHEN status IN ('open', 'pending') THEN 1 ELSE 0 END) AS active \
         FROM conversations WHERE workspace_id = $1 AND team_id = $2 AND assignee_id IS NOT NULL \
         GROUP BY assignee_id",
    )
    .bind(workspace_id)
    .bind(team_id)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("assignee_id")?,
                r.try_get("total")?,
                r.try_get::<Option<i64>, _>("active")?.unwrap_or(0),
            ))
        })
        .collect()
}

// ---------------------------------------------------------------- events

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConversationEvent {
    pub id: String,
    pub conversation_id: String,
    pub at: String,
    /// An e-mail address, `cli`, or `router` for automatic routing.
    pub actor: String,
    /// `created`, `routed`, `rerouted`, `assigned`, `status`.
    pub kind: String,
    pub data: serde_json::Value,
}

pub async fn add_event(
    c: &mut AnyConnection,
    conversation_id: &str,
    actor: &str,
    kind: &str,
    data: &serde_json::Value,
) -> Result<()> {
    add_events(
        c,
        &[NewEvent {
            conversation_id,
            actor,
            kind,
            data: data.clone(),
        }],
    )
    .await
}

/// A timeline entry to write with [`add_events`].
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub conversation_id: &'a str,
    pub actor: &'a str,
    pub kind: &'a str,
    pub data: serde_json::Value,
}

/// Writes timeline entries in as few statements as the batch allows, in the order given.
pub async fn add_events(c: &mut AnyConnection, events: &[NewEvent<'_>]) -> Result<()> {
    let sqlite = c.backend_name() == "SQLite";
    let now = crate::now();
    for chunk in events.chunks(ROWS) {
        let sql = format!(
            "INSERT INTO conversation_events (id, conversation_id, at, actor, kind, data) VALUES {}",
            crate::items::value_rows(sqlite, chunk.len(), 6)
        );
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q
                .bind(crate::new_id())
                .bind(e.conversation_id)
                .bind(&now)
                .bind(e.actor)
                .bind(e.kind)
                .bind(e.data.to_string());
        }
        q.execute(&mut *c).await.map_err(classify)?;
    }
    Ok(())
}

pub async fn events(
    c: &mut AnyConnection,
    conversation_id: &str,
) -> Result<Vec<ConversationEvent>> {
    let rows = sqlx::query(
        "SELECT id, conversation_id, at, actor, kind, data FROM conversation_events \
         WHERE conversation_id = $1 ORDER BY at, id",
    )
    .bind(conversation_id)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            let data: String = r.try_get("data")?;
            Ok(ConversationEvent {
                id: r.try_get("id")?,
                conversation_id: r.try_get("conversation_id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                kind: r.try_get("kind")?,
                data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
            })
        })
        .collect()
}

// ---------------------------------------------------------------- routing rules

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RuleRow {
    pub id: String,
    pub workspace_id: String,
    pub position: i64,
    pub name: String,
    pub conditions: serde_json::Value,
    pub actions: serde_json::Value,
    pub continue_matching: bool,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

fn rule(r: &AnyRow) -> Result<RuleRow> {
    let conditions: String = r.try_get("conditions")?;
    let actions: String = r.try_get("actions")?;
    Ok(RuleRow {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        position: r.try_get("position")?,
        name: r.try_get("name")?,
        conditions: serde_json::from_str(&conditions).unwrap_or_default(),
        actions: serde_json::from_str(&actions).unwrap_or_default(),
        continue_matching: r.try_get::<i64, _>("continue_matching")? != 0,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const RULE: &str =
    "SELECT id, workspace_id, position, name, conditions, actions, continue_matching, enabled, \
    created_at, updated_at FROM routing_rules";

pub async fn insert_rule(c: &mut AnyConnection, r: &RuleRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO routing_rules (id, workspace_id, position, name, conditions, actions, continue_matching, \
         enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&r.id)
    .bind(&r.workspace_id)
    .bind(r.position)
    .bind(&r.name)
    .bind(r.conditions.to_string())
    .bind(r.actions.to_string())
    .bind(i64::from(r.continue_matching))
    .bind(i64::from(r.enabled))
    .bind(&r.created_at)
    .bind(&r.updated_at)
    .execute(c)
    .await
    .map_err(classify)?;
    Ok(())
}

pub async fn update_rule(c: &mut AnyConnection, r: &RuleRow) -> Result<()> {
    sqlx::query(
        "UPDATE routing_rules SET position = $1, name = $2, conditions = $3, actions = $4, continue_matching = $5, \
         enabled = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(r.position)
    .bind(&r.name)
    .bind(r.conditions.to_string())
    .bind(r.actions.to_string())
    .bind(i64::from(r.continue_matching))
    .bind(i64::from(r.enabled))
    .bind(&r.updated_at)
    .bind(&r.id)
    .execute(c)
    .await
    .map_err(classify)?;
    Ok(())
}

pub async fn delete_rule(c: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM routing_rules WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn get_rule(
    c: &mut AnyConnection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<RuleRow>> {
    let row = sqlx::query(&format!("{RULE} WHERE workspace_id = $1 AND id = $2"))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(rule).transpose()
}

/// In evaluation order: by position, then creation.
pub async fn list_rules(c: &mut AnyConnection, workspace_id: &str) -> Result<Vec<RuleRow>> {
    let rows = sqlx::query(&format!(
        "{RULE} WHERE workspace_id = $1 ORDER BY position, created_at, id"
    ))
    .bind(workspace_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(rule).collect()
}

// ---------------------------------------------------------------- cursor

/// The router's position in `item_changes`, locked for the rest of the transaction on
/// PostgreSQL (SQLite's write transaction already excludes other writers).
pub async fn lock_cursor(c: &mut AnyConnection, name: &str) -> Result<i64> {
    sqlx::query(
        "INSERT INTO inbox_cursor (name, seq) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .execute(&mut *c)
    .await
    .map_err(classify)?;
    let sql = if c.backend_name() == "SQLite" {
        "SELECT seq FROM inbox_cursor WHERE name = $1"
    } else {
        "SELECT seq FROM inbox_cursor WHERE name = $1 FOR UPDATE"
    };
    let row = sqlx::query(sql).bind(name).fetch_one(&mut *c).await?;
    Ok(row.try_get("seq")?)
}

/// The router's position without locking it (0 before the first run).
pub async fn cursor(c: &mut AnyConnection, name: &str) -> Result<i64> {
    let row = sqlx::query("SELECT seq FROM inbox_cursor WHERE name = $1")
        .bind(name)
        .fetch_optional(c)
        .await?;
    Ok(row.map(|r| r.try_get("seq")).transpose()?.unwrap_or(0))
}

pub async fn set_cursor(c: &mut AnyConnection, name: &str, seq: i64) -> Result<()> {
    sqlx::query("UPDATE inbox_cursor SET seq = $1 WHERE name = $2")
        .bind(seq)
        .bind(name)
        .execute(c)
        .await?;
    Ok(())
}

/// Snoozed conversations whose time has come, as (id, workspace id): they are due again.
pub async fn due_snoozed(c: &mut AnyConnection, now: &str) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT id, workspace_id FROM conversations WHERE status = 'snoozed' AND snoozed_until <= $1 \
         ORDER BY snoozed_until LIMIT 500",
    )
    .bind(now)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("workspace_id")?)))
        .collect()
}

/// Opens closed, snoozed or pending (waiting on the customer) conversations again; returns
/// (id, the status it had) for those that were, and leaves open ones alone.
pub async fn reopen_many(c: &mut AnyConnection, ids: &[String]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(ROWS) {
        let ph = placeholders(1, chunk.len());
        let sql = format!(
            "SELECT id, status FROM conversations WHERE id IN ({ph}) AND status IN ('closed', 'snoozed', 'pending')"
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        let was: Vec<(String, String)> = q
            .fetch_all(&mut *c)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("status")?)))
            .collect::<Result<_>>()?;
        if was.is_empty() {
            continue;
        }
        let ids: Vec<String> = was.iter().map(|(id, _)| id.clone()).collect();
        set_status_of(c, &ids, "open", None).await?;
        out.extend(was);
    }
    Ok(out)
}
