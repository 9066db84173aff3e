-- Live connections to a network account, polled for new items.
CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    network TEXT NOT NULL CHECK (network IN ('mastodon', 'bluesky')),
    name TEXT NOT NULL,
    base_url TEXT NOT NULL,
    account TEXT NOT NULL,
    -- AES-256-GCM ciphertext of the credentials (token, app password, session) and its key id.
    credentials_sealed TEXT NOT NULL,
    key_id TEXT NOT NULL,
    -- JSON: the feeds to follow and the cursor per feed.
    feeds TEXT NOT NULL,
    cursor TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'needs_reconnect', 'rate_limited', 'error')),
    status_message TEXT,
    next_poll_at TEXT NOT NULL,
    last_polled_at TEXT,
    created_at TEXT NOT NULL,
    CONSTRAINT channels_workspace_name_key UNIQUE (workspace_id, name)
);
CREATE INDEX channels_due ON channels(next_poll_at);
