//! The service layer: every change a person or a script can make goes through here, is
//! checked against the permission matrix, and is written together with its audit entry.

pub mod access;
pub mod auth;
pub mod channels;
pub mod demo;
mod error;
pub mod handoff;
pub mod inbox;
pub mod inbox_work;
pub mod ingest;
pub mod jobs;
pub mod listening;
pub mod ops;
pub mod outbound;
pub mod secrets;
pub mod sla;
pub mod webhook;

pub use access::{Access, WorkspaceAccess};
pub use auth::{AuthUser, Credential, LoginLimiter, LoginLimits};
pub use error::{ServiceError, ServiceResult};

use serde::Serialize;
use std::time::Duration;
use switchboard_core::{AuditEntry, User};
use switchboard_store::{AnyConnection, Store};

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub session_ttl: Duration,
    pub login_limits: LoginLimits,
    /// Seals secrets that must be read back (webhook secrets, network tokens).
    pub secrets: secrets::SecretBox,
    /// How far a signed webhook's timestamp may be from now.
    pub webhook_max_skew: Duration,
    /// How often each live channel is polled.
    pub poll_interval: Duration,
    /// Where the search index lives; None keeps it in memory (tests).
    pub index_dir: Option<std::path::PathBuf>,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(14 * 24 * 3600),
            login_limits: LoginLimits::default(),
            secrets: secrets::SecretBox::ephemeral(),
            webhook_max_skew: Duration::from_secs(300),
            poll_interval: Duration::from_secs(60),
            index_dir: None,
        }
    }
}

/// The service, cheap to clone and shared by the HTTP server and the CLI.
#[derive(Clone)]
pub struct App {
    pub store: Store,
    pub config: ServiceConfig,
    pub login_limiter: std::sync::Arc<LoginLimiter>,
    // Built on first use: its lexicons and model take a moment to load.
    enricher: std::sync::Arc<std::sync::OnceLock<switchboard_enrich::Enricher>>,
    /// For the networks' APIs (connectors).
    pub http: reqwest::Client,
    search: listening::Search,
    router: inbox::RouterState,
}

impl App {
    pub fn new(store: Store, config: ServiceConfig) -> App {
        let login_limiter = std::sync::Arc::new(LoginLimiter::new(config.login_limits.clone()));
        App {
            store,
            config,
            login_limiter,
            enricher: Default::default(),
            search: Default::default(),
            router: Default::default(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .user_agent(concat!("Switchboard/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default(),
        }
    }
}

impl App {
    pub fn enricher(&self) -> &switchboard_enrich::Enricher {
        self.enricher.get_or_init(switchboard_enrich::Enricher::new)
    }
}

/// Who is acting: a signed-in user (checked against the matrix) or the local operator at
/// the command line, who already has the database and so is not checked.
#[derive(Debug, Clone)]
pub enum Actor {
    User(User),
    Cli,
}

impl Actor {
    fn label(&self) -> String {
        match self {
            Actor::User(u) => u.email.clone(),
            Actor::Cli => "cli".into(),
        }
    }

    fn user_id(&self) -> Option<&str> {
        match self {
            Actor::User(u) => Some(&u.id),
            Actor::Cli => None,
        }
    }
}

/// One audit record, written in the same transaction as the change it describes.
pub(crate) struct Audit<'a> {
    pub org_id: &'a str,
    pub workspace_id: Option<&'a str>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: &'a str,
}

impl Audit<'_> {
    pub(crate) async fn write(
        self,
        c: &mut AnyConnection,
        actor: &Actor,
        before: Option<&impl Serialize>,
        after: Option<&impl Serialize>,
    ) -> ServiceResult<()> {
        let entry = AuditEntry {
            id: switchboard_store::new_id(),
            org_id: self.org_id.to_string(),
            workspace_id: self.workspace_id.map(str::to_string),
            actor_id: actor.user_id().map(str::to_string),
            actor: actor.label(),
            action: self.action.to_string(),
            target_type: self.target_type.to_string(),
            target_id: self.target_id.to_string(),
            before: before
                .map(serde_json::to_value)
                .transpose()
                .map_err(ServiceError::internal)?,
            after: after
                .map(serde_json::to_value)
                .transpose()
                .map_err(ServiceError::internal)?,
            created_at: switchboard_store::now(),
        };
        switchboard_store::audit::insert(c, &entry).await?;
        Ok(())
    }
}

/// Placeholder type for audit records with no before or after state.
pub(crate) const NONE: Option<&()> = None;
