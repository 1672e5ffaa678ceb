//! What nodes say to each other through Redis pub/sub: one binary batch per
//! PUBLISH. Ids go as their 20 raw bytes and SDP as its JSON literal: a relayed
//! offer costs a copy, not a JSON encoding and parse on each side. (Replacing
//! JSON batches with these made no measurable difference to tracker-bench's
//! CPU per announce: thread wake-ups dominate; the format is simply the
//! cheaper and stricter one.)
//!
//! ```text
//! batch   = "W1" from:u64 count:u16 message*        (integers big-endian)
//! message = 0 heartbeat: connections announces offers_relayed answers_relayed (u64 each)
//!         | 1 hello | 2 reset | 3 resync
//!         | 4 joined: ih[20] peer[20] flags:u8 (1 complete, 2 completed)
//!         | 5 left: ih[20] peer[20]
//!         | 6 offer | 7 answer: to[20] ih[20] from[20] offer_id[20] kind:u8 len:u32 sdp[len]
//!           (sdp: the JSON string literal, quotes and escapes included)
//!         | 8 bye
//!         | 9 classic joined: ih[20] addr flags:u8 | 10 classic left: ih[20] addr stopped:u8
//! addr    = 4 ip[4] port:u16 | 6 ip[16] port:u16
//! ```

use std::net::{IpAddr, SocketAddr};

use webswarm_tracker_proto::{
    InfoHash, OfferId, PeerId, RelayedAnswer, RelayedOffer, Sdp, SdpKind, SdpText,
};

use crate::swarm::{Event, NodeId, Relay};

const MAGIC: &[u8; 2] = b"W1";

/// A node's counters, sent with its heartbeat, for cluster-wide stats.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NodeStats {
    pub connections: u64,
    pub announces: u64,
    pub offers_relayed: u64,
    pub answers_relayed: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// "I am alive" (every heartbeat interval), with counters.
    Heartbeat(NodeStats),
    /// "I (re)joined the cluster": every node answers with its state.
    Hello,
    /// "My peers follow": receivers forget the sender's peers first.
    Reset,
    /// "Send me your state" (to one node).
    Resync,
    /// "I am shutting down": receivers drop my peers now, not after the
    /// node timeout.
    Bye,
    Event(Event),
    Relay(Relay),
}

/// Encodes a batch of messages from `from`.
pub fn encode(from: NodeId, messages: &[Message]) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + messages.len() * 64);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&from.to_be_bytes());
    b.extend_from_slice(&(messages.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    for m in messages.iter().take(usize::from(u16::MAX)) {
        put(&mut b, m);
    }
    b
}

fn put(b: &mut Vec<u8>, m: &Message) {
    match m {
        Message::Heartbeat(s) => {
            b.push(0);
            for v in [
                s.connections,
                s.announces,
                s.offers_relayed,
                s.answers_relayed,
            ] {
                b.extend_from_slice(&v.to_be_bytes());
            }
        }
        Message::Hello => b.push(1),
        Message::Reset => b.push(2),
        Message::Resync => b.push(3),
        Message::Bye => b.push(8),
        Message::Event(Event::Joined {
            ih,
            peer,
            complete,
            completed,
        }) => {
            b.push(4);
            b.extend_from_slice(&ih.0);
            b.extend_from_slice(&peer.0);
            b.push(u8::from(*complete) | (u8::from(*completed) << 1));
        }
        Message::Event(Event::Left { ih, peer }) => {
            b.push(5);
            b.extend_from_slice(&ih.0);
            b.extend_from_slice(&peer.0);
        }
        Message::Event(Event::ClassicJoined {
            ih,
            addr,
            complete,
            completed,
        }) => {
            b.push(9);
            b.extend_from_slice(&ih.0);
            put_addr(b, addr);
            b.push(u8::from(*complete) | (u8::from(*completed) << 1));
        }
        Message::Event(Event::ClassicLeft { ih, addr, stopped }) => {
            b.push(10);
            b.extend_from_slice(&ih.0);
            put_addr(b, addr);
            b.push(u8::from(*stopped));
        }
        Message::Relay(Relay::Offer { to, offer }) => {
            b.push(6);
            put_relayed(
                b,
                to,
                &offer.info_hash,
                &offer.peer_id,
                &offer.offer_id,
                &offer.offer,
            );
        }
        Message::Relay(Relay::Answer { to, answer }) => {
            b.push(7);
            let a = answer;
            put_relayed(b, to, &a.info_hash, &a.peer_id, &a.offer_id, &a.answer);
        }
    }
}

/// 4 or 6, the address's bytes, the port.
fn put_addr(b: &mut Vec<u8>, addr: &SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => {
            b.push(4);
            b.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            b.push(6);
            b.extend_from_slice(&ip.octets());
        }
    }
    b.extend_from_slice(&addr.port().to_be_bytes());
}

