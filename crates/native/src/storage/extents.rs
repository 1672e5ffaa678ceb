//! Where a file holds data. A download's files are preallocated sparse, so
//! after a crash (no record, or one the files no longer match) most of a
//! large torrent may still be holes: a piece lying wholly in holes reads as
//! zeros and is not worth hashing (if its content really is zeros, it is
//! downloaded again: nothing wrong is trusted either way).

use std::fs::File;

/// The byte ranges below `len` that hold data, in order. Where the system
/// cannot tell (no `SEEK_DATA`, another platform), the whole range.
pub(super) fn data_ranges(file: &File, len: u64) -> Vec<(u64, u64)> {
    #[cfg(target_os = "linux")]
    if let Some(r) = linux::data_ranges(file, len) {
        return r;
    }
    let _ = file;
    vec![(0, len)]
}

/// Whether `[at, at + n)` meets one of `ranges` (as `data_ranges` gives them).
pub(super) fn holds_data(ranges: &[(u64, u64)], at: u64, n: u64) -> bool {
    let k = ranges.partition_point(|&(_, end)| end <= at);
    ranges.get(k).is_some_and(|&(start, _)| start < at + n)
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::File;
    use std::os::fd::AsRawFd;

    pub fn data_ranges(file: &File, len: u64) -> Option<Vec<(u64, u64)>> {
        let fd = file.as_raw_fd();
        let mut out = Vec::new();
        let mut at = 0u64;
        while at < len {
            let start = seek(fd, at, libc::SEEK_DATA);
            let start = match start {
                Ok(s) => s,
                // No data from `at` to the end.
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => break,
                Err(_) => return None,
            };
            if start >= len {
                break;
            }
            let end = seek(fd, start, libc::SEEK_HOLE).ok()?.min(len);
            out.push((start, end));
            at = end;
        }
        Some(out)
    }

    fn seek(fd: i32, at: u64, whence: i32) -> std::io::Result<u64> {
        let at = i64::try_from(at).map_err(|_| std::io::ErrorKind::InvalidInput)?;
        // SAFETY: the descriptor is open for the call; lseek only moves its
        // offset, which storage never uses (it reads and writes with
        // pread/pwrite).
        let r = unsafe { libc::lseek(fd, at, whence) };
        u64::try_from(r).map_err(|_| std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn a_sparse_file_holds_data_only_where_it_was_written() {
        let path = std::env::temp_dir().join(format!("webswarm-extents-{}", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        f.set_len(4 << 20).unwrap();
        assert_eq!(data_ranges(&f, 4 << 20), Vec::<(u64, u64)>::new());
        f.write_all_at(&[7; 100], 2 << 20).unwrap();
        let r = data_ranges(&f, 4 << 20);
        std::fs::remove_file(&path).unwrap();
        // File systems allocate whole blocks: the write's block, at least.
        assert_eq!(r.len(), 1, "{r:?}");
        assert!(r[0].0 <= 2 << 20 && r[0].1 >= (2 << 20) + 100, "{r:?}");
        assert!(r[0].1 - r[0].0 <= 1 << 20, "{r:?}");
        assert!(holds_data(&r, 2 << 20, 1));
        assert!(!holds_data(&r, 0, 1 << 20));
        assert!(!holds_data(&r, 3 << 20, 1 << 20));
    }

    #[test]
    fn ranges_are_met_by_any_overlap() {
        let r = [(10, 20), (30, 40)];
        assert!(holds_data(&r, 0, 11));
        assert!(!holds_data(&r, 0, 10));
        assert!(holds_data(&r, 19, 5));
        assert!(!holds_data(&r, 20, 10));
        assert!(holds_data(&r, 25, 100));
        assert!(!holds_data(&r, 40, 5));
        assert!(!holds_data(&[], 0, 100));
    }
}
