use super::{Metainfo, MetainfoError};
use crate::bencode::{encode, OwnedValue};
use crate::sha1::Sha1Hasher;
use crate::types::BLOCK_SIZE;
use crate::vec_map::VecMap;

/// Pieces this long keep the piece count of a big torrent low. Every piece
/// costs a browser peer a hash call, an event and an OPFS file: measured in
/// Chromium here, 64 MiB as 64 KiB files took 2.75 s of CPU to write and
/// ran at 34 MB/s, as 256 KiB files 1.1 s and 91 MB/s
/// (tests/bench/opfs-write.mjs); a 64 MiB download from the native seeder
/// into OPFS ran at 17–24 MB/s with 64 KiB pieces, 25–31 with 256 KiB.
const LARGE_PIECE: u64 = 256 << 10;

/// A power-of-two piece length: roughly 1000–2000 pieces, but no more than
/// about 256 until pieces reach 256 KiB, within 16 KiB–16 MiB. Small files
/// keep small pieces: a stream cannot start before its first piece is
/// verified, which on a slow link takes a whole piece's time (the demo's
/// 1.9 MB sample at 200 kB/s first played after 0.9–1.6 s with 256 KiB
/// pieces; it has 16 KiB ones).
pub fn auto_piece_length(total_len: u64) -> u64 {
    let by_count = (total_len / 1500).next_power_of_two();
    let few = (total_len / 256).next_power_of_two().min(LARGE_PIECE);
    by_count.max(few).clamp(u64::from(BLOCK_SIZE), 16 << 20)
}

/// Builds a torrent from file contents fed in order, hashing pieces as they fill.
/// The host reads the files; this type only sees bytes.
pub struct TorrentCreator {
    name: String,
    files: Vec<(Vec<String>, u64)>,
    multi_file: bool,
    piece_len: u64,
    pieces: Vec<u8>,
    current: Sha1Hasher,
    current_len: u64,
    fed: u64,
    /// Announce tiers (`announce-list`); the first URL is also `announce`.
    pub trackers: Vec<Vec<String>>,
    /// BEP 19 webseeds.
    pub url_list: Vec<String>,
    /// `comment`.
    pub comment: Option<String>,
    /// `created by` (default: webswarm and its version).
    pub created_by: Option<String>,
    /// `creation date`, seconds since the Unix epoch.
    pub creation_date: Option<i64>,
    /// BEP 27: only the torrent's own trackers find peers.
    pub private: bool,
}

impl TorrentCreator {
    /// `files` are (path below the torrent directory, length) in the order their
    /// bytes will be fed; a single entry whose path is empty makes a single-file torrent.
    pub fn new(
        name: &str,
        files: Vec<(Vec<String>, u64)>,
        piece_len: Option<u64>,
    ) -> Result<Self, MetainfoError> {
        let multi_file = !(files.len() == 1 && files[0].0.is_empty());
        let total: u64 = files.iter().map(|f| f.1).sum();
        let piece_len = piece_len.unwrap_or_else(|| auto_piece_length(total));
        crate::types::Layout::new(total, piece_len)?;
        Ok(TorrentCreator {
            name: name.to_owned(),
            files,
            multi_file,
            piece_len,
            pieces: Vec::new(),
            current: Sha1Hasher::default(),
            current_len: 0,
            fed: 0,
            trackers: Vec::new(),
            url_list: Vec::new(),
            comment: None,
            created_by: Some(concat!("webswarm/", env!("CARGO_PKG_VERSION")).to_owned()),
            creation_date: None,
            private: false,
        })
    }

    /// Bytes of all files together.
    pub fn total_len(&self) -> u64 {
        self.files.iter().map(|f| f.1).sum()
    }

    /// Bytes per piece.
    pub fn piece_len(&self) -> u64 {
        self.piece_len
    }

    /// Feeds the next bytes of the concatenated files.
    pub fn update(&mut self, mut data: &[u8]) {
        self.fed += data.len() as u64;
        while !data.is_empty() {
            let room = (self.piece_len - self.current_len).min(data.len() as u64) as usize;
            self.current.update(&data[..room]);
            self.current_len += room as u64;
            data = &data[room..];
            if self.current_len == self.piece_len {
                self.flush_piece();
            }
        }
    }

    /// Adds the hash of the next whole piece, for hosts that hash pieces
    /// themselves (the browser uses WebCrypto, faster than this crate's SHA-1
    /// in wasm). Only whole pieces, and the short last one, are accepted, and
    /// never after `update` left a partial piece.
    pub fn add_piece_hash(&mut self, hash: [u8; 20], len: u64) -> Result<(), MetainfoError> {
        let end = self.fed + len;
        let whole = len == self.piece_len || (end == self.total_len() && len < self.piece_len);
        if self.current_len != 0 || !whole || end > self.total_len() || len == 0 {
            return Err(MetainfoError::Invalid(
                "a piece hash must cover exactly the next whole piece",
            ));
        }
        self.pieces.extend_from_slice(&hash);
        self.fed = end;
        Ok(())
    }

    fn flush_piece(&mut self) {
        let h = std::mem::take(&mut self.current).finish();
        self.pieces.extend_from_slice(&h);
        self.current_len = 0;
    }

