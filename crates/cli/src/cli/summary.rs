//! A transfer's peers and bytes by kind of source: WebRTC peers, classic TCP
//! and uTP peers and webseeds, as the JSON that `get --json` and `seed
//! --status-every` print.

use serde_json::{json, Value};
use webswarm_core::engine::WireBytes;
use webswarm_core::host::Stats;

/// Peers now open and bytes so far, by kind.
pub fn by_kind(s: &Stats) -> Value {
    let (peers, down, up) = (s.peers_by_wire, s.down_by_wire, s.up_by_wire);
    json!({
        "peers": {
            "webrtc": peers.data_channel,
            "tcp": peers.tcp,
            "utp": peers.utp,
            "webseed": s.webseeds,
        },
        "downloaded": {
            "webrtc": down.data_channel,
            "tcp": down.tcp,
            "utp": down.utp,
            "webseed": s.downloaded.saturating_sub(down.data_channel + down.classic()),
        },
        "uploaded": by_wire(up),
    })
}

/// Bytes per wire, as JSON.
pub fn by_wire(b: WireBytes) -> Value {
    json!({ "webrtc": b.data_channel, "tcp": b.tcp, "utp": b.utp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use webswarm_core::engine::ByWire;

    #[test]
    fn webseed_bytes_are_what_no_wire_carried() {
        let s = Stats {
            peers: 4,
            peers_by_wire: ByWire {
                data_channel: 2,
                tcp: 1,
                utp: 1,
            },
            webseeds: 1,
            downloaded: 100,
            down_by_wire: WireBytes {
                data_channel: 50,
                tcp: 30,
                utp: 10,
            },
            up_by_wire: WireBytes {
                data_channel: 5,
                tcp: 7,
                utp: 1,
            },
            ..Default::default()
        };
        let v = by_kind(&s);
        assert_eq!(
            v["peers"],
            json!({"webrtc": 2, "tcp": 1, "utp": 1, "webseed": 1})
        );
        assert_eq!(
            v["downloaded"],
            json!({"webrtc": 50, "tcp": 30, "utp": 10, "webseed": 10})
        );
        assert_eq!(v["uploaded"], json!({"webrtc": 5, "tcp": 7, "utp": 1}));
    }
}
