//! What our SDP tells the remote, and what we read from the remote's: the
//! largest message it accepts (RFC 8841), and how many bytes its UDP socket
//! can absorb in one burst.
//!
//! The second is ours (`a=x-webswarm-rcvbuf`): the send window that keeps a
//! browser's small UDP receive buffer from overflowing ([`super::window`])
//! held two native peers, whose buffers are 4 MiB, to 80 MB/s on loopback
//! (1 MiB in flight: 132–144 MB/s). Browsers ignore an attribute they do not
//! know and never send it, so they keep the small window.

/// Largest message we send, when the remote accepts it (Chromium: 256 KiB).
/// Fewer, larger messages cost the receiver fewer events, which matters
/// most to a JavaScript receiver.
pub const MAX_SEND: usize = 256 << 10;
/// What RFC 8841 says to assume when the SDP has no `a=max-message-size`.
pub const DEFAULT_REMOTE_MAX: usize = 64 << 10;

const BUFFER_ATTR: &str = "a=x-webswarm-rcvbuf:";
/// Most we believe a remote can buffer, whatever it says.
const MAX_DECLARED: usize = 64 << 20;

/// The largest message the remote accepts, from its SDP (0 means no limit).
pub fn remote_max_message(sdp: &str) -> usize {
    match attribute(sdp, "a=max-message-size:") {
        Some(0) => MAX_SEND,
        Some(n) => n.min(MAX_SEND),
        None => DEFAULT_REMOTE_MAX,
    }
}

/// The UDP receive buffer the remote declared, if it is a webswarm peer.
pub fn remote_buffer(sdp: &str) -> Option<usize> {
    attribute(sdp, BUFFER_ATTR).map(|n| n.min(MAX_DECLARED))
}

/// `sdp` declaring our receive buffer, as a session-level attribute.
pub fn declare_buffer(sdp: String, bytes: usize) -> String {
    let line = format!("{BUFFER_ATTR}{bytes}\r\n");
    let mut sdp = sdp;
    // Before the first media section; with none nothing would open anyway.
    if let Some(i) = sdp.find("\nm=") {
        sdp.insert_str(i + 1, &line);
    }
    sdp
}

fn attribute(sdp: &str, prefix: &str) -> Option<usize> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .and_then(|v| v.trim().parse::<usize>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_size_follows_the_remote_sdp() {
        assert_eq!(
            remote_max_message("v=0\r\na=max-message-size:262144\r\n"),
            256 << 10
        );
        assert_eq!(
            remote_max_message("a=max-message-size:1073741823"),
            MAX_SEND
        );
        assert_eq!(remote_max_message("a=max-message-size:0"), MAX_SEND);
        assert_eq!(remote_max_message("a=max-message-size:16384"), 16384);
        assert_eq!(remote_max_message("v=0"), DEFAULT_REMOTE_MAX);
    }

    #[test]
    fn the_receive_buffer_goes_before_the_media_and_comes_back() {
        let sdp = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:5000\r\n";
        let ours = declare_buffer(sdp.to_owned(), 4 << 20);
        assert_eq!(
            ours,
            "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=x-webswarm-rcvbuf:4194304\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:5000\r\n"
        );
        assert_eq!(remote_buffer(&ours), Some(4 << 20));
        assert_eq!(remote_buffer(sdp), None, "a browser's SDP");
        assert_eq!(
            remote_buffer("a=x-webswarm-rcvbuf:99999999999"),
            Some(MAX_DECLARED)
        );
        assert_eq!(remote_buffer("a=x-webswarm-rcvbuf:lots"), None);
        assert_eq!(declare_buffer("v=0\r\n".into(), 1), "v=0\r\n");
    }
}
