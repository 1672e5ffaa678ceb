//! Classic announces over HTTP (BEP 3, compact peers BEP 23 and BEP 7,
//! scrape BEP 48): the query parsed into the swarm's [`ClassicAnnounce`],
//! and the bencoded answers; [`udp`] the same over BEP 15 datagrams. No
//! I/O here; `server.rs` serves both.

pub mod udp;

use std::net::{IpAddr, SocketAddr};

use webswarm_core::bencode::{encode, OwnedValue};
use webswarm_core::{percent_decode, InfoHash, PeerId};
use webswarm_tracker_proto::ScrapeFile;

use crate::swarm::{ClassicAnnounce, ClassicReply};

/// Peers given when the announce does not say.
const DEFAULT_NUMWANT: usize = 50;
/// Torrents one scrape may name.
const MAX_SCRAPE: usize = 64;

fn params(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
}

fn twenty(v: &str, what: &'static str) -> Result<[u8; 20], &'static str> {
    percent_decode(v)
        .and_then(|b| <[u8; 20]>::try_from(b).ok())
        .ok_or(what)
}

/// Whether a query is a classic announce (it names an info-hash).
pub fn is_announce(query: &str) -> bool {
    params(query).any(|(k, _)| k == "info_hash")
}

/// Parses an announce from `ip` (the connection's address: a claimed `ip`
/// parameter is ignored, or anyone could point a swarm at a victim).
pub fn parse_announce(query: &str, ip: IpAddr) -> Result<ClassicAnnounce, &'static str> {
    let (mut ih, mut id, mut port, mut left) = (None, None, None, None);
    let (mut event, mut numwant) = ("", DEFAULT_NUMWANT);
    for (k, v) in params(query) {
        match k {
            "info_hash" => ih = Some(twenty(v, "info_hash is not 20 bytes")?),
            "peer_id" => id = Some(twenty(v, "peer_id is not 20 bytes")?),
            "port" => port = Some(v.parse::<u16>().map_err(|_| "port is not a port")?),
            "left" => left = Some(v.parse::<u64>().map_err(|_| "left is not a number")?),
            "event" => event = v,
            "numwant" => numwant = v.parse().unwrap_or(DEFAULT_NUMWANT),
            _ => {}
        }
    }
    let port = port.filter(|&p| p != 0).ok_or("missing port")?;
    Ok(ClassicAnnounce {
        info_hash: InfoHash(ih.ok_or("missing info_hash")?),
        peer_id: PeerId(id.ok_or("missing peer_id")?),
        addr: SocketAddr::new(ip, port),
        left: left.ok_or("missing left")?,
        completed: event == "completed",
        stopped: event == "stopped",
        numwant,
    })
}

/// The info-hashes a scrape names (none: the tracker does not list all).
pub fn parse_scrape(query: &str) -> Result<Vec<InfoHash>, &'static str> {
    let hashes: Vec<InfoHash> = params(query)
        .filter(|(k, _)| *k == "info_hash")
        .map(|(_, v)| twenty(v, "info_hash is not 20 bytes").map(InfoHash))
        .take(MAX_SCRAPE)
        .collect::<Result<_, _>>()?;
    match hashes.is_empty() {
        true => Err("name the torrents to scrape with info_hash"),
        false => Ok(hashes),
    }
}

/// Compact peers, IPv4 in `peers` and IPv6 in `peers6`.
pub fn encode_reply(r: &ClassicReply) -> Vec<u8> {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for a in &r.peers {
        match a.ip() {
            IpAddr::V4(ip) => v4.extend_from_slice(&ip.octets()),
            IpAddr::V6(ip) => v6.extend_from_slice(&ip.octets()),
        }
        let out = if a.is_ipv4() { &mut v4 } else { &mut v6 };
        out.extend_from_slice(&a.port().to_be_bytes());
    }
    let int = |n: u32| OwnedValue::Int(i64::from(n));
    encode(&OwnedValue::dict([
        ("complete", int(r.complete)),
        ("incomplete", int(r.incomplete)),
        ("interval", int(r.interval_secs)),
        ("min interval", int(r.interval_secs / 2)),
        ("peers", OwnedValue::Bytes(v4)),
        ("peers6", OwnedValue::Bytes(v6)),
    ]))
}

