//! One WebSocket connection: its task reads messages, checks them against
//! the connection's rules, handles them in the shard that owns their
//! torrent, and writes out what is queued for it.

use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use webswarm_tracker_proto::{
    ClientMessage, Failure, InfoHash, ParseError, Scrape, ScrapeResponse, TrackerMessage,
};

use crate::access::IpGuard;
use crate::connection::{check_scrape, ConnRules};
use crate::link::Link;
use crate::refusal::Refusal;
use crate::server::App;
use crate::shard::Outbound;
use crate::swarm::ConnId;
use crate::token::Grant;
use crate::ws::frame::{self, Decoder, Frame, FrameError};

/// Close code for policy violations (RFC 6455): used when a client stops reading.
const CLOSE_POLICY: u16 = 1008;
/// A client that accepts none of our bytes for this long is closed, even if
/// nobody else is sending to it (its queue then never fills).
const WRITE_STALL: Duration = Duration::from_secs(10);

fn failure(reason: String, action: &str, info_hash: Option<InfoHash>) -> String {
    TrackerMessage::Failure(Failure {
        reason,
        // WebTorrent's client treats a failure without `action` as a broken socket.
        action: Some(action.into()),
        info_hash,
    })
    .to_json()
}

/// One connection as the tracker sees it.
struct Conn {
    app: Arc<App>,
    id: ConnId,
    link: Arc<Link>,
    /// What its token allows (when tokens are required).
    grant: Option<Grant>,
    /// Its queue overflowed with replies to its own messages.
    overflowed: AtomicBool,
}

impl Conn {
    /// Replies to this connection (never blocks; a full queue kills it).
    fn reply(&self, text: String) {
        if self.link.push(text, self.app.cfg.send_queue) {
            self.link.ready.notify_one();
            self.app
                .counters
                .messages_out
                .fetch_add(1, Ordering::Relaxed);
        } else if self.link.kill() {
            // Replies to its own requests it does not read: a slow client
            // too, counted once it has left its swarms.
            self.overflowed.store(true, Ordering::Relaxed);
        }
    }

    fn refuse(&self, r: Refusal, ih: Option<InfoHash>) {
        self.app.counters.refusals.add(&r);
        self.reply(failure(r.reason(), r.action(), ih));
    }

    /// The access rules for one torrent (an announce, or a scrape).
    fn permitted(&self, ih: &InfoHash, scrape: bool) -> Result<(), Refusal> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.app.access.check(self.grant.as_ref(), ih, scrape, now)
    }

    /// Handles one text frame.
    fn on_text(&self, text: &str) {
        self.on_message(ClientMessage::from_json(text));
    }

    fn on_message(&self, message: Result<ClientMessage, ParseError>) {
        let now = self.app.clock.now();
        let shards = &self.app.shards;
        match message {
            Ok(ClientMessage::Announce(a)) => {
                let ih = a.info_hash;
                let admitted = self
                    .permitted(&ih, false)
                    .and_then(|()| self.link.rules().admit(&self.app.conn_limits, &a, now));
                match admitted {
                    Ok(()) => shards.announce(self.id, &self.link, a, now),
                    Err(r) => self.refuse(r, Some(ih)),
                }
            }
            Ok(ClientMessage::Answer(a)) => shards.answer(self.id, &self.link, a, now),
            Ok(ClientMessage::Scrape(s)) => self.scrape(s),
            Err(e) => {
                let c = &self.app.counters;
                c.bad_messages.fetch_add(1, Ordering::Relaxed);
                let action = e.action.unwrap_or_else(|| "announce".into());
                self.reply(failure(e.reason, &action, e.info_hash));
            }
        }
    }

    fn scrape(&self, s: Scrape) {
        let checked = check_scrape(&self.app.conn_limits, &s.info_hashes).and_then(|()| {
            s.info_hashes
                .iter()
                .try_for_each(|ih| self.permitted(ih, true))
        });
        if let Err(r) = checked {
            return self.refuse(r, None);
        }
        let files = self.app.shards.scrape(&s.info_hashes);
        let response = TrackerMessage::Scrape(ScrapeResponse {
            files: s.info_hashes.into_iter().zip(files).collect(),
            min_request_interval: self.app.cfg.interval_secs as u32,
        });
        self.reply(response.to_json());
    }
}

