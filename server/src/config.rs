//! The server's settings (from `redact serve` options; see `main.rs`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Database, signing key and job files live here.
    pub data: PathBuf,
    /// Largest upload for `POST /v1/jobs`, bytes.
    pub max_upload: u64,
    /// Largest image for `POST /v1/redact`, bytes.
    pub max_sync_upload: u64,
    /// Jobs waiting or running at once; more get 429.
    pub queue_limit: u64,
    /// Jobs run at the same time.
    pub workers: usize,
    /// Finished jobs (and their files) are deleted this long after their last change.
    pub retention: Duration,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// `file://` inputs must lie under this folder; none: `file://` is refused.
    pub file_root: Option<PathBuf>,
    /// Webhooks and `https://` inputs may reach private and local addresses (tests, closed
    /// networks); off by default.
    pub allow_private_urls: bool,
    /// The `redact` binary that runs the pipeline.
    pub redact: PathBuf,
    /// Extra arguments for every `redact detect` / `redact run` (e.g. `--device cpu`).
    pub redact_args: Vec<String>,
    /// A job whose worker dies this many times ends `failed`.
    pub max_attempts: i64,
    /// A running job's lease; renewed while it runs, taken over when it lapses.
    pub lease: Duration,
}

impl Settings {
    /// Defaults for `data`, used by tests and as the CLI's defaults.
    pub fn new(data: PathBuf, redact: PathBuf) -> Settings {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data,
            max_upload: 2 << 30,
            max_sync_upload: 20 << 20,
            queue_limit: 100,
            workers: default_workers(),
            retention: Duration::from_secs(24 * 3600),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            file_root: None,
            allow_private_urls: false,
            redact,
            redact_args: Vec::new(),
            max_attempts: 3,
            lease: Duration::from_secs(60),
        }
    }

    pub fn database(&self) -> PathBuf {
        self.data.join("redact.sqlite")
    }
}

/// One job per 4 cores (each `redact` uses up to 4 detection threads), at least one.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| (n.get() / 4).max(1))
        .unwrap_or(1)
}
