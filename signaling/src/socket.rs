//! One WebSocket connection: its task reads messages, checks them against
//! the connection's rules, handles them in the shard that owns their
//! torrent, and writes out what is queued for it.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use webswarm_tracker_proto::{
    ClientMessage, Failure, InfoHash, Scrape, ScrapeResponse, TrackerMessage,
};

use crate::access::IpGuard;
use crate::connection::{check_scrape, ConnRules};
use crate::link::Link;
use crate::refusal::Refusal;
use crate::server::App;
use crate::swarm::ConnId;
use crate::token::Grant;

/// Close code for policy violations (RFC 6455): used when a client stops reading.
const CLOSE_POLICY: u16 = 1008;
/// Close code for a message over `max_message_bytes` (RFC 6455 "message too big").
const CLOSE_TOO_BIG: u16 = 1009;
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
}

impl Conn {
    /// Replies to this connection (never blocks; a full queue kills it).
    fn reply(&self, text: String) {
        if self.link.push(text, self.app.cfg.send_queue) {
            self.app
                .counters
                .messages_out
                .fetch_add(1, Ordering::Relaxed);
        } else {
            self.link.kill();
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
        let now = self.app.clock.now();
        let shards = &self.app.shards;
        match ClientMessage::from_json(text) {
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
/// failure message saying why and is closed (1008).
pub(crate) async fn serve_socket(
    app: Arc<App>,
    mut socket: WebSocket,
    addr: SocketAddr,
    admission: Result<(Option<Grant>, Option<IpGuard>), Refusal>,
) {
    let (grant, _slot) = match admission {
        Ok(a) => a,
        Err(r) => {
            app.counters.refusals.add(&r);
            tracing::debug!(%addr, "refused: {}", r.reason());
            let text = failure(r.reason(), r.action(), None);
            let frame = CloseFrame {
                code: CLOSE_POLICY,
                reason: "refused".into(),
            };
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                socket.send(Message::Text(text.into())).await?;
                socket.send(Message::Close(Some(frame))).await
            })
            .await;
            return;
        }
    };
    let id = app.next_conn();
    app.open.fetch_add(1, Ordering::Relaxed);
    let rules = ConnRules::new(&app.conn_limits, app.clock.now());
    let conn = Conn {
        app: app.clone(),
        id,
        link: Arc::new(Link::new(rules)),
        grant,
    };
    tracing::debug!(conn = id, %addr, "connected");
    let ending = serve_frames(&conn, socket).await;
    app.shards.disconnect(id, &conn.link);
    app.open.fetch_sub(1, Ordering::Relaxed);
    tracing::debug!(conn = id, ?ending, "disconnected");
}

/// Reads, writes and watches for a kill in one task: an idle connection then
/// costs one small future, not two.
async fn serve_frames(conn: &Conn, socket: WebSocket) -> Ending {
    let link = &conn.link;
    let (mut sink, mut stream) = socket.split();
    let ending = loop {
        // Checked on every turn, not only on a wake-up: the kill watcher in
        // `write_queued` may consume the notification for a message queued
        // while it was writing.
        if link.killed() {
            break Ending::QueueFull;
        }
        if !link.queue().is_empty() {
            if let Err(e) = write_queued(&mut sink, link).await {
                break e;
            }
            continue;
        }
        tokio::select! {
            biased;
            _ = link.ready.notified() => {}
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => conn.on_text(text.as_str()),
                Some(Ok(Message::Binary(_))) => {
                    let why = "binary frames are not supported; send JSON text";
                    conn.reply(failure(why.into(), "announce", None));
                }
                Some(Err(e)) if is_too_big(&e) => break Ending::TooBig,
                Some(Err(_)) => break Ending::Normal,
                Some(Ok(Message::Close(_))) | None => break Ending::Normal,
                Some(Ok(_)) => {}
            },
        }
    };
    let close = match ending {
        Ending::Normal => None,
        Ending::QueueFull => Some((CLOSE_POLICY, "send queue full")),
        Ending::Stalled => {
            let c = &conn.app.counters;
            c.slow_closed.fetch_add(1, Ordering::Relaxed);
            Some((CLOSE_POLICY, "client is not reading"))
        }
        Ending::TooBig => Some((CLOSE_TOO_BIG, "message over the tracker's size limit")),
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(
            Duration::from_millis(200),
            sink.send(Message::Close(Some(frame))),
        )
        .await;
    }
    ending
}

/// Why a connection's task ended.
#[derive(Debug, Clone, Copy)]
enum Ending {
    /// The client closed, or the socket broke.
    Normal,
    /// Its send queue filled up (`deliver` killed it).
    QueueFull,
    /// It accepted no bytes for `WRITE_STALL`.
    Stalled,
    /// It sent a frame or message over `max_message_bytes`.
    TooBig,
}

/// Whether a read failed on a frame or message over the size limit (the
/// socket is still writable then: the client gets a close frame saying so).
fn is_too_big(e: &axum::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|e| e.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)))
}

/// Writes everything queued with one flush (one syscall). Gives up when the
/// connection is killed meanwhile or the client accepts nothing for
/// `WRITE_STALL`: a client that does not read could otherwise hold it forever.
async fn write_queued(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    link: &Link,
) -> Result<(), Ending> {
    let batch = async {
        loop {
            let next = link.queue().pop_front();
            let Some(text) = next else { break };
            sink.feed(Message::Text(text.into())).await?;
        }
        link.release_idle_queue();
        sink.flush().await
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
