//! `cargo xtask fuzz [TARGET ...] [SECONDS]` (either order): runs each fuzz target under
//! libFuzzer (cargo-fuzz, nightly) for SECONDS (default 60), starting from
//! the committed corpus and the target's working corpus in target/fuzz/, and
//! prints executions and coverage per target. A crash stops the run; keep
//! its input in fuzz/regressions/<target>/ and CI replays it from then on
//! (crates/fuzz-targets/tests/corpus.rs).

use std::path::Path;
use std::process::{Command, Stdio};

use crate::{output, root, run, Result};

pub fn fuzz(args: &[String]) -> Result {
    // Seconds and target names in either order: `fuzz 1800 wire`, `fuzz wire 1800`.
    let secs = args
        .iter()
        .find_map(|a| a.parse::<u64>().ok())
        .unwrap_or(60);
    let named: Vec<String> = args
        .iter()
        .filter(|a| a.parse::<u64>().is_err())
        .cloned()
        .collect();
    let targets = if named.is_empty() {
        all_targets()?
    } else {
        named
    };
    if Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_or(true, |s| !s.success())
    {
        return Err(
            "cargo fuzz needs a nightly toolchain: `rustup toolchain install nightly`".into(),
        );
    }
    if output("cargo", &["fuzz", "--version"]).is_none() {
        run("install cargo-fuzz", {
            let mut c = Command::new("cargo");
            c.args(["install", "cargo-fuzz", "--locked"]);
            c
        })?;
    }
    let mut rows = Vec::new();
    for t in &targets {
        let work = root().join("target/fuzz/corpus").join(t);
        std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
        let log = root().join("target/fuzz").join(format!("{t}.log"));
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        eprintln!("==> fuzz {t} for {secs} s (log: {})", log.display());
        let status = Command::new("cargo")
            .current_dir(root().join("fuzz"))
            .args(["+nightly", "fuzz", "run", "-O", t])
            .arg(&work)
            .arg(Path::new("corpus").join(t))
            .arg("--")
            .arg(format!("-max_total_time={secs}"))
            .args([
                "-rss_limit_mb=2048",
                "-max_len=4096",
                "-print_final_stats=1",
            ])
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            .status()
            .map_err(|e| format!("cargo fuzz: {e}"))?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let last = |key: &str| text.lines().rev().find(|l| l.contains(key)).unwrap_or("");
        // "#N\tDONE   cov: C ft: F corp: K/SIZE ..." and "Done N runs in S second(s)".
        let status_line = last("cov: ");
        let field = |name: &str| {
            status_line
                .split_whitespace()
                .skip_while(|w| *w != name)
                .nth(1)
                .unwrap_or("?")
                .to_owned()
        };
        let done = format!(
            "{} | {} | {} | {}",
            last("Done ").trim(),
            field("cov:"),
            field("ft:"),
            field("corp:")
        );
        if !status.success() {
            return Err(format!(
                "fuzz target {t} failed: see {} and fuzz/artifacts/{t}/; keep the input in fuzz/regressions/{t}/",
                log.display()
            ));
        }
        rows.push((t.clone(), done));
    }
    println!("\n| target | runs | coverage (edges) | features | corpus (inputs/bytes) |\n|---|---|---|---|---|");
    for (t, done) in rows {
        println!("| {t} | {done} |");
    }
    Ok(())
}

fn all_targets() -> Result<Vec<String>> {
    let dir = root().join("fuzz/fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| {
            let p = e.ok()?.path();
            let stem = p.file_stem()?.to_string_lossy().into_owned();
            (p.extension()? == "rs").then_some(stem)
        })
        .collect();
    names.sort();
    Ok(names)
}
