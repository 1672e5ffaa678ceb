//! The WebSocket tracker client's I/O: one task per tracker URL, shared by
//! every torrent of the process (as WebTorrent shares one socket per
//! tracker). Core's `TrackerClient` decides what to send and when; this task
//! owns the socket and the WebRTC offers and answers, and hands each open
//! channel to its torrent.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use webswarm_core::engine::Wire;
use webswarm_core::tracker::{
    OfferId, Standing, TorrentStatus, TrackerClient, TrackerConfig, TrackerWork,
};
use webswarm_core::{InfoHash, PeerId};

use crate::transport::{Channel, PendingOffer, Transport};
use crate::util;

/// How often torrents' statuses are looked at (a download that completes
/// or loses its last peer is announced within this).
const STATUS_EVERY: Duration = Duration::from_millis(500);

/// What the tracker tasks share with the rest of the client.
pub struct Shared {
    pub transport: Arc<dyn Transport>,
    /// Open or opening connections, across all torrents.
    pub connections: Arc<Semaphore>,
    /// Offers waiting for answers, across all torrents.
    pub pending_offers: Arc<Semaphore>,
    /// Offers we answered whose connections are not open yet.
    pub half_open: Arc<crate::half_open::HalfOpen>,
    pub tracker: TrackerConfig,
    /// TLS settings for wss:// trackers.
    pub tls: Arc<rustls::ClientConfig>,
}

/// A connection attempt for a torrent: its open channel, or why it never opened.
pub type Attempt = Result<NewChannel, String>;

/// An open channel for a torrent, with its share of the connection budget.
pub struct NewChannel {
    pub channel: Box<dyn Channel>,
    /// The remote's id as the tracker (or its TCP handshake) gave it; none
    /// for a TCP peer we dialled, whose handshake will name it.
    pub remote: Option<PeerId>,
    pub permit: OwnedSemaphorePermit,
    /// We made the offer (the remote answered), or dialled.
    pub we_offered: bool,
    pub wire: Wire,
    /// A TCP peer's address: the one dialled, or the one it came from.
    pub addr: Option<std::net::SocketAddr>,
}

/// What a torrent task shows its tracker tasks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TorrentView {
    pub status: TorrentStatus,
    /// Remote ids of its open connections: their offers are not answered.
    pub connected: Vec<PeerId>,
    /// Its metadata says private (BEP 27): known from the start for a
    /// .torrent, only once the metadata came for a magnet.
    pub private: bool,
}

/// A torrent as a tracker task sees it.
pub struct TrackerTorrent {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub channels: mpsc::UnboundedSender<Attempt>,
    pub view: watch::Receiver<TorrentView>,
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
    /// What the tracker said of each torrent since the socket opened.
    pub standings: watch::Receiver<Standings>,
}

pub type Standings = HashMap<InfoHash, Standing>;

impl TrackerHandle {
    pub fn spawn(url: String, shared: Arc<Shared>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (state_tx, state) = watch::channel(TrackerState::Connecting);
        let (standings_tx, standings) = watch::channel(Standings::new());
        let task = TrackerTask::new(url.clone(), shared, state_tx, standings_tx);
        tokio::spawn(task.run(rx));
        TrackerHandle {
            tx,
            url,
            state,
            standings,
        }
    }

