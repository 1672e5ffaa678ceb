//! A torrent's files on disk. Files are created at their final size, blocks
//! are written in place (a block may span files), and pieces are hashed from
//! disk. A small resume file records which pieces were verified together with
//! each file's size and modification time; on restart it is trusted if those
//! still match. A download killed after its last record finds its files
//! written since (same sizes, newer times): the record's pieces count at once
//! and are hashed before they are served and in the background
//! (`storage/unconfirmed.rs`), and only the pieces it does not list that hold
//! data are hashed before the start. Anything else is re-checked (the pieces
//! that hold data: a crashed download's files are mostly holes still).
//!
//! Everything here is blocking I/O: the host runs it on a worker thread.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use webswarm_core::FileSlice;
use webswarm_core::{sha1, Sha1Hasher};
use webswarm_core::{Bitfield, BlockRef, Info, PieceIndex};

/// Name of the resume record, stored beside the torrent's data.
const RESUME_SUFFIX: &str = ".webswarm-resume";

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot create {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source} (is the disk full?)")]
    Write { path: PathBuf, source: io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("piece {piece} changed on disk since it was verified")]
    Changed { piece: u32 },
}

pub struct DiskStorage {
    info: Info,
    paths: Vec<PathBuf>,
    files: Vec<Option<File>>,
    /// How many bytes of each file were there before `open` sized it: the
    /// rest is holes we made, so no piece reaching into it can be verified.
    found: Vec<u64>,
    changes: Changes,
    unsynced: Unsynced,
    unconfirmed: Arc<Unconfirmed>,
    resume: PathBuf,
    /// One record written at a time: a task's last one may start while an
    /// earlier one is still syncing, and both go through the same temporary file.
    saving: std::sync::Mutex<()>,
    /// Shared by a client's torrents (`share_check_queue`): re-checks take turns.
    checks: Arc<CheckQueue>,
}

/// Pieces are read whole, one `pread` each (to hash a piece just written, or
/// to serve one), so the kernel's readahead buys nothing; and ahead of a
/// download a sparse file is holes, which readahead zero-fills page by page:
/// 41.7 % of `webswarm get`'s CPU over TCP from libtorrent went to that
/// memset (perf, 256 MiB, 2026-12-04).
fn no_readahead(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is open for the call; the advice changes
        // only the kernel's caching, and a failure (returned, not set in
        // errno) leaves the default readahead.
        let _ = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_RANDOM) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

impl DiskStorage {
    /// Opens (creating and sizing as needed) the files of `info` under `dir`.
    /// A multi-file torrent lives in `dir/<name>/`, a single file at `dir/<name>`.
    pub fn open(dir: &Path, info: &Info) -> Result<Self, StorageError> {
        let base = if info.multi_file {
            dir.join(&info.name)
        } else {
            dir.to_path_buf()
        };
        let mut paths = Vec::with_capacity(info.files.len());
        let mut files = Vec::with_capacity(info.files.len());
        let mut found = Vec::with_capacity(info.files.len());
        for f in &info.files {
            let path = f.path.iter().fold(base.clone(), |p, c| p.join(c));
            if f.padding {
                // BEP 47 padding is never stored; reads of it return zeros.
                paths.push(path);
                files.push(None);
                found.push(u64::MAX);
                continue;
            }
            let create = |source| StorageError::Create {
                path: path.clone(),
                source,
            };
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(create)?;
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(create)?;
            no_readahead(&file);
            let len = file.metadata().map_err(create)?.len();
            if len != f.length {
                // Sparse preallocation: the size is right from the start, and a
                // later "disk full" shows up as a write error naming the file.
                file.set_len(f.length).map_err(create)?;
            }
            paths.push(path);
            files.push(Some(file));
            found.push(len);
        }
        let resume = dir.join(format!("{}{RESUME_SUFFIX}", info.info_hash.to_hex()));
        Ok(DiskStorage {
            info: info.clone(),
            paths,
            changes: Changes::new(&files),
            unsynced: Unsynced::new(files.len()),
            unconfirmed: Arc::new(Unconfirmed::new(info.layout.num_pieces())),
            saving: std::sync::Mutex::new(()),
            checks: Arc::default(),
            files,
            found,
            resume,
        })
    }

