//! The job store: every SQL statement of the server, on SQLite (WAL) by default. The SQL
//! keeps to what PostgreSQL also runs (no SQLite-only functions; `UPDATE ... RETURNING`;
//! the job claim is one statement), so that a later store can move there.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, SqlitePool};

pub type Db = SqlitePool;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS clients (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES clients(id),
        family TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT,
        revoked INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens(family)",
    "CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES clients(id),
        status TEXT NOT NULL,
        phase TEXT NOT NULL,
        progress INTEGER NOT NULL DEFAULT 0,
        options TEXT NOT NULL,
        render TEXT,
        input TEXT NOT NULL,
        kind TEXT NOT NULL,
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_until BIGINT,
        worker TEXT,
        has_detections INTEGER NOT NULL DEFAULT 0,
        has_result INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, created_at)",
    "CREATE TABLE IF NOT EXISTS webhook_deliveries (
        event_id TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        job_id TEXT NOT NULL,
        client_id TEXT NOT NULL,
        url TEXT NOT NULL,
        body TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at BIGINT NOT NULL,
        delivered_at BIGINT,
        last_status INTEGER,
        last_error TEXT,
        created_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries(delivered_at, next_at)",
    "CREATE TABLE IF NOT EXISTS policies (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES clients(id),
        name TEXT NOT NULL,
        options TEXT NOT NULL,
        created_at BIGINT NOT NULL)",
];

/// Opens (creating if needed) the database in WAL mode and makes the tables.
pub async fn open(path: &Path) -> Result<Db, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let db = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    for statement in SCHEMA {
        sqlx::query(*statement).execute(&db).await?;
    }
    Ok(db)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// ---- clients and refresh tokens ----

pub async fn add_client(db: &Db, id: &str, name: &str, secret_hash: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO clients (id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(name)
        .bind(secret_hash)
        .bind(now())
        .execute(db)
        .await
        .map(|_| ())
}

pub async fn client_secret_hash(db: &Db, id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT secret_hash FROM clients WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn add_refresh_token(
    db: &Db,
    token_hash: &str,
    client_id: &str,
    family: &str,
    expires_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, client_id, family, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(client_id)
    .bind(family)
    .bind(expires_at)
    .execute(db)
    .await
    .map(|_| ())
}

/// What presenting a refresh token gave.
#[derive(Debug, PartialEq)]
pub enum Refresh {
    /// Valid and now used up: (client, family) for the new pair.
    Rotated(String, String),
    /// Used before: the family is revoked (a stolen token was replayed, or the client
    /// was), every token of it stops working.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

pub async fn use_refresh_token(db: &Db, token_hash: &str) -> sqlx::Result<Refresh> {
    let t = now();
    let rotated: Option<(String, String)> = sqlx::query_as(
        "UPDATE refresh_tokens SET used_at = $1
         WHERE token_hash = $2 AND used_at IS NULL AND revoked = 0 AND expires_at > $1
         RETURNING client_id, family",
    )
    .bind(t)
    .bind(token_hash)
    .fetch_optional(db)
    .await?;
    if let Some((client, family)) = rotated {
        return Ok(Refresh::Rotated(client, family));
    }
    let used: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT family, used_at FROM refresh_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(db)
            .await?;
    match used {
        Some((family, Some(_))) => {
            sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE family = $1")
                .bind(family)
                .execute(db)
                .await?;
            Ok(Refresh::Reused)
        }
        _ => Ok(Refresh::Invalid),
    }
}

// ---- jobs ----

#[derive(Debug, Clone, FromRow)]
pub struct JobRow {
    pub id: String,
    pub client_id: String,
    pub status: String,
    /// What the worker does next: `detect`, `render`, or `run` (detect and mask in one
    /// pass, for ZIP inputs).
    pub phase: String,
    pub progress: i64,
    pub options: String,
    pub render: Option<String>,
    /// The stored input's file name in the job's folder.
    pub input: String,
    pub kind: String,
    pub error: Option<String>,
    pub attempts: i64,
    pub has_detections: bool,
    pub has_result: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The columns of `JobRow`, as a literal for `concat!` (the SQL stays static).
macro_rules! job_columns {
    () => {
        "id, client_id, status, phase, progress, options, render, input, kind, error, attempts, has_detections, has_result, created_at, updated_at"
    };
}

pub struct NewJob<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub phase: &'a str,
    pub options: &'a str,
    pub input: &'a str,
    pub kind: &'a str,
}

/// Inserts a queued job unless `limit` jobs are waiting or running already (one statement,
/// so that concurrent submissions cannot pass the limit together). False when full.
pub async fn insert_job(db: &Db, job: &NewJob<'_>, limit: u64) -> sqlx::Result<bool> {
    let t = now();
    let done = sqlx::query(
        "INSERT INTO jobs (id, client_id, status, phase, options, input, kind, created_at, updated_at)
         SELECT $1, $2, 'queued', $3, $4, $5, $6, $7, $7
         WHERE (SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'detecting', 'rendering')) < $8",
    )
    .bind(job.id)
    .bind(job.client_id)
    .bind(job.phase)
    .bind(job.options)
    .bind(job.input)
    .bind(job.kind)
    .bind(t)
    .bind(limit as i64)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn active_jobs(db: &Db) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'detecting', 'rendering')",
    )
    .fetch_one(db)
    .await
}

