//! Where a job's files live, behind one small interface: local folders by default. A
//! remote store (S3-compatible) would fetch into and save from the same local folder around
//! each phase, since `redact` reads and writes local files.

use std::path::PathBuf;

pub trait Storage: Send + Sync + 'static {
    /// The job's folder: `input.EXT`, `detections.json`, `result.EXT`, `boxes.json`.
    fn dir(&self, job: &str) -> PathBuf;
    /// Deletes every file of a job (nothing to delete is fine).
    fn delete(&self, job: &str) -> std::io::Result<()>;
}

pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    pub fn new(root: PathBuf) -> std::io::Result<LocalStorage> {
        std::fs::create_dir_all(&root)?;
        Ok(LocalStorage { root })
    }
}

impl Storage for LocalStorage {
    fn dir(&self, job: &str) -> PathBuf {
        // Job ids are made here (`job_` + hex); anything else cannot name a folder.
        debug_assert!(job.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        self.root.join(job)
    }

    fn delete(&self, job: &str) -> std::io::Result<()> {
        match std::fs::remove_dir_all(self.dir(job)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

/// File names inside a job's folder.
pub const DETECTIONS: &str = "detections.json";
pub const BOXES: &str = "boxes.json";

pub fn input_name(extension: &str) -> String {
    format!("input.{extension}")
}

pub fn result_name(extension: &str) -> String {
    format!("result.{extension}")
}