/// A refusal a classic client shows its user.
pub fn encode_failure(reason: &str) -> Vec<u8> {
    encode(&OwnedValue::dict([(
        "failure reason",
        OwnedValue::bytes(reason),
    )]))
}

/// A scrape answer.
pub fn encode_scrape(hashes: &[InfoHash], files: &[ScrapeFile]) -> Vec<u8> {
    let int = |n: u32| OwnedValue::Int(i64::from(n));
    let files = hashes.iter().zip(files).map(|(h, f)| {
        let counts = OwnedValue::dict([
            ("complete", int(f.complete)),
            ("downloaded", int(f.downloaded)),
            ("incomplete", int(f.incomplete)),
        ]);
        (h.0, counts)
    });
    encode(&OwnedValue::dict([("files", OwnedValue::dict(files))]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use webswarm_core::classic::parse_announce_response;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 2, 3));

    #[test]
    fn an_announce_from_transmission_parses() {
        let q = "info_hash=-ie4%8eC%88%a7q%9e%25%c8%98%d0%de%17%07%dd%29%9e&peer_id=-TR3000-0mkei0z4wndz\
                 &port=51413&uploaded=0&downloaded=0&left=0&numwant=80&key=6fbd29aa&compact=1&supportcrypto=1\
                 &event=completed&ip=6.6.6.6";
        assert!(is_announce(q));
        let a = parse_announce(q, IP).unwrap();
        assert_eq!(
            a.info_hash.to_hex(),
            "2d6965348e4388a7719e25c898d0de1707dd299e"
        );
        assert_eq!(&a.peer_id.0, b"-TR3000-0mkei0z4wndz");
        assert_eq!(
            a.addr,
            SocketAddr::new(IP, 51413),
            "the claimed ip is ignored"
        );
        assert_eq!(
            (a.left, a.completed, a.stopped, a.numwant),
            (0, true, false, 80)
        );
    }

    #[test]
    fn bad_announces_say_what_is_wrong() {
        let ok = "info_hash=%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01&peer_id=aaaaaaaaaaaaaaaaaaaa&port=1&left=5";
        assert!(parse_announce(ok, IP).is_ok());
        for (q, why) in [
            (ok.replace("port=1", "port=0"), "missing port"),
            (ok.replace("port=1", "port=70000"), "port is not a port"),
            (ok.replace("%01&peer", "&peer"), "info_hash is not 20 bytes"),
            (ok.replace("&left=5", ""), "missing left"),
            (ok.replace("left=5", "left=-1"), "left is not a number"),
            (
                ok.replace("peer_id=a", "peer_id=%zz"),
                "peer_id is not 20 bytes",
            ),
        ] {
            assert_eq!(parse_announce(&q, IP), Err(why), "{q}");
        }
    }

    #[test]
    fn the_reply_is_what_a_classic_client_reads() {
        let r = ClassicReply {
            peers: vec!["10.0.0.1:6881".parse().unwrap(), "[::1]:7".parse().unwrap()],
            complete: 2,
            incomplete: 3,
            interval_secs: 120,
        };
        let back = parse_announce_response(&encode_reply(&r)).unwrap();
        assert_eq!(back.peers, r.peers);
        assert_eq!((back.seeders, back.leechers), (Some(2), Some(3)));
        assert_eq!(back.interval, Some(std::time::Duration::from_secs(120)));
        let f = encode_failure("not on this tracker's allow-list");
        assert_eq!(f, b"d14:failure reason32:not on this tracker's allow-liste");
    }

    #[test]
    fn scrapes_name_their_torrents() {
        let one = "%01".repeat(20);
        let q = format!("info_hash={one}&info_hash={}", "%02".repeat(20));
        let hs = parse_scrape(&q).unwrap();
        assert_eq!(hs, vec![InfoHash([1; 20]), InfoHash([2; 20])]);
        assert!(parse_scrape("").is_err());
        let files = [ScrapeFile {
            complete: 1,
            incomplete: 2,
            downloaded: 3,
        }; 2];
        let b = encode_scrape(&hs[..1], &files[..1]);
        let mut want = b"d5:filesd20:".to_vec();
        want.extend_from_slice(&[1; 20]);
        want.extend_from_slice(b"d8:completei1e10:downloadedi3e10:incompletei2eeee");
        assert_eq!(b, want);
    }
}