fn put_relayed(
    b: &mut Vec<u8>,
    to: &PeerId,
    ih: &InfoHash,
    from: &PeerId,
    id: &OfferId,
    sdp: &Sdp,
) {
    for x in [&to.0, &ih.0, &from.0, &id.0] {
        b.extend_from_slice(x);
    }
    b.push(match sdp.kind {
        SdpKind::Offer => 0,
        SdpKind::Answer => 1,
    });
    // The JSON string literal, as the client sent it (see `SdpText`).
    let json = sdp.sdp.json();
    b.extend_from_slice(&(json.len() as u32).to_be_bytes());
    b.extend_from_slice(json.as_bytes());
}

/// Reads bytes off the front, or `None` when they run out.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }

    fn addr(&mut self) -> Option<SocketAddr> {
        let ip = match self.u8()? {
            4 => IpAddr::from(self.array::<4>()?),
            6 => IpAddr::from(self.array::<16>()?),
            _ => return None,
        };
        Some(SocketAddr::new(ip, u16::from_be_bytes(self.array()?)))
    }
}

/// Decodes a batch: its sender and messages. Anything malformed is `None`
/// (and counted by the caller): another node's bug must not take this one
/// down, nor be half applied.
/// The node a batch is from, without decoding the rest.
pub fn sender(bytes: &[u8]) -> Option<NodeId> {
    header(&mut Cursor(bytes))
}

/// The magic and the sending node.
fn header(c: &mut Cursor) -> Option<NodeId> {
    (c.take(2)? == MAGIC).then_some(())?;
    c.u64()
}

pub fn decode(bytes: &[u8]) -> Option<(NodeId, Vec<Message>)> {
    let mut c = Cursor(bytes);
    let from = header(&mut c)?;
    let count = u16::from_be_bytes(c.array()?);
    let mut out = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        out.push(message(&mut c)?);
    }
    c.0.is_empty().then_some((from, out))
}

