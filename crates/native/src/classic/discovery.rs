//! One torrent's classic peer discovery: announces to its HTTP and UDP
//! trackers and looks it up in the DHT on core's schedule, keeps the
//! addresses they give in core's peer book, and dials them over TCP or uTP
//! (as the book says) while the torrent has room. Open connections go to the
//! torrent task like any other channel.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use webswarm_core::classic::{
    announce_url, parse_announce_response, AnnounceError, AnnounceParams, AnnounceReply, Announcer,
    AnnouncerConfig, ClassicEvent, PeerBook, PeerBookConfig, UdpAnnounce, UdpWork,
};
use webswarm_core::engine::Wire;
use webswarm_core::{InfoHash, PeerId, Time};

use super::dht::Dht;
use super::mse::{self, Encryption, Negotiated};
use super::stream::{TcpChannel, UtpChannel};
use super::utp::Utp;
use crate::tracker_client::{Attempt, NewChannel, TorrentView};
use crate::transport::Channel;
use crate::util;

/// A TCP connect that takes longer is given up.
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);
/// An MSE handshake that takes longer is given up (and, unless encryption
/// is required, the peer dialled again in plaintext).
const MSE_TIMEOUT: Duration = Duration::from_secs(5);
/// A uTP connect that takes longer is given up: a peer that takes no uTP
/// never answers (no reset comes back over UDP), and the next wire waits.
const UTP_DIAL_TIMEOUT: Duration = Duration::from_secs(3);
/// Dials under way at once, per torrent. Trackers hand out many dead
/// addresses, and each costs a TCP timeout plus a uTP one: a few of them
/// must not hold every slot (libtorrent starts ~30 connections a second).
const MAX_DIALS: usize = 32;
/// An HTTP announce that takes longer is given up.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// Tracker responses larger than this are refused.
const MAX_RESPONSE: usize = 1 << 20;
/// A connection that closes sooner than this counts as a failed dial.
const SHORT_LIVED: Duration = Duration::from_secs(10);
/// How often the torrent's status is looked at.
const TICK: Duration = Duration::from_millis(500);
/// Leaving waits at most this long for `stopped` announces.
const STOP_WAIT: Duration = Duration::from_secs(3);
/// The DHT's place in the list of trackers (no URL looks like it).
const DHT: &str = "the DHT";

/// How discovery runs.
#[derive(Clone, Debug, Default)]
pub struct DiscoveryConfig {
    pub announce: AnnouncerConfig,
    pub book: PeerBookConfig,
}

struct Tracker {
    url: String,
    announcer: Announcer,
    udp_connection: Option<(u64, Time)>,
    /// Not used any more (the DHT, once a magnet's metadata says private).
    off: bool,
}

enum Done {
    Announced(
        usize,
        Option<ClassicEvent>,
        Result<AnnounceReply, AnnounceError>,
        Option<(u64, Time)>,
    ),
    /// Peers a lookup under way found.
    Found(Vec<SocketAddr>),
    Dialed(SocketAddr, Result<(), String>),
    /// The address is our own listener.
    Ours(SocketAddr),
    Closed(SocketAddr, Duration),
}

/// What a torrent's discovery needs.
pub struct Discovery {
    pub info_hash: InfoHash,
    pub peer_id: PeerId,
    pub port: u16,
    pub trackers: Vec<String>,
    pub channels: mpsc::UnboundedSender<Attempt>,
    pub view: watch::Receiver<TorrentView>,
    pub connections: Arc<Semaphore>,
    pub http: reqwest::Client,
    /// The client's uTP socket; `None`: TCP only.
    pub utp: Option<Arc<Utp>>,
    /// The client's DHT node; `None` for private torrents (BEP 27) or with
    /// the DHT off.
    pub dht: Option<Arc<Dht>>,
    /// Addresses other peers passed on (PEX).
    pub pex: mpsc::UnboundedReceiver<Vec<SocketAddr>>,
    /// Message Stream Encryption for dials (the client's setting).
    pub encryption: Encryption,
    pub cfg: DiscoveryConfig,
}

