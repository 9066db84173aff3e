//! Roles, permissions and the matrix between them. `docs/permissions.md` is generated from
//! this file (a test keeps it identical) and the service layer checks every action against it.

use serde::{Deserialize, Serialize};

/// A closed set of lowercase names: serde, Display, FromStr (case-insensitive, errors list the choices).
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $s:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),* }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim().to_ascii_lowercase().as_str() {
                    $($s => Ok($name::$variant),)*
                    _ => Err(format!(
                        "unknown value {:?}; expected one of: {}",
                        s,
                        [$($s),*].join(", ")
                    )),
                }
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// A member's role in a workspace.
    Role {
        Owner => "owner",
        Admin => "admin",
        Manager => "manager",
        Publisher => "publisher",
        Contributor => "contributor",
        Agent => "agent",
        Analyst => "analyst",
        Viewer => "viewer",
        Ambassador => "ambassador",
    }
);

string_enum!(
    /// What a team does; routing and reports use it to find "the support team" etc.
    TeamFunction {
        Social => "social",
        Support => "support",
        Sales => "sales",
        Recruiting => "recruiting",
        Product => "product",
        Executive => "executive",
        Custom => "custom",
    }
);

string_enum!(
    /// A user's standing in an organisation as a whole.
    OrgRole {
        Owner => "owner",
        Admin => "admin",
        Member => "member",
    }
);

string_enum!(
    /// An action a role may be allowed to take in a workspace.
    Permission {
        WorkspaceRead => "workspace.read",
        WorkspaceUpdate => "workspace.update",
        WorkspaceCreateChild => "workspace.create_child",
        WorkspaceDelete => "workspace.delete",
        MembersRead => "members.read",
        MembersManage => "members.manage",
        TeamsManage => "teams.manage",
        AuditRead => "audit.read",
        ListeningRead => "listening.read",
        ListeningManage => "listening.manage",
        InboxRead => "inbox.read",
        InboxReply => "inbox.reply",
        InboxManage => "inbox.manage",
        PublishingDraft => "publishing.draft",
        PublishingSchedule => "publishing.schedule",
        PublishingApprove => "publishing.approve",
        BrandManage => "brand.manage",
        AdvocacyShare => "advocacy.share",
        AdvocacyManage => "advocacy.manage",
        AnalyticsRead => "analytics.read",
        IntegrationsManage => "integrations.manage",
    }
);

impl Permission {
    pub fn description(self) -> &'static str {
        use Permission::*;
        match self {
            WorkspaceRead => "See the workspace, its teams and its parent/children",
            WorkspaceUpdate => "Rename the workspace or change its parent",
            WorkspaceCreateChild => "Create child workspaces under this one",
            WorkspaceDelete => "Delete the workspace (only when it has no children)",
            MembersRead => "List the workspace's members and team members",
            MembersManage => "Add, re-role and remove members (nobody but an owner grants `owner`)",
            TeamsManage => "Create, rename and delete teams; add and remove team members",
            AuditRead => "Read the workspace's audit log",
            ListeningRead => "Search mentions, read topics, trends and alerts",
            ListeningManage => "Create and edit topics, annotations and alert rules",
            InboxRead => "Read inbox conversations",
            InboxReply => "Reply to, assign and close conversations",
            InboxManage => "Edit routing rules, SLA policies and saved replies",
            PublishingDraft => "Create drafts (they need approval before they are scheduled)",
            PublishingSchedule => "Schedule and publish approved or own content",
            PublishingApprove => "Approve or reject drafts",
            BrandManage => "Edit brand policies and the content library",
            AdvocacyShare => "Share curated content through personal tracked links",
            AdvocacyManage => "Curate advocacy content and manage ambassadors",
            AnalyticsRead => "Read reports, attribution and ROI",
            IntegrationsManage => "Manage channels, connectors, webhooks and exports",
        }
    }
}

