//! What a simulation runs: the file, the peers and their links.

use std::time::Duration;

use webswarm_core::engine::Config;
use webswarm_core::Rng;

use crate::network::Uplink;

/// How a simulated peer behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    Honest,
    /// Serves every block with its bytes inverted.
    Corrupt,
}

/// One simulated peer.
#[derive(Clone, Debug)]
pub struct PeerSpec {
    /// Upload capacity in bytes per second.
    pub up: f64,
    /// Download capacity in bytes per second.
    pub down: f64,
    /// One-way latency from this peer to the network core; a link's latency is the sum of both ends.
    pub latency: Duration,
    pub join: Duration,
    pub leave: Option<Duration>,
    pub seed: bool,
    pub behaviour: Behaviour,
    /// Asks for the first bytes of the file first (streaming deadline).
    pub streaming: bool,
    /// Its storage opens this long after it starts (as OPFS or a disk can
    /// be slow); until then the host holds what it would store.
    pub storage_delay: Option<Duration>,
}

impl PeerSpec {
    pub fn leecher(up: f64, down: f64, latency_ms: u64) -> Self {
        PeerSpec {
            up,
            down,
            latency: Duration::from_millis(latency_ms),
            join: Duration::ZERO,
            leave: None,
            seed: false,
            behaviour: Behaviour::Honest,
            streaming: false,
            storage_delay: None,
        }
    }

    pub fn seeder(up: f64, latency_ms: u64) -> Self {
        PeerSpec {
            seed: true,
            ..PeerSpec::leecher(up, up * 4.0, latency_ms)
        }
    }
}

/// How simulated peers store data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageMode {
    /// Every peer keeps the bytes it received and hashes pieces with SHA-1.
    Real,
    /// Peers compare each written block with the true content and keep only a
    /// per-piece verdict, so 1000-peer runs fit in memory and time. The engine
    /// sees the same verify/verdict contract either way.
    Reference,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    pub file_len: u64,
    pub piece_len: u64,
    pub peers: Vec<PeerSpec>,
    pub engine: Config,
    pub storage: StorageMode,
    /// Simulation step of the bandwidth model.
    pub tick: Duration,
    /// Give up after this much simulated time.
    pub max_time: Duration,
    /// Connections a peer opens per announce (the peers a tracker hands out).
    /// WebTorrent sends 5 offers per announce. Measured with the benchmark:
    /// N = 1000, 12 → ratio 1.39, 30 → 1.57; N = 300, 10 → 1.33, 50 → 2.68.
    /// With many neighbours, peer sets fill up early, later joiners are
    /// refused, and the swarm mixes worse.
    pub numwant: usize,
    pub reannounce: Duration,
    /// Print per-second diagnostics to stderr.
    pub diagnostics: bool,
    /// How each sender's upload is shared among its connections.
    pub uplink: Uplink,
    /// The site's origin, a webseed every peer knows: its upload in bytes/s.
    pub origin: Option<f64>,
}

impl Scenario {
    pub fn new(seed: u64, file_len: u64, piece_len: u64, peers: Vec<PeerSpec>) -> Self {
        Scenario {
            seed,
            file_len,
            piece_len,
            peers,
            engine: Config::default(),
            storage: StorageMode::Reference,
            tick: Duration::from_millis(10),
            max_time: Duration::from_secs(3600),
            numwant: 12,
            reannounce: Duration::from_secs(30),
            diagnostics: false,
            uplink: Uplink::Fair,
            origin: None,
        }
    }

    /// A site's visitors: `n` leechers with the mixed bandwidths of
    /// [`Scenario::mixed`] arriving at random over `over`, no seeder, and the
    /// site's origin as a webseed with `origin_up` bytes/s of upload.
    pub fn site(
        seed: u64,
        n: usize,
        over: Duration,
        file_len: u64,
        piece_len: u64,
        origin_up: f64,
    ) -> Self {
        let mut sc = Scenario::mixed(seed, n, file_len, piece_len);
        sc.peers.retain(|p| !p.seed);
        let mut rng = Rng::new(seed ^ 0xa221);
        for p in &mut sc.peers {
            p.join = Duration::from_micros(rng.below(over.as_micros() as usize + 1) as u64);
        }
        sc.origin = Some(origin_up);
        sc
    }

    /// One seeder and `n` leechers with mixed home-connection bandwidths
    /// (uploads of 256 KiB/s to 1 MiB/s, downloads 4x their upload) and
    /// latencies of 10–60 ms.
    pub fn mixed(seed: u64, n: usize, file_len: u64, piece_len: u64) -> Self {
        let mut rng = Rng::new(seed ^ 0x5eed);
        let kib = 1024.0;
        let mut peers = vec![PeerSpec::seeder(2048.0 * kib, 20)];
        for _ in 0..n {
            let up = [256.0, 384.0, 512.0, 768.0, 1024.0][rng.below(5)] * kib;
            let latency = 10 + rng.below(51) as u64;
            peers.push(PeerSpec::leecher(up, up * 4.0, latency));
        }
        Scenario::new(seed, file_len, piece_len, peers)
    }

    /// The fluid lower bound on the last completion time for peers that all
    /// join at once: max(F/u_s, F/d_min, N·F/(u_s + Σu_i)).
    pub fn fluid_bound(&self) -> Duration {
        let f = self.file_len as f64;
        let seeds: f64 = self
            .peers
            .iter()
            .filter(|p| p.seed)
            .map(|p| p.up)
            .sum::<f64>()
            + self.origin.unwrap_or(0.0);
        let leechers: Vec<&PeerSpec> = self.peers.iter().filter(|p| !p.seed).collect();
        let n = leechers.len() as f64;
        let sum_up: f64 = leechers.iter().map(|p| p.up).sum();
        let d_min = leechers
            .iter()
            .map(|p| p.down)
            .fold(f64::INFINITY, f64::min);
        let secs = (f / seeds).max(f / d_min).max(n * f / (seeds + sum_up));
        Duration::from_secs_f64(secs)
    }
}
