//! When each source is polled next: its interval with jitter, stretched by consecutive failures up
//! to a cap, never sooner than a server's Retry-After.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// The inputs of one scheduling decision.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub interval: Duration,
    pub max_backoff: Duration,
    /// Fraction of the delay added or removed at random, so sources configured together drift apart.
    pub jitter: f64,
}

impl Schedule {
    /// The delay before the next poll after `consecutive_failures` failures in a row (0 = success).
    pub fn delay(&self, consecutive_failures: u32, retry_after: Option<Duration>) -> Duration {
        let base = if consecutive_failures == 0 {
            self.interval
        } else {
            let factor = 2u32.saturating_pow(consecutive_failures.min(16));
            self.interval
                .saturating_mul(factor)
                .min(self.max_backoff.max(self.interval))
        };
        let spread = base.as_secs_f64() * self.jitter;
        let offset = if spread > 0.0 {
            rand::rng().random_range(-spread..=spread)
        } else {
            0.0
        };
        let jittered = Duration::from_secs_f64((base.as_secs_f64() + offset).max(1.0));
        match retry_after {
            Some(after) if after > jittered => after,
            _ => jittered,
        }
    }

    pub fn next_check(
        &self,
        now: DateTime<Utc>,
        consecutive_failures: u32,
        retry_after: Option<Duration>,
    ) -> DateTime<Utc> {
        let delay = self.delay(consecutive_failures, retry_after);
        now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(jitter: f64) -> Schedule {
        Schedule {
            interval: Duration::from_secs(600),
            max_backoff: Duration::from_secs(3600),
            jitter,
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_success_resets() {
        assert_eq!(s(0.0).delay(0, None), Duration::from_secs(600));
        assert_eq!(s(0.0).delay(1, None), Duration::from_secs(1200));
        assert_eq!(s(0.0).delay(2, None), Duration::from_secs(2400));
        assert_eq!(s(0.0).delay(3, None), Duration::from_secs(3600));
        assert_eq!(s(0.0).delay(40, None), Duration::from_secs(3600));
    }

    #[test]
    fn jitter_stays_in_bounds() {
        for _ in 0..200 {
            let d = s(0.1).delay(0, None).as_secs_f64();
            assert!((540.0..=660.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn retry_after_is_honoured() {
        assert_eq!(
            s(0.0).delay(1, Some(Duration::from_secs(7200))),
            Duration::from_secs(7200)
        );
        assert_eq!(
            s(0.0).delay(1, Some(Duration::from_secs(5))),
            Duration::from_secs(1200)
        );
    }
}
