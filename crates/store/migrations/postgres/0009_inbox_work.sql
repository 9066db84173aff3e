-- Working a conversation: internal notes with @mentions, saved replies, and replies sent
-- from the inbox through the workspace's live channel.

-- When the team first answered (a reply was sent); NULL until then.
ALTER TABLE conversations ADD COLUMN first_response_at TEXT;

CREATE TABLE conversation_notes (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    author_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    -- The author's e-mail address, or `cli`.
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX conversation_notes_conversation ON conversation_notes(conversation_id, created_at);

-- The workspace members a note mentions.
CREATE TABLE note_mentions (
    note_id TEXT NOT NULL REFERENCES conversation_notes(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (note_id, user_id)
);
CREATE INDEX note_mentions_user ON note_mentions(user_id);

CREATE TABLE saved_replies (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT saved_replies_workspace_name_key UNIQUE (workspace_id, name)
);

-- A reply sent from the inbox. Written (queued) together with its `inbox.reply` job; the job
-- posts it once and records the remote status.
CREATE TABLE conversation_replies (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    author_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    author TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    idempotency_key TEXT,
    -- The external id of the customer's item answered.
    in_reply_to TEXT NOT NULL,
    remote_id TEXT,
    remote_url TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    CONSTRAINT conversation_replies_idempotency_key UNIQUE (conversation_id, idempotency_key)
);
CREATE INDEX conversation_replies_conversation ON conversation_replies(conversation_id, created_at);
