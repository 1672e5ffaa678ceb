//! Pieces trusted without being hashed since this process opened the files:
//! those of a resume record the files no longer match because the download
//! was killed after it (its pieces were synced before it was written, see
//! `unsynced.rs`). Each is hashed before it is first served, and the session
//! hashes them all in the background; one that fails is downloaded again.

use std::sync::Mutex;

use webswarm_core::Bitfield;

pub(super) struct Unconfirmed(Mutex<Bitfield>);

impl Unconfirmed {
    pub fn new(pieces: u32) -> Self {
        Unconfirmed(Mutex::new(Bitfield::new(pieces)))
    }

    pub fn replace(&self, pieces: Bitfield) {
        *self.lock() = pieces;
    }

    pub fn contains(&self, piece: u32) -> bool {
        self.lock().get(piece)
    }

    pub fn clear(&self, piece: u32) {
        self.lock().clear(piece);
    }

    pub fn count(&self) -> u32 {
        self.lock().count()
    }

    /// The first one at or after `from`.
    pub fn next_from(&self, from: u32) -> Option<u32> {
        let b = self.lock();
        (from..b.len()).find(|&p| b.get(p))
    }

    pub fn snapshot(&self) -> Bitfield {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bitfield> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