/// Runs until `stop` fires (then announces `stopped`) or the torrent is gone.
pub async fn run(mut d: Discovery, mut stop: oneshot::Receiver<oneshot::Sender<()>>) {
    let now = util::now();
    let dht = d.dht.as_ref().map(|_| DHT.to_owned());
    let mut trackers: Vec<Tracker> = d
        .trackers
        .iter()
        .chain(&dht)
        .map(|url| Tracker {
            url: url.clone(),
            announcer: Announcer::new(
                d.cfg.announce.clone(),
                d.info_hash,
                d.peer_id,
                d.port,
                now,
                util::random_u64(),
            ),
            udp_connection: None,
            off: false,
        })
        .collect();
    let mut book = PeerBook::new(d.cfg.book.clone());
    let (done_tx, mut done) = mpsc::unbounded_channel();
    loop {
        let (status, private) = {
            let v = d.view.borrow();
            (v.status, v.private)
        };
        if private {
            turn_private(&mut trackers);
        }
        let now = util::now();
        for (i, t) in trackers.iter_mut().enumerate().filter(|(_, t)| !t.off) {
            if let Some(p) = t.announcer.poll_announce(now, &status) {
                spawn_announce(i, t, p, &d, &done_tx);
            }
        }
        if !status.complete {
            let budget = status
                .room
                .saturating_sub(book.dialing())
                .min(MAX_DIALS.saturating_sub(book.dialing()));
            for (addr, wire) in book.poll_dials(now, budget) {
                spawn_dial(addr, wire, &d, &done_tx);
            }
        }
        let mut wake = now + TICK;
        for t in trackers.iter().filter(|t| !t.off) {
            if let Some(at) = t.announcer.poll_timeout(&status) {
                wake = wake.min(at);
            }
        }
        if let Some(at) = book.poll_timeout() {
            wake = wake.min(at);
        }
        tokio::select! {
            r = &mut stop => {
                leave(&d, &mut trackers, &status).await;
                if let Ok(answer) = r {
                    let _ = answer.send(());
                }
                return;
            }
            Some(r) = done.recv() => on_done(r, &mut trackers, &mut book),
            Some(peers) = d.pex.recv() => {
                tracing::debug!("PEX: {} peers", peers.len());
                book.add(util::now(), peers);
            }
            // New room, completion, metadata: acted on at once, not a tick later.
            Ok(()) = d.view.changed() => {}
            _ = tokio::time::sleep(wait(wake)) => {}
        }
        if d.channels.is_closed() {
            return;
        }
    }
}

/// BEP 27: a magnet whose metadata turned out private finds peers through
/// its trackers only from now on (PEX the engine already refuses).
fn turn_private(trackers: &mut [Tracker]) {
    for t in trackers.iter_mut().filter(|t| t.url == DHT && !t.off) {
        t.off = true;
        tracing::info!("the torrent is private (BEP 27): no more DHT lookups for it");
    }
}

fn on_done(r: Done, trackers: &mut [Tracker], book: &mut PeerBook) {
    let now = util::now();
    match r {
        Done::Announced(i, event, r, conn) => {
            let t = &mut trackers[i];
            t.udp_connection = conn;
            match &r {
                Ok(reply) => {
                    tracing::debug!("{}: {} peers", t.url, reply.peers.len());
                    if let Some(w) = &reply.warning {
                        tracing::warn!("tracker {}: {w}", t.url);
                    }
                    book.add(now, reply.peers.iter().copied());
                }
                // Off line, the DHT fails every time: not worth a warning.
                Err(e) if t.url == DHT => tracing::debug!("{e}"),
                Err(e) => tracing::warn!("tracker {}: {e}", t.url),
            }
            t.announcer.handle_reply(now, event, &r);
        }
        // A lookup under way when the torrent turned private: dropped.
        Done::Found(_) if trackers.iter().any(|t| t.url == DHT && t.off) => {}
        Done::Found(peers) => book.add(now, peers),
        Done::Ours(addr) => book.handle_ours(addr),
        Done::Dialed(addr, Ok(())) => book.handle_connected(addr),
        Done::Dialed(addr, Err(why)) => {
            tracing::debug!("dialling {addr}: {why}");
            book.handle_failed(now, addr);
        }
        Done::Closed(addr, lived) if lived < SHORT_LIVED => book.handle_failed(now, addr),
        Done::Closed(addr, _) => book.handle_closed(now, addr),
    }
}

async fn leave(
    d: &Discovery,
    trackers: &mut [Tracker],
    status: &webswarm_core::tracker::TorrentStatus,
) {
    // The DHT has no leaving: our entries expire on their own.
    let stops = trackers
        .iter_mut()
        .filter(|t| t.url != DHT && !t.off)
        .filter_map(|t| {
            let p = t.announcer.stop(status)?;
            let (url, conn, http) = (t.url.clone(), t.udp_connection, d.http.clone());
            Some(async move { announce(&url, p, &http, conn).await })
        });
    let _ = tokio::time::timeout(STOP_WAIT, futures_util::future::join_all(stops)).await;
}

