//! [`Transport`] on the `webrtc` crate (webrtc-rs 0.21), tuned as measured in
//! shared/docs/toolchain.md: ICE bound to configured addresses, mDNS off,
//! 4 MiB UDP buffers, a dedicated reactor pool, 256 KiB SCTP messages and a
//! send window per channel that follows the round trip, or the receive buffer
//! a native remote declares in its SDP ([`super::window`], [`super::sdp`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use rtc::ice::mdns::MulticastDnsMode;
use rtc::peer_connection::configuration::setting_engine::SctpMaxMessageSize;
use rtc::peer_connection::configuration::RTCIceTransportPolicy;
use tokio::sync::{oneshot, watch, Mutex, Notify};
use webrtc::data_channel::{
    DataChannel, DataChannelEvent, RTCDataChannelInit, RTCDataChannelState,
};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceConnectionState, RTCIceGatheringState, RTCIceServer, RTCPeerConnectionState,
    RTCSessionDescription, RTCStatsReportEntry, SettingEngineBuilder, StatsSelector,
};
use webrtc::runtime::Runtime;

use super::runtime::{self, TunedRuntime, UDP_BUFFER};
use super::sdp::{declare_buffer, remote_buffer, remote_max_message};
use super::window::{buffer_window, chunk_size, WindowFit, MIN_WINDOW};
use super::{Answer, BoxFuture, Channel, PendingOffer, Transport, TransportError};

/// A STUN or TURN server.
#[derive(Clone, Debug, Default)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

#[derive(Clone, Debug)]
pub struct RtcConfig {
    /// Local addresses ICE binds (port 0 for any). A wildcard address means
    /// every non-loopback interface, so loopback must be named to be used.
    pub bind: Vec<SocketAddr>,
    pub ice_servers: Vec<IceServer>,
    /// Only relay (TURN) candidates: peers never learn our addresses.
    pub relay_only: bool,
    /// Longest wait for ICE gathering before the SDP goes out as it is.
    pub gather_timeout: Duration,
    /// Longest wait from the answer to an open channel.
    pub connect_timeout: Duration,
    /// Most bytes a channel may hold unacknowledged before `send` waits; the
    /// window that follows the round trip stays at or below it.
    pub send_buffer: usize,
}

impl Default for RtcConfig {
    fn default() -> Self {
        RtcConfig {
            bind: vec![
                SocketAddr::from(([0, 0, 0, 0], 0)),
                SocketAddr::from(([0u16; 8], 0)),
                SocketAddr::from(([127, 0, 0, 1], 0)),
            ],
            ice_servers: Vec::new(),
            relay_only: false,
            gather_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(20),
            send_buffer: 2 << 20,
        }
    }
}

/// The bind list without the IPv6 wildcard on a machine that cannot reach
/// any IPv6 address: webrtc-rs expands `[::]` to each IPv6 interface, but
/// with none it binds the wildcard itself, whose host candidate is `::`.
fn usable_binds(binds: &[SocketAddr], ipv6: bool) -> Vec<SocketAddr> {
    binds
        .iter()
        .copied()
        .filter(|a| ipv6 || !(a.is_ipv6() && a.ip().is_unspecified()))
        .collect()
}

/// Whether this machine has a route to the IPv6 internet (a UDP `connect`
/// only looks the route up; nothing is sent).
fn has_ipv6_route() -> bool {
    std::net::UdpSocket::bind((std::net::Ipv6Addr::UNSPECIFIED, 0))
        .and_then(|s| s.connect("[2001:db8::1]:9"))
        .is_ok()
}

pub struct WebRtcTransport {
    cfg: RtcConfig,
    runtime: Arc<dyn Runtime>,
}

impl WebRtcTransport {
    pub fn new(cfg: RtcConfig) -> Self {
        WebRtcTransport {
            cfg,
            runtime: TunedRuntime::shared(UDP_BUFFER),
        }
    }

