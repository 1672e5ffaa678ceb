//! One torrent's task: the I/O around core's `TorrentHost`. Connections
//! come from the tracker tasks, bytes from the peer links, and the host's
//! work goes to disk (on blocking threads), to the peers and to HTTP.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use webswarm_core::host::{Note, Stats, TorrentHost, Work};
use webswarm_core::{Bitfield, BlockRef, PeerKey, PieceIndex, Time};

use super::input::Input;
use super::peer::PeerLink;
use super::unchecked::{self, Unchecked};
use super::webseed::Fetcher;
use crate::storage::{DiskStorage, StorageError};
use crate::tracker_client::{Attempt, NewChannel, TorrentView};
use crate::util;

/// How often the shared snapshot is refreshed.
const SNAPSHOT_EVERY: Duration = Duration::from_millis(200);

/// What a torrent task starts from.
pub struct Setup {
    pub host: TorrentHost,
    pub storage: Option<Arc<DiskStorage>>,
    /// Where a magnet download's files go once the metadata is known.
    pub dir: PathBuf,
    pub fetcher: Arc<Fetcher>,
    /// Where addresses learned from peers (PEX) go to be dialled.
    pub dial: Option<mpsc::UnboundedSender<Vec<std::net::SocketAddr>>>,
}

/// What the task shows the rest of the process.
pub struct Outlets {
    pub stats: watch::Sender<Stats>,
    pub view: watch::Sender<TorrentView>,
}

pub struct TorrentTask {
    host: TorrentHost,
    dir: PathBuf,
    storage: Option<Arc<DiskStorage>>,
    unchecked: Unchecked,
    links: HashMap<PeerKey, PeerLink>,
    input_tx: mpsc::Sender<Input>,
    outlets: Outlets,
    last_snapshot: Instant,
    fetcher: Arc<Fetcher>,
    dial: Option<mpsc::UnboundedSender<Vec<std::net::SocketAddr>>>,
    /// Leaving: the last resume record is written before the task ends.
    stopping: bool,
}