/// The job if it belongs to `client` (another client's job is "not found").
pub async fn job(db: &Db, id: &str, client: &str) -> sqlx::Result<Option<JobRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        job_columns!(),
        " FROM jobs WHERE id = $1 AND client_id = $2"
    ))
    .bind(id)
    .bind(client)
    .fetch_optional(db)
    .await
}

/// Claims the oldest queued job (or one whose worker's lease lapsed and that has tries
/// left) for `worker`: one statement, safe with any number of workers and machines.
pub async fn claim(
    db: &Db,
    worker: &str,
    lease: Duration,
    max_attempts: i64,
) -> sqlx::Result<Option<JobRow>> {
    let t = now();
    sqlx::query_as(concat!(
        "UPDATE jobs SET
            status = CASE phase WHEN 'render' THEN 'rendering' ELSE 'detecting' END,
            attempts = attempts + 1, lease_until = $1, worker = $2, updated_at = $3
         WHERE id = (
            SELECT id FROM jobs
            WHERE (status = 'queued' OR (status IN ('detecting', 'rendering') AND lease_until < $3))
              AND attempts < $4
            ORDER BY created_at, id LIMIT 1)
         RETURNING ",
        job_columns!()
    ))
    .bind(t + lease.as_secs() as i64)
    .bind(worker)
    .bind(t)
    .bind(max_attempts)
    .fetch_optional(db)
    .await
}

/// Jobs whose lease lapsed with no tries left end `failed`.
pub async fn fail_exhausted(db: &Db, max_attempts: i64) -> sqlx::Result<Vec<String>> {
    let t = now();
    sqlx::query_scalar(
        "UPDATE jobs SET status = 'failed', updated_at = $1, lease_until = NULL,
            error = 'the job stopped its worker ' || CAST(attempts AS TEXT) || ' times (a crash or a kill); it is not tried again'
         WHERE status IN ('detecting', 'rendering') AND lease_until < $1 AND attempts >= $2
         RETURNING id",
    )
    .bind(t)
    .bind(max_attempts)
    .fetch_all(db)
    .await
}

/// On start: this node's running jobs died with its previous process; their leases lapse
/// now so they are taken up again (with their tries counted).
pub async fn release_node(db: &Db, node: &str) -> sqlx::Result<u64> {
    sqlx::query(
        "UPDATE jobs SET lease_until = 0
         WHERE status IN ('detecting', 'rendering') AND worker LIKE $1",
    )
    .bind(format!("{node}/%"))
    .execute(db)
    .await
    .map(|r| r.rows_affected())
}