    /// Returns the .torrent bytes and the parsed result.
    pub fn finish(mut self) -> Result<(Vec<u8>, Metainfo), MetainfoError> {
        if self.fed != self.total_len() {
            return Err(MetainfoError::Invalid(
                "fed byte count does not match file sizes",
            ));
        }
        if self.current_len > 0 {
            self.flush_piece();
        }
        let mut info = VecMap::new();
        info.insert(b"name".to_vec(), OwnedValue::bytes(&self.name));
        info.insert(
            b"piece length".to_vec(),
            OwnedValue::Int(self.piece_len as i64),
        );
        info.insert(b"pieces".to_vec(), OwnedValue::Bytes(self.pieces));
        if self.private {
            info.insert(b"private".to_vec(), OwnedValue::Int(1));
        }
        if self.multi_file {
            let files = self
                .files
                .iter()
                .map(|(path, len)| {
                    OwnedValue::dict([
                        ("length", OwnedValue::Int(*len as i64)),
                        (
                            "path",
                            OwnedValue::List(path.iter().map(OwnedValue::bytes).collect()),
                        ),
                    ])
                })
                .collect();
            info.insert(b"files".to_vec(), OwnedValue::List(files));
        } else {
            info.insert(b"length".to_vec(), OwnedValue::Int(self.files[0].1 as i64));
        }
        let mut root = VecMap::new();
        root.insert(b"info".to_vec(), OwnedValue::Dict(info));
        if let Some(first) = self.trackers.first().and_then(|t| t.first()) {
            root.insert(b"announce".to_vec(), OwnedValue::bytes(first));
        }
        if self.trackers.iter().flatten().count() > 1 {
            let tiers = self
                .trackers
                .iter()
                .map(|t| OwnedValue::List(t.iter().map(OwnedValue::bytes).collect()))
                .collect();
            root.insert(b"announce-list".to_vec(), OwnedValue::List(tiers));
        }
        if !self.url_list.is_empty() {
            let urls = self.url_list.iter().map(OwnedValue::bytes).collect();
            root.insert(b"url-list".to_vec(), OwnedValue::List(urls));
        }
        for (k, v) in [("comment", &self.comment), ("created by", &self.created_by)] {
            if let Some(v) = v {
                root.insert(k.as_bytes().to_vec(), OwnedValue::bytes(v));
            }
        }
        if let Some(d) = self.creation_date {
            root.insert(b"creation date".to_vec(), OwnedValue::Int(d));
        }
        let bytes = encode(&OwnedValue::Dict(root));
        let meta = Metainfo::from_bytes(&bytes)?;
        Ok((bytes, meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sha1::sha1;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn creates_multi_file_torrent_with_piece_hashes_across_file_boundaries() {
        let a = vec![1u8; 20_000];
        let b = vec![2u8; 30_000];
        let mut c = TorrentCreator::new(
            "dir",
            vec![
                (vec!["a.bin".into()], 20_000),
                (vec!["sub".into(), "b.bin".into()], 30_000),
            ],
            Some(16384),
        )
        .unwrap();
        c.trackers = vec![vec!["ws://127.0.0.1:8000".into()], vec!["wss://x/".into()]];
        c.update(&a[..7]);
        c.update(&a[7..]);
        c.update(&b);
        let (_bytes, m) = c.finish().unwrap();
        let all: Vec<u8> = a.iter().chain(&b).copied().collect();
        assert_eq!(m.info.layout.num_pieces(), 4);
        for (i, chunk) in all.chunks(16384).enumerate() {
            assert_eq!(m.info.piece_hashes[i], sha1(chunk));
        }
        assert_eq!(m.info.files[1].offset, 20_000);
        assert_eq!(m.trackers.len(), 2);
        assert_eq!(auto_piece_length(1 << 30), 1 << 20);
        assert_eq!(auto_piece_length(256 << 20), 256 << 10);
        assert_eq!(auto_piece_length(64 << 20), 256 << 10);
        assert_eq!(auto_piece_length(16 << 20), 64 << 10);
        assert_eq!(auto_piece_length(1_900_000), 16 << 10);
        assert_eq!(auto_piece_length(10), 16 << 10);
        assert_eq!(auto_piece_length(1 << 40), 16 << 20);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn hashes_given_by_the_host_make_the_same_torrent() {
        let data: Vec<u8> = (0..40_000u32).map(|i| (i * 7) as u8).collect();
        let files = vec![(vec![], 40_000)];
        let mut fed = TorrentCreator::new("f", files.clone(), Some(16384)).unwrap();
        fed.update(&data);
        let mut given = TorrentCreator::new("f", files, Some(16384)).unwrap();
        assert!(
            given.add_piece_hash([0; 20], 100).is_err(),
            "not a whole piece"
        );
        for chunk in data.chunks(16384) {
            given
                .add_piece_hash(sha1(chunk), chunk.len() as u64)
                .unwrap();
        }
        assert!(
            given.add_piece_hash([0; 20], 16384).is_err(),
            "past the end"
        );
        assert_eq!(fed.finish().unwrap().0, given.finish().unwrap().0);
    }
}
