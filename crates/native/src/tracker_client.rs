//! The WebSocket tracker client: one task per tracker URL, shared by every
//! torrent of the process (as WebTorrent shares one socket per tracker). It
//! announces with fresh WebRTC offers on the tracker's interval, answers the
//! offers relayed to us, matches answers to our offers, and hands every open
//! channel to its torrent. A lost socket is reopened with exponential backoff
//! and jitter, then every torrent announces again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use webswarm_core::host::{backoff, lonely_wait};
use webswarm_core::{InfoHash, PeerId};
use webswarm_tracker_proto::{
    Announce, AnnounceEvent, Answer, ClientMessage, Offer, OfferId, RelayedAnswer, RelayedOffer,
    Sdp, TrackerMessage,
};

use crate::session::stats::Snapshot;
use crate::session::torrent::Input;
use crate::transport::{PendingOffer, Transport};
use crate::util;

/// An offer nobody answered is dropped after this long (WebTorrent: 50 s).
const OFFER_TTL: Duration = Duration::from_secs(50);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const MIN_INTERVAL: Duration = Duration::from_secs(5);

/// What the tracker tasks share with the rest of the client.
pub struct Shared {
    pub transport: Arc<dyn Transport>,
    /// Open or opening connections, across all torrents.
    pub connections: Arc<Semaphore>,
    /// Offers waiting for answers, across all torrents.
    pub pending_offers: Arc<Semaphore>,
    pub offers_per_announce: usize,
    /// Interval used until the tracker says otherwise.
    pub default_interval: Duration,
    pub backoff_max: Duration,
    /// TLS settings for wss:// trackers.
    pub tls: Arc<rustls::ClientConfig>,
}

/// A torrent as a tracker task sees it.
pub struct TrackerTorrent {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub input: mpsc::Sender<Input>,
    pub stats: watch::Receiver<Snapshot>,
    pub max_peers: usize,
}

pub enum TrackerCmd {
    Add(TrackerTorrent),
    /// Announce `stopped` and forget the torrent.
    Remove(InfoHash),
}

/// Whether a tracker socket is up, for users and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackerState {
    Connecting,
    Connected,
    /// The last attempt failed with this message; another follows.
    Failed(String),
}

#[derive(Clone)]
pub struct TrackerHandle {
    tx: mpsc::UnboundedSender<TrackerCmd>,
    pub url: String,
    pub state: watch::Receiver<TrackerState>,
}

impl TrackerHandle {
    pub fn spawn(url: String, shared: Arc<Shared>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(TrackerState::Connecting);
        tokio::spawn(TrackerTask::new(url.clone(), shared, rx, state_tx).run());
        TrackerHandle { tx, url, state }
    }
    pub fn send(&self, cmd: TrackerCmd) {
        let _ = self.tx.send(cmd);
    }
}

struct Entry {
    t: TrackerTorrent,
    next_announce: Instant,
    last_offers: Instant,
    /// Announces in a row made because it had no peer ([`lonely_wait`]).
    lonely_retries: u32,
    interval: Duration,
    started: bool,
    completed_sent: bool,
    creating_offers: bool,
}

struct Pending {
    info_hash: InfoHash,
    offer: Box<dyn PendingOffer>,
    expires: Instant,
    permit: OwnedSemaphorePermit,
}

/// Work finished by helper tasks, returned to the tracker task.
enum Internal {
    Send(String),
    Offers {
        info_hash: InfoHash,
        offers: Vec<(Box<dyn PendingOffer>, OwnedSemaphorePermit)>,
    },
}

struct TrackerTask {
    url: String,
    shared: Arc<Shared>,
    cmds: mpsc::UnboundedReceiver<TrackerCmd>,
    torrents: HashMap<InfoHash, Entry>,
    pending: HashMap<OfferId, Pending>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
    closed: bool,
    state: watch::Sender<TrackerState>,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl TrackerTask {
    fn new(
        url: String,
        shared: Arc<Shared>,
        cmds: mpsc::UnboundedReceiver<TrackerCmd>,
        state: watch::Sender<TrackerState>,
    ) -> Self {
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        TrackerTask {
            url,
            shared,
            cmds,
            torrents: HashMap::new(),
            pending: HashMap::new(),
            internal_tx,
            internal_rx,
            closed: false,
            state,
        }
    }

    async fn run(mut self) {
        let mut failures = 0u32;
        while !self.closed {
            let connect = tokio_tungstenite::connect_async_tls_with_config(
                self.url.as_str(),
                None,
                false,
                Some(tokio_tungstenite::Connector::Rustls(
                    self.shared.tls.clone(),
                )),
            );
            let err = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
                Ok(Ok((ws, _))) => {
                    tracing::info!("connected to tracker {}", self.url);
                    self.state.send_replace(TrackerState::Connected);
                    failures = 0;
                    self.session(ws).await;
                    if self.closed {
                        return;
                    }
                    "the connection was lost".to_owned()
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer in {CONNECT_TIMEOUT:?}"),
            };
            tracing::warn!("tracker {}: {err}; retrying", self.url);
            self.state.send_replace(TrackerState::Failed(err));
            failures += 1;
            let wait = backoff(failures, self.shared.backoff_max, util::random_u64());
            let until = Instant::now() + wait;
            // Keep the torrent list current while waiting.
            while !self.closed {
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => break,
                    cmd = self.cmds.recv() => self.on_cmd(cmd, None).await,
                }
            }
        }
    }

