//! What the tracker benchmark and the abuse run share: the workload's
//! messages, and starting and watching a tracker process.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use webswarm_core::Rng;
use webswarm_tracker_proto::binstr_encode;

pub fn sdp(rng: &mut Rng) -> String {
    // A no-trickle Chromium data-channel offer is about 1 KB with one candidate.
    let mut ufrag = [0u8; 8];
    rng.fill(&mut ufrag);
    format!(
        "v=0\r\no=- {} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n\
m=application 50712 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 127.0.0.1\r\n\
a=candidate:1 1 udp 2113937151 127.0.0.1 50712 typ host generation 0 network-cost 999\r\n\
a=ice-ufrag:{}\r\na=ice-pwd:{}\r\na=ice-options:trickle\r\n\
a=fingerprint:sha-256 {}\r\na=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n",
        rng.next_u64(),
        webswarm_core::hex_encode(&ufrag),
        webswarm_core::hex_encode(&ufrag).repeat(3),
        (0..32).map(|i| format!("{:02X}", (i * 7) as u8)).collect::<Vec<_>>().join(":")
    )
}

pub fn id_from(n: u64, tag: u8) -> [u8; 20] {
    let mut id = [tag; 20];
    id[..8].copy_from_slice(&n.to_be_bytes());
    id
}

pub fn announce(
    ih: &[u8; 20],
    peer: &[u8; 20],
    offers: Vec<serde_json::Value>,
    event: Option<&str>,
) -> Message {
    let mut v = serde_json::json!({"action": "announce", "info_hash": binstr_encode(ih), "peer_id": binstr_encode(peer),
        "numwant": offers.len(), "uploaded": 0, "downloaded": 0, "left": 1000, "offers": offers});
    if let Some(e) = event {
        v["event"] = e.into();
    }
    Message::text(v.to_string())
}

pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // utime and stime are fields 14 and 15; after ')' they are at 11 and 12 (0-based, state skipped).
    let ticks = f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0);
    ticks as f64 / clock_ticks()
}

pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

pub async fn start(name: &str, mut cmd: Command) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let out = child.stdout.take().expect("piped");
    let err = child.stderr.take().expect("piped");
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    for stream in [
        Box::new(out) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(err),
    ] {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let _ = tx.send(l);
            }
        });
    }
    let url = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(l) = rx.recv().await {
            if let Some(i) = l.find("ws://127.0.0.1:") {
                let port: String = l[i + 15..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                return format!("ws://127.0.0.1:{port}");
            }
        }
        panic!("{name} exited before listening");
    })
    .await
    .unwrap_or_else(|_| panic!("{name} did not start"));
    (child, url)
}

pub async fn connect(
    url: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut cfg = WebSocketConfig::default();
    cfg.read_buffer_size = 4096;
    cfg.write_buffer_size = 4096;
    loop {
        match tokio_tungstenite::connect_async_with_config(url, Some(cfg), true).await {
            Ok((ws, _)) => return ws,
            // Under saturation the accept queue can overflow: try again.
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

pub fn answer_to(o: &webswarm_tracker_proto::RelayedOffer, me: &[u8; 20]) -> Message {
    Message::text(
        serde_json::json!({"action": "announce",
            "info_hash": binstr_encode(&o.info_hash.0), "peer_id": binstr_encode(me),
            "to_peer_id": binstr_encode(&o.peer_id.0), "offer_id": binstr_encode(&o.offer_id.0),
            "answer": {"type": "answer", "sdp": "v=0\r\na=answer\r\n"}})
        .to_string(),
    )
}

/// A load announce serialised once, with fresh offer ids written into it
/// each time: the load generator shares two cores with the tracker, and
/// serialising several KB of JSON per announce would make it the bottleneck.
pub struct OfferTemplate {
    text: String,
    /// Where each offer's 20-character id starts.
    slots: Vec<usize>,
}

impl OfferTemplate {
    pub fn new(ih: &[u8; 20], me: &[u8; 20], offers: usize, rng: &mut Rng) -> Self {
        let marker = |k: usize| format!("~~~~~~~~~~~~~~~~~~{k:02}");
        let list = (0..offers)
            .map(|k| serde_json::json!({"offer": {"type": "offer", "sdp": sdp(rng)}, "offer_id": marker(k)}))
            .collect();
        let Message::Text(text) = announce(ih, me, list, None) else {
            unreachable!("announce builds text")
        };
        let text = text.as_str().to_owned();
        let slots = (0..offers)
            .map(|k| text.find(&marker(k)).expect("marker"))
            .collect();
        OfferTemplate { text, slots }
    }

    /// The announce with offer ids made from `seq` (ASCII hex, so the
    /// binary-string encoding leaves them as they are).
    pub fn fill(&self, seq: u64) -> Message {
        let mut text = self.text.clone();
        for (k, &at) in self.slots.iter().enumerate() {
            let id = format!("{:018x}{k:02}", seq);
            text.replace_range(at..at + 20, &id);
        }
        Message::text(text)
    }
}

/// A tracker's `/stats.json`, given its `ws://` URL (`None` if it has none,
/// e.g. bittorrent-tracker, or does not answer within 10 s).
pub async fn stats_of(ws_url: &str) -> Option<serde_json::Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = ws_url.strip_prefix("ws://")?;
    let get = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        let request =
            format!("GET /stats.json HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(request.as_bytes()).await.ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).await.ok()?;
        serde_json::from_str(body.split_once("\r\n\r\n")?.1).ok()
    };
    tokio::time::timeout(Duration::from_secs(10), get)
        .await
        .ok()?
}
