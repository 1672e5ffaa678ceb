//! Message Stream Encryption (MSE, also "Protocol Encryption"): the
//! obfuscated handshake libtorrent, qBittorrent, Transmission and aria2 put
//! before the BitTorrent one. Clients set to "require encryption" speak
//! nothing else, and libtorrent tries it first by default.
//!
//! A Diffie-Hellman exchange (768-bit prime, generator 2) gives both sides a
//! secret S; the info-hash is the shared key SKEY. The initiator A sends
//! `HASH("req1", S)` so B can find where A's random padding ends, and
//! `HASH("req2", SKEY) xor HASH("req3", S)` so B can tell which torrent A
//! wants without SKEY crossing the wire. The rest of the handshake is RC4
//! (keys `HASH("keyA"/"keyB", S, SKEY)`, 1024 bytes discarded); B selects
//! plaintext or RC4 for what follows from what A provides.
//!
//! Both sides read only the bytes the handshake owns, so whatever follows
//! is read by the stream's owner through [`Decrypting`].

mod cipher;
mod rc4;

use num_bigint::BigUint;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use webswarm_core::{InfoHash, Sha1Hasher};

pub use cipher::{Decrypting, Encrypting};
pub use rc4::Rc4;

/// The MSE prime (768 bits, the Oakley group 1 modulus).
const P_HEX: &[u8] = b"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563";
const KEY_LEN: usize = 96;
/// The verification constant: eight zeros, encrypted.
const VC: [u8; 8] = [0; 8];
/// Longest padding either side may send.
const MAX_PAD: usize = 512;
/// Longest initial payload we take (a BitTorrent handshake is 68 bytes;
/// libtorrent sends that one).
const MAX_IA: usize = 4096;
/// Padding we send: up to this many random bytes.
const OUR_PAD: usize = 64;

/// Whether classic connections go through MSE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Encryption {
    /// Dial with MSE and redial in plaintext if the peer does not speak
    /// it; accept both (libtorrent's and Transmission's default).
    #[default]
    Prefer,
    /// MSE only, both ways (qBittorrent's "require encryption").
    Require,
    /// Plaintext only.
    Off,
}

impl std::str::FromStr for Encryption {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "prefer" => Ok(Encryption::Prefer),
            "require" => Ok(Encryption::Require),
            "off" => Ok(Encryption::Off),
            _ => Err(format!("{s:?}: expected prefer, require or off")),
        }
    }
}

impl Encryption {
    /// What may follow the handshake: with `Require`, RC4 only (what a user
    /// who asks for encryption expects of the data too).
    pub fn methods(self) -> u32 {
        match self {
            Encryption::Require => RC4,
            _ => PLAINTEXT | RC4,
        }
    }
}

/// `crypto_provide` / `crypto_select` bits.
pub const PLAINTEXT: u32 = 0x01;
pub const RC4: u32 = 0x02;

#[derive(Debug, thiserror::Error)]
pub enum MseError {
    #[error("closed during the encryption handshake ({0})")]
    Io(#[from] std::io::Error),
    #[error("their Diffie-Hellman key is not a usable one")]
    BadKey,
    #[error("no handshake marker after {0} bytes (not MSE, or not the key we agreed)")]
    NoSync(usize),
    #[error("the encrypted handshake names a torrent that is not here")]
    UnknownTorrent,
    #[error("wrong verification constant (not the key we agreed)")]
    BadVc,
    #[error("{0} bytes of padding or initial payload is more than allowed")]
    TooLong(usize),
    #[error("no method in common: they offer {0:#x}, we allow {1:#x}")]
    NoMethod(u32, u32),
}

/// What the handshake left: the cipher for each direction (none: plaintext).
pub struct Negotiated {
    pub read: Option<Rc4>,
    pub write: Option<Rc4>,
}

impl Negotiated {
    pub fn plaintext() -> Self {
        Negotiated {
            read: None,
            write: None,
        }
    }

