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

/// Writes `bytes` at `at` of `file` under `dir` as someone else would, with
/// a modification time that differs from every earlier one.
fn edit(dir: &Path, file: &str, at: u64, bytes: &[u8]) {
    std::thread::sleep(std::time::Duration::from_millis(20));
    let f = OpenOptions::new().write(true).open(dir.join(file)).unwrap();
    f.write_all_at(bytes, at).unwrap();
}

/// A storage whose record lists every piece but piece 2 (as when a
/// download was killed right after that record).
fn recorded_but_piece_2(dir: &Path, info: &Info, data: &[u8]) {
    let s = DiskStorage::open(dir, info).unwrap();
    write_all(&s, info, data);
    let mut have = s.recheck().unwrap();
    assert!(have.is_full());
    have.clear(2);
    s.save_resume(&have).unwrap();
}

#[test]
fn a_restart_resumes_from_the_record_and_rechecks_when_a_complete_ones_files_changed() {
    let dir = Dir::new("resume");
    let (data, info) = torrent();
    recorded_but_piece_2(&dir.0, &info, &data);
    // Restart: the record is trusted (files unchanged), so piece 2 stays missing
    // without re-hashing, which a re-check would have found.
    let s = DiskStorage::open(&dir.0, &info).unwrap();
    let have = s.load_verified().unwrap();
    assert_eq!(have.count(), info.layout.num_pieces() - 1);
    assert!(!have.get(2));
    assert_eq!(s.unconfirmed(), 0);
    // Complete, recorded, then edited by someone: everything is re-checked
    // and the damaged piece is found.
    s.save_resume(&s.recheck().unwrap()).unwrap();
    drop(s);
    edit(&dir.0, "multi/sub/c.bin", 100, b"garbage");
    let s = DiskStorage::open(&dir.0, &info).unwrap();
    let have = s.load_verified().unwrap();
    let damaged = info.layout.pieces_in_range(40_005 + 100, 40_005 + 107);
    assert_eq!(
        have.count(),
        info.layout.num_pieces() - damaged.len() as u32
    );
    assert!(damaged.clone().all(|p| !have.get(p)));
    assert_eq!(s.unconfirmed(), 0);
}

#[test]
fn a_download_killed_after_its_record_counts_the_record_and_confirms_it_in_the_background() {
    let dir = Dir::new("killed");
    let (data, info) = torrent();
    recorded_but_piece_2(&dir.0, &info, &data);
    // Written after the record: c.bin's time moves on (piece 2 lies in it),
    // a.bin's does not. Piece 1 reaches into c.bin; one byte of it is now
    // wrong (someone else's write, or a write the record did not cover).
    let at_1_in_c = 32768 * 2 - 40_005 - 1;
    edit(
        &dir.0,
        "multi/sub/c.bin",
        at_1_in_c,
        &[!data[32768 * 2 - 1]],
    );
    let s = DiskStorage::open(&dir.0, &info).unwrap();
    let have = s.load_verified().unwrap();
    // The record's pieces count without a hash, piece 2 (not in it, holding
    // data) was hashed and found.
    assert!(have.is_full());
    // Unconfirmed: the record's pieces in c.bin (1 and 3), not piece 0 (a.bin).
    assert_eq!(s.unconfirmed(), 2);
    assert!(s.read_piece(info.layout.piece(0).unwrap()).is_ok());
    // Hashed before it is served: piece 1 is refused.
    let p1 = info.layout.piece(1).unwrap();
    assert!(matches!(
        s.read_piece(p1),
        Err(StorageError::Changed { piece: 1 })
    ));
    // The background pass finds it wrong and confirms piece 3.
    let (p, verdict) = s.confirm_next(0).unwrap();
    assert_eq!((p.get(), verdict.unwrap()), (1, false));
    assert_eq!(s.unconfirmed(), 2, "piece 1 is left to the session");
    let (p, verdict) = s.confirm_next(2).unwrap();
    assert_eq!((p.get(), verdict.unwrap()), (3, true));
    assert!(s.confirm_next(4).is_none());
    s.confirmed(p1);
    assert_eq!(s.unconfirmed(), 0);
}

