//! One WebSocket tracker, as every platform talks to it: the socket's
//! reconnect schedule, each torrent's announce schedule, and the table of
//! our offers waiting for answers. The platform owns the socket and the
//! WebRTC objects; this decides when to connect, what to send, which offers
//! to make, answer, accept or drop.

use std::collections::VecDeque;
use std::time::Duration;

use super::messages::{Announce, AnnounceEvent, Answer, Incoming, OfferId};
use crate::backoff::{backoff, lonely_wait};
use crate::rng::Rng;
use crate::types::{InfoHash, PeerId, Time};
use crate::vec_map::VecMap;
use pace::Pace;

/// Announce and socket timings; the defaults are WebTorrent's where it has one.
#[derive(Clone, Debug)]
pub struct TrackerConfig {
    /// Most offers sent with an announce (WebTorrent sends 5). Once the
    /// tracker has counted the swarm, no more than the peers it can relay
    /// them to: a seed's go to leechers only (none when there are none), a
    /// leecher's to anyone else (at least one: a tracker may leave us out of
    /// its count). Each offer holds a connection being set up for up to
    /// `offer_ttl`, and counts against `max_pending_offers`.
    pub offers_per_announce: usize,
    /// Re-announce interval until the tracker names one.
    pub default_interval: Duration,
    /// The shortest interval a tracker may set.
    pub min_interval: Duration,
    /// An offer nobody answered is dropped after this long.
    pub offer_ttl: Duration,
    /// Longest wait between attempts to reach the tracker.
    pub reconnect_max: Duration,
    /// A socket not open after this long counts as a failed attempt.
    pub connect_timeout: Duration,
    /// Offers waiting for an answer, across torrents: each holds a
    /// connection being set up on the platform.
    pub max_pending_offers: usize,
    /// An incomplete torrent that has received nothing for this long looks
    /// for peers as one with none does: its peers may all be fakes or
    /// stalled, and the tracker picks at random whom our offers reach.
    pub stall_after: Duration,
    /// Announces one socket sends at once, then one per `announce_spacing`:
    /// what our tracker allows a connection (50, then 10 a second), less
    /// ten for announces that reach it closer together than they were sent.
    pub announce_burst: u32,
    /// See `announce_burst`.
    pub announce_spacing: Duration,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            offers_per_announce: 5,
            default_interval: Duration::from_secs(120),
            min_interval: Duration::from_secs(5),
            offer_ttl: Duration::from_secs(50),
            reconnect_max: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_pending_offers: 50,
            stall_after: Duration::from_secs(5),
            announce_burst: 40,
            announce_spacing: Duration::from_millis(100),
        }
    }
}

/// What the tracker client needs to know of a torrent, refreshed by the
/// platform with [`TrackerClient::set_status`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TorrentStatus {
    /// Open connections.
    pub peers: usize,
    /// More connections it takes now (0 when full or paused).
    pub room: usize,
    /// Bytes still wanted; `None` before a magnet's metadata.
    pub left: Option<u64>,
    /// Bytes sent to peers.
    pub uploaded: u64,
    /// Bytes received.
    pub downloaded: u64,
    /// Every wanted piece is verified.
    pub complete: bool,
    /// When data last arrived (or the torrent started).
    pub last_progress: Time,
}

/// Work for the platform, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum TrackerWork {
    /// Open the socket; answer with `handle_connected` or `handle_disconnected`.
    Connect,
    /// Close the socket (it did not open in time); no answer is expected.
    Disconnect,
    /// Send this text frame.
    Send(String),
    /// Create one WebRTC offer per id and report them together with
    /// `handle_offers_made` (fewer if the connection budget is spent).
    MakeOffers {
        /// The torrent.
        info_hash: InfoHash,
        /// One id per offer.
        ids: Vec<OfferId>,
    },
    /// Answer a remote offer: report the SDP with `handle_answer_made`, then
    /// hand the channel, once open, to the torrent (we did not offer).
    AnswerOffer {
        /// The torrent.
        info_hash: InfoHash,
        /// The offerer's id.
        remote: PeerId,
        /// Names the offer in our answer.
        offer_id: OfferId,
        /// The offer's SDP.
        sdp: String,
    },
    /// The remote answered our offer: apply the SDP and hand the channel,
    /// once open, to the torrent (we offered).
    AcceptAnswer {
        /// The torrent.
        info_hash: InfoHash,
        /// The answerer's id.
        remote: PeerId,
        /// Our offer.
        offer_id: OfferId,
        /// The answer's SDP.
        sdp: String,
    },
    /// Close this offer's connection: nobody answered it in time, or the
    /// socket it was sent on is gone.
    DropOffer(OfferId),
}

