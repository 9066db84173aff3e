//! Who may see and do what. Visibility is computed once per request from the user's
//! organisation roles, direct workspace roles and the workspace tree.

use crate::{Actor, ServiceError, ServiceResult};
use serde::Serialize;
use std::collections::HashMap;
use switchboard_core::role::{allowed, OrgRole};
use switchboard_core::{validate, OrgMembership, Organization, Permission, Role, Workspace};
use switchboard_store::{members, orgs, workspaces, AnyConnection};

/// A workspace the caller can see, with the roles that apply to them there.
#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceAccess {
    #[serde(flatten)]
    pub workspace: Workspace,
    pub roles: Vec<Role>,
}

impl WorkspaceAccess {
    pub fn can(&self, p: Permission) -> bool {
        allowed(&self.roles, p)
    }

    pub fn require(&self, p: Permission) -> ServiceResult<()> {
        if self.can(p) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "needs permission {p} in workspace {}",
                self.workspace.slug
            )))
        }
    }

    pub fn permissions(&self) -> Vec<Permission> {
        Permission::ALL
            .iter()
            .copied()
            .filter(|p| self.can(*p))
            .collect()
    }
}

/// Everything one caller can see.
#[derive(Debug, Clone)]
pub struct Access {
    pub orgs: Vec<OrgMembership>,
    /// Visible workspaces only, ordered by name.
    pub workspaces: Vec<WorkspaceAccess>,
    /// Every workspace of the caller's organisations, visible or not: only for naming a
    /// parent to the members of its children.
    pub org_workspaces: Vec<Workspace>,
}

impl Access {
    pub async fn load(c: &mut AnyConnection, actor: &Actor) -> ServiceResult<Access> {
        let (org_list, all_ws, direct): (Vec<OrgMembership>, Vec<Workspace>, Vec<(String, Role)>) =
            match actor {
                Actor::Cli => {
                    let list = orgs::list_all(c).await?;
                    let mut ws = Vec::new();
                    for o in &list {
                        ws.extend(workspaces::list_in_org(c, &o.id).await?);
                    }
                    let list = list
                        .into_iter()
                        .map(|org| OrgMembership {
                            org,
                            role: OrgRole::Owner,
                        })
                        .collect();
                    (list, ws, Vec::new())
                }
                Actor::User(u) => (
                    orgs::memberships(c, &u.id).await?,
                    workspaces::list_in_orgs_of_user(c, &u.id).await?,
                    members::of_user(c, &u.id).await?,
                ),
            };
        let org_role: HashMap<&str, OrgRole> = org_list
            .iter()
            .map(|m| (m.org.id.as_str(), m.role))
            .collect();
        let by_id: HashMap<&str, &Workspace> = all_ws.iter().map(|w| (w.id.as_str(), w)).collect();
        let mut direct_roles: HashMap<&str, Vec<Role>> = HashMap::new();
        for (ws, role) in &direct {
            direct_roles.entry(ws.as_str()).or_default().push(*role);
        }
        let mut visible = Vec::new();
        for w in &all_ws {
            let mut roles: Vec<Role> = org_role
                .get(w.org_id.as_str())
                .and_then(|r| r.implied_workspace_role())
                .into_iter()
                .collect();
            // Walk up the tree: a role in a centre of excellence applies to its children.
            let mut cur = Some(w);
            let mut depth = 0;
            while let Some(ws) = cur {
                roles.extend(
                    direct_roles
                        .get(ws.id.as_str())
                        .into_iter()
                        .flatten()
                        .copied(),
                );
                cur = ws.parent_id.as_deref().and_then(|p| by_id.get(p).copied());
                depth += 1;
                if depth > 64 {
                    break;
                }
            }
            roles.sort();
            roles.dedup();
            if !roles.is_empty() {
                visible.push(WorkspaceAccess {
                    workspace: w.clone(),
                    roles,
                });
            }
        }
        Ok(Access {
            orgs: org_list,
            workspaces: visible,
            org_workspaces: all_ws,
        })
    }

    /// Finds a visible workspace by id, slug, or `org-slug/workspace-slug`. Anything not
    /// visible is "not found", whether or not it exists.
    pub fn workspace(&self, reference: &str) -> ServiceResult<&WorkspaceAccess> {
        let reference = reference.trim();
        if validate::looks_like_id(reference) {
            return self
                .workspaces
                .iter()
                .find(|w| w.workspace.id == reference)
                .ok_or(ServiceError::NotFound);
        }
        let (org, slug) = match reference.split_once('/') {
            Some((o, s)) => (Some(o), s),
            None => (None, reference),
        };
        let matches: Vec<&WorkspaceAccess> = self
            .workspaces
            .iter()
            .filter(|w| w.workspace.slug == slug)
            .filter(|w| {
                org.is_none_or(|o| self.org_of(&w.workspace).is_some_and(|org| org.slug == o))
            })
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(ServiceError::NotFound),
            _ => Err(ServiceError::conflict(
                "workspace",
                format!(
                    "{slug:?} names workspaces in several organisations; use ORG/{slug} or the id"
                ),
            )),
        }
    }

    pub fn org_of(&self, w: &Workspace) -> Option<&Organization> {
        self.orgs.iter().map(|m| &m.org).find(|o| o.id == w.org_id)
    }

    /// An organisation the caller belongs to, by id or slug; None given means "my only one".
    pub fn org(&self, reference: Option<&str>) -> ServiceResult<&OrgMembership> {
        match reference.map(str::trim).filter(|r| !r.is_empty()) {
            Some(r) => self
                .orgs
                .iter()
                .find(|m| m.org.id == r || m.org.slug == r)
                .ok_or(ServiceError::NotFound),
            None => match self.orgs.as_slice() {
                [one] => Ok(one),
                [] => Err(ServiceError::NotFound),
                _ => Err(ServiceError::invalid(
                    "org",
                    "you belong to several organisations; name one",
                )),
            },
        }
    }

    /// Ids of `root` and all its descendants (among visible workspaces).
    pub fn subtree(&self, root: &str) -> Vec<String> {
        let mut out = vec![root.to_string()];
        let mut i = 0;
        while i < out.len() {
            let cur = out[i].clone();
            out.extend(
                self.workspaces
                    .iter()
                    .filter(|w| w.workspace.parent_id.as_deref() == Some(cur.as_str()))
                    .map(|w| w.workspace.id.clone()),
            );
            i += 1;
        }
        out
    }
}

/// The workspace `ws` as the actor sees it, with permission `p` checked (not found before
/// forbidden), on the caller's connection. The inbox, its work and SLA modules share it.
pub(crate) async fn workspace_with(
    c: &mut AnyConnection,
    actor: &Actor,
    ws: &str,
    p: Permission,
) -> ServiceResult<Workspace> {
    let access = Access::load(c, actor).await?;
    let wa = access.workspace(ws)?;
    wa.require(p)?;
    Ok(wa.workspace.clone())
}
