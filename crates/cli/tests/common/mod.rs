//! The native tests' set-up (crates/native/tests/common) plus the `webswarm`
//! binary these tests run.

#![allow(dead_code)]

#[path = "../../../native/tests/common/mod.rs"]
mod shared;

use std::path::Path;

pub use shared::*;

/// The `webswarm` binary built with these tests.
pub fn webswarm(args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_webswarm"));
    c.args(args).env("NO_COLOR", "1");
    c
}

/// Starts `webswarm seed` on `paths` and waits for the magnet line it prints
/// for each, in order, when ready.
pub fn seed_process(paths: &[&Path], tracker: &str) -> (Reap, Vec<String>) {
    use std::io::{BufRead, BufReader};
    let mut args = vec!["seed"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--tracker", tracker, "--bind", "127.0.0.1"]);
    // Its stderr in a file, read when it fails (a pipe nobody reads could
    // fill and stop it).
    let log = tempdir("seed-log").join("stderr");
    let mut child = Reap(
        webswarm(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let magnets = paths
        .iter()
        .map(|_| {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            if !line.starts_with("magnet:") {
                let _ = child.0.kill();
                let _ = child.0.wait();
                let err = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("seed printed {line:?}; its stderr:\n{err}");
            }
            line.trim().to_owned()
        })
        .collect();
    // Keep reading, so a later line of stdout never meets a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (child, magnets)
}

/// Kills the child process when dropped, so a failing test leaves nothing running.
pub struct Reap(pub std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Seconds an honest `webswarm get` of `magnet` into `dir` takes, start to finish.
pub fn timed_get(magnet: &str, dir: &Path) -> f64 {
    let started = std::time::Instant::now();
    let out = webswarm(&["get", magnet, "--bind", "127.0.0.1", "-o"])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed().as_secs_f64()
}

/// Starts `webswarm seed FILE --tracker URL --bind 127.0.0.1` plus `extra`
/// and waits for its magnet line; returns the child (stderr as asked), the
/// magnet and the rest of its stdout.
pub fn spawn_seed(
    file: &Path,
    tracker: &str,
    extra: &[&str],
    stderr: std::process::Stdio,
) -> (Reap, String, std::io::BufReader<std::process::ChildStdout>) {
    use std::io::BufRead;
    let mut child = Reap(
        webswarm(&["seed", file.to_str().unwrap(), "--tracker", tracker])
            .args(["--bind", "127.0.0.1"])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    );
    let mut out = std::io::BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("magnet:"), "seed printed {line:?}");
    (child, line.trim().to_owned(), out)
}
