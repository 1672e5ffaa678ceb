//! Swarm workers: each thread owns the torrents whose info-hash maps to it
//! and is the only one to touch them, so the announce path takes no global
//! lock. Connections send each message to the worker that owns its torrent
//! (as aquatic does); every peer a message may go to is in that torrent, so
//! the worker delivers straight into the receivers' send queues.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use webswarm_core::{Rng, Time};
use webswarm_tracker_proto::{Announce, Answer, InfoHash, ScrapeFile};

use crate::link::Link;
use crate::swarm::{ConnId, Out, Outbox, SwarmCounters, SwarmLimits, Swarms};

/// Messages a worker may have waiting; a connection whose worker is this far
/// behind waits to send (backpressure, not an unbounded queue).
const CHANNEL: usize = 4096;
/// How often peers that stopped announcing are dropped.
const EXPIRY_EVERY: Duration = Duration::from_secs(15);

/// A message for a worker.
pub enum Command {
    Announce {
        conn: ConnId,
        link: Arc<Link>,
        announce: Announce,
        now: Time,
    },
    Answer {
        conn: ConnId,
        link: Arc<Link>,
        answer: Answer,
        now: Time,
    },
    Scrape {
        hashes: Vec<InfoHash>,
        reply: oneshot::Sender<Vec<ScrapeFile>>,
    },
    /// The connection closed: its peers leave every torrent here.
    Disconnect {
        conn: ConnId,
    },
    Report {
        reply: oneshot::Sender<ShardReport>,
    },
}

/// One worker's share of `/stats.json`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShardReport {
    pub torrents: usize,
    pub seeders: u64,
    pub leechers: u64,
    pub counters: SwarmCounters,
    pub messages_out: u64,
    pub slow_closed: u64,
}

impl ShardReport {
    fn add(mut self, o: ShardReport) -> Self {
        self.torrents += o.torrents;
        self.seeders += o.seeders;
        self.leechers += o.leechers;
        let (c, d) = (&mut self.counters, o.counters);
        c.announces += d.announces;
        c.offers_relayed += d.offers_relayed;
        c.answers_relayed += d.answers_relayed;
        c.answers_refused += d.answers_refused;
        c.scrapes += d.scrapes;
        c.failures += d.failures;
        self.messages_out += o.messages_out;
        self.slow_closed += o.slow_closed;
        self
    }
}

/// Handles to the workers. Dropping it (with every clone of the senders)
/// ends their threads.
pub struct Shards {
    senders: Vec<mpsc::Sender<Command>>,
}

/// The clock every worker and connection reads, so times compare.
#[derive(Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Self {
        Clock(Instant::now())
    }

    pub fn now(&self) -> Time {
        Time::from_micros(self.0.elapsed().as_micros() as u64)
    }

    pub fn uptime(&self) -> Duration {
        self.0.elapsed()
    }
}

