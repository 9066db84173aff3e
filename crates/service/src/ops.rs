//! Organisations, workspaces, teams and members: every change checked and audited.

use crate::access::{Access, WorkspaceAccess};
use crate::auth::hash_password;
use crate::{Actor, App, Audit, ServiceError, ServiceResult, NONE};
use serde::{Deserialize, Deserializer, Serialize};
use switchboard_core::role::OrgRole;
use switchboard_core::*;
use switchboard_store::{
    audit, members, new_id, now, orgs, teams, users, workspaces, AnyConnection,
};

#[derive(Debug, Clone, Serialize)]
pub struct OrgRef {
    pub id: String,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceRef {
    pub id: String,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkspaceView {
    #[serde(flatten)]
    pub workspace: Workspace,
    pub org: OrgRef,
    /// The parent (centre of excellence), named even when the caller has no role there.
    pub parent: Option<WorkspaceRef>,
    pub children: Vec<WorkspaceRef>,
    pub roles: Vec<Role>,
    pub permissions: Vec<Permission>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MeView {
    pub user: User,
    pub organizations: Vec<OrgMembership>,
    pub workspaces: Vec<WorkspaceView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TeamView {
    #[serde(flatten)]
    pub team: Team,
    pub members: Vec<TeamMember>,
}

/// Distinguishes "field absent" (None) from "field set to null" (Some(None)).
fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    /// Organisation id or slug; may be left out by members of a single organisation.
    #[serde(default)]
    pub org: Option<String>,
    pub name: String,
    #[serde(default)]
    pub slug: Option<String>,
    /// Parent workspace id or slug: the centre of excellence this one belongs to.
    #[serde(default)]
    pub parent: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
    /// A workspace id or slug, or null to make it top-level.
    #[serde(default, deserialize_with = "double_option")]
    pub parent: Option<Option<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTeam {
    pub name: String,
    #[serde(default = "custom")]
    pub function: TeamFunction,
}

fn custom() -> TeamFunction {
    TeamFunction::Custom
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateTeam {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub function: Option<TeamFunction>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    pub email: String,
    pub role: Role,
    /// For a person without an account yet: their name and initial password.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    pub role: Role,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddTeamMember {
    /// The user's id or e-mail address.
    pub user: String,
}

fn require_owner_for(access: &WorkspaceAccess, roles: &[Role]) -> ServiceResult<()> {
    if roles.contains(&Role::Owner) && !access.roles.contains(&Role::Owner) {
        return Err(ServiceError::Forbidden(
            "only an owner can grant or take away the owner role".into(),
        ));
    }
    Ok(())
}

fn org_admin(access: &Access, org_id: &str) -> bool {
    access
        .orgs
        .iter()
        .any(|m| m.org.id == org_id && matches!(m.role, OrgRole::Owner | OrgRole::Admin))
}

impl App {
    pub async fn access(&self, actor: &Actor) -> ServiceResult<Access> {
        let mut c = self.store.read().await?;
        Access::load(&mut c, actor).await
    }

    fn view(access: &Access, wa: &WorkspaceAccess) -> WorkspaceView {
        let w = &wa.workspace;
        let r = |w: &Workspace| WorkspaceRef {
            id: w.id.clone(),
            slug: w.slug.clone(),
            name: w.name.clone(),
        };
        let org = access
            .org_of(w)
            .map(|o| OrgRef {
                id: o.id.clone(),
                slug: o.slug.clone(),
                name: o.name.clone(),
            })
            .unwrap_or_else(|| OrgRef {
                id: w.org_id.clone(),
                slug: String::new(),
                name: String::new(),
            });
        WorkspaceView {
            workspace: w.clone(),
            org,
            parent: w
                .parent_id
                .as_deref()
                .and_then(|p| access.org_workspaces.iter().find(|x| x.id == p))
                .map(r),
            children: access
                .workspaces
                .iter()
                .filter(|x| x.workspace.parent_id.as_deref() == Some(w.id.as_str()))
                .map(|x| r(&x.workspace))
                .collect(),
            roles: wa.roles.clone(),
            permissions: wa.permissions(),
        }
    }

    pub async fn me(&self, user: &User) -> ServiceResult<MeView> {
        let access = self.access(&Actor::User(user.clone())).await?;
        let workspaces = access
            .workspaces
            .iter()
            .map(|w| Self::view(&access, w))
            .collect();
        Ok(MeView {
            user: user.clone(),
            organizations: access.orgs.clone(),
            workspaces,
        })
    }

    pub async fn list_workspaces(&self, actor: &Actor) -> ServiceResult<Vec<WorkspaceView>> {
        let access = self.access(actor).await?;
        Ok(access
            .workspaces
            .iter()
            .map(|w| Self::view(&access, w))
            .collect())
    }

    pub async fn get_workspace(
        &self,
        actor: &Actor,
        reference: &str,
    ) -> ServiceResult<WorkspaceView> {
        let access = self.access(actor).await?;
        let wa = access.workspace(reference)?;
        Ok(Self::view(&access, wa))
    }

    /// Reloads the caller's view of a workspace after a change inside `c`'s transaction.
    async fn view_by_id(
        c: &mut AnyConnection,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<WorkspaceView> {
        let access = Access::load(c, actor).await?;
        let wa = access.workspace(id)?;
        Ok(Self::view(&access, wa))
    }

    pub async fn create_workspace(
        &self,
        actor: &Actor,
        input: CreateWorkspace,
    ) -> ServiceResult<WorkspaceView> {
        let name = validate::name("name", &input.name)?;
        let slug = match input.slug.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(s) => validate::slug("slug", s)?,
            None => validate::slugify(&name, &format!("ws-{}", &new_id()[28..])),
        };
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let (org_id, parent_id) = match input.parent.as_deref().filter(|p| !p.trim().is_empty()) {
            Some(p) => {
                let parent = access.workspace(p).map_err(|e| match e {
                    ServiceError::NotFound => ServiceError::invalid("parent", "no such workspace"),
                    e => e,
                })?;
                parent.require(Permission::WorkspaceCreateChild)?;
                if let Some(o) = input.org.as_deref() {
                    let org = access.org(Some(o))?;
                    if org.org.id != parent.workspace.org_id {
                        return Err(ServiceError::invalid(
                            "parent",
                            "the parent belongs to another organisation",
                        ));
                    }
                }
                (
                    parent.workspace.org_id.clone(),
                    Some(parent.workspace.id.clone()),
                )
            }
            None => {
                let org = access.org(input.org.as_deref()).map_err(|e| match e {
                    ServiceError::NotFound => ServiceError::invalid("org", "no such organisation"),
                    e => e,
                })?;
                if !org_admin(&access, &org.org.id) {
                    return Err(ServiceError::Forbidden(
                        "only organisation owners and admins create top-level workspaces; give a parent".into(),
                    ));
                }
                (org.org.id.clone(), None)
            }
        };
        let w = Workspace {
            id: new_id(),
            org_id,
            slug,
            name,
            parent_id,
            created_at: now(),
        };
        workspaces::insert(&mut tx, &w).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "workspace.create",
            target_type: "workspace",
            target_id: &w.id,
        }
        .write(&mut tx, actor, NONE, Some(&w))
        .await?;
        let view = Self::view_by_id(&mut tx, actor, &w.id).await?;
        tx.commit().await?;
        Ok(view)
    }

    pub async fn update_workspace(
        &self,
        actor: &Actor,
        reference: &str,
        input: UpdateWorkspace,
    ) -> ServiceResult<WorkspaceView> {
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(reference)?;
        wa.require(Permission::WorkspaceUpdate)?;
        let before = wa.workspace.clone();
        let mut after = before.clone();
        if let Some(n) = &input.name {
            after.name = validate::name("name", n)?;
        }
        if let Some(s) = &input.slug {
            after.slug = validate::slug("slug", s)?;
        }
        match input
            .parent
            .as_ref()
            .map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
        {
            None => {}
            Some(None) => {
                if before.parent_id.is_some()
                    && !org_admin(&access, &before.org_id)
                    && !matches!(actor, Actor::Cli)
                {
                    return Err(ServiceError::Forbidden(
                        "only organisation owners and admins make a workspace top-level".into(),
                    ));
                }
                after.parent_id = None;
            }
            Some(Some(p)) => {
                let parent = access.workspace(p).map_err(|e| match e {
                    ServiceError::NotFound => ServiceError::invalid("parent", "no such workspace"),
                    e => e,
                })?;
                if parent.workspace.org_id != before.org_id {
                    return Err(ServiceError::invalid(
                        "parent",
                        "the parent belongs to another organisation",
                    ));
                }
                if access.subtree(&before.id).contains(&parent.workspace.id) {
                    return Err(ServiceError::invalid(
                        "parent",
                        "a workspace cannot be placed under itself or its children",
                    ));
                }
                parent.require(Permission::WorkspaceCreateChild)?;
                after.parent_id = Some(parent.workspace.id.clone());
            }
        }
        if after != before {
            workspaces::update(&mut tx, &after).await?;
            Audit {
                org_id: &after.org_id,
                workspace_id: Some(&after.id),
                action: "workspace.update",
                target_type: "workspace",
                target_id: &after.id,
            }
            .write(&mut tx, actor, Some(&before), Some(&after))
            .await?;
        }
        let view = Self::view_by_id(&mut tx, actor, &after.id).await?;
        tx.commit().await?;
        Ok(view)
    }

    pub async fn delete_workspace(&self, actor: &Actor, reference: &str) -> ServiceResult<()> {
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(reference)?;
        wa.require(Permission::WorkspaceDelete)?;
        let w = wa.workspace.clone();
        if workspaces::count_children(&mut tx, &w.id).await? > 0 {
            return Err(ServiceError::conflict(
                "workspace",
                "it has child workspaces; move or delete them first",
            ));
        }
        workspaces::delete(&mut tx, &w.id).await?;
        Audit {
            org_id: &w.org_id,
            workspace_id: Some(&w.id),
            action: "workspace.delete",
            target_type: "workspace",
            target_id: &w.id,
        }
        .write(&mut tx, actor, Some(&w), NONE)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- teams ----

    async fn team_in(
        c: &mut AnyConnection,
        wa: &WorkspaceAccess,
        team_ref: &str,
    ) -> ServiceResult<Team> {
        let team = if validate::looks_like_id(team_ref) {
            teams::get(c, team_ref).await?
        } else {
            teams::get_by_name(c, &wa.workspace.id, team_ref.trim()).await?
        };
        team.filter(|t| t.workspace_id == wa.workspace.id)
            .ok_or(ServiceError::NotFound)
    }

    pub async fn list_teams(&self, actor: &Actor, ws: &str) -> ServiceResult<Vec<Team>> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::WorkspaceRead)?;
        Ok(teams::list(&mut c, &wa.workspace.id).await?)
    }

    pub async fn get_team(&self, actor: &Actor, ws: &str, team: &str) -> ServiceResult<TeamView> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::WorkspaceRead)?;
        let team = Self::team_in(&mut c, wa, team).await?;
        let members = if wa.can(Permission::MembersRead) {
            teams::members(&mut c, &team.id).await?
        } else {
            Vec::new()
        };
        Ok(TeamView { team, members })
    }

    pub async fn create_team(
        &self,
        actor: &Actor,
        ws: &str,
        input: CreateTeam,
    ) -> ServiceResult<Team> {
        let name = validate::name("name", &input.name)?;
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::TeamsManage)?;
        let t = Team {
            id: new_id(),
            workspace_id: wa.workspace.id.clone(),
            name,
            function: input.function,
            created_at: now(),
        };
        teams::insert(&mut tx, &t).await?;
        Audit {
            org_id: &wa.workspace.org_id,
            workspace_id: Some(&t.workspace_id),
            action: "team.create",
            target_type: "team",
            target_id: &t.id,
        }
        .write(&mut tx, actor, NONE, Some(&t))
        .await?;
        tx.commit().await?;
        Ok(t)
    }