    /// What the tracker said of this torrent since the socket opened.
    pub fn standing(&self, info_hash: &InfoHash) -> Option<Standing> {
        self.standings.borrow().get(info_hash).cloned()
    }
    pub fn send(&self, cmd: TrackerCmd) {
        let _ = self.tx.send(cmd);
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Results of the helper tasks, back in the tracker task.
enum Done {
    Connected(Box<Ws>),
    ConnectFailed(String),
    Offers(
        InfoHash,
        Vec<(OfferId, Box<dyn PendingOffer>, OwnedSemaphorePermit)>,
    ),
    Answered(InfoHash, PeerId, OfferId, String),
}

struct TrackerTask {
    url: String,
    shared: Arc<Shared>,
    client: TrackerClient,
    ws: Option<Ws>,
    connecting: Option<JoinHandle<()>>,
    torrents: HashMap<InfoHash, TrackerTorrent>,
    offers: HashMap<OfferId, (Box<dyn PendingOffer>, OwnedSemaphorePermit)>,
    done_tx: mpsc::UnboundedSender<Done>,
    state: watch::Sender<TrackerState>,
    standings: watch::Sender<Standings>,
    standings_seen: u64,
}

impl TrackerTask {
    fn new(
        url: String,
        shared: Arc<Shared>,
        state: watch::Sender<TrackerState>,
        standings: watch::Sender<Standings>,
    ) -> Self {
        let (done_tx, _) = mpsc::unbounded_channel();
        let client = TrackerClient::new(shared.tracker.clone(), util::now(), util::random_u64());
        TrackerTask {
            url,
            shared,
            client,
            ws: None,
            connecting: None,
            torrents: HashMap::new(),
            offers: HashMap::new(),
            done_tx,
            state,
            standings,
            standings_seen: u64::MAX,
        }
    }

    async fn run(mut self, mut cmds: mpsc::UnboundedReceiver<TrackerCmd>) {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        self.done_tx = done_tx;
        let mut statuses = tokio::time::interval(STATUS_EVERY);
        loop {
            self.perform().await;
            let wake = self
                .client
                .poll_timeout()
                .map_or(tokio::time::Instant::now() + STATUS_EVERY, deadline);
            let now = util::now();
            tokio::select! {
                msg = next_message(&mut self.ws) => match msg {
                    Some(text) => self.client.handle_message(now, &text),
                    None => self.lost("the connection was lost".into()),
                },
                cmd = cmds.recv() => match cmd {
                    Some(c) => self.on_cmd(c),
                    None => {
                        self.perform().await;
                        if let Some(mut ws) = self.ws.take() {
                            let _ = ws.close(None).await;
                        }
                        return;
                    }
                },
                Some(d) = done_rx.recv() => self.on_done(d),
                _ = statuses.tick() => self.refresh_statuses(),
                _ = tokio::time::sleep_until(wake) => self.client.handle_timeout(util::now()),
            }
        }
    }

    fn on_cmd(&mut self, cmd: TrackerCmd) {
        let now = util::now();
        match cmd {
            TrackerCmd::Add(t) => {
                let status = t.view.borrow().status;
                self.client.join(now, t.info_hash, t.peer_id, status);
                self.torrents.insert(t.info_hash, t);
            }
            TrackerCmd::Remove(h) => {
                self.client.leave(h);
                self.torrents.remove(&h);
            }
        }
    }

    fn refresh_statuses(&mut self) {
        let now = util::now();
        for (h, t) in &mut self.torrents {
            if t.view.has_changed().unwrap_or(false) {
                let s = t.view.borrow_and_update().status;
                self.client.set_status(now, *h, s);
            }
        }
    }

    fn lost(&mut self, why: String) {
        self.ws = None;
        tracing::warn!("tracker {}: {why}; retrying", self.url);
        self.client.handle_disconnected(util::now(), &why);
    }

    fn on_done(&mut self, d: Done) {
        let now = util::now();
        match d {
            Done::Connected(ws) => {
                tracing::info!("connected to tracker {}", self.url);
                self.connecting = None;
                self.ws = Some(*ws);
                self.client.handle_connected(now);
            }
            Done::ConnectFailed(e) => {
                self.connecting = None;
                self.lost(e);
            }
            Done::Offers(info_hash, made) => {
                let mut sdps = Vec::with_capacity(made.len());
                for (id, offer, permit) in made {
                    sdps.push((id, offer.sdp().to_owned()));
                    self.offers.insert(id, (offer, permit));
                }
                self.client.handle_offers_made(now, info_hash, sdps);
            }
            Done::Answered(info_hash, remote, offer_id, sdp) => {
                self.client
                    .handle_answer_made(info_hash, remote, offer_id, sdp);
            }
        }
    }

    /// Carries out the client's work.
    async fn perform(&mut self) {
        while let Some(w) = self.client.poll_work() {
            match w {
                TrackerWork::Connect => self.connect(),
                TrackerWork::Disconnect => {
                    if let Some(c) = self.connecting.take() {
                        c.abort();
                    }
                    self.ws = None;
                }
                TrackerWork::Send(text) => {
                    let sent = match self.ws.as_mut() {
                        Some(ws) => ws.send(Message::text(text)).await.is_ok(),
                        None => true,
                    };
                    if !sent {
                        self.lost("the connection was lost".into());
                    }
                }
                TrackerWork::MakeOffers { info_hash, ids } => self.make_offers(info_hash, ids),
                TrackerWork::AnswerOffer {
                    info_hash,
                    remote,
                    offer_id,
                    sdp,
                } => self.answer(info_hash, remote, offer_id, sdp),
                TrackerWork::AcceptAnswer {
                    info_hash,
                    remote,
                    offer_id,
                    sdp,
                } => self.accept(info_hash, remote, offer_id, sdp),
                TrackerWork::DropOffer(id) => {
                    self.offers.remove(&id);
                }
            }
        }
        let state = match (&self.ws, self.client.last_error()) {
            (Some(_), _) => TrackerState::Connected,
            (None, Some(e)) => TrackerState::Failed(e.to_owned()),
            (None, None) => TrackerState::Connecting,
        };
        self.state.send_if_modified(|s| {
            let changed = *s != state;
            *s = state;
            changed
        });
        if self.standings_seen != self.client.standings_epoch() {
            self.standings_seen = self.client.standings_epoch();
            let client = &self.client;
            let standings: Standings = self
                .torrents
                .keys()
                .filter_map(|ih| Some((*ih, client.standing(ih)?.clone())))
                .collect();
            self.standings.send_if_modified(|s| {
                let changed = *s != standings;
                *s = standings;
                changed
            });
        }
    }

    fn connect(&mut self) {
        let (url, tls, done) = (
            self.url.clone(),
            self.shared.tls.clone(),
            self.done_tx.clone(),
        );
        self.connecting = Some(tokio::spawn(async move {
            let r = tokio_tungstenite::connect_async_tls_with_config(
                url.as_str(),
                None,
                false,
                Some(tokio_tungstenite::Connector::Rustls(tls)),
            )
            .await;
            let _ = done.send(match r {
                Ok((ws, _)) => Done::Connected(Box::new(ws)),
                Err(e) => Done::ConnectFailed(e.to_string()),
            });
        }));
    }

    /// Creates the offers within the shared budget, concurrently.
    fn make_offers(&mut self, info_hash: InfoHash, ids: Vec<OfferId>) {
        let permits: Vec<_> = ids
            .into_iter()
            .map_while(|id| {
                let p = self
                    .shared
                    .pending_offers
                    .clone()
                    .try_acquire_owned()
                    .ok()?;
                Some((id, p))
            })
            .collect();
        let (transport, done) = (self.shared.transport.clone(), self.done_tx.clone());
        tokio::spawn(async move {
            let made = futures_util::future::join_all(permits.into_iter().map(|(id, permit)| {
                let t = transport.clone();
                async move { t.offer().await.ok().map(|o| (id, o, permit)) }
            }))
            .await;
            let _ = done.send(Done::Offers(
                info_hash,
                made.into_iter().flatten().collect(),
            ));
        });
    }

    /// Someone offers to connect: answer it if the budget has room.
    fn answer(&mut self, info_hash: InfoHash, remote: PeerId, offer_id: OfferId, sdp: String) {
        let Some(t) = self.torrents.get(&info_hash) else {
            return;
        };
        if t.view.borrow().connected.contains(&remote) {
            return;
        }
        let Ok(permit) = self.shared.connections.clone().try_acquire_owned() else {
            return;
        };
        let (transport, done, channels) = (
            self.shared.transport.clone(),
            self.done_tx.clone(),
            t.channels.clone(),
        );
        let (ticket, mut given_up) = self.shared.half_open.admit();
        tokio::spawn(async move {
            // `None`: given up for a newer offer while half-open; dropping
            // the answer's futures closes its connection.
            let opening = async {
                let answer = tokio::select! {
                    a = transport.answer(sdp) => a,
                    _ = &mut given_up => return None,
                };
                let answer = match answer {
                    Ok(a) => a,
                    Err(e) => return Some(Err(e)),
                };
                let _ = done.send(Done::Answered(info_hash, remote, offer_id, answer.sdp));
                let (mut reachable, mut channel) = (answer.reachable, answer.channel);
                tokio::select! {
                    r = &mut channel => return Some(r),
                    _ = reachable.wait_for(|r| *r) => {}
                    _ = &mut given_up => return None,
                }
                // A real peer: it gives up its half-open place, and newer
                // offers can no longer make us drop it.
                drop(ticket);
                Some(channel.await)
            };
            let Some(opened) = opening.await else {
                tracing::debug!("gave up a half-open connection for a newer offer");
                return;
            };
            match opened {
                Ok(channel) => {
                    let _ = channels.send(Ok(NewChannel {
                        channel,
                        remote: Some(remote),
                        permit,
                        we_offered: false,
                        addr: None,
                        wire: Wire::DataChannel,
                    }));
                }
                Err(err) => {
                    tracing::debug!("answered connection failed: {err}");
                    let _ = channels.send(Err(err.to_string()));
                }
            }
        });
    }

    /// The remote answered our offer: connect it.
    fn accept(&mut self, info_hash: InfoHash, remote: PeerId, offer_id: OfferId, sdp: String) {
        let Some((offer, offer_permit)) = self.offers.remove(&offer_id) else {
            return;
        };
        let Some(t) = self.torrents.get(&info_hash) else {
            return;
        };
        let Ok(permit) = self.shared.connections.clone().try_acquire_owned() else {
            return;
        };
        let channels = t.channels.clone();
        tokio::spawn(async move {
            let r = offer.connect(sdp).await;
            drop(offer_permit);
            match r {
                Ok(channel) => {
                    let _ = channels.send(Ok(NewChannel {
                        channel,
                        remote: Some(remote),
                        permit,
                        we_offered: true,
                        addr: None,
                        wire: Wire::DataChannel,
                    }));
                }
                Err(err) => {
                    tracing::debug!("offered connection failed: {err}");
                    let _ = channels.send(Err(err.to_string()));
                }
            }
        });
    }
}

/// The next text frame, or `None` once the socket is gone; pends forever
/// while there is no socket.
async fn next_message(ws: &mut Option<Ws>) -> Option<String> {
    let Some(ws) = ws.as_mut() else {
        return std::future::pending().await;
    };
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Some(t.as_str().to_owned()),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// The tokio instant for an engine time.
fn deadline(t: webswarm_core::Time) -> tokio::time::Instant {
    let now = util::now();
    let wait = Duration::from_micros(t.as_micros().saturating_sub(now.as_micros()));
    tokio::time::Instant::now() + wait
}
