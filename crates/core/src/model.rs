//! The records the API returns. Timestamps are RFC 3339 UTC strings with millisecond
//! precision (`2026-11-23T08:14:23.123Z`), which also sort correctly as text.

use crate::role::{OrgRole, Role, TeamFunction};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organization {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workspace {
    pub id: String,
    pub org_id: String,
    pub slug: String,
    pub name: String,
    /// The centre-of-excellence workspace this one inherits guidelines and access from.
    pub parent_id: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Team {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub function: TeamFunction,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: String,
}

/// A user's membership of an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgMembership {
    pub org: Organization,
    pub role: OrgRole,
}

/// A user's direct role in one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub workspace_id: String,
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamMember {
    pub team_id: String,
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: String,
    pub org_id: String,
    pub workspace_id: Option<String>,
    pub actor_id: Option<String>,
    /// Who did it as shown to people: an e-mail address, or `cli` for local admin commands.
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// The first characters of the token, so people can tell their tokens apart.
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}
