//! A disk that fails reads under a seeder: the kernel returns EIO (from a
//! one-file FUSE mount in front of the real file) for one piece's bytes.
//! The seeder says so in one line, keeps running and keeps the piece
//! verified; the leecher gets everything else, and the piece once the disk
//! reads again. Needs root (FUSE is mounted with mount(2)), as CI runs.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use common::*;
use fuser::{
    Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, INodeNo, LockOwner,
    OpenFlags, ReplyAttr, ReplyData, ReplyOpen, Request,
};

/// The backing file, shown as the mount's root; reads that touch `bad`
/// fail with EIO while `failing` is set.
struct FaultyFile {
    file: std::fs::File,
    size: u64,
    bad: std::ops::Range<u64>,
    failing: Arc<AtomicBool>,
}

impl FaultyFile {
    fn attr(&self) -> FileAttr {
        // A fixed mtime: the seeder's change detection must not fire.
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        FileAttr {
            ino: INodeNo(1),
            size: self.size,
            blocks: self.size.div_ceil(512),
            atime: t,
            mtime: t,
            ctime: t,
            crtime: t,
            kind: FileType::RegularFile,
            perm: 0o644,
            nlink: 1,
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }
}

impl Filesystem for FaultyFile {
    fn getattr(&self, _: &Request, _: INodeNo, _: Option<FileHandle>, reply: ReplyAttr) {
        reply.attr(&Duration::ZERO, &self.attr());
    }

    fn open(&self, _: &Request, _: INodeNo, _: OpenFlags, reply: ReplyOpen) {
        // Direct I/O: every read reaches us, none is served from the page cache.
        reply.opened(FileHandle(0), FopenFlags::FOPEN_DIRECT_IO);
    }

    fn read(
        &self,
        _: &Request,
        _: INodeNo,
        _: FileHandle,
        offset: u64,
        size: u32,
        _: OpenFlags,
        _: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let end = (offset + u64::from(size)).min(self.size);
        if self.failing.load(Ordering::SeqCst) && offset < self.bad.end && self.bad.start < end {
            return reply.error(Errno::EIO);
        }
        let mut buf = vec![0; end.saturating_sub(offset) as usize];
        match self.file.read_exact_at(&mut buf, offset) {
            Ok(()) => reply.data(&buf),
            Err(_) => reply.error(Errno::EIO),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_error_under_a_seeder_is_reported_once_and_the_piece_is_kept() {
    let tracker = Tracker::start().await;
    let root = tempdir("read-error");
    let backing = root.join("backing.bin");
    let data = random_bytes(8 << 20, 11);
    std::fs::write(&backing, &data).unwrap();
    std::fs::create_dir_all(root.join("seed")).unwrap();
    let shown = root.join("seed/data.bin");
    std::fs::write(&shown, b"").unwrap();
    let failing = Arc::new(AtomicBool::new(false));
    // One byte 1.25 MiB in: whichever piece holds it cannot be read.
    let bad = (5 << 18) + 100..(5 << 18) + 101;
    let fs = FaultyFile {
        file: std::fs::File::open(&backing).unwrap(),
        size: data.len() as u64,
        bad,
        failing: failing.clone(),
    };
    let _mount = fuser::spawn_mount(fs, &shown, &Config::default())
        .expect("mounting FUSE (needs root and /dev/fuse)");

    let (mut seeder, magnet, mut out) = spawn_seed(&shown, &tracker.url, &[], Stdio::piped());
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let err = BufReader::new(seeder.0.stderr.take().unwrap());
    let l = lines.clone();
    std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            l.lock().unwrap().push(line);
        }
    });
    // The disk goes bad only now: the seeder hashed the file at start.
    failing.store(true, Ordering::SeqCst);

    let dl = root.join("dl");
    let mut get = Reap(
        webswarm(&["get", magnet.trim(), "--bind", "127.0.0.1", "-o"])
            .arg(&dl)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let reported = |lines: &Mutex<Vec<String>>| {
        lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("could not be read from storage"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while reported(&lines).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no line about the read error"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The leecher has everything but the bad piece, and the seeder lives on.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(seeder.0.try_wait().unwrap().is_none(), "the seeder exited");
    assert!(
        get.0.try_wait().unwrap().is_none(),
        "finished without the bad piece"
    );
    let first = reported(&lines);
    assert_eq!(first.len(), 1, "one line per unreadable piece: {first:?}");
    assert!(first[0].contains("Input/output error"), "{}", first[0]);
    eprintln!("seeder said: {}", first[0]);

    // The disk reads again: the piece, still verified, is served.
    failing.store(false, Ordering::SeqCst);
    let status = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(s) = get.0.try_wait().unwrap() {
                return s;
            }
            assert!(std::time::Instant::now() < deadline, "get did not finish");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read(dl.join("data.bin")).unwrap(), data);
    assert_eq!(reported(&lines).len(), 1);
    assert!(
        !lines.lock().unwrap().iter().any(|l| l.contains("panicked")),
        "{:?}",
        lines.lock().unwrap()
    );
    drop(seeder);
    drop(_mount);
    remove_tree(&root);
    tracker.stop().await;
}
