//! What `add` and `seed` are given, turned into what a torrent starts from:
//! an info-hash, maybe an info dictionary, trackers and webseeds, plus what
//! OPFS remembered of it from an earlier page.

use webswarm_core::{Bitfield, Info, InfoHash, Magnet, Metainfo, PieceIndex};

/// A parsed `add` source.
pub struct Parsed {
    pub info_hash: InfoHash,
    pub info: Option<Info>,
    pub trackers: Vec<String>,
    pub webseeds: Vec<String>,
}

/// `text`: a magnet link or a hex info-hash; `bytes`: a .torrent file.
pub fn parse(text: Option<&str>, bytes: &[u8]) -> Result<Parsed, String> {
    let Some(s) = text.map(str::trim) else {
        let m = Metainfo::from_bytes(bytes).map_err(|e| format!("invalid torrent file: {e}"))?;
        return Ok(Parsed {
            info_hash: m.info.info_hash,
            trackers: m.tracker_urls(),
            info: Some(m.info),
            webseeds: m.url_list,
        });
    };
    if s.starts_with("magnet:") {
        let m = Magnet::parse(s).map_err(|e| format!("invalid magnet link: {e}"))?;
        return Ok(Parsed {
            info_hash: m.info_hash(),
            info: None,
            trackers: m.trackers,
            webseeds: m.webseeds,
        });
    }
    match InfoHash::from_hex(s) {
        Some(info_hash) => Ok(Parsed {
            info_hash,
            info: None,
            trackers: Vec::new(),
            webseeds: Vec::new(),
        }),
        None => {
            Err("expected a magnet link, an info-hash, a .torrent URL or .torrent bytes".into())
        }
    }
}

/// What the page stages before `start`: the parsed source, OPFS's record of
/// it, and the options' trackers and webseeds.
#[derive(Default)]
pub struct Staged {
    pub source: Option<Parsed>,
    /// The `info` file OPFS kept (trusted only if it hashes to the info-hash).
    pub info: Option<Vec<u8>>,
    /// The `have` file OPFS kept.
    pub have: Option<Vec<u8>>,
    /// Piece files OPFS holds.
    pub pieces: Vec<u32>,
    pub trackers: Vec<String>,
    pub webseeds: Vec<String>,
}

/// What a torrent starts with.
pub struct Resolved {
    pub info_hash: InfoHash,
    pub info: Option<Info>,
    pub have: Option<Bitfield>,
    /// Piece files not in the record: checked before they count.
    pub recheck: Vec<PieceIndex>,
    pub trackers: Vec<String>,
    pub webseeds: Vec<String>,
}

impl Staged {
    /// Merges the source with the record and the options; `defaults` are
    /// the client's own trackers.
    pub fn resolve(&mut self, defaults: &[String]) -> Option<Resolved> {
        let p = self.source.take()?;
        let recorded = self
            .info
            .take()
            .and_then(|raw| Info::from_bytes_checked(&raw, p.info_hash).ok());
        // The record's bitfield counts only with the record's info.
        let have = recorded.as_ref().map(|i| {
            let n = i.layout.num_pieces();
            let mut have = self
                .have
                .take()
                .and_then(|b| Bitfield::from_wire(&b, n))
                .unwrap_or_else(|| Bitfield::new(n));
            // A piece is recorded once verified, which may be before its file
            // is written (the page closed in between): only files count.
            let mut files = Bitfield::new(n);
            for &p in &self.pieces {
                files.set(p);
            }
            for p in 0..n {
                if !files.get(p) {
                    have.clear(p);
                }
            }
            have
        });
        let info = p.info.or(recorded);
        let recheck = match (&info, &have) {
            (Some(i), Some(h)) => self
                .pieces
                .iter()
                .filter(|&&p| !h.get(p))
                .filter_map(|&p| i.layout.piece(p))
                .collect(),
            _ => Vec::new(),
        };
        let mut trackers = merge(std::mem::take(&mut self.trackers), &p.trackers);
        trackers = merge(trackers, defaults);
        // Browsers can only speak to WebSocket trackers.
        trackers.retain(|u| u.starts_with("ws://") || u.starts_with("wss://"));
        let mut webseeds = merge(std::mem::take(&mut self.webseeds), &p.webseeds);
        webseeds.retain(|u| u.starts_with("http://") || u.starts_with("https://"));
        *self = Staged::default();
        Some(Resolved {
            info_hash: p.info_hash,
            info,
            have,
            recheck,
            trackers,
            webseeds,
        })
    }
}

pub fn merge(mut a: Vec<String>, b: &[String]) -> Vec<String> {
    for u in b {
        if !a.contains(u) {
            a.push(u.clone());
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_sources_say_what_is_wrong() {
        let e = |t: Option<&str>, b: &[u8]| parse(t, b).err().unwrap();
        assert!(e(Some("magnet:?xt=urn:btih:nothex"), b"").contains("invalid magnet link"));
        assert!(e(None, b"d4:infoi3ee").contains("invalid torrent file"));
        assert!(e(Some("42"), b"").contains("expected a magnet link"));
        let hex = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(parse(Some(hex), b"").unwrap().info_hash.to_hex(), hex);
    }

    #[test]
    fn a_record_for_another_torrent_is_ignored_and_trackers_merge() {
        let mut s = Staged {
            source: Some(parse(Some("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&tr=ws%3A%2F%2Fa&tr=http%3A%2F%2Fb"), b"").unwrap()),
            info: Some(b"d4:name1:xe".to_vec()),
            have: Some(vec![0xff]),
            pieces: vec![0, 1],
            trackers: vec!["wss://c".into(), "ws://a".into()],
            webseeds: vec!["https://w/".into(), "ftp://x".into()],
        };
        let r = s.resolve(&["ws://d".into()]).unwrap();
        assert!(r.info.is_none() && r.have.is_none() && r.recheck.is_empty());
        assert_eq!(r.trackers, ["wss://c", "ws://a", "ws://d"]);
        assert_eq!(r.webseeds, ["https://w/"]);
        assert!(s.source.is_none(), "staging is cleared");
    }

    #[test]
    fn recorded_pieces_without_a_file_are_not_had_and_unrecorded_files_are_checked() {
        let len = 4 * 16384;
        let mut c =
            webswarm_core::TorrentCreator::new("f", vec![(vec![], len)], Some(16384)).unwrap();
        c.update(&vec![7u8; len as usize]);
        let (torrent, m) = c.finish().unwrap();
        let mut s = Staged {
            source: Some(parse(None, &torrent).unwrap()),
            info: Some(m.info.raw.clone()),
            // Pieces 0, 1 and 2 recorded; files for 0, 2 and 3.
            have: Some(vec![0b1110_0000]),
            pieces: vec![0, 2, 3],
            ..Staged::default()
        };
        let r = s.resolve(&[]).unwrap();
        let have: Vec<u32> = r.have.unwrap().iter_ones().collect();
        assert_eq!(have, [0, 2]);
        assert_eq!(r.recheck.iter().map(|p| p.get()).collect::<Vec<_>>(), [3]);
    }
}
