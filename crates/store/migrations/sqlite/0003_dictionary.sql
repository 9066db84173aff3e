-- Workspace dictionaries: brand, product and competitor names tagged on items, and extra
-- keywords for the intent rules. A workspace also uses its ancestors' entries.
CREATE TABLE dictionary_entries (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('brand', 'product', 'competitor', 'intent')),
    label TEXT NOT NULL,
    -- JSON array of names, aliases or keywords.
    terms TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT dictionary_entries_workspace_kind_label_key UNIQUE (workspace_id, kind, label)
);
