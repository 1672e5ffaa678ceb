//! Classic announces and scrapes over UDP (BEP 15), sans-IO: a datagram in,
//! the datagram to send back out. Connection ids are stateless: a keyed
//! hash of the client's address and the current two-minute window, so a
//! flood of connect requests costs no memory and a spoofed source address
//! cannot announce (it never sees the id).

use std::net::{IpAddr, SocketAddr};

use webswarm_core::{sha1, InfoHash, PeerId, Time};

use crate::swarm::{ClassicAnnounce, ClassicReply};

use webswarm_core::classic::bep15::{ANNOUNCE, CONNECT, ERROR, PROTOCOL_ID, SCRAPE};

/// A connection id is good for this window and the next.
const WINDOW_SECS: u64 = 120;
/// Torrents one scrape may name (BEP 15 fits ~74 in a datagram).
const MAX_SCRAPE: usize = 64;

/// What a datagram asks of the swarms.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// Answer at once with these bytes (a connect, or an error).
    Reply(Vec<u8>),
    /// Announce, then answer with [`announce_reply`].
    Announce {
        transaction: u32,
        announce: ClassicAnnounce,
    },
    /// Scrape these, then answer with [`scrape_reply`].
    Scrape {
        transaction: u32,
        hashes: Vec<InfoHash>,
    },
    /// Not worth an answer (too short, not BEP 15, an id it was not given).
    Ignore,
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// The connection id for `from` in the window holding `now`.
fn connection_id(secret: &[u8; 20], from: SocketAddr, window: u64) -> u64 {
    let mut input = secret.to_vec();
    match from.ip() {
        IpAddr::V4(ip) => input.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => input.extend_from_slice(&ip.octets()),
    }
    input.extend_from_slice(&from.port().to_be_bytes());
    input.extend_from_slice(&window.to_be_bytes());
    be64(&sha1(&input))
}

fn window(now: Time) -> u64 {
    now.as_micros() / 1_000_000 / WINDOW_SECS
}

/// An error datagram (BEP 15 action 3).
pub fn error(transaction: u32, message: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + message.len());
    b.extend_from_slice(&ERROR.to_be_bytes());
    b.extend_from_slice(&transaction.to_be_bytes());
    b.extend_from_slice(message.as_bytes());
    b
}

/// Reads one datagram from `from`.
pub fn parse(secret: &[u8; 20], b: &[u8], from: SocketAddr, now: Time) -> Request {
    if b.len() < 16 {
        return Request::Ignore;
    }
    let (action, transaction) = (be32(&b[8..12]), be32(&b[12..16]));
    if action == CONNECT {
        if be64(b) != PROTOCOL_ID {
            return Request::Ignore;
        }
        let mut r = Vec::with_capacity(16);
        r.extend_from_slice(&CONNECT.to_be_bytes());
        r.extend_from_slice(&transaction.to_be_bytes());
        r.extend_from_slice(&connection_id(secret, from, window(now)).to_be_bytes());
        return Request::Reply(r);
    }
    let w = window(now);
    let id = be64(b);
    // Silence, not an error: an answer to a spoofed source would make this
    // a reflector (the client's retry connects again).
    if id != connection_id(secret, from, w) && id != connection_id(secret, from, w.wrapping_sub(1))
    {
        return Request::Ignore;
    }
    match action {
        ANNOUNCE if b.len() >= 98 => Request::Announce {
            transaction,
            announce: announce(b, from),
        },
        ANNOUNCE => Request::Reply(error(transaction, "announce too short")),
        SCRAPE => {
            let hashes: Vec<InfoHash> = b[16..]
                .chunks_exact(20)
                .take(MAX_SCRAPE)
                .map(|c| InfoHash(c.try_into().unwrap_or([0; 20])))
                .collect();
            match hashes.is_empty() {
                true => Request::Reply(error(transaction, "scrape names no torrent")),
                false => Request::Scrape {
                    transaction,
                    hashes,
                },
            }
        }
        _ => Request::Reply(error(transaction, "unknown action")),
    }
}

fn announce(b: &[u8], from: SocketAddr) -> ClassicAnnounce {
    let mut ih = [0u8; 20];
    ih.copy_from_slice(&b[16..36]);
    let mut id = [0u8; 20];
    id.copy_from_slice(&b[36..56]);
    let event = be32(&b[80..84]);
    let numwant = be32(&b[92..96]) as i32;
    let port = u16::from_be_bytes([b[96], b[97]]);
    ClassicAnnounce {
        info_hash: InfoHash(ih),
        peer_id: PeerId(id),
        // The packet's IP field is ignored: anyone could name a victim.
        addr: SocketAddr::new(from.ip(), if port == 0 { from.port() } else { port }),
        left: be64(&b[64..72]),
        completed: event == 1,
        stopped: event == 3,
        numwant: if numwant < 0 { 50 } else { numwant as usize },
    }
}

