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
}

pub(crate) fn print_second(s: &Second) {
    let secs = s.at.as_secs_f64();
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
