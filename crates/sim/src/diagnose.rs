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
        "t={secs:>5.1}s seeds read {} pieces, {} distinct",
        s.seed_piece_reads, s.distinct_seed_pieces
    );
    eprintln!(
        "t={secs:>5.1}s peers with data: {} sending; idle: {} have nothing wanted, \
         {} choke everyone who wants, {} unchoked but not asked (requests in flight)",
        s.sending, s.unwanted, s.choking, s.unasked
    );
}
