//! [`TestSqlite`]: a SQLite database file in a temporary directory of its own.

use std::path::{Path, PathBuf};

/// A temporary directory and the URL of a SQLite database file inside it. The file does not
/// exist until something opens the URL (it carries `mode=rwc`); the directory and everything in
/// it (including `-wal` and `-shm` files) are removed on drop.
pub struct TestSqlite {
    dir: tempfile::TempDir,
    path: PathBuf,
    url: String,
}

impl TestSqlite {
    /// Makes the directory; panics if the system temp directory is not writable.
    #[allow(clippy::new_without_default)] // a fresh resource per call, not a default value
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("baton-test-sqlite-")
            .tempdir()
            .expect("cannot create a temporary directory for a test SQLite database");
        let path = dir.path().join("baton.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        Self { dir, path, url }
    }

    /// `sqlite://<dir>/baton.db?mode=rwc`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database file the URL names.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary directory holding the file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
