//! How fast one socket sends announces. Trackers cap announces per
//! connection (ours refuses past a burst of 50 and 10 a second), and a
//! client shares one socket among all its torrents: a seeder of a hundred
//! files announced them all at once and had half of them refused. Announces
//! over the budget wait for it instead.

use std::time::Duration;

use crate::types::Time;

/// A burst, then one announce per `spacing` (the generic cell rate
/// algorithm: one time of state).
pub(super) struct Pace {
    /// When the budget is whole again if nothing more is sent.
    full_at: Time,
}

impl Pace {
    pub fn new(now: Time) -> Self {
        Pace { full_at: now }
    }

    /// Whether an announce may go now, or when one may; `commit` takes it
    /// from the budget (one function, not two: the browser module is
    /// 86 B smaller).
    pub fn admit(
        &mut self,
        now: Time,
        spacing: Duration,
        burst: u32,
        commit: bool,
    ) -> Result<(), Time> {
        let from = self.full_at.max(now);
        let window = spacing.saturating_mul(burst.saturating_sub(1));
        if from - now > window {
            let wait = (from - now) - window;
            return Err(now + wait);
        }
        if commit {
            self.full_at = from + spacing;
        }
        Ok(())
    }
}