    async fn build(
        &self,
        handler: Arc<Handler>,
    ) -> Result<Arc<dyn PeerConnection>, TransportError> {
        let settings = SettingEngineBuilder::new()
            .with_multicast_dns_mode(MulticastDnsMode::Disabled)
            .with_sctp_max_message_size(SctpMaxMessageSize::Bounded(256 << 10))
            .with_include_loopback_candidate(!self.cfg.relay_only)
            // Checks every 50 ms instead of 200 ms (same 1.4 s window): the
            // first check often goes out before the remote is listening, and
            // the next one then comes sooner.
            .with_ice_connection_attempts(Some(Duration::from_millis(50)), Some(28))
            .build();
        let servers = self
            .cfg
            .ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone(),
                credential: s.credential.clone(),
            })
            .collect();
        let pc = PeerConnectionBuilder::new()
            .with_configuration(
                RTCConfigurationBuilder::new()
                    .with_ice_servers(servers)
                    .with_ice_transport_policy(if self.cfg.relay_only {
                        RTCIceTransportPolicy::Relay
                    } else {
                        RTCIceTransportPolicy::All
                    })
                    .build(),
            )
            .with_setting_engine(settings)
            .with_handler(handler)
            .with_runtime(self.runtime.clone())
            .with_udp_addrs(usable_binds(&self.cfg.bind, has_ipv6_route()))
            .with_dedicated_reactor_pool_size(2)
            .with_data_channel_send_buffer_limit(self.cfg.send_buffer)
            .build()
            .await
            .map_err(rtc_err)?;
        Ok(Arc::new(pc))
    }

    /// Our complete local SDP once ICE gathering finished (or timed out).
    async fn gathered_sdp(
        &self,
        pc: &Arc<dyn PeerConnection>,
        handler: &Handler,
    ) -> Result<String, TransportError> {
        let mut rx = handler.gathering.subscribe();
        let _ = tokio::time::timeout(
            self.cfg.gather_timeout,
            rx.wait_for(|s| *s == RTCIceGatheringState::Complete),
        )
        .await;
        let sdp = pc
            .local_description()
            .await
            .map(|d| d.sdp)
            .ok_or_else(|| TransportError::Rtc("no local description".into()))?;
        Ok(match runtime::receive_buffer() {
            Some(bytes) => declare_buffer(sdp, bytes),
            None => sdp,
        })
    }
}

#[async_trait]
impl Transport for WebRtcTransport {
    async fn offer(&self) -> Result<Box<dyn PendingOffer>, TransportError> {
        let handler = Arc::new(Handler::new(None));
        let pc = self.build(handler.clone()).await?;
        let label = random_hex_label();
        let init = RTCDataChannelInit {
            ordered: true,
            ..Default::default()
        };
        let dc = pc
            .create_data_channel(&label, Some(init))
            .await
            .map_err(rtc_err)?;
        let offer = pc.create_offer(None).await.map_err(rtc_err)?;
        pc.set_local_description(offer).await.map_err(rtc_err)?;
        let sdp = self.gathered_sdp(&pc, &handler).await?;
        Ok(Box::new(WebRtcOffer {
            pc,
            dc,
            handler,
            sdp,
            timeout: self.cfg.connect_timeout,
            send_buffer: self.cfg.send_buffer,
            armed: true,
        }))
    }

    async fn answer(&self, offer_sdp: String) -> Result<Answer, TransportError> {
        let (tx, rx) = oneshot::channel();
        let handler = Arc::new(Handler::new(Some(tx)));
        let pc = self.build(handler.clone()).await?;
        // Closed if the caller gives up on this answer before it opens.
        let guard = CloseOnDrop(Some(pc.clone()));
        let (max, declared) = (remote_max_message(&offer_sdp), remote_buffer(&offer_sdp));
        let offer = RTCSessionDescription::offer(offer_sdp)
            .map_err(|e| TransportError::BadSdp(e.to_string()))?;
        if let Err(e) = pc.set_remote_description(offer).await {
            let _ = pc.close().await;
            return Err(TransportError::BadSdp(e.to_string()));
        }
        let answer = pc.create_answer(None).await.map_err(rtc_err)?;
        pc.set_local_description(answer).await.map_err(rtc_err)?;
        let sdp = self.gathered_sdp(&pc, &handler).await?;
        let reachable = handler.reachable.subscribe();
        let timeout = self.cfg.connect_timeout;
        let limits = Limits {
            max_message: max,
            send_buffer: self.cfg.send_buffer,
            remote_buffer: declared,
        };
        let channel = Box::pin(async move {
            let opened = async {
                let dc = rx.await.map_err(|_| TransportError::Closed)?;
                wait_open(&dc, &handler).await?;
                Ok(dc)
            };
            let r = finish_open(pc.clone(), handler.clone(), timeout, limits, opened).await;
            guard.disarm();
            r
        });
        Ok(Answer {
            sdp,
            channel,
            reachable,
        })
    }
}

