//! The database: one connection pool for SQLite (the default) or Postgres, migrations applied at
//! open, readiness ping.
//!
//! Queries are written once for both backends through sqlx's `Any` driver: `$N` placeholders
//! (SQLite accepts them too), `ON CONFLICT`, `RETURNING`, explicit transactions, no `rowid`, and
//! only the types both share (TEXT, BIGINT, bytes). Each backend has its own migrations.

use std::time::Duration;

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    Any, AnyPool, Executor,
};

/// How long a readiness probe waits for the database before calling it unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

pub type Pool = AnyPool;

/// Why the database could not be opened or reached.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL: {0}")]
    Url(#[source] sqlx::Error),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
}

/// Which database a store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The app's database handle; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let pool = match backend {
            Backend::Sqlite => open_sqlite(url).await?,
            Backend::Postgres => {
                let options: AnyConnectOptions = url.parse().map_err(StoreError::Url)?;
                AnyPoolOptions::new()
                    .max_connections(16)
                    .connect_with(options)
                    .await?
            }
        };
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Store { pool, backend })
    }

    /// Checks that the database answers a query, for the readiness probe.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let query = sqlx::query("SELECT 1").execute(&self.pool);
        match tokio::time::timeout(PING_TIMEOUT, query).await {
            Ok(result) => result.map(drop).map_err(StoreError::from),
            Err(_) => Err(StoreError::Timeout(PING_TIMEOUT)),
        }
    }

    /// The connection pool, for queries of the modules that own a table.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection; later queries fail. Part of graceful shutdown.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Starts a transaction that writes. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`): a deferred transaction that has read anything before its first write (even
/// SQLite itself, reading an FTS5 index's settings while it prepares a statement whose triggers
/// write to the index) cannot wait for the lock, and SQLite answers "database is locked" at once
/// instead of calling the busy handler. Immediate transactions wait their turn (`busy_timeout`).
/// Postgres locks rows, not the database, and starts a plain transaction.
pub async fn begin_write(pool: &AnyPool) -> Result<sqlx::Transaction<'static, Any>, sqlx::Error> {
    if pool.connect_options().database_url.scheme() == "sqlite" {
        pool.begin_with("BEGIN IMMEDIATE").await
    } else {
        pool.begin().await
    }
}

/// A random secret, made on first use and kept in the database, so that every instance on the
/// database shares it (keys for refresh-token chains, rate-limit keys, signed form errors).
pub async fn secret(pool: &AnyPool, name: &str) -> Result<Vec<u8>, sqlx::Error> {
    sqlx::query("INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(crate::crypto::random_bytes::<32>().to_vec())
        .execute(pool)
        .await?;
    sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
}

/// A SQLite file, created if missing, in WAL mode with foreign keys on.
async fn open_sqlite(url: &str) -> Result<AnyPool, StoreError> {
    use std::str::FromStr;
    // Parsed with SQLite's own options only to find the file, so its directory can be created.
    let sqlite = sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(StoreError::Url)?;
    if let Some(dir) = sqlite.get_filename().parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    let url = if url.contains("mode=") {
        url.to_owned()
    } else {
        format!("{url}{separator}mode=rwc")
    };
    let options: AnyConnectOptions = url.parse().map_err(StoreError::Url)?;
    Ok(AnyPoolOptions::new()
        .after_connect(|connection, _| {
            Box::pin(async move {
                // WAL lets readers proceed while a writer commits (chat streams write while pages
                // read); NORMAL sync keeps every commit across a process crash. Waiting for a
                // lock beats failing at once under concurrent writes.
                connection
                    .execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                    )
                    .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?)
}
