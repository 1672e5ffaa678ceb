//! UDP tracker announces (BEP 15): one exchange (connect, then announce) as
//! a sans-IO state machine. The platform sends the datagrams it is given to
//! the tracker's address and passes back whatever arrives from it; packets
//! with a wrong transaction id or shape are ignored, as the BEP says.

use std::time::Duration;

use super::http::compact;
use super::{AnnounceError, AnnounceParams, AnnounceReply, ClassicEvent};
use crate::rng::Rng;
use crate::types::Time;

/// BEP 15's magic number and actions, for both ends: this client and
/// the tracker's UDP side.
pub mod bep15 {
    /// Opens every connect request.
    pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
    /// Action: get a connection id.
    pub const CONNECT: u32 = 0;
    /// Action: announce.
    pub const ANNOUNCE: u32 = 1;
    /// Action: scrape.
    pub const SCRAPE: u32 = 2;
    /// Action of a reply that carries an error message.
    pub const ERROR: u32 = 3;
}

use bep15::{ANNOUNCE, CONNECT, ERROR, PROTOCOL_ID};
/// A connection id may be used this long after it was received.
const CONNECTION_LIFE: Duration = Duration::from_secs(60);
/// The first wait for an answer; doubled per retry. BEP 15's 15 s would
/// leave a download without peers for minutes when a datagram is lost.
const FIRST_WAIT: Duration = Duration::from_secs(2);
/// Tries per step before the announce fails.
const TRIES: u32 = 3;

/// Work for the platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdpWork {
    /// Send this datagram to the tracker.
    Send(Vec<u8>),
    /// The exchange is over.
    Done(Result<AnnounceReply, AnnounceError>),
}

enum Step {
    Connect,
    Announce { connection: u64 },
    Over,
}

/// One announce to a UDP tracker.
pub struct UdpAnnounce {
    params: AnnounceParams,
    /// Peer entries are 18 bytes when the tracker was reached over IPv6.
    v6: bool,
    step: Step,
    transaction: u32,
    tries: u32,
    deadline: Time,
    connection: Option<(u64, Time)>,
    rng: Rng,
    out: Option<UdpWork>,
}

impl UdpAnnounce {
    /// Starts an exchange; `connection` is an id kept from an earlier one.
    pub fn new(
        params: AnnounceParams,
        v6: bool,
        now: Time,
        seed: u64,
        connection: Option<(u64, Time)>,
    ) -> Self {
        let connection = connection.filter(|&(_, at)| now < at + CONNECTION_LIFE);
        let mut a = UdpAnnounce {
            params,
            v6,
            step: match connection {
                Some((id, _)) => Step::Announce { connection: id },
                None => Step::Connect,
            },
            transaction: 0,
            tries: 0,
            deadline: now,
            connection,
            rng: Rng::new(seed),
            out: None,
        };
        a.transmit(now);
        a
    }

    /// The connection id to keep for the next exchange with this tracker.
    #[must_use]
    pub fn connection(&self) -> Option<(u64, Time)> {
        self.connection
    }

    /// The next work, if any.
    pub fn poll_work(&mut self) -> Option<UdpWork> {
        self.out.take()
    }

