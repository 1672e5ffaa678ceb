//! Which files hold writes that may not be on the disk yet. The resume
//! record must not reach the disk before the pieces it lists: files are
//! preallocated sparse, so after a power cut a piece whose bytes were still
//! in the page cache reads back as zeros, while the file's size and
//! modification time (metadata, committed on their own) can match the
//! record, which would then be trusted.

use std::sync::Mutex;

pub(super) struct Unsynced(Mutex<Vec<bool>>);

impl Unsynced {
    pub fn new(files: usize) -> Self {
        Unsynced(Mutex::new(vec![false; files]))
    }

    /// File `i` was written.
    pub fn mark(&self, i: usize) {
        if let Some(f) = self.lock().get_mut(i) {
            *f = true;
        }
    }

    /// The files written since the last `take`, now counted as clean: a
    /// write that ends after this is marked again for the next record.
    pub fn take(&self) -> Vec<usize> {
        let mut files = self.lock();
        let dirty = (0..files.len()).filter(|&i| files[i]).collect();
        files.iter_mut().for_each(|f| *f = false);
        dirty
    }

    /// The files written since the last `take`, left as they are.
    #[cfg(test)]
    pub fn peek(&self) -> Vec<usize> {
        let files = self.lock();
        (0..files.len()).filter(|&i| files[i]).collect()
    }

    /// Marks them again (their sync failed).
    pub fn restore(&self, dirty: &[usize]) {
        dirty.iter().for_each(|&i| self.mark(i));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<bool>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