    pub async fn update_team(
        &self,
        actor: &Actor,
        ws: &str,
        team: &str,
        input: UpdateTeam,
    ) -> ServiceResult<Team> {
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(ws)?;
        let before = Self::team_in(&mut tx, wa, team).await?;
        wa.require(Permission::TeamsManage)?;
        let mut after = before.clone();
        if let Some(n) = &input.name {
            after.name = validate::name("name", n)?;
        }
        if let Some(f) = input.function {
            after.function = f;
        }
        if after != before {
            teams::update(&mut tx, &after).await?;
            Audit {
                org_id: &wa.workspace.org_id,
                workspace_id: Some(&after.workspace_id),
                action: "team.update",
                target_type: "team",
                target_id: &after.id,
            }
            .write(&mut tx, actor, Some(&before), Some(&after))
            .await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    pub async fn delete_team(&self, actor: &Actor, ws: &str, team: &str) -> ServiceResult<()> {
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(ws)?;
        let t = Self::team_in(&mut tx, wa, team).await?;
        wa.require(Permission::TeamsManage)?;
        teams::delete(&mut tx, &t.id).await?;
        Audit {
            org_id: &wa.workspace.org_id,
            workspace_id: Some(&t.workspace_id),
            action: "team.delete",
            target_type: "team",
            target_id: &t.id,
        }
        .write(&mut tx, actor, Some(&t), NONE)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds someone who has a role in the team's workspace (directly or inherited) to the team.
    pub async fn add_team_member(
        &self,
        actor: &Actor,
        ws: &str,
        team: &str,
        input: AddTeamMember,
    ) -> ServiceResult<TeamView> {
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(ws)?;
        let t = Self::team_in(&mut tx, wa, team).await?;
        wa.require(Permission::TeamsManage)?;
        let not_member = || {
            ServiceError::invalid(
                "user",
                "no member of this workspace has that id or e-mail address",
            )
        };
        let who = input.user.trim();
        let user = if validate::looks_like_id(who) {
            users::get(&mut tx, who).await?
        } else {
            users::get_by_email(&mut tx, &who.to_lowercase())
                .await?
                .map(|(u, _)| u)
        }
        .ok_or_else(not_member)?;
        let theirs = Access::load(&mut tx, &Actor::User(user.clone())).await?;
        if theirs.workspace(&wa.workspace.id).is_err() {
            return Err(not_member());
        }
        if teams::add_member(&mut tx, &t.id, &user.id).await? {
            Audit {
                org_id: &wa.workspace.org_id,
                workspace_id: Some(&t.workspace_id),
                action: "team.member.add",
                target_type: "team",
                target_id: &t.id,
            }
            .write(
                &mut tx,
                actor,
                NONE,
                Some(&serde_json::json!({"user_id": user.id, "email": user.email})),
            )
            .await?;
        }
        let members = teams::members(&mut tx, &t.id).await?;
        tx.commit().await?;
        Ok(TeamView { team: t, members })
    }

    pub async fn remove_team_member(
        &self,
        actor: &Actor,
        ws: &str,
        team: &str,
        user_id: &str,
    ) -> ServiceResult<()> {
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(ws)?;
        let t = Self::team_in(&mut tx, wa, team).await?;
        wa.require(Permission::TeamsManage)?;
        if !teams::remove_member(&mut tx, &t.id, user_id).await? {
            return Err(ServiceError::NotFound);
        }
        Audit {
            org_id: &wa.workspace.org_id,
            workspace_id: Some(&t.workspace_id),
            action: "team.member.remove",
            target_type: "team",
            target_id: &t.id,
        }
        .write(
            &mut tx,
            actor,
            Some(&serde_json::json!({"user_id": user_id})),
            NONE,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- members ----

    pub async fn list_members(&self, actor: &Actor, ws: &str) -> ServiceResult<Vec<Member>> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::MembersRead)?;
        Ok(members::list(&mut c, &wa.workspace.id).await?)
    }

    /// Gives a person a role in the workspace, creating their account (with the given name
    /// and initial password) when the e-mail address is new.
    pub async fn add_member(
        &self,
        actor: &Actor,
        ws: &str,
        input: AddMember,
    ) -> ServiceResult<Member> {
        let email = validate::email("email", &input.email)?;
        let name = input
            .name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .map(|n| validate::name("name", n))
            .transpose()?;
        // Hash before taking the write lock: it is the slow part.
        let new_hash = match input.password.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => {
                validate::password("password", p)?;
                Some(hash_password(p).await?)
            }
            None => None,
        };
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::MembersManage)?;
        require_owner_for(wa, &[input.role])?;
        let user = match users::get_by_email(&mut tx, &email).await? {
            Some((u, _)) => u,
            None => {
                let Some(hash) = new_hash else {
                    return Err(ServiceError::invalid(
                        "password",
                        "required for a person without an account",
                    ));
                };
                let local = email.split('@').next().unwrap_or(&email).to_string();
                let u = User {
                    id: new_id(),
                    email: email.clone(),
                    name: name.unwrap_or(local),
                    created_at: now(),
                };
                users::insert(&mut tx, &u, Some(&hash)).await?;
                Audit {
                    org_id: &wa.workspace.org_id,
                    workspace_id: Some(&wa.workspace.id),
                    action: "user.create",
                    target_type: "user",
                    target_id: &u.id,
                }
                .write(&mut tx, actor, NONE, Some(&u))
                .await?;
                u
            }
        };
        if members::get(&mut tx, &wa.workspace.id, &user.id)
            .await?
            .is_some()
        {
            return Err(ServiceError::conflict(
                "email",
                "already a member of this workspace; change their role instead",
            ));
        }
        orgs::ensure_member(&mut tx, &wa.workspace.org_id, &user.id).await?;
        members::upsert(&mut tx, &wa.workspace.id, &user.id, input.role).await?;
        let m = members::get(&mut tx, &wa.workspace.id, &user.id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Audit {
            org_id: &wa.workspace.org_id,
            workspace_id: Some(&wa.workspace.id),
            action: "member.add",
            target_type: "user",
            target_id: &user.id,
        }
        .write(&mut tx, actor, NONE, Some(&m))
        .await?;
        tx.commit().await?;
        Ok(m)
    }

    pub async fn update_member(
        &self,
        actor: &Actor,
        ws: &str,
        user_id: &str,
        input: UpdateMember,
    ) -> ServiceResult<Member> {
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::MembersRead)?;
        let before = members::get(&mut tx, &wa.workspace.id, user_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        wa.require(Permission::MembersManage)?;
        require_owner_for(wa, &[before.role, input.role])?;
        members::upsert(&mut tx, &wa.workspace.id, user_id, input.role).await?;
        let after = members::get(&mut tx, &wa.workspace.id, user_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        Audit {
            org_id: &wa.workspace.org_id,
            workspace_id: Some(&wa.workspace.id),
            action: "member.update",
            target_type: "user",
            target_id: user_id,
        }
        .write(&mut tx, actor, Some(&before), Some(&after))
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    pub async fn remove_member(&self, actor: &Actor, ws: &str, user_id: &str) -> ServiceResult<()> {
        let mut tx = self.store.write().await?;
        let access = Access::load(&mut tx, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::MembersRead)?;
        let before = members::get(&mut tx, &wa.workspace.id, user_id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        wa.require(Permission::MembersManage)?;
        require_owner_for(wa, &[before.role])?;
        members::delete(&mut tx, &wa.workspace.id, user_id).await?;
        teams::remove_user_from_workspace_teams(&mut tx, &wa.workspace.id, user_id).await?;
        Audit {
            org_id: &wa.workspace.org_id,
            workspace_id: Some(&wa.workspace.id),
            action: "member.remove",
            target_type: "user",
            target_id: user_id,
        }
        .write(&mut tx, actor, Some(&before), NONE)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- audit ----

    pub async fn workspace_audit(
        &self,
        actor: &Actor,
        ws: &str,
        before: Option<&str>,
        limit: i64,
    ) -> ServiceResult<Vec<AuditEntry>> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let wa = access.workspace(ws)?;
        wa.require(Permission::AuditRead)?;
        Ok(audit::list(
            &mut c,
            &wa.workspace.org_id,
            Some(std::slice::from_ref(&wa.workspace.id)),
            before,
            limit.clamp(1, 500),
        )
        .await?)
    }

    pub async fn org_audit(
        &self,
        actor: &Actor,
        org: &str,
        before: Option<&str>,
        limit: i64,
    ) -> ServiceResult<Vec<AuditEntry>> {
        let mut c = self.store.read().await?;
        let access = Access::load(&mut c, actor).await?;
        let m = access.org(Some(org))?;
        if !org_admin(&access, &m.org.id) {
            return Err(ServiceError::Forbidden(
                "only organisation owners and admins read the organisation's audit log".into(),
            ));
        }
        Ok(audit::list(&mut c, &m.org.id, None, before, limit.clamp(1, 500)).await?)
    }

    // ---- command-line administration ----

    /// Creates the organisation if needed and the user in it (or updates the password and
    /// organisation role of an existing user). Local operator only.
    pub async fn cli_add_user(
        &self,
        org_slug: &str,
        email: &str,
        name: Option<&str>,
        password: &str,
        owner: bool,
    ) -> ServiceResult<(User, bool)> {
        let org_slug = validate::slug("org", org_slug)?;
        let email = validate::email("email", email)?;
        validate::password("password", password)?;
        let name = name.map(|n| validate::name("name", n)).transpose()?;
        let hash = hash_password(password).await?;
        let actor = Actor::Cli;
        let mut tx = self.store.write().await?;
        let (org, org_created) = match orgs::get_by_slug(&mut tx, &org_slug).await? {
            Some(o) => (o, false),
            None => {
                let o = Organization {
                    id: new_id(),
                    slug: org_slug.clone(),
                    name: org_slug.clone(),
                    created_at: now(),
                };
                orgs::insert(&mut tx, &o).await?;
                Audit {
                    org_id: &o.id,
                    workspace_id: None,
                    action: "org.create",
                    target_type: "organization",
                    target_id: &o.id,
                }
                .write(&mut tx, &actor, NONE, Some(&o))
                .await?;
                (o, true)
            }
        };
        let user = match users::get_by_email(&mut tx, &email).await? {
            Some((u, _)) => {
                users::set_password(&mut tx, &u.id, &hash).await?;
                // A reset password signs the user out everywhere.
                switchboard_store::sessions::delete_for_user(&mut tx, &u.id).await?;
                Audit {
                    org_id: &org.id,
                    workspace_id: None,
                    action: "user.password.set",
                    target_type: "user",
                    target_id: &u.id,
                }
                .write(&mut tx, &actor, NONE, NONE)
                .await?;
                u
            }
            None => {
                let local = email.split('@').next().unwrap_or(&email).to_string();
                let u = User {
                    id: new_id(),
                    email: email.clone(),
                    name: name.unwrap_or(local),
                    created_at: now(),
                };
                users::insert(&mut tx, &u, Some(&hash)).await?;
                Audit {
                    org_id: &org.id,
                    workspace_id: None,
                    action: "user.create",
                    target_type: "user",
                    target_id: &u.id,
                }
                .write(&mut tx, &actor, NONE, Some(&u))
                .await?;
                u
            }
        };
        let current = orgs::role_of(&mut tx, &org.id, &user.id).await?;
        let role = if owner {
            OrgRole::Owner
        } else {
            current.unwrap_or(OrgRole::Member)
        };
        if current != Some(role) {
            orgs::set_member(&mut tx, &org.id, &user.id, role).await?;
            Audit {
                org_id: &org.id,
                workspace_id: None,
                action: "org.member.set",
                target_type: "user",
                target_id: &user.id,
            }
            .write(
                &mut tx,
                &actor,
                current.map(|r| serde_json::json!({"role": r})).as_ref(),
                Some(&serde_json::json!({"role": role})),
            )
            .await?;
        }
        tx.commit().await?;
        Ok((user, org_created))
    }
}
