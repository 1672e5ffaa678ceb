//! Incoming classic peers, over TCP and uTP: accept, read the 68-byte
//! handshake to learn which torrent the peer wants, and hand the connection
//! to that torrent's task. Connections that do not name one of our torrents
//! in time are dropped, and only a bounded number may be waiting for their
//! handshake at once.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};
use webswarm_core::engine::Wire;
use webswarm_core::wire::{Handshake, HANDSHAKE_LEN};
use webswarm_core::InfoHash;

use super::mse::{self, Encryption, Negotiated};
use super::stream::{TcpChannel, UtpChannel};
use super::utp::Utp;
use crate::tracker_client::{Attempt, NewChannel};
use crate::transport::Channel;

/// How long an incoming connection may take to send its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Incoming connections waiting for their handshake at once.
const MAX_UNIDENTIFIED: usize = 64;
/// Of those, from one address: one host that opens connections and sends
/// nothing must not hold every slot and shut out everyone else.
const MAX_UNIDENTIFIED_PER_IP: usize = 8;

/// The torrents that take incoming TCP peers, by info-hash and by the
/// marker an encrypted handshake names them with.
#[derive(Default)]
pub struct Registry {
    torrents: Mutex<Torrents>,
}

#[derive(Default)]
struct Torrents {
    channels: HashMap<InfoHash, mpsc::UnboundedSender<Attempt>>,
    markers: HashMap<[u8; 20], InfoHash>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Torrents> {
        self.torrents.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub fn insert(&self, h: InfoHash, channels: mpsc::UnboundedSender<Attempt>) {
        let mut t = self.lock();
        t.channels.insert(h, channels);
        t.markers.insert(mse::torrent_marker(&h), h);
    }
    pub fn remove(&self, h: &InfoHash) {
        let mut t = self.lock();
        t.channels.remove(h);
        t.markers.remove(&mse::torrent_marker(h));
    }
    fn get(&self, h: &InfoHash) -> Option<mpsc::UnboundedSender<Attempt>> {
        self.lock().channels.get(h).cloned()
    }
    /// The torrent an encrypted handshake names by `HASH("req2", info_hash)`.
    fn find_marker(&self, marker: &[u8; 20]) -> Option<InfoHash> {
        self.lock().markers.get(marker).copied()
    }
}

/// Binds `addr`; when that port is taken, any free port (a second client on
/// one machine still works, on another port). Returns the bound listener.
/// `0.0.0.0` (no address chosen) means every address, IPv6 ones too where
/// the machine has IPv6: one dual-stack socket, so that peers a tracker or
/// the DHT gave by IPv6 address can reach us as well.
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let l = bind_any(addr).or_else(|e| {
        if addr.port() == 0 {
            return Err(e);
        }
        tracing::warn!("cannot listen for BitTorrent peers on {addr} ({e}); using another port");
        bind_any(SocketAddr::new(addr.ip(), 0))
    })?;
    l.set_nonblocking(true)?;
    Ok(l)
}

fn bind_any(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    if addr.ip() == IpAddr::V4(Ipv4Addr::UNSPECIFIED) {
        match dual_stack(addr.port()) {
            Ok(l) => return Ok(l),
            Err(e) => tracing::debug!("no IPv6 listener ({e}): IPv4 only"),
        }
    }
    std::net::TcpListener::bind(addr)
}

fn dual_stack(port: u16) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
    s.set_only_v6(false)?;
    // As std's TcpListener::bind does on Unix: a restart does not wait for
    // the old connections' TIME_WAIT.
    s.set_reuse_address(true)?;
    s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)).into())?;
    s.listen(1024)?;
    Ok(s.into())
}

