//! Queries, grouped by what they touch. Each takes the connection (or transaction) to run on.

use crate::{classify, opt_str, Result};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use switchboard_core::role::OrgRole;
use switchboard_core::*;

/// A text column holding one of a closed set of names (roles, kinds, networks).
pub(crate) fn parse<T: std::str::FromStr<Err = String>>(row: &AnyRow, col: &str) -> Result<T> {
    let s: String = row.try_get(col)?;
    s.parse().map_err(|e: String| {
        crate::StoreError::Db(sqlx::Error::Decode(format!("column {col}: {e}").into()))
    })
}

/// `$start, $start+1, ...` for an `IN (...)` list of `n` values.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub mod orgs {
    use super::*;

    pub(crate) fn from_row(r: &AnyRow) -> Result<Organization> {
        Ok(Organization {
            id: r.try_get("id")?,
            slug: r.try_get("slug")?,
            name: r.try_get("name")?,
            created_at: r.try_get("created_at")?,
        })
    }

    pub async fn insert(c: &mut AnyConnection, o: &Organization) -> Result<()> {
        sqlx::query(
            "INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&o.id)
        .bind(&o.slug)
        .bind(&o.name)
        .bind(&o.created_at)
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(())
    }

    pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<Organization>> {
        let row = sqlx::query("SELECT * FROM organizations WHERE id = $1")
            .bind(id)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn get_by_slug(c: &mut AnyConnection, slug: &str) -> Result<Option<Organization>> {
        let row = sqlx::query("SELECT * FROM organizations WHERE slug = $1")
            .bind(slug)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list_all(c: &mut AnyConnection) -> Result<Vec<Organization>> {
        let rows = sqlx::query("SELECT * FROM organizations ORDER BY slug")
            .fetch_all(c)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// The organisations a user belongs to, with their role in each.
    pub async fn memberships(c: &mut AnyConnection, user_id: &str) -> Result<Vec<OrgMembership>> {
        let rows = sqlx::query(
            "SELECT o.*, m.role FROM organizations o JOIN org_members m ON m.org_id = o.id \
             WHERE m.user_id = $1 ORDER BY o.name",
        )
        .bind(user_id)
        .fetch_all(c)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OrgMembership {
                    org: from_row(r)?,
                    role: parse(r, "role")?,
                })
            })
            .collect()
    }

    pub async fn role_of(
        c: &mut AnyConnection,
        org_id: &str,
        user_id: &str,
    ) -> Result<Option<OrgRole>> {
        let row = sqlx::query("SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(|r| parse(r, "role")).transpose()
    }

    /// Adds the user to the organisation, or changes their organisation role.
    pub async fn set_member(
        c: &mut AnyConnection,
        org_id: &str,
        user_id: &str,
        role: OrgRole,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(crate::now())
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(())
    }

    /// Adds the user as a plain member unless they already belong to the organisation.
    pub async fn ensure_member(c: &mut AnyConnection, org_id: &str, user_id: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO org_members (org_id, user_id, role, created_at) VALUES ($1, $2, 'member', $3) \
             ON CONFLICT (org_id, user_id) DO NOTHING",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(crate::now())
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(())
    }
}

pub mod users {
    use super::*;

    pub(crate) fn from_row(r: &AnyRow) -> Result<User> {
        Ok(User {
            id: r.try_get("id")?,
            email: r.try_get("email")?,
            name: r.try_get("name")?,
            created_at: r.try_get("created_at")?,
        })
    }

    pub async fn insert(
        c: &mut AnyConnection,
        u: &User,
        password_hash: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&u.id)
        .bind(&u.email)
        .bind(&u.name)
        .bind(password_hash)
        .bind(&u.created_at)
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(())
    }

    pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<User>> {
        let row = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The user and their password hash (None for accounts that cannot log in with a password).
    pub async fn get_by_email(
        c: &mut AnyConnection,
        email: &str,
    ) -> Result<Option<(User, Option<String>)>> {
        let row = sqlx::query("SELECT * FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(c)
            .await?;
        row.as_ref()
            .map(|r| Ok((from_row(r)?, opt_str(r, "password_hash")?)))
            .transpose()
    }

    pub async fn set_password(c: &mut AnyConnection, id: &str, password_hash: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(id)
            .execute(c)
            .await?;
        Ok(())
    }

    /// Everyone in an organisation, with their organisation role.
    pub async fn list_in_org(c: &mut AnyConnection, org_id: &str) -> Result<Vec<(User, OrgRole)>> {
        let rows = sqlx::query(
            "SELECT u.*, m.role FROM users u JOIN org_members m ON m.user_id = u.id \
             WHERE m.org_id = $1 ORDER BY u.email",
        )
        .bind(org_id)
        .fetch_all(c)
        .await?;
        rows.iter()
            .map(|r| Ok((from_row(r)?, parse(r, "role")?)))
            .collect()
    }
}

pub mod workspaces {
    use super::*;

    pub(crate) fn from_row(r: &AnyRow) -> Result<Workspace> {
        Ok(Workspace {
            id: r.try_get("id")?,
            org_id: r.try_get("org_id")?,
            slug: r.try_get("slug")?,
            name: r.try_get("name")?,
            parent_id: opt_str(r, "parent_id")?,
            created_at: r.try_get("created_at")?,
        })
    }

    pub async fn insert(c: &mut AnyConnection, w: &Workspace) -> Result<()> {
        sqlx::query(
            "INSERT INTO workspaces (id, org_id, slug, name, parent_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&w.id)
        .bind(&w.org_id)
        .bind(&w.slug)
        .bind(&w.name)
        .bind(w.parent_id.as_deref())
        .bind(&w.created_at)
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(())
    }

    pub async fn update(c: &mut AnyConnection, w: &Workspace) -> Result<()> {
        sqlx::query("UPDATE workspaces SET slug = $1, name = $2, parent_id = $3 WHERE id = $4")
            .bind(&w.slug)
            .bind(&w.name)
            .bind(w.parent_id.as_deref())
            .bind(&w.id)
            .execute(c)
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub async fn delete(c: &mut AnyConnection, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM workspaces WHERE id = $1")
            .bind(id)
            .execute(c)
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<Workspace>> {
        let row = sqlx::query("SELECT * FROM workspaces WHERE id = $1")
            .bind(id)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list_in_org(c: &mut AnyConnection, org_id: &str) -> Result<Vec<Workspace>> {
        let rows = sqlx::query("SELECT * FROM workspaces WHERE org_id = $1 ORDER BY name, id")
            .bind(org_id)
            .fetch_all(c)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Workspaces in any of the user's organisations, across organisations.
    pub async fn list_in_orgs_of_user(
        c: &mut AnyConnection,
        user_id: &str,
    ) -> Result<Vec<Workspace>> {
        let rows = sqlx::query(
            "SELECT w.* FROM workspaces w JOIN org_members m ON m.org_id = w.org_id \
             WHERE m.user_id = $1 ORDER BY w.name, w.id",
        )
        .bind(user_id)
        .fetch_all(c)
        .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn count_children(c: &mut AnyConnection, id: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM workspaces WHERE parent_id = $1")
            .bind(id)
            .fetch_one(c)
            .await?;
        Ok(row.try_get("n")?)
    }
}

pub mod members {
    use super::*;

    fn from_row(r: &AnyRow) -> Result<Member> {
        Ok(Member {
            workspace_id: r.try_get("workspace_id")?,
            user_id: r.try_get("user_id")?,
            email: r.try_get("email")?,
            name: r.try_get("name")?,
            role: parse(r, "role")?,
            created_at: r.try_get("created_at")?,
        })
    }

    const SELECT: &str = "SELECT m.workspace_id, m.user_id, u.email, u.name, m.role, m.created_at \
                          FROM workspace_members m JOIN users u ON u.id = m.user_id";

    /// Adds a member or changes their role.
    pub async fn upsert(
        c: &mut AnyConnection,
        workspace_id: &str,
        user_id: &str,
        role: Role,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO workspace_members (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(role.as_str())
        .bind(crate::now())
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(())
    }

    pub async fn get(
        c: &mut AnyConnection,
        workspace_id: &str,
        user_id: &str,
    ) -> Result<Option<Member>> {
        let row = sqlx::query(&format!(
            "{SELECT} WHERE m.workspace_id = $1 AND m.user_id = $2"
        ))
        .bind(workspace_id)
        .bind(user_id)
        .fetch_optional(c)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list(c: &mut AnyConnection, workspace_id: &str) -> Result<Vec<Member>> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE m.workspace_id = $1 ORDER BY u.email"
        ))
        .bind(workspace_id)
        .fetch_all(c)
        .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn delete(c: &mut AnyConnection, workspace_id: &str, user_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM workspace_members WHERE workspace_id = $1 AND user_id = $2")
            .bind(workspace_id)
            .bind(user_id)
            .execute(c)
            .await?;
        Ok(())
    }

    /// The user's direct roles in any of the given workspaces (a workspace and its ancestors).
    pub async fn roles_in(
        c: &mut AnyConnection,
        user_id: &str,
        workspace_ids: &[String],
    ) -> Result<Vec<Role>> {
        if workspace_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT role FROM workspace_members WHERE user_id = $1 AND workspace_id IN ({})",
            placeholders(2, workspace_ids.len())
        );
        let mut q = sqlx::query(&sql).bind(user_id);
        for id in workspace_ids {
            q = q.bind(id);
        }
        let rows = q.fetch_all(c).await?;
        rows.iter().map(|r| parse(r, "role")).collect()
    }

    /// All of a user's direct workspace roles: (workspace id, role).
    pub async fn of_user(c: &mut AnyConnection, user_id: &str) -> Result<Vec<(String, Role)>> {
        let rows =
            sqlx::query("SELECT workspace_id, role FROM workspace_members WHERE user_id = $1")
                .bind(user_id)
                .fetch_all(c)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("workspace_id")?, parse(r, "role")?)))
            .collect()
    }
}

pub mod teams {
    use super::*;

    fn from_row(r: &AnyRow) -> Result<Team> {
        Ok(Team {
            id: r.try_get("id")?,
            workspace_id: r.try_get("workspace_id")?,
            name: r.try_get("name")?,
            function: parse(r, "function")?,
            created_at: r.try_get("created_at")?,
        })
    }

    pub async fn insert(c: &mut AnyConnection, t: &Team) -> Result<()> {
        sqlx::query("INSERT INTO teams (id, workspace_id, name, function, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&t.id)
            .bind(&t.workspace_id)
            .bind(&t.name)
            .bind(t.function.as_str())
            .bind(&t.created_at)
            .execute(c)
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub async fn update(c: &mut AnyConnection, t: &Team) -> Result<()> {
        sqlx::query("UPDATE teams SET name = $1, function = $2 WHERE id = $3")
            .bind(&t.name)
            .bind(t.function.as_str())
            .bind(&t.id)
            .execute(c)
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub async fn delete(c: &mut AnyConnection, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM teams WHERE id = $1")
            .bind(id)
            .execute(c)
            .await?;
        Ok(())
    }

    pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<Team>> {
        let row = sqlx::query("SELECT * FROM teams WHERE id = $1")
            .bind(id)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn get_by_name(
        c: &mut AnyConnection,
        workspace_id: &str,
        name: &str,
    ) -> Result<Option<Team>> {
        let row = sqlx::query("SELECT * FROM teams WHERE workspace_id = $1 AND name = $2")
            .bind(workspace_id)
            .bind(name)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn list(c: &mut AnyConnection, workspace_id: &str) -> Result<Vec<Team>> {
        let rows = sqlx::query("SELECT * FROM teams WHERE workspace_id = $1 ORDER BY name")
            .bind(workspace_id)
            .fetch_all(c)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn add_member(c: &mut AnyConnection, team_id: &str, user_id: &str) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO team_members (team_id, user_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (team_id, user_id) DO NOTHING",
        )
        .bind(team_id)
        .bind(user_id)
        .bind(crate::now())
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn remove_member(
        c: &mut AnyConnection,
        team_id: &str,
        user_id: &str,
    ) -> Result<bool> {
        let done = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(team_id)
            .bind(user_id)
            .execute(c)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn members(c: &mut AnyConnection, team_id: &str) -> Result<Vec<TeamMember>> {
        let rows = sqlx::query(
            "SELECT t.team_id, t.user_id, u.email, u.name, t.created_at FROM team_members t \
             JOIN users u ON u.id = t.user_id WHERE t.team_id = $1 ORDER BY u.email",
        )
        .bind(team_id)
        .fetch_all(c)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TeamMember {
                    team_id: r.try_get("team_id")?,
                    user_id: r.try_get("user_id")?,
                    email: r.try_get("email")?,
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Drops the user from every team of a workspace (when they leave it).
    pub async fn remove_user_from_workspace_teams(
        c: &mut AnyConnection,
        workspace_id: &str,
        user_id: &str,
    ) -> Result<()> {
        sqlx::query(
            "DELETE FROM team_members WHERE user_id = $1 AND team_id IN (SELECT id FROM teams WHERE workspace_id = $2)",
        )
        .bind(user_id)
        .bind(workspace_id)
        .execute(c)
        .await?;
        Ok(())
    }
}

pub mod sessions {
    use super::*;

    pub struct SessionRow {
        pub user: User,
        pub csrf_token: String,
        pub expires_at: String,
    }

    pub async fn insert(
        c: &mut AnyConnection,
        token_hash: &str,
        user_id: &str,
        csrf_token: &str,
        expires_at: &str,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(crate::now())
        .bind(expires_at)
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(())
    }

    /// The session's user, if the session exists and has not expired at `now`.
    pub async fn get_live(
        c: &mut AnyConnection,
        token_hash: &str,
        now: &str,
    ) -> Result<Option<SessionRow>> {
        let row = sqlx::query(
            "SELECT u.*, s.csrf_token, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(c)
        .await?;
        row.as_ref()
            .map(|r| {
                Ok(SessionRow {
                    user: users::from_row(r)?,
                    csrf_token: r.try_get("csrf_token")?,
                    expires_at: r.try_get("expires_at")?,
                })
            })
            .transpose()
    }

    pub async fn delete(c: &mut AnyConnection, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(c)
            .await?;
        Ok(())
    }

    pub async fn delete_for_user(c: &mut AnyConnection, user_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(c)
            .await?;
        Ok(())
    }

    pub async fn delete_expired(c: &mut AnyConnection, now: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(c)
            .await?;
        Ok(done.rows_affected())
    }
}

pub mod tokens {
    use super::*;

    fn from_row(r: &AnyRow) -> Result<ApiToken> {
        Ok(ApiToken {
            id: r.try_get("id")?,
            user_id: r.try_get("user_id")?,
            name: r.try_get("name")?,
            prefix: r.try_get("prefix")?,
            created_at: r.try_get("created_at")?,
            last_used_at: opt_str(r, "last_used_at")?,
            revoked_at: opt_str(r, "revoked_at")?,
        })
    }

    pub async fn insert(c: &mut AnyConnection, t: &ApiToken, token_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, prefix, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&t.id)
        .bind(&t.user_id)
        .bind(&t.name)
        .bind(&t.prefix)
        .bind(token_hash)
        .bind(&t.created_at)
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(())
    }

    pub async fn list_for_user(c: &mut AnyConnection, user_id: &str) -> Result<Vec<ApiToken>> {
        let rows =
            sqlx::query("SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id")
                .bind(user_id)
                .fetch_all(c)
                .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn get(c: &mut AnyConnection, id: &str) -> Result<Option<ApiToken>> {
        let row = sqlx::query("SELECT * FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(c)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The live (unrevoked) token with this hash and its user.
    pub async fn get_live_by_hash(
        c: &mut AnyConnection,
        token_hash: &str,
    ) -> Result<Option<(ApiToken, User)>> {
        let row = sqlx::query(
            "SELECT t.id AS token_id, t.user_id, t.name AS token_name, t.prefix, t.created_at AS token_created_at, \
                    t.last_used_at, t.revoked_at, u.* \
             FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(c)
        .await?;
        row.as_ref()
            .map(|r| {
                let token = ApiToken {
                    id: r.try_get("token_id")?,
                    user_id: r.try_get("user_id")?,
                    name: r.try_get("token_name")?,
                    prefix: r.try_get("prefix")?,
                    created_at: r.try_get("token_created_at")?,
                    last_used_at: opt_str(r, "last_used_at")?,
                    revoked_at: opt_str(r, "revoked_at")?,
                };
                Ok((token, users::from_row(r)?))
            })
            .transpose()
    }

    pub async fn touch(c: &mut AnyConnection, id: &str, now: &str) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(c)
            .await?;
        Ok(())
    }

    pub async fn revoke(c: &mut AnyConnection, id: &str, now: &str) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(c)
            .await?;
        Ok(())
    }
}

pub mod audit {
    use super::*;

    fn json(r: &AnyRow, col: &str) -> Result<Option<serde_json::Value>> {
        Ok(opt_str(r, col)?.and_then(|s| serde_json::from_str(&s).ok()))
    }

    fn from_row(r: &AnyRow) -> Result<AuditEntry> {
        Ok(AuditEntry {
            id: r.try_get("id")?,
            org_id: r.try_get("org_id")?,
            workspace_id: opt_str(r, "workspace_id")?,
            actor_id: opt_str(r, "actor_id")?,
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            target_type: r.try_get("target_type")?,
            target_id: r.try_get("target_id")?,
            before: json(r, "before_json")?,
            after: json(r, "after_json")?,
            created_at: r.try_get("created_at")?,
        })
    }

    pub async fn insert(c: &mut AnyConnection, e: &AuditEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (id, org_id, workspace_id, actor_id, actor, action, target_type, target_id, \
             before_json, after_json, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&e.id)
        .bind(&e.org_id)
        .bind(e.workspace_id.as_deref())
        .bind(e.actor_id.as_deref())
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.target_type)
        .bind(&e.target_id)
        .bind(e.before.as_ref().map(|v| v.to_string()))
        .bind(e.after.as_ref().map(|v| v.to_string()))
        .bind(&e.created_at)
        .execute(c)
        .await
        .map_err(classify)?;
        Ok(())
    }

    /// Newest first. `workspace_ids`: None for the whole organisation, else only entries of
    /// those workspaces. `before`: an entry id to page from (exclusive).
    pub async fn list(
        c: &mut AnyConnection,
        org_id: &str,
        workspace_ids: Option<&[String]>,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        let mut sql = String::from("SELECT * FROM audit_log WHERE org_id = $1 AND id < $2");
        if let Some(ids) = workspace_ids {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            sql.push_str(&format!(
                " AND workspace_id IN ({})",
                placeholders(4, ids.len())
            ));
        }
        sql.push_str(" ORDER BY id DESC LIMIT $3");
        // Ids are UUIDv7 text, so "before" is a plain string comparison; 'g' sorts after hex.
        let mut q = sqlx::query(&sql)
            .bind(org_id)
            .bind(before.unwrap_or("g"))
            .bind(limit);
        for id in workspace_ids.unwrap_or_default() {
            q = q.bind(id);
        }
        let rows = q.fetch_all(c).await?;
        rows.iter().map(from_row).collect()
    }
}