/// What the tracker said of a torrent since the socket opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standing {
    /// No reply to its announce yet.
    Unanswered,
    /// The tracker took its last announce.
    Announced,
    /// The tracker refused it, with this reason (not on its allow-list, an
    /// expired token...): peers will not come from this tracker until the
    /// reason goes away.
    Refused(String),
}

enum Socket {
    Down { retry_at: Time },
    Connecting { deadline: Time },
    Up,
}

struct Joined {
    peer_id: PeerId,
    status: TorrentStatus,
    next_announce: Time,
    last_offers: Time,
    /// Announces in a row made because it had no peer ([`lonely_wait`]).
    lonely_retries: u32,
    interval: Duration,
    started: bool,
    completed_sent: bool,
    /// Offers asked of the platform and not reported yet (since when, how many).
    making_offers: Option<(Time, usize)>,
    /// Offers made while the socket was connecting: they go out with the
    /// first announce (a WebRTC offer takes about as long as the socket).
    early_offers: Vec<(OfferId, String)>,
    standing: Standing,
    /// Seeds and leechers by the tracker's last count, if it gave one.
    counts: Option<(u32, u32)>,
}

impl Joined {
    /// No peer, or none that sends anything: worth announcing again soon.
    fn lonely(&self, now: Time, stall: Duration) -> bool {
        !self.status.complete && (self.status.peers == 0 || now >= self.stalls_at(stall))
    }

    fn stalls_at(&self, stall: Duration) -> Time {
        self.status.last_progress + stall
    }

    fn lonely_due(&self) -> Time {
        self.last_offers + lonely_wait(self.lonely_retries)
    }

    /// Offers worth making, at most `most`: the tracker relays each to a
    /// different peer (see [`TrackerConfig::offers_per_announce`]).
    fn offers_wanted(&self, most: usize) -> usize {
        let reach = match self.counts {
            None => most,
            Some((_, leechers)) if self.status.complete => leechers as usize,
            // Saturating: a hostile count must not overflow a 32-bit usize.
            Some((seeds, leechers)) => {
                seeds.saturating_add(leechers).saturating_sub(1).max(1) as usize
            }
        };
        reach.min(most)
    }

    fn announce(&self, info_hash: InfoHash, event: Option<AnnounceEvent>) -> Announce {
        Announce {
            info_hash,
            peer_id: self.peer_id,
            uploaded: self.status.uploaded,
            downloaded: self.status.downloaded,
            left: self.status.left,
            event,
            offers: Vec::new(),
        }
    }

    /// An announce carrying `made`, each offer pending (for its answer)
    /// until `expires`.
    fn announce_offers(
        &self,
        info_hash: InfoHash,
        event: Option<AnnounceEvent>,
        made: Vec<(OfferId, String)>,
        expires: Time,
        pending: &mut VecMap<OfferId, Pending>,
    ) -> Announce {
        for (id, _) in &made {
            pending.insert(*id, Pending { info_hash, expires });
        }
        Announce {
            offers: made,
            ..self.announce(info_hash, event)
        }
    }
}

struct Pending {
    info_hash: InfoHash,
    expires: Time,
}

/// One tracker URL, shared by every torrent of a client.
pub struct TrackerClient {
    cfg: TrackerConfig,
    socket: Socket,
    failures: u32,
    torrents: VecMap<InfoHash, Joined>,
    offers: VecMap<OfferId, Pending>,
    rng: Rng,
    out: VecDeque<TrackerWork>,
    last_error: Option<String>,
    /// Bumped whenever a torrent's [`Standing`] may have changed.
    standings_epoch: u64,
    pace: Pace,
    /// When the pace lets the next waiting announce go, if one waits.
    paced_until: Option<Time>,
}

