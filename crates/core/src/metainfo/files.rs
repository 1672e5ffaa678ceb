use crate::types::{BlockRef, Layout};

/// One file of a torrent, placed at `offset` in the torrent's byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components below the torrent's name (single-file torrents: just the name).
    pub path: Vec<String>,
    /// Bytes.
    pub length: u64,
    /// Where it starts in the torrent's concatenated data.
    pub offset: u64,
    /// BEP 47 padding file: never written to disk, always zeros.
    pub padding: bool,
}

/// The part of one file that a byte range of the torrent covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSlice {
    /// Index into `Info::files`.
    pub file: usize,
    /// Offset inside the file.
    pub offset: u64,
    /// Bytes.
    pub len: u64,
}

/// Splits `[start, start + len)` of the torrent into per-file pieces, in order.
pub(crate) fn slices(files: &[FileEntry], start: u64, len: u64) -> Vec<FileSlice> {
    let end = start + len;
    // Files are sorted by offset; find the first one that ends after `start`.
    let first = files.partition_point(|f| f.offset + f.length <= start);
    files[first..]
        .iter()
        .enumerate()
        .take_while(|(_, f)| f.offset < end)
        .filter(|(_, f)| f.length > 0)
        .map(|(i, f)| {
            let s = start.max(f.offset);
            let e = end.min(f.offset + f.length);
            FileSlice {
                file: first + i,
                offset: s - f.offset,
                len: e - s,
            }
        })
        .collect()
}

pub(crate) fn block_slices(files: &[FileEntry], layout: &Layout, b: BlockRef) -> Vec<FileSlice> {
    slices(
        files,
        layout.piece_offset(b.piece) + u64::from(b.offset),
        u64::from(b.len),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(offset: u64, length: u64) -> FileEntry {
        FileEntry {
            path: vec!["x".into()],
            length,
            offset,
            padding: false,
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn ranges_split_across_files_and_skip_empty_ones() {
        let files = [f(0, 10), f(10, 0), f(10, 5), f(15, 100)];
        let s = slices(&files, 8, 10);
        assert_eq!(
            s,
            vec![
                FileSlice {
                    file: 0,
                    offset: 8,
                    len: 2
                },
                FileSlice {
                    file: 2,
                    offset: 0,
                    len: 5
                },
                FileSlice {
                    file: 3,
                    offset: 0,
                    len: 3
                },
            ]
        );
        assert_eq!(
            slices(&files, 20, 5),
            vec![FileSlice {
                file: 3,
                offset: 5,
                len: 5
            }]
        );
    }
}
