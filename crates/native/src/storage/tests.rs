use super::*;
use webswarm_core::TorrentCreator;

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("webswarm-storage-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Three files whose boundaries fall inside pieces and blocks.
fn torrent() -> (Vec<u8>, Info) {
    let lens = [40_000u64, 5, 70_000];
    let data: Vec<u8> = (0..lens.iter().sum::<u64>())
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let files = vec![
        (vec!["a.bin".to_string()], lens[0]),
        (vec!["sub".to_string(), "b.bin".to_string()], lens[1]),
        (vec!["sub".to_string(), "c.bin".to_string()], lens[2]),
    ];
    let mut c = TorrentCreator::new("multi", files, Some(32768)).unwrap();
    c.update(&data);
    (data, c.finish().unwrap().1.info)
}

fn write_all(s: &DiskStorage, info: &Info, data: &[u8]) {
    for p in info.layout.pieces() {
        write_piece(s, info, data, p);
    }
}

fn write_piece(s: &DiskStorage, info: &Info, data: &[u8], p: PieceIndex) {
    for i in 0..info.layout.blocks_in(p) {
        let b = info.layout.block(p, i);
        let start = (info.layout.piece_offset(p) + u64::from(b.offset)) as usize;
        s.write_block(b, &data[start..start + b.len as usize])
            .unwrap();
    }
}

#[test]
fn blocks_spanning_files_are_written_in_place_and_read_back() {
    let dir = Dir::new("rw");
    let (data, info) = torrent();
    let s = DiskStorage::open(&dir.0, &info).unwrap();
    // Files exist at their final size before any data arrives.
    assert_eq!(
        fs::metadata(dir.0.join("multi/sub/c.bin")).unwrap().len(),
        70_000
    );
    assert_eq!(s.recheck().unwrap().count(), 0);
    write_all(&s, &info, &data);
    let on_disk: Vec<u8> = ["a.bin", "sub/b.bin", "sub/c.bin"]
        .iter()
        .flat_map(|f| fs::read(dir.0.join("multi").join(f)).unwrap())
        .collect();
    assert_eq!(on_disk, data);
    let b = info.layout.block(info.layout.piece(1).unwrap(), 0);
    assert_eq!(s.read_block(b).unwrap(), data[32768..32768 + 16384]);
    for p in info.layout.pieces() {
        assert_eq!(s.hash_piece(p).unwrap(), info.piece_hash(p));
    }
}

#[test]
fn a_restart_resumes_from_the_record_and_rechecks_when_files_changed() {
    let dir = Dir::new("resume");
    let (data, info) = torrent();
    {
        let s = DiskStorage::open(&dir.0, &info).unwrap();
        write_all(&s, &info, &data);
        let mut have = s.recheck().unwrap();
        assert!(have.is_full());
        // Pretend piece 2 was not verified yet when the record was written.
        have.clear(2);
        s.save_resume(&have).unwrap();
    }
    // Restart: the record is trusted (files unchanged), so piece 2 stays missing
    // without re-hashing, which a re-check would have found.
    let s = DiskStorage::open(&dir.0, &info).unwrap();
    let have = s.load_verified().unwrap();
    assert_eq!(have.count(), info.layout.num_pieces() - 1);
    assert!(!have.get(2));
    // Someone edits a file: the record no longer matches, everything is re-checked
    // and the damaged piece is found.
    let c = dir.0.join("multi/sub/c.bin");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let f = OpenOptions::new().write(true).open(&c).unwrap();
    f.write_all_at(b"garbage", 100).unwrap();
    drop(f);
    let have = DiskStorage::open(&dir.0, &info)
        .unwrap()
        .load_verified()
        .unwrap();
    let damaged = info.layout.pieces_in_range(40_005 + 100, 40_005 + 107);
    assert_eq!(
        have.count(),
        info.layout.num_pieces() - damaged.len() as u32
    );
    assert!(damaged.clone().all(|p| !have.get(p)));
    assert!(have.get(2), "piece 2 is back after the re-check");
}

#[test]
fn a_corrupt_resume_record_is_ignored() {
    let dir = Dir::new("corrupt");
    let (data, info) = torrent();
    let s = DiskStorage::open(&dir.0, &info).unwrap();
    write_all(&s, &info, &data);
    let reopened = || DiskStorage::open(&dir.0, &info).unwrap().load_verified();
    fs::write(&s.resume, b"d5:piecesi999ee").unwrap();
    assert!(reopened().unwrap().is_full());
    fs::write(&s.resume, b"not bencode").unwrap();
    assert!(reopened().unwrap().is_full());
}

#[test]
fn errors_name_the_file() {
    let dir = Dir::new("errors");
    let (_, info) = torrent();
    // A regular file where the torrent's directory should be.
    fs::write(dir.0.join("multi"), b"x").unwrap();
    let e = DiskStorage::open(&dir.0, &info).err().expect("must fail");
    assert!(e.to_string().contains("multi"), "{e}");
}

#[test]
fn a_piece_read_from_a_file_changed_under_us_is_refused_if_wrong() {
    let dir = Dir::new("changed");
    let (data, info) = torrent();
    let s = DiskStorage::open(&dir.0, &info).unwrap();
    write_all(&s, &info, &data);
    let piece = |i| info.layout.piece(i).unwrap();
    // Our own writes are not someone else's change.
    assert_eq!(s.read_piece(piece(2)).unwrap().len(), 32768);
    // Someone rewrites a byte of c.bin (piece 3's part of it), and the
    // modification time moves on.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let c = OpenOptions::new()
        .write(true)
        .open(dir.0.join("multi/sub/c.bin"))
        .unwrap();
    let at = 3 * 32768 - 40_005 + 10;
    c.write_all_at(&[data[3 * 32768 + 10] ^ 0xff], at as u64)
        .unwrap();
    assert!(matches!(
        s.read_piece(piece(3)),
        Err(StorageError::Changed { piece: 3 })
    ));
    // Pieces of c.bin that still hash right are served; a.bin is untouched.
    assert!(s.read_piece(piece(2)).is_ok());
    assert!(s.read_piece(piece(0)).is_ok());
    // Restoring the byte makes the piece right again.
    c.write_all_at(&[data[3 * 32768 + 10]], at as u64).unwrap();
    assert!(s.read_piece(piece(3)).is_ok());
    // Truncated under us: the pieces past the new end are lost.
    c.set_len(50_000).unwrap();
    assert!(matches!(
        s.read_piece(piece(3)),
        Err(StorageError::Changed { piece: 3 })
    ));
}

#[test]
fn only_bytes_found_on_disk_are_rechecked() {
    let dir = Dir::new("found");
    let (data, info) = torrent();
    // A previous download left a.bin whole and nothing else.
    fs::create_dir_all(dir.0.join("multi")).unwrap();
    fs::write(dir.0.join("multi/a.bin"), &data[..40_000]).unwrap();
    let have = DiskStorage::open(&dir.0, &info)
        .unwrap()
        .load_verified()
        .unwrap();
    // Piece 0 lies in a.bin; piece 1 reaches into b.bin, which was not there.
    assert_eq!(have.count(), 1);
    assert!(have.get(0));

    // Holes we made are not data, even where the data would be zeros.
    let dir = Dir::new("zeros");
    let mut c =
        TorrentCreator::new("zeros", vec![(vec!["z".to_string()], 100_000)], Some(32768)).unwrap();
    c.update(&[0; 100_000]);
    let info = c.finish().unwrap().1.info;
    let s = DiskStorage::open(&dir.0, &info).unwrap();
    assert_eq!(s.load_verified().unwrap().count(), 0);
    assert!(s.recheck().unwrap().is_full());
}

#[test]
fn a_record_is_written_after_the_files_written_since_the_last_one_are_synced() {
    let dir = Dir::new("sync");
    let (data, info) = torrent();
    let s = DiskStorage::open(&dir.0, &info).unwrap();
    assert!(s.unsynced.peek().is_empty(), "opening writes no data");
    // Piece 2 lies inside c.bin (file 2) only.
    write_piece(&s, &info, &data, info.layout.piece(2).unwrap());
    assert_eq!(s.unsynced.peek(), vec![2]);
    let mut have = Bitfield::new(info.layout.num_pieces());
    have.set(2);
    s.save_resume(&have).unwrap();
    assert!(s.unsynced.peek().is_empty(), "synced before the record");
    assert!(!s.resume.with_extension("tmp").exists());
    drop(s);
    let again = DiskStorage::open(&dir.0, &info).unwrap();
    assert_eq!(again.load_verified().unwrap(), have);
}

#[test]
fn after_a_crash_only_pieces_that_meet_data_are_hashed() {
    let dir = Dir::new("holes");
    let (data, info) = torrent();
    let s = DiskStorage::open(&dir.0, &info).unwrap();
    // Piece 2 (inside c.bin) written, no record: as a crash leaves it.
    let p2 = info.layout.piece(2).unwrap();
    write_piece(&s, &info, &data, p2);
    drop(s);
    let again = DiskStorage::open(&dir.0, &info).unwrap();
    let ranges = again.data_ranges();
    // a.bin was never written: piece 0, wholly in it, is not read.
    assert!(!again.meets_data(info.layout.piece(0).unwrap(), &ranges));
    assert!(again.meets_data(p2, &ranges));
    let mut want = Bitfield::new(info.layout.num_pieces());
    want.set(2);
    assert_eq!(again.load_verified().unwrap(), want);
}
