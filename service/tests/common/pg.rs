//! A fresh PostgreSQL database per test, dropped when the test ends.
//!
//! The server is `LETRO_TEST_POSTGRES` (a `postgres://` URL of a role that may create
//! databases), by default the project machines' `postgres://postgres@127.0.0.1:5432/postgres`.
//! No reachable server is a test failure that says so, never a silent skip.

use std::sync::atomic::{AtomicU64, Ordering};

/// The admin URL the test databases are created through.
pub fn admin_url() -> String {
    std::env::var("LETRO_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Connects to the database at `url` on a thread of its own (so that it may be called inside
/// a tokio runtime), runs `f` with a runtime to drive it and the client, and disconnects.
pub fn with_client<T: Send + 'static>(
    url: &str,
    f: impl FnOnce(&tokio::runtime::Runtime, &tokio_postgres::Client) -> T + Send + 'static,
) -> Result<T, String> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let (client, connection) = rt
            .block_on(tokio_postgres::connect(&url, tokio_postgres::NoTls))
            .map_err(|e| {
                format!(
                    "PostgreSQL is not reachable at {url} ({e}): the storage tests need a \
                     server (set LETRO_TEST_POSTGRES to the URL of a role that may create \
                     databases)"
                )
            })?;
        let driver = rt.spawn(connection);
        let out = f(&rt, &client);
        drop(client);
        let _ = rt.block_on(driver);
        Ok(out)
    })
    .join()
    .map_err(|_| "the SQL thread panicked".to_owned())?
}

/// Runs `sql` (one or more statements) on the database at `url`; the server's message if it
/// refuses.
pub fn run_sql(url: &str, sql: &str) -> Result<(), String> {
    let sql = sql.to_owned();
    with_client(url, move |rt, client| {
        rt.block_on(client.batch_execute(&sql))
            .map_err(|e| match e.as_db_error() {
                Some(db) => db.message().to_owned(),
                None => e.to_string(),
            })
    })?
}

/// A database created for one test and dropped (connections and all) when this is dropped.
pub struct PgDatabase {
    /// Its `postgres://` URL.
    pub url: String,
    name: String,
}

impl PgDatabase {
    /// Creates an empty database named `letro_test_<pid>_<n>_<random>`.
    pub fn create() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(drop_orphans);
        let name = format!(
            "letro_test_{}_{}_{:08x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            rand::random::<u32>()
        );
        if let Err(e) = run_sql(&admin_url(), &format!("CREATE DATABASE {name}")) {
            panic!("{e}");
        }
        let admin = admin_url();
        let base = admin.split('?').next().unwrap();
        let (server, _) = base
            .rsplit_once('/')
            .filter(|(server, _)| server.contains("://") && !server.ends_with('/'))
            .expect("LETRO_TEST_POSTGRES is postgres://USER@HOST:PORT/DATABASE");
        Self {
            url: format!("{server}/{name}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = run_sql(&admin_url(), &sql) {
            eprintln!("the test database {} was not dropped: {e}", self.name);
        }
    }
}

/// Which store the service tests run on: `LETRO_TEST_STORE=postgres` runs the whole suite on
/// PostgreSQL (`.ci/run` runs it so, after the default run on SQLite).
pub fn suite_on_postgres() -> bool {
    match std::env::var("LETRO_TEST_STORE").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("LETRO_TEST_STORE is {other:?}: use postgres or sqlite"),
    }
}

/// The file in a test's data directory naming its database, so that every process of the
/// test (a kill -9 child, a restart) finds the same one.
const DATABASE_URL_FILE: &str = "test-database-url";

thread_local! {
    /// The databases this test thread created: dropped when it ends (after the test).
    static OWNED: std::cell::RefCell<Vec<PgDatabase>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The PostgreSQL database of the test data directory `dir`: created on first use, and dropped
/// when the thread of the test that created it ends.
pub fn database_for(dir: &std::path::Path) -> String {
    static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = CREATING.lock().unwrap();
    let file = dir.join(DATABASE_URL_FILE);
    if let Ok(url) = std::fs::read_to_string(&file) {
        return url;
    }
    std::fs::create_dir_all(dir).unwrap();
    let db = PgDatabase::create();
    let url = db.url.clone();
    let tmp = dir.join(format!("{DATABASE_URL_FILE}.tmp"));
    std::fs::write(&tmp, &url).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    OWNED.with(|owned| owned.borrow_mut().push(db));
    url
}

/// Drops the test databases of processes that are gone (a test thread cut short at exit, a
/// killed run): `letro_test_<pid>_…` whose pid is not running.
fn drop_orphans() {
    let listed = with_client(&admin_url(), |rt, client| {
        rt.block_on(client.query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'letro\\_test\\_%'",
            &[],
        ))
        .map(|rows| {
            rows.iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        })
    });
    let Ok(Ok(names)) = listed else { return };
    for name in names {
        let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = run_sql(
                    &admin_url(),
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                );
            }
        }
    }
}

/// Every value of every column of every table of the database at `url`, as raw bytes
/// (`bytea` as stored, everything else as its text form), one entry per `table.column`: the
/// haystack of the tests that search the stored data for what must never be there.
pub fn dump(url: &str) -> Vec<(String, Vec<u8>)> {
    with_client(url, |rt, client| {
        let columns = rt
            .block_on(client.query(
                "SELECT table_name::text, column_name::text, data_type::text \
                 FROM information_schema.columns WHERE table_schema = 'public'",
                &[],
            ))
            .unwrap();
        let mut out = Vec::new();
        for c in columns {
            let (table, column, kind): (String, String, String) = (c.get(0), c.get(1), c.get(2));
            let bytea = kind == "bytea";
            let sql = if bytea {
                format!("SELECT \"{column}\" FROM \"{table}\"")
            } else {
                format!("SELECT \"{column}\"::text FROM \"{table}\"")
            };
            let mut bytes = Vec::new();
            for row in rt.block_on(client.query(&sql, &[])).unwrap() {
                if bytea {
                    bytes.extend(row.get::<_, Option<Vec<u8>>>(0).unwrap_or_default());
                } else {
                    bytes.extend(
                        row.get::<_, Option<String>>(0)
                            .unwrap_or_default()
                            .into_bytes(),
                    );
                }
                bytes.push(0);
            }
            out.push((format!("{table}.{column}"), bytes));
        }
        out
    })
    .unwrap()
}

/// The one `bigint` that `sql` selects from the database at `url`.
pub fn query_one_i64(url: &str, sql: &str) -> i64 {
    let sql = sql.to_owned();
    with_client(url, move |rt, client| {
        rt.block_on(client.query_one(&sql, &[])).unwrap().get(0)
    })
    .unwrap()
}
