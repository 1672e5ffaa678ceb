//! Swarm benchmark: one seeder and N leechers with mixed bandwidths; prints the
//! last completion time over the fluid lower bound and the seeder's upload share.
//!
//! Usage: webswarm-sim [N ...] [--file-mib M] [--piece-kib K] [--seed S]
//!                     [--seeds K] [--choking tit-for-tat|swarm|both]
//!                     [--queue-ms MS] [--slots K] [--latency-pct P] [--uplink fair|serial]
//!                     [-v] [--diagnose]
//!
//! `--seeds K` runs seeds S..S+K-1 and prints the median ratio per N and policy.

use std::time::{Duration, Instant};

use webswarm_core::engine::Choking;
use webswarm_sim::{origin_alone, quantile, PeerSpec, Report, Scenario, Sim, Uplink};

struct Args {
    sizes: Vec<usize>,
    file_mib: u64,
    piece_kib: u64,
    seed: u64,
    seeds: u64,
    policies: Vec<Choking>,
    queue_ms: Option<u64>,
    slots: Option<usize>,
    /// Every link's latency scaled to this percentage (100: as drawn).
    latency_pct: u64,
    uplink: Uplink,
    verbose: bool,
    diagnose: bool,
    /// Site mode: the origin's upload (KiB/s) and the arrival window (s).
    origin_kib: Option<u64>,
    arrive_secs: u64,
}

const USAGE: &str =
    "usage: webswarm-sim [N ...] [--file-mib M] [--piece-kib K] [--seed S] [--seeds K]
                    [--choking tit-for-tat|swarm|both] [--queue-ms MS] [--slots K] [-v] [--diagnose]
                    [--latency-pct P] [--uplink fair|serial] [--origin-kib K --arrive-secs S]
  N ...          swarm sizes (leechers; default 10 100 1000), one seeder each
  --seeds K      runs seeds S..S+K-1 and prints the median ratio per N and policy
  --latency-pct P every peer's latency at P % of the 10-60 ms drawn (0: none), to
                 tell what the links' latency costs from what the pieces cost
  --uplink serial each sender serves one connection at a time, oldest message
                 first (control first), instead of sharing its upload equally:
                 what an upload scheduler that finishes one piece before the
                 next could at best give (no shell does it)
  --origin-kib K site mode: no seeder, visitors arrive over --arrive-secs (120) and
                 fetch from an origin webseed with K KiB/s of upload";

/// Ends the program with `why` and the usage (exit status 2).
fn bad(why: &str) -> ! {
    eprintln!("webswarm-sim: {why}\n{USAGE}");
    std::process::exit(2)
}

fn parse() -> Args {
    let mut a = Args {
        sizes: Vec::new(),
        file_mib: 16,
        piece_kib: 64,
        seed: 1,
        seeds: 1,
        policies: vec![Choking::TitForTat, Choking::Swarm],
        queue_ms: None,
        slots: None,
        latency_pct: 100,
        uplink: Uplink::Fair,
        verbose: false,
        diagnose: false,
        origin_kib: None,
        arrive_secs: 120,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--choking" {
            a.policies = match it.next().as_deref() {
                Some("both") => vec![Choking::TitForTat, Choking::Swarm],
                Some(p) => vec![p
                    .parse()
                    .unwrap_or_else(|e| bad(&format!("--choking {e} or both")))],
                None => bad("--choking takes tit-for-tat, swarm or both"),
            };
            continue;
        }
        if arg == "--uplink" {
            a.uplink = match it.next().as_deref() {
                Some("fair") => Uplink::Fair,
                Some("serial") => Uplink::Serial,
                _ => bad("--uplink takes fair or serial"),
            };
            continue;
        }
        let mut num = || -> u64 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| bad(&format!("{arg} needs a number")))
        };
        match arg.as_str() {
            "--file-mib" => a.file_mib = num(),
            "--piece-kib" => a.piece_kib = num(),
            "--seed" => a.seed = num(),
            "--seeds" => a.seeds = num().max(1),
            "--queue-ms" => a.queue_ms = Some(num()),
            "--slots" => a.slots = Some(num() as usize),
            "--latency-pct" => a.latency_pct = num(),
            "-v" | "--verbose" => a.verbose = true,
            "--diagnose" => a.diagnose = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0)
            }
            "--origin-kib" => a.origin_kib = Some(num()),
            "--arrive-secs" => a.arrive_secs = num(),
            n => a.sizes.push(
                n.parse()
                    .unwrap_or_else(|_| bad(&format!("unknown argument {n}"))),
            ),
        }
    }
    if a.sizes.is_empty() {
        a.sizes = vec![10, 100, 1000];
    }
    a
}

