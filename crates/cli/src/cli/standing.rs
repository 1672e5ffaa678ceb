//! What a torrent's trackers say of it, for the user: reachable, refused
//! (with the tracker's reason), or unreachable.

use std::collections::HashSet;
use std::time::Duration;

use webswarm_core::tracker::Standing;

use crate::session::TorrentHandle;
use crate::tracker_client::TrackerState;

/// How long to wait for a first word from any tracker.
const FIRST_REPLY: Duration = Duration::from_secs(15);

/// A tracker's URL without its query: a token there is a credential, and
/// does not belong on a terminal or in a log.
fn shown(url: &str) -> &str {
    url.split_once('?').map_or(url, |(u, _)| u)
}

/// One tracker's verdict on the torrent, once it has one.
enum Verdict {
    Took,
    Pending,
    No(String),
}

fn verdict(h: &TorrentHandle, t: &crate::tracker_client::TrackerHandle) -> Verdict {
    match (&*t.state.borrow(), t.standing(&h.info_hash)) {
        (TrackerState::Connected, Some(Standing::Announced)) => Verdict::Took,
        (TrackerState::Connected, Some(Standing::Refused(why))) => {
            Verdict::No(format!("{}: refused this torrent: {why}", shown(&t.url)))
        }
        (TrackerState::Failed(e), _) => Verdict::No(format!("{}: {e}", shown(&t.url))),
        _ => Verdict::Pending,
    }
}

/// Waits until a tracker of the torrent took its announce. Fails when every
/// tracker refused it or could not be reached, naming each one's reason. A
/// tracker that is connected but silent until the deadline counts as taking
/// it (some trackers do not reply to announces).
pub async fn wait_for_tracker(h: &TorrentHandle) -> Result<(), String> {
    // HTTP and UDP trackers are asked on their own schedule; their peers
    // come when they come.
    if h.trackers().is_empty() {
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + FIRST_REPLY;
    loop {
        let verdicts: Vec<_> = h.trackers().iter().map(|t| verdict(h, t)).collect();
        if verdicts.iter().any(|v| matches!(v, Verdict::Took)) {
            return Ok(());
        }
        let late = tokio::time::Instant::now() > deadline;
        if late
            && h.trackers()
                .iter()
                .any(|t| *t.state.borrow() == TrackerState::Connected)
        {
            return Ok(());
        }
        if late || verdicts.iter().all(|v| matches!(v, Verdict::No(_))) {
            let refused = h
                .trackers()
                .iter()
                .any(|t| matches!(t.standing(&h.info_hash), Some(Standing::Refused(_))));
            let why: Vec<String> = h
                .trackers()
                .iter()
                .zip(verdicts)
                .map(|(t, v)| match v {
                    Verdict::No(why) => why,
                    _ => format!("{}: no connection", shown(&t.url)),
                })
                .collect();
            let what = if refused {
                "no tracker took the torrent"
            } else {
                "cannot reach the tracker"
            };
            return Err(format!("{what} ({})", why.join("; ")));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Refusals not shown to the user yet, as lines to print.
#[derive(Default)]
pub struct Refusals {
    shown: HashSet<(String, String)>,
}

impl Refusals {
    /// Lines for refusals that appeared since the last call; a refusal that
    /// ends and comes back is shown again.
    pub fn news(&mut self, h: &TorrentHandle) -> Vec<String> {
        let now: HashSet<(String, String)> = h
            .trackers()
            .iter()
            .filter_map(|t| match t.standing(&h.info_hash)? {
                Standing::Refused(why) => Some((t.url.clone(), why)),
                _ => None,
            })
            .collect();
        let news = now
            .difference(&self.shown)
            .map(|(url, why)| format!("tracker {} refused this torrent: {why}", shown(url)))
            .collect();
        self.shown = now;
        news
    }
}