/// A running job's progress and renewed lease. `None`: the job is no longer this worker's
/// to run (cancelled, deleted, or taken over): stop it.
pub async fn heartbeat(
    db: &Db,
    id: &str,
    worker: &str,
    progress: i64,
    lease: Duration,
) -> sqlx::Result<Option<String>> {
    let t = now();
    sqlx::query_scalar(
        "UPDATE jobs SET progress = $1, lease_until = $2, updated_at = $3
         WHERE id = $4 AND worker = $5 AND status IN ('detecting', 'rendering')
         RETURNING status",
    )
    .bind(progress)
    .bind(t + lease.as_secs() as i64)
    .bind(t)
    .bind(id)
    .bind(worker)
    .fetch_optional(db)
    .await
}

/// How a phase ended.
pub struct PhaseEnd<'a> {
    pub status: &'a str,
    pub progress: i64,
    pub error: Option<&'a str>,
    /// The next phase (`render` after a detect phase without review).
    pub phase: Option<&'a str>,
    pub has_detections: bool,
    pub has_result: bool,
}

/// Records the end of a phase if the job is still this worker's; false otherwise.
pub async fn end_phase(db: &Db, id: &str, worker: &str, end: &PhaseEnd<'_>) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = $1, progress = $2, error = $3, phase = COALESCE($4, phase),
            has_detections = $5, has_result = $6, lease_until = NULL, worker = NULL,
            attempts = CASE WHEN $1 = 'queued' THEN 0 ELSE attempts END, updated_at = $7
         WHERE id = $8 AND worker = $9 AND status IN ('detecting', 'rendering')",
    )
    .bind(end.status)
    .bind(end.progress)
    .bind(end.error)
    .bind(end.phase)
    .bind(end.has_detections)
    .bind(end.has_result)
    .bind(now())
    .bind(id)
    .bind(worker)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Queues a render of a job that has its detections and is not running. False if the job
/// is in another state.
pub async fn queue_render(db: &Db, id: &str, client: &str, render: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'queued', phase = 'render', render = $1, progress = 50,
            error = NULL, attempts = 0, updated_at = $2
         WHERE id = $3 AND client_id = $4 AND has_detections = 1
           AND status IN ('detected', 'succeeded', 'failed')",
    )
    .bind(render)
    .bind(now())
    .bind(id)
    .bind(client)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Cancels a job (any state): it stops running and keeps no files. False: no such job.
pub async fn cancel(db: &Db, id: &str, client: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = CASE WHEN status IN ('succeeded', 'failed') THEN status ELSE 'cancelled' END,
            has_detections = 0, has_result = 0, lease_until = NULL, worker = NULL,
            error = CASE WHEN status IN ('succeeded', 'failed') THEN error ELSE 'cancelled by the client' END,
            updated_at = $1
         WHERE id = $2 AND client_id = $3",
    )
    .bind(now())
    .bind(id)
    .bind(client)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the rows of jobs not running and unchanged since `before`; returns their ids
/// (their files go too).
pub async fn sweep(db: &Db, before: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query("DELETE FROM webhook_deliveries WHERE created_at < $1")
        .bind(before)
        .execute(db)
        .await?;
    sqlx::query_scalar(
        "DELETE FROM jobs WHERE updated_at < $1
           AND status IN ('detected', 'succeeded', 'failed', 'cancelled')
         RETURNING id",
    )
    .bind(before)
    .fetch_all(db)
    .await
}

// ---- policies ----

#[derive(Debug, Clone, FromRow)]
pub struct PolicyRow {
    pub id: String,
    pub name: String,
    pub options: String,
    pub created_at: i64,
}

pub async fn add_policy(
    db: &Db,
    id: &str,
    client: &str,
    name: &str,
    options: &str,
) -> sqlx::Result<PolicyRow> {
    sqlx::query_as(
        "INSERT INTO policies (id, client_id, name, options, created_at) VALUES ($1, $2, $3, $4, $5)
         RETURNING id, name, options, created_at",
    )
    .bind(id)
    .bind(client)
    .bind(name)
    .bind(options)
    .bind(now())
    .fetch_one(db)
    .await
}