    pub fn is_encrypted(&self) -> bool {
        self.write.is_some()
    }
}

/// Runs the handshake as the side that connected, for torrent `skey`,
/// offering the methods in `provide`.
pub async fn initiate<S>(s: &mut S, skey: &InfoHash, provide: u32) -> Result<Negotiated, MseError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let dh = Dh::new();
    s.write_all(&[&dh.public[..], &random_pad()].concat())
        .await?;
    let mut theirs = [0u8; KEY_LEN];
    s.read_exact(&mut theirs).await?;
    let secret = dh.secret(&theirs)?;
    let skey = &skey.0;
    let mut enc = Rc4::mse(&hash(&[b"keyA", &secret, skey]));
    let mut dec = Rc4::mse(&hash(&[b"keyB", &secret, skey]));
    let mut msg = hash(&[b"req1", &secret]).to_vec();
    let req2 = hash(&[b"req2", skey]);
    let req3 = hash(&[b"req3", &secret]);
    msg.extend(req2.iter().zip(req3).map(|(a, b)| a ^ b));
    let encrypted = msg.len();
    msg.extend_from_slice(&VC);
    msg.extend_from_slice(&provide.to_be_bytes());
    msg.extend_from_slice(&0u16.to_be_bytes()); // no padding
    msg.extend_from_slice(&0u16.to_be_bytes()); // no initial payload
    enc.apply(&mut msg[encrypted..]);
    s.write_all(&msg).await?;
    // B's reply starts after its padding: find its encrypted VC.
    let mut marker = VC;
    dec.apply(&mut marker);
    find(s, &marker, MAX_PAD).await?;
    let mut rest = [0u8; 6];
    s.read_exact(&mut rest).await?;
    dec.apply(&mut rest);
    let select = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let pad = usize::from(u16::from_be_bytes([rest[4], rest[5]]));
    if pad > MAX_PAD {
        return Err(MseError::TooLong(pad));
    }
    let mut padding = vec![0u8; pad];
    s.read_exact(&mut padding).await?;
    dec.apply(&mut padding);
    match select & provide {
        RC4 => Ok(Negotiated {
            read: Some(dec),
            write: Some(enc),
        }),
        PLAINTEXT => Ok(Negotiated::plaintext()),
        _ => Err(MseError::NoMethod(select, provide)),
    }
}

/// What [`accept`] found: the methods, the torrent and A's initial payload
/// (decrypted).
pub struct Accepted {
    pub negotiated: Negotiated,
    pub info_hash: InfoHash,
    pub initial: Vec<u8>,
}

/// Runs the handshake as the side that was connected to. `got`: the first
/// bytes of A's key, read already (to tell MSE from a plaintext handshake).
/// `torrent` finds the info-hash whose `HASH("req2", info_hash)` is given.
/// Plaintext is selected when both sides allow it (as libtorrent does):
/// the handshake has hidden the protocol, and RC4 costs CPU on every byte.
pub async fn accept<S>(
    s: &mut S,
    got: &[u8],
    torrent: impl Fn(&[u8; 20]) -> Option<InfoHash>,
    allow: u32,
) -> Result<Accepted, MseError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut theirs = [0u8; KEY_LEN];
    let got = &got[..got.len().min(KEY_LEN)];
    theirs[..got.len()].copy_from_slice(got);
    s.read_exact(&mut theirs[got.len()..]).await?;
    let dh = Dh::new();
    let secret = dh.secret(&theirs)?;
    s.write_all(&[&dh.public[..], &random_pad()].concat())
        .await?;
    find(s, &hash(&[b"req1", &secret]), MAX_PAD).await?;
    let mut req = [0u8; 20];
    s.read_exact(&mut req).await?;
    for (r, k) in req.iter_mut().zip(hash(&[b"req3", &secret])) {
        *r ^= k;
    }
    let info_hash = torrent(&req).ok_or(MseError::UnknownTorrent)?;
    let skey = &info_hash.0;
    let mut dec = Rc4::mse(&hash(&[b"keyA", &secret, skey]));
    let mut enc = Rc4::mse(&hash(&[b"keyB", &secret, skey]));
    let mut head = [0u8; 14];
    s.read_exact(&mut head).await?;
    dec.apply(&mut head);
    if head[..8] != VC {
        return Err(MseError::BadVc);
    }
    let provide = u32::from_be_bytes([head[8], head[9], head[10], head[11]]);
    let pad = usize::from(u16::from_be_bytes([head[12], head[13]]));
    if pad > MAX_PAD {
        return Err(MseError::TooLong(pad));
    }
    let mut padding = vec![0u8; pad + 2];
    s.read_exact(&mut padding).await?;
    dec.apply(&mut padding);
    let ia = usize::from(u16::from_be_bytes([padding[pad], padding[pad + 1]]));
    if ia > MAX_IA {
        return Err(MseError::TooLong(ia));
    }
    let mut initial = vec![0u8; ia];
    s.read_exact(&mut initial).await?;
    dec.apply(&mut initial);
    let select = match provide & allow {
        both if both & PLAINTEXT != 0 => PLAINTEXT,
        both if both & RC4 != 0 => RC4,
        _ => return Err(MseError::NoMethod(provide, allow)),
    };
    let mut reply = [VC.as_slice(), &select.to_be_bytes(), &0u16.to_be_bytes()].concat();
    enc.apply(&mut reply);
    s.write_all(&reply).await?;
    let negotiated = if select == RC4 {
        Negotiated {
            read: Some(dec),
            write: Some(enc),
        }
    } else {
        Negotiated::plaintext()
    };
    Ok(Accepted {
        negotiated,
        info_hash,
        initial,
    })
}