fn wait(t: Time) -> Duration {
    Duration::from_micros(t.as_micros().saturating_sub(util::now().as_micros()))
}

fn spawn_announce(
    i: usize,
    t: &Tracker,
    p: AnnounceParams,
    d: &Discovery,
    done: &mpsc::UnboundedSender<Done>,
) {
    let (url, conn, http, done) = (
        t.url.clone(),
        t.udp_connection,
        d.http.clone(),
        done.clone(),
    );
    if let (DHT, Some(dht)) = (url.as_str(), d.dht.clone()) {
        tokio::spawn(async move {
            let event = p.event;
            let found = |peers| {
                let _ = done.send(Done::Found(peers));
            };
            let r = dht.lookup(p.info_hash, Some(p.port), found).await;
            let _ = done.send(Done::Announced(i, event, r, None));
        });
        return;
    }
    tokio::spawn(async move {
        let event = p.event;
        let (r, conn) = announce(&url, p, &http, conn).await;
        let _ = done.send(Done::Announced(i, event, r, conn));
    });
}

/// One announce over HTTP or UDP; returns the UDP connection id to keep.
async fn announce(
    url: &str,
    p: AnnounceParams,
    http: &reqwest::Client,
    conn: Option<(u64, Time)>,
) -> (Result<AnnounceReply, AnnounceError>, Option<(u64, Time)>) {
    match url.strip_prefix("udp://") {
        Some(rest) => udp_announce(rest, p, conn).await,
        None => (http_announce(url, &p, http).await, None),
    }
}

async fn http_announce(
    url: &str,
    p: &AnnounceParams,
    http: &reqwest::Client,
) -> Result<AnnounceReply, AnnounceError> {
    let transport = |e: String| AnnounceError::Transport(e);
    let req = http.get(announce_url(url, p)).timeout(HTTP_TIMEOUT);
    let mut resp = req.send().await.map_err(|e| transport(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(transport(format!("HTTP {}", resp.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport(e.to_string()))? {
        if body.len() + chunk.len() > MAX_RESPONSE {
            return Err(AnnounceError::Malformed("over 1 MiB".into()));
        }
        body.extend_from_slice(&chunk);
    }
    parse_announce_response(&body)
}

async fn udp_announce(
    host_port: &str,
    p: AnnounceParams,
    conn: Option<(u64, Time)>,
) -> (Result<AnnounceReply, AnnounceError>, Option<(u64, Time)>) {
    // "udp://host:port/announce": the path means nothing to BEP 15.
    let host_port = host_port.split('/').next().unwrap_or(host_port);
    let transport = |e: String| (Err(AnnounceError::Transport(e)), conn);
    let addr = match tokio::net::lookup_host(host_port)
        .await
        .map(|mut a| a.next())
    {
        Ok(Some(a)) => a,
        Ok(None) => return transport(format!("{host_port} has no address")),
        Err(e) => return transport(format!("cannot resolve {host_port}: {e}")),
    };
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
        SocketAddr::V6(_) => ([0u16; 8], 0).into(),
    };
    let sock = match UdpSocket::bind(local).await {
        Ok(s) => s,
        Err(e) => return transport(e.to_string()),
    };
    if let Err(e) = sock.connect(addr).await {
        return transport(e.to_string());
    }
    let mut x = UdpAnnounce::new(p, addr.is_ipv6(), util::now(), util::random_u64(), conn);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        while let Some(w) = x.poll_work() {
            match w {
                UdpWork::Send(d) => {
                    // A failed send is a lost datagram: the retry covers it.
                    let _ = sock.send(&d).await;
                }
                UdpWork::Done(r) => return (r, x.connection()),
            }
        }
        let Some(at) = x.poll_timeout() else {
            return (Err(AnnounceError::Timeout), x.connection());
        };
        tokio::select! {
            r = sock.recv(&mut buf) => if let Ok(n) = r {
                if let Err(why) = x.handle_packet(util::now(), &buf[..n]) {
                    tracing::debug!("UDP tracker {host_port}: ignored {why}");
                }
            },
            _ = tokio::time::sleep(wait(at)) => x.handle_timeout(util::now()),
        }
    }
}

fn spawn_dial(addr: SocketAddr, wire: Wire, d: &Discovery, done: &mpsc::UnboundedSender<Done>) {
    let (channels, connections, done) = (d.channels.clone(), d.connections.clone(), done.clone());
    let (our_port, utp) = (d.port, d.utp.clone());
    let secure = (d.info_hash, d.encryption);
    tokio::spawn(async move {
        let Ok(permit) = connections.try_acquire_owned() else {
            let _ = done.send(Done::Dialed(
                addr,
                Err("the connection budget is spent".into()),
            ));
            return;
        };
        let (channel, mut closed) = match dial(addr, wire, our_port, utp.as_deref(), secure).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                let _ = done.send(Done::Ours(addr));
                return;
            }
            Err(e) => {
                let _ = done.send(Done::Dialed(addr, Err(format!("{wire:?}: {e}"))));
                return;
            }
        };
        let opened = Instant::now();
        let sent = channels.send(Ok(NewChannel {
            channel,
            remote: None,
            permit,
            we_offered: true,
            addr: Some(addr),
            wire,
        }));
        if sent.is_err() {
            return;
        }
        let _ = done.send(Done::Dialed(addr, Ok(())));
        let _ = closed.wait_for(|&c| c).await;
        let _ = done.send(Done::Closed(addr, opened.elapsed()));
    });
}

