//! The background worker: claims due jobs with a lease and hands each to the handler of its
//! kind. Jobs are enqueued with `switchboard_store::jobs::enqueue` in the transaction of the
//! change that causes them (see [`crate::outbound::emit`] for an example).
//!
//! Adding a kind (`inbox.handoff`, `publish`, ...) takes two lines: its name in [`KINDS`] and
//! an arm in [`App::dispatch`]. A handler is idempotent (a job may run again after a crash,
//! or when its lease ran out), does its work outside any write transaction, then records the
//! job's outcome with `jobs::complete`, `jobs::retry` or `jobs::dead` in the same transaction
//! as its own rows. When a handler returns an error instead, the worker records it and retries
//! the job with [`backoff`], or gives up after the job's last attempt.

use crate::{outbound, App, ServiceError, ServiceResult};
use std::time::Duration;
use switchboard_store::jobs::{self, Job};
use switchboard_store::timestamp;

/// Every kind this build has a handler for; the worker claims only these, so a newer
/// server's jobs wait for a server that knows them.
pub const KINDS: &[&str] = &[
    outbound::DELIVER,
    crate::listening::REINDEX_JOB,
    crate::inbox_work::REPLY_JOB,
];

/// How long a claimed job is reserved for its worker before another may take it.
pub const LEASE: Duration = Duration::from_secs(60);
/// Jobs run at once by one call of [`App::run_due_jobs`].
const CONCURRENCY: usize = 8;
/// Jobs taken by one call, so a large backlog does not starve the caller's loop.
const MAX_PER_RUN: usize = 200;

/// The wait before the attempt after attempt `attempt` (1-based) failed: 30 s × 2^(attempt−1),
/// at most one hour.
pub fn backoff(attempt: i64) -> Duration {
    let doublings = attempt.clamp(1, 32) - 1;
    Duration::from_secs(30u64.saturating_mul(1u64 << doublings).min(3600))
}

impl App {
    /// Runs every due job (up to a few hundred per call, several at a time) and returns how
    /// many were run. Call it in a loop; several processes on one database may do so at once.
    pub async fn run_due_jobs(&self) -> ServiceResult<usize> {
        let mut ran = 0;
        loop {
            let mut running = tokio::task::JoinSet::new();
            let mut claim_error = None;
            while running.len() < CONCURRENCY && ran < MAX_PER_RUN {
                let now = time::OffsetDateTime::now_utc();
                match jobs::claim(&self.store, KINDS, &timestamp(now), &timestamp(now + LEASE))
                    .await
                {
                    Ok(Some(job)) => {
                        ran += 1;
                        let app = self.clone();
                        running.spawn(async move { app.run_job(job).await });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        claim_error = Some(e);
                        break;
                    }
                }
            }
            let batch = running.len();
            // Let the claimed jobs finish even when claiming more failed.
            while let Some(done) = running.join_next().await {
                if let Err(e) = done {
                    tracing::error!(error = %e, "a job handler panicked; its lease will run out and it is retried");
                }
            }
            if let Some(e) = claim_error {
                return Err(e.into());
            }
            if batch < CONCURRENCY || ran >= MAX_PER_RUN {
                return Ok(ran);
            }
        }
    }

    async fn run_job(&self, job: Job) {
        let Err(e) = self.dispatch(&job).await else {
            return;
        };
        let error = e.to_string();
        tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = %error, "job failed");
        let recorded = async {
            let mut tx = self.store.write().await?;
            if job.is_last_attempt() {
                jobs::dead(&mut tx, &job.id, &error).await?;
            } else {
                let at = time::OffsetDateTime::now_utc() + backoff(job.attempts);
                jobs::retry(&mut tx, &job.id, &timestamp(at), &error).await?;
            }
            tx.commit().await?;
            Ok::<_, ServiceError>(())
        }
        .await;
        if let Err(e) = recorded {
            tracing::error!(job = %job.id, error = %e, "could not record a job's failure; its lease will run out and it is retried");
        }
    }

    /// Job kind → handler.
    async fn dispatch(&self, job: &Job) -> ServiceResult<()> {
        match job.kind.as_str() {
            outbound::DELIVER => self.deliver_webhook(job).await,
            crate::listening::REINDEX_JOB => self.run_reindex_job(job).await,
            crate::inbox_work::REPLY_JOB => self.run_reply_job(job).await,
            other => Err(ServiceError::Internal(format!(
                "no handler for job kind {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_30_seconds_up_to_an_hour() {
        let secs: Vec<u64> = (1..=9).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff(0).as_secs(), 30);
        assert_eq!(backoff(i64::MAX).as_secs(), 3600);
    }
}
