//! Per-second diagnostics (`Scenario::diagnostics`): how much of the seed's
//! upload was new content, and why peers that hold data are not uploading.

use std::time::Duration;

/// One simulated second, as the swarm measured it.
#[derive(Default)]
pub(crate) struct Second {
    pub at: Duration,
    /// Pieces the seeds read from storage this second.
    pub seed_piece_reads: usize,
    pub distinct_seed_pieces: usize,
    /// Distinct pieces the seeds have read since the start, and pieces some
    /// leecher holds verified: how far the seeds' content has entered the swarm.
    pub seed_pieces_so_far: usize,
    pub held_by_leechers: usize,
    /// Each leecher's upload (bytes/s) and verified pieces: how evenly the
    /// swarm progresses (the last leechers finish at their download
    /// capacity, so a spread in the middle is time at the end).
    pub progress: Vec<(f64, usize)>,
    /// Peers holding data: uploading, or idle because nobody wants what
    /// they have, they choke everyone who does, or nobody asked yet.
    pub sending: usize,
    pub unwanted: usize,
    pub choking: usize,
    pub unasked: usize,
    /// Bytes sent, upload capacity of leechers with no verified piece yet,
    /// and the upload capacity of every peer present (bytes/s).
    pub capacity: (f64, f64, f64),
}

pub(crate) fn print_second(s: &Second) {
    let secs = s.at.as_secs_f64();
    // Where the swarm's upload went: what the fluid bound counts as usable
    // is all of it, so the three shares say where a ratio above 1 comes from.
    let (sent, empty, all) = s.capacity;
    let pct = |x: f64| 100.0 * x / all.max(1.0);
    eprintln!(
        "t={secs:>5.1}s upload capacity: {:.1} % used, {:.1} % held by leechers with no piece yet, \
         {:.1} % idle with data",
        pct(sent),
        pct(empty),
        pct(all - empty - sent)
    );
    eprintln!(
        "t={secs:>5.1}s seeds read {} pieces, {} distinct ({} distinct so far; {} held by some leecher)",
        s.seed_piece_reads, s.distinct_seed_pieces, s.seed_pieces_so_far, s.held_by_leechers
    );
    print_progress(secs, &s.progress);
    eprintln!(
        "t={secs:>5.1}s peers with data: {} sending; idle: {} have nothing wanted, \
         {} choke everyone who wants, {} unchoked but not asked (requests in flight)",
        s.sending, s.unwanted, s.choking, s.unasked
    );
}

/// Leechers' verified pieces: quantiles, and the mean by upload class.
fn print_progress(secs: f64, progress: &[(f64, usize)]) {
    let mut held: Vec<usize> = progress.iter().map(|&(_, n)| n).collect();
    held.sort_unstable();
    let q = |f: f64| crate::report::quantile(&held, f).copied().unwrap_or(0);
    let mut classes: std::collections::BTreeMap<u64, (usize, usize)> = Default::default();
    for &(up, n) in progress {
        let c = classes.entry(up as u64 / 1024).or_default();
        c.0 += n;
        c.1 += 1;
    }
    let by_class: Vec<String> = classes
        .iter()
        .map(|(kib, (sum, count))| format!("{kib}: {:.0}", *sum as f64 / *count as f64))
        .collect();
    eprintln!(
        "t={secs:>5.1}s leechers' pieces: min {} p10 {} p50 {} p90 {} max {}; mean by upload (KiB/s) {}",
        q(0.0),
        q(0.1),
        q(0.5),
        q(0.9),
        q(1.0),
        by_class.join(", ")
    );
}

/// Upload capacity of peers with data that went unused in a second, by cause
/// (bytes). The requests a peer sends travel on the same ordered channel as the
/// blocks it uploads to that neighbour, so when two peers trade, each one's
/// requests wait behind the blocks queued for the other: `behind_data`.
#[derive(Default)]
pub(crate) struct Unused {
    /// Nothing queued; a peer it unchokes has requests out to it while data
    /// is queued on the way back (the requests most likely behind it).
    pub behind_data: f64,
    /// Nothing queued; requests out to it are on the wire.
    pub on_the_wire: f64,
    /// Nothing queued; the peers it unchoked have not heard so yet.
    pub unchoke_on_the_wire: f64,
    /// Nothing queued; a peer it unchoked knows, wants something it has, and
    /// asks for nothing (what it lacks is requested from others).
    pub asks_nothing: f64,
    /// Nothing queued; it chokes every peer that wants something.
    pub choking: f64,
    /// Nothing queued; no peer wants what it has.
    pub unwanted: f64,
    /// Something queued, but less than a tick's capacity.
    pub short: f64,
    /// Sent less because receivers were at their download capacity.
    pub receivers_full: f64,
    /// Upload capacity of the peers with data.
    pub capacity: f64,
}

pub(crate) fn print_unused(at: Duration, u: &Unused) {
    let pct = |x: f64| 100.0 * x / u.capacity.max(1.0);
    eprintln!(
        "t={:>5.1}s unused upload of peers with data: idle {:.1} % with requests behind data on the \
         way back, {:.1} % with requests on the wire, {:.1} % with an unchoke on the wire, {:.1} % \
         unchoked peers asking nothing, {:.1} % choking all who want, {:.1} % wanted by none; \
         {:.1} % queues under a tick; {:.1} % receivers full",
        at.as_secs_f64(),
        pct(u.behind_data),
        pct(u.on_the_wire),
        pct(u.unchoke_on_the_wire),
        pct(u.asks_nothing),
        pct(u.choking),
        pct(u.unwanted),
        pct(u.short),
        pct(u.receivers_full)
    );
}