/// The answer to an announce: peers of the client's own address family.
pub fn announce_reply(transaction: u32, r: &ClassicReply, v6: bool) -> Vec<u8> {
    let mut b = Vec::with_capacity(20 + 18 * r.peers.len());
    b.extend_from_slice(&ANNOUNCE.to_be_bytes());
    b.extend_from_slice(&transaction.to_be_bytes());
    b.extend_from_slice(&r.interval_secs.to_be_bytes());
    b.extend_from_slice(&r.incomplete.to_be_bytes());
    b.extend_from_slice(&r.complete.to_be_bytes());
    for a in r.peers.iter().filter(|a| a.is_ipv6() == v6) {
        match a.ip() {
            IpAddr::V4(ip) => b.extend_from_slice(&ip.octets()),
            IpAddr::V6(ip) => b.extend_from_slice(&ip.octets()),
        }
        b.extend_from_slice(&a.port().to_be_bytes());
    }
    b
}

/// The answer to a scrape.
pub fn scrape_reply(transaction: u32, files: &[webswarm_tracker_proto::ScrapeFile]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + 12 * files.len());
    b.extend_from_slice(&SCRAPE.to_be_bytes());
    b.extend_from_slice(&transaction.to_be_bytes());
    for f in files {
        b.extend_from_slice(&f.complete.to_be_bytes());
        b.extend_from_slice(&f.downloaded.to_be_bytes());
        b.extend_from_slice(&f.incomplete.to_be_bytes());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use webswarm_core::classic::{AnnounceParams, ClassicEvent, UdpAnnounce, UdpWork};

    const SECRET: [u8; 20] = [9; 20];

    fn from() -> SocketAddr {
        "10.0.0.7:40000".parse().unwrap()
    }

    /// Core's UDP client against this server, datagram by datagram.
    #[test]
    fn our_client_announces_to_our_server() {
        let now = Time::ZERO;
        let params = AnnounceParams {
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([2; 20]),
            port: 6881,
            uploaded: 0,
            downloaded: 0,
            left: 7,
            event: Some(ClassicEvent::Started),
            numwant: 30,
            key: 1,
        };
        let mut client = UdpAnnounce::new(params, false, now, 5, None);
        let (mut asked, mut done) = (None, None);
        while let Some(w) = client.poll_work() {
            let d = match w {
                UdpWork::Send(d) => d,
                UdpWork::Done(r) => {
                    done = Some(r);
                    break;
                }
            };
            match parse(&SECRET, &d, from(), now) {
                Request::Reply(r) => client.handle_packet(now, &r).unwrap(),
                Request::Announce {
                    transaction,
                    announce,
                } => {
                    let reply = ClassicReply {
                        peers: vec![
                            "10.0.0.9:51413".parse().unwrap(),
                            "[::1]:5".parse().unwrap(),
                        ],
                        complete: 1,
                        incomplete: 2,
                        interval_secs: 120,
                    };
                    asked = Some(announce);
                    client
                        .handle_packet(now, &announce_reply(transaction, &reply, false))
                        .unwrap();
                }
                other => panic!("{other:?}"),
            }
        }
        let a = asked.expect("an announce reached the swarm");
        assert_eq!(a.addr, "10.0.0.7:6881".parse().unwrap());
        assert_eq!((a.left, a.numwant, a.stopped), (7, 30, false));
        let r = done.expect("the exchange ended").expect("peers");
        assert_eq!(
            r.peers,
            vec!["10.0.0.9:51413".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!((r.seeders, r.leechers), (Some(1), Some(2)));
    }

    #[test]
    fn ids_are_per_address_and_expire() {
        let now = Time::ZERO;
        let id = connection_id(&SECRET, from(), window(now));
        let mut ann = vec![0u8; 98];
        ann[..8].copy_from_slice(&id.to_be_bytes());
        ann[8..12].copy_from_slice(&ANNOUNCE.to_be_bytes());
        assert!(matches!(
            parse(&SECRET, &ann, from(), now),
            Request::Announce { .. }
        ));
        let other: SocketAddr = "10.0.0.8:40000".parse().unwrap();
        assert_eq!(parse(&SECRET, &ann, other, now), Request::Ignore);
        let next = now + std::time::Duration::from_secs(WINDOW_SECS);
        assert!(matches!(
            parse(&SECRET, &ann, from(), next),
            Request::Announce { .. }
        ));
        let later = now + std::time::Duration::from_secs(2 * WINDOW_SECS);
        assert_eq!(parse(&SECRET, &ann, from(), later), Request::Ignore);
        for junk in [&[][..], &[0; 15], &[1; 16]] {
            assert_eq!(parse(&SECRET, junk, from(), now), Request::Ignore);
        }
    }
}
