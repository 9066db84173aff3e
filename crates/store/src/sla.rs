//! SLA policies of the unified inbox, and the facts of conversations their clocks run on.

use crate::{classify, opt_str, Result};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SlaPolicyRow {
    pub id: String,
    pub workspace_id: String,
    pub team_id: String,
    /// `low`, `normal`, `high` or `urgent`.
    pub priority: String,
    pub first_response_minutes: i64,
    pub resolution_minutes: i64,
    /// An IANA time zone name.
    pub time_zone: String,
    /// Weekday (`mon`..`sun`) to `{"start", "end"}`; None counts around the clock.
    pub business_hours: Option<serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
}

fn policy(r: &AnyRow) -> Result<SlaPolicyRow> {
    let hours = opt_str(r, "business_hours")?;
    Ok(SlaPolicyRow {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        team_id: r.try_get("team_id")?,
        priority: r.try_get("priority")?,
        first_response_minutes: r.try_get("first_response_minutes")?,
        resolution_minutes: r.try_get("resolution_minutes")?,
        time_zone: r.try_get("time_zone")?,
        business_hours: hours.and_then(|h| serde_json::from_str(&h).ok()),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

const POLICY: &str = "SELECT id, workspace_id, team_id, priority, first_response_minutes, \
    resolution_minutes, time_zone, business_hours, created_at, updated_at FROM sla_policies";

pub async fn insert(c: &mut AnyConnection, p: &SlaPolicyRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO sla_policies (id, workspace_id, team_id, priority, first_response_minutes, \
         resolution_minutes, time_zone, business_hours, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&p.id)
    .bind(&p.workspace_id)
    .bind(&p.team_id)
    .bind(&p.priority)
    .bind(p.first_response_minutes)
    .bind(p.resolution_minutes)
    .bind(&p.time_zone)
    .bind(p.business_hours.as_ref().map(|h| h.to_string()))
    .bind(&p.created_at)
    .bind(&p.updated_at)
    .execute(c)
    .await
    .map_err(classify)?;
    Ok(())
}

pub async fn update(c: &mut AnyConnection, p: &SlaPolicyRow) -> Result<()> {
    sqlx::query(
        "UPDATE sla_policies SET team_id = $1, priority = $2, first_response_minutes = $3, \
         resolution_minutes = $4, time_zone = $5, business_hours = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(&p.team_id)
    .bind(&p.priority)
    .bind(p.first_response_minutes)
    .bind(p.resolution_minutes)
    .bind(&p.time_zone)
    .bind(p.business_hours.as_ref().map(|h| h.to_string()))
    .bind(&p.updated_at)
    .bind(&p.id)
    .execute(c)
    .await
    .map_err(classify)?;
    Ok(())
}

pub async fn delete(c: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM sla_policies WHERE id = $1")
        .bind(id)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn get(
    c: &mut AnyConnection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<SlaPolicyRow>> {
    let row = sqlx::query(&format!("{POLICY} WHERE workspace_id = $1 AND id = $2"))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(policy).transpose()
}

/// By team, then priority.
pub async fn list(c: &mut AnyConnection, workspace_id: &str) -> Result<Vec<SlaPolicyRow>> {
    let rows = sqlx::query(&format!(
        "{POLICY} WHERE workspace_id = $1 ORDER BY team_id, priority, id"
    ))
    .bind(workspace_id)
    .fetch_all(c)
    .await?;
    rows.iter().map(policy).collect()
}

/// What an SLA clock needs of a conversation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SlaFacts {
    pub id: String,
    pub workspace_id: String,
    pub team_id: Option<String>,
    pub assignee_id: Option<String>,
    pub priority: String,
    pub status: String,
    /// The clocks start here.
    pub first_item_at: String,
    /// `first_response_at` (migration 9), else the first `reply_sent` event of the timeline.
    pub first_response_at: Option<String>,
    /// Set while the conversation is closed.
    pub closed_at: Option<String>,
    /// When the current pause (pending, snoozed) began; None while the clock runs.
    pub paused_at: Option<String>,
    /// Finished pauses: (from, to).
    pub pauses: Vec<(String, String)>,
}

/// `FROM/TO;FROM/TO;` as written by `inbox::set_status`.
fn pauses(log: &str) -> Vec<(String, String)> {
    log.split(';')
        .filter_map(|p| p.split_once('/'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn facts(r: &AnyRow) -> Result<SlaFacts> {
    Ok(SlaFacts {
        id: r.try_get("id")?,
        workspace_id: r.try_get("workspace_id")?,
        team_id: opt_str(r, "team_id")?,
        assignee_id: opt_str(r, "assignee_id")?,
        priority: r.try_get("priority")?,
        status: r.try_get("status")?,
        first_item_at: r.try_get("first_item_at")?,
        first_response_at: opt_str(r, "first_response_at")?,
        closed_at: opt_str(r, "closed_at")?,
        paused_at: opt_str(r, "paused_at")?,
        pauses: pauses(&r.try_get::<String, _>("paused_log")?),
    })
}

const FACTS: &str = "SELECT c.id, c.workspace_id, c.team_id, c.assignee_id, c.priority, c.status, c.first_item_at, \
    c.closed_at, c.paused_at, c.paused_log, COALESCE(c.first_response_at, (SELECT MIN(e.at) FROM conversation_events e \
    WHERE e.conversation_id = c.id AND e.kind = 'reply_sent')) AS first_response_at FROM conversations c";

pub async fn facts_of(
    c: &mut AnyConnection,
    workspace_id: &str,
    id: &str,
) -> Result<Option<SlaFacts>> {
    let row = sqlx::query(&format!("{FACTS} WHERE c.workspace_id = $1 AND c.id = $2"))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(facts).transpose()
}

/// The facts of the given conversations of a workspace (missing ids are skipped).
pub async fn facts_of_many(
    c: &mut AnyConnection,
    workspace_id: &str,
    ids: &[String],
) -> Result<Vec<SlaFacts>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(400) {
        // By primary key alone: with the workspace in the WHERE clause SQLite walks the
        // workspace's index instead (every conversation of it), 10x slower at 200,000.
        let sql = format!(
            "{FACTS} WHERE c.id IN ({})",
            crate::queries::placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        for r in q.fetch_all(&mut *c).await? {
            let f = facts(&r)?;
            if f.workspace_id == workspace_id {
                out.push(f);
            }
        }
    }
    Ok(out)
}

/// Conversations of a team that are not closed, oldest first (the candidates for breaches),
/// at most `limit`.
pub async fn active_with_team(
    c: &mut AnyConnection,
    workspace_id: &str,
    limit: i64,
) -> Result<Vec<SlaFacts>> {
    let rows = sqlx::query(&format!(
        "{FACTS} WHERE c.workspace_id = $1 AND c.team_id IS NOT NULL AND c.status <> 'closed' \
         ORDER BY c.first_item_at, c.id LIMIT $2"
    ))
    .bind(workspace_id)
    .bind(limit)
    .fetch_all(c)
    .await?;
    rows.iter().map(facts).collect()
}

/// Conversations whose first item falls in [from, to), at most `limit`.
pub async fn started_between(
    c: &mut AnyConnection,
    workspace_id: &str,
    from: &str,
    to: &str,
    limit: i64,
) -> Result<Vec<SlaFacts>> {
    let rows = sqlx::query(&format!(
        "{FACTS} WHERE c.workspace_id = $1 AND c.first_item_at >= $2 AND c.first_item_at < $3 \
         ORDER BY c.first_item_at, c.id LIMIT $4"
    ))
    .bind(workspace_id)
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(c)
    .await?;
    rows.iter().map(facts).collect()
}
