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

#[cfg(test)]
mod tests {
    use super::*;

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
