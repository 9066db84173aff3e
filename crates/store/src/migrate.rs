//! A small migration runner: numbered SQL files embedded per backend, each applied in its own
//! transaction and recorded in `schema_migrations`. Concurrent starts (server and CLI on the
//! same database) serialise on a lock, so each migration runs exactly once.

use crate::{classify, Backend, Result, Store, StoreError};
use sqlx::{Connection, Executor, Row};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "items",
        sqlite: include_str!("../migrations/sqlite/0002_items.sql"),
        postgres: include_str!("../migrations/postgres/0002_items.sql"),
    },
    Migration {
        version: 3,
        name: "dictionary",
        sqlite: include_str!("../migrations/sqlite/0003_dictionary.sql"),
        postgres: include_str!("../migrations/postgres/0003_dictionary.sql"),
    },
    Migration {
        version: 4,
        name: "channels",
        sqlite: include_str!("../migrations/sqlite/0004_channels.sql"),
        postgres: include_str!("../migrations/postgres/0004_channels.sql"),
    },
    Migration {
        version: 5,
        name: "jobs",
        sqlite: include_str!("../migrations/sqlite/0005_jobs.sql"),
        postgres: include_str!("../migrations/postgres/0005_jobs.sql"),
    },
    Migration {
        version: 6,
        name: "listening",
        sqlite: include_str!("../migrations/sqlite/0006_listening.sql"),
        postgres: include_str!("../migrations/postgres/0006_listening.sql"),
    },
    Migration {
        version: 7,
        name: "inbox",
        sqlite: include_str!("../migrations/sqlite/0007_inbox.sql"),
        postgres: include_str!("../migrations/postgres/0007_inbox.sql"),
    },
    Migration {
        version: 8,
        name: "intent_queries",
        sqlite: include_str!("../migrations/sqlite/0008_intent_queries.sql"),
        postgres: include_str!("../migrations/postgres/0008_intent_queries.sql"),
    },
    Migration {
        version: 9,
        name: "inbox_work",
        sqlite: include_str!("../migrations/sqlite/0009_inbox_work.sql"),
        postgres: include_str!("../migrations/postgres/0009_inbox_work.sql"),
    },
    Migration {
        version: 10,
        name: "sla",
        sqlite: include_str!("../migrations/sqlite/0010_sla.sql"),
        postgres: include_str!("../migrations/postgres/0010_sla.sql"),
    },
    Migration {
        version: 11,
        name: "handoffs",
        sqlite: include_str!("../migrations/sqlite/0011_handoffs.sql"),
        postgres: include_str!("../migrations/postgres/0011_handoffs.sql"),
    },
    Migration {
        version: 12,
        name: "sla_pause",
        sqlite: include_str!("../migrations/sqlite/0012_sla_pause.sql"),
        postgres: include_str!("../migrations/postgres/0012_sla_pause.sql"),
    },
    Migration {
        version: 13,
        name: "presence",
        sqlite: include_str!("../migrations/sqlite/0013_presence.sql"),
        postgres: include_str!("../migrations/postgres/0013_presence.sql"),
    },
];

/// Applies pending migrations; returns the versions it applied.
pub(crate) async fn run(store: &Store) -> Result<Vec<i64>> {
    let mut conn = store.pool().acquire().await?;
    let lock = match store.backend() {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    let mut tx = conn.begin_with(lock).await?;
    if store.backend() == Backend::Postgres {
        // Held until commit; any other process migrating waits here.
        tx.execute("SELECT pg_advisory_xact_lock(7318009)").await?;
    }
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<std::result::Result<_, _>>()?;
    if let Some(max) = applied.last() {
        if *max > MIGRATIONS.last().map_or(0, |m| m.version) {
            return Err(StoreError::TooNew(*max));
        }
    }
    let mut done = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let sql = match store.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(|source| StoreError::Migration {
                version: m.version,
                name: m.name,
                source,
            })?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(crate::now())
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        done.push(m.version);
    }
    tx.commit().await?;
    Ok(done)
}
