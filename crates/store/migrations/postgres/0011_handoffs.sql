-- "Send to CRM/helpdesk": a conversation posted, as the `inbox.handoff` event, to each of the
-- workspace's webhooks that subscribe to it; one row per webhook, with the id and link the
-- receiver answered (its ticket or lead) once the delivery succeeded.
CREATE TABLE conversation_handoffs (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    webhook_name TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    remote_id TEXT,
    remote_url TEXT,
    error TEXT,
    -- The e-mail address of who asked, or `cli`.
    requested_by TEXT NOT NULL,
    note TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT conversation_handoffs_delivery_key UNIQUE (delivery_id)
);
CREATE INDEX conversation_handoffs_conversation ON conversation_handoffs(conversation_id, created_at);
