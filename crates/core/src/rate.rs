//! Transfer rate as an exponentially decaying average over the host's clock.

use crate::types::Time;

/// Averaging time constant: long enough to smooth bursts of 16 KiB blocks,
/// short enough that a 10 s rechoke sees current behaviour.
const TAU_SECS: f64 = 5.0;

#[derive(Clone, Copy, Debug, Default)]
pub struct RateMeter {
    acc: f64,
    last: Time,
    total: u64,
}

impl RateMeter {
    pub fn add(&mut self, now: Time, bytes: u64) {
        self.decay(now);
        self.acc += bytes as f64;
        self.total += bytes;
    }

    fn decay(&mut self, now: Time) {
        let dt = now.saturating_since(self.last).as_secs_f64();
        if dt > 0.0 {
            self.acc *= (-dt / TAU_SECS).exp();
            self.last = now;
        }
    }

    /// Bytes per second around `now`.
    pub fn rate(&self, now: Time) -> f64 {
        let dt = now.saturating_since(self.last).as_secs_f64();
        self.acc * (-dt / TAU_SECS).exp() / TAU_SECS
    }

    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn steady_flow_converges_to_its_rate() {
        let mut m = RateMeter::default();
        for ms in 0..30_000u64 {
            m.add(Time::from_millis(ms), 100); // 100 kB/s
        }
        let r = m.rate(Time::from_millis(30_000));
        assert!((r - 100_000.0).abs() < 2_000.0, "{r}");
        assert!(m.rate(Time::from_millis(60_000)) < 1_000.0);
        assert_eq!(m.total(), 3_000_000);
    }
}
