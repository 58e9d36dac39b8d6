//! The two stores behind one interface. Statements are written once, with
//! `?N` placeholders and `{MIN}`/`{MAX}` for the two-argument minimum and
//! maximum, and adapted to each database's dialect.

use super::schema::{self, CREATE_MIGRATIONS_TABLE, MIGRATIONS};
use super::{
    FindingRecord, HostSighting, HostSummary, IdentityBinding, InventoryError, RunRecord,
    RunSummary, Snapshot,
};
use std::collections::HashMap;
use std::time::Duration;

/// Which database a store is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    Postgres,
}

/// Times a transaction is tried again after a deadlock, a serialization
/// failure or a busy SQLite file.
const MAX_ATTEMPTS: u32 = 8;
/// How long SQLite waits for another writer's transaction.
const SQLITE_BUSY_WAIT: Duration = Duration::from_secs(60);

/// A SQL value: every column is BIGINT or TEXT.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    I(i64),
    T(String),
    Null,
    /// NULL in a BIGINT column (PostgreSQL types its parameters).
    NullI,
}

impl Value {
    fn int(&self) -> i64 {
        match self {
            Value::I(i) => *i,
            _ => 0,
        }
    }

    fn text(&self) -> String {
        match self {
            Value::T(s) => s.clone(),
            _ => String::new(),
        }
    }

    fn opt_text(&self) -> Option<String> {
        match self {
            Value::T(s) => Some(s.clone()),
            _ => None,
        }
    }
}

fn ns(v: u64) -> Value {
    Value::I(i64::try_from(v).unwrap_or(i64::MAX))
}

fn count(v: u64) -> Value {
    ns(v)
}

fn text(s: &str) -> Value {
    Value::T(s.to_owned())
}

fn opt(s: &Option<String>) -> Value {
    s.as_ref().map_or(Value::Null, |s| Value::T(s.clone()))
}

fn opt_bool(b: Option<bool>) -> Value {
    b.map_or(Value::NullI, |b| Value::I(i64::from(b)))
}

fn u(v: &Value) -> u64 {
    u64::try_from(v.int()).unwrap_or(0)
}

/// Errors of either database, before the store's location is added.
#[derive(Debug)]
enum DbError {
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
    TooNew(i64),
    Invalid(String),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        DbError::Postgres(e)
    }
}

impl DbError {
    /// Worth trying the whole transaction again.
    fn transient(&self) -> bool {
        match self {
            DbError::Postgres(e) => e.code().is_some_and(|c| {
                *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
            }),
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            _ => false,
        }
    }

    fn at(self, location: &str) -> InventoryError {
        let location = location.to_owned();
        match self {
            DbError::Sqlite(source) => InventoryError::Sqlite { location, source },
            DbError::Postgres(source) => InventoryError::Postgres { location, source },
            DbError::TooNew(found) => InventoryError::SchemaTooNew {
                location,
                found,
                known: schema::latest_version(),
            },
            DbError::Invalid(what) => InventoryError::Invalid { location, what },
        }
    }
}

/// One open transaction of either database.
trait Tx {
    fn kind(&self) -> StoreKind;
    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError>;
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError>;
}

/// `?N` → `$N`, `{MIN}`/`{MAX}` → each dialect's two-argument functions.
fn dialect(sql: &str, kind: StoreKind) -> String {
    match kind {
        StoreKind::Sqlite => sql.replace("{MIN}", "min").replace("{MAX}", "max"),
        StoreKind::Postgres => sql
            .replace("{MIN}", "LEAST")
            .replace("{MAX}", "GREATEST")
            .replace('?', "$"),
    }
}

struct SqliteTx<'a> {
    tx: rusqlite::Transaction<'a>,
}

impl Tx for SqliteTx<'_> {
    fn kind(&self) -> StoreKind {
        StoreKind::Sqlite
    }

    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let mut st = self.tx.prepare_cached(&dialect(sql, StoreKind::Sqlite))?;
        let n = st.execute(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        let mut st = self.tx.prepare_cached(&dialect(sql, StoreKind::Sqlite))?;
        let cols = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(params.iter().map(sqlite_value)))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(cols);
            for i in 0..cols {
                row.push(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Integer(v) => Value::I(v),
                    rusqlite::types::ValueRef::Text(t) => {
                        Value::T(String::from_utf8_lossy(t).into_owned())
                    }
                    _ => Value::Null,
                });
            }
            out.push(row);
        }
        Ok(out)
    }
}