impl Role {
    /// The permissions this role grants in the workspace where it is held (and, by
    /// inheritance, in that workspace's descendants).
    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Owner => Permission::ALL,
            Role::Admin => &[
                WorkspaceRead,
                WorkspaceUpdate,
                WorkspaceCreateChild,
                MembersRead,
                MembersManage,
                TeamsManage,
                AuditRead,
                ListeningRead,
                ListeningManage,
                InboxRead,
                InboxReply,
                InboxManage,
                PublishingDraft,
                PublishingSchedule,
                PublishingApprove,
                BrandManage,
                AdvocacyShare,
                AdvocacyManage,
                AnalyticsRead,
                IntegrationsManage,
            ],
            Role::Manager => &[
                WorkspaceRead,
                MembersRead,
                TeamsManage,
                ListeningRead,
                ListeningManage,
                InboxRead,
                InboxReply,
                InboxManage,
                PublishingDraft,
                PublishingSchedule,
                PublishingApprove,
                AdvocacyShare,
                AdvocacyManage,
                AnalyticsRead,
            ],
            Role::Publisher => &[
                WorkspaceRead,
                MembersRead,
                ListeningRead,
                InboxRead,
                InboxReply,
                PublishingDraft,
                PublishingSchedule,
                AdvocacyShare,
                AnalyticsRead,
            ],
            Role::Contributor => &[
                WorkspaceRead,
                MembersRead,
                ListeningRead,
                InboxRead,
                PublishingDraft,
                AdvocacyShare,
            ],
            Role::Agent => &[
                WorkspaceRead,
                MembersRead,
                ListeningRead,
                InboxRead,
                InboxReply,
            ],
            Role::Analyst => &[
                WorkspaceRead,
                MembersRead,
                ListeningRead,
                ListeningManage,
                InboxRead,
                AnalyticsRead,
            ],
            Role::Viewer => &[
                WorkspaceRead,
                MembersRead,
                ListeningRead,
                InboxRead,
                AnalyticsRead,
            ],
            Role::Ambassador => &[WorkspaceRead, AdvocacyShare],
        }
    }

    pub fn allows(self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }

    pub fn description(self) -> &'static str {
        match self {
            Role::Owner => "Full control, including deleting the workspace and granting `owner`",
            Role::Admin => "Runs the workspace: members, teams, integrations, audit log",
            Role::Manager => "Leads a function: teams, routing, approvals, topics",
            Role::Publisher => "Publishes and schedules content, answers in the inbox",
            Role::Contributor => "Drafts content for approval",
            Role::Agent => "Answers conversations in the inbox (support, sales, recruiting)",
            Role::Analyst => "Builds listening topics and reads reports",
            Role::Viewer => "Reads everything a workspace shows, changes nothing (e.g. executives)",
            Role::Ambassador => "An employee advocate: shares curated content, sees little else",
        }
    }
}

impl OrgRole {
    /// The workspace role an organisation role implies in every workspace of the organisation.
    pub fn implied_workspace_role(self) -> Option<Role> {
        match self {
            OrgRole::Owner => Some(Role::Owner),
            OrgRole::Admin => Some(Role::Admin),
            OrgRole::Member => None,
        }
    }
}

/// Union of the permissions of several roles, the way effective access is computed when a
/// user holds roles through the organisation, the workspace and its ancestors.
pub fn allowed(roles: &[Role], p: Permission) -> bool {
    roles.iter().any(|r| r.allows(p))
}

/// Markdown for `docs/permissions.md`.
pub fn permissions_markdown() -> String {
    let mut out = String::from(
        "# Permissions\n\n\
         Generated from `crates/core/src/role.rs`; a test fails when this file differs. \
         The service layer checks every request against this matrix (the web UI only hides what you may not do).\n\n\
         ## How a user's roles in a workspace are found\n\n\
         - **Organisation role**: `owner` acts as workspace `owner` and `admin` as workspace `admin` in every workspace \
           of the organisation. Only organisation owners and admins create top-level workspaces and read the \
           organisation-wide audit log.\n\
         - **Workspace membership**: one role per workspace per user.\n\
         - **Inheritance**: a parent workspace is the centre of excellence for its children, so a role held in a \
           workspace also applies in all of its descendants.\n\
         - A user's permissions are the union of all roles that apply.\n\
         - Objects in organisations or workspaces the user has no role in are answered with `404 not_found`, exactly \
           like objects that do not exist. A visible object whose action the role lacks answers `403 forbidden`.\n\
         - API tokens act with the permissions of the user who created them, as they are at the time of each request.\n\n\
         ## Roles\n\n| role | for |\n| --- | --- |\n",
    );
    for r in Role::ALL {
        out.push_str(&format!("| `{}` | {} |\n", r.as_str(), r.description()));
    }
    out.push_str("\n## Matrix\n\n| permission | ");
    out.push_str(
        &Role::ALL
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(" | "),
    );
    out.push_str(" | what it allows |\n| --- |");
    out.push_str(&" :-: |".repeat(Role::ALL.len()));
    out.push_str(" --- |\n");
    for p in Permission::ALL {
        out.push_str(&format!("| `{}` |", p.as_str()));
        for r in Role::ALL {
            out.push_str(if r.allows(*p) { " ✔ |" } else { "   |" });
        }
        out.push_str(&format!(" {} |\n", p.description()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_holds_every_permission_and_only_owner_deletes() {
        for p in Permission::ALL {
            assert!(Role::Owner.allows(*p));
        }
        for r in Role::ALL.iter().filter(|r| **r != Role::Owner) {
            assert!(
                !r.allows(Permission::WorkspaceDelete),
                "{r} must not delete"
            );
        }
    }

    #[test]
    fn every_role_can_read_its_workspace() {
        for r in Role::ALL {
            assert!(r.allows(Permission::WorkspaceRead));
        }
    }

    #[test]
    fn parse_is_case_insensitive_and_lists_choices_on_error() {
        assert_eq!("Agent".parse::<Role>(), Ok(Role::Agent));
        let err = "boss".parse::<Role>().unwrap_err();
        assert!(err.contains("owner, admin"), "{err}");
    }
}
