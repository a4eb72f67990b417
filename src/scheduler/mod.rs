//! When each source is polled next: its interval with jitter, stretched by consecutive failures up
//! to a cap, never sooner than a server's Retry-After.
//!
//! After a successful poll the interval adapts within the source's bounds ([`adapt`]): halved when
//! everything the feed listed was new (entries may have scrolled off unseen), stretched by a
//! quarter after each poll that found nothing new, and no sooner than the feed's `<ttl>` or the
//! response's `Cache-Control: max-age` / `Expires` ask ([`honour_hint`]).

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

/// The range a source's adaptive interval keeps to, and the configured interval it starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub min: Duration,
    pub base: Duration,
    pub max: Duration,
}

/// What a successful poll found, as far as the schedule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turnover {
    /// Not modified, or nothing new.
    Nothing,
    /// New entries beside ones already stored: the interval keeps up.
    Some,
    /// Every entry listed was new, after earlier polls had stored some: entries may have been
    /// missed between polls.
    Full,
}

/// The next interval after a successful poll, from the current one (`None`: the configured one).
pub fn adapt(bounds: Bounds, current: Option<Duration>, turnover: Turnover) -> Duration {
    let (min, max) = (bounds.min, bounds.max.max(bounds.min));
    let current = current.unwrap_or(bounds.base).clamp(min, max);
    let next = match turnover {
        Turnover::Full => current / 2,
        // News again after a quiet spell: back to the configured pace at once.
        Turnover::Some => current.min(bounds.base),
        Turnover::Nothing => current.mul_f64(1.25),
    };
    next.clamp(min, max)
}

/// A publisher's freshness hint (`<ttl>`, `max-age`, `Expires`) is a lower bound: polling before
/// it is wasted on a copy the publisher says is still current. The source's bounds still win.
pub fn honour_hint(bounds: Bounds, interval: Duration, hint: Option<Duration>) -> Duration {
    let (min, max) = (bounds.min, bounds.max.max(bounds.min));
    interval.max(hint.unwrap_or_default()).clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60;
    fn b() -> Bounds {
        Bounds {
            min: Duration::from_secs(MIN),
            base: Duration::from_secs(600),
            max: Duration::from_secs(2400),
        }
    }
    fn secs(d: Duration) -> u64 {
        d.as_secs()
    }

    #[test]
    fn a_feed_that_turns_over_is_polled_faster_down_to_the_minimum() {
        let mut cur = None;
        let mut seen = Vec::new();
        for _ in 0..5 {
            let next = adapt(b(), cur, Turnover::Full);
            seen.push(secs(next));
            cur = Some(next);
        }
        assert_eq!(seen, [300, 150, 75, 60, 60]);
        // News beside known entries: the faster pace holds.
        assert_eq!(secs(adapt(b(), cur, Turnover::Some)), 60);
    }

    #[test]
    fn a_quiet_feed_is_polled_slower_up_to_the_maximum_and_news_resets_it() {
        let mut cur = None;
        for _ in 0..20 {
            cur = Some(adapt(b(), cur, Turnover::Nothing));
        }
        assert_eq!(secs(cur.unwrap()), 2400);
        assert_eq!(
            secs(adapt(
                b(),
                Some(Duration::from_secs(750)),
                Turnover::Nothing
            )),
            937
        );
        assert_eq!(secs(adapt(b(), cur, Turnover::Some)), 600);
        // A stored interval outside new (narrower) bounds is brought back inside.
        assert_eq!(
            secs(adapt(b(), Some(Duration::from_secs(9)), Turnover::Some)),
            60
        );
    }

    #[test]
    fn freshness_hints_are_lower_bounds_within_the_bounds() {
        let i = Duration::from_secs(600);
        assert_eq!(secs(honour_hint(b(), i, None)), 600);
        assert_eq!(
            secs(honour_hint(b(), i, Some(Duration::from_secs(30)))),
            600
        );
        assert_eq!(
            secs(honour_hint(b(), i, Some(Duration::from_secs(1800)))),
            1800
        );
        assert_eq!(
            secs(honour_hint(b(), i, Some(Duration::from_secs(86400)))),
            2400
        );
    }

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