fn message(c: &mut Cursor) -> Option<Message> {
    Some(match c.u8()? {
        0 => Message::Heartbeat(NodeStats {
            connections: c.u64()?,
            announces: c.u64()?,
            offers_relayed: c.u64()?,
            answers_relayed: c.u64()?,
        }),
        1 => Message::Hello,
        2 => Message::Reset,
        3 => Message::Resync,
        8 => Message::Bye,
        4 => {
            let (ih, peer) = (InfoHash(c.array()?), PeerId(c.array()?));
            let flags = c.u8()?;
            if flags > 3 {
                return None;
            }
            Message::Event(Event::Joined {
                ih,
                peer,
                complete: flags & 1 != 0,
                completed: flags & 2 != 0,
            })
        }
        5 => Message::Event(Event::Left {
            ih: InfoHash(c.array()?),
            peer: PeerId(c.array()?),
        }),
        9 => {
            let (ih, addr) = (InfoHash(c.array()?), c.addr()?);
            let flags = c.u8()?;
            if flags > 3 {
                return None;
            }
            Message::Event(Event::ClassicJoined {
                ih,
                addr,
                complete: flags & 1 != 0,
                completed: flags & 2 != 0,
            })
        }
        10 => {
            let (ih, addr) = (InfoHash(c.array()?), c.addr()?);
            let stopped = match c.u8()? {
                0 => false,
                1 => true,
                _ => return None,
            };
            Message::Event(Event::ClassicLeft { ih, addr, stopped })
        }
        tag @ (6 | 7) => {
            let (to, info_hash) = (PeerId(c.array()?), InfoHash(c.array()?));
            let (peer_id, offer_id) = (PeerId(c.array()?), OfferId(c.array()?));
            let kind = match c.u8()? {
                0 => SdpKind::Offer,
                1 => SdpKind::Answer,
                _ => return None,
            };
            let len = u32::from_be_bytes(c.array()?) as usize;
            let json = String::from_utf8(c.take(len)?.to_vec()).ok()?;
            let sdp = Sdp {
                kind,
                sdp: SdpText::from_json(json)?,
            };
            let action = "announce".to_owned();
            Message::Relay(match tag {
                6 => Relay::Offer {
                    to,
                    offer: RelayedOffer {
                        action,
                        offer: sdp,
                        offer_id,
                        peer_id,
                        info_hash,
                    },
                },
                _ => Relay::Answer {
                    to,
                    answer: RelayedAnswer {
                        action,
                        answer: sdp,
                        offer_id,
                        peer_id,
                        info_hash,
                    },
                },
            })
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_bytes_decode_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn any_batch_with_a_changed_byte_is_refused_or_decodes(i in 0usize..400, v in any::<u8>()) {
            let mut bytes = encode(7, &sample());
            let i = i % bytes.len();
            bytes[i] = v;
            // No panic; whatever decodes re-encodes to the same bytes.
            if let Some((from, m)) = decode(&bytes) {
                prop_assert_eq!(encode(from, &m), bytes);
            }
        }
    }

    fn sample() -> Vec<Message> {
        vec![
            Message::Heartbeat(NodeStats {
                connections: 3,
                announces: u64::MAX,
                ..NodeStats::default()
            }),
            Message::Hello,
            Message::Reset,
            Message::Resync,
            Message::Bye,
            Message::Event(Event::Joined {
                ih: InfoHash([1; 20]),
                peer: PeerId([2; 20]),
                complete: true,
                completed: true,
            }),
            Message::Event(Event::Left {
                ih: InfoHash([1; 20]),
                peer: PeerId([0xff; 20]),
            }),
            Message::Event(Event::ClassicJoined {
                ih: InfoHash([1; 20]),
                addr: "10.1.2.3:6881".parse().unwrap(),
                complete: true,
                completed: false,
            }),
            Message::Event(Event::ClassicLeft {
                ih: InfoHash([9; 20]),
                addr: "[2001:db8::7]:51413".parse().unwrap(),
                stopped: true,
            }),
            Message::Relay(Relay::Offer {
                to: PeerId([3; 20]),
                offer: RelayedOffer {
                    action: "announce".into(),
                    offer: Sdp::offer("v=0\r\né"),
                    offer_id: OfferId([0xee; 20]),
                    peer_id: PeerId([0x80; 20]),
                    info_hash: InfoHash([1; 20]),
                },
            }),
            Message::Relay(Relay::Answer {
                to: PeerId([0x80; 20]),
                answer: RelayedAnswer {
                    action: "announce".into(),
                    answer: Sdp::answer(""),
                    offer_id: OfferId([0xee; 20]),
                    peer_id: PeerId([3; 20]),
                    info_hash: InfoHash([1; 20]),
                },
            }),
        ]
    }

    #[test]
    fn batches_round_trip() {
        let m = sample();
        assert_eq!(decode(&encode(7, &m)), Some((7, m)));
        assert_eq!(decode(&encode(1, &[])), Some((1, Vec::new())));
    }

    #[test]
    fn truncated_padded_or_garbled_batches_are_refused_whole() {
        let bytes = encode(7, &sample());
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert_eq!(decode(&padded), None);
        let mut tag = bytes.clone();
        tag[12] = 99; // the first message's tag
        assert_eq!(decode(&tag), None);
        assert_eq!(decode(b"{\"from\":1}"), None, "JSON is not a batch");
    }
}