type Dialed = (Box<dyn Channel>, watch::Receiver<bool>);

/// A connection to `addr` on `wire` and a watch of its closing; `None`: the
/// address is our own listener (the DHT hands back what we announced).
/// Through a NAT that is not seen here; the engine's peer-id check closes
/// that one.
async fn dial(
    addr: SocketAddr,
    wire: Wire,
    our_port: u16,
    utp: Option<&Utp>,
    (info_hash, encryption): (InfoHash, Encryption),
) -> Result<Option<Dialed>, String> {
    let timed_out = |_| "timed out".to_owned();
    match (wire, utp) {
        (Wire::Utp, Some(utp)) => {
            if addr.port() == our_port && addr.ip().is_loopback() {
                return Ok(None);
            }
            let connect = || async {
                tokio::time::timeout(UTP_DIAL_TIMEOUT, utp.connect(addr))
                    .await
                    .map_err(timed_out)?
                    .map_err(|e| e.to_string())
            };
            let s = connect().await?;
            let (s, cipher) = secured(s, connect, addr, &info_hash, encryption).await?;
            let c = UtpChannel::utp(s, None, cipher);
            let closed = c.closed();
            Ok(Some((Box::new(c), closed)))
        }
        (Wire::Tcp, _) => {
            let connect = || async {
                tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(addr))
                    .await
                    .map_err(timed_out)?
                    .map_err(|e| e.to_string())
            };
            let s = connect().await?;
            if addr.port() == our_port && s.local_addr().is_ok_and(|l| l.ip() == addr.ip()) {
                return Ok(None);
            }
            let (s, cipher) = secured(s, connect, addr, &info_hash, encryption).await?;
            let c = TcpChannel::tcp(s, None, cipher);
            let closed = c.closed();
            Ok(Some((Box::new(c), closed)))
        }
        (w, _) => Err(format!("{w:?} is not a wire this client dials")),
    }
}

/// `s` after the MSE handshake `encryption` asks for. With `Prefer`, a peer
/// that does not complete it (it closes, or says nothing) is connected to
/// again and spoken to in plaintext, as libtorrent and Transmission do.
async fn secured<S, F, Fut>(
    mut s: S,
    connect: F,
    addr: SocketAddr,
    info_hash: &InfoHash,
    encryption: Encryption,
) -> Result<(S, Negotiated), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<S, String>>,
{
    if encryption == Encryption::Off {
        return Ok((s, Negotiated::plaintext()));
    }
    let handshake = mse::initiate(&mut s, info_hash, encryption.methods());
    let why = match tokio::time::timeout(MSE_TIMEOUT, handshake).await {
        Ok(Ok(cipher)) => {
            let method = if cipher.is_encrypted() {
                "RC4"
            } else {
                "plaintext"
            };
            tracing::debug!("{addr}: encrypted handshake, {method} after it");
            return Ok((s, cipher));
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer".to_owned(),
    };
    if encryption == Encryption::Require {
        return Err(format!("encryption (MSE): {why}"));
    }
    tracing::debug!("{addr}: no encrypted handshake ({why}); dialling again in plaintext");
    drop(s);
    Ok((connect().await?, Negotiated::plaintext()))
}
