//! The node's connection to Redis: publishes what shards send across, reads
//! the bus and this node's channel, heartbeats, and reconnects with backoff.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc::Receiver;
use tokio::time::{timeout, Instant};

use super::nodes::Nodes;
use super::pace::{Pace, LINGER};
use super::publisher::Publisher;
use super::wire::{self, Message};
use super::{ClusterStatus, OwnStats};
use crate::shard::{Clock, Crossing, Shards};
use crate::swarm::NodeId;

/// A Redis command that takes longer than this counts as Redis being down.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Crossings published together, at most.
const BATCH: usize = 512;
/// Messages per PUBLISH (a snapshot of many peers goes in several).
const CHUNK: usize = 1000;

pub struct Link {
    pub timeout: Duration,
    pub heartbeat: Duration,
    pub prefix: String,
    pub bus: String,
    /// Crossings a second from which the link gathers (`Pace`); 0 never.
    pub gather_per_second: u64,
    pub url: String,
    pub shards: Weak<Shards>,
    pub status: Arc<ClusterStatus>,
    pub clock: Clock,
    pub own: OwnStats,
}

/// Why a connection to Redis ended.
#[derive(Debug)]
enum Lost {
    Redis(String),
    /// The tracker is shutting down.
    Shutdown,
}

impl From<redis::RedisError> for Lost {
    fn from(e: redis::RedisError) -> Self {
        Lost::Redis(e.to_string())
    }
}

impl Link {
    fn channel(&self, node: NodeId) -> String {
        format!("{}:node:{node:016x}", self.prefix)
    }

    pub async fn run(self, mut rx: Receiver<Vec<Crossing>>) {
        let mut backoff = Duration::from_millis(100);
        let mut nodes = Nodes::new(self.timeout);
        loop {
            match self.serve(&mut rx, &mut nodes).await {
                Lost::Shutdown => {
                    self.status.redis_up.store(false, Ordering::Relaxed);
                    self.status.drained.notify_waiters();
                    return;
                }
                Lost::Redis(why) => {
                    let was_up = self.status.redis_up.swap(false, Ordering::Relaxed);
                    // Connections waiting for room read on: what they send
                    // across is discarded until Redis is back.
                    self.status.drained.notify_waiters();
                    if was_up {
                        tracing::warn!("lost Redis ({why}): serving local swarms only");
                        // Peers of other nodes cannot be reached now: stop
                        // handing them out.
                        nodes.clear();
                        if let Ok(mut live) = self.status.nodes.lock() {
                            live.clear();
                        }
                        if let Some(s) = self.shards.upgrade() {
                            s.forget_node(None);
                        }
                    } else {
                        tracing::debug!("Redis still unreachable: {why}");
                    }
                }
            }
            // Jitter: nodes that lost Redis together do not return together.
            let jitter = self.clock.now().as_micros() % 100;
            let until = Instant::now() + backoff + Duration::from_millis(jitter);
            let waited = tokio::select! {
                more = self.discard_until(&mut rx, until) => more,
                () = self.status.leave.notified() => false,
            };
            if !waited {
                return;
            }
            backoff = (backoff * 2).min(Duration::from_secs(2));
            self.status.reconnects.fetch_add(1, Ordering::Relaxed);
            if self.shards.strong_count() == 0 {
                return;
            }
        }
    }

