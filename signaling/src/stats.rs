//! What `/stats.json` and `/metrics` report.

use crate::cluster::allow::AllowSetStats;
use crate::cluster::ClusterStats;
use crate::swarm::SwarmCounters;

#[derive(serde::Serialize, Debug)]
pub struct Stats {
    pub torrents: usize,
    pub seeders: u64,
    pub leechers: u64,
    pub connections: usize,
    /// Swarm shards.
    pub shards: usize,
    pub messages_out: u64,
    pub slow_clients_closed: u64,
    pub refused_connections: u64,
    /// Connections moved to the thread that owns their first torrent.
    pub connections_moved: u64,
    /// Connections, announces and scrapes refused, by kind.
    pub refusals: std::collections::BTreeMap<&'static str, u64>,
    #[serde(flatten)]
    pub swarm: SwarmCounters,
    pub uptime_secs: u64,
    /// Present when this node is part of a cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterStats>,
    /// Present when the cluster's allow-list set is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_set: Option<AllowSetStats>,
}

impl Stats {
    /// Prometheus text exposition format.
    pub fn prometheus(&self) -> String {
        let gauges: [(&str, &str, f64); 5] = [
            (
                "torrents",
                "Torrents with at least one peer.",
                self.torrents as f64,
            ),
            (
                "seeders",
                "Peers with the whole torrent.",
                self.seeders as f64,
            ),
            (
                "leechers",
                "Peers still downloading (or without metadata).",
                self.leechers as f64,
            ),
            (
                "connections",
                "Open WebSocket connections.",
                self.connections as f64,
            ),
            ("shards", "Swarm shards.", self.shards as f64),
        ];
        let w = &self.swarm;
        let counters: [(&str, &str, u64); 10] = [
            ("announces_total", "Announces handled.", w.announces),
            (
                "offers_relayed_total",
                "WebRTC offers relayed.",
                w.offers_relayed,
            ),
            (
                "answers_relayed_total",
                "WebRTC answers relayed.",
                w.answers_relayed,
            ),
            (
                "answers_refused_total",
                "Answers refused (no matching relayed offer).",
                w.answers_refused,
            ),
            ("scrapes_total", "Scrapes handled.", w.scrapes),
            ("failures_total", "Failure replies sent.", w.failures),
            (
                "messages_out_total",
                "Messages queued to clients.",
                self.messages_out,
            ),
            (
                "slow_clients_closed_total",
                "Clients closed because they stopped reading.",
                self.slow_clients_closed,
            ),
            (
                "refused_connections_total",
                "Connections refused at the connection limit.",
                self.refused_connections,
            ),
            (
                "connections_moved_total",
                "Connections moved to the thread that owns their first torrent.",
                self.connections_moved,
            ),
        ];
        let mut s = String::new();
        let gauge_rows = gauges.iter().map(|&(n, h, v)| (n, "gauge", h, v));
        let counter_rows = counters
            .iter()
            .map(|&(n, h, v)| (n, "counter", h, v as f64));
        for (name, kind, help, v) in gauge_rows.chain(counter_rows) {
            s.push_str(&format!(
                "# HELP webswarm_tracker_{name} {help}\n# TYPE webswarm_tracker_{name} {kind}\nwebswarm_tracker_{name} {v}\n"
            ));
        }
        s.push_str(
            "# HELP webswarm_tracker_refusals_total Connections, announces and scrapes refused, by kind.\n# TYPE webswarm_tracker_refusals_total counter\n",
        );
        for (kind, n) in &self.refusals {
            s.push_str(&format!(
                "webswarm_tracker_refusals_total{{kind=\"{kind}\"}} {n}\n"
            ));
        }
        if let Some(a) = &self.allow_set {
            let rows: [(&str, &str, &str, f64); 4] = [
                (
                    "allow_set_loaded",
                    "gauge",
                    "1 once the cluster's allow-list set has been read from Redis.",
                    f64::from(u8::from(a.loaded)),
                ),
                (
                    "allow_set_entries",
                    "gauge",
                    "Info-hashes on the allow-list set (last read).",
                    a.entries as f64,
                ),
                (
                    "allow_set_failed_reads_total",
                    "counter",
                    "Reads of the allow-list set that failed (the last copy stays).",
                    a.failed_reads as f64,
                ),
                (
                    "allow_set_malformed",
                    "gauge",
                    "Members of the allow-list set that are not hex info-hashes (last read).",
                    a.malformed as f64,
                ),
            ];
            push_rows(&mut s, &rows);
        }
        if let Some(c) = &self.cluster {
            let rows: [(&str, &str, &str, f64); 7] = [
                (
                    "cluster_redis_up",
                    "gauge",
                    "1 when this node reaches Redis.",
                    f64::from(u8::from(c.redis_up)),
                ),
                (
                    "cluster_nodes",
                    "gauge",
                    "Live nodes in the cluster, this one included.",
                    c.nodes as f64,
                ),
                (
                    "cluster_messages_sent_total",
                    "counter",
                    "Messages published to other nodes.",
                    c.messages_sent as f64,
                ),
                (
                    "cluster_messages_received_total",
                    "counter",
                    "Messages received from other nodes.",
                    c.messages_received as f64,
                ),
                (
                    "cluster_messages_dropped_total",
                    "counter",
                    "Messages for other nodes dropped (Redis down or queue full).",
                    c.messages_dropped as f64,
                ),
                (
                    "cluster_reads_paused_total",
                    "counter",
                    "Times a connection stopped reading because the queue to Redis was half full (this node is not keeping up with its cluster traffic).",
                    c.reads_paused as f64,
                ),
                (
                    "cluster_publish_waits_total",
                    "counter",
                    "Times the link waited 1 ms to gather crossings into one PUBLISH (only while busy).",
                    c.publish_waits as f64,
                ),
            ];
            push_rows(&mut s, &rows);
        }
        s
    }
}

/// Prometheus lines for (name, kind, help, value) rows.
fn push_rows(s: &mut String, rows: &[(&str, &str, &str, f64)]) {
    for (name, kind, help, v) in rows {
        s.push_str(&format!(
            "# HELP webswarm_tracker_{name} {help}\n# TYPE webswarm_tracker_{name} {kind}\nwebswarm_tracker_{name} {v}\n"
        ));
    }
}