    /// One connected period; returns when the socket is gone.
    async fn session(&mut self, mut ws: Ws) {
        let now = Instant::now();
        for e in self.torrents.values_mut() {
            e.next_announce = now;
            e.started = false;
        }
        // Answers to offers made over the old socket can no longer arrive.
        self.pending.clear();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(t))) => self.on_message(t.as_str()),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                },
                cmd = self.cmds.recv() => {
                    self.on_cmd(cmd, Some(&mut ws)).await;
                    if self.closed {
                        let _ = ws.close(None).await;
                        return;
                    }
                }
                Some(internal) = self.internal_rx.recv() => {
                    if let Some(text) = self.on_internal(internal) {
                        if ws.send(Message::text(text)).await.is_err() {
                            return;
                        }
                    }
                }
                _ = tick.tick() => {
                    for text in self.on_tick() {
                        if ws.send(Message::text(text)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }

    async fn on_cmd(&mut self, cmd: Option<TrackerCmd>, ws: Option<&mut Ws>) {
        match cmd {
            Some(TrackerCmd::Add(t)) => {
                let e = Entry {
                    t,
                    next_announce: Instant::now(),
                    last_offers: Instant::now(),
                    lonely_retries: 0,
                    interval: self.shared.default_interval,
                    started: false,
                    completed_sent: false,
                    creating_offers: false,
                };
                self.torrents.insert(e.t.info_hash, e);
            }
            Some(TrackerCmd::Remove(h)) => {
                if let Some(e) = self.torrents.remove(&h) {
                    self.pending.retain(|_, p| p.info_hash != h);
                    if let Some(ws) = ws {
                        let msg = announce(&e, Some(AnnounceEvent::Stopped), Vec::new());
                        let _ = ws.send(Message::text(msg)).await;
                    }
                }
            }
            None => self.closed = true,
        }
    }

    fn on_tick(&mut self) -> Vec<String> {
        let now = Instant::now();
        self.pending.retain(|_, p| p.expires > now);
        let mut out = Vec::new();
        for e in self.torrents.values_mut() {
            let complete = e.t.stats.borrow().complete;
            if e.started && complete && !e.completed_sent {
                e.completed_sent = true;
                out.push(announce(e, Some(AnnounceEvent::Completed), Vec::new()));
            }
            if !e.started {
                // Join at once, so offers from others reach us while ours
                // are still being made (gathering takes a moment).
                e.started = true;
                e.completed_sent = complete;
                out.push(announce(e, Some(AnnounceEvent::Started), Vec::new()));
            }
            let lonely = {
                let s = e.t.stats.borrow();
                s.peers == 0 && !s.complete
            };
            let scheduled = now >= e.next_announce;
            let due = scheduled || (lonely && now >= e.last_offers + lonely_wait(e.lonely_retries));
            if due && !e.creating_offers {
                e.next_announce = now + e.interval;
                e.last_offers = now;
                e.lonely_retries = match (lonely, scheduled) {
                    (false, _) => 0,
                    (true, true) => e.lonely_retries,
                    (true, false) => e.lonely_retries.saturating_add(1),
                };
                e.creating_offers = true;
                let peers = e.t.stats.borrow().peers;
                let want = self
                    .shared
                    .offers_per_announce
                    .min(e.t.max_peers.saturating_sub(peers));
                tokio::spawn(make_offers(
                    e.t.info_hash,
                    want,
                    self.shared.clone(),
                    self.internal_tx.clone(),
                ));
            }
        }
        out
    }

    fn on_internal(&mut self, m: Internal) -> Option<String> {
        match m {
            Internal::Send(text) => Some(text),
            Internal::Offers { info_hash, offers } => {
                let e = self.torrents.get_mut(&info_hash)?;
                e.creating_offers = false;
                let expires = Instant::now() + OFFER_TTL;
                let mut wire = Vec::with_capacity(offers.len());
                for (offer, permit) in offers {
                    let id = OfferId(random_id());
                    wire.push(Offer {
                        offer: Sdp::offer(offer.sdp()),
                        offer_id: id,
                    });
                    self.pending.insert(
                        id,
                        Pending {
                            info_hash,
                            offer,
                            expires,
                            permit,
                        },
                    );
                }
                if wire.is_empty() {
                    return None;
                }
                Some(announce(e, None, wire))
            }
        }
    }

    fn on_message(&mut self, text: &str) {
        tracing::trace!("tracker {} says {}", self.url, &text[..text.len().min(120)]);
        match TrackerMessage::from_json(text) {
            Ok(TrackerMessage::Announced(r)) => {
                if let Some(e) = self.torrents.get_mut(&r.info_hash) {
                    e.interval = Duration::from_secs(u64::from(r.interval)).max(MIN_INTERVAL);
                    e.next_announce = e.next_announce.min(Instant::now() + e.interval);
                }
            }
            Ok(TrackerMessage::Offer(o)) => self.on_offer(o),
            Ok(TrackerMessage::Answer(a)) => self.on_answer(a),
            Ok(TrackerMessage::Failure(f)) => {
                tracing::warn!("tracker {} refused: {}", self.url, f.reason);
                if let Some(e) = f.info_hash.and_then(|h| self.torrents.get_mut(&h)) {
                    e.creating_offers = false;
                }
            }
            Ok(TrackerMessage::Scrape(_)) => {}
            Err(e) => tracing::debug!("unreadable tracker message: {e}"),
        }
    }

    /// Someone offers to connect: answer it if the torrent has room.
    fn on_offer(&mut self, o: RelayedOffer) {
        let Some(e) = self.torrents.get(&o.info_hash) else {
            return;
        };
        tracing::debug!("offer from {}", String::from_utf8_lossy(&o.peer_id.0));
        if o.peer_id == e.t.peer_id || e.t.stats.borrow().peers >= e.t.max_peers {
            return;
        }
        let Ok(permit) = self.shared.connections.clone().try_acquire_owned() else {
            return;
        };
        let transport = self.shared.transport.clone();
        let input = e.t.input.clone();
        let (info_hash, our_id) = (e.t.info_hash, e.t.peer_id);
        let internal = self.internal_tx.clone();
        tokio::spawn(async move {
            let answer = match transport.answer(o.offer.sdp).await {
                Ok(a) => a,
                Err(err) => {
                    tracing::debug!("cannot answer an offer: {err}");
                    return;
                }
            };
            let msg = ClientMessage::Answer(Answer {
                action: "announce",
                info_hash,
                peer_id: our_id,
                to_peer_id: o.peer_id,
                offer_id: o.offer_id,
                answer: Sdp::answer(answer.sdp),
            });
            let _ = internal.send(Internal::Send(msg.to_json()));
            match answer.channel.await {
                Ok(channel) => {
                    let _ = input
                        .send(Input::Channel {
                            channel,
                            remote: Some(o.peer_id),
                            permit,
                            we_offered: false,
                        })
                        .await;
                }
                Err(err) => tracing::debug!("answered connection failed: {err}"),
            }
        });
    }

    fn on_answer(&mut self, a: RelayedAnswer) {
        let Some(p) = self.pending.remove(&a.offer_id) else {
            return;
        };
        let Some(e) = self.torrents.get(&p.info_hash) else {
            return;
        };
        let Ok(permit) = self.shared.connections.clone().try_acquire_owned() else {
            return;
        };
        let input = e.t.input.clone();
        tokio::spawn(async move {
            let Pending {
                offer,
                permit: offer_permit,
                ..
            } = p;
            let r = offer.connect(a.answer.sdp).await;
            drop(offer_permit);
            match r {
                Ok(channel) => {
                    let _ = input
                        .send(Input::Channel {
                            channel,
                            remote: Some(a.peer_id),
                            permit,
                            we_offered: true,
                        })
                        .await;
                }
                Err(err) => tracing::debug!("offered connection failed: {err}"),
            }
        });
    }
}

/// Creates up to `want` offers within the shared budget, concurrently.
async fn make_offers(
    info_hash: InfoHash,
    want: usize,
    shared: Arc<Shared>,
    back: mpsc::UnboundedSender<Internal>,
) {
    let started = std::time::Instant::now();
    let permits: Vec<_> = (0..want)
        .map_while(|_| shared.pending_offers.clone().try_acquire_owned().ok())
        .collect();
    let made = futures_util::future::join_all(permits.into_iter().map(|permit| {
        let t = shared.transport.clone();
        async move { t.offer().await.ok().map(|o| (o, permit)) }
    }))
    .await;
    let offers: Vec<_> = made.into_iter().flatten().collect();
    tracing::debug!(
        "made {} of {want} offers in {:?}",
        offers.len(),
        started.elapsed()
    );
    let _ = back.send(Internal::Offers { info_hash, offers });
}

fn announce(e: &Entry, event: Option<AnnounceEvent>, offers: Vec<Offer>) -> String {
    let s = e.t.stats.borrow();
    ClientMessage::Announce(Announce {
        action: "announce",
        info_hash: e.t.info_hash,
        peer_id: e.t.peer_id,
        numwant: (!offers.is_empty()).then_some(offers.len() as u32),
        uploaded: s.uploaded,
        downloaded: s.downloaded,
        left: s.left,
        event,
        offers,
        trackerid: None,
    })
    .to_json()
}

/// 1 s, 2 s, 4 s … up to `max`, each scaled by a random 0.5–1.5 so that many
/// clients losing one tracker do not come back in step.
fn random_id() -> [u8; 20] {
    let mut b = [0u8; 20];
    util::fill_random(&mut b);
    b
}