fn sqlite_value(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::I(i) => rusqlite::types::Value::Integer(*i),
        Value::T(s) => rusqlite::types::Value::Text(s.clone()),
        Value::Null | Value::NullI => rusqlite::types::Value::Null,
    }
}

struct PgTx<'a> {
    tx: postgres::Transaction<'a>,
    /// Prepared once per transaction: a 10 000-host run repeats a handful of statements.
    prepared: HashMap<String, postgres::Statement>,
}

impl PgTx<'_> {
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(st) = self.prepared.get(sql) {
            return Ok(st.clone());
        }
        let st = self.tx.prepare(&dialect(sql, StoreKind::Postgres))?;
        self.prepared.insert(sql.to_owned(), st.clone());
        Ok(st)
    }
}

fn pg_params(params: &[Value]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
    params
        .iter()
        .map(|v| -> Box<dyn postgres::types::ToSql + Sync> {
            match v {
                Value::I(i) => Box::new(*i),
                Value::T(s) => Box::new(s.clone()),
                Value::Null => Box::new(Option::<String>::None),
                Value::NullI => Box::new(Option::<i64>::None),
            }
        })
        .collect()
}

impl Tx for PgTx<'_> {
    fn kind(&self) -> StoreKind {
        StoreKind::Postgres
    }

    fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        let st = self.statement(sql)?;
        let owned = pg_params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            owned.iter().map(|b| b.as_ref()).collect();
        Ok(self.tx.execute(&st, &refs)?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        let st = self.statement(sql)?;
        let owned = pg_params(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            owned.iter().map(|b| b.as_ref()).collect();
        let rows = self.tx.query(&st, &refs)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut row = Vec::with_capacity(r.len());
            for (i, c) in r.columns().iter().enumerate() {
                let t = c.type_();
                row.push(if *t == postgres::types::Type::INT8 {
                    r.try_get::<_, Option<i64>>(i)?
                        .map_or(Value::Null, Value::I)
                } else if *t == postgres::types::Type::INT4 {
                    r.try_get::<_, Option<i32>>(i)?
                        .map_or(Value::Null, |v| Value::I(i64::from(v)))
                } else if *t == postgres::types::Type::TEXT {
                    r.try_get::<_, Option<String>>(i)?
                        .map_or(Value::Null, Value::T)
                } else {
                    Value::Null
                });
            }
            out.push(row);
        }
        Ok(out)
    }
}

enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

/// An open inventory store.
pub struct Store {
    conn: Conn,
    location: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("kind", &self.kind())
            .field("location", &self.location)
            .finish()
    }
}

/// Is `location` a PostgreSQL connection URL (else a SQLite file path)?
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// The location with any password taken out, for messages.
fn redact(location: &str) -> String {
    if !is_postgres_url(location) {
        return location.to_owned();
    }
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_owned();
    };
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        None => location.to_owned(),
    }
}

impl Store {
    /// Opens (creating if needed) the store at `location`: a
    /// `postgres://` / `postgresql://` URL, or else a SQLite file path. The
    /// schema is migrated to this build's version.
    pub fn open(location: &str) -> Result<Store, InventoryError> {
        let shown = redact(location);
        let conn = if is_postgres_url(location) {
            let client = postgres::Client::connect(location, postgres::NoTls)
                .map_err(|e| DbError::from(e).at(&shown))?;
            Conn::Postgres(Box::new(client))
        } else {
            let c =
                rusqlite::Connection::open(location).map_err(|e| DbError::from(e).at(&shown))?;
            c.busy_timeout(SQLITE_BUSY_WAIT)
                .and_then(|_| c.pragma_update(None, "journal_mode", "WAL"))
                .and_then(|_| c.pragma_update(None, "synchronous", "FULL"))
                .and_then(|_| c.pragma_update(None, "foreign_keys", "ON"))
                .map_err(|e| DbError::from(e).at(&shown))?;
            Conn::Sqlite(c)
        };
        let mut store = Store {
            conn,
            location: shown,
        };
        store.transaction(migrate)?;
        Ok(store)
    }

