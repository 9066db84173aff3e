//! Demo data: the organisation "Acme" with a centre-of-excellence workspace and two regional
//! children, a team per function and a user per role. Built through the same audited
//! operations people use, so the demo's audit log reads like a real one.

use crate::ops::{AddMember, AddTeamMember, CreateTeam, CreateWorkspace};
use crate::{Actor, App, Audit, ServiceResult, NONE};
use rand::Rng;
use switchboard_core::{Organization, Role, TeamFunction};
use switchboard_store::{new_id, now, orgs, users};

pub const ORG_SLUG: &str = "acme";

#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoUser {
    pub email: String,
    pub name: String,
    pub role: String,
    pub password: String,
}

/// (e-mail, name, role, workspace, team)
const PEOPLE: &[(&str, &str, Role, &str, Option<&str>)] = &[
    (
        "admin@acme.example",
        "Ada Admin",
        Role::Admin,
        "acme-global",
        None,
    ),
    (
        "manager@acme.example",
        "Mia Manager",
        Role::Manager,
        "acme-global",
        Some("Social"),
    ),
    (
        "publisher@acme.example",
        "Paul Publisher",
        Role::Publisher,
        "acme-global",
        Some("Social"),
    ),
    (
        "contributor@acme.example",
        "Chloé Contributor",
        Role::Contributor,
        "acme-de",
        None,
    ),
    (
        "agent@acme.example",
        "Jonas Agent",
        Role::Agent,
        "acme-global",
        Some("Support"),
    ),
    (
        "analyst@acme.example",
        "Seo-yeon Analyst",
        Role::Analyst,
        "acme-global",
        Some("Product"),
    ),
    (
        "viewer@acme.example",
        "Victor Viewer",
        Role::Viewer,
        "acme-global",
        Some("Executives"),
    ),
    (
        "ambassador@acme.example",
        "Amir Ambassador",
        Role::Ambassador,
        "acme-global",
        None,
    ),
];

const OWNER: (&str, &str) = ("owner@acme.example", "Olivia Owner");

const TEAMS: &[(&str, &str, TeamFunction)] = &[
    ("acme-global", "Social", TeamFunction::Social),
    ("acme-global", "Support", TeamFunction::Support),
    ("acme-global", "Sales", TeamFunction::Sales),
    ("acme-global", "Recruiting", TeamFunction::Recruiting),
    ("acme-global", "Product", TeamFunction::Product),
    ("acme-global", "Executives", TeamFunction::Executive),
    ("acme-de", "Social", TeamFunction::Social),
    ("acme-de", "Support", TeamFunction::Support),
    ("acme-kr", "Social", TeamFunction::Social),
    ("acme-kr", "Support", TeamFunction::Support),
];

fn password() -> String {
    const CHARS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..16)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

impl App {
    /// Seeds the demo organisation, or, when it is already there, gives its users new
    /// passwords. Returns every demo user with a password that works now.
    pub async fn seed_demo(&self) -> ServiceResult<Vec<DemoUser>> {
        let actor = Actor::Cli;
        let existing = {
            let mut c = self.store.read().await?;
            orgs::get_by_slug(&mut c, ORG_SLUG).await?
        };
        let mut out = Vec::new();
        if existing.is_some() {
            for (email, name, role) in
                std::iter::once((OWNER.0, OWNER.1, "owner (organisation)".to_string())).chain(
                    PEOPLE
                        .iter()
                        .map(|p| (p.0, p.1, format!("{} in {}", p.2, p.3))),
                )
            {
                let pw = password();
                let hash = crate::auth::hash_password(&pw).await?;
                let mut tx = self.store.write().await?;
                if let Some((u, _)) = users::get_by_email(&mut tx, email).await? {
                    users::set_password(&mut tx, &u.id, &hash).await?;
                    tx.commit().await?;
                    out.push(DemoUser {
                        email: email.into(),
                        name: name.into(),
                        role,
                        password: pw,
                    });
                }
            }
            return Ok(out);
        }

        let mut tx = self.store.write().await?;
        let org = Organization {
            id: new_id(),
            slug: ORG_SLUG.into(),
            name: "Acme".into(),
            created_at: now(),
        };
        orgs::insert(&mut tx, &org).await?;
        Audit {
            org_id: &org.id,
            workspace_id: None,
            action: "org.create",
            target_type: "organization",
            target_id: &org.id,
        }
        .write(&mut tx, &actor, NONE, Some(&org))
        .await?;
        tx.commit().await?;

        let pw = password();
        self.cli_add_user(ORG_SLUG, OWNER.0, Some(OWNER.1), &pw, true)
            .await?;
        out.push(DemoUser {
            email: OWNER.0.into(),
            name: OWNER.1.into(),
            role: "owner (organisation)".into(),
            password: pw,
        });

        for (name, slug, parent) in [
            ("Acme Global", "acme-global", None),
            ("Acme DE", "acme-de", Some("acme-global")),
            ("Acme KR", "acme-kr", Some("acme-global")),
        ] {
            let input = CreateWorkspace {
                org: Some(ORG_SLUG.into()),
                name: name.into(),
                slug: Some(slug.into()),
                parent: parent.map(|p| format!("{ORG_SLUG}/{p}")),
            };
            self.create_workspace(&actor, input).await?;
        }
        for (ws, name, function) in TEAMS {
            self.create_team(
                &actor,
                &format!("{ORG_SLUG}/{ws}"),
                CreateTeam {
                    name: (*name).into(),
                    function: *function,
                },
            )
            .await?;
        }
        for (email, name, role, ws, team) in PEOPLE {
            let pw = password();
            let ws = format!("{ORG_SLUG}/{ws}");
            let input = AddMember {
                email: (*email).into(),
                role: *role,
                name: Some((*name).into()),
                password: Some(pw.clone()),
            };
            self.add_member(&actor, &ws, input).await?;
            if let Some(team) = team {
                self.add_team_member(
                    &actor,
                    &ws,
                    team,
                    AddTeamMember {
                        user: (*email).into(),
                    },
                )
                .await?;
            }
            out.push(DemoUser {
                email: (*email).into(),
                name: (*name).into(),
                role: format!("{role} in {}", ws.trim_start_matches("acme/")),
                password: pw,
            });
        }
        Ok(out)
    }
}