/// Serves one WebSocket. A connection the access rules refused gets one
/// failure message saying why and is closed (1008). `socket`: the
/// connection's descriptor, when it may move to the thread that owns its
/// first torrent (`crate::handoff`).
pub(crate) async fn serve_socket<Io>(
    app: Arc<App>,
    mut io: Io,
    addr: SocketAddr,
    admission: Result<(Option<Grant>, Option<IpGuard>), Refusal>,
    socket: Option<RawFd>,
) where
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let admitted = match admission {
        Ok(a) => a,
        Err(r) => {
            app.counters.refusals.add(&r);
            tracing::debug!(%addr, "refused: {}", r.reason());
            let mut out = Vec::new();
            frame::text(&mut out, &failure(r.reason(), r.action(), None));
            frame::close_frame(&mut out, CLOSE_POLICY, "refused");
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                io.write_all(&out).await?;
                io.flush().await
            })
            .await;
            return;
        }
    };
    let open = Open::count(&app.open);
    let mut start = Start {
        decoder: Decoder::new(app.cfg.max_message_bytes),
        first: None,
        _open: open,
    };
    if let Some(fd) = socket.filter(|_| crate::home::shared()) {
        let Some((first, drained)) = first_frame(&mut io, &mut start.decoder).await else {
            return;
        };
        let owner = match &first {
            First::Message(Ok(ClientMessage::Announce(a))) if drained => {
                crate::home::owner_elsewhere(app.shards.owner(&a.info_hash))
            }
            _ => None,
        };
        start.first = Some(Box::new(first));
        if let Some(there) = owner {
            // SAFETY: `io` holds the descriptor open until after this call.
            if let Some(moved) = unsafe { crate::handoff::duplicate(fd) } {
                // Leaves this thread's reactor; the duplicate keeps the socket.
                drop(io);
                app.counters.moved.fetch_add(1, Ordering::Relaxed);
                crate::home::run_there(
                    &there,
                    Box::new(move || match tokio::net::TcpStream::from_std(moved) {
                        Ok(tcp) => {
                            tokio::spawn(serve_admitted(app, tcp, addr, admitted, start));
                        }
                        Err(e) => tracing::warn!(%addr, "cannot take over a connection: {e}"),
                    }),
                );
                return;
            }
        }
    }
    // A task of its own: this one's state (the first read, the handoff)
    // would otherwise be carried for the connection's whole life.
    tokio::spawn(serve_admitted(app, io, addr, admitted, start));
}

/// What was read before a connection's task settled on its thread.
struct Start {
    decoder: Decoder,
    /// Boxed: an announce is hundreds of bytes, and every connection's task
    /// would carry room for it for the connection's whole life.
    first: Option<Box<First>>,
    /// Held, not read: dropped when the connection ends.
    _open: Open,
}

/// Counts a connection as open from its upgrade until it ends, wherever it
/// is served meanwhile (the connection limit and `/stats.json` see it).
struct Open(Arc<AtomicUsize>);