    /// Drops what shards send while Redis is down (it would be stale when
    /// Redis returns). `false` once the shards are gone.
    async fn discard_until(&self, rx: &mut Receiver<Vec<Crossing>>, until: Instant) -> bool {
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return true,
                c = rx.recv() => match c {
                    None => return false,
                    Some(b) => { self.status.dropped.fetch_add(b.len() as u64, Ordering::Relaxed); }
                },
            }
        }
    }

    async fn serve(&self, rx: &mut Receiver<Vec<Crossing>>, nodes: &mut Nodes) -> Lost {
        let client = match redis::Client::open(self.url.as_str()) {
            Ok(c) => c,
            Err(e) => return Lost::Redis(e.to_string()),
        };
        let connected = timeout(COMMAND_TIMEOUT, async {
            let mut sub = client.get_async_pubsub().await?;
            sub.subscribe(&self.bus).await?;
            sub.subscribe(self.channel(self.status.node)).await?;
            let publisher = Publisher::connect(client.get_connection_info())
                .await
                .map_err(|e| Lost::Redis(e.to_string()))?;
            Ok::<_, Lost>((publisher, sub))
        })
        .await;
        let (mut publisher, mut sub) = match connected {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return e,
            Err(_) => return Lost::Redis("timed out connecting".into()),
        };
        // What was sent while disconnected was dropped; what others sent us
        // meanwhile was missed: start again from everyone's full state.
        while let Ok(b) = rx.try_recv() {
            self.status
                .dropped
                .fetch_add(b.len() as u64, Ordering::Relaxed);
        }
        nodes.clear();
        if let Some(s) = self.shards.upgrade() {
            s.forget_node(None);
        }
        let mut hello = vec![Message::Hello];
        hello.extend(self.snapshot());
        let hello = vec![(self.bus.clone(), hello)];
        if let Err(e) = self.send_all(&mut publisher, hello).await {
            return e;
        }
        self.status.redis_up.store(true, Ordering::Relaxed);
        tracing::info!(node = %format!("{:016x}", self.status.node), "joined the cluster through Redis");
        let mut beat = tokio::time::interval(self.heartbeat);
        let mut stream = sub.on_message();
        // When our own bus messages last came back: Redis relays.
        let mut echoed = Instant::now();
        let mut pace = Pace::new(self.gather_per_second);
        loop {
            let result = tokio::select! {
                msg = stream.next() => match msg {
                    None => return Lost::Redis("subscription closed".into()),
                    Some(m) => {
                        let payload = m.get_payload_bytes();
                        if wire::sender(payload) == Some(self.status.node) {
                            echoed = Instant::now();
                            continue;
                        }
                        let replies = self.receive(payload, nodes);
                        self.send_all(&mut publisher, replies).await
                    }
                },
                c = rx.recv() => match c {
                    None => return Lost::Shutdown,
                    Some(c) => self.cross(&mut publisher, c, rx, &mut pace).await,
                },
                _ = beat.tick() => match echoed.elapsed() > self.timeout {
                    true => Err(Lost::Redis("Redis stopped relaying our messages".into())),
                    false => self.beat(&mut publisher, nodes).await,
                },
                () = self.status.leave.notified() => {
                    let bye = vec![(self.bus.clone(), vec![Message::Bye])];
                    let _ = timeout(COMMAND_TIMEOUT, self.send_all(&mut publisher, bye)).await;
                    tracing::info!("left the cluster");
                    return Lost::Shutdown;
                }
            };
            if let Err(e) = result {
                return e;
            }
        }
    }

    /// `Reset`, then every local peer: this node's whole share of the swarms.
    fn snapshot(&self) -> Vec<Message> {
        let mut m = vec![Message::Reset];
        if let Some(s) = self.shards.upgrade() {
            m.extend(s.local_peers().into_iter().map(Message::Event));
        }
        m
    }

    /// Queues `messages` for `channel`, in batches of at most [`CHUNK`].
    fn publish(&self, publisher: &mut Publisher, channel: &str, messages: &[Message]) {
        for chunk in messages.chunks(CHUNK) {
            publisher.publish(channel, &wire::encode(self.status.node, chunk));
        }
        let n = messages.len() as u64;
        self.status.sent.fetch_add(n, Ordering::Relaxed);
    }

    /// Publishes every batch in one write.
    async fn send_all(
        &self,
        publisher: &mut Publisher,
        out: Vec<(String, Vec<Message>)>,
    ) -> Result<(), Lost> {
        if out.is_empty() {
            return Ok(());
        }
        for (channel, messages) in &out {
            self.publish(publisher, channel, messages);
        }
        publisher
            .flush()
            .await
            .map_err(|e| Lost::Redis(e.to_string()))
    }

    /// Publishes `first` and whatever else is already queued, one batch per
    /// channel.
    async fn cross(
        &self,
        publisher: &mut Publisher,
        first: Vec<Crossing>,
        rx: &mut Receiver<Vec<Crossing>>,
        pace: &mut Pace,
    ) -> Result<(), Lost> {
        // Let the other tasks ready in this turn of the runtime run first:
        // what they send across goes in the same write; on a busy node,
        // wait a moment for more (see `pace`).
        tokio::task::yield_now().await;
        if pace.linger(Instant::now()) && rx.len() < BATCH {
            self.status.publish_waits.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(LINGER).await;
        }
        let mut bus = Vec::new();
        let mut to_node: HashMap<NodeId, Vec<Message>> = HashMap::new();
        let mut next = Some(first);
        let mut n = 0;
        while let Some(batch) = next {
            n += batch.len();
            for c in batch {
                match c {
                    Crossing::Publish(e) => bus.push(Message::Event(e)),
                    Crossing::Relay(node, r) => {
                        to_node.entry(node).or_default().push(Message::Relay(r))
                    }
                }
            }
            next = if n < BATCH { rx.try_recv().ok() } else { None };
        }
        pace.took(Instant::now(), n);
        self.status.drained.notify_waiters();
        let mut out: Vec<(String, Vec<Message>)> = Vec::new();
        if !bus.is_empty() {
            out.push((self.bus.clone(), bus));
        }
        out.extend(to_node.into_iter().map(|(n, m)| (self.channel(n), m)));
        self.send_all(publisher, out).await
    }

    async fn beat(&self, publisher: &mut Publisher, nodes: &mut Nodes) -> Result<(), Lost> {
        let gone = nodes.expire(self.clock.now());
        if let Some(s) = self.shards.upgrade() {
            for n in &gone {
                tracing::info!(node = %format!("{n:016x}"), "node gone: dropping its peers");
                s.forget_node(Some(*n));
            }
        }
        if let Ok(mut live) = self.status.nodes.lock() {
            *live = nodes.all();
        }
        let stats = (self.own)();
        let beat = vec![(self.bus.clone(), vec![Message::Heartbeat(stats)])];
        self.send_all(publisher, beat).await
    }

    /// Applies one batch from another node; returns what to publish in reply.
    fn receive(&self, payload: &[u8], nodes: &mut Nodes) -> Vec<(String, Vec<Message>)> {
        let Some((from, messages)) = wire::decode(payload) else {
            self.status.malformed.fetch_add(1, Ordering::Relaxed);
            return Vec::new();
        };
        let Some(shards) = self.shards.upgrade() else {
            return Vec::new();
        };
        let now = self.clock.now();
        let mut replies = Vec::new();
        let mut ask_state = false;
        let mut give_state = false;
        let received = messages.len() as u64;
        self.status.received.fetch_add(received, Ordering::Relaxed);
        for m in messages {
            let new = nodes.heard(from, now);
            match m {
                Message::Hello | Message::Resync => give_state = true,
                Message::Bye => {
                    tracing::info!(node = %format!("{from:016x}"), "node left: dropping its peers");
                    nodes.forget(from);
                    shards.forget_node(Some(from));
                    ask_state = false;
                    continue;
                }
                Message::Reset => shards.forget_node(Some(from)),
                Message::Heartbeat(stats) => {
                    ask_state |= new;
                    nodes.stats(from, stats);
                }
                Message::Event(e) => {
                    ask_state |= new;
                    shards.remote_event(from, &e);
                }
                Message::Relay(r) => shards.remote_relay(r, now),
            }
        }
        if give_state {
            replies.push((self.bus.clone(), self.snapshot()));
        }
        if ask_state {
            // A node we had given up on (or never heard say hello): its
            // peers were dropped here, so ask for all of them.
            replies.push((self.channel(from), vec![Message::Resync]));
        }
        replies
    }
}
