//! Signed announce tokens: a site's backend lets a visitor use its tracker
//! for one torrent (or all of them) until a time, for announcing or only for
//! scraping, without the tracker keeping any per-visitor state.
//!
//! A token is `IH.EXPIRY.SCOPE.SIG`, carried in the tracker URL's query
//! string (`wss://tracker.example/announce?token=…`):
//! - `IH`: the info-hash in lower-case hex, or `*` for any torrent;
//! - `EXPIRY`: Unix time in seconds after which it is refused;
//! - `SCOPE`: `announce` (join swarms and relay offers; scrapes too) or
//!   `scrape` (scrape only);
//! - `SIG`: lower-case hex HMAC-SHA256, keyed with the tracker's secret, of
//!   `IH.EXPIRY.SCOPE`.
//!
//! In Node: `createHmac('sha256', secret).update(`${ih}.${exp}.${scope}`).digest('hex')`.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use webswarm_tracker_proto::InfoHash;

type HmacSha256 = Hmac<Sha256>;

/// What a token allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Announce,
    Scrape,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Announce => "announce",
            Scope::Scrape => "scrape",
        }
    }
}

/// A token whose signature checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// `None`: any torrent.
    pub info_hash: Option<InfoHash>,
    pub expires_unix: u64,
    pub scope: Scope,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: expected IH.EXPIRY.SCOPE.SIG")]
    Malformed,
    #[error("token signature does not match: ask the site for a new token")]
    BadSignature,
}

/// Issues a token (what a site's backend does; also `webswarm-tracker token`).
pub fn issue(
    secret: &[u8],
    info_hash: Option<&InfoHash>,
    expires_unix: u64,
    scope: Scope,
) -> String {
    let payload = payload(info_hash, expires_unix, scope);
    let sig = webswarm_core::hex_encode(&mac(secret, &payload).finalize().into_bytes());
    format!("{payload}.{sig}")
}

/// Checks a token's form and signature (not its expiry: a connection
/// outlives the moment it was opened, so expiry is checked per announce).
pub fn verify(secret: &[u8], token: &str) -> Result<Grant, TokenError> {
    let (payload, sig) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let mut parts = payload.split('.');
    let (Some(ih), Some(exp), Some(scope), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let sig = webswarm_core::hex_decode(sig).ok_or(TokenError::Malformed)?;
    // Checked before anything else is believed; constant-time.
    mac(secret, payload)
        .verify_slice(&sig)
        .map_err(|_| TokenError::BadSignature)?;
    let info_hash = match ih {
        "*" => None,
        hex => Some(InfoHash(
            webswarm_core::hex_decode(hex)
                .and_then(|b| b.try_into().ok())
                .ok_or(TokenError::Malformed)?,
        )),
    };
    let scope = match scope {
        "announce" => Scope::Announce,
        "scrape" => Scope::Scrape,
        _ => return Err(TokenError::Malformed),
    };
    Ok(Grant {
        info_hash,
        expires_unix: exp.parse().map_err(|_| TokenError::Malformed)?,
        scope,
    })
}

fn payload(info_hash: Option<&InfoHash>, expires_unix: u64, scope: Scope) -> String {
    let ih = info_hash.map_or("*".to_owned(), |ih| webswarm_core::hex_encode(&ih.0));
    format!("{ih}.{expires_unix}.{}", scope.name())
}

fn mac(secret: &[u8], payload: &str) -> HmacSha256 {
    // HMAC takes keys of any length.
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    m.update(payload.as_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"site secret";

    #[test]
    fn issued_tokens_verify_and_tampering_is_caught() {
        let ih = InfoHash([0xab; 20]);
        let t = issue(SECRET, Some(&ih), 1_900_000_000, Scope::Announce);
        assert_eq!(
            verify(SECRET, &t),
            Ok(Grant {
                info_hash: Some(ih),
                expires_unix: 1_900_000_000,
                scope: Scope::Announce
            })
        );
        assert_eq!(verify(b"other secret", &t), Err(TokenError::BadSignature));
        // Moving the expiry, widening the scope or the torrent: the signature no longer fits.
        for (from, to) in [("1900000000", "1900000001"), ("announce", "scrape")] {
            let forged = t.replacen(from, to, 1);
            assert_eq!(verify(SECRET, &forged), Err(TokenError::BadSignature));
        }
        let any = t.replacen(&webswarm_core::hex_encode(&ih.0), "*", 1);
        assert_eq!(verify(SECRET, &any), Err(TokenError::BadSignature));
        for junk in ["", "abc", "a.b.c", "*.1.announce.zz", "*.x.announce.00"] {
            assert!(verify(SECRET, junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_payload_as_documented() {
        // Computed with: printf '*.1900000000.scrape' | openssl dgst -sha256 -hmac 'site secret'
        let t = issue(SECRET, None, 1_900_000_000, Scope::Scrape);
        let expected = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-hmac", "site secret", "-r"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(b"*.1900000000.scrape")?;
                c.wait_with_output()
            });
        let out = expected.expect("openssl (Debian's openssl package) to cross-check");
        let hex = String::from_utf8_lossy(&out.stdout);
        let hex = hex.split_whitespace().next().unwrap_or_default();
        assert_eq!(t, format!("*.1900000000.scrape.{hex}"));
    }
}
