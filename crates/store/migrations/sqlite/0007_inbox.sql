-- The unified inbox: items threaded into conversations, routed by per-workspace rules.

-- One conversation per (workspace, network, thread key); see crates/service/src/inbox.rs for
-- how an item's thread key is found.
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    network TEXT NOT NULL,
    thread_key TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('thread', 'dm', 'mention')),
    status TEXT NOT NULL CHECK (status IN ('open', 'pending', 'snoozed', 'closed')),
    snoozed_until TEXT,
    priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    team_id TEXT REFERENCES teams(id) ON DELETE SET NULL,
    assignee_id TEXT REFERENCES users(id) ON DELETE SET NULL,
    -- JSON array of strings.
    tags TEXT NOT NULL,
    -- The rule id (or `default:INTENT`) that routed it, NULL when nothing matched.
    routed_by_rule TEXT,
    first_item_at TEXT NOT NULL,
    last_item_at TEXT NOT NULL,
    item_count BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT conversations_workspace_network_thread_key UNIQUE (workspace_id, network, thread_key)
);
CREATE INDEX conversations_workspace_status_last ON conversations(workspace_id, status, last_item_at);
CREATE INDEX conversations_workspace_team_last ON conversations(workspace_id, team_id, last_item_at);
CREATE INDEX conversations_workspace_assignee_last ON conversations(workspace_id, assignee_id, last_item_at);
CREATE INDEX conversations_workspace_last ON conversations(workspace_id, last_item_at);
CREATE INDEX conversations_workspace_first ON conversations(workspace_id, first_item_at);

-- An item belongs to exactly one conversation.
CREATE TABLE conversation_items (
    item_id TEXT PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE
);
CREATE INDEX conversation_items_conversation ON conversation_items(conversation_id);

-- Ordered per workspace; conditions and actions are JSON objects.
CREATE TABLE routing_rules (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    name TEXT NOT NULL,
    conditions TEXT NOT NULL,
    actions TEXT NOT NULL,
    -- 0 or 1.
    continue_matching BIGINT NOT NULL,
    enabled BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT routing_rules_workspace_name_key UNIQUE (workspace_id, name)
);
CREATE INDEX routing_rules_workspace_position ON routing_rules(workspace_id, position);

-- The router's position in item_changes.
CREATE TABLE inbox_cursor (
    name TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);

-- A conversation's timeline: created, routed, assigned, status changes.
CREATE TABLE conversation_events (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX conversation_events_conversation_at ON conversation_events(conversation_id, at);