pub async fn policies(db: &Db, client: &str) -> sqlx::Result<Vec<PolicyRow>> {
    sqlx::query_as(
        "SELECT id, name, options, created_at FROM policies WHERE client_id = $1 ORDER BY created_at, id",
    )
    .bind(client)
    .fetch_all(db)
    .await
}

pub async fn policy(db: &Db, id: &str, client: &str) -> sqlx::Result<Option<PolicyRow>> {
    sqlx::query_as(
        "SELECT id, name, options, created_at FROM policies WHERE id = $1 AND client_id = $2",
    )
    .bind(id)
    .bind(client)
    .fetch_optional(db)
    .await
}

pub async fn delete_policy(db: &Db, id: &str, client: &str) -> sqlx::Result<bool> {
    sqlx::query("DELETE FROM policies WHERE id = $1 AND client_id = $2")
        .bind(id)
        .bind(client)
        .execute(db)
        .await
        .map(|r| r.rows_affected() == 1)
}

/// A job whose `redact` died by a signal goes back to the queue with its tries counted
/// (`claim` skips it once they are used up, `fail_exhausted` ends it).
pub async fn requeue(db: &Db, id: &str, worker: &str, max_attempts: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET lease_until = NULL, worker = NULL, updated_at = $1,
            status = CASE WHEN attempts >= $4 THEN 'failed' ELSE 'queued' END,
            error = CASE WHEN attempts >= $4
                THEN 'the redaction crashed ' || CAST(attempts AS TEXT) || ' times; it is not tried again'
                ELSE NULL END
         WHERE id = $2 AND worker = $3 AND status IN ('detecting', 'rendering')",
    )
    .bind(now())
    .bind(id)
    .bind(worker)
    .bind(max_attempts)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A job by id, whoever owns it (for the workers).
pub async fn job_any(db: &Db, id: &str) -> sqlx::Result<Option<JobRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        job_columns!(),
        " FROM jobs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

// ---- webhook deliveries ----

#[derive(Debug, Clone, FromRow)]
pub struct Delivery {
    pub event_id: String,
    pub job_id: String,
    pub client_id: String,
    pub url: String,
    pub body: String,
    pub attempts: i64,
}

pub async fn add_delivery(
    db: &Db,
    event_id: &str,
    job_id: &str,
    client_id: &str,
    url: &str,
    body: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (event_id, seq, job_id, client_id, url, body, next_at, created_at)
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $6 FROM webhook_deliveries",
    )
    .bind(event_id)
    .bind(job_id)
    .bind(client_id)
    .bind(url)
    .bind(body)
    .bind(now())
    .execute(db)
    .await
    .map(|_| ())
}

/// Events due for a (first or further) try, in order: a job's event waits until its
/// earlier ones are delivered or given up, so that a receiver sees them in order.
pub async fn due_deliveries(db: &Db, max_tries: i64) -> sqlx::Result<Vec<Delivery>> {
    sqlx::query_as(
        "SELECT d.event_id, d.job_id, d.client_id, d.url, d.body, d.attempts
         FROM webhook_deliveries d
         WHERE d.delivered_at IS NULL AND d.attempts < $1 AND d.next_at <= $2
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                WHERE e.job_id = d.job_id AND e.seq < d.seq
                  AND e.delivered_at IS NULL AND e.attempts < $1)
         ORDER BY d.seq LIMIT 20",
    )
    .bind(max_tries)
    .bind(now())
    .fetch_all(db)
    .await
}

pub async fn record_delivery(
    db: &Db,
    event_id: &str,
    delivered: bool,
    status: Option<i64>,
    error: Option<&str>,
    next_at: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = $1, last_error = $2,
            delivered_at = CASE WHEN $3 THEN $4 ELSE NULL END, next_at = $5
         WHERE event_id = $6",
    )
    .bind(status)
    .bind(error)
    .bind(delivered)
    .bind(now())
    .bind(next_at)
    .bind(event_id)
    .execute(db)
    .await
    .map(|_| ())
}
