//! HTTP tracker announces: the request URL (BEP 3) and the bencoded
//! response, with compact IPv4 (BEP 23) and IPv6 (BEP 7) peers or the
//! original list of dictionaries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::{AnnounceError, AnnounceParams, AnnounceReply, ClassicEvent};
use crate::bencode::{decode, Dict, Value};

/// The most peers one response may carry; more is junk or an attack.
const MAX_PEERS: usize = 2000;
/// Intervals are clamped to this: a tracker cannot park us for days.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// Every byte except unreserved characters escaped, as the info-hash and
/// peer id (raw bytes) need.
fn escape_bytes(b: &[u8], out: &mut String) {
    for &c in b {
        if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
}

/// The GET URL for an announce to `base` (which may have a query already,
/// e.g. a passkey).
#[must_use]
pub fn announce_url(base: &str, p: &AnnounceParams) -> String {
    let mut u = String::with_capacity(base.len() + 200);
    u.push_str(base);
    u.push(if base.contains('?') { '&' } else { '?' });
    u.push_str("info_hash=");
    escape_bytes(&p.info_hash.0, &mut u);
    u.push_str("&peer_id=");
    escape_bytes(&p.peer_id.0, &mut u);
    u.push_str(&format!(
        "&port={}&uploaded={}&downloaded={}&left={}&compact=1&numwant={}&key={:08x}",
        p.port, p.uploaded, p.downloaded, p.left, p.numwant, p.key
    ));
    if let Some(e) = p.event {
        u.push_str(match e {
            ClassicEvent::Started => "&event=started",
            ClassicEvent::Completed => "&event=completed",
            ClassicEvent::Stopped => "&event=stopped",
        });
    }
    u
}

fn bad(why: &str) -> AnnounceError {
    AnnounceError::Malformed(why.to_owned())
}

fn seconds(d: &Dict<'_>, key: &[u8]) -> Option<Duration> {
    let s = d.get_int(key)?;
    (s >= 0).then(|| Duration::from_secs(s as u64).min(MAX_INTERVAL))
}

fn count(d: &Dict<'_>, key: &[u8]) -> Option<u32> {
    d.get_int(key).and_then(|n| u32::try_from(n).ok())
}

/// Parses an HTTP tracker's response body.
pub fn parse_announce_response(body: &[u8]) -> Result<AnnounceReply, AnnounceError> {
    let v = decode(body).map_err(|e| AnnounceError::Malformed(e.to_string()))?;
    let d = v.as_dict().ok_or_else(|| bad("not a dictionary"))?;
    if let Some(reason) = d.get_bytes(b"failure reason") {
        return Err(AnnounceError::Refused(
            String::from_utf8_lossy(reason).into_owned(),
        ));
    }
    let mut peers = Vec::new();
    match d.get(b"peers") {
        Some(Value::Bytes(b)) => compact(b, 6, &mut peers)?,
        Some(Value::List(l)) => dict_peers(l, &mut peers),
        Some(_) => return Err(bad("peers is neither a string nor a list")),
        None => {}
    }
    if let Some(b) = d.get_bytes(b"peers6") {
        compact(b, 18, &mut peers)?;
    }
    Ok(AnnounceReply {
        interval: seconds(d, b"interval"),
        min_interval: seconds(d, b"min interval"),
        peers,
        seeders: count(d, b"complete"),
        leechers: count(d, b"incomplete"),
        warning: d
            .get_bytes(b"warning message")
            .map(|w| String::from_utf8_lossy(w).into_owned()),
    })
}

/// Compact peers: 4 (IPv4) or 16 (IPv6) address bytes then a big-endian port.
pub(super) fn compact(
    b: &[u8],
    entry: usize,
    out: &mut Vec<SocketAddr>,
) -> Result<(), AnnounceError> {
    if b.len() % entry != 0 {
        return Err(bad("compact peers are not a whole number of entries"));
    }
    for e in b
        .chunks_exact(entry)
        .take(MAX_PEERS.saturating_sub(out.len()))
    {
        let (ip, port) = e.split_at(entry - 2);
        let ip = match <[u8; 4]>::try_from(ip) {
            Ok(v4) => IpAddr::V4(Ipv4Addr::from(v4)),
            Err(_) => match <[u8; 16]>::try_from(ip) {
                Ok(v6) => IpAddr::V6(Ipv6Addr::from(v6)),
                Err(_) => return Err(bad("a compact peer of the wrong length")),
            },
        };
        push(
            out,
            SocketAddr::new(ip, u16::from_be_bytes([port[0], port[1]])),
        );
    }
    Ok(())
}

fn push(out: &mut Vec<SocketAddr>, a: SocketAddr) {
    // Port 0 cannot be dialled; a tracker that sends it is not worth a try.
    if a.port() != 0 && out.len() < MAX_PEERS {
        out.push(a);
    }
}

fn dict_peers(list: &[Value<'_>], out: &mut Vec<SocketAddr>) {
    for p in list.iter().filter_map(Value::as_dict) {
        let ip = p.get_str(b"ip").and_then(|s| s.parse::<IpAddr>().ok());
        let port = p.get_int(b"port").and_then(|n| u16::try_from(n).ok());
        if let (Some(ip), Some(port)) = (ip, port) {
            push(out, SocketAddr::new(ip, port));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{InfoHash, PeerId};

    fn params() -> AnnounceParams {
        AnnounceParams {
            info_hash: InfoHash([0xab; 20]),
            peer_id: PeerId(*b"-WS0001-a b&c=d/xyz!"),
            port: 6881,
            uploaded: 1,
            downloaded: 2,
            left: 3,
            event: Some(ClassicEvent::Started),
            numwant: 50,
            key: 0xdead_beef,
        }
    }

    #[test]
    fn the_url_escapes_raw_bytes_and_keeps_an_existing_query() {
        let u = announce_url("http://t.example/announce?pk=1", &params());
        assert!(u.starts_with("http://t.example/announce?pk=1&info_hash=%AB%AB"));
        assert!(u.contains("&peer_id=-WS0001-a%20b%26c%3Dd%2Fxyz%21&port=6881"));
        assert!(u.contains("&left=3&compact=1&numwant=50&key=deadbeef&event=started"));
        let plain = announce_url(
            "http://t/a",
            &AnnounceParams {
                event: None,
                ..params()
            },
        );
        assert!(plain.starts_with("http://t/a?info_hash="));
        assert!(!plain.contains("event"));
    }

    #[test]
    fn compact_v4_and_v6_peers_and_counts() {
        let mut body =
            b"d8:completei3e10:incompletei4e8:intervali1800e12:min intervali60e5:peers12:".to_vec();
        body.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80]);
        body.extend_from_slice(b"6:peers618:");
        let mut v6 = [0u8; 18];
        v6[15] = 1;
        v6[16] = 0x1a;
        v6[17] = 0xe2;
        body.extend_from_slice(&v6);
        body.push(b'e');
        let r = parse_announce_response(&body).unwrap();
        let want: Vec<SocketAddr> = vec![
            "127.0.0.1:6881".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
            "[::1]:6882".parse().unwrap(),
        ];
        assert_eq!(r.peers, want);
        assert_eq!(r.interval, Some(Duration::from_secs(1800)));
        assert_eq!(r.min_interval, Some(Duration::from_secs(60)));
        assert_eq!((r.seeders, r.leechers), (Some(3), Some(4)));
    }

    #[test]
    fn dictionary_peers_skip_what_cannot_be_dialled() {
        let body = b"d8:intervali99999999e5:peersld2:ip9:127.0.0.14:porti7eed2:ip4:nope4:porti8eed2:ip3:::14:porti0eed2:ip3:::14:porti70000eeee";
        let r = parse_announce_response(body).unwrap();
        assert_eq!(r.peers, vec!["127.0.0.1:7".parse::<SocketAddr>().unwrap()]);
        assert_eq!(r.interval, Some(MAX_INTERVAL));
    }

    #[test]
    fn refusals_and_junk_are_errors_that_say_which() {
        let refused = parse_announce_response(b"d14:failure reason8:not heree");
        assert_eq!(refused, Err(AnnounceError::Refused("not here".into())));
        for junk in [
            &b"<html>500</html>"[..],
            b"le",
            b"d5:peersi3ee",
            b"d5:peers5:12345e",
        ] {
            assert!(
                matches!(
                    parse_announce_response(junk),
                    Err(AnnounceError::Malformed(_))
                ),
                "{:?}",
                String::from_utf8_lossy(junk)
            );
        }
    }

    #[test]
    fn a_flood_of_peers_is_cut_at_the_bound() {
        let n = MAX_PEERS + 10;
        let mut body = format!("d5:peers{}:", n * 6).into_bytes();
        for i in 0..n {
            body.extend_from_slice(&[10, 0, (i >> 8) as u8, i as u8, 0, 1]);
        }
        body.push(b'e');
        assert_eq!(
            parse_announce_response(&body).unwrap().peers.len(),
            MAX_PEERS
        );
    }
}
