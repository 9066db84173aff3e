-- Every item write appends here in the same transaction, so the search index (derived data,
-- possibly in another process) can follow the store in commit order and never miss a change.
CREATE TABLE item_changes (
    seq BIGSERIAL PRIMARY KEY,
    item_id TEXT NOT NULL,
    changed_at TEXT NOT NULL
);

-- Saved listening queries: the brand, products, competitors, campaigns.
CREATE TABLE topics (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('brand', 'product', 'competitor', 'campaign', 'other')),
    query TEXT NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT topics_workspace_name_key UNIQUE (workspace_id, name)
);

-- Events on the workspace timeline that explain what follows them.
CREATE TABLE annotations (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('release', 'campaign', 'outage', 'event')),
    at TEXT NOT NULL,
    created_by TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX annotations_workspace_at ON annotations(workspace_id, at);

-- A detected spike is also the alert: one row per (topic, series, window start), so a spike
-- found again by the next scan is the same alert, fired once.
CREATE TABLE spikes (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    topic_id TEXT NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    series TEXT NOT NULL,
    bucket_secs BIGINT NOT NULL,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    observed DOUBLE PRECISION NOT NULL,
    baseline DOUBLE PRECISION NOT NULL,
    change_pct DOUBLE PRECISION NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    annotation_id TEXT,
    annotation_title TEXT,
    terms TEXT NOT NULL,
    intents TEXT NOT NULL,
    summary TEXT NOT NULL,
    acknowledged_by TEXT,
    acknowledged_at TEXT,
    created_at TEXT NOT NULL,
    CONSTRAINT spikes_topic_series_window_key UNIQUE (topic_id, series, window_start)
);
CREATE INDEX spikes_workspace_created ON spikes(workspace_id, created_at);
