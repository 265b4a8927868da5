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
//!
//! The WAL's identity is read from the descriptor SQLite holds, not from its
//! path: the app may delete and recreate the WAL while the connection opens,
//! and a deleted WAL that nobody holds open frees its inode number for the
//! next one, so a path looked at before or after the open can name another
//! file with the same identity.

use std::path::{Path, PathBuf};

use rusqlite::{ffi, Connection};

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

/// Read locks that make another SQLite library in the process see costline
/// as a user of the ledger, held while costline has connections to it.
///
/// SQLite's POSIX locks are the process's: the other library overlooks ours
/// and, as its last connection closes, takes the "exclusive" lock it always
/// gets, checkpoints and deletes the WAL under us; as its first connection
/// opens, takes the "dead man switch" of the shared-memory file and rebuilds
/// the index we are using. Open-file-description locks (Linux) belong to a
/// descriptor, not the process: they conflict with that library's locks
/// even in the same process, and its `close()` does not drop them. So a read
/// lock on the database's SHARED range keeps its close from checkpointing
/// and deleting, and one on the DMS byte keeps its open from rebuilding.
/// (Our own library takes neither lock while a connection of ours is open.)
pub struct Sentinel {
    _db: std::fs::File,
    _shm: Option<std::fs::File>,
}

/// SQLite's lock bytes (os_unix.c): the database's SHARED range and the
/// shared-memory file's dead man switch.
const SHARED_FIRST: i64 = 0x4000_0000 + 2;
const SHARED_SIZE: i64 = 510;
const SHM_DMS: i64 = (22 + 8) * 4 + 8;

impl Sentinel {
    /// Hold the locks for the ledger at `db` (its connections are open, in
    /// WAL mode). `None` where open-file-description locks do not exist.
    pub fn hold(db: &Path) -> Option<Sentinel> {
        let db_file = std::fs::File::open(db).ok()?;
        if !read_lock(&db_file, SHARED_FIRST, SHARED_SIZE) {
            return None;
        }
        let shm = std::fs::File::open(sibling(db, "-shm")).ok().filter(|f| read_lock(f, SHM_DMS, 1));
        Some(Sentinel { _db: db_file, _shm: shm })
    }
}

#[cfg(target_os = "linux")]
fn read_lock(file: &std::fs::File, start: i64, len: i64) -> bool {
    byte_range_lock(file, libc::F_OFD_SETLK, libc::F_RDLCK, start, len)
}

/// One non-blocking `fcntl` byte-range lock (`command`: `F_SETLK` for a
/// process-owned lock, `F_OFD_SETLK` for a descriptor-owned one); true when granted.
#[cfg(target_os = "linux")]
pub(crate) fn byte_range_lock(file: &std::fs::File, command: i32, kind: i32, start: i64, len: i64) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: a zeroed flock is a valid value; fcntl reads it and the
    // descriptor is open for the duration of the call.
    unsafe {
        let mut lock: libc::flock = std::mem::zeroed();
        lock.l_type = kind as libc::c_short;
        lock.l_whence = libc::SEEK_SET as libc::c_short;
        lock.l_start = start as libc::off_t;
        lock.l_len = len as libc::off_t;
        libc::fcntl(file.as_raw_fd(), command, &lock) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn read_lock(_file: &std::fs::File, _start: i64, _len: i64) -> bool {
    false
}

/// The identity of the WAL file `conn` has open, from its descriptor; `None`
/// when it has none open or does not use SQLite's `unix` VFS.
#[cfg(unix)]
pub fn open_wal(conn: &Connection) -> Option<FileId> {
    use std::ffi::{c_int, c_void, CStr};

    /// The head of SQLite's `unixFile` (os_unix.c), unchanged since 3.7: the
    /// descriptor follows the methods, VFS and inode pointers. Only read
    /// after checking that the file belongs to the `unix` VFS.
    #[repr(C)]
    struct UnixFileHead {
        methods: *const c_void,
        vfs: *const c_void,
        inode: *const c_void,
        fd: c_int,
    }

    // SAFETY: `conn.handle()` is a live connection for the duration of these
    // calls; the file controls only write the pointers passed to them; the
    // pointers read are checked for null, and the `unixFile` layout is read
    // only for a file whose VFS is `unix`, which allocates every file as one.
    unsafe {
        let db = conn.handle();
        let main = c"main".as_ptr();
        let mut vfs: *mut ffi::sqlite3_vfs = std::ptr::null_mut();
        let rc = ffi::sqlite3_file_control(
            db,
            main,
            ffi::SQLITE_FCNTL_VFS_POINTER,
            (&mut vfs as *mut _) as *mut c_void,
        );
        if rc != ffi::SQLITE_OK
            || vfs.is_null()
            || (*vfs).zName.is_null()
            || CStr::from_ptr((*vfs).zName) != c"unix"
        {
            return None;
        }
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        let rc = ffi::sqlite3_file_control(
            db,
            main,
            ffi::SQLITE_FCNTL_JOURNAL_POINTER,
            (&mut file as *mut _) as *mut c_void,
        );
        // A file that is not open has no methods.
        if rc != ffi::SQLITE_OK || file.is_null() || (*file).pMethods.is_null() {
            return None;
        }
        let fd = (*(file as *const UnixFileHead)).fd;
        if fd < 0 {
            return None;
        }
        let mut stat: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut stat) != 0 {
            return None;
        }
        #[allow(clippy::unnecessary_cast)] // dev_t and ino_t differ in width between platforms
        Some(FileId { dev: stat.st_dev as u64, ino: stat.st_ino as u64 })
    }
}

#[cfg(not(unix))]
pub fn open_wal(_conn: &Connection) -> Option<FileId> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::ledger::Ledger;

    #[test]
    fn the_open_wal_is_named_by_its_descriptor_not_by_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let mut ledger = Ledger::open(&path).unwrap();
        ledger.insert(&[], false).unwrap();
        let wal = sibling(&path, "-wal");
        let opened = open_wal(&ledger.conn).expect("a WAL is open");
        assert_eq!(Some(opened), id_of(&wal));
        assert_eq!(ledger.files().wal, Some(opened));

        // The path now names another file (as after a delete and a re-create
        // that reused nothing): the descriptor still names the one in use.
        std::fs::rename(&wal, dir.path().join("moved-wal")).unwrap();
        std::fs::write(&wal, b"").unwrap();
        assert_eq!(open_wal(&ledger.conn), Some(opened));
        assert_ne!(id_of(&wal), Some(opened));
        assert!(ledger.files_replaced());
    }
}
