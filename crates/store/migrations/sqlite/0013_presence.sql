-- Who is at a conversation: the latest heartbeat per user. In the store rather than a
-- server's memory, so agents on different servers sharing one database see each other.
CREATE TABLE conversation_presence (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- `viewing` or `replying`.
    state TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_presence_seen ON conversation_presence(seen_at);
