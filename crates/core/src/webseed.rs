//! BEP 19 webseeds ("GetRight style" `url-list`): which HTTP byte ranges of
//! which URLs hold a piece. Pure mapping; the host does the fetching, checks
//! the status and length, and hands the bytes to the engine like a peer's.

use crate::metainfo::Info;
use crate::types::PieceIndex;

/// One HTTP request: `Range: bytes=start-end` (inclusive) of `url`, whose
/// bytes land at `dest` in the piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeRequest {
    /// The file's URL.
    pub url: String,
    /// First byte, inclusive.
    pub start: u64,
    /// Inclusive, as the Range header wants it.
    pub end: u64,
    /// Where the bytes go in the fetch's buffer.
    pub dest: u32,
}

/// The requests that fetch `piece` from the webseed at `base`.
pub fn piece_requests(info: &Info, base: &str, piece: PieceIndex) -> Vec<RangeRequest> {
    range_requests(info, base, piece, 0, info.layout.piece_size(piece))
}

/// The requests that fetch `len` bytes at `offset` in `piece` (one engine
/// `Fetch`). Padding files (BEP 47) are skipped: their bytes are zeros the
/// host fills in itself. `dest` is relative to `offset`.
pub fn range_requests(
    info: &Info,
    base: &str,
    piece: PieceIndex,
    offset: u32,
    len: u32,
) -> Vec<RangeRequest> {
    let start = info.layout.piece_offset(piece) + u64::from(offset);
    info.slices(start, u64::from(len))
        .into_iter()
        .filter(|s| !info.files[s.file].padding && s.len > 0)
        .map(|s| {
            let file = &info.files[s.file];
            RangeRequest {
                url: file_url(info, base, &file.path),
                start: s.offset,
                end: s.offset + s.len - 1,
                dest: (file.offset + s.offset - start) as u32,
            }
        })
        .collect()
}

/// BEP 19: a URL ending in `/` names a directory that holds the torrent's
/// name (and, for multi-file torrents, its files below that); any other URL
/// is the single file itself.
pub fn file_url(info: &Info, base: &str, path: &[String]) -> String {
    if !base.ends_with('/') && !info.multi_file {
        return base.to_owned();
    }
    let mut url = base.to_owned();
    if !url.ends_with('/') {
        url.push('/');
    }
    url.push_str(&encode_segment(&info.name));
    if info.multi_file {
        for seg in path {
            url.push('/');
            url.push_str(&encode_segment(seg));
        }
    }
    url
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TorrentCreator;

    fn info(files: Vec<(Vec<String>, u64)>, name: &str) -> Info {
        let total: u64 = files.iter().map(|f| f.1).sum();
        let mut c = TorrentCreator::new(name, files, Some(16384)).unwrap();
        c.update(&vec![0u8; total as usize]);
        c.finish().unwrap().1.info
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn single_file_urls_follow_bep_19() {
        let i = info(vec![(vec![], 40_000)], "big file.iso");
        assert_eq!(
            file_url(&i, "https://h/x/big.iso", &[]),
            "https://h/x/big.iso"
        );
        assert_eq!(
            file_url(&i, "https://h/x/", &[]),
            "https://h/x/big%20file.iso"
        );
        let p = i.layout.piece(2).unwrap();
        let r = piece_requests(&i, "https://h/f", p);
        assert_eq!(
            r,
            vec![RangeRequest {
                url: "https://h/f".into(),
                start: 32768,
                end: 39_999,
                dest: 0
            }]
        );
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn a_piece_across_files_needs_one_range_per_file() {
        let i = info(
            vec![
                (vec!["a.bin".into()], 10_000),
                (vec!["sub dir".into(), "b#1.bin".into()], 20_000),
            ],
            "set",
        );
        let r = piece_requests(&i, "http://h/seed", i.layout.piece(0).unwrap());
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].url, "http://h/seed/set/a.bin");
        assert_eq!((r[0].start, r[0].end, r[0].dest), (0, 9_999, 0));
        assert_eq!(r[1].url, "http://h/seed/set/sub%20dir/b%231.bin");
        assert_eq!((r[1].start, r[1].end, r[1].dest), (0, 6_383, 10_000));
        let covered: u64 = r.iter().map(|x| x.end - x.start + 1).sum();
        assert_eq!(covered, 16384);
        // A run inside the piece: only the second file, dest relative to the run.
        let r = range_requests(
            &i,
            "http://h/seed",
            i.layout.piece(0).unwrap(),
            12_000,
            4_000,
        );
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].start, r[0].end, r[0].dest), (2_000, 5_999, 0));
    }
}
