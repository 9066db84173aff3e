//! Fresh, isolated databases for tests: a SQLite file in a temporary directory, or a new
//! schema in the PostgreSQL named by `SWITCHBOARD_TEST_POSTGRES_URL`.

use crate::{Backend, Store};

pub const POSTGRES_ENV: &str = "SWITCHBOARD_TEST_POSTGRES_URL";

/// A database that lives as long as this value (the SQLite directory is removed on drop).
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// None (after printing why) when the backend is not configured on this machine.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = crate::sqlite_url_for_dir(dir.path());
                Some(TestDb {
                    url,
                    backend,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let Ok(base) = std::env::var(POSTGRES_ENV) else {
                    eprintln!(
                        "skipped: {POSTGRES_ENV} is not set, so this PostgreSQL test does not run"
                    );
                    return None;
                };
                let schema = format!("sbt_{}", uuid::Uuid::now_v7().simple());
                let admin = Store::connect(&base)
                    .await
                    .expect("connect to SWITCHBOARD_TEST_POSTGRES_URL");
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(admin.pool())
                    .await
                    .expect("create test schema");
                admin.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
                Some(TestDb {
                    url,
                    backend,
                    _dir: None,
                })
            }
        }
    }

    pub async fn open(&self) -> Store {
        Store::open(&self.url).await.expect("open test store")
    }
}

/// Runs a test body once per backend: `backend_tests!(name => |store| async move { ... })`
/// expands to `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident => $body:expr;)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                let db = $crate::testing::TestDb::new($crate::Backend::Sqlite).await.unwrap();
                ($body)(db.open().await).await;
            }
            #[tokio::test]
            async fn postgres() {
                let Some(db) = $crate::testing::TestDb::new($crate::Backend::Postgres).await else { return };
                ($body)(db.open().await).await;
            }
        }
    )*};
}
