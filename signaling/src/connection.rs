//! Rules about one connection, without sockets: how fast it may announce (a
//! token bucket), which torrents it has joined (a bounded number) and the one
//! peer id it uses in each. They are checked where the connection is served,
//! before any shard is locked: a refusal costs one reply and
//! touches no shared state.

use std::collections::HashMap;

use webswarm_core::Time;
use webswarm_tracker_proto::{Announce, AnnounceEvent, InfoHash, PeerId};

use crate::refusal::Refusal;

/// Limits on one connection.
#[derive(Clone, Debug)]
pub struct ConnLimits {
    pub max_torrents: usize,
    pub max_scrape_hashes: usize,
    /// Announces: sustained rate and burst.
    pub announces_per_second: f64,
    pub announce_burst: f64,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_torrents: 10_000,
            max_scrape_hashes: 255,
            announces_per_second: 10.0,
            announce_burst: 50.0,
        }
    }
}

pub struct ConnRules {
    tokens: f64,
    refilled: Time,
    joined: HashMap<InfoHash, PeerId>,
}

impl ConnRules {
    pub fn new(limits: &ConnLimits, now: Time) -> Self {
        ConnRules {
            tokens: limits.announce_burst,
            refilled: now,
            joined: HashMap::new(),
        }
    }

    /// Admits an announce, or says why not. An admitted announce has joined
    /// its torrent (or left it, for `stopped`) as far as this connection counts.
    pub fn admit(&mut self, limits: &ConnLimits, a: &Announce, now: Time) -> Result<(), Refusal> {
        if !self.take_token(limits, now) {
            return Err(Refusal::TooFast);
        }
        match self.joined.get(&a.info_hash) {
            Some(id) if *id != a.peer_id => return Err(Refusal::OtherPeerId),
            None if self.joined.len() >= limits.max_torrents => {
                return Err(Refusal::TooManyTorrents(limits.max_torrents))
            }
            _ => {}
        }
        if a.event == Some(AnnounceEvent::Stopped) {
            self.joined.remove(&a.info_hash);
        } else {
            self.joined.insert(a.info_hash, a.peer_id);
        }
        Ok(())
    }

    /// The swarm dropped this connection's peer (timed out, or taken over by
    /// another connection announcing the same peer id).
    pub fn forget(&mut self, ih: &InfoHash, peer: &PeerId) {
        if self.joined.get(ih) == Some(peer) {
            self.joined.remove(ih);
        }
    }

    pub fn joined(&self) -> usize {
        self.joined.len()
    }

    fn take_token(&mut self, limits: &ConnLimits, now: Time) -> bool {
        let dt = now.saturating_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + dt * limits.announces_per_second).min(limits.announce_burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Checks a scrape's length against the limits.
pub fn check_scrape(limits: &ConnLimits, hashes: &[InfoHash]) -> Result<(), Refusal> {
    if hashes.is_empty() {
        return Err(Refusal::EmptyScrape);
    }
    if hashes.len() > limits.max_scrape_hashes {
        return Err(Refusal::ScrapeTooLong(limits.max_scrape_hashes));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn announce(ih: u8, peer: u8, event: Option<AnnounceEvent>) -> Announce {
        Announce {
            action: "announce",
            info_hash: InfoHash([ih; 20]),
            peer_id: PeerId([peer; 20]),
            numwant: None,
            uploaded: 0,
            downloaded: 0,
            left: Some(1),
            event,
            offers: Vec::new(),
            trackerid: None,
        }
    }

    #[test]
    fn the_bucket_allows_a_burst_then_the_sustained_rate() {
        let limits = ConnLimits {
            announce_burst: 3.0,
            announces_per_second: 1.0,
            ..ConnLimits::default()
        };
        let mut now = Time::from_millis(1000);
        let mut r = ConnRules::new(&limits, now);
        for _ in 0..3 {
            assert_eq!(r.admit(&limits, &announce(1, 1, None), now), Ok(()));
        }
        assert_eq!(
            r.admit(&limits, &announce(1, 1, None), now),
            Err(Refusal::TooFast)
        );
        now = now + Duration::from_secs(1);
        assert_eq!(r.admit(&limits, &announce(1, 1, None), now), Ok(()));
    }

    #[test]
    fn one_peer_id_per_torrent_and_a_bounded_number_of_torrents() {
        let limits = ConnLimits {
            max_torrents: 2,
            ..ConnLimits::default()
        };
        let now = Time::from_millis(1000);
        let mut r = ConnRules::new(&limits, now);
        assert_eq!(r.admit(&limits, &announce(1, 1, None), now), Ok(()));
        assert_eq!(
            r.admit(&limits, &announce(1, 2, None), now),
            Err(Refusal::OtherPeerId)
        );
        assert_eq!(r.admit(&limits, &announce(2, 1, None), now), Ok(()));
        let refused = r.admit(&limits, &announce(3, 1, None), now).unwrap_err();
        assert_eq!(refused, Refusal::TooManyTorrents(2));
        assert!(
            refused.reason().contains("at most 2"),
            "{}",
            refused.reason()
        );
        // Leaving one (stopped, or dropped by its swarm) makes room.
        let stopped = announce(1, 1, Some(AnnounceEvent::Stopped));
        assert_eq!(r.admit(&limits, &stopped, now), Ok(()));
        assert_eq!(r.admit(&limits, &announce(3, 1, None), now), Ok(()));
        r.forget(&InfoHash([2; 20]), &PeerId([9; 20]));
        assert_eq!(r.joined(), 2, "forgetting another peer id changes nothing");
        r.forget(&InfoHash([2; 20]), &PeerId([1; 20]));
        assert_eq!(r.joined(), 1);
    }

    #[test]
    fn scrapes_name_between_one_and_the_limit_of_hashes() {
        let limits = ConnLimits {
            max_scrape_hashes: 2,
            ..ConnLimits::default()
        };
        let h = |n: u8| (0..n).map(|i| InfoHash([i; 20])).collect::<Vec<_>>();
        assert_eq!(check_scrape(&limits, &h(0)), Err(Refusal::EmptyScrape));
        assert_eq!(check_scrape(&limits, &h(2)), Ok(()));
        let e = check_scrape(&limits, &h(3)).unwrap_err();
        assert_eq!(e.reason(), "scrape of at most 2 info_hashes");
        assert_eq!(e.action(), "scrape");
    }
}