    /// When `handle_timeout` should run; `None` once over.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Time> {
        match self.step {
            Step::Over => None,
            _ => Some(self.deadline),
        }
    }

    /// Retransmits, or gives up after the last try.
    pub fn handle_timeout(&mut self, now: Time) {
        if matches!(self.step, Step::Over) || now < self.deadline {
            return;
        }
        if self.tries >= TRIES {
            self.finish(Err(AnnounceError::Timeout));
            return;
        }
        self.transmit(now);
    }

    /// A datagram from the tracker; one that is not the answer awaited is
    /// ignored, and the error says why (for the log).
    pub fn handle_packet(&mut self, now: Time, b: &[u8]) -> Result<(), &'static str> {
        if b.len() < 8 {
            return Err("a datagram too short for BEP 15");
        }
        if be32(&b[4..8]) != self.transaction {
            return Err("a reply with another transaction id");
        }
        let action = be32(&b[..4]);
        match (&self.step, action) {
            (Step::Over, _) => return Err("a reply after the exchange ended"),
            (_, ERROR) => {
                let msg = String::from_utf8_lossy(&b[8..]).into_owned();
                self.finish(Err(AnnounceError::Refused(msg)));
            }
            (Step::Connect, CONNECT) if b.len() >= 16 => {
                let id = be64(&b[8..16]);
                self.connection = Some((id, now));
                self.step = Step::Announce { connection: id };
                self.tries = 0;
                self.transmit(now);
            }
            (Step::Announce { .. }, ANNOUNCE) if b.len() >= 20 => {
                let r = self.reply(&b[20..], b);
                self.finish(r);
            }
            _ => return Err("a reply of the wrong kind or length"),
        }
        Ok(())
    }

    fn reply(&self, peers: &[u8], b: &[u8]) -> Result<AnnounceReply, AnnounceError> {
        let entry = if self.v6 { 18 } else { 6 };
        // Some trackers pad; whole entries only.
        let whole = &peers[..peers.len() - peers.len() % entry];
        let mut out = Vec::new();
        compact(whole, entry, &mut out)?;
        Ok(AnnounceReply {
            interval: Some(Duration::from_secs(u64::from(be32(&b[8..12])))),
            min_interval: None,
            peers: out,
            leechers: Some(be32(&b[12..16])),
            seeders: Some(be32(&b[16..20])),
            warning: None,
        })
    }

    fn finish(&mut self, r: Result<AnnounceReply, AnnounceError>) {
        if let Err(AnnounceError::Refused(_)) = r {
            // An error may mean the connection id expired early.
            self.connection = None;
        }
        self.step = Step::Over;
        self.out = Some(UdpWork::Done(r));
    }

    fn transmit(&mut self, now: Time) {
        self.transaction = self.rng.next_u64() as u32;
        self.deadline = now + FIRST_WAIT * (1 << self.tries);
        self.tries += 1;
        let packet = match self.step {
            Step::Connect => {
                let mut p = Vec::with_capacity(16);
                p.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
                p.extend_from_slice(&CONNECT.to_be_bytes());
                p.extend_from_slice(&self.transaction.to_be_bytes());
                p
            }
            Step::Announce { connection } => self.announce_packet(connection),
            Step::Over => return,
        };
        self.out = Some(UdpWork::Send(packet));
    }

    fn announce_packet(&self, connection: u64) -> Vec<u8> {
        let p = &self.params;
        let event: u32 = match p.event {
            None => 0,
            Some(ClassicEvent::Completed) => 1,
            Some(ClassicEvent::Started) => 2,
            Some(ClassicEvent::Stopped) => 3,
        };
        let mut b = Vec::with_capacity(98);
        b.extend_from_slice(&connection.to_be_bytes());
        b.extend_from_slice(&ANNOUNCE.to_be_bytes());
        b.extend_from_slice(&self.transaction.to_be_bytes());
        b.extend_from_slice(&p.info_hash.0);
        b.extend_from_slice(&p.peer_id.0);
        b.extend_from_slice(&p.downloaded.to_be_bytes());
        b.extend_from_slice(&p.left.to_be_bytes());
        b.extend_from_slice(&p.uploaded.to_be_bytes());
        b.extend_from_slice(&event.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&p.key.to_be_bytes());
        b.extend_from_slice(&p.numwant.to_be_bytes());
        b.extend_from_slice(&p.port.to_be_bytes());
        b
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{InfoHash, PeerId};
    use std::net::SocketAddr;

    fn params() -> AnnounceParams {
        AnnounceParams {
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([2; 20]),
            port: 6881,
            uploaded: 5,
            downloaded: 6,
            left: 7,
            event: Some(ClassicEvent::Started),
            numwant: 50,
            key: 9,
        }
    }

    fn sent(a: &mut UdpAnnounce) -> Vec<u8> {
        match a.poll_work() {
            Some(UdpWork::Send(p)) => p,
            other => panic!("expected a datagram, got {other:?}"),
        }
    }

    fn connect_reply(req: &[u8], id: u64) -> Vec<u8> {
        let mut r = vec![0, 0, 0, 0];
        r.extend_from_slice(&req[12..16]);
        r.extend_from_slice(&id.to_be_bytes());
        r
    }

    #[test]
    fn connect_then_announce_then_peers() {
        let t0 = Time::ZERO;
        let mut a = UdpAnnounce::new(params(), false, t0, 1, None);
        let c = sent(&mut a);
        assert_eq!(c.len(), 16);
        assert_eq!(&c[..8], &PROTOCOL_ID.to_be_bytes());
        // A reply to another transaction is ignored.
        let mut wrong = connect_reply(&c, 77);
        wrong[7] ^= 1;
        assert_eq!(
            a.handle_packet(t0, &wrong),
            Err("a reply with another transaction id")
        );
        assert!(a.poll_work().is_none());
        a.handle_packet(t0, &connect_reply(&c, 77)).unwrap();
        let ann = sent(&mut a);
        assert_eq!(ann.len(), 98);
        assert_eq!(be64(&ann[..8]), 77);
        assert_eq!(be32(&ann[8..12]), ANNOUNCE);
        assert_eq!(&ann[16..36], &[1; 20]);
        assert_eq!(be32(&ann[80..84]), 2, "started");
        assert_eq!(&ann[96..98], &6881u16.to_be_bytes());
        let mut r = vec![0, 0, 0, 1];
        r.extend_from_slice(&ann[12..16]);
        r.extend_from_slice(&[0, 0, 7, 8, 0, 0, 0, 3, 0, 0, 0, 4, 127, 0, 0, 1, 0x1a, 0xe1]);
        a.handle_packet(t0, &r).unwrap();
        let Some(UdpWork::Done(Ok(reply))) = a.poll_work() else {
            panic!("no reply")
        };
        assert_eq!(reply.interval, Some(Duration::from_secs(0x708)));
        assert_eq!((reply.leechers, reply.seeders), (Some(3), Some(4)));
        assert_eq!(
            reply.peers,
            vec!["127.0.0.1:6881".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(a.poll_timeout(), None);
        // The next exchange skips the connect while the id is fresh.
        let kept = a.connection();
        let mut b = UdpAnnounce::new(params(), false, t0 + Duration::from_secs(30), 2, kept);
        assert_eq!(sent(&mut b).len(), 98);
        let mut c = UdpAnnounce::new(params(), false, t0 + Duration::from_secs(61), 3, kept);
        assert_eq!(sent(&mut c).len(), 16);
    }

    #[test]
    fn silence_is_retried_then_a_timeout() {
        let mut now = Time::ZERO;
        let mut a = UdpAnnounce::new(params(), false, now, 1, None);
        let mut sends = 0;
        loop {
            match a.poll_work() {
                Some(UdpWork::Send(_)) => sends += 1,
                Some(UdpWork::Done(r)) => {
                    assert_eq!(r, Err(AnnounceError::Timeout));
                    break;
                }
                None => {}
            }
            now = a.poll_timeout().expect("still waiting");
            a.handle_timeout(now);
        }
        assert_eq!(sends, TRIES);
        assert_eq!(now, Time::ZERO + Duration::from_secs(14));
    }

    #[test]
    fn an_error_packet_is_a_refusal_and_junk_is_ignored() {
        let mut a = UdpAnnounce::new(params(), false, Time::ZERO, 1, None);
        let c = sent(&mut a);
        for junk in [&[][..], &[0, 0, 0], &[9; 40]] {
            assert!(a.handle_packet(Time::ZERO, junk).is_err());
            assert!(a.poll_work().is_none());
        }
        let mut e = vec![0, 0, 0, 3];
        e.extend_from_slice(&c[12..16]);
        e.extend_from_slice(b"no such torrent");
        a.handle_packet(Time::ZERO, &e).unwrap();
        assert_eq!(
            a.poll_work(),
            Some(UdpWork::Done(Err(AnnounceError::Refused(
                "no such torrent".into()
            ))))
        );
    }
}