fn main() {
    let a = parse();
    if a.origin_kib.is_some() {
        return site(&a);
    }
    println!(
        "file {} MiB, pieces {} KiB, seeder up 2 MiB/s, leechers up 256 KiB/s-1 MiB/s (down 4x), latency 10-60 ms per end at {} %, uplink {:?}, seeds {}..={}",
        a.file_mib,
        a.piece_kib,
        a.latency_pct,
        a.uplink,
        a.seed,
        a.seed + a.seeds - 1
    );
    println!(
        "{:>6} {:>11} {:>5} {:>10} {:>10} {:>7} {:>13} {:>9} {:>8}",
        "N", "choking", "seed", "last (s)", "bound (s)", "ratio", "seeder share", "wall (s)", "ok"
    );
    for &n in &a.sizes {
        for &policy in &a.policies {
            let mut ratios: Vec<f64> = (a.seed..a.seed + a.seeds)
                .map(|seed| run(&a, n, policy, seed))
                .collect();
            if a.seeds > 1 {
                ratios.sort_by(f64::total_cmp);
                println!(
                    "{:>6} {:>11} {:>5} median ratio {:.3} (min {:.3}, max {:.3})",
                    n,
                    policy.name(),
                    "all",
                    ratios[ratios.len() / 2],
                    ratios[0],
                    ratios[ratios.len() - 1]
                );
            }
        }
    }
}

/// One simulation; prints its row (and details with -v) and returns its ratio.
fn run(a: &Args, n: usize, policy: Choking, seed: u64) -> f64 {
    let mut sc = Scenario::mixed(seed, n, a.file_mib << 20, a.piece_kib << 10);
    sc.engine.choking = policy;
    if let Some(ms) = a.queue_ms {
        sc.engine.request_queue_time = Duration::from_millis(ms);
    }
    if let Some(k) = a.slots {
        sc.engine.unchoke_slots = k;
    }
    // Scaled after the draw, so every other draw of the seed stays the same.
    for p in &mut sc.peers {
        p.latency = p.latency * a.latency_pct as u32 / 100;
    }
    sc.diagnostics = a.diagnose;
    sc.uplink = a.uplink;
    let wall = Instant::now();
    let specs = sc.peers.clone();
    let r = Sim::new(sc).run();
    let ratio = r.bound_ratio().unwrap_or(f64::NAN);
    println!(
        "{:>6} {:>11} {:>5} {:>10.1} {:>10.1} {:>7.3} {:>12.1}% {:>9.1} {:>8}",
        n,
        policy.name(),
        seed,
        r.last_completion().map_or(f64::NAN, |d| d.as_secs_f64()),
        r.fluid_bound.as_secs_f64(),
        ratio,
        100.0 * r.seeder_share(),
        wall.elapsed().as_secs_f64(),
        r.all_complete()
    );
    if a.verbose {
        details(&r, &specs);
    }
    ratio
}

