//! What nodes say to each other through Redis pub/sub: one JSON batch per
//! PUBLISH, `{"from": NODE, "m": [MESSAGE, …]}`. Ids are hex strings;
//! relayed offers and answers are the tracker protocol's own messages.

use serde::{Deserialize, Serialize};
use webswarm_tracker_proto::{InfoHash, PeerId, RelayedAnswer, RelayedOffer};

use crate::swarm::{Event, NodeId, Relay};

/// A node's counters, sent with its heartbeat, for cluster-wide stats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeStats {
    pub connections: u64,
    pub announces: u64,
    pub offers_relayed: u64,
    pub answers_relayed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Message {
    /// "I am alive" (every heartbeat interval), with counters.
    Heartbeat {
        stats: NodeStats,
    },
    /// "I (re)joined the cluster": every node answers with its state.
    Hello,
    /// "My peers follow": receivers forget the sender's peers first.
    Reset,
    Joined {
        ih: String,
        peer: String,
        complete: bool,
        completed: bool,
    },
    Left {
        ih: String,
        peer: String,
    },
    /// "Send me your state" (to one node).
    Resync,
    Offer {
        to: String,
        offer: RelayedOffer,
    },
    Answer {
        to: String,
        answer: RelayedAnswer,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Batch {
    pub from: NodeId,
    pub m: Vec<Message>,
}

fn hex(b: &[u8; 20]) -> String {
    webswarm_core::hex_encode(b)
}

fn id20(s: &str) -> Option<[u8; 20]> {
    webswarm_core::hex_decode(s).and_then(|b| b.try_into().ok())
}

impl From<&Event> for Message {
    fn from(e: &Event) -> Self {
        match e {
            Event::Joined {
                ih,
                peer,
                complete,
                completed,
            } => Message::Joined {
                ih: hex(&ih.0),
                peer: hex(&peer.0),
                complete: *complete,
                completed: *completed,
            },
            Event::Left { ih, peer } => Message::Left {
                ih: hex(&ih.0),
                peer: hex(&peer.0),
            },
        }
    }
}

impl From<Relay> for Message {
    fn from(r: Relay) -> Self {
        match r {
            Relay::Offer { to, offer } => Message::Offer {
                to: hex(&to.0),
                offer,
            },
            Relay::Answer { to, answer } => Message::Answer {
                to: hex(&to.0),
                answer,
            },
        }
    }
}

/// A received message, ids parsed. Anything malformed is `None` (and counted
/// by the caller): another node's bug must not take this one down.
#[derive(Debug, PartialEq)]
pub enum Incoming {
    Heartbeat(NodeStats),
    Hello,
    Reset,
    Resync,
    Event(Event),
    Offer(PeerId, RelayedOffer),
    Answer(PeerId, RelayedAnswer),
}

impl Message {
    pub fn parse(self) -> Option<Incoming> {
        Some(match self {
            Message::Heartbeat { stats } => Incoming::Heartbeat(stats),
            Message::Hello => Incoming::Hello,
            Message::Reset => Incoming::Reset,
            Message::Resync => Incoming::Resync,
            Message::Joined {
                ih,
                peer,
                complete,
                completed,
            } => Incoming::Event(Event::Joined {
                ih: InfoHash(id20(&ih)?),
                peer: PeerId(id20(&peer)?),
                complete,
                completed,
            }),
            Message::Left { ih, peer } => Incoming::Event(Event::Left {
                ih: InfoHash(id20(&ih)?),
                peer: PeerId(id20(&peer)?),
            }),
            Message::Offer { to, offer } => Incoming::Offer(PeerId(id20(&to)?), offer),
            Message::Answer { to, answer } => Incoming::Answer(PeerId(id20(&to)?), answer),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use webswarm_tracker_proto::{OfferId, Sdp};

    #[test]
    fn batches_round_trip_and_bad_ids_are_refused() {
        let offer = RelayedOffer {
            action: "announce".into(),
            offer: Sdp::offer("v=0\r\n"),
            offer_id: OfferId([0xee; 20]),
            peer_id: PeerId([0x80; 20]),
            info_hash: InfoHash([1; 20]),
        };
        let joined = Event::Joined {
            ih: InfoHash([1; 20]),
            peer: PeerId([2; 20]),
            complete: true,
            completed: false,
        };
        let batch = Batch {
            from: 7,
            m: vec![
                Message::from(&joined),
                Message::from(Relay::Offer {
                    to: PeerId([3; 20]),
                    offer: offer.clone(),
                }),
                Message::Heartbeat {
                    stats: NodeStats {
                        announces: 5,
                        ..NodeStats::default()
                    },
                },
            ],
        };
        let text = serde_json::to_string(&batch).unwrap();
        let back: Batch = serde_json::from_str(&text).unwrap();
        assert_eq!(back.from, 7);
        let parsed: Vec<_> = back.m.into_iter().map(|m| m.parse().unwrap()).collect();
        assert_eq!(parsed[0], Incoming::Event(joined));
        assert_eq!(parsed[1], Incoming::Offer(PeerId([3; 20]), offer));
        let bad = Message::Left {
            ih: "zz".into(),
            peer: hex(&[1; 20]),
        };
        assert_eq!(bad.parse(), None);
    }
}