/// An IPv4 peer reaching a dual-stack socket shows as `::ffff:a.b.c.d`: it
/// is `a.b.c.d` to everything else (per-address limits, PEX, logs).
fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// Accepts TCP peers until the runtime ends.
pub async fn run(
    listener: std::net::TcpListener,
    registry: Arc<Registry>,
    connections: Arc<Semaphore>,
    encryption: Encryption,
) {
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot accept BitTorrent peers: {e}");
            return;
        }
    };
    let admission = Admission::new(registry, connections, encryption);
    loop {
        match listener.accept().await {
            Ok((stream, from)) => {
                let _ = stream.set_nodelay(true);
                admission.admit(stream, canonical(from), Wire::Tcp, |s, hs, cipher| {
                    Box::new(TcpChannel::tcp(s, Some(hs), cipher))
                });
            }
            Err(e) => {
                // Out of descriptors and the like: wait, do not spin.
                tracing::warn!("accepting a BitTorrent peer failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Accepts uTP peers until the socket's dispatcher ends.
pub async fn run_utp(
    utp: Arc<Utp>,
    registry: Arc<Registry>,
    connections: Arc<Semaphore>,
    encryption: Encryption,
) {
    let Some(socket) = utp.socket().await else {
        return;
    };
    let admission = Admission::new(registry, connections, encryption);
    loop {
        match socket.accept().await {
            Ok(stream) => {
                let from = canonical(stream.remote_addr());
                admission.admit(stream, from, Wire::Utp, |s, hs, cipher| {
                    Box::new(UtpChannel::utp(s, Some(hs), cipher))
                });
            }
            Err(e) => {
                tracing::error!("uTP peers are no longer accepted: {e}");
                return;
            }
        }
    }
}

/// Connections waiting for their handshake, counted by source address.
#[derive(Default)]
struct IpSlots(Mutex<HashMap<IpAddr, usize>>);

/// One of an address's slots, given back when dropped.
struct IpSlot(Arc<IpSlots>, IpAddr);

impl IpSlots {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for `ip`, unless it holds `max` already.
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut m = self.lock();
        let n = m.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot(self.clone(), ip))
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut m = self.0.lock();
        if let Some(n) = m.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.1);
            }
        }
    }
}

/// Routes accepted connections to their torrents, a bounded number at once
/// and from one address.
struct Admission {
    registry: Arc<Registry>,
    connections: Arc<Semaphore>,
    unidentified: Arc<Semaphore>,
    per_ip: Arc<IpSlots>,
    encryption: Encryption,
}

impl Admission {
    fn new(registry: Arc<Registry>, connections: Arc<Semaphore>, encryption: Encryption) -> Self {
        Admission {
            registry,
            connections,
            unidentified: Arc::new(Semaphore::new(MAX_UNIDENTIFIED)),
            per_ip: Arc::default(),
            encryption,
        }
    }

    /// Waits (in a task of its own) for the stream's handshake, then hands
    /// `channel(stream, handshake)` to the torrent it names.
    fn admit<S>(
        &self,
        stream: S,
        from: SocketAddr,
        wire: Wire,
        channel: impl FnOnce(S, Bytes, Negotiated) -> Box<dyn Channel> + Send + 'static,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Some(ip_slot) = self.per_ip.take(from.ip(), MAX_UNIDENTIFIED_PER_IP) else {
            tracing::debug!("incoming peer {from}: its address has {MAX_UNIDENTIFIED_PER_IP} handshakes pending already");
            return;
        };
        let Ok(slot) = self.unidentified.clone().try_acquire_owned() else {
            return;
        };
        let (registry, connections) = (self.registry.clone(), self.connections.clone());
        let encryption = self.encryption;
        tokio::spawn(async move {
            let peer = Incoming {
                from,
                wire,
                encryption,
            };
            let admit = admit(stream, peer, &registry, &connections, channel);
            let r = tokio::time::timeout(HANDSHAKE_TIMEOUT, admit).await;
            drop((slot, ip_slot));
            match r {
                Ok(Ok(())) => {}
                Ok(Err(why)) => tracing::debug!("incoming peer {from}: {why}"),
                Err(_) => tracing::debug!("incoming peer {from}: no handshake in time"),
            }
        });
    }
}

