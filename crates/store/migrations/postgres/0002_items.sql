-- Everything the platform hears: posts, replies, comments, mentions, direct messages, reviews.
CREATE TABLE items (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    network TEXT NOT NULL,
    external_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    author_id TEXT NOT NULL,
    author_handle TEXT NOT NULL,
    author_name TEXT NOT NULL,
    author_followers BIGINT,
    text TEXT NOT NULL,
    -- JSON arrays of strings.
    hashtags TEXT NOT NULL,
    mentions TEXT NOT NULL,
    urls TEXT NOT NULL,
    lang TEXT,
    created_at TEXT NOT NULL,
    url TEXT,
    parent_id TEXT,
    root_id TEXT,
    likes BIGINT NOT NULL,
    shares BIGINT NOT NULL,
    replies BIGINT NOT NULL,
    sentiment TEXT NOT NULL,
    sentiment_score DOUBLE PRECISION NOT NULL,
    intents TEXT NOT NULL,
    tags TEXT NOT NULL,
    raw TEXT,
    -- Hash of what the network said, so a re-import tells "unchanged" from "updated".
    content_hash TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT items_workspace_network_external_key UNIQUE (workspace_id, network, external_id)
);
CREATE INDEX items_workspace_created ON items(workspace_id, created_at);
CREATE INDEX items_workspace_updated ON items(workspace_id, updated_at);

-- Signed webhook sources that push items into a workspace.
CREATE TABLE ingest_sources (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    format TEXT NOT NULL,
    -- AES-256-GCM ciphertext of the signing secret and the id of the key that sealed it.
    secret_sealed TEXT NOT NULL,
    key_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT ingest_sources_workspace_name_key UNIQUE (workspace_id, name)
);

-- Delivery ids already ingested, so a replayed delivery adds nothing.
CREATE TABLE ingest_deliveries (
    source_id TEXT NOT NULL REFERENCES ingest_sources(id) ON DELETE CASCADE,
    delivery_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    items BIGINT NOT NULL,
    PRIMARY KEY (source_id, delivery_id)
);