    fn each_slice(
        &self,
        slices: Vec<FileSlice>,
        mut f: impl FnMut(Option<&File>, &Path, u64, usize, usize) -> io::Result<()>,
    ) -> Result<(), (PathBuf, io::Error)> {
        let mut at = 0usize;
        for s in slices {
            let len = s.len as usize;
            f(
                self.files[s.file].as_ref(),
                &self.paths[s.file],
                s.offset,
                at,
                len,
            )
            .map_err(|e| (self.paths[s.file].clone(), e))?;
            at += len;
        }
        Ok(())
    }

    pub fn write_block(&self, block: BlockRef, data: &[u8]) -> Result<(), StorageError> {
        let mut at = 0;
        for s in self.info.block_slices(block) {
            let len = s.len as usize;
            at += len;
            let Some(file) = self.files[s.file].as_ref() else {
                continue;
            };
            let at = at - len;
            self.changes
                .writing(s.file, file, || {
                    file.write_all_at(&data[at..at + len], s.offset)
                })
                .map_err(|source| StorageError::Write {
                    path: self.paths[s.file].clone(),
                    source,
                })?;
            self.unsynced.mark(s.file);
        }
        Ok(())
    }

    /// A verified piece, for serving. Read from a file changed by someone
    /// else since we opened or wrote it, or not confirmed since a resume, it
    /// is hashed first: `Changed` if it is no longer the piece the torrent
    /// describes (an unconfirmed one stays so until the session handles the
    /// loss: see `confirmed`).
    pub fn read_piece(&self, piece: PieceIndex) -> Result<Vec<u8>, StorageError> {
        let whole = self.whole(piece);
        let changed = || {
            self.unconfirmed.contains(piece.get())
                || self.info.block_slices(whole).iter().any(|s| {
                    self.files[s.file]
                        .as_ref()
                        .is_some_and(|f| self.changes.changed(s.file, f))
                })
        };
        let lost = StorageError::Changed { piece: piece.get() };
        match self.read_block(whole) {
            // A file truncated under us.
            Err(_) if changed() => Err(lost),
            Err(e) => Err(e),
            Ok(data) if changed() => {
                if sha1(&data) != self.info.piece_hash(piece) {
                    return Err(lost);
                }
                self.unconfirmed.clear(piece.get());
                Ok(data)
            }
            Ok(data) => Ok(data),
        }
    }

    pub fn read_block(&self, block: BlockRef) -> Result<Vec<u8>, StorageError> {
        let mut out = vec![0u8; block.len as usize];
        self.each_slice(
            self.info.block_slices(block),
            |file, _, offset, at, len| match file {
                Some(file) => file.read_exact_at(&mut out[at..at + len], offset),
                None => Ok(()),
            },
        )
        .map_err(|(path, source)| StorageError::Read { path, source })?;
        Ok(out)
    }

    /// The whole of `piece`, as one block.
    fn whole(&self, piece: PieceIndex) -> BlockRef {
        BlockRef {
            piece,
            offset: 0,
            len: self.info.layout.piece_size(piece),
        }
    }

    /// SHA-1 of a piece as stored.
    pub fn hash_piece(&self, piece: PieceIndex) -> Result<[u8; 20], StorageError> {
        // A whole piece may exceed a request's size limit; storage reads it anyway.
        let data = self.read_block(self.whole(piece))?;
        let mut h = Sha1Hasher::default();
        h.update(&data);
        Ok(h.finish())
    }