impl TrackerClient {
    /// Starts connecting at once. `seed` drives offer ids and reconnect jitter.
    pub fn new(cfg: TrackerConfig, now: Time, seed: u64) -> Self {
        let mut t = TrackerClient {
            cfg,
            socket: Socket::Down { retry_at: now },
            failures: 0,
            torrents: VecMap::new(),
            offers: VecMap::new(),
            rng: Rng::new(seed),
            out: VecDeque::new(),
            last_error: None,
            standings_epoch: 0,
            pace: Pace::new(now),
            paced_until: None,
        };
        t.handle_timeout(now);
        t
    }

    /// The socket is open.
    pub fn is_connected(&self) -> bool {
        matches!(self.socket, Socket::Up)
    }

    /// Why the last attempt or request failed, until the socket is up again.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// What the tracker last said of a joined torrent on this socket.
    pub fn standing(&self, info_hash: &InfoHash) -> Option<&Standing> {
        self.torrents.get(info_hash).map(|j| &j.standing)
    }

    /// Changes whenever a torrent's standing may have: platforms that show
    /// standings look again only then.
    pub fn standings_epoch(&self) -> u64 {
        self.standings_epoch
    }

    /// Offers waiting for an answer.
    pub fn pending_offers(&self) -> usize {
        self.offers.len()
    }

    #[must_use]
    /// The next work for the platform, in order; `None` when there is none.
    pub fn poll_work(&mut self) -> Option<TrackerWork> {
        self.out.pop_front()
    }

