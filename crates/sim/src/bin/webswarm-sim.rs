//! Swarm benchmark: one seeder and N leechers with mixed bandwidths; prints the
//! last completion time over the fluid lower bound and the seeder's upload share.
//!
//! Usage: webswarm-sim [N ...] [--file-mib M] [--piece-kib K] [--seed S]

use std::time::Instant;

use webswarm_sim::{Scenario, Sim};

fn main() {
    let mut sizes = Vec::new();
    let mut verbose = false;
    let (mut file_mib, mut piece_kib, mut seed) = (16u64, 64u64, 1u64);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match a.as_str() {
            "--file-mib" => file_mib = num("--file-mib"),
            "--piece-kib" => piece_kib = num("--piece-kib"),
            "--seed" => seed = num("--seed"),
            "-v" | "--verbose" => verbose = true,
            n => sizes.push(
                n.parse::<usize>()
                    .unwrap_or_else(|_| panic!("unknown argument {n}")),
            ),
        }
    }
    if sizes.is_empty() {
        sizes = vec![10, 100, 1000];
    }
    println!(
        "file {file_mib} MiB, pieces {piece_kib} KiB, seeder up 2 MiB/s, leechers up 256 KiB/s-1 MiB/s (down 4x), seed {seed}"
    );
    println!(
        "{:>6} {:>10} {:>10} {:>7} {:>13} {:>9} {:>8}",
        "N", "last (s)", "bound (s)", "ratio", "seeder share", "wall (s)", "ok"
    );
    for n in sizes {
        let mut sc = Scenario::mixed(seed, n, file_mib << 20, piece_kib << 10);
        if let Some(v) = std::env::var("SCALE")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
        {
            for p in &mut sc.peers {
                p.up *= v;
                p.down *= v;
            }
        }
        if let Some(v) = std::env::var("LAT")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            for p in &mut sc.peers {
                p.latency = std::time::Duration::from_millis(v);
            }
        }
        if let Some(v) = std::env::var("SLOTS").ok().and_then(|v| v.parse().ok()) {
            sc.engine.unchoke_slots = v;
        }
        if let Some(v) = std::env::var("QTIME").ok().and_then(|v| v.parse().ok()) {
            sc.engine.request_queue_time = std::time::Duration::from_millis(v);
        }
        if let Some(v) = std::env::var("IDLE").ok().and_then(|v| v.parse().ok()) {
            sc.engine.idle_unchoke_timeout = std::time::Duration::from_millis(v);
        }
        if let Some(v) = std::env::var("RECHOKE").ok().and_then(|v| v.parse().ok()) {
            sc.engine.rechoke_interval = std::time::Duration::from_millis(v);
        }
        let wall = Instant::now();
        let r = Sim::new(sc).run();
        let last = r.last_completion().map_or(f64::NAN, |d| d.as_secs_f64());
        println!(
            "{:>6} {:>10.1} {:>10.1} {:>7.3} {:>12.1}% {:>9.1} {:>8}",
            n,
            last,
            r.fluid_bound.as_secs_f64(),
            r.bound_ratio().unwrap_or(f64::NAN),
            100.0 * r.seeder_share(),
            wall.elapsed().as_secs_f64(),
            r.all_complete()
        );
        if verbose {
            let c = r.completion_times();
            let pct = |q: f64| {
                c.get(((c.len() as f64 - 1.0) * q) as usize)
                    .map_or(f64::NAN, |d| d.as_secs_f64())
            };
            println!(
                "       completions: first {:.1}s p10 {:.1}s p50 {:.1}s p90 {:.1}s",
                pct(0.0),
                pct(0.1),
                pct(0.5),
                pct(0.9)
            );
            let u: Vec<String> = r
                .utilization
                .iter()
                .map(|u| format!("{:.0}", u * 100.0))
                .collect();
            println!("       upload utilisation %/s: {}", u.join(" "));
            println!("       closes: {:?}", r.closes);
        }
    }
}