    /// Whether `piece` as stored hashes right; a piece cut short (a file
    /// truncated under us) simply does not.
    pub fn verify_piece(&self, piece: PieceIndex) -> Result<bool, StorageError> {
        match self.hash_piece(piece) {
            Ok(h) => Ok(h == self.info.piece_hash(piece)),
            Err(StorageError::Read { source, .. })
                if source.kind() == io::ErrorKind::UnexpectedEof =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Hashes every piece and returns the verified ones.
    pub fn recheck(&self) -> Result<Bitfield, StorageError> {
        self.check_where(|_| true)
    }

    /// `recheck` of the pieces that were on disk before `open`. A fresh
    /// download's files are all holes: hashing them cost 11 % of
    /// `webswarm get`'s CPU for nothing (perf, 256 MiB, 2026-12-05).
    /// Of those, only pieces that meet data: after a crash, holes are the
    /// part not downloaded yet (`storage/extents.rs`).
    fn recheck_found(&self) -> Result<Bitfield, StorageError> {
        let data = self.data_ranges();
        self.check_where(|p| self.was_found(p) && self.meets_data(p, &data))
    }

    /// Each file's data ranges within what was found at `open`.
    fn data_ranges(&self) -> Vec<Vec<(u64, u64)>> {
        let found = self.files.iter().zip(&self.found);
        let ranges = |(f, &n): (&Option<File>, &u64)| {
            f.as_ref()
                .map_or_else(Vec::new, |f| extents::data_ranges(f, n))
        };
        found.map(ranges).collect()
    }

    fn meets_data(&self, piece: PieceIndex, data: &[Vec<(u64, u64)>]) -> bool {
        let whole = self.whole(piece);
        let slices = self.info.block_slices(whole);
        slices
            .iter()
            .any(|s| extents::holds_data(&data[s.file], s.offset, s.len))
    }

    fn check_where(&self, f: impl Fn(PieceIndex) -> bool) -> Result<Bitfield, StorageError> {
        let mut have = Bitfield::new(self.info.layout.num_pieces());
        let todo: Vec<PieceIndex> = self.info.layout.pieces().filter(|&p| f(p)).collect();
        if todo.is_empty() {
            return Ok(have);
        }
        let _turn = self.checks.turn();
        for p in todo {
            if self.hash_piece(p)? == self.info.piece_hash(p) {
                have.set(p.get());
            }
        }
        Ok(have)
    }

    /// Re-checks of this storage take turns with those of every storage
    /// given the same queue (a client's torrents: see [`CheckQueue`]).
    pub fn share_check_queue(&mut self, queue: Arc<CheckQueue>) {
        self.checks = queue;
    }

    /// Whether every byte of `piece` was in its file before `open`.
    fn was_found(&self, piece: PieceIndex) -> bool {
        let whole = self.whole(piece);
        (self.info.block_slices(whole).iter()).all(|s| s.offset + s.len <= self.found[s.file])
    }

    /// Size and modification time of every stored file, as the resume record keeps them.
    fn fingerprint(&self) -> Vec<Stamp> {
        self.paths
            .iter()
            .zip(&self.files)
            .filter(|(_, f)| f.is_some())
            .map(|(path, _)| {
                let meta = fs::metadata(path).ok();
                let len = meta.as_ref().map_or(-1, |m| m.len() as i64);
                let mtime = meta
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(-1, |d| d.as_nanos() as i64);
                (len, mtime)
            })
            .collect()
    }

    /// Records the verified pieces with the files' current fingerprint, once
    /// the pieces are on the disk (see `storage/unsynced.rs`): the files written since
    /// the last record are synced first, and the record replaces the old one
    /// whole (written, synced, renamed, its directory synced).
    pub fn save_resume(&self, have: &Bitfield) -> Result<(), StorageError> {
        let _one = self.saving.lock().unwrap_or_else(|e| e.into_inner());
        self.sync_written()?;
        let mut unconfirmed = self.unconfirmed.snapshot();
        for p in 0..have.len() {
            if !have.get(p) {
                unconfirmed.clear(p);
            }
        }
        let record = Record {
            files: self.fingerprint(),
            have: have.clone(),
            unconfirmed,
        };
        let tmp = self.resume.with_extension("tmp");
        let write = |source| StorageError::Write {
            path: self.resume.clone(),
            source,
        };
        let mut f = File::create(&tmp).map_err(write)?;
        io::Write::write_all(&mut f, &record.encode()).map_err(write)?;
        f.sync_all().map_err(write)?;
        fs::rename(&tmp, &self.resume).map_err(write)?;
        // The rename itself is made durable by syncing the directory; where
        // a directory cannot be opened for that, the record still is whole.
        if let Some(dir) = self.resume.parent().and_then(|d| File::open(d).ok()) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// Syncs the data of every file written since the last call.
    fn sync_written(&self) -> Result<(), StorageError> {
        let dirty = self.unsynced.take();
        for (k, &i) in dirty.iter().enumerate() {
            if let Some(Err(source)) = self.files[i].as_ref().map(File::sync_data) {
                self.unsynced.restore(&dirty[k..]);
                return Err(StorageError::Write {
                    path: self.paths[i].clone(),
                    source,
                });
            }
        }
        Ok(())
    }

    /// The verified pieces (call it right after `open`): the resume
    /// record's if every file still has the size and modification time it
    /// had when the record was written. If only the times differ and the
    /// record lists some pieces but not all, the download was killed after
    /// it: its pieces count, unconfirmed where they touch a file written
    /// since, and the pieces it does not list that hold data are hashed.
    /// Otherwise every piece that was on disk before `open` and holds data
    /// is hashed.
    pub fn load_verified(&self) -> Result<Bitfield, StorageError> {
        let record = fs::read(&self.resume)
            .ok()
            .and_then(|b| Record::parse(&b, self.info.layout.num_pieces()));
        let Some(record) = record else {
            return self.recheck_found();
        };
        let now = self.fingerprint();
        if record.files == now {
            self.unconfirmed.replace(record.unconfirmed);
            return Ok(record.have);
        }
        if !self.left_by_a_kill(&record) {
            return self.recheck_found();
        }
        self.resume_after_a_kill(record, &now)
    }

    /// `load_verified` of a `record` the files outgrew by our own writes
    /// (`left_by_a_kill`), `now` their fingerprint.
    fn resume_after_a_kill(&self, record: Record, now: &[Stamp]) -> Result<Bitfield, StorageError> {
        // Per file (padding never written): whether it changed since the record.
        let stored = (0..self.files.len()).filter(|&i| self.files[i].is_some());
        let mut written = vec![false; self.files.len()];
        for ((a, b), i) in record.files.iter().zip(now).zip(stored) {
            written[i] = a != b;
        }
        let mut unconfirmed = record.unconfirmed;
        for p in self.info.layout.pieces() {
            if record.have.get(p.get()) && self.touches(p, &written) {
                unconfirmed.set(p.get());
            }
        }
        let data = self.data_ranges();
        let mut have = record.have;
        let found = self.check_where(|p| {
            !have.get(p.get()) && self.was_found(p) && self.meets_data(p, &data)
        })?;
        found.iter_ones().for_each(|p| {
            have.set(p);
        });
        self.unconfirmed.replace(unconfirmed);
        Ok(have)
    }

    /// Whether `record` is one the files outgrew only by our own writes
    /// after it: every stored file had the size it records before `open`,
    /// and it does not claim every piece (a complete download writes no
    /// more, so newer times then are someone else's).
    fn left_by_a_kill(&self, record: &Record) -> bool {
        let found = (self.files.iter().zip(&self.found)).filter(|(f, _)| f.is_some());
        let sizes: Vec<i64> = found.map(|(_, &n)| n as i64).collect();
        !record.have.is_full()
            && record.files.len() == sizes.len()
            && (record.files.iter().zip(&sizes)).all(|(&(len, _), &n)| len == n)
    }

    /// Whether `piece` lies partly in a file marked in `which`.
    fn touches(&self, piece: PieceIndex, which: &[bool]) -> bool {
        let slices = self.info.block_slices(self.whole(piece));
        slices.iter().any(|s| which[s.file])
    }

    /// Pieces trusted from a resume record and not hashed since.
    pub fn unconfirmed(&self) -> u32 {
        self.unconfirmed.count()
    }

    /// The same count, to read without keeping the files open.
    pub fn unconfirmed_count(&self) -> UnconfirmedCount {
        UnconfirmedCount(self.unconfirmed.clone())
    }

    /// Hashes the first unconfirmed piece at or after `from`: `Ok(true)`
    /// confirms it (or its loss was handled meanwhile, through a read);
    /// `Ok(false)` (wrong, or cut short) leaves it for the caller to report
    /// lost and then `confirmed`. `None`: none left there.
    pub fn confirm_next(&self, from: u32) -> Option<(PieceIndex, Result<bool, StorageError>)> {
        let piece = self.info.layout.piece(self.unconfirmed.next_from(from)?)?;
        // A piece at a time, so a torrent's start-up check waits for one
        // piece of this pass, not for all of it.
        let verdict = {
            let _turn = self.checks.turn();
            self.verify_piece(piece)
        };
        if matches!(verdict, Ok(true)) {
            self.unconfirmed.clear(piece.get());
        }
        // Reported twice, a loss could hit the piece fetched again since.
        if !self.unconfirmed.contains(piece.get()) {
            return Some((piece, Ok(true)));
        }
        Some((piece, verdict))
    }

    /// The loss of an unconfirmed piece was handled: it is no longer one.
    pub fn confirmed(&self, piece: PieceIndex) {
        self.unconfirmed.clear(piece.get());
    }
}

#[cfg(test)]
mod tests;

mod changes;
use changes::Changes;
mod unsynced;
use unsynced::Unsynced;
mod extents;
mod record;
use record::{Record, Stamp};
mod unconfirmed;
use unconfirmed::Unconfirmed;
mod check_queue;
pub use check_queue::CheckQueue;

/// [`DiskStorage::unconfirmed`], readable after the storage is gone.
#[derive(Clone)]
pub struct UnconfirmedCount(Arc<Unconfirmed>);

impl UnconfirmedCount {
    pub fn get(&self) -> u32 {
        self.0.count()
    }
}