struct WebRtcOffer {
    pc: Arc<dyn PeerConnection>,
    dc: Arc<dyn DataChannel>,
    handler: Arc<Handler>,
    sdp: String,
    timeout: Duration,
    send_buffer: usize,
    /// Close the connection when dropped (until `connect` hands it on).
    armed: bool,
}

impl PendingOffer for WebRtcOffer {
    fn sdp(&self) -> &str {
        &self.sdp
    }

    fn connect(
        self: Box<Self>,
        answer_sdp: String,
    ) -> BoxFuture<Result<Box<dyn Channel>, TransportError>> {
        Box::pin(async move {
            let limits = Limits {
                max_message: remote_max_message(&answer_sdp),
                send_buffer: self.send_buffer,
                remote_buffer: remote_buffer(&answer_sdp),
            };
            let mut me = self;
            // The channel takes over the connection; the offer must not close it.
            me.armed = false;
            let (pc, dc, handler, timeout) =
                (me.pc.clone(), me.dc.clone(), me.handler.clone(), me.timeout);
            drop(me);
            let opened = async {
                let answer = RTCSessionDescription::answer(answer_sdp)
                    .map_err(|e| TransportError::BadSdp(e.to_string()))?;
                pc.set_remote_description(answer)
                    .await
                    .map_err(|e| TransportError::BadSdp(e.to_string()))?;
                wait_open(&dc, &handler).await?;
                Ok(dc)
            };
            finish_open(pc.clone(), handler.clone(), timeout, limits, opened).await
        })
    }
}

impl Drop for WebRtcOffer {
    fn drop(&mut self) {
        // An offer dropped unanswered still owns sockets and a driver task.
        if self.armed {
            close_later(self.pc.clone());
        }
    }
}

/// What a channel's writes must respect.
struct Limits {
    /// Largest message the remote accepts.
    max_message: usize,
    /// Most bytes unacknowledged (the connection's send-buffer limit).
    send_buffer: usize,
    /// The UDP receive buffer a webswarm remote declared in its SDP.
    remote_buffer: Option<usize>,
}

/// Waits up to `timeout` for `opened`; on failure the connection is closed.
async fn finish_open(
    pc: Arc<dyn PeerConnection>,
    handler: Arc<Handler>,
    timeout: Duration,
    limits: Limits,
    opened: impl std::future::Future<Output = Result<Arc<dyn DataChannel>, TransportError>>,
) -> Result<Box<dyn Channel>, TransportError> {
    let err = match tokio::time::timeout(timeout, opened).await {
        Ok(Ok(dc)) => return Ok(Box::new(WebRtcChannel::new(pc, dc, handler, limits))),
        Ok(Err(e)) => e,
        Err(_) => TransportError::Timeout(timeout),
    };
    let _ = pc.close().await;
    Err(err)
}

/// Waits for the channel's open event, or fails when the connection fails.
async fn wait_open(dc: &Arc<dyn DataChannel>, handler: &Handler) -> Result<(), TransportError> {
    if matches!(dc.ready_state().await, Ok(RTCDataChannelState::Open)) {
        return Ok(());
    }
    let mut dead = handler.dead.subscribe();
    loop {
        tokio::select! {
            ev = dc.poll() => match ev {
                Some(DataChannelEvent::OnOpen) => return Ok(()),
                Some(DataChannelEvent::OnClose) | None => return Err(TransportError::Closed),
                Some(_) => {}
            },
            _ = dead.wait_for(|d| *d) => return Err(TransportError::Closed),
        }
    }
}