    /// The next time `handle_timeout` has work, if any.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Time> {
        let offers = self.offers.values().map(|p| p.expires).min();
        let socket = match self.socket {
            Socket::Down { retry_at } => Some(retry_at),
            Socket::Connecting { deadline } => Some(deadline),
            Socket::Up => self
                .torrents
                .values()
                .filter(|j| j.making_offers.is_none())
                .map(|j| match (j.status.complete, j.status.peers) {
                    // A `started` or offers held for the pace: due as soon
                    // as it allows.
                    _ if !j.started || !j.early_offers.is_empty() => j.last_offers,
                    (true, _) => j.next_announce,
                    (false, 0) => j.next_announce.min(j.lonely_due()),
                    // It turns lonely at `stalls_at` if nothing arrives.
                    (false, _) => j
                        .next_announce
                        .min(j.lonely_due().max(j.stalls_at(self.cfg.stall_after))),
                })
                .min(),
        };
        // Every timer of an open socket leads to an announce: while one
        // waits for the pace, none comes sooner (a due time in the past would
        // have the platform call again at once, and again).
        let socket = match (socket, self.paced_until, self.is_connected()) {
            (Some(t), Some(p), true) => Some(t.max(p)),
            (t, _, _) => t,
        };
        [offers, socket].into_iter().flatten().min()
    }

    // ---- torrents -------------------------------------------------------------

    /// Starts announcing a torrent. A torrent joined already keeps its peer
    /// id, schedule and offers, and takes `status`.
    pub fn join(&mut self, now: Time, info_hash: InfoHash, peer_id: PeerId, status: TorrentStatus) {
        // Joined already (a resume while not paused): replacing it would
        // lose the offers it holds, unannounced and never closed.
        if let Some(j) = self.torrents.get_mut(&info_hash) {
            j.status = status;
            self.announce_due(now);
            return;
        }
        let j = Joined {
            peer_id,
            status,
            next_announce: now,
            last_offers: now,
            lonely_retries: 0,
            interval: self.cfg.default_interval,
            started: false,
            completed_sent: false,
            making_offers: None,
            early_offers: Vec::new(),
            standing: Standing::Unanswered,
            counts: None,
        };
        self.torrents.insert(info_hash, j);
        self.standings_epoch += 1;
        self.announce_due(now);
    }

    /// Stops announcing a torrent, telling the tracker, and drops its offers.
    pub fn leave(&mut self, info_hash: InfoHash) {
        let Some(mut j) = self.torrents.remove(&info_hash) else {
            return;
        };
        self.standings_epoch += 1;
        self.drop_offers(|p| p.info_hash == info_hash);
        drop_made(&mut self.out, std::mem::take(&mut j.early_offers));
        if self.is_connected() && j.started {
            let a = j.announce(info_hash, Some(AnnounceEvent::Stopped));
            self.out.push_back(TrackerWork::Send(a.to_json()));
        }
    }

    /// The torrent's status changed (peers, counters, completion).
    pub fn set_status(&mut self, now: Time, info_hash: InfoHash, status: TorrentStatus) {
        if let Some(j) = self.torrents.get_mut(&info_hash) {
            j.status = status;
            self.announce_due(now);
        }
    }

    // ---- the socket -------------------------------------------------------------

    /// The socket opened: every torrent announces again.
    pub fn handle_connected(&mut self, now: Time) {
        self.socket = Socket::Up;
        // The tracker counts per connection: a new one starts afresh.
        self.pace = Pace::new(now);
        self.failures = 0;
        self.last_error = None;
        // A new socket: every torrent joins again.
        for j in self.torrents.values_mut() {
            j.started = false;
            // Offers made (or being made) while it connected are this
            // announce's; the others are due now.
            if j.early_offers.is_empty() && j.making_offers.is_none() {
                j.next_announce = now;
            }
            j.standing = Standing::Unanswered;
        }
        self.standings_epoch += 1;
        self.announce_due(now);
    }

    /// The socket closed or could not open; `why` is kept for the user.
    pub fn handle_disconnected(&mut self, now: Time, why: &str) {
        if matches!(self.socket, Socket::Down { .. }) {
            return;
        }
        self.failures += 1;
        let wait = backoff(self.failures, self.cfg.reconnect_max, self.rng.next_u64());
        self.socket = Socket::Down {
            retry_at: now + wait,
        };
        self.last_error = Some(why.to_owned());
        // Answers to offers sent over the old socket can no longer arrive.
        self.drop_offers(|_| true);
        for j in self.torrents.values_mut() {
            j.started = false;
            j.making_offers = None;
            drop_made(&mut self.out, std::mem::take(&mut j.early_offers));
        }
    }

    /// A text frame from the tracker; anything malformed is ignored.
    pub fn handle_message(&mut self, now: Time, text: &str) {
        match Incoming::parse(text) {
            Some(Incoming::Announced {
                info_hash,
                interval,
                counts,
            }) => {
                if let Some(j) = self.torrents.get_mut(&info_hash) {
                    j.counts = counts.or(j.counts);
                    let secs = Duration::from_secs(u64::from(interval));
                    j.interval = secs.max(self.cfg.min_interval);
                    j.next_announce = j.next_announce.min(now + j.interval);
                    if j.standing != Standing::Announced {
                        j.standing = Standing::Announced;
                        self.standings_epoch += 1;
                    }
                }
            }
            Some(Incoming::Offer {
                info_hash,
                peer_id,
                offer_id,
                sdp,
            }) => {
                let wanted = self
                    .torrents
                    .get(&info_hash)
                    .is_some_and(|j| j.peer_id != peer_id && j.status.room > 0);
                if wanted {
                    self.out.push_back(TrackerWork::AnswerOffer {
                        info_hash,
                        remote: peer_id,
                        offer_id,
                        sdp,
                    });
                }
            }
            Some(Incoming::Answer {
                info_hash,
                peer_id,
                offer_id,
                sdp,
            }) => {
                if self
                    .offers
                    .get(&offer_id)
                    .is_some_and(|p| p.info_hash == info_hash)
                {
                    self.offers.remove(&offer_id);
                    self.out.push_back(TrackerWork::AcceptAnswer {
                        info_hash,
                        remote: peer_id,
                        offer_id,
                        sdp,
                    });
                }
            }
            Some(Incoming::Failure { reason, info_hash }) => {
                if let Some(j) = info_hash.and_then(|h| self.torrents.get_mut(&h)) {
                    j.making_offers = None;
                    j.standing = Standing::Refused(reason.clone());
                    self.standings_epoch += 1;
                }
                self.last_error = Some(reason);
            }
            Some(Incoming::Ignored) | None => {}
        }
    }

    // ---- answers from the platform -------------------------------------------------

    /// The offers asked for by `MakeOffers` (those the platform could make).
    pub fn handle_offers_made(
        &mut self,
        now: Time,
        info_hash: InfoHash,
        made: Vec<(OfferId, String)>,
    ) {
        let (up, connecting) = (
            self.is_connected(),
            matches!(self.socket, Socket::Connecting { .. }),
        );
        // Reports that come after their request was given up (a failure,
        // a stale wait) may find the budget spent meanwhile: by pending
        // offers, and by offers held (this torrent's too: they may stay
        // held beside these) or being made for other torrents.
        let asked = self
            .torrents
            .get(&info_hash)
            .and_then(|j| j.making_offers)
            .map_or(0, |m| m.1);
        let room = self.offer_budget() + asked;
        let mut made = made;
        drop_made(&mut self.out, made.split_off(room.min(made.len())));
        let Some(j) = self
            .torrents
            .get_mut(&info_hash)
            .filter(|j| up || (connecting && j.making_offers.is_some()))
        else {
            drop_made(&mut self.out, made);
            return;
        };
        j.making_offers = None;
        if !up {
            drop_made(&mut self.out, std::mem::replace(&mut j.early_offers, made));
            return;
        }
        // Held until the torrent has started and the pace lets an announce
        // go (`announce_due` sends them): offers reported right after the
        // socket opened went out on top of the `started` burst, more than a
        // tracker takes on one connection.
        let (spacing, burst) = (self.cfg.announce_spacing, self.cfg.announce_burst);
        let paced = match j.started {
            true => self.pace.admit(now, spacing, burst, true),
            false => Err(now),
        };
        if let Err(at) = paced {
            // A report given up on (stale) may come after newer offers: the
            // older go.
            drop_made(&mut self.out, std::mem::replace(&mut j.early_offers, made));
            self.paced_until = Some(self.paced_until.map_or(at, |p| p.min(at)));
            return;
        }
        let expires = now + self.cfg.offer_ttl;
        let a = j.announce_offers(info_hash, None, made, expires, &mut self.offers);
        self.out.push_back(TrackerWork::Send(a.to_json()));
    }

    /// Our answer to an `AnswerOffer`, ready to go back to the offerer.
    pub fn handle_answer_made(
        &mut self,
        info_hash: InfoHash,
        remote: PeerId,
        offer_id: OfferId,
        sdp: String,
    ) {
        let (Some(j), true) = (self.torrents.get(&info_hash), self.is_connected()) else {
            return;
        };
        let a = Answer {
            info_hash,
            peer_id: j.peer_id,
            to_peer_id: remote,
            offer_id,
            sdp,
        };
        self.out.push_back(TrackerWork::Send(a.to_json()));
    }

    // ---- time ----------------------------------------------------------------------------

    /// Timers; call at or after `poll_timeout`.
    pub fn handle_timeout(&mut self, now: Time) {
        match self.socket {
            Socket::Down { retry_at } if now >= retry_at => {
                self.socket = Socket::Connecting {
                    deadline: now + self.cfg.connect_timeout,
                };
                self.out.push_back(TrackerWork::Connect);
            }
            Socket::Connecting { deadline } if now >= deadline => {
                self.out.push_back(TrackerWork::Disconnect);
                let why = "the tracker did not answer in time";
                self.handle_disconnected(now, why);
            }
            _ => {}
        }
        self.drop_offers(|p| p.expires <= now);
        self.announce_due(now);
    }

    fn drop_offers(&mut self, which: impl Fn(&Pending) -> bool) {
        let out = &mut self.out;
        self.offers.retain(|id, p| {
            let drop = which(p);
            if drop {
                out.push_back(TrackerWork::DropOffer(*id));
            }
            !drop
        });
    }

    /// Offers that may still be asked for: the pending ones, those being
    /// made and those made early count against the budget.
    fn offer_budget(&self) -> usize {
        let held: usize = self
            .torrents
            .values()
            .map(|j| j.making_offers.map_or(0, |m| m.1) + j.early_offers.len())
            .sum();
        self.cfg
            .max_pending_offers
            .saturating_sub(self.offers.len() + held)
    }

    /// Sends what each torrent's schedule says is due. While the socket
    /// first connects (not while it reconnects after a failure: offers to a
    /// tracker that may stay away would be made and dropped at every
    /// attempt), asks for each new torrent's first offers already.
    fn announce_due(&mut self, now: Time) {
        let up = self.is_connected();
        if !up && (self.failures > 0 || !matches!(self.socket, Socket::Connecting { .. })) {
            return;
        }
        let per_announce = self.cfg.offers_per_announce;
        let stale = self.cfg.offer_ttl;
        let mut budget = self.offer_budget();
        let (spacing, burst) = (self.cfg.announce_spacing, self.cfg.announce_burst);
        let (pace, paced) = (&mut self.pace, &mut self.paced_until);
        *paced = None;
        // Whether an announce may go now (taking it from the budget if
        // `take`); if not, it waits for the pace.
        let mut may_send = |now, take: bool| match pace.admit(now, spacing, burst, take) {
            Ok(()) => true,
            Err(at) => {
                *paced = Some(paced.map_or(at, |p: Time| p.min(at)));
                false
            }
        };
        // Every torrent's `started` first: under the pace, a client with
        // many torrents is listed for all of them before it asks for more.
        for (&info_hash, j) in self.torrents.iter_mut() {
            if !up || j.started || !may_send(now, true) {
                continue;
            }
            // Join at once, so offers from others reach us while ours are
            // still being made; with ours if they were made while the socket
            // connected.
            j.started = true;
            j.completed_sent = j.status.complete;
            let made = std::mem::take(&mut j.early_offers);
            let ev = Some(AnnounceEvent::Started);
            let a = j.announce_offers(info_hash, ev, made, now + stale, &mut self.offers);
            self.out.push_back(TrackerWork::Send(a.to_json()));
        }
        for (&info_hash, j) in self.torrents.iter_mut() {
            if !up && (j.started || !j.early_offers.is_empty()) || up && !j.started {
                continue;
            }
            // Offers made while the pace held the announce back.
            if up && !j.early_offers.is_empty() {
                if may_send(now, true) {
                    let made = std::mem::take(&mut j.early_offers);
                    let a = j.announce_offers(info_hash, None, made, now + stale, &mut self.offers);
                    self.out.push_back(TrackerWork::Send(a.to_json()));
                }
                continue;
            }
            if up && j.status.complete && !j.completed_sent && may_send(now, true) {
                j.completed_sent = true;
                let a = j.announce(info_hash, Some(AnnounceEvent::Completed));
                self.out.push_back(TrackerWork::Send(a.to_json()));
            }
            // A platform that never reported its offers does not stall the schedule.
            if j.making_offers
                .is_some_and(|(since, _)| now >= since + stale)
            {
                j.making_offers = None;
            }
            let scheduled = now >= j.next_announce;
            let lonely = j.lonely(now, self.cfg.stall_after);
            let due = scheduled || (lonely && now >= j.lonely_due());
            // Offers are made before the announce that carries them takes
            // its turn (`handle_offers_made`); none are asked for while the
            // pace would hold it back.
            if !due || j.making_offers.is_some() || (up && !may_send(now, false)) {
                continue;
            }
            j.next_announce = now + j.interval;
            j.last_offers = now;
            // A scheduled announce of a lonely torrent does not advance its
            // retry count: only the announces made because it was lonely do.
            j.lonely_retries = match (lonely, scheduled) {
                (false, _) => 0,
                (true, true) => j.lonely_retries,
                (true, false) => j.lonely_retries.saturating_add(1),
            };
            let n = j.offers_wanted(per_announce).min(j.status.room).min(budget);
            budget -= n;
            if n == 0 {
                if up && may_send(now, true) {
                    let a = j.announce(info_hash, None);
                    self.out.push_back(TrackerWork::Send(a.to_json()));
                }
                continue;
            }
            j.making_offers = Some((now, n));
            let mut ids = Vec::with_capacity(n);
            for _ in 0..n {
                let mut id = [0u8; 20];
                self.rng.fill(&mut id);
                ids.push(OfferId(id));
            }
            self.out
                .push_back(TrackerWork::MakeOffers { info_hash, ids });
        }
    }
}

/// Closes offers the platform made that will not be announced.
fn drop_made(out: &mut VecDeque<TrackerWork>, made: Vec<(OfferId, String)>) {
    for (id, _) in made {
        out.push_back(TrackerWork::DropOffer(id));
    }
}

mod pace;
#[cfg(test)]
mod tests;
