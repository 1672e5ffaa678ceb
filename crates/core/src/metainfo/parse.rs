use super::files::{self, FileEntry, FileSlice};
use super::MetainfoError;
use crate::bencode::{decode, Dict, Value};
use crate::sha1::sha1;
use crate::types::{BlockRef, InfoHash, Layout, PieceIndex};

/// A torrent's info dictionary: what the info-hash names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// SHA-1 of the bencoded info dictionary.
    pub info_hash: InfoHash,
    /// The torrent's name (a file name, or the directory of a multi-file torrent).
    pub name: String,
    /// Piece geometry.
    pub layout: Layout,
    /// Each piece's SHA-1.
    pub piece_hashes: Vec<[u8; 20]>,
    /// The files in order, padding files (BEP 47) included.
    pub files: Vec<FileEntry>,
    /// True for a multi-file torrent (files live in a directory named `name`).
    pub multi_file: bool,
    /// BEP 27: use only the torrent's own trackers.
    pub private: bool,
    /// The exact bytes the info-hash was computed over (served over BEP 9).
    pub raw: Vec<u8>,
}

/// A parsed .torrent file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metainfo {
    /// The info dictionary.
    pub info: Info,
    /// Tracker tiers: `announce-list` if present, else `[[announce]]`.
    pub trackers: Vec<Vec<String>>,
    /// BEP 19 webseeds.
    pub url_list: Vec<String>,
    /// `comment`.
    pub comment: Option<String>,
    /// `created by`.
    pub created_by: Option<String>,
    /// `creation date`, seconds since the Unix epoch.
    pub creation_date: Option<i64>,
}

impl Metainfo {
    /// Parses a .torrent file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MetainfoError> {
        let root = decode(bytes)?;
        let root = root.as_dict().ok_or(MetainfoError::Field("root"))?;
        let info_dict = root.get_dict(b"info").ok_or(MetainfoError::Field("info"))?;
        let info = Info::from_dict(info_dict)?;
        let mut trackers: Vec<Vec<String>> = root
            .get_list(b"announce-list")
            .unwrap_or_default()
            .iter()
            .filter_map(|tier| {
                let urls: Vec<String> = tier
                    .as_list()?
                    .iter()
                    .filter_map(|u| u.as_str().map(str::to_owned))
                    .collect();
                (!urls.is_empty()).then_some(urls)
            })
            .collect();
        if trackers.is_empty() {
            if let Some(a) = root.get_str(b"announce") {
                trackers.push(vec![a.to_owned()]);
            }
        }
        let url_list = match root.get(b"url-list") {
            Some(Value::Bytes(b)) => std::str::from_utf8(b)
                .ok()
                .filter(|s| !s.is_empty())
                .map(|s| vec![s.to_owned()])
                .unwrap_or_default(),
            Some(Value::List(l)) => l
                .iter()
                .filter_map(|u| u.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        Ok(Metainfo {
            info,
            trackers,
            url_list,
            comment: root.get_str(b"comment").map(str::to_owned),
            created_by: root.get_str(b"created by").map(str::to_owned),
            creation_date: root.get_int(b"creation date"),
        })
    }

    /// Flat, de-duplicated tracker URLs in tier order.
    pub fn tracker_urls(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for url in self.trackers.iter().flatten() {
            if !out.contains(url) {
                out.push(url.clone());
            }
        }
        out
    }
}

impl Info {
    /// Parses a bare info dictionary (as fetched over BEP 9) and computes its hash.
    pub fn from_bytes(raw: &[u8]) -> Result<Self, MetainfoError> {
        let v = decode(raw)?;
        Info::from_dict(v.as_dict().ok_or(MetainfoError::Field("info"))?)
    }

    /// Parses an info dictionary and checks it against the expected hash.
    pub fn from_bytes_checked(raw: &[u8], expected: InfoHash) -> Result<Self, MetainfoError> {
        if InfoHash(sha1(raw)) != expected {
            return Err(MetainfoError::HashMismatch);
        }
        Info::from_bytes(raw)
    }

