//! Which files a connection works on, to notice when they were replaced under it.
//!
//! Another SQLite library in the process (the host app's `sqlite3` module)
//! shares none of our library's lock bookkeeping, and POSIX locks of one
//! process never conflict. So when the app closes its own connection to the
//! ledger, its library believes it is the last user: it checkpoints the WAL
//! into the database, unlinks `<ledger>-wal` and `<ledger>-shm`, and closing
//! its descriptors drops the locks our connections held
//! (sqlite.org/howtocorrupt.html, 2.2 and 2.3). A connection of ours that
//! lives on keeps writing into the unlinked WAL, which no other process sees.
//!
//! SQLite cannot tell; the file system can. A connection records the
//! (device, inode) of the database, its WAL and its shared-memory file once
//! open, and compares them with what the paths name now. Any difference
//! means the connection works on files nobody else will ever read.

use std::path::{Path, PathBuf};

/// One file's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

/// The identities of a ledger's files; `None` where a file does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerFiles {
    pub db: Option<FileId>,
    pub wal: Option<FileId>,
    pub shm: Option<FileId>,
}

impl LedgerFiles {
    /// What the ledger's paths name right now.
    pub fn on_disk(db: &Path) -> LedgerFiles {
        LedgerFiles { db: id_of(db), wal: id_of(&sibling(db, "-wal")), shm: id_of(&sibling(db, "-shm")) }
    }
}

/// `<db>-wal`, `<db>-shm`: SQLite's names for a database's companions.
pub fn sibling(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(unix)]
fn id_of(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| FileId { dev: m.dev(), ino: m.ino() })
}

/// Elsewhere there are no POSIX locks to lose; every file compares equal.
#[cfg(not(unix))]
fn id_of(path: &Path) -> Option<FileId> {
    path.exists().then_some(FileId { dev: 0, ino: 0 })
}
