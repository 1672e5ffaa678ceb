//! Retry waits: reconnect backoff with jitter, and the lonely re-announce.

use std::time::Duration;

/// How long to wait before reconnecting after `failures` failed attempts in a
/// row: 1 s doubling up to `max`, times a jitter factor in 0.5–1.5 taken from
/// `random` (any value), so clients that lost the same tracker do not all
/// return at the same instant.
pub fn backoff(failures: u32, max: Duration, random: u64) -> Duration {
    let base = Duration::from_secs(1u64 << failures.saturating_sub(1).min(16)).min(max);
    let jitter = 0.5 + (random % 1001) as f64 / 1000.0;
    base.mul_f64(jitter)
}

/// How long a downloader with no peers waits before announcing again (with
/// fresh offers) after `retries` such announces in a row: 2 s, 4 s, then
/// 8 s. A first connection that fails (the remote left, its answer or a
/// handshake was lost) then costs seconds, not the tracker's interval.
pub fn lonely_wait(retries: u32) -> Duration {
    Duration::from_secs(2u64 << retries.min(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn lonely_retries_back_off_from_2_to_8_seconds() {
        let s = Duration::from_secs;
        assert_eq!(lonely_wait(0), s(2));
        assert_eq!(lonely_wait(1), s(4));
        assert_eq!(lonely_wait(2), s(8));
        assert_eq!(lonely_wait(3), s(8));
        assert_eq!(lonely_wait(u32::MAX), s(8));
    }

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn backoff_grows_and_is_capped() {
        let max = Duration::from_secs(30);
        for f in 1..20 {
            let base = Duration::from_secs(1u64 << (f - 1).min(16)).min(max);
            for r in [0, 500, 1000, u64::MAX] {
                let b = backoff(f, max, r);
                assert!(
                    b >= base.mul_f64(0.5) && b <= base.mul_f64(1.5),
                    "{f}: {b:?}"
                );
            }
        }
    }
}
