//! The tracker's own WebSocket server side: the opening handshake here,
//! frames in [`frame`]. Written for the tracker's memory budget: an idle
//! connection keeps no read or write buffer (see `frame`).

pub mod frame;

use axum::http::{header, HeaderMap, Method, StatusCode};
use sha1::{Digest, Sha1};

/// Checks a client's opening handshake (RFC 6455 §4.2.1) and returns the
/// `Sec-WebSocket-Accept` value, or the status and text to refuse it with.
pub fn accept(method: &Method, headers: &HeaderMap) -> Result<String, (StatusCode, &'static str)> {
    let has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    let not_ws = (
        StatusCode::BAD_REQUEST,
        "this is a WebTorrent tracker: connect with a WebSocket (stats at /stats.json)\n",
    );
    if method != Method::GET
        || !has(header::UPGRADE, "websocket")
        || !has(header::CONNECTION, "upgrade")
    {
        return Err(not_ws);
    }
    if !has(header::SEC_WEBSOCKET_VERSION, "13") {
        return Err((StatusCode::UPGRADE_REQUIRED, "WebSocket version 13 only\n"));
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|k| k.to_str().ok())
        .ok_or((StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key\n"))?;
    Ok(accept_key(key.trim()))
}

/// base64(SHA-1(key + the RFC's GUID)).
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64(&h.finalize())
}

pub(crate) fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_example_key_is_accepted_as_the_rfc_says() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }

    #[test]
    fn non_websocket_requests_are_told_what_this_is() {
        let mut h = HeaderMap::new();
        assert_eq!(
            accept(&Method::GET, &h).unwrap_err().0,
            StatusCode::BAD_REQUEST
        );
        h.insert(header::UPGRADE, "websocket".parse().unwrap());
        h.insert(header::CONNECTION, "keep-alive, Upgrade".parse().unwrap());
        h.insert(header::SEC_WEBSOCKET_VERSION, "8".parse().unwrap());
        assert_eq!(
            accept(&Method::GET, &h).unwrap_err().0,
            StatusCode::UPGRADE_REQUIRED
        );
        h.insert(header::SEC_WEBSOCKET_VERSION, "13".parse().unwrap());
        h.insert(
            header::SEC_WEBSOCKET_KEY,
            "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap(),
        );
        assert_eq!(
            accept(&Method::GET, &h).unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
