//! The store of record. One implementation over sqlx's `Any` driver serves SQLite (the
//! embedded default) and PostgreSQL; only the migrations differ per backend. Every query is a
//! runtime query with `$n` placeholders, which both drivers understand.
//!
//! Reads take a pooled connection (`Store::read`), writes a transaction (`Store::write`); the
//! functions in the modules below take `&mut AnyConnection`, so a service can put a change
//! and its audit entry in one transaction.

pub mod inbox;
pub mod inbox_work;
pub mod items;
pub mod jobs;
pub mod listening;
mod migrate;
pub mod queries;
pub mod sla;

pub use queries::*;
pub use sqlx::AnyConnection;
pub use sqlx::Error as SqlxError;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated; `constraint` is its name (PostgreSQL) or the
    /// column list SQLite reports, so callers can map it to a field.
    #[error("unique constraint violated: {constraint}")]
    Unique { constraint: String },
    #[error("foreign key constraint violated: {0}")]
    ForeignKey(String),
    #[error("database URL {0:?} is neither sqlite: nor postgres:")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        source: sqlx::Error,
    },
    #[error("the database has migration {0}, newer than this binary knows; upgrade Switchboard")]
    TooNew(i64),
}

impl StoreError {
    /// The database could not be reached (as opposed to refusing a statement).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Db(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
            )
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Classify driver errors so callers can answer 409/422 instead of 500.
pub(crate) fn classify(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        use sqlx::error::ErrorKind;
        let name = db
            .constraint()
            .map(str::to_string)
            .unwrap_or_else(|| db.message().to_string());
        match db.kind() {
            ErrorKind::UniqueViolation => return StoreError::Unique { constraint: name },
            ErrorKind::ForeignKeyViolation => return StoreError::ForeignKey(name),
            // SQLite reports ON DELETE RESTRICT as a trigger constraint, not a foreign key one.
            _ if db.message().contains("FOREIGN KEY constraint failed") => {
                return StoreError::ForeignKey(name)
            }
            _ => {}
        }
    }
    StoreError::Db(e)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// The default database of a data dir.
pub fn sqlite_url_for_dir(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("switchboard.db").display())
}

impl Store {
    /// Connect and apply pending migrations.
    pub async fn open(url: &str) -> Result<Store> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connect without migrating (for `migrate --status`-like tooling and tests).
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        };
        let mut opts = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        opts = match backend {
            Backend::Sqlite => opts.max_connections(8).after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL lets the CLI and the server share the file; FULL makes a commit
                    // durable before it is acknowledged; the busy timeout makes writers from
                    // another process wait instead of failing.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                    )
                    .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => opts.max_connections(16),
        };
        let pool = opts.connect(url).await?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn migrate(&self) -> Result<Vec<i64>> {
        migrate::run(self).await
    }

    /// A pooled connection for reads.
    pub async fn read(&self) -> Result<PoolConnection<Any>> {
        Ok(self.pool.acquire().await?)
    }

    /// A transaction for writes. On SQLite it takes the write lock up front (`BEGIN
    /// IMMEDIATE`), so a transaction that reads before it writes cannot fail on upgrade
    /// when another process committed in between.
    pub async fn write(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// SQLite's own consistency check ("ok" when sound); PostgreSQL has no equivalent and answers "ok".
    pub async fn integrity_check(&self) -> Result<String> {
        match self.backend {
            Backend::Sqlite => {
                let row = sqlx::query("PRAGMA integrity_check")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get::<String, _>(0)?)
            }
            Backend::Postgres => Ok("ok".into()),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// A new public id: a UUIDv7, random and unguessable, yet time-ordered for index locality.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Now as stored: RFC 3339 UTC with milliseconds, which sorts correctly as text.
pub fn now() -> String {
    timestamp(time::OffsetDateTime::now_utc())
}

pub fn timestamp(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

pub(crate) fn opt_str(row: &AnyRow, col: &str) -> Result<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}

#[cfg(feature = "testing")]
pub mod testing;