    pub fn kind(&self) -> StoreKind {
        match self.conn {
            Conn::Sqlite(_) => StoreKind::Sqlite,
            Conn::Postgres(_) => StoreKind::Postgres,
        }
    }

    /// The location as shown in messages (a URL's password left out).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Runs `f` in one transaction, trying again (from the start) after a
    /// deadlock, a serialization failure or a busy file.
    fn transaction<T>(
        &mut self,
        mut f: impl FnMut(&mut dyn Tx) -> Result<T, DbError>,
    ) -> Result<T, InventoryError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let r: Result<T, DbError> = match &mut self.conn {
                Conn::Sqlite(c) => (|| {
                    let tx =
                        c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    let mut t = SqliteTx { tx };
                    let out = f(&mut t)?;
                    t.tx.commit()?;
                    Ok(out)
                })(),
                Conn::Postgres(c) => (|| {
                    let tx = c.transaction()?;
                    let mut t = PgTx {
                        tx,
                        prepared: HashMap::new(),
                    };
                    let out = f(&mut t)?;
                    t.tx.commit()?;
                    Ok(out)
                })(),
            };
            match r {
                Err(e) if e.transient() && attempt < MAX_ATTEMPTS => {
                    std::thread::sleep(Duration::from_millis(20 * u64::from(attempt)));
                }
                r => return r.map_err(|e| e.at(&self.location)),
            }
        }
    }

    /// Writes one run whole (or not at all). Writing the same run again
    /// leaves the store as it was.
    pub fn write_run(&mut self, run: &RunRecord) -> Result<(), InventoryError> {
        validate(run).map_err(|e| e.at(&self.location))?;
        self.transaction(|tx| write_run(tx, run))
    }

    /// Everything the store holds, ordered.
    pub fn snapshot(&mut self) -> Result<Snapshot, InventoryError> {
        self.transaction(read_snapshot)
    }

    /// The schema version in force.
    pub fn schema_version(&mut self) -> Result<i64, InventoryError> {
        self.transaction(|tx| {
            let r = tx.query("SELECT MAX(version) FROM schema_migrations", &[])?;
            Ok(r.first().and_then(|r| r.first()).map_or(0, Value::int))
        })
    }

    /// Problems with the store's consistency: a run whose rows do not match
    /// the counts written with it, a row without its run. Empty when sound.
    pub fn check(&mut self) -> Result<Vec<String>, InventoryError> {
        self.transaction(check)
    }
}

fn migrate(tx: &mut dyn Tx) -> Result<(), DbError> {
    if tx.kind() == StoreKind::Postgres {
        // One migrating sensor at a time; the others wait, then find it done.
        tx.exec("SELECT pg_advisory_xact_lock(7236014952)", &[])?;
    }
    tx.exec(CREATE_MIGRATIONS_TABLE, &[])?;
    let have = tx
        .query("SELECT MAX(version) FROM schema_migrations", &[])?
        .first()
        .and_then(|r| r.first().map(Value::int))
        .unwrap_or(0);
    if have > schema::latest_version() {
        return Err(DbError::TooNew(have));
    }
    for (version, description, statements) in MIGRATIONS.iter().filter(|m| m.0 > have) {
        for s in *statements {
            tx.exec(s, &[])?;
        }
        tx.exec(
            "INSERT INTO schema_migrations (version, description) VALUES (?1, ?2)",
            &[Value::I(*version), text(description)],
        )?;
    }
    Ok(())
}

