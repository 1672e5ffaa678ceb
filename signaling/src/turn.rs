//! Short-lived TURN credentials for pages, in coturn's REST API scheme
//! (`use-auth-secret`): the username is `EXPIRY:webswarm` (Unix seconds),
//! the password base64(HMAC-SHA1(secret, username)). coturn checks both with
//! the same secret, so the tracker never talks to coturn, and a credential a
//! page leaks is useless after `ttl_secs`.

use std::path::PathBuf;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

use crate::access::{read_secret, AccessError};

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TurnConfig {
    /// coturn's `static-auth-secret`, in a file of its own.
    pub secret_file: Option<PathBuf>,
    /// The TURN servers' URLs handed to pages with the credentials.
    pub urls: Vec<String>,
    pub ttl_secs: u64,
}

impl Default for TurnConfig {
    fn default() -> Self {
        TurnConfig {
            secret_file: None,
            urls: Vec::new(),
            ttl_secs: 3600,
        }
    }
}

/// What `/turn-credentials` answers: `iceServers` goes as it is into a
/// `new Client({ iceServers })` or an `RTCPeerConnection`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Credentials {
    #[serde(rename = "iceServers")]
    pub ice_servers: Vec<IceServer>,
    /// Seconds the credentials are good for.
    pub ttl: u64,
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: String,
    pub credential: String,
}

pub struct Turn {
    secret: Vec<u8>,
    urls: Vec<String>,
    ttl: u64,
}

impl Turn {
    /// `None` without a secret file (the endpoint is off).
    pub fn load(cfg: &TurnConfig) -> Result<Option<Turn>, AccessError> {
        let Some(path) = &cfg.secret_file else {
            return Ok(None);
        };
        Ok(Some(Turn {
            secret: read_secret(path)?,
            urls: cfg.urls.clone(),
            ttl: cfg.ttl_secs.max(1),
        }))
    }

    pub fn mint(&self, now_unix: u64) -> Credentials {
        let username = format!("{}:webswarm", now_unix + self.ttl);
        Credentials {
            ice_servers: vec![IceServer {
                urls: self.urls.clone(),
                credential: password(&self.secret, &username),
                username,
            }],
            ttl: self.ttl,
        }
    }
}

fn password(secret: &[u8], username: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(username.as_bytes());
    crate::ws::base64(&mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_coturns_rest_scheme() {
        // printf '1700003600:webswarm' | openssl dgst -sha1 -hmac s3cret -binary | base64
        assert_eq!(
            password(b"s3cret", "1700003600:webswarm"),
            "gn0wr55iNyDqY3z4bTlm1ipwio8="
        );
        let t = Turn {
            secret: b"s3cret".to_vec(),
            urls: vec!["turn:t.example:3478".into()],
            ttl: 3600,
        };
        let c = t.mint(1_700_000_000);
        assert_eq!(c.ttl, 3600);
        assert_eq!(c.ice_servers[0].username, "1700003600:webswarm");
        assert_eq!(c.ice_servers[0].credential, "gn0wr55iNyDqY3z4bTlm1ipwio8=");
    }
}