#[test]
fn unconfirmed_pieces_stay_so_across_records_until_hashed() {
    let dir = Dir::new("carried");
    let (data, info) = torrent();
    recorded_but_piece_2(&dir.0, &info, &data);
    edit(&dir.0, "multi/sub/c.bin", 0, &data[40_005..40_006]);
    let s = DiskStorage::open(&dir.0, &info).unwrap();
    let have = s.load_verified().unwrap();
    assert_eq!(s.unconfirmed(), 2);
    // The next record matches the files again; its pieces from the old one
    // are still to be confirmed after a restart.
    s.save_resume(&have).unwrap();
    drop(s);
    let s = DiskStorage::open(&dir.0, &info).unwrap();
    assert!(s.load_verified().unwrap().is_full());
    assert_eq!(s.unconfirmed(), 2);
    // Served once, hashed right: confirmed, and the next record says so.
    assert!(s.read_piece(info.layout.piece(3).unwrap()).is_ok());
    assert_eq!(s.unconfirmed(), 1);
    s.save_resume(&have).unwrap();
    drop(s);
    let s = DiskStorage::open(&dir.0, &info).unwrap();
    s.load_verified().unwrap();
    assert_eq!(s.unconfirmed(), 1);
}

#[test]
fn a_killed_download_whose_file_sizes_changed_is_rechecked() {
    let dir = Dir::new("resized");
    let (data, info) = torrent();
    recorded_but_piece_2(&dir.0, &info, &data);
    // c.bin cut short by someone: sized again at open, but not as recorded.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let c = OpenOptions::new()
        .write(true)
        .open(dir.0.join("multi/sub/c.bin"))
        .unwrap();
    c.set_len(50_000).unwrap();
    let s = DiskStorage::open(&dir.0, &info).unwrap();
    let have = s.load_verified().unwrap();
    assert_eq!(s.unconfirmed(), 0);
    // Pieces 2 and 3 reach past the cut: not found; 0 and 1 are hashed and found.
    assert!(have.get(0) && have.get(1));
    assert!(!have.get(2) && !have.get(3));
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

#[test]
fn re_checks_sharing_a_queue_take_turns_and_a_trusted_record_does_not_wait() {
    let (data, info) = torrent();
    let n = info.layout.num_pieces();
    // A: its files, no record: a re-check. B: a record its files match.
    let a = Dir::new("queue-a");
    write_all(&DiskStorage::open(&a.0, &info).unwrap(), &info, &data);
    let b = Dir::new("queue-b");
    let s = DiskStorage::open(&b.0, &info).unwrap();
    write_all(&s, &info, &data);
    s.save_resume(&s.recheck().unwrap()).unwrap();
    drop(s);
    let queue = Arc::new(CheckQueue::default());
    let someone_checking = queue.turn();
    let (tx, rx) = std::sync::mpsc::channel();
    for (tag, dir) in [("a", a.0.clone()), ("b", b.0.clone())] {
        let (info, queue, tx) = (info.clone(), queue.clone(), tx.clone());
        std::thread::spawn(move || {
            let mut s = DiskStorage::open(&dir, &info).unwrap();
            s.share_check_queue(queue);
            tx.send((tag, s.load_verified().unwrap().count())).unwrap();
        });
    }
    let wait = std::time::Duration::from_secs(10);
    assert_eq!(rx.recv_timeout(wait), Ok(("b", n)), "nothing to hash");
    let short = std::time::Duration::from_millis(300);
    assert!(rx.recv_timeout(short).is_err(), "a re-check waits its turn");
    drop(someone_checking);
    assert_eq!(rx.recv_timeout(wait), Ok(("a", n)));
}