fn validate(run: &RunRecord) -> Result<(), DbError> {
    let dup = |what: &str, mut keys: Vec<String>| {
        keys.sort();
        match keys.windows(2).find(|w| w.first() == w.get(1)) {
            Some(w) => Err(DbError::Invalid(format!(
                "run {}: {what} {:?} appears twice",
                run.run_id,
                w.first()
            ))),
            None => Ok(()),
        }
    };
    if run.run_id.is_empty() || run.sensor_id.is_empty() {
        return Err(DbError::Invalid(
            "a run needs a run id and a sensor id".into(),
        ));
    }
    dup(
        "host",
        run.hosts.iter().map(|h| h.host_key.clone()).collect(),
    )?;
    dup(
        "finding",
        run.findings
            .iter()
            .map(|f| format!("{}\u{0}{}\u{0}{}", f.host_key, f.vendor, f.product))
            .collect(),
    )?;
    dup(
        "identity binding",
        run.identities
            .iter()
            .map(|b| format!("{}\u{0}{}\u{0}{}", b.host_key, b.address, b.source))
            .collect(),
    )
}

fn json_list(v: &[String]) -> Value {
    Value::T(serde_json::to_string(v).unwrap_or_else(|_| "[]".into()))
}

fn parse_list(v: &Value) -> Vec<String> {
    serde_json::from_str(&v.text()).unwrap_or_default()
}

fn write_run(tx: &mut dyn Tx, run: &RunRecord) -> Result<(), DbError> {
    let id = text(&run.run_id);
    if tx.kind() == StoreKind::Postgres {
        // Two writers of the same run (the same capture replayed twice at
        // once) take turns instead of interleaving deletes and inserts.
        tx.exec(
            "SELECT pg_advisory_xact_lock(hashtext(?1))",
            std::slice::from_ref(&id),
        )?;
    }
    for table in ["findings", "host_sightings", "identity_history"] {
        tx.exec(
            &format!("DELETE FROM {table} WHERE run_id = ?1"),
            std::slice::from_ref(&id),
        )?;
    }
    tx.exec(
        "INSERT INTO runs (run_id, sensor_id, period_start, period_end, source, catalog_version,
                           host_count, finding_count, identity_count, home_country, policy)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (run_id) DO UPDATE SET
            sensor_id = excluded.sensor_id, period_start = excluded.period_start,
            period_end = excluded.period_end, source = excluded.source,
            catalog_version = excluded.catalog_version, host_count = excluded.host_count,
            finding_count = excluded.finding_count, identity_count = excluded.identity_count,
            home_country = excluded.home_country, policy = excluded.policy",
        &[
            id.clone(),
            text(&run.sensor_id),
            ns(run.period_start_ns),
            ns(run.period_end_ns),
            text(&run.source),
            text(&run.catalog_version),
            count(run.hosts.len() as u64),
            count(run.findings.len() as u64),
            count(run.identities.len() as u64),
            opt(&run.home_country),
            opt(&run.policy),
        ],
    )?;
    let mut hosts: Vec<&HostSighting> = run.hosts.iter().collect();
    hosts.sort_by(|a, b| a.host_key.cmp(&b.host_key));
    insert_rows(
        tx,
        "host_sightings (run_id, host_key, name, mac, address, first_seen, last_seen, flows, bytes)",
        hosts.iter().map(|h| {
            vec![
                id.clone(),
                text(&h.host_key),
                opt(&h.name),
                opt(&h.mac),
                text(&h.address),
                ns(h.first_seen_ns),
                ns(h.last_seen_ns),
                count(h.flows),
                count(h.bytes),
            ]
        }),
        "",
    )?;
    insert_rows(
        tx,
        "findings (run_id, host_key, vendor, product, category, foreign_vendor, first_seen,
                   last_seen, flows, bytes_toserver, bytes_toclient, countries, evidence,
                   severity, data_abroad)",
        run.findings.iter().map(|f| {
            vec![
                id.clone(),
                text(&f.host_key),
                text(&f.vendor),
                text(&f.product),
                opt(&f.category),
                Value::I(i64::from(f.foreign)),
                ns(f.first_seen_ns),
                ns(f.last_seen_ns),
                count(f.flows),
                count(f.bytes_toserver),
                count(f.bytes_toclient),
                json_list(&f.countries),
                json_list(&f.evidence),
                opt(&f.severity),
                opt_bool(f.data_abroad),
            ]
        }),
        "",
    )?;
    insert_rows(
        tx,
        "identity_history (run_id, host_key, address, source, first_seen, last_seen)",
        run.identities.iter().map(|b| {
            vec![
                id.clone(),
                text(&b.host_key),
                text(&b.address),
                text(&b.source),
                ns(b.first_seen_ns),
                ns(b.last_seen_ns),
            ]
        }),
        "",
    )?;
    // The shared table: atomic upserts in key order (no lost update, and no
    // deadlock between two sensors that saw the same hosts).
    insert_rows(
        tx,
        "hosts (host_key, name, mac, first_seen, last_seen)",
        hosts.iter().map(|h| {
            vec![
                text(&h.host_key),
                opt(&h.name),
                opt(&h.mac),
                ns(h.first_seen_ns),
                ns(h.last_seen_ns),
            ]
        }),
        " ON CONFLICT (host_key) DO UPDATE SET
            name = CASE WHEN excluded.last_seen >= hosts.last_seen
                        THEN COALESCE(excluded.name, hosts.name)
                        ELSE COALESCE(hosts.name, excluded.name) END,
            mac = CASE WHEN excluded.last_seen >= hosts.last_seen
                       THEN COALESCE(excluded.mac, hosts.mac)
                       ELSE COALESCE(hosts.mac, excluded.mac) END,
            first_seen = {MIN}(hosts.first_seen, excluded.first_seen),
            last_seen = {MAX}(hosts.last_seen, excluded.last_seen)",
    )?;
    Ok(())
}

