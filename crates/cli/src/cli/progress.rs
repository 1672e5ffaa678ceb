//! Progress bars for hashing and transfers.

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

use webswarm_core::host::Stats as Snapshot;

pub fn bytes_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    // The template is a constant; it parses.
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// One line of transfer state under the bar.
pub fn describe(s: &Snapshot) -> String {
    let webseeds = match s.webseeds {
        0 => String::new(),
        1 => " + 1 webseed".to_owned(),
        n => format!(" + {n} webseeds"),
    };
    format!(
        "{} peers ({} webrtc, {} tcp){webseeds}  down {}/s  up {}/s",
        s.peers,
        s.peers - s.tcp_peers,
        s.tcp_peers,
        HumanBytes(s.download_rate as u64),
        HumanBytes(s.upload_rate as u64),
    )
}
