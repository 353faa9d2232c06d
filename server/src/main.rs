//! `redact-serve` (run as `redact serve`): the job API over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use redact_server::config::{Settings, default_workers};

#[derive(Parser)]
#[command(
    name = "redact serve",
    bin_name = "redact serve",
    version,
    about = "The job API: token auth, uploads, asynchronous jobs with progress, review, download",
    long_about = "The job API (API.md): clients get tokens, submit images, videos and ZIPs, \
                  poll their jobs, review the detected tracks and download the redacted files. \
                  Jobs run the same pipeline as `redact run`. State lives in DATA/redact.sqlite \
                  (SQLite, WAL), files in DATA/jobs. The OpenAPI document is served at \
                  /v1/openapi.json.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Manage API clients.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Create a client; prints its client_id and client_secret once (only a hash is kept).
    Add {
        /// A name to recognise the client by.
        name: String,
        /// The server's data folder.
        #[arg(long, default_value = "redact-data")]
        data: PathBuf,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data folder: database, signing key, job files.
    #[arg(long, default_value = "redact-data")]
    data: PathBuf,
    /// Largest upload for a job, in MiB (larger: 413).
    #[arg(long, default_value_t = 2048)]
    max_upload_mb: u64,
    /// Largest image for POST /v1/redact, in MiB.
    #[arg(long, default_value_t = 20)]
    max_image_mb: u64,
    /// Jobs waiting or running at once; more are refused with 429 and Retry-After.
    #[arg(long, default_value_t = 100)]
    queue_limit: u64,
    /// Jobs run at the same time (default: one per 4 cores, at least 1).
    #[arg(long)]
    workers: Option<usize>,
    /// Hours after their last change that finished jobs and their files are deleted.
    #[arg(long, default_value_t = 24.0)]
    retention_hours: f64,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, default_value_t = 900)]
    access_token_seconds: u64,
    /// Lifetime of refresh tokens, in days.
    #[arg(long, default_value_t = 30)]
    refresh_token_days: u64,
    /// Let webhooks and https:// inputs reach private and local addresses (off: only
    /// public addresses, so that jobs cannot probe the server's network).
    #[arg(long)]
    allow_private_urls: bool,
    /// Allow `file://` inputs under this folder (off without it).
    #[arg(long)]
    file_root: Option<PathBuf>,
    /// The `redact` binary that runs the jobs (default: the one beside this server).
    #[arg(long)]
    redact: Option<PathBuf>,
    /// Run detection on this device (as `redact run --device`).
    #[arg(long, default_value = "auto", value_parser = ["auto", "cpu", "cuda"])]
    device: String,
    /// A job whose redaction crashes (or whose server dies) this many times ends failed.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i64).range(1..))]
    max_attempts: i64,
    /// Seconds a running job's lease lasts without renewal (it is renewed every 2 s).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(5..))]
    lease_seconds: u64,
}

impl ServeArgs {
    fn settings(&self) -> Result<Settings, String> {
        let redact = match &self.redact {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .map_err(|e| format!("cannot find this program: {e}"))?
                .with_file_name("redact"),
        };
        if !redact.is_file() {
            return Err(format!(
                "{}: no redact binary there; build it (./setup) or give --redact PATH",
                redact.display()
            ));
        }
        if self.retention_hours.is_nan() || self.retention_hours <= 0.0 {
            return Err("--retention-hours must be > 0".into());
        }
        let mut s = Settings::new(self.data.clone(), redact);
        s.listen = self.listen;
        s.max_upload = self.max_upload_mb << 20;
        s.max_sync_upload = self.max_image_mb << 20;
        s.queue_limit = self.queue_limit.max(1);
        s.workers = self.workers.unwrap_or_else(default_workers).max(1);
        s.retention = Duration::from_secs_f64(self.retention_hours * 3600.0);
        s.access_token_ttl = Duration::from_secs(self.access_token_seconds.max(1));
        s.refresh_token_ttl = Duration::from_secs(self.refresh_token_days.max(1) * 86400);
        s.file_root = self.file_root.clone();
        s.allow_private_urls = self.allow_private_urls;
        s.redact_args = vec!["--device".into(), self.device.clone()];
        s.max_attempts = self.max_attempts;
        s.lease = Duration::from_secs(self.lease_seconds);
        Ok(s)
    }
}

async fn add_client(name: &str, data: &std::path::Path) -> Result<(), String> {
    std::fs::create_dir_all(data)
        .map_err(|e| format!("cannot create the data folder {}: {e}", data.display()))?;
    let db = redact_server::store::open(&data.join("redact.sqlite"))
        .await
        .map_err(|e| format!("database: {e}"))?;
    let (id, secret) = redact_server::auth::add_client(&db, name)
        .await
        .map_err(|e| format!("database: {e}"))?;
    let key =
        redact_server::auth::load_or_make_key(data).map_err(|e| format!("signing key: {e}"))?;
    println!("client_id: {id}");
    println!("client_secret: {secret}");
    println!(
        "webhook_secret: {}",
        redact_server::webhooks::secret(&key, &id)
    );
    eprintln!(
        "(the client secret is shown only now: keep it; webhooks are signed with the webhook secret)"
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Some(Command::Clients {
                command: ClientsCommand::Add { name, data },
            }) => add_client(&name, &data).await,
            None => redact_server::serve(cli.serve.settings()?).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
