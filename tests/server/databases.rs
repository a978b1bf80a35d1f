//! Both databases for the store suites: a fresh SQLite file, or a fresh database on a throwaway
//! PostgreSQL server that this test process starts on first use (Debian's `postgresql`, `initdb`
//! into a temporary directory, in memory when there is room, a free loopback port) and that stops
//! when the process ends.
//!
//! `FERROCHAT_TEST_POSTGRES_URL` (a server URL such as `postgres://u@127.0.0.1:5432/postgres`)
//! uses an existing server instead.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicU64, Ordering},
};

use ferrochat::store::Store;
use tempfile::TempDir;
use tokio::sync::OnceCell;

/// Runs an async test body once on SQLite and once on Postgres, as two tests named
/// `<case>::sqlite` and `<case>::postgres`.
#[macro_export]
macro_rules! on_both_databases {
    ($($case:ident),+ $(,)?) => {
        $(
            mod $case {
                #[tokio::test]
                async fn sqlite() {
                    let (store, _dir) = $crate::databases::sqlite().await;
                    super::$case(store).await;
                }

                #[tokio::test]
                async fn postgres() {
                    let store = $crate::databases::postgres().await;
                    super::$case(store).await;
                }
            }
        )+
    };
}

/// Runs an async test body of whole apps once on SQLite and once on Postgres, as two tests named
/// `<case>::sqlite` and `<case>::postgres`. The body gets the `DATABASE_URL` to give its apps:
/// None for the SQLite file in their data directory, or a new Postgres database.
#[macro_export]
macro_rules! apps_on_both_databases {
    ($($case:ident),+ $(,)?) => {
        $(
            mod $case {
                #[tokio::test]
                async fn sqlite() {
                    super::$case(None).await;
                }

                #[tokio::test]
                async fn postgres() {
                    super::$case(Some($crate::databases::postgres_url().await)).await;
                }
            }
        )+
    };
}

/// A store on a new SQLite file (kept while the returned directory lives).
pub async fn sqlite() -> (Store, TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    (Store::open(&url).await.expect("SQLite opens"), dir)
}

/// A store on a new database of the shared test server.
pub async fn postgres() -> Store {
    Store::open(&postgres_url().await)
        .await
        .expect("Postgres opens")
}

/// The URL of a new database on the shared test server, its schema already migrated: a copy of
/// the template that this process migrated once (see `server`). Copying it costs the server a
/// third of the CPU that creating an empty database and applying every migration to it did
/// (measured with psql: 29 against 85 ms a database; a run creates some 400). The app still
/// applies its migrations when it opens the copy; they find everything already applied.
pub async fn postgres_url() -> String {
    let server = server().await;
    let name = next_database_name("ferro");
    create_database(&server.url, &name, &server.template).await;
    replace_database(&server.url, &name)
}

/// A database name unique to this test process.
fn next_database_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT_DATABASE.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates database `name` on `server` as a copy of `template`.
async fn create_database(server: &str, name: &str, template: &str) {
    sqlx::any::install_default_drivers();
    let admin = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(server)
        .await
        .expect("the test Postgres server answers");
    // FILE_COPY (PostgreSQL 15+) copies the template's files; the default, WAL_LOG, also writes
    // all of them to the write-ahead log, which would double the memory the server's directory
    // takes (see `data_parent`).
    sqlx::query(&format!(
        "CREATE DATABASE {name} TEMPLATE {template} STRATEGY = FILE_COPY"
    ))
    .execute(&admin)
    .await
    .expect("create a test database");
    admin.close().await;
}

static NEXT_DATABASE: AtomicU64 = AtomicU64::new(0);
static SERVER: OnceCell<Server> = OnceCell::const_new();

/// The shared test server and the template its test databases are copied from.
struct Server {
    url: String,
    template: String,
}

fn replace_database(server: &str, name: &str) -> String {
    let mut url = url::Url::parse(server).expect("a Postgres URL");
    url.set_path(&format!("/{name}"));
    url.into()
}

/// The server, starting it on first use, and its template: an empty database (a copy of
/// `template1`) that the store migrates as it would any new database, then closes, since Postgres
/// copies only a template no one is connected to. Every test on Postgres so runs the migrations
/// from nothing once per process before it starts.
async fn server() -> &'static Server {
    SERVER
        .get_or_init(|| async {
            let url = match std::env::var("FERROCHAT_TEST_POSTGRES_URL") {
                Ok(url) if !url.is_empty() => url,
                _ => tokio::task::spawn_blocking(start_server)
                    .await
                    .expect("the server start does not panic"),
            };
            let template = next_database_name("ferro_template");
            create_database(&url, &template, "template1").await;
            let store = Store::open(&replace_database(&url, &template))
                .await
                .expect("the migrations apply to an empty Postgres database");
            store.close().await;
            Server { url, template }
        })
        .await
}

/// The newest installed PostgreSQL's `bin` directory.
fn postgres_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (scripts/setup.sh installs Debian's postgresql)")
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// `initdb` refuses to run as root: as root, commands run as the `postgres` user.
fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Where the server's directory goes: memory (`/dev/shm`) when it has room, else the temporary
/// directory. A suite creates a database of 7.5 MB per test and keeps them until it ends: with the
/// server on disk, the Postgres suite wrote 4.1 GB to it (0.9 GB with the server in memory), which
/// slowed the builds and browsers beside it. Nothing is lost by keeping them in memory: the server
/// runs without fsync and is deleted after.
fn data_parent() -> PathBuf {
    const ROOM: u64 = 8 << 30;
    let shm = Path::new("/dev/shm");
    let free = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(shm)
        .output()
        .ok()
        .and_then(|out| {
            let text = String::from_utf8(out.stdout).ok()?;
            text.lines().nth(1)?.trim().parse::<u64>().ok()
        });
    if free.is_some_and(|free| free >= ROOM) {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Starts a server in a new directory on a free port; a watchdog stops it and removes the
/// directory once this process is gone.
fn start_server() -> String {
    let bin = postgres_bin();
    let dir = tempfile::Builder::new()
        .prefix("ferrochat-pg-")
        .tempdir_in(data_parent())
        .expect("temporary directory")
        .keep();
    let _ = Command::new("chown").arg("postgres").arg(&dir).status();
    let data = dir.join("data");
    let mut initdb = as_postgres(&bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "ferro", "-E", "UTF8", "--no-sync"]);
    run(initdb, "initdb");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let mut start = as_postgres(&bin.join("pg_ctl"));
    start
        .arg("-D")
        .arg(&data)
        .arg("-o")
        .arg(format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
            dir.display()
        ))
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "start"]);
    run(start, "pg_ctl start");
    let stop = format!(
        "{} {} -D {} -m immediate stop",
        if is_root() {
            "runuser -u postgres --"
        } else {
            ""
        },
        bin.join("pg_ctl").display(),
        data.display()
    );
    let watchdog = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display(),
    );
    // `setsid --fork` detaches the watchdog and returns at once.
    let started = Command::new("setsid")
        .args(["--fork", "sh", "-c", &watchdog])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("start the Postgres watchdog");
    assert!(started.success(), "the Postgres watchdog did not start");
    format!("postgres://ferro@127.0.0.1:{port}/postgres")
}
