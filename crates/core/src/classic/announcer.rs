//! When one torrent announces to one classic tracker, and with which event:
//! `started` first, `completed` once, `stopped` on leave, the tracker's
//! interval (never under its `min interval` or our floor), a downloader with
//! no peer sooner, and failures backed off with jitter.

use std::time::Duration;

use super::{AnnounceError, AnnounceParams, AnnounceReply, ClassicEvent};
use crate::backoff::backoff;
use crate::rng::Rng;
use crate::tracker::TorrentStatus;
use crate::types::{InfoHash, PeerId, Time};

/// Announce timings.
#[derive(Clone, Debug)]
pub struct AnnouncerConfig {
    /// Until the tracker names an interval.
    pub default_interval: Duration,
    /// No announce comes sooner than this after the last, whatever the tracker says.
    pub min_interval: Duration,
    /// The first re-announce of a downloader with no peer; doubled per retry.
    pub lonely_first: Duration,
    /// The longest wait between a lonely downloader's announces.
    pub lonely_max: Duration,
    /// The longest wait after failures.
    pub retry_max: Duration,
    /// Peers asked for per announce (fewer when the torrent has less room).
    pub numwant: u32,
}

impl Default for AnnouncerConfig {
    fn default() -> Self {
        AnnouncerConfig {
            default_interval: Duration::from_secs(1800),
            min_interval: Duration::from_secs(5),
            lonely_first: Duration::from_secs(5),
            lonely_max: Duration::from_secs(60),
            retry_max: Duration::from_secs(300),
            numwant: 50,
        }
    }
}

/// One torrent's announce schedule for one tracker.
pub struct Announcer {
    cfg: AnnouncerConfig,
    info_hash: InfoHash,
    peer_id: PeerId,
    port: u16,
    key: u32,
    started_sent: bool,
    completed_sent: bool,
    in_flight: bool,
    last: Time,
    next: Time,
    tracker_min: Duration,
    failures: u32,
    lonely_retries: u32,
    last_error: Option<AnnounceError>,
    rng: Rng,
}

impl Announcer {
    /// A schedule whose first announce (`started`) is due at once.
    pub fn new(
        cfg: AnnouncerConfig,
        info_hash: InfoHash,
        peer_id: PeerId,
        port: u16,
        now: Time,
        seed: u64,
    ) -> Self {
        let mut rng = Rng::new(seed);
        Announcer {
            cfg,
            info_hash,
            peer_id,
            port,
            key: rng.next_u64() as u32,
            started_sent: false,
            completed_sent: false,
            in_flight: false,
            last: now,
            next: now,
            tracker_min: Duration::ZERO,
            failures: 0,
            lonely_retries: 0,
            last_error: None,
            rng,
        }
    }

    /// Why the last announce failed, if it did.
    #[must_use]
    pub fn last_error(&self) -> Option<&AnnounceError> {
        self.last_error.as_ref()
    }

    /// An announce has been answered since the last failure.
    #[must_use]
    pub fn is_announced(&self) -> bool {
        self.started_sent && self.last_error.is_none() && !self.in_flight
    }

    fn floor(&self) -> Duration {
        self.cfg.min_interval.max(self.tracker_min)
    }

    fn lonely(status: &TorrentStatus) -> bool {
        status.peers == 0 && !status.complete
    }

    /// When the next announce is due (`None` while one is in flight).
    #[must_use]
    pub fn poll_timeout(&self, status: &TorrentStatus) -> Option<Time> {
        if self.in_flight {
            return None;
        }
        if !self.started_sent || (status.complete && !self.completed_sent) {
            return Some(match self.failures {
                0 => self.next.min(self.last + self.floor()),
                _ => self.next,
            });
        }
        let mut t = self.next;
        if Self::lonely(status) && self.failures == 0 {
            let wait = self.cfg.lonely_first * (1 << self.lonely_retries.min(8));
            t = t.min(self.last + wait.min(self.cfg.lonely_max).max(self.floor()));
        }
        Some(t)
    }

    /// The announce to make now, if one is due; it is then in flight until
    /// `handle_reply`.
    pub fn poll_announce(&mut self, now: Time, status: &TorrentStatus) -> Option<AnnounceParams> {
        let due = self.poll_timeout(status)?;
        if now < due {
            return None;
        }
        let event = if !self.started_sent {
            Some(ClassicEvent::Started)
        } else if status.complete && !self.completed_sent {
            Some(ClassicEvent::Completed)
        } else {
            None
        };
        if Self::lonely(status) && event.is_none() && now < self.next {
            self.lonely_retries += 1;
        } else if !Self::lonely(status) {
            self.lonely_retries = 0;
        }
        self.in_flight = true;
        self.last = now;
        Some(self.params(status, event))
    }

    /// The `stopped` announce for leaving, if the tracker knows us.
    pub fn stop(&mut self, status: &TorrentStatus) -> Option<AnnounceParams> {
        let known = std::mem::take(&mut self.started_sent);
        known.then(|| self.params(status, Some(ClassicEvent::Stopped)))
    }

    fn params(&self, status: &TorrentStatus, event: Option<ClassicEvent>) -> AnnounceParams {
        AnnounceParams {
            info_hash: self.info_hash,
            peer_id: self.peer_id,
            port: self.port,
            uploaded: status.uploaded,
            downloaded: status.downloaded,
            // A magnet without metadata is not a seed.
            left: status.left.unwrap_or(1),
            event,
            numwant: self.cfg.numwant.min(status.room as u32),
            key: self.key,
        }
    }

