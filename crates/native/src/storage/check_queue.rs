//! One hashing pass at a time across a client's torrents.
//!
//! After a crash every torrent of a seeder re-checks its files at the same
//! restart. All at once they would seek between files on one disk and share
//! its bandwidth, so the first torrent ready would be ready as late as the
//! last. libtorrent and transmission queue their checks the same way.

use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub struct CheckQueue(Mutex<()>);

impl CheckQueue {
    /// Waits (blocking the thread: checks run off the event loop) until no
    /// other pass holds the queue; the turn ends when the guard drops.
    pub fn turn(&self) -> MutexGuard<'_, ()> {
        // The lock guards no data: a pass that panicked left nothing half done.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
