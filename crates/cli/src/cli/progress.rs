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
    let w = s.peers_by_wire;
    // Classic wires show once they carry someone: most torrents have none.
    let mut kinds = format!("{} webrtc", w.data_channel);
    for (n, name) in [(w.tcp, "tcp"), (w.utp, "utp")] {
        if n > 0 {
            kinds += &format!(", {n} {name}");
        }
    }
    format!(
        "{} peers ({kinds}){webseeds}  down {}/s  up {}/s",
        s.peers,
        HumanBytes(s.download_rate as u64),
        HumanBytes(s.upload_rate as u64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use webswarm_core::engine::ByWire;

    #[test]
    fn classic_wires_show_when_they_carry_peers() {
        let mut s = Snapshot {
            peers: 2,
            peers_by_wire: ByWire {
                data_channel: 2,
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(describe(&s).starts_with("2 peers (2 webrtc)  down"));
        s.peers = 4;
        s.peers_by_wire.utp = 2;
        s.webseeds = 1;
        assert!(describe(&s).starts_with("4 peers (2 webrtc, 2 utp) + 1 webseed  down"));
    }
}
