use std::time::Duration;

/// Whom a leecher gives its regular unchoke slots to. (A seed always serves
/// the peers furthest behind: it gets nothing back to reward.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Choking {
    /// BitTorrent's tit-for-tat: the peers that upload to us fastest. For
    /// open swarms, where a peer that only takes must not get the best service.
    #[default]
    TitForTat,
    /// The peers furthest behind, so the swarm as a whole finishes sooner: for
    /// swarms of one site's visitors, who all want everyone done. In the
    /// simulator (`cargo xtask bench-sim --seeds 5`) this shortened the median
    /// last completion at N = 100, 300 and 1000 (not at N = 30).
    Swarm,
}

impl Choking {
    /// Its name on command lines: `tit-for-tat` or `swarm`.
    pub fn name(self) -> &'static str {
        match self {
            Choking::TitForTat => "tit-for-tat",
            Choking::Swarm => "swarm",
        }
    }
}

impl std::str::FromStr for Choking {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        [Choking::TitForTat, Choking::Swarm]
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("{s}: give tit-for-tat or swarm"))
    }
}

/// Engine settings; the defaults suit both browsers and native peers.
#[derive(Clone, Debug)]
pub struct Config {
    /// Most connections this torrent keeps at once.
    pub max_peers: usize,
    /// Regular unchoke slots (peers we upload to, chosen by rate).
    pub unchoke_slots: usize,
    /// Whom regular slots go to while we leech.
    pub choking: Choking,
    /// Optimistic unchoke slots, rotated every `optimistic_rounds` rechokes.
    pub optimistic_slots: usize,
    /// How often unchoke slots are reassigned.
    pub rechoke_interval: Duration,
    /// Rechokes between moves of the optimistic slot.
    pub optimistic_rounds: u32,
    /// Requests from one peer we queue (advertised as `reqq`); more are refused.
    pub max_incoming_requests: usize,
    /// Most requests we keep outstanding at one peer, whatever its `reqq`.
    pub max_outstanding_requests: usize,
    /// Pipeline depth per peer: enough requests to cover this much of its rate.
    /// Deeper queues tie more blocks to one peer and delay piece completion:
    /// in the swarm simulator 0.3–0.5 s beat 1–3 s at N = 100 and N = 300.
    pub request_queue_time: Duration,
    /// The same for peers on a classic TCP wire. Their clients send in
    /// bursts (transmission: every 500 ms) and rechoke slowly, so a pipeline
    /// sized for a data channel's steady stream leaves the link idle between
    /// bursts: 0.9 MB/s from transmission on loopback at 0.5 s. libtorrent
    /// uses 3 s. (Browsers have no TCP peers.)
    #[cfg(not(target_arch = "wasm32"))]
    pub tcp_request_queue_time: Duration,
    /// The TCP port we accept classic peers on, told to them in the
    /// extension handshake (`p`) so that they can pass it on (PEX).
    #[cfg(not(target_arch = "wasm32"))]
    pub tcp_listen_port: Option<u16>,
    /// A peer that sends no requested block for this long is snubbed and its requests go elsewhere.
    pub request_timeout: Duration,
    /// An unchoked peer that requests nothing for this long gives its slot to a waiting peer.
    pub idle_unchoke_timeout: Duration,
    /// A peer must complete its handshake within this.
    pub handshake_timeout: Duration,
    /// A connection with nothing received for this long is closed.
    pub idle_timeout: Duration,
    /// A connection whose send buffer stays full for this long is closed:
    /// the peer takes nothing (it never reads, or its link is dead), and
    /// keep-alives from it would otherwise hold its slot and buffer for ever.
    /// The shells report "writable" again below 256 KiB of a 1 MiB mark, so
    /// at 120 s only a peer taking under ~6.5 KB/s for two minutes is dropped.
    pub write_stall_timeout: Duration,
    /// A keep-alive is sent after this long without sending.
    pub keepalive_interval: Duration,
    /// Largest wire message accepted.
    pub max_message_len: u32,
    /// Block reads outstanding to the host per peer.
    pub max_reads_in_flight: usize,
    /// Failed pieces a peer may contribute to before it is banned.
    pub max_strikes: u32,
    /// Banned peer ids remembered (oldest forgotten first).
    pub max_banned: usize,
    /// Bytes of unrequested or duplicate data tolerated from one peer.
    pub max_unwanted_bytes: u64,
    /// Fetches outstanding per webseed (each one or more HTTP range requests).
    pub webseed_fetches: usize,
    /// Largest fetch; a fetch never spans pieces.
    pub webseed_run_bytes: u32,
    /// Below this many bytes/s from peers, webseeds may serve any piece;
    /// above it only pieces no peer has or with a streaming deadline.
    pub webseed_swarm_floor: f64,
    /// Failed fetches in a row before a webseed is dropped.
    pub webseed_max_failures: u32,
    /// Sent as `v` in the extension handshake.
    pub client_name: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_peers: 50,
            unchoke_slots: 4,
            choking: Choking::TitForTat,
            optimistic_slots: 1,
            rechoke_interval: Duration::from_secs(10),
            optimistic_rounds: 3,
            max_incoming_requests: 250,
            max_outstanding_requests: 250,
            request_queue_time: Duration::from_millis(500),
            #[cfg(not(target_arch = "wasm32"))]
            tcp_request_queue_time: Duration::from_secs(3),
            #[cfg(not(target_arch = "wasm32"))]
            tcp_listen_port: None,
            request_timeout: Duration::from_secs(20),
            idle_unchoke_timeout: Duration::from_secs(2),
            handshake_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(180),
            write_stall_timeout: Duration::from_secs(120),
            keepalive_interval: Duration::from_secs(60),
            max_message_len: 1 << 20,
            max_reads_in_flight: 8,
            max_strikes: 3,
            max_banned: 1024,
            max_unwanted_bytes: 8 << 20,
            webseed_fetches: 4,
            webseed_run_bytes: 1 << 20,
            webseed_swarm_floor: 2_000_000.0,
            webseed_max_failures: 5,
            client_name: concat!("webswarm/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Choking;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn choking_policies_parse_from_their_names() {
        for c in [Choking::TitForTat, Choking::Swarm] {
            assert_eq!(c.name().parse::<Choking>(), Ok(c));
        }
        assert!("fastest".parse::<Choking>().is_err());
    }
}