    /// The answer to the announce in flight.
    pub fn handle_reply(
        &mut self,
        now: Time,
        event: Option<ClassicEvent>,
        r: &Result<AnnounceReply, AnnounceError>,
    ) {
        self.in_flight = false;
        match r {
            Ok(reply) => {
                match event {
                    Some(ClassicEvent::Started) => self.started_sent = true,
                    Some(ClassicEvent::Completed) => self.completed_sent = true,
                    _ => {}
                }
                self.failures = 0;
                self.last_error = None;
                self.tracker_min = reply.min_interval.unwrap_or(Duration::ZERO);
                let interval = reply.interval.unwrap_or(self.cfg.default_interval);
                self.next = now + interval.max(self.floor());
            }
            Err(e) => {
                self.failures += 1;
                self.last_error = Some(e.clone());
                let wait = backoff(self.failures, self.cfg.retry_max, self.rng.next_u64());
                // A refusal is not going away in seconds.
                let wait = match e {
                    AnnounceError::Refused(_) => wait.max(Duration::from_secs(60)),
                    _ => wait,
                };
                self.next = now + wait.max(self.floor());
                self.last = now;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(peers: usize, complete: bool) -> TorrentStatus {
        TorrentStatus {
            peers,
            room: 40,
            left: Some(if complete { 0 } else { 100 }),
            complete,
            ..TorrentStatus::default()
        }
    }

    fn ok(interval: u64) -> Result<AnnounceReply, AnnounceError> {
        Ok(AnnounceReply {
            interval: Some(Duration::from_secs(interval)),
            ..AnnounceReply::default()
        })
    }

    fn announcer() -> Announcer {
        let cfg = AnnouncerConfig::default();
        Announcer::new(cfg, InfoHash([1; 20]), PeerId([2; 20]), 6881, Time::ZERO, 7)
    }

    /// Runs the schedule for `secs`, answering each announce with `reply`;
    /// returns when each announce went out and with which event.
    fn run(
        a: &mut Announcer,
        st: &TorrentStatus,
        secs: u64,
        reply: &Result<AnnounceReply, AnnounceError>,
    ) -> Vec<(u64, Option<ClassicEvent>)> {
        let mut out = Vec::new();
        let mut now = Time::ZERO;
        let end = Time::ZERO + Duration::from_secs(secs);
        while let Some(t) = a.poll_timeout(st) {
            now = now.max(t);
            if now > end {
                break;
            }
            let p = a.poll_announce(now, st).expect("due");
            out.push((now.as_micros() / 1_000_000, p.event));
            a.handle_reply(now, p.event, reply);
        }
        out
    }

    #[test]
    fn started_then_the_trackers_interval() {
        let mut a = announcer();
        let got = run(&mut a, &status(3, false), 2000, &ok(900));
        assert_eq!(
            got,
            vec![(0, Some(ClassicEvent::Started)), (900, None), (1800, None)]
        );
        assert!(a.is_announced());
    }

    #[test]
    fn a_downloader_with_no_peer_asks_again_sooner_but_backs_off() {
        let mut a = announcer();
        let times: Vec<u64> = run(&mut a, &status(0, false), 300, &ok(1800))
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert_eq!(times, vec![0, 5, 15, 35, 75, 135, 195, 255]);
    }

    #[test]
    fn completed_is_sent_once_and_stopped_only_when_known() {
        let mut a = announcer();
        assert_eq!(a.stop(&status(1, false)), None);
        let st = status(1, false);
        let p = a.poll_announce(Time::ZERO, &st).unwrap();
        a.handle_reply(Time::ZERO, p.event, &ok(1800));
        let done = status(1, true);
        let t = a.poll_timeout(&done).unwrap();
        assert_eq!(
            t,
            Time::ZERO + Duration::from_secs(5),
            "not before the floor"
        );
        let p = a.poll_announce(t, &done).unwrap();
        assert_eq!((p.event, p.left), (Some(ClassicEvent::Completed), 0));
        a.handle_reply(t, p.event, &ok(1800));
        assert_eq!(a.poll_timeout(&done), Some(t + Duration::from_secs(1800)));
        assert_eq!(a.stop(&done).unwrap().event, Some(ClassicEvent::Stopped));
        assert_eq!(a.stop(&done), None);
    }

    #[test]
    fn failures_back_off_and_a_refusal_waits_a_minute() {
        let mut a = announcer();
        let got = run(&mut a, &status(0, false), 40, &Err(AnnounceError::Timeout));
        assert!(got.iter().all(|&(_, e)| e == Some(ClassicEvent::Started)));
        let gaps: Vec<u64> = got.windows(2).map(|w| w[1].0 - w[0].0).collect();
        assert!(gaps.iter().all(|&g| g >= 5), "{gaps:?}");
        // Every 5 s would be 9 tries; the backoff leaves fewer.
        assert!(got.len() < 8, "{gaps:?}");
        let mut b = announcer();
        let refused = Err(AnnounceError::Refused("not authorized".into()));
        let got = run(&mut b, &status(0, false), 100, &refused);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[1].0 >= 60);
        assert!(matches!(b.last_error(), Some(AnnounceError::Refused(_))));
    }

    #[test]
    fn numwant_follows_the_room_and_a_magnet_is_not_a_seed() {
        let mut a = announcer();
        let st = TorrentStatus {
            room: 3,
            left: None,
            ..TorrentStatus::default()
        };
        let p = a.poll_announce(Time::ZERO, &st).unwrap();
        assert_eq!((p.numwant, p.left), (3, 1));
        assert_eq!(a.poll_timeout(&st), None, "in flight");
    }
}
