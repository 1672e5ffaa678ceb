//! When to rewrite the verified-piece record: at most one write at a time,
//! no more often than a set interval while downloading, at once when the
//! download completes or stops.

use std::time::Duration;

use crate::types::Time;

pub(super) struct ResumeSchedule {
    every: Duration,
    dirty: bool,
    saving: bool,
    last: Time,
    /// A save is due regardless of the interval (completion).
    urgent: bool,
}

impl ResumeSchedule {
    pub fn new(every: Duration, now: Time) -> Self {
        ResumeSchedule {
            every,
            dirty: false,
            saving: false,
            last: now,
            urgent: false,
        }
    }

    /// A piece was verified.
    pub fn changed(&mut self) {
        self.dirty = true;
    }

    /// Save as soon as no write is in flight.
    pub fn urge(&mut self) {
        self.dirty = true;
        self.urgent = true;
    }

    /// Whether to start a write now; if so it counts as started.
    pub fn take_due(&mut self, now: Time) -> bool {
        let due = self.dirty && !self.saving && (self.urgent || now >= self.last + self.every);
        if due {
            self.dirty = false;
            self.urgent = false;
            self.saving = true;
            self.last = now;
        }
        due
    }

    /// A final write, whatever is in flight.
    pub fn force(&mut self, now: Time) {
        self.dirty = false;
        self.urgent = false;
        self.saving = true;
        self.last = now;
    }

    pub fn saved(&mut self) {
        self.saving = false;
    }

    /// When a write will be due, if one is waiting for the interval.
    pub fn next(&self) -> Option<Time> {
        (self.dirty && !self.saving).then(|| match self.urgent {
            true => self.last,
            false => self.last + self.every,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    #[cfg_attr(not(target_arch = "wasm32"), test)]
    fn one_write_at_a_time_at_most_every_interval() {
        let t = Time::from_millis;
        let mut r = ResumeSchedule::new(Duration::from_secs(5), t(0));
        assert!(!r.take_due(t(10_000)), "nothing changed");
        r.changed();
        assert_eq!(r.next(), Some(t(5000)));
        assert!(!r.take_due(t(4999)));
        assert!(r.take_due(t(5000)));
        r.changed();
        assert!(!r.take_due(t(20_000)), "one write at a time");
        assert_eq!(r.next(), None);
        r.saved();
        assert!(r.take_due(t(20_000)));
        r.saved();
        r.urge();
        assert!(
            r.take_due(t(20_001)),
            "completion does not wait for the interval"
        );
    }
}