impl Open {
    fn count(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        Open(open.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The first frame, already taken out of the decoder.
enum First {
    Message(Result<ClientMessage, ParseError>),
    Frame(Frame),
    Bad(FrameError),
}

/// Reads until the first frame is complete; `None` if the connection ended
/// first. With it, whether nothing read before the upgrade can be left
/// behind in hyper's buffer: its rest comes first, and a first read that
/// did not fill our buffer emptied it.
async fn first_frame<R: AsyncRead + Unpin>(rd: &mut R, d: &mut Decoder) -> Option<(First, bool)> {
    const FIRST_READ: usize = 64 * 1024;
    let mut drained = None;
    loop {
        match d.next_frame() {
            Ok(Some(Frame::Text(text))) => {
                let message = ClientMessage::from_json(&text);
                return Some((First::Message(message), drained?));
            }
            Ok(Some(f)) => return Some((First::Frame(f), false)),
            Err(e) => return Some((First::Bad(e), false)),
            Ok(None) => {}
        }
        let n = match drained {
            None => read_some::<_, FIRST_READ>(rd, d).await,
            Some(_) => read_some::<_, READ>(rd, d).await,
        };
        match n {
            Ok(0) | Err(_) => return None,
            Ok(n) => drained = Some(drained.unwrap_or(n < FIRST_READ)),
        }
    }
}

#[allow(clippy::manual_async_fn)] // on purpose: see below
fn serve_admitted<Io>(
    app: Arc<App>,
    io: Io,
    addr: SocketAddr,
    admitted: (Option<Grant>, Option<IpGuard>),
    mut start: Start,
) -> impl std::future::Future<Output = ()>
where
    Io: AsyncRead + AsyncWrite + Unpin,
{
    // An async block, not an async fn: an async fn keeps its arguments and
    // a copy of each, and this future lives as long as the connection
    // (-Zprint-type-sizes: 1176 -> 952 bytes per connection).
    let (grant, slot) = admitted;
    async move {
        // Moved in by name: a block captures only what it uses, and the
        // per-address slot must live as long as the connection.
        let _slot = slot;
        let id = app.next_conn();
        let rules = ConnRules::new(&app.conn_limits, app.clock.now());
        let conn = Conn {
            app: app.clone(),
            id,
            link: Arc::new(Link::new(rules)),
            grant,
            overflowed: AtomicBool::new(false),
        };
        tracing::debug!(conn = id, %addr, "connected");
        let ending = serve_frames(&conn, io, &mut start).await;
        app.shards.disconnect(id, &conn.link);
        if conn.overflowed.load(Ordering::Relaxed) {
            app.counters.slow_closed.fetch_add(1, Ordering::Relaxed);
        }
        tracing::debug!(conn = id, ?ending, "disconnected");
    }
}

/// Reads, writes and watches for a kill in one task: an idle connection then
/// costs one small future, not two.
async fn serve_frames<Io: AsyncRead + AsyncWrite + Unpin>(
    conn: &Conn,
    io: Io,
    start: &mut Start,
) -> Ending {
    let (mut rd, mut wr) = tokio::io::split(io);
    // The first frame, if it was read before: a message is handled at once,
    // only a control frame may need to write.
    let early = match start.first.take().map(|f| *f) {
        Some(First::Message(m)) => {
            conn.on_message(m);
            None
        }
        Some(First::Frame(f)) => Some(Ok(f)),
        Some(First::Bad(e)) => Some(Err(Ending::Bad(e))),
        None => None,
    };
    let early = match early {
        Some(Ok(f)) => conn.on_frame(f, &mut wr).await,
        Some(Err(end)) => Some(end),
        None => None,
    };
    // Frames that arrived with the first one are handled by the loop's
    // first turn, before it reads.
    let ending = match early {
        Some(end) => end,
        None => serve_loop(conn, &mut rd, &mut wr, &mut start.decoder).await,
    };
    let close = match &ending {
        Ending::Normal => None,
        Ending::ClientClosed => Some((1000, "bye")),
        Ending::QueueFull => Some((CLOSE_POLICY, "send queue full")),
        Ending::Stalled => {
            let c = &conn.app.counters;
            c.slow_closed.fetch_add(1, Ordering::Relaxed);
            Some((CLOSE_POLICY, "client is not reading"))
        }
        Ending::Bad(e) => Some((e.code(), "")),
    };
    if let Some((code, reason)) = close {
        let reason = match &ending {
            Ending::Bad(e) => e.to_string(),
            _ => reason.to_owned(),
        };
        let mut out = Vec::new();
        frame::close_frame(&mut out, code, &reason);
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            wr.write_all(&out).await?;
            wr.flush().await
        })
        .await;
    }
    ending
}

/// The connection's life after its first frames: writes what is queued for
/// it, reads and handles what it sends, until it ends.
async fn serve_loop<R, W>(conn: &Conn, rd: &mut R, wr: &mut W, decoder: &mut Decoder) -> Ending
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let link = &conn.link;
    loop {
        // Checked on every turn, not only on a wake-up: the kill watcher in
        // `write_queued` may consume the notification for a message queued
        // while it was writing.
        if link.killed() {
            break Ending::QueueFull;
        }
        if !link.queue().is_empty() {
            if let Err(e) = write_queued(wr, link).await {
                break e;
            }
            continue;
        }
        if !conn.may_go_on() {
            // This node's queue to its cluster is half full: keep writing to
            // the client, but handle and read nothing more until the link
            // has taken some of it, so what the client sends across is not
            // dropped.
            if let Some(out) = conn.app.shards.outbound() {
                tokio::select! {
                    biased;
                    _ = link.ready.notified() => {}
                    () = out.room() => {}
                }
            }
            continue;
        }
        // Frames already read (all of them, unless the queue filled up).
        if let Some(end) = conn.on_frames(decoder, wr).await {
            break end;
        }
        if !conn.may_go_on() {
            continue;
        }
        tokio::select! {
            biased;
            _ = link.ready.notified() => {}
            read = read_some::<_, READ>(rd, decoder) => match read {
                Ok(0) | Err(_) => break Ending::Normal,
                Ok(_) => {}
            },
        }
    }
}