impl Shards {
    /// Starts `n` worker threads (at least one).
    pub fn start(
        n: usize,
        limits: SwarmLimits,
        send_queue: usize,
        seed: u64,
        clock: Clock,
    ) -> Self {
        let senders = (0..n.max(1))
            .map(|i| {
                let (tx, rx) = mpsc::channel(CHANNEL);
                let worker = Worker {
                    swarms: Swarms::new(limits.clone()),
                    links: HashMap::new(),
                    rng: Rng::new(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
                    send_queue,
                    clock,
                    messages_out: 0,
                    slow_closed: 0,
                };
                std::thread::Builder::new()
                    .name(format!("swarm-{i}"))
                    .spawn(move || worker.run(rx))
                    .expect("cannot start a swarm worker thread");
                tx
            })
            .collect();
        Shards { senders }
    }

    pub fn count(&self) -> usize {
        self.senders.len()
    }

    /// The worker that owns a torrent.
    pub fn owner(&self, ih: &InfoHash) -> usize {
        owner_of(ih, self.senders.len())
    }

    /// Sends to one worker, waiting while its queue is full. `false` once the
    /// workers are gone (the tracker is shutting down).
    pub async fn send(&self, shard: usize, cmd: Command) -> bool {
        self.senders[shard].send(cmd).await.is_ok()
    }

    pub async fn disconnect(&self, conn: ConnId) {
        for tx in &self.senders {
            let _ = tx.send(Command::Disconnect { conn }).await;
        }
    }

    /// Counts for each hash, asked of the workers that own them.
    pub async fn scrape(&self, hashes: &[InfoHash]) -> Vec<ScrapeFile> {
        let mut by_shard: Vec<Vec<usize>> = vec![Vec::new(); self.senders.len()];
        for (i, ih) in hashes.iter().enumerate() {
            by_shard[self.owner(ih)].push(i);
        }
        let mut files = vec![ScrapeFile::default(); hashes.len()];
        for (shard, idx) in by_shard.into_iter().enumerate() {
            if idx.is_empty() {
                continue;
            }
            let (reply, answer) = oneshot::channel();
            let part = idx.iter().map(|&i| hashes[i]).collect();
            if !self
                .send(
                    shard,
                    Command::Scrape {
                        hashes: part,
                        reply,
                    },
                )
                .await
            {
                continue;
            }
            if let Ok(got) = answer.await {
                for (i, f) in idx.into_iter().zip(got) {
                    files[i] = f;
                }
            }
        }
        files
    }

    /// Every worker's counts, summed.
    pub async fn report(&self) -> ShardReport {
        let mut total = ShardReport::default();
        for tx in &self.senders {
            let (reply, answer) = oneshot::channel();
            if tx.send(Command::Report { reply }).await.is_ok() {
                if let Ok(r) = answer.await {
                    total = total.add(r);
                }
            }
        }
        total
    }
}

/// Which of `n` workers owns a torrent. Every byte counts: made-up
/// info-hashes (counters, test ids) spread as evenly as digests do.
pub fn owner_of(ih: &InfoHash, n: usize) -> usize {
    let mut h = 0u64;
    for chunk in ih.0.chunks(8) {
        let mut b = [0; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    ((u128::from(h) * n as u128) >> 64) as usize
}

struct Worker {
    swarms: Swarms,
    /// The connections with peers (or pending messages) here.
    links: HashMap<ConnId, Arc<Link>>,
    rng: Rng,
    send_queue: usize,
    clock: Clock,
    messages_out: u64,
    slow_closed: u64,
}

impl Worker {
    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return tracing::error!("swarm worker cannot start: {e}"),
        };
        rt.block_on(async move {
            let mut expiry = tokio::time::interval(EXPIRY_EVERY);
            loop {
                tokio::select! {
                    cmd = rx.recv() => {
                        let Some(cmd) = cmd else { break };
                        self.handle(cmd);
                        // Drain what queued meanwhile before sleeping again.
                        while let Ok(cmd) = rx.try_recv() {
                            self.handle(cmd);
                        }
                    }
                    _ = expiry.tick() => {
                        let out = self.swarms.expire(self.clock.now());
                        self.deliver(out);
                    }
                }
            }
        });
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Announce {
                conn,
                link,
                announce,
                now,
            } => {
                self.links.entry(conn).or_insert(link);
                let out = self.swarms.announce(conn, announce, now, &mut self.rng);
                self.deliver(out);
            }
            Command::Answer {
                conn,
                link,
                answer,
                now,
            } => {
                self.links.entry(conn).or_insert(link);
                let out = self.swarms.answer(conn, answer, now);
                self.deliver(out);
            }
            Command::Scrape { hashes, reply } => {
                let _ = reply.send(self.swarms.scrape(&hashes));
            }
            Command::Disconnect { conn } => {
                self.links.remove(&conn);
                self.swarms.disconnect(conn);
            }
            Command::Report { reply } => {
                let (torrents, seeders, leechers) = self.swarms.totals();
                let _ = reply.send(ShardReport {
                    torrents,
                    seeders,
                    leechers,
                    counters: self.swarms.counters,
                    messages_out: self.messages_out,
                    slow_closed: self.slow_closed,
                });
            }
        }
    }

    fn deliver(&mut self, out: Outbox) {
        for o in out {
            match o {
                Out::To(to, msg) => self.send(to, msg.to_json()),
                Out::Dropped(conn, ih, peer) => {
                    if let Some(link) = self.links.get(&conn) {
                        link.rules().forget(&ih, &peer);
                    }
                }
            }
        }
    }

    fn send(&mut self, to: ConnId, json: String) {
        let Some(link) = self.links.get(&to) else {
            return;
        };
        if link.push(json, self.send_queue) {
            self.messages_out += 1;
        } else {
            // The client stopped reading: close it rather than buffer without bound.
            link.kill();
            self.links.remove(&to);
            self.swarms.disconnect(to);
            self.slow_closed += 1;
            tracing::info!(conn = to, "closing a client whose send queue is full");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_spread_over_the_workers() {
        let mut per = [0usize; 4];
        for i in 0u64..4000 {
            let mut ih = [b'i'; 20];
            ih[..8].copy_from_slice(&i.to_be_bytes());
            per[owner_of(&InfoHash(ih), 4)] += 1;
        }
        assert!(per.iter().all(|&n| (800..1200).contains(&n)), "{per:?}");
    }
}
