//! A transfer's peers and bytes by kind of source: WebRTC peers, classic TCP
//! peers and webseeds, as the JSON that `get --json` and `seed
//! --status-every` print.

use serde_json::{json, Value};
use webswarm_core::host::Stats;

/// Peers now open and bytes so far, by kind.
pub fn by_kind(s: &Stats) -> Value {
    let (down, up) = (s.down_by_wire, s.up_by_wire);
    json!({
        "peers": {
            "webrtc": s.peers - s.tcp_peers,
            "tcp": s.tcp_peers,
            "webseed": s.webseeds,
        },
        "downloaded": {
            "webrtc": down.data_channel,
            "tcp": down.tcp,
            "webseed": s.downloaded.saturating_sub(down.data_channel + down.tcp),
        },
        "uploaded": {
            "webrtc": up.data_channel,
            "tcp": up.tcp,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use webswarm_core::engine::WireBytes;

    #[test]
    fn webseed_bytes_are_what_no_wire_carried() {
        let s = Stats {
            peers: 3,
            tcp_peers: 1,
            webseeds: 1,
            downloaded: 100,
            down_by_wire: WireBytes {
                data_channel: 60,
                tcp: 30,
            },
            up_by_wire: WireBytes {
                data_channel: 5,
                tcp: 7,
            },
            ..Default::default()
        };
        let v = by_kind(&s);
        assert_eq!(v["peers"], json!({"webrtc": 2, "tcp": 1, "webseed": 1}));
        assert_eq!(
            v["downloaded"],
            json!({"webrtc": 60, "tcp": 30, "webseed": 10})
        );
        assert_eq!(v["uploaded"], json!({"webrtc": 5, "tcp": 7}));
    }
}