    fn from_dict(d: &Dict<'_>) -> Result<Self, MetainfoError> {
        let name = d.get_str(b"name").ok_or(MetainfoError::Field("name"))?;
        check_component(name)?;
        let piece_len = d
            .get_int(b"piece length")
            .ok_or(MetainfoError::Field("piece length"))?;
        let pieces = d
            .get_bytes(b"pieces")
            .ok_or(MetainfoError::Field("pieces"))?;
        if pieces.len() % 20 != 0 {
            return Err(MetainfoError::Invalid("pieces"));
        }
        let (files, multi_file) = match (d.get_int(b"length"), d.get_list(b"files")) {
            (Some(len), None) => {
                let length = u64::try_from(len).map_err(|_| MetainfoError::Invalid("length"))?;
                (
                    vec![FileEntry {
                        path: vec![name.to_owned()],
                        length,
                        offset: 0,
                        padding: false,
                    }],
                    false,
                )
            }
            (None, Some(list)) => (parse_files(list)?, true),
            _ => return Err(MetainfoError::Field("length or files")),
        };
        let total = files.last().map_or(0, |f| f.offset + f.length);
        let piece_len =
            u64::try_from(piece_len).map_err(|_| MetainfoError::Invalid("piece length"))?;
        let layout = Layout::new(total, piece_len)?;
        if pieces.len() / 20 != layout.num_pieces() as usize {
            return Err(MetainfoError::PieceCount {
                have: pieces.len() / 20,
                need: layout.num_pieces(),
                len: total,
            });
        }
        let piece_hashes = pieces
            .chunks_exact(20)
            .map(|c| {
                let mut h = [0u8; 20];
                h.copy_from_slice(c);
                h
            })
            .collect();
        Ok(Info {
            info_hash: InfoHash(sha1(d.raw())),
            name: name.to_owned(),
            layout,
            piece_hashes,
            files,
            multi_file,
            private: d.get_int(b"private") == Some(1),
            raw: d.raw().to_vec(),
        })
    }

    /// The SHA-1 piece `p` must have.
    pub fn piece_hash(&self, p: PieceIndex) -> [u8; 20] {
        // PieceIndex values come from this torrent's Layout, which was checked
        // against piece_hashes.len() when parsing.
        self.piece_hashes[p.usize()]
    }

    /// File pieces covering a byte range of the torrent.
    pub fn slices(&self, start: u64, len: u64) -> Vec<FileSlice> {
        files::slices(&self.files, start, len)
    }

    /// The file ranges that hold block `b`.
    pub fn block_slices(&self, b: BlockRef) -> Vec<FileSlice> {
        files::block_slices(&self.files, &self.layout, b)
    }
}

fn check_component(c: &str) -> Result<(), MetainfoError> {
    let bad = c.is_empty()
        || c == "."
        || c == ".."
        || c.contains(['/', '\\', '\0'])
        || (c.len() >= 2 && c.as_bytes()[1] == b':');
    if bad {
        return Err(MetainfoError::UnsafePath(c.to_owned()));
    }
    Ok(())
}

fn parse_files(list: &[Value<'_>]) -> Result<Vec<FileEntry>, MetainfoError> {
    if list.is_empty() {
        return Err(MetainfoError::Invalid("files"));
    }
    let mut offset = 0u64;
    let mut out = Vec::with_capacity(list.len());
    for f in list {
        let f = f.as_dict().ok_or(MetainfoError::Field("files"))?;
        let length = f
            .get_int(b"length")
            .and_then(|l| u64::try_from(l).ok())
            .ok_or(MetainfoError::Field("files.length"))?;
        let path = f
            .get_list(b"path")
            .ok_or(MetainfoError::Field("files.path"))?
            .iter()
            .map(|c| {
                let c = c.as_str().ok_or(MetainfoError::Field("files.path"))?;
                check_component(c)?;
                Ok(c.to_owned())
            })
            .collect::<Result<Vec<_>, MetainfoError>>()?;
        if path.is_empty() {
            return Err(MetainfoError::UnsafePath(String::new()));
        }
        let padding = f.get_str(b"attr").is_some_and(|a| a.contains('p'));
        out.push(FileEntry {
            path,
            length,
            offset,
            padding,
        });
        offset = offset
            .checked_add(length)
            .ok_or(MetainfoError::Invalid("files.length"))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn torrent(info: &str) -> Vec<u8> {
        format!("d8:announce15:ws://t.example/4:info{info}e").into_bytes()
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn parses_single_file_and_hashes_raw_info_bytes() {
        let info = format!(
            "d6:lengthi20000e4:name3:a.b12:piece lengthi16384e6:pieces40:{}e",
            "x".repeat(40)
        );
        let m = Metainfo::from_bytes(&torrent(&info)).unwrap();
        assert_eq!(m.info.info_hash, InfoHash(sha1(info.as_bytes())));
        assert_eq!(m.info.layout.num_pieces(), 2);
        assert_eq!(m.trackers, vec![vec!["ws://t.example/".to_string()]]);
        assert!(!m.info.multi_file);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn refuses_unsafe_paths_and_wrong_piece_counts() {
        let bad_path = format!(
            "d5:filesld6:lengthi1e4:pathl2:..1:xeee4:name1:n12:piece lengthi16384e6:pieces20:{}e",
            "x".repeat(20)
        );
        assert!(matches!(
            Metainfo::from_bytes(&torrent(&bad_path)),
            Err(MetainfoError::UnsafePath(_))
        ));
        let wrong_count = format!(
            "d6:lengthi20000e4:name1:n12:piece lengthi16384e6:pieces20:{}e",
            "x".repeat(20)
        );
        assert!(matches!(
            Metainfo::from_bytes(&torrent(&wrong_count)),
            Err(MetainfoError::PieceCount { .. })
        ));
        assert!(Info::from_bytes_checked(b"de", InfoHash([0; 20])).is_err());
    }
}
