//! What a torrent looks like from outside its task, refreshed a few times a
//! second: for progress bars, tests and tracker announces.

use webswarm_core::engine::Torrent;
use webswarm_core::Time;

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub name: Option<String>,
    /// `None` until the metadata is known.
    pub total_len: Option<u64>,
    pub left: Option<u64>,
    pub pieces: u32,
    pub pieces_have: u32,
    pub peers: usize,
    /// Webseeds still in use (failing ones are dropped).
    pub webseeds: usize,
    pub download_rate: f64,
    pub upload_rate: f64,
    pub downloaded: u64,
    pub uploaded: u64,
    pub complete: bool,
    /// From the torrent's start to its first verified piece (this run).
    pub first_piece_after: Option<std::time::Duration>,
    /// Peers banned for sending data that failed verification.
    pub banned: u32,
    /// Storage failed (disk full, permissions): the download cannot go on.
    pub error: Option<String>,
}

/// What the torrent task knows beyond the engine.
#[derive(Clone, Debug, Default)]
pub struct Extra {
    pub first_piece_after: Option<std::time::Duration>,
    pub banned: u32,
    pub error: Option<String>,
}

impl Snapshot {
    pub fn of(t: &Torrent, now: Time, extra: Extra) -> Self {
        let info = t.info();
        Snapshot {
            name: info.map(|i| i.name.clone()),
            total_len: info.map(|i| i.layout.total_len()),
            left: t.bytes_left(),
            pieces: info.map_or(0, |i| i.layout.num_pieces()),
            pieces_have: t.have().map_or(0, |h| h.count()),
            peers: t.peer_count(),
            webseeds: t.webseed_count(),
            download_rate: t.download_rate(now),
            upload_rate: t.upload_rate(now),
            downloaded: t.downloaded(),
            uploaded: t.uploaded(),
            complete: t.is_complete(),
            first_piece_after: extra.first_piece_after,
            banned: extra.banned,
            error: extra.error,
        }
    }

    /// Verified fraction of the wanted data, 0..=1.
    pub fn progress(&self) -> f64 {
        match (self.total_len, self.left) {
            (Some(t), Some(l)) if t > 0 => 1.0 - l as f64 / t as f64,
            (Some(_), Some(_)) => 1.0,
            _ => 0.0,
        }
    }
}