/// Where an incoming connection came from, and what it must speak.
struct Incoming {
    from: SocketAddr,
    wire: Wire,
    encryption: Encryption,
}

async fn admit<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    peer: Incoming,
    registry: &Registry,
    connections: &Arc<Semaphore>,
    channel: impl FnOnce(S, Bytes, Negotiated) -> Box<dyn Channel>,
) -> Result<(), String> {
    let mut first = [0u8; HANDSHAKE_LEN];
    stream
        .read_exact(&mut first)
        .await
        .map_err(|e| format!("closed before its handshake ({e})"))?;
    let (h, hs, cipher) = match (Handshake::decode(&first), peer.encryption) {
        (Ok(_), Encryption::Require) => {
            return Err("a plaintext handshake, and encryption is required".into())
        }
        (Ok(h), _) => (h, first.to_vec(), Negotiated::plaintext()),
        (Err(e), Encryption::Off) => {
            return Err(match first[0] {
                19 => e.to_string(),
                // libtorrent and qBittorrent try Message Stream Encryption first.
                _ => "not a BitTorrent handshake (an encrypted one, MSE, perhaps: encryption is off here)".into(),
            });
        }
        (Err(_), e) => decrypt_handshake(&mut stream, &first, registry, e).await?,
    };
    let torrent = registry.get(&h.info_hash).ok_or_else(|| {
        format!(
            "asked for torrent {}, which is not here",
            h.info_hash.to_hex()
        )
    })?;
    let permit = connections
        .clone()
        .try_acquire_owned()
        .map_err(|_| "the connection budget is spent".to_owned())?;
    torrent
        .send(Ok(NewChannel {
            channel: channel(stream, Bytes::from(hs), cipher),
            remote: Some(h.peer_id),
            permit,
            we_offered: false,
            wire: peer.wire,
            addr: Some(peer.from),
        }))
        .map_err(|_| "its torrent is gone".to_owned())
}

/// The MSE handshake that began with `first`, then the BitTorrent handshake
/// behind it (in its initial payload, or read through the cipher), which
/// must name the torrent MSE named. Returns it, every byte read past MSE
/// (decrypted) and the ciphers.
async fn decrypt_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    first: &[u8],
    registry: &Registry,
    encryption: Encryption,
) -> Result<(Handshake, Vec<u8>, Negotiated), String> {
    let find = |m: &[u8; 20]| registry.find_marker(m);
    let mut a = mse::accept(stream, first, find, encryption.methods())
        .await
        .map_err(|e| format!("encrypted handshake (MSE): {e}"))?;
    let mut hs = a.initial;
    if hs.len() < HANDSHAKE_LEN {
        let mut more = vec![0u8; HANDSHAKE_LEN - hs.len()];
        stream
            .read_exact(&mut more)
            .await
            .map_err(|e| format!("closed before its handshake ({e})"))?;
        if let Some(rc4) = &mut a.negotiated.read {
            rc4.apply(&mut more);
        }
        hs.extend(more);
    }
    let first = hs.first_chunk().ok_or("a short handshake")?;
    match Handshake::decode(first) {
        Ok(h) if h.info_hash == a.info_hash => Ok((h, hs, a.negotiated)),
        Ok(_) => Err("its handshake names another torrent than its MSE handshake".into()),
        Err(e) => Err(format!("after MSE: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_few_slots() {
        let slots = Arc::new(IpSlots::default());
        let (a, b): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let held: Vec<IpSlot> = (0..3).map(|_| slots.take(a, 3).unwrap()).collect();
        assert!(slots.take(a, 3).is_none());
        let other = slots.take(b, 3).unwrap();
        drop(held);
        assert!(slots.take(a, 3).is_some());
        drop(other);
        // Addresses with no slot held are forgotten: the map stays small.
        assert!(slots.lock().is_empty());
    }
}
