-- SLA policies of the unified inbox: per team and priority, a first-response and a resolution
-- target in business minutes, counted in the policy's time zone and business hours.
CREATE TABLE sla_policies (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    first_response_minutes BIGINT NOT NULL CHECK (first_response_minutes > 0),
    resolution_minutes BIGINT NOT NULL CHECK (resolution_minutes > 0),
    -- An IANA time zone name.
    time_zone TEXT NOT NULL,
    -- JSON object weekday (mon..sun) -> {"start": "HH:MM", "end": "HH:MM"}; NULL counts 24/7.
    business_hours TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT sla_policies_team_priority UNIQUE (team_id, priority)
);
CREATE INDEX sla_policies_workspace ON sla_policies(workspace_id);

-- When the conversation was last closed; NULL while it is not closed.
ALTER TABLE conversations ADD COLUMN closed_at TEXT;
