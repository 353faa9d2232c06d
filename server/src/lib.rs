//! `redact serve`: the job API of API.md over the `redact` launcher. State in SQLite
//! (`store`), files behind `storage`, work done by `redact` processes (`worker`), HTTP and
//! the OpenAPI document in `api`.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod net;
pub mod options;
pub mod sniff;
pub mod storage;
pub mod store;
pub mod webhooks;
pub mod worker;

use std::sync::Arc;

use config::Settings;
use storage::{LocalStorage, Storage};

/// What every handler and worker shares.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: store::Db,
    pub keys: Arc<auth::Keys>,
    /// The server's secret key (JWT signing; webhook secrets are derived from it).
    pub key: Arc<Vec<u8>>,
    /// Wakes the webhook sender when an event is recorded.
    pub wake_webhooks: Arc<tokio::sync::Notify>,
    pub storage: Arc<dyn Storage>,
    /// Wakes idle workers when a job is queued.
    pub wake: Arc<tokio::sync::Notify>,
    /// Bounds `POST /v1/redact` runs at once.
    pub sync_slots: Arc<tokio::sync::Semaphore>,
    /// This server process: workers are named `NODE/N` in the store.
    pub node: String,
}

impl AppState {
    /// Opens the data folder (database, signing key, job files).
    pub async fn open(settings: Settings) -> Result<AppState, String> {
        let data = &settings.data;
        std::fs::create_dir_all(data)
            .map_err(|e| format!("cannot create the data folder {}: {e}", data.display()))?;
        let db = store::open(&settings.database())
            .await
            .map_err(|e| format!("cannot open {}: {e}", settings.database().display()))?;
        let key = auth::load_or_make_key(data).map_err(|e| format!("signing key: {e}"))?;
        let storage = LocalStorage::new(data.join("jobs"))
            .map_err(|e| format!("cannot create {}: {e}", data.join("jobs").display()))?;
        let node = node_name(data).map_err(|e| format!("node name: {e}"))?;
        Ok(AppState {
            sync_slots: Arc::new(tokio::sync::Semaphore::new(settings.workers.max(1))),
            settings: Arc::new(settings),
            db,
            keys: Arc::new(auth::Keys::new(&key)),
            key: Arc::new(key),
            wake_webhooks: Arc::new(tokio::sync::Notify::new()),
            storage: Arc::new(storage),
            wake: Arc::new(tokio::sync::Notify::new()),
            node,
        })
    }
}

/// A name for this machine's server, kept in the data folder (`node`): jobs it was running
/// when it died are released when it starts again.
fn node_name(data: &std::path::Path) -> std::io::Result<String> {
    let path = data.join("node");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => {
            let name = auth::random_id("node");
            std::fs::write(&path, &name)?;
            Ok(name)
        }
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn serve(settings: Settings) -> Result<(), String> {
    let listen = settings.listen;
    let state = AppState::open(settings).await?;
    let released = store::release_node(&state.db, &state.node)
        .await
        .map_err(|e| format!("database: {e}"))?;
    if released > 0 {
        eprintln!("{released} job(s) were running when the server stopped: queued again");
    }
    worker::start(&state);
    webhooks::start(&state);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    eprintln!(
        "redact serve: listening on http://{} ({} worker(s), data in {})",
        listener.local_addr().map_err(|e| e.to_string())?,
        state.settings.workers,
        state.settings.data.display()
    );
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            eprintln!("redact serve: stopping");
        })
        .await
        .map_err(|e| e.to_string())
}