fn details(r: &Report, specs: &[PeerSpec]) {
    let c = r.completion_times();
    let pct = |q: f64| quantile(&c, q).map_or(f64::NAN, |d| d.as_secs_f64());
    println!(
        "       completions: first {:.1}s p10 {:.1}s p50 {:.1}s p90 {:.1}s",
        pct(0.0),
        pct(0.1),
        pct(0.5),
        pct(0.9)
    );
    let firsts = |f: fn(&webswarm_sim::PeerOutcome) -> Option<Duration>| {
        spread(r.peers.iter().filter(|p| !p.seed).filter_map(f).collect())
    };
    println!("       first peer: {}", firsts(|p| p.first_peer));
    println!("       first piece: {}", firsts(|p| p.first_piece));
    let u: Vec<String> = r
        .utilization
        .iter()
        .map(|u| format!("{:.0}", u * 100.0))
        .collect();
    println!("       upload utilisation %/s: {}", u.join(" "));
    println!("       engine closes: {:?}", r.closes);
    println!(
        "       connections opened: {}, trace hash {:016x}",
        r.connections, r.trace_hash
    );
    let mut last: Vec<(f64, f64)> = r
        .peers
        .iter()
        .zip(specs)
        .filter_map(|(p, s)| Some((p.completed?.as_secs_f64(), s.up / 1024.0)))
        .collect();
    last.sort_by(|a, b| b.0.total_cmp(&a.0));
    let slowest: Vec<String> = last
        .iter()
        .take(5)
        .map(|(t, up)| format!("{t:.1}s@{up:.0}KiB/s"))
        .collect();
    println!(
        "       last to finish (time@upload): {}",
        slowest.join(", ")
    );
}

/// Site mode: visitors arrive over a window and the origin is a webseed;
/// how much the origin served, and each visitor against the origin alone.
fn site(a: &Args) {
    let up = a.origin_kib.unwrap_or(0) as f64 * 1024.0;
    println!(
        "file {} MiB, pieces {} KiB, origin up {} KiB/s, visitors arrive over {} s (up 256 KiB/s-1 MiB/s, down 4x), no seeder",
        a.file_mib,
        a.piece_kib,
        a.origin_kib.unwrap_or(0),
        a.arrive_secs
    );
    println!(
        "{:>6} {:>11} {:>5} {:>13} {:>17} {:>18} {:>9} {:>5}",
        "N",
        "choking",
        "seed",
        "origin share",
        "later than alone",
        "median vs alone",
        "wall (s)",
        "ok"
    );
    for &n in &a.sizes {
        for &policy in &a.policies {
            for seed in a.seed..a.seed + a.seeds {
                let mut sc = Scenario::site(
                    seed,
                    n,
                    Duration::from_secs(a.arrive_secs),
                    a.file_mib << 20,
                    a.piece_kib << 10,
                    up,
                );
                sc.engine.choking = policy;
                let joins: Vec<Duration> = sc.peers.iter().map(|p| p.join).collect();
                let downs: Vec<f64> = sc.peers.iter().map(|p| p.down).collect();
                let alone = origin_alone(&joins, &downs, sc.file_len, up, sc.tick);
                let wall = Instant::now();
                let r = Sim::new(sc).run();
                let mut ratios: Vec<f64> = r
                    .peers
                    .iter()
                    .zip(&alone)
                    .filter_map(|(p, al)| {
                        Some((p.completed? - p.joined).as_secs_f64() / al.as_secs_f64())
                    })
                    .collect();
                ratios.sort_by(f64::total_cmp);
                let later = ratios.iter().filter(|&&x| x > 1.0).count();
                println!(
                    "{:>6} {:>11} {:>5} {:>12.1}% {:>17} {:>17.3}x {:>9.1} {:>5}",
                    n,
                    policy.name(),
                    seed,
                    100.0 * r.origin_share(),
                    later,
                    ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN),
                    wall.elapsed().as_secs_f64(),
                    r.all_complete()
                );
                if a.verbose {
                    details(&r, &[]);
                }
            }
        }
    }
}

/// p10, median, p90 and the last of some leechers' times.
fn spread(mut v: Vec<Duration>) -> String {
    v.sort();
    let q = |x: f64| quantile(&v, x).map_or(f64::NAN, Duration::as_secs_f64);
    format!(
        "p10 {:.2}s p50 {:.2}s p90 {:.2}s max {:.2}s",
        q(0.1),
        q(0.5),
        q(0.9),
        q(1.0)
    )
}