impl Conn {
    /// Whether this connection may handle another message: not while its
    /// node's queue to the cluster is half full (each message handled may
    /// add a batch to it).
    fn may_go_on(&self) -> bool {
        self.app.shards.outbound().is_none_or(Outbound::has_room)
    }

    /// Handles the complete frames received, unless [`Conn::may_go_on`]
    /// stops it; `Some` when the connection ends.
    async fn on_frames<W: AsyncWrite + Unpin>(
        &self,
        d: &mut Decoder,
        wr: &mut W,
    ) -> Option<Ending> {
        loop {
            if !self.may_go_on() {
                // The rest waits in the decoder (see `serve_loop`).
                return None;
            }
            match d.next_frame() {
                Ok(None) => return None,
                Ok(Some(f)) => {
                    if let Some(end) = self.on_frame(f, wr).await {
                        return Some(end);
                    }
                }
                Err(e) => return Some(Ending::Bad(e)),
            }
        }
    }

    /// Handles one frame; `Some` when the connection ends.
    async fn on_frame<W: AsyncWrite + Unpin>(&self, f: Frame, wr: &mut W) -> Option<Ending> {
        match f {
            Frame::Text(text) => self.on_text(&text),
            Frame::Binary(_) => {
                let why = "binary frames are not supported; send JSON text";
                self.reply(failure(why.into(), "announce", None));
            }
            Frame::Ping(payload) => {
                let mut out = Vec::new();
                frame::pong(&mut out, &payload);
                let sent = tokio::time::timeout(WRITE_STALL, wr.write_all(&out)).await;
                if !matches!(sent, Ok(Ok(()))) {
                    return Some(Ending::Normal);
                }
            }
            Frame::Pong => {}
            Frame::Close(_) => return Some(Ending::ClientClosed),
        }
        None
    }
}

/// Bytes read from a socket at a time.
const READ: usize = 4096;

/// Reads what the socket has (at most `N` bytes) into the decoder; `Ok(0)`
/// at end of stream. The read buffer lives on the stack for one poll only:
/// an idle connection holds none. It is not zeroed first: the reader
/// writes before it is read (`ReadBuf::uninit`), and zeroing 4 KiB per read
/// was 1.6 % of a busy tracker's CPU (perf, 2000 announces/s).
async fn read_some<R: AsyncRead + Unpin, const N: usize>(
    rd: &mut R,
    d: &mut Decoder,
) -> std::io::Result<usize> {
    std::future::poll_fn(|cx| {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); N];
        let mut rb = ReadBuf::uninit(&mut buf);
        match Pin::new(&mut *rd).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                d.feed(rb.filled());
                Poll::Ready(Ok(rb.filled().len()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Why a connection's task ended.
#[derive(Debug)]
enum Ending {
    /// The socket ended or broke.
    Normal,
    /// The client sent a close frame.
    ClientClosed,
    /// Its send queue filled up (`deliver` killed it).
    QueueFull,
    /// It accepted no bytes for `WRITE_STALL`.
    Stalled,
    /// It sent what a WebSocket server must refuse (too big, malformed).
    Bad(FrameError),
}

/// Writes everything queued with one write and one flush. Gives up when the
/// connection is killed meanwhile or the client accepts nothing for
/// `WRITE_STALL`: a client that does not read could otherwise hold it forever.
async fn write_queued<W: AsyncWrite + Unpin>(wr: &mut W, link: &Link) -> Result<(), Ending> {
    let mut out = Vec::new();
    while let Some(text) = link.queue().pop_front() {
        frame::text(&mut out, &text);
    }
    link.release_idle_queue();
    let batch = async {
        wr.write_all(&out).await?;
        wr.flush().await
    };
    let killed = async {
        loop {
            link.ready.notified().await;
            if link.killed() {
                return;
            }
        }
    };
    tokio::select! {
        sent = tokio::time::timeout(WRITE_STALL, batch) => match sent {
            Ok(result) => result.map_err(|_| Ending::Normal),
            Err(_) => {
                tracing::info!("closing a client that accepted nothing for {WRITE_STALL:?}");
                Err(Ending::Stalled)
            }
        },
        _ = killed => Err(Ending::QueueFull),
    }
}
