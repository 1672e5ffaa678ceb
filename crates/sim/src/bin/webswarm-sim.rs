//! Swarm benchmark: one seeder and N leechers with mixed bandwidths; prints the
//! last completion time over the fluid lower bound and the seeder's upload share.
//!
//! Usage: webswarm-sim [N ...] [--file-mib M] [--piece-kib K] [--seed S]

use std::time::Instant;

use webswarm_sim::{Scenario, Sim};

fn main() {
    let mut sizes = Vec::new();
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
        let sc = Scenario::mixed(seed, n, file_mib << 20, piece_kib << 10);
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
    }
}
