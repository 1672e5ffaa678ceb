//! A fluid network model: each peer's upload is shared equally among its busy
//! outgoing connections (unused share goes to the others; `Uplink::Serial`
//! serves them one at a time instead, as a what-if), and a receiver whose
//! download capacity would be exceeded scales its senders down. Bytes arrive
//! after the link's latency, split wherever a tick boundary falls; a message
//! is handed to the receiver when its last byte arrives, as a data channel
//! delivers whole messages (and at N = 10,000 a call into the receiving
//! engine per tick and link was most of a run).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use webswarm_core::{PeerKey, Time};

/// Above this many queued bytes a connection reports itself unwritable (the
/// 64 KiB bufferedAmount threshold WebTorrent uses on data channels).
pub const HIGH_WATER: usize = 64 * 1024;
pub const LOW_WATER: usize = 32 * 1024;

#[derive(Default)]
pub struct Dir {
    /// Messages waiting to be sent, with when they were queued.
    queue: VecDeque<(Bytes, Time)>,
    pub queued: usize,
    /// Bytes of the first queued message not sent yet: kept here, beside
    /// `queued`, a tick that sends part of a message does not touch the
    /// queue (`transmit` went from 7.7 % to 4.5 % of an N = 1000 run).
    front_left: usize,
    /// Messages whose last byte is on the wire, by arrival time.
    pub in_flight: VecDeque<(Time, Bytes)>,
}

impl Dir {
    pub fn push(&mut self, data: Bytes, now: Time) {
        if data.is_empty() {
            return;
        }
        self.queued += data.len();
        if self.queue.is_empty() {
            self.front_left = data.len();
        }
        self.queue.push_back((data, now));
    }

    /// Where this direction's next message stands in a serial uplink's order.
    pub fn turn(&self) -> Turn {
        self.queue.front().map_or(Turn::IDLE, |(m, at)| Turn {
            data: m.len() >= CONTROL_MAX,
            since: *at,
        })
    }

    /// Moves up to `n` queued bytes onto the wire, arriving at `arrive`.
    pub fn transmit(&mut self, mut n: usize, arrive: Time) -> usize {
        let mut sent = 0;
        while n > 0 && self.queued > sent {
            let take = n.min(self.front_left);
            self.front_left -= take;
            n -= take;
            sent += take;
            if self.front_left == 0 {
                if let Some((message, _)) = self.queue.pop_front() {
                    self.in_flight.push_back((arrive, message));
                }
                self.front_left = self.queue.front().map_or(0, |(m, _)| m.len());
            }
        }
        self.queued -= sent;
        sent
    }
}

/// A connection between two peers: `ends[i]` is (node, the key node uses for
/// the other end); `dirs[i]` carries bytes sent by `ends[i]`.
pub struct Link {
    pub ends: [(usize, PeerKey); 2],
    pub dirs: [Dir; 2],
    pub latency: Duration,
}

/// Splits `budget` bytes among demands, no one getting more than it asks.
pub fn water_fill(demands: &[usize], budget: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by_key(|&i| demands[i]);
    let mut out = vec![0; demands.len()];
    let mut left = budget;
    for (k, &i) in order.iter().enumerate() {
        let share = left / (order.len() - k) as f64;
        let give = (demands[i] as f64).min(share);
        out[i] = give as usize;
        left -= give;
    }
    out
}

/// Rounds of [`allocate`]: one wasted what a full receiver could not take
/// (N = 100, swarm policy, seeds 1-5: 1.195 of the fluid bound with one
/// round, 1.191 with two, 1.179 with five, ten and twenty).
pub const ALLOCATION_ROUNDS: usize = 5;

/// How a sender's upload is shared among its busy connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Uplink {
    /// Equally, as congestion-controlled connections share a link.
    #[default]
    Fair,
    /// One connection at a time, in the order their next messages were
    /// queued (control messages first): an idealised sender that completes
    /// one piece before it starts the next, so each reaches its receiver as
    /// soon as it can (a what-if for an upload scheduler; no shell does it).
    Serial,
}

/// Messages under this size are control messages (a block is 16 KiB).
const CONTROL_MAX: usize = 1024;

/// A direction's place in a serial uplink's order: control before data,
/// then the oldest message first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Turn {
    pub data: bool,
    pub since: Time,
}

impl Turn {
    pub const IDLE: Turn = Turn {
        data: true,
        since: Time::ZERO,
    };
}

/// One busy direction this tick: its sender, its receiver, bytes queued.
#[derive(Clone, Copy, Debug)]
pub struct Flow {
    pub sender: usize,
    pub receiver: usize,
    pub queued: usize,
    pub turn: Turn,
}

/// Gives `budget` to demands in order of their turns, each as much as it asks.
fn serve_in_turn(turns: &[Turn], demands: &[usize], budget: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..demands.len()).collect();
    order.sort_by_key(|&i| turns[i]);
    let mut out = vec![0; demands.len()];
    let mut left = budget;
    for i in order {
        let give = (demands[i] as f64).min(left);
        out[i] = give as usize;
        left -= give;
    }
    out
}

