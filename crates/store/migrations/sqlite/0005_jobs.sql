-- Background jobs (webhook deliveries now; publishing, alerts and hand-offs later). A job is
-- enqueued in the transaction of the change that causes it; its dedupe key makes enqueueing
-- idempotent. Workers claim a job with a lease: a job whose worker died is claimed again
-- once the lease has passed.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    dedupe_key TEXT NOT NULL,
    -- JSON: what the handler needs (ids, not copies of the data).
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'dead')),
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at TEXT NOT NULL,
    lease_until TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT jobs_dedupe_key_key UNIQUE (dedupe_key)
);
CREATE INDEX jobs_due ON jobs(status, run_at);

-- Outbound webhooks: where a workspace's events are POSTed, signed with a sealed secret.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    format TEXT NOT NULL CHECK (format IN ('switchboard', 'slack')),
    -- JSON array of event names ("alert.spike", "alert.*"); empty: every event.
    events TEXT NOT NULL,
    -- AES-256-GCM ciphertext of the signing secret and its key id.
    secret_sealed TEXT NOT NULL,
    key_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT webhooks_workspace_name_key UNIQUE (workspace_id, name)
);

-- One event for one webhook, with the outcome of its latest attempt.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'retrying', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    last_status BIGINT,
    last_error TEXT,
    next_attempt_at TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries(webhook_id, created_at);
