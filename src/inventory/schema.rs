//! The inventory schema: one list of migrations for SQLite and PostgreSQL.
//!
//! Every migration is plain SQL both databases accept (TEXT, BIGINT,
//! composite primary keys, `ON DELETE CASCADE`). Times are nanoseconds since
//! the Unix epoch (UTC) in BIGINT; lists are JSON arrays in TEXT. A store
//! records the migrations it has applied in `schema_migrations`; opening a
//! store applies the missing ones in one transaction (under an advisory lock
//! on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), so sensors starting together
//! migrate once.

/// (version, description, statements). Append only: never edit a released one.
pub const MIGRATIONS: &[(i64, &str, &[&str])] = &[
    (
        1,
        "runs, host sightings, findings, identity history, hosts",
        &[
            "CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            sensor_id TEXT NOT NULL,
            period_start BIGINT NOT NULL,
            period_end BIGINT NOT NULL,
            source TEXT NOT NULL,
            catalog_version TEXT NOT NULL,
            host_count BIGINT NOT NULL,
            finding_count BIGINT NOT NULL,
            identity_count BIGINT NOT NULL
        )",
            "CREATE INDEX runs_period ON runs (period_start)",
            "CREATE TABLE host_sightings (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            host_key TEXT NOT NULL,
            name TEXT,
            mac TEXT,
            address TEXT NOT NULL,
            first_seen BIGINT NOT NULL,
            last_seen BIGINT NOT NULL,
            flows BIGINT NOT NULL,
            bytes BIGINT NOT NULL,
            PRIMARY KEY (run_id, host_key)
        )",
            "CREATE TABLE findings (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            host_key TEXT NOT NULL,
            vendor TEXT NOT NULL,
            product TEXT NOT NULL,
            category TEXT,
            foreign_vendor BIGINT NOT NULL,
            first_seen BIGINT NOT NULL,
            last_seen BIGINT NOT NULL,
            flows BIGINT NOT NULL,
            bytes_toserver BIGINT NOT NULL,
            bytes_toclient BIGINT NOT NULL,
            countries TEXT NOT NULL,
            evidence TEXT NOT NULL,
            PRIMARY KEY (run_id, host_key, vendor, product)
        )",
            "CREATE INDEX findings_host ON findings (host_key)",
            "CREATE TABLE identity_history (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            host_key TEXT NOT NULL,
            address TEXT NOT NULL,
            source TEXT NOT NULL,
            first_seen BIGINT NOT NULL,
            last_seen BIGINT NOT NULL,
            PRIMARY KEY (run_id, host_key, address, source)
        )",
            "CREATE INDEX identity_address ON identity_history (address, first_seen)",
            "CREATE TABLE hosts (
            host_key TEXT PRIMARY KEY,
            name TEXT,
            mac TEXT,
            first_seen BIGINT NOT NULL,
            last_seen BIGINT NOT NULL
        )",
        ],
    ),
    (
        2,
        "the run's home country and policy, each finding's severity and data-abroad verdict",
        &[
            "ALTER TABLE runs ADD COLUMN home_country TEXT",
            "ALTER TABLE runs ADD COLUMN policy TEXT",
            "ALTER TABLE findings ADD COLUMN severity TEXT",
            "ALTER TABLE findings ADD COLUMN data_abroad BIGINT",
        ],
    ),
];

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

pub(crate) const CREATE_MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL
)";
