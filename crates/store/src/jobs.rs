//! Background jobs and outbound webhooks.
//!
//! A job is enqueued with [`enqueue`] in the transaction of the change that causes it, so it
//! exists exactly when the change does; its dedupe key makes enqueueing idempotent. A worker
//! takes a due job with [`claim`], which gives it a lease: while the lease runs no other
//! worker (process or server) gets the job, and once it has passed a job whose worker died is
//! claimed again. The worker then records [`complete`], [`retry`] or [`dead`], normally in one
//! transaction with the rows the job changed.
//!
//! Dedupe keys are unique across all kinds: callers put something kind-specific in them
//! (a webhook id, a rule id).

use crate::queries::{parse, placeholders};
use crate::{classify, opt_str, Backend, Result, Store};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// Attempts a job gets unless its kind asks for another number.
pub const DEFAULT_MAX_ATTEMPTS: i64 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Dead,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Dead => "dead",
        }
    }
}

impl std::str::FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s {
            "queued" => JobStatus::Queued,
            "running" => JobStatus::Running,
            "done" => JobStatus::Done,
            "dead" => JobStatus::Dead,
            other => return Err(format!("unknown job status {other:?}")),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub dedupe_key: String,
    pub payload: serde_json::Value,
    pub status: JobStatus,
    /// Claims so far, this one included once claimed (an attempt cut short by a crash counts).
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: String,
    pub lease_until: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Job {
    /// Whether this claim is the job's last allowed attempt.
    pub fn is_last_attempt(&self) -> bool {
        self.attempts >= self.max_attempts
    }
}

fn from_row(r: &AnyRow) -> Result<Job> {
    let payload: String = r.try_get("payload")?;
    Ok(Job {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        dedupe_key: r.try_get("dedupe_key")?,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        status: parse(r, "status")?,
        attempts: r.try_get("attempts")?,
        max_attempts: r.try_get("max_attempts")?,
        run_at: r.try_get("run_at")?,
        lease_until: opt_str(r, "lease_until")?,
        last_error: opt_str(r, "last_error")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Enqueues a job with a fresh id and [`DEFAULT_MAX_ATTEMPTS`]; false when a job with this
/// dedupe key already exists (in any state), in which case nothing is written. Runs on the
/// caller's connection, so it commits or rolls back with the caller's transaction.
pub async fn enqueue(
    c: &mut AnyConnection,
    kind: &str,
    dedupe_key: &str,
    payload: &serde_json::Value,
    run_at: &str,
) -> Result<bool> {
    enqueue_as(
        c,
        &crate::new_id(),
        kind,
        dedupe_key,
        payload,
        run_at,
        DEFAULT_MAX_ATTEMPTS,
    )
    .await
}

/// [`enqueue`] with the job id chosen by the caller (to reference it from another row
/// written in the same transaction) and its own number of attempts.
pub async fn enqueue_as(
    c: &mut AnyConnection,
    id: &str,
    kind: &str,
    dedupe_key: &str,
    payload: &serde_json::Value,
    run_at: &str,
    max_attempts: i64,
) -> Result<bool> {
    let stamp = crate::now();
    let done = sqlx::query(
        "INSERT INTO jobs (id, kind, dedupe_key, payload, status, attempts, max_attempts, run_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $7, $7) \
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(id)
    .bind(kind)
    .bind(dedupe_key)
    .bind(payload.to_string())
    .bind(max_attempts.max(1))
    .bind(run_at)
    .bind(&stamp)
    .execute(c)
    .await
    .map_err(classify)?;
    Ok(done.rows_affected() == 1)
}

/// Takes the job of one of `kinds` that has been due longest: a queued job whose `run_at`
/// has come, or a running one whose lease ended before `now` (its worker died). The job
/// becomes `running` until `lease_until` and its attempts go up by one. Atomic on both
/// backends: SQLite holds the write lock for the statement's transaction, PostgreSQL skips
/// rows another worker has locked, so two workers never get the same job.
pub async fn claim(
    store: &Store,
    kinds: &[&str],
    now: &str,
    lease_until: &str,
) -> Result<Option<Job>> {
    if kinds.is_empty() {
        return Ok(None);
    }
    let lock = match store.backend() {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
    };
    let sql = format!(
        "UPDATE jobs SET status = 'running', lease_until = $1, attempts = attempts + 1, updated_at = $2 \
         WHERE id = (SELECT id FROM jobs WHERE kind IN ({}) AND \
           ((status = 'queued' AND run_at <= $2) OR (status = 'running' AND lease_until < $2)) \
           ORDER BY run_at, id LIMIT 1{lock}) \
         RETURNING *",
        placeholders(3, kinds.len())
    );
    let mut q = sqlx::query(&sql).bind(lease_until).bind(now);
    for k in kinds {
        q = q.bind(*k);
    }
    let mut tx = store.write().await?;
    let row = q.fetch_optional(&mut *tx).await.map_err(classify)?;
    tx.commit().await?;
    row.as_ref().map(from_row).transpose()
}

/// The job succeeded (or there was nothing left to do).
pub async fn complete(c: &mut AnyConnection, id: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'done', lease_until = NULL, updated_at = $1 WHERE id = $2 AND status = 'running'",
    )
    .bind(crate::now())
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The attempt failed; the job is queued again for `run_at`.
pub async fn retry(c: &mut AnyConnection, id: &str, run_at: &str, error: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'queued', run_at = $1, lease_until = NULL, last_error = $2, updated_at = $3 \
         WHERE id = $4 AND status = 'running'",
    )
    .bind(run_at)
    .bind(error)
    .bind(crate::now())
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The job failed for good; it stays for inspection and its dedupe key stays taken.
pub async fn dead(c: &mut AnyConnection, id: &str, error: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'dead', lease_until = NULL, last_error = $1, updated_at = $2 \
         WHERE id = $3 AND status = 'running'",
    )
    .bind(error)
    .bind(crate::now())
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves a queued job's next run (e.g. "retry now"); false when it is not queued.
pub async fn set_run_at(c: &mut AnyConnection, id: &str, run_at: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET run_at = $1, updated_at = $2 WHERE id = $3 AND status = 'queued'",
    )
    .bind(run_at)
    .bind(crate::now())
    .bind(id)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<Job>> {
    let row = sqlx::query("SELECT * FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn get_by_dedupe_key(c: &mut AnyConnection, dedupe_key: &str) -> Result<Option<Job>> {
    let row = sqlx::query("SELECT * FROM jobs WHERE dedupe_key = $1")
        .bind(dedupe_key)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(from_row).transpose()
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub mod webhooks {
    use super::*;
    use switchboard_core::Webhook;

    /// A webhook with its sealed signing secret and key id.
    #[derive(Debug, Clone)]
    pub struct WebhookRow {
        pub webhook: Webhook,
        pub secret_sealed: String,
        pub key_id: String,
    }

    fn from_row(r: &AnyRow) -> Result<WebhookRow> {
        let events: String = r.try_get("events")?;
        Ok(WebhookRow {
            webhook: Webhook {
                id: r.try_get("id")?,
                workspace_id: r.try_get("workspace_id")?,
                name: r.try_get("name")?,
                url: r.try_get("url")?,
                format: parse(r, "format")?,
                events: serde_json::from_str(&events).unwrap_or_default(),
                created_at: r.try_get("created_at")?,
            },
            secret_sealed: r.try_get("secret_sealed")?,
            key_id: r.try_get("key_id")?,
        })
    }

    pub async fn insert(c: &mut AnyConnection, row: &WebhookRow) -> Result<()> {
        let w = &row.webhook;
        sqlx::query(
            "INSERT INTO webhooks (id, workspace_id, name, url, format, events, secret_sealed, key_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&w.id)
        .bind(&w.workspace_id)
        .bind(&w.name)
        .bind(&w.url)
        .bind(w.format.as_str())
        .bind(json_list(&w.events))
        .bind(&row.secret_sealed)
        .bind(&row.key_id)
        .bind(&w.created_at)
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(())
    }

    pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<WebhookRow>> {
        let row = sqlx::query("SELECT * FROM webhooks WHERE id = $1")
            .bind(id)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list(c: &mut AnyConnection, workspace_id: &str) -> Result<Vec<Webhook>> {
        let rows = sqlx::query("SELECT * FROM webhooks WHERE workspace_id = $1 ORDER BY name")
            .bind(workspace_id)
            .fetch_all(c)
            .await?;
        rows.iter()
            .map(|r| from_row(r).map(|x| x.webhook))
            .collect()
    }

    pub async fn delete(c: &mut AnyConnection, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(c)
            .await?;
        Ok(())
    }
}

pub mod deliveries {
    use super::*;
    use switchboard_core::{DeliveryStatus, WebhookDelivery};

    fn from_row(r: &AnyRow) -> Result<WebhookDelivery> {
        let payload: String = r.try_get("payload")?;
        Ok(WebhookDelivery {
            id: r.try_get("id")?,
            webhook_id: r.try_get("webhook_id")?,
            workspace_id: r.try_get("workspace_id")?,
            job_id: r.try_get("job_id")?,
            event: r.try_get("event")?,
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
            status: parse(r, "status")?,
            attempts: r.try_get("attempts")?,
            last_status: r.try_get::<Option<i64>, _>("last_status")?,
            last_error: opt_str(r, "last_error")?,
            next_attempt_at: opt_str(r, "next_attempt_at")?,
            created_at: r.try_get("created_at")?,
            delivered_at: opt_str(r, "delivered_at")?,
        })
    }

    pub async fn insert(c: &mut AnyConnection, d: &WebhookDelivery) -> Result<()> {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, workspace_id, job_id, event, payload, status, attempts, \
             last_status, last_error, next_attempt_at, created_at, delivered_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&d.id)
        .bind(&d.webhook_id)
        .bind(&d.workspace_id)
        .bind(&d.job_id)
        .bind(&d.event)
        .bind(d.payload.to_string())
        .bind(d.status.as_str())
        .bind(d.attempts)
        .bind(d.last_status)
        .bind(d.last_error.as_deref())
        .bind(d.next_attempt_at.as_deref())
        .bind(&d.created_at)
        .bind(d.delivered_at.as_deref())
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(())
    }

    /// Records the outcome of an attempt.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_attempt(
        c: &mut AnyConnection,
        id: &str,
        status: DeliveryStatus,
        attempts: i64,
        last_status: Option<i64>,
        last_error: Option<&str>,
        next_attempt_at: Option<&str>,
        delivered_at: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = $2, last_status = $3, last_error = $4, \
             next_attempt_at = $5, delivered_at = $6 WHERE id = $7",
        )
        .bind(status.as_str())
        .bind(attempts)
        .bind(last_status)
        .bind(last_error)
        .bind(next_attempt_at)
        .bind(delivered_at)
        .bind(id)
        .execute(c)
        .await?;
        Ok(())
    }

    pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<WebhookDelivery>> {
        let row = sqlx::query("SELECT * FROM webhook_deliveries WHERE id = $1")
            .bind(id)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A webhook's deliveries, newest first.
    pub async fn list(
        c: &mut AnyConnection,
        webhook_id: &str,
        limit: i64,
    ) -> Result<Vec<WebhookDelivery>> {
        let rows = sqlx::query(
            "SELECT * FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(webhook_id)
        .bind(limit)
        .fetch_all(c)
        .await?;
        rows.iter().map(from_row).collect()
    }
}
