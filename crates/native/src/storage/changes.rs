//! Files changed under us. Each file's size and modification time are
//! remembered at open and after each of our own writes; a file that no
//! longer matches was changed by someone else, and from then on every piece
//! read from it is hashed before it is served. Checking costs one `fstat`
//! per file a read touches.

use std::fs::File;
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

/// Size and modification time (ns since the epoch).
type Stamp = (u64, u128);

fn stamp(file: &File) -> Option<Stamp> {
    let m = file.metadata().ok()?;
    let mtime = m.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    Some((m.len(), mtime.as_nanos()))
}

enum Seen {
    /// What our own last write (or the open) left.
    Ours(Option<Stamp>),
    /// Changed by someone else: stays so.
    Changed,
}

pub(super) struct Changes(Mutex<Vec<Seen>>);

impl Changes {
    pub fn new(files: &[Option<File>]) -> Self {
        let seen = files.iter().map(|f| Seen::Ours(f.as_ref().and_then(stamp)));
        Changes(Mutex::new(seen.collect()))
    }

    /// Runs our own write to file `i` and remembers what it left. Held under
    /// the lock, so a concurrent read never sees our write as someone else's.
    pub fn writing<R>(&self, i: usize, file: &File, write: impl FnOnce() -> R) -> R {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let r = write();
        if let Some(s @ Seen::Ours(_)) = seen.get_mut(i) {
            *s = Seen::Ours(stamp(file));
        }
        r
    }

    /// Whether file `i` was changed by someone else since we last wrote it.
    pub fn changed(&self, i: usize, file: &File) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let Some(s) = seen.get_mut(i) else {
            return false;
        };
        if let Seen::Ours(known) = s {
            if stamp(file) == *known {
                return false;
            }
            *s = Seen::Changed;
        }
        true
    }
}
