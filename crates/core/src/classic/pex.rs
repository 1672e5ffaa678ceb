//! BEP 11 peer exchange: the `ut_pex` message a classic peer sends about
//! once a minute, naming the TCP addresses of peers it connected to
//! (`added`, `added6`) and lost (`dropped`, `dropped6`) since the last one.

use std::net::SocketAddr;

use super::http::compact;
use crate::bencode::{decode, encode, OwnedValue};

/// Addresses taken from one message; BEP 11 allows 50 added per message,
/// and a peer saying more is not believed beyond this.
pub const MAX_ADDED: usize = 200;

/// A parsed `ut_pex` payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PexMessage {
    /// Peers to try.
    pub added: Vec<SocketAddr>,
    /// Peers the sender lost.
    pub dropped: Vec<SocketAddr>,
    /// Of `added`, those known to take uTP (flag 0x04).
    pub utp: Vec<SocketAddr>,
}

/// The flag of an added peer that takes uTP connections (BEP 11).
const FLAG_UTP: u8 = 0x04;
/// The flag of an added peer that takes incoming connections.
const FLAG_REACHABLE: u8 = 0x10;

impl PexMessage {
    /// Parses a payload; an error says what was wrong, for the log.
    pub fn parse(payload: &[u8]) -> Result<Self, &'static str> {
        let v = decode(payload).map_err(|_| "ut_pex is not bencode")?;
        let d = v.as_dict().ok_or("ut_pex is not a dictionary")?;
        let family = |key: &[u8], entry: usize| -> Result<Vec<SocketAddr>, &'static str> {
            let mut out = Vec::new();
            if let Some(b) = d.get_bytes(key) {
                compact(b, entry, &mut out).map_err(|_| "ut_pex has a malformed address list")?;
            }
            Ok(out)
        };
        let (added4, added6) = (family(b"added", 6)?, family(b"added6", 18)?);
        // Each family's flags, a byte per address in its order.
        let flagged = |addrs: &[SocketAddr], key: &[u8]| -> Vec<SocketAddr> {
            let flags = d.get_bytes(key).unwrap_or_default();
            let utp = addrs.iter().zip(flags).filter(|(_, f)| **f & FLAG_UTP != 0);
            utp.map(|(a, _)| *a).collect()
        };
        let mut flagged_utp = flagged(&added4, b"added.f");
        flagged_utp.extend(flagged(&added6, b"added6.f"));
        let mut added = added4;
        added.extend(added6);
        added.truncate(MAX_ADDED);
        // In `added`'s order, every copy of an address flagged anywhere: what
        // `encode` writes back.
        let utp = added
            .iter()
            .filter(|a| flagged_utp.contains(a))
            .copied()
            .collect();
        let mut dropped = family(b"dropped", 6)?;
        dropped.extend(family(b"dropped6", 18)?);
        dropped.truncate(MAX_ADDED);
        Ok(PexMessage {
            added,
            dropped,
            utp,
        })
    }

    /// The payload. Each added peer's flag byte says "reachable" (0x10):
    /// we only pass on addresses peers can connect to, and libtorrent drops
    /// an `added` list that comes without its flags; and "takes uTP" (0x04)
    /// for those in `utp`.
    pub fn encode(&self) -> Vec<u8> {
        let flags = |v6: bool| {
            let added = self.added.iter().filter(|a| a.is_ipv6() == v6);
            let flag = |a| FLAG_REACHABLE | if self.utp.contains(a) { FLAG_UTP } else { 0 };
            OwnedValue::Bytes(added.map(flag).collect())
        };
        let pack = |addrs: &[SocketAddr], v6: bool| {
            let mut b = Vec::new();
            for a in addrs.iter().filter(|a| a.is_ipv6() == v6) {
                match a {
                    SocketAddr::V4(a) => b.extend_from_slice(&a.ip().octets()),
                    SocketAddr::V6(a) => b.extend_from_slice(&a.ip().octets()),
                }
                b.extend_from_slice(&a.port().to_be_bytes());
            }
            OwnedValue::Bytes(b)
        };
        encode(&OwnedValue::dict(vec![
            ("added", pack(&self.added, false)),
            ("added.f", flags(false)),
            ("added6", pack(&self.added, true)),
            ("added6.f", flags(true)),
            ("dropped", pack(&self.dropped, false)),
            ("dropped6", pack(&self.dropped, true)),
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_v4_and_v6_addresses() {
        let m = PexMessage {
            added: vec![
                "10.0.0.1:6881".parse().unwrap(),
                "[2001:db8::1]:51413".parse().unwrap(),
            ],
            dropped: vec!["192.168.1.2:80".parse().unwrap()],
            utp: vec!["[2001:db8::1]:51413".parse().unwrap()],
        };
        assert_eq!(PexMessage::parse(&m.encode()).unwrap(), m);
    }

    #[test]
    fn libtorrents_shape_with_flags_parses() {
        // As libtorrent sends it: added, added.f, dropped (keys sorted).
        let mut p = b"d5:added12:".to_vec();
        p.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1]);
        p.extend_from_slice(&[127, 0, 0, 2, 0x1a, 0xe1]);
        p.extend_from_slice(b"7:added.f2:\x10\x14");
        p.extend_from_slice(b"7:dropped0:e");
        let m = PexMessage::parse(&p).unwrap();
        let (a, b) = (
            "127.0.0.1:6881".parse().unwrap(),
            "127.0.0.2:6881".parse().unwrap(),
        );
        assert_eq!(m.added, vec![a, b]);
        assert_eq!(m.utp, vec![b]);
        assert!(m.dropped.is_empty());
    }

    #[test]
    fn an_address_listed_twice_round_trips() {
        // 127.0.0.1:6881 twice, flagged uTP the second time only.
        let mut p = b"d5:added12:".to_vec();
        p.extend_from_slice(&[127, 0, 0, 1, 0x1a, 0xe1, 127, 0, 0, 1, 0x1a, 0xe1]);
        p.extend_from_slice(b"7:added.f2:\x10\x14e");
        let m = PexMessage::parse(&p).unwrap();
        assert_eq!(m.utp.len(), 2);
        assert_eq!(PexMessage::parse(&m.encode()).unwrap(), m);
    }

    #[test]
    fn junk_is_an_error_and_floods_are_cut() {
        assert!(PexMessage::parse(b"not bencode").is_err());
        assert!(PexMessage::parse(b"le").is_err());
        assert!(PexMessage::parse(b"d5:added5:12345e").is_err());
        let mut p = format!("d5:added{}:", 6 * 1000).into_bytes();
        for i in 0..1000u32 {
            p.extend_from_slice(&[10, 0, (i >> 8) as u8, i as u8, 0x1a, 0xe1]);
        }
        p.push(b'e');
        assert_eq!(PexMessage::parse(&p).unwrap().added.len(), MAX_ADDED);
    }
}