/// `HASH("req2", info_hash)`: how an encrypted handshake names its torrent.
pub fn torrent_marker(h: &InfoHash) -> [u8; 20] {
    hash(&[b"req2", &h.0])
}

/// Reads until the last bytes read are `marker`, after at most `limit`
/// bytes before it.
async fn find<S: AsyncRead + Unpin>(
    s: &mut S,
    marker: &[u8],
    limit: usize,
) -> Result<(), MseError> {
    let mut window = Vec::with_capacity(limit + marker.len());
    let mut byte = [0u8; 1];
    while window.len() < limit + marker.len() {
        s.read_exact(&mut byte).await?;
        window.push(byte[0]);
        if window.ends_with(marker) {
            return Ok(());
        }
    }
    Err(MseError::NoSync(window.len()))
}

fn hash(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1Hasher::default();
    for p in parts {
        h.update(p);
    }
    h.finish()
}

fn random_pad() -> Vec<u8> {
    let mut len = [0u8; 1];
    crate::util::fill_random(&mut len);
    let mut pad = vec![0u8; usize::from(len[0]) % (OUR_PAD + 1)];
    crate::util::fill_random(&mut pad);
    pad
}

/// Our half of the Diffie-Hellman exchange.
struct Dh {
    private: BigUint,
    public: [u8; KEY_LEN],
}

impl Dh {
    fn new() -> Self {
        // 160 bits, as the specification and libtorrent use.
        let mut x = [0u8; 20];
        crate::util::fill_random(&mut x);
        let private = BigUint::from_bytes_be(&x);
        let public = fixed(&BigUint::from(2u32).modpow(&private, &prime()));
        Dh { private, public }
    }

    /// S from their public key; 0, 1 and P - 1 would make S guessable.
    fn secret(&self, theirs: &[u8; KEY_LEN]) -> Result<[u8; KEY_LEN], MseError> {
        let p = prime();
        let y = BigUint::from_bytes_be(theirs);
        let one = BigUint::from(1u32);
        if y <= one || y >= &p - &one {
            return Err(MseError::BadKey);
        }
        Ok(fixed(&y.modpow(&self.private, &p)))
    }
}

fn prime() -> BigUint {
    BigUint::parse_bytes(P_HEX, 16).unwrap_or_default()
}

/// A number below P as its 96 big-endian bytes.
fn fixed(n: &BigUint) -> [u8; KEY_LEN] {
    let b = n.to_bytes_be();
    let mut out = [0u8; KEY_LEN];
    out[KEY_LEN - b.len().min(KEY_LEN)..].copy_from_slice(&b[b.len().saturating_sub(KEY_LEN)..]);
    out
}

#[cfg(test)]
mod tests;