/// Rows inserted per statement: one round trip per 256 rows instead of per
/// row (PostgreSQL allows 65 535 parameters, SQLite 32 766; 15 columns × 256
/// fits both).
const ROWS_PER_STATEMENT: usize = 256;

/// `INSERT INTO {target} VALUES (…), (…) {suffix}` over `rows`, in chunks.
fn insert_rows(
    tx: &mut dyn Tx,
    target: &str,
    rows: impl Iterator<Item = Vec<Value>>,
    suffix: &str,
) -> Result<(), DbError> {
    let mut chunk: Vec<Vec<Value>> = Vec::with_capacity(ROWS_PER_STATEMENT);
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        chunk.clear();
        chunk.extend(rows.by_ref().take(ROWS_PER_STATEMENT));
        let width = chunk.first().map_or(0, Vec::len);
        let mut sql = format!("INSERT INTO {target} VALUES ");
        let mut n = 0usize;
        for (i, _) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for c in 0..width {
                n += 1;
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push('?');
                sql.push_str(&n.to_string());
            }
            sql.push(')');
        }
        sql.push_str(suffix);
        let params: Vec<Value> = chunk.iter().flatten().cloned().collect();
        tx.exec(&sql, &params)?;
    }
    Ok(())
}

fn read_snapshot(tx: &mut dyn Tx) -> Result<Snapshot, DbError> {
    let runs = tx
        .query(
            "SELECT run_id, sensor_id, period_start, period_end, source, catalog_version,
                    host_count, finding_count, identity_count, home_country, policy
             FROM runs ORDER BY period_start, run_id",
            &[],
        )?
        .into_iter()
        .map(|r| RunSummary {
            run_id: col(&r, 0).text(),
            sensor_id: col(&r, 1).text(),
            period_start_ns: u(col(&r, 2)),
            period_end_ns: u(col(&r, 3)),
            source: col(&r, 4).text(),
            catalog_version: col(&r, 5).text(),
            host_count: u(col(&r, 6)),
            finding_count: u(col(&r, 7)),
            identity_count: u(col(&r, 8)),
            home_country: col(&r, 9).opt_text(),
            policy: col(&r, 10).opt_text(),
        })
        .collect();
    let hosts = tx
        .query(
            "SELECT host_key, name, mac, first_seen, last_seen FROM hosts ORDER BY host_key",
            &[],
        )?
        .into_iter()
        .map(|r| HostSummary {
            host_key: col(&r, 0).text(),
            name: col(&r, 1).opt_text(),
            mac: col(&r, 2).opt_text(),
            first_seen_ns: u(col(&r, 3)),
            last_seen_ns: u(col(&r, 4)),
        })
        .collect();
    let sightings = tx
        .query(
            "SELECT run_id, host_key, name, mac, address, first_seen, last_seen, flows, bytes
             FROM host_sightings ORDER BY run_id, host_key",
            &[],
        )?
        .into_iter()
        .map(|r| {
            (
                col(&r, 0).text(),
                HostSighting {
                    host_key: col(&r, 1).text(),
                    name: col(&r, 2).opt_text(),
                    mac: col(&r, 3).opt_text(),
                    address: col(&r, 4).text(),
                    first_seen_ns: u(col(&r, 5)),
                    last_seen_ns: u(col(&r, 6)),
                    flows: u(col(&r, 7)),
                    bytes: u(col(&r, 8)),
                },
            )
        })
        .collect();
    let findings = tx
        .query(
            "SELECT run_id, host_key, vendor, product, category, foreign_vendor, first_seen,
                    last_seen, flows, bytes_toserver, bytes_toclient, countries, evidence,
                    severity, data_abroad
             FROM findings ORDER BY run_id, host_key, vendor, product",
            &[],
        )?
        .into_iter()
        .map(|r| {
            (
                col(&r, 0).text(),
                FindingRecord {
                    host_key: col(&r, 1).text(),
                    vendor: col(&r, 2).text(),
                    product: col(&r, 3).text(),
                    category: col(&r, 4).opt_text(),
                    foreign: col(&r, 5).int() != 0,
                    first_seen_ns: u(col(&r, 6)),
                    last_seen_ns: u(col(&r, 7)),
                    flows: u(col(&r, 8)),
                    bytes_toserver: u(col(&r, 9)),
                    bytes_toclient: u(col(&r, 10)),
                    countries: parse_list(col(&r, 11)),
                    evidence: parse_list(col(&r, 12)),
                    severity: col(&r, 13).opt_text(),
                    data_abroad: match col(&r, 14) {
                        Value::I(i) => Some(*i != 0),
                        _ => None,
                    },
                },
            )
        })
        .collect();
    let identities = tx
        .query(
            "SELECT run_id, host_key, address, source, first_seen, last_seen
             FROM identity_history ORDER BY run_id, host_key, address, source",
            &[],
        )?
        .into_iter()
        .map(|r| {
            (
                col(&r, 0).text(),
                IdentityBinding {
                    host_key: col(&r, 1).text(),
                    address: col(&r, 2).text(),
                    source: col(&r, 3).text(),
                    first_seen_ns: u(col(&r, 4)),
                    last_seen_ns: u(col(&r, 5)),
                },
            )
        })
        .collect();
    Ok(Snapshot {
        runs,
        hosts,
        sightings,
        findings,
        identities,
    })
}