/// Receives peer-connection callbacks. They must return quickly: the
/// connection's driver waits for them.
struct Handler {
    gathering: watch::Sender<RTCIceGatheringState>,
    dead: watch::Sender<bool>,
    /// ICE found a working pair: the remote is really there.
    reachable: watch::Sender<bool>,
    incoming: std::sync::Mutex<Option<oneshot::Sender<Arc<dyn DataChannel>>>>,
}

impl Handler {
    fn new(incoming: Option<oneshot::Sender<Arc<dyn DataChannel>>>) -> Self {
        Handler {
            gathering: watch::channel(RTCIceGatheringState::New).0,
            dead: watch::channel(false).0,
            reachable: watch::channel(false).0,
            incoming: std::sync::Mutex::new(incoming),
        }
    }
}

#[async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        self.gathering.send_replace(state);
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        if matches!(
            state,
            RTCIceConnectionState::Connected | RTCIceConnectionState::Completed
        ) {
            self.reachable.send_replace(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        if matches!(
            state,
            RTCPeerConnectionState::Failed
                | RTCPeerConnectionState::Closed
                | RTCPeerConnectionState::Disconnected
        ) {
            self.dead.send_replace(true);
        }
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        // Only the first channel is ours; a peer opening more gets them ignored.
        let tx = self.incoming.lock().ok().and_then(|mut g| g.take());
        if let Some(tx) = tx {
            let _ = tx.send(dc);
        }
    }
}

struct WebRtcChannel {
    limits: Limits,
    pc: Arc<dyn PeerConnection>,
    dc: Arc<dyn DataChannel>,
    handler: Arc<Handler>,
    /// `recv` polls the channel's event stream; one reader at a time.
    reader: Mutex<()>,
    /// Bytes that may be unacknowledged now; 0 until the first write fits it.
    window: AtomicUsize,
    fit: std::sync::Mutex<WindowFit>,
    /// Woken when the channel's buffered amount falls below its low mark,
    /// which `recv` sees as an event.
    drained: Notify,
}

/// A blocked write looks again after this long even without a wake-up (the
/// event that wakes it arrives only while someone is in `recv`), doubling
/// up to `RECHECK_MAX` while the peer takes nothing, so a stalled peer
/// costs a few checks a second, not hundreds.
const RECHECK: Duration = Duration::from_millis(2);
const RECHECK_MAX: Duration = Duration::from_millis(100);

impl WebRtcChannel {
    fn new(
        pc: Arc<dyn PeerConnection>,
        dc: Arc<dyn DataChannel>,
        handler: Arc<Handler>,
        limits: Limits,
    ) -> Self {
        WebRtcChannel {
            limits,
            pc,
            dc,
            handler,
            reader: Mutex::new(()),
            window: AtomicUsize::new(0),
            fit: std::sync::Mutex::new(WindowFit::default()),
            drained: Notify::new(),
        }
    }

    /// The fit's state. A poisoned lock only means a writer panicked while
    /// it held two plain values: they are still usable.
    fn fit(&self) -> std::sync::MutexGuard<'_, WindowFit> {
        self.fit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The window, fitted again to the measured round trip when it is due.
    async fn window(&self) -> usize {
        let due = self.fit().due(Instant::now());
        if due {
            let sample = self.round_trip().await;
            let declared = (self.limits.remote_buffer)
                .map_or(0, |b| buffer_window(b, self.limits.send_buffer));
            let window = self
                .fit()
                .fit(sample, self.limits.send_buffer)
                .max(declared);
            if self.window.swap(window, Ordering::Relaxed) != window {
                tracing::debug!(min_rtt = ?self.fit().min_rtt(), window, "send window");
                let low = window.saturating_sub(chunk_size(window, self.limits.max_message));
                let low = u32::try_from(low).unwrap_or(u32::MAX);
                let _ = self.dc.set_buffered_amount_low_threshold(low).await;
            }
        }
        // Another writer may read it while the first fit is still sampling.
        self.window.load(Ordering::Relaxed).max(MIN_WINDOW)
    }