/// Bytes each flow sends this tick. A sender's upload (`up[sender]`) is
/// water-filled over its flows and each receiver's download (`down`) caps
/// what reaches it; upload a full receiver could not take is water-filled
/// again over the sender's other flows, for `rounds` rounds in all, as a
/// congestion-controlled sender held back on one connection sends faster on
/// the others. `flows` come grouped by sender.
pub fn allocate(
    flows: &[Flow],
    up: &mut [f64],
    down: &mut [f64],
    rounds: usize,
    uplink: Uplink,
) -> Vec<f64> {
    let mut sent = vec![0.0; flows.len()];
    let mut offered = vec![0.0; flows.len()];
    let mut incoming = vec![0.0; down.len()];
    for _ in 0..rounds {
        let mut any = false;
        for (start, group) in by_sender(flows) {
            let idx: Vec<usize> = (start..start + group.len())
                .filter(|&i| down[flows[i].receiver] > 0.0 && (flows[i].queued as f64) > sent[i])
                .collect();
            let demands: Vec<usize> = idx
                .iter()
                .map(|&i| flows[i].queued - sent[i] as usize)
                .collect();
            let budget = up[group[0].sender].max(0.0);
            let grants = match uplink {
                Uplink::Fair => water_fill(&demands, budget),
                Uplink::Serial => {
                    let turns: Vec<Turn> = idx.iter().map(|&i| flows[i].turn).collect();
                    serve_in_turn(&turns, &demands, budget)
                }
            };
            for (&i, g) in idx.iter().zip(grants) {
                offered[i] = g as f64;
                incoming[flows[i].receiver] += g as f64;
                any |= g > 0;
            }
        }
        if !any {
            break;
        }
        for (i, f) in flows.iter().enumerate() {
            if offered[i] == 0.0 {
                continue;
            }
            let scale = (down[f.receiver] / incoming[f.receiver]).min(1.0);
            let g = (offered[i] * scale).floor();
            sent[i] += g;
            up[f.sender] -= g;
            offered[i] = 0.0;
        }
        for f in flows {
            if incoming[f.receiver] > 0.0 {
                let took = incoming[f.receiver].min(down[f.receiver]);
                down[f.receiver] -= took;
                incoming[f.receiver] = 0.0;
            }
        }
    }
    sent
}

/// `flows` (grouped by sender) one sender at a time, with where each group starts.
pub fn by_sender(flows: &[Flow]) -> impl Iterator<Item = (usize, &[Flow])> {
    let mut start = 0;
    flows.chunk_by(|a, b| a.sender == b.sender).map(move |g| {
        start += g.len();
        (start - g.len(), g)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn water_filling_gives_unused_share_to_others() {
        assert_eq!(water_fill(&[10, 1000, 1000], 300.0), vec![10, 145, 145]);
        assert_eq!(water_fill(&[], 300.0), Vec::<usize>::new());
    }

    #[test]
    fn a_serial_uplink_sends_control_first_then_the_oldest_message() {
        let t = |ms| Time::ZERO + std::time::Duration::from_millis(ms);
        let flow = |receiver, queued, data, since| Flow {
            sender: 0,
            receiver,
            queued,
            turn: Turn { data, since },
        };
        // A block queued at 5 ms, one at 2 ms, a request at 9 ms.
        let flows = [
            flow(1, 1000, true, t(5)),
            flow(2, 1000, true, t(2)),
            flow(3, 10, false, t(9)),
        ];
        let mut up = vec![1500.0, 0.0, 0.0, 0.0];
        let mut down = vec![0.0, 1e9, 1e9, 1e9];
        let sent = allocate(&flows, &mut up, &mut down, 1, Uplink::Serial);
        assert_eq!(sent, vec![490.0, 1000.0, 10.0]);
        let mut up = vec![1500.0, 0.0, 0.0, 0.0];
        let fair = allocate(&flows, &mut up, &mut down, 1, Uplink::Fair);
        assert_eq!(fair, vec![745.0, 745.0, 10.0]);
    }

    #[test]
    fn upload_a_full_receiver_cannot_take_goes_to_the_senders_other_flows() {
        // Node 0 uploads 300 to nodes 1 and 2; node 1 takes only 50.
        let flows = [
            Flow {
                sender: 0,
                receiver: 1,
                queued: 1000,
                turn: Turn::IDLE,
            },
            Flow {
                sender: 0,
                receiver: 2,
                queued: 1000,
                turn: Turn::IDLE,
            },
        ];
        let (mut up, mut down) = (vec![300.0, 0.0, 0.0], vec![0.0, 50.0, 1000.0]);
        assert_eq!(
            allocate(&flows, &mut up.clone(), &mut down.clone(), 1, Uplink::Fair),
            vec![50.0, 150.0]
        );
        assert_eq!(
            allocate(&flows, &mut up, &mut down, ALLOCATION_ROUNDS, Uplink::Fair),
            vec![50.0, 250.0]
        );
        assert_eq!((up[0], down[1]), (0.0, 0.0));
        // Two senders into one receiver share its download.
        let flows = [
            Flow {
                sender: 0,
                receiver: 2,
                queued: 1000,
                turn: Turn::IDLE,
            },
            Flow {
                sender: 1,
                receiver: 2,
                queued: 1000,
                turn: Turn::IDLE,
            },
        ];
        let (mut up, mut down) = (vec![300.0, 300.0, 0.0], vec![0.0, 0.0, 200.0]);
        assert_eq!(
            allocate(&flows, &mut up, &mut down, ALLOCATION_ROUNDS, Uplink::Fair),
            vec![100.0, 100.0]
        );
    }

    #[test]
    fn a_message_arrives_with_its_last_byte() {
        let mut d = Dir::default();
        d.push(Bytes::from_static(b"hello"), Time::ZERO);
        d.push(Bytes::from_static(b"world"), Time::ZERO);
        let t = |ms| Time::ZERO + std::time::Duration::from_millis(ms);
        assert_eq!(d.transmit(7, t(1)), 7);
        assert_eq!(d.queued, 3);
        assert_eq!(d.in_flight, [(t(1), Bytes::from_static(b"hello"))]);
        assert_eq!(d.transmit(100, t(2)), 3);
        assert_eq!(d.queued, 0);
        assert_eq!(d.in_flight[1], (t(2), Bytes::from_static(b"world")));
    }
}