const NULL: Value = Value::Null;

fn col(row: &[Value], i: usize) -> &Value {
    row.get(i).unwrap_or(&NULL)
}

fn check(tx: &mut dyn Tx) -> Result<Vec<String>, DbError> {
    let mut problems = Vec::new();
    for (table, counted) in [
        ("host_sightings", "host_count"),
        ("findings", "finding_count"),
        ("identity_history", "identity_count"),
    ] {
        let rows = tx.query(
            &format!(
                "SELECT r.run_id, r.{counted}, (SELECT COUNT(*) FROM {table} t WHERE t.run_id = r.run_id)
                 FROM runs r ORDER BY r.run_id"
            ),
            &[],
        )?;
        for r in rows {
            let (want, have) = (col(&r, 1).int(), col(&r, 2).int());
            if want != have {
                problems.push(format!(
                    "run {}: {want} {table} rows written, {have} present",
                    col(&r, 0).text()
                ));
            }
        }
        let orphans = tx.query(
            &format!("SELECT COUNT(*) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = t.run_id)"),
            &[],
        )?;
        let n = orphans.first().map_or(0, |r| col(r, 0).int());
        if n > 0 {
            problems.push(format!("{n} {table} rows without their run"));
        }
    }
    let missing = tx.query(
        "SELECT COUNT(*) FROM host_sightings s WHERE NOT EXISTS (SELECT 1 FROM hosts h WHERE h.host_key = s.host_key)",
        &[],
    )?;
    let n = missing.first().map_or(0, |r| col(r, 0).int());
    if n > 0 {
        problems.push(format!("{n} host sightings without their host"));
    }
    Ok(problems)
}