    /// The selected candidate pair's latest round trip from the ICE checks.
    async fn round_trip(&self) -> Option<Duration> {
        let report = self.pc.get_stats(Instant::now(), StatsSelector::None).await;
        let rtt = report.iter().find_map(|e| match e {
            RTCStatsReportEntry::IceCandidatePair(p)
                if p.nominated && p.current_round_trip_time > 0.0 =>
            {
                Duration::try_from_secs_f64(p.current_round_trip_time).ok()
            }
            _ => None,
        });
        rtt
    }

    /// Waits until fewer than `window` bytes are unacknowledged.
    async fn wait_below(&self, window: usize) -> Result<(), TransportError> {
        let mut recheck = RECHECK;
        let mut dead = self.handler.dead.subscribe();
        loop {
            // A connection that died (or that we closed) may still report
            // a full window forever: without this the writer never ends,
            // and keeps the connection and its task alive.
            if *dead.borrow_and_update() {
                return Err(TransportError::Closed);
            }
            let drained = self.drained.notified();
            tokio::pin!(drained);
            // Registered before looking, so a wake-up in between is not lost.
            drained.as_mut().enable();
            let out = self
                .dc
                .outstanding_bytes()
                .await
                .map_err(|_| TransportError::Closed)?;
            if out < window {
                return Ok(());
            }
            tokio::select! {
                r = tokio::time::timeout(recheck, drained) => if r.is_err() {
                    recheck = (recheck * 2).min(RECHECK_MAX);
                },
                _ = dead.changed() => {}
            }
        }
    }
}

#[async_trait]
impl Channel for WebRtcChannel {
    async fn send(&self, mut data: Bytes) -> Result<(), TransportError> {
        while !data.is_empty() {
            let window = self.window().await;
            self.wait_below(window).await?;
            let n = chunk_size(window, self.limits.max_message);
            let chunk = data.split_to(data.len().min(n));
            let buf = chunk
                .try_into_mut()
                .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
            self.dc
                .send(buf)
                .await
                .map_err(|_| TransportError::Closed)?;
        }
        Ok(())
    }

    async fn recv(&self) -> Option<Bytes> {
        let _guard = self.reader.lock().await;
        let mut dead = self.handler.dead.subscribe();
        loop {
            tokio::select! {
                ev = self.dc.poll() => match ev {
                    Some(DataChannelEvent::OnMessage(m)) => return Some(m.data.freeze()),
                    Some(DataChannelEvent::OnBufferedAmountLow) => self.drained.notify_waiters(),
                    Some(DataChannelEvent::OnClose) | None => return None,
                    Some(_) => {}
                },
                _ = dead.wait_for(|d| *d) => return None,
            }
        }
    }

    async fn close(&self) {
        // Ends a reader or writer of this channel that is waiting.
        self.handler.dead.send_replace(true);
        let _ = self.dc.close().await;
        let _ = self.pc.close().await;
    }
}

impl Drop for WebRtcChannel {
    fn drop(&mut self) {
        close_later(self.pc.clone());
    }
}

/// Closes a connection when dropped, unless disarmed (it opened, or was
/// closed already).
struct CloseOnDrop(Option<Arc<dyn PeerConnection>>);

impl CloseOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if let Some(pc) = self.0.take() {
            close_later(pc);
        }
    }
}

/// Closes a peer connection from a destructor (closing is async).
fn close_later(pc: Arc<dyn PeerConnection>) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            let _ = pc.close().await;
        });
    }
}

fn rtc_err(e: webrtc::error::Error) -> TransportError {
    TransportError::Rtc(e.to_string())
}

/// WebTorrent names each channel with 40 random hex characters.
fn random_hex_label() -> String {
    let mut b = [0u8; 20];
    crate::util::fill_random(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ipv6_wildcard_is_bound_only_with_an_ipv6_route() {
        let binds = RtcConfig::default().bind;
        assert_eq!(usable_binds(&binds, true), binds);
        let v4 = usable_binds(&binds, false);
        assert_eq!(v4.len(), binds.len() - 1);
        assert!(v4.iter().all(|a| a.is_ipv4()));
        let named: SocketAddr = "[fd00::2]:0".parse().unwrap();
        assert_eq!(
            usable_binds(&[named], false),
            [named],
            "a named address stays"
        );
    }
}