impl TorrentTask {
    pub fn new(setup: Setup, input_tx: mpsc::Sender<Input>, outlets: Outlets) -> Self {
        let mut task = TorrentTask {
            host: setup.host,
            dir: setup.dir,
            storage: setup.storage,
            unchecked: Unchecked::default(),
            links: HashMap::new(),
            input_tx,
            outlets,
            last_snapshot: Instant::now(),
            fetcher: setup.fetcher,
            dial: setup.dial,
            stopping: false,
        };
        task.drain();
        // Callers read the state right after adding: it must be there already.
        task.publish(true);
        task
    }

    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<Input>,
        mut channels: mpsc::UnboundedReceiver<Attempt>,
    ) {
        self.confirm_in_background();
        loop {
            let wake = deadline(self.host.poll_timeout());
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Input::Stop(done)) => {
                        self.stopping = true;
                        self.host.stop(util::now(), true);
                        self.drain();
                        self.links.clear();
                        self.publish(true);
                        let _ = done.send(());
                        return;
                    }
                    Some(m) => self.handle(m),
                    None => return,
                },
                Some(c) = channels.recv() => match c {
                    Ok(c) => self.add_channel(c),
                    Err(why) => self.host.handle_connect_failed(util::now(), &why),
                },
                _ = tokio::time::sleep_until(wake) => self.host.handle_timeout(util::now()),
            }
            self.drain();
            self.publish(false);
        }
    }

    fn add_channel(&mut self, c: NewChannel) {
        let now = util::now();
        match self.host.add_peer_on(now, c.remote, c.we_offered, c.wire) {
            Ok(key) => {
                if let Some(a) = c.addr {
                    self.host.handle_peer_addr(key, a, c.we_offered);
                }
                let link = PeerLink::start(key, c.channel, self.input_tx.clone(), c.permit);
                self.links.insert(key, link);
            }
            Err(e) => {
                tracing::debug!("refused a connection: {e}");
                let channel = c.channel;
                tokio::spawn(async move { channel.close().await });
            }
        }
    }

    fn handle(&mut self, m: Input) {
        let now = util::now();
        let h = &mut self.host;
        match m {
            Input::Data(key, data) => h.handle_bytes(now, key, data),
            Input::Closed(key) => {
                // A link we closed ourselves is gone from the map already.
                if self.links.remove(&key).is_some() {
                    h.handle_closed(now, key);
                }
            }
            Input::Writable(key) => h.handle_writable(now, key, true),
            // A disk that cannot read back what was written is not the
            // peers' fault: the download stops with the reason instead of
            // blaming (and banning) the peers who sent the piece.
            Input::Checked(piece, Ok(ok)) => h.handle_piece_checked(now, piece, ok),
            Input::Checked(_, Err(e)) => h.handle_storage_failed(now, e),
            Input::PieceRead(piece, data) => h.handle_piece_read(now, piece, data),
            Input::PieceUnreadable(piece, e) => h.handle_piece_unreadable(now, piece, &e),
            Input::PieceLost(piece) => {
                h.handle_piece_lost(now, piece);
                // The stats before the count: `get` reads the count first,
                // so it never sees the last confirmation gone while the
                // loss is not in the stats yet.
                self.publish(true);
                if let Some(s) = &self.storage {
                    s.confirmed(piece);
                }
            }
            Input::StorageOpened(r) => {
                let r = r.map(|s| self.storage = Some(s));
                h.handle_storage_opened(now, r);
            }
            Input::Fetched(key, piece, offset, r) => h.handle_fetched(now, key, piece, offset, r),
            Input::ResumeSaved(r) => h.handle_resume_saved(now, r),
            Input::Stop(_) => unreachable!("handled by run"),
        }
    }

    /// Carries out the host's work until it has none.
    fn drain(&mut self) {
        while let Some(w) = self.host.poll_work() {
            match w {
                Work::Send { peer, data } => {
                    if self.links.get(&peer).is_some_and(|l| l.send(data)) {
                        self.host.handle_writable(util::now(), peer, false);
                    }
                }
                Work::Close { peer, reason } => {
                    tracing::debug!("closing peer {peer:?}: {reason}");
                    self.links.remove(&peer);
                }
                Work::ReadPiece { piece, len } => self.read(piece, len),
                Work::StoreBlock { block, data } => self.write(block, &data),
                Work::CheckPiece { piece, hash } => self.check(piece, hash),
                Work::Fetch {
                    webseed,
                    piece,
                    offset,
                    len,
                    requests,
                } => {
                    let (fetcher, tx) = (self.fetcher.clone(), self.input_tx.clone());
                    tokio::spawn(async move {
                        let r = fetcher
                            .fetch(requests, len)
                            .await
                            .map_err(|e| e.to_string());
                        if let Err(e) = &r {
                            tracing::debug!("{e}");
                        }
                        let _ = tx.send(Input::Fetched(webseed, piece, offset, r)).await;
                    });
                }
                Work::OpenStorage => self.open_storage(),
                Work::SaveResume { have } => self.save_resume(have),
                Work::Notify(note) => self.on_note(note),
                Work::Dial(addrs) => {
                    if let Some(d) = &self.dial {
                        let _ = d.send(addrs);
                    }
                }
            }
        }
    }

    fn on_note(&mut self, note: Note) {
        match note {
            Note::Done | Note::Error(_) => {
                if let Note::Error(e) = &note {
                    tracing::error!("{e}");
                }
                self.publish(true);
            }
            Note::Warning(w) => tracing::warn!("{w}"),
            Note::Banned(id) => tracing::warn!(
                "banned peer {} for sending corrupt data",
                String::from_utf8_lossy(&id.0[..8])
            ),
            Note::Ready | Note::Peers(_) | Note::Verified(..) => {}
        }
    }

    /// Hashes, one at a time, the pieces a resume trusted without hashing
    /// (`DiskStorage::confirm_next`); a wrong or unreadable one is lost and
    /// downloaded again. Ends with the task.
    fn confirm_in_background(&self) {
        let Some(storage) = self.storage.clone().filter(|s| s.unconfirmed() > 0) else {
            return;
        };
        let tx = self.input_tx.clone();
        tokio::task::spawn_blocking(move || {
            let mut from = 0;
            while let Some((piece, verdict)) = storage.confirm_next(from) {
                from = piece.get() + 1;
                match verdict {
                    Ok(true) if !tx.is_closed() => continue,
                    Ok(true) => return,
                    Ok(false) => {}
                    Err(e) => tracing::warn!("piece {} unreadable: {e}", piece.get()),
                }
                if tx.blocking_send(Input::PieceLost(piece)).is_err() {
                    return;
                }
            }
        });
    }

    fn read(&mut self, piece: PieceIndex, len: u32) {
        let (Some(storage), tx) = (self.storage.clone(), self.input_tx.clone()) else {
            self.host.handle_piece_read(util::now(), piece, None);
            return;
        };
        // Off the event loop: a cold disk would otherwise stall every peer.
        tokio::task::spawn_blocking(move || {
            let input = match storage.read_piece(piece) {
                Ok(d) if d.len() == len as usize => Input::PieceRead(piece, Some(Bytes::from(d))),
                Err(StorageError::Changed { .. }) => Input::PieceLost(piece),
                Err(e) => Input::PieceUnreadable(piece, e.to_string()),
                Ok(_) => Input::PieceRead(piece, None),
            };
            let _ = tx.blocking_send(input);
        });
    }

    /// Off the event loop (it waits for the disk: see `DiskStorage::save_resume`),
    /// except the last one, which the task's end waits for.
    fn save_resume(&mut self, have: Bitfield) {
        let Some(storage) = self.storage.clone() else {
            return self.host.handle_resume_saved(util::now(), Ok(()));
        };
        if self.stopping {
            let r = storage.save_resume(&have).map_err(|e| e.to_string());
            return self.host.handle_resume_saved(util::now(), r);
        }
        let tx = self.input_tx.clone();
        tokio::task::spawn_blocking(move || {
            let r = storage.save_resume(&have).map_err(|e| e.to_string());
            let _ = tx.blocking_send(Input::ResumeSaved(r));
        });
    }

    fn write(&mut self, block: BlockRef, data: &Bytes) {
        // A 16 KiB pwrite lands in the page cache in microseconds; doing it
        // here keeps a piece's writes ordered before its hash check.
        let r = match &self.storage {
            Some(s) => s.write_block(block, data).map_err(|e| e.to_string()),
            None => Err("storage is not open".to_owned()),
        };
        match r {
            Ok(()) => self.unchecked.keep(block, data),
            Err(e) => self.host.handle_storage_failed(util::now(), e),
        }
    }

    fn check(&mut self, piece: PieceIndex, hash: [u8; 20]) {
        let len = self.host.info().map(|i| i.layout.piece_size(piece));
        let blocks = len.and_then(|len| self.unchecked.take(piece, len));
        let Some(storage) = self.storage.clone() else {
            self.host.handle_piece_checked(util::now(), piece, false);
            return;
        };
        let tx = self.input_tx.clone();
        tokio::task::spawn_blocking(move || {
            let ok = match blocks {
                Some(blocks) => Ok(unchecked::hash(&blocks) == hash),
                None => storage.verify_piece(piece).map_err(|e| e.to_string()),
            };
            let _ = tx.blocking_send(Input::Checked(piece, ok));
        });
    }

    /// After a magnet fetch: store the info dictionary (so a restart needs no
    /// peers for it) and open the files, off the event loop.
    fn open_storage(&mut self) {
        let Some(info) = self.host.info().cloned() else {
            return;
        };
        let dir = self.dir.clone();
        let tx = self.input_tx.clone();
        tokio::task::spawn_blocking(move || {
            let _ = super::save_info(&dir, &info);
            let r = DiskStorage::open(&dir, &info)
                .map(Arc::new)
                .map_err(|e| e.to_string());
            let _ = tx.blocking_send(Input::StorageOpened(r));
        });
    }

    fn publish(&mut self, force: bool) {
        if !force && self.last_snapshot.elapsed() < SNAPSHOT_EVERY {
            return;
        }
        self.last_snapshot = Instant::now();
        self.outlets
            .stats
            .send_replace(self.host.stats(util::now()));
        let view = TorrentView {
            status: self.host.tracker_status(),
            connected: self.host.connected_ids(),
            private: self.host.info().is_some_and(|i| i.private),
        };
        self.outlets.view.send_if_modified(|v| {
            let changed = *v != view;
            *v = view;
            changed
        });
    }
}

/// The tokio instant for an engine time.
fn deadline(t: Time) -> tokio::time::Instant {
    let now = util::now();
    let wait = Duration::from_micros(t.as_micros().saturating_sub(now.as_micros()));
    tokio::time::Instant::now() + wait
}
