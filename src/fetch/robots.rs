//! robots.txt, fetched once per host and kept for a day.
//!
//! Following RFC 9309: a 4xx robots.txt means no restrictions, a 5xx or an unreachable one means
//! "assume disallowed" for now (and is retried sooner).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use texting_robots::Robot;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::{FetchError, FetchRequest, Fetcher, Purpose};

const KEEP: Duration = Duration::from_secs(24 * 3600);
const KEEP_AFTER_ERROR: Duration = Duration::from_secs(15 * 60);

enum Rules {
    AllowAll,
    DisallowAll,
    Parsed(Box<Robot>),
}

/// Rules per origin, with the instant they expire.
type Entries = HashMap<String, (Instant, Arc<Rules>)>;

/// Origins whose rules are kept: article links come from content, so the set of origins is the
/// web's choice and needs a bound. Feeds link a few dozen sites; refetching a robots.txt that was
/// evicted costs one request.
const MAX_ORIGINS: usize = 4096;

/// Makes room for one more entry: expired rules go first, then those expiring soonest (a
/// sweep per insertion at the cap, so amortised over at least a tenth of the cap).
fn make_room(entries: &mut Entries, cap: usize) {
    if entries.len() < cap {
        return;
    }
    let now = Instant::now();
    entries.retain(|_, (until, _)| *until > now);
    if entries.len() >= cap {
        let mut by_expiry: Vec<Instant> = entries.values().map(|(until, _)| *until).collect();
        let cut = (cap / 10).max(1).min(by_expiry.len());
        by_expiry.select_nth_unstable(cut - 1);
        let threshold = by_expiry[cut - 1];
        entries.retain(|_, (until, _)| *until > threshold);
    }
}

#[derive(Clone)]
pub struct RobotsCache {
    agent: String,
    entries: Arc<Mutex<Entries>>,
}

/// The product token robots.txt groups are matched against: `wirewatch` from `wirewatch/0.1 (...)`.
pub fn agent_token(user_agent: &str) -> String {
    user_agent
        .split(['/', ' '])
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("wirewatch")
        .to_string()
}

impl RobotsCache {
    pub fn new(agent: String) -> RobotsCache {
        RobotsCache {
            agent,
            entries: Arc::default(),
        }
    }

    pub async fn allowed(
        &self,
        fetcher: &Fetcher,
        url: &Url,
        cancel: &CancellationToken,
    ) -> Result<bool, FetchError> {
        let origin = url.origin().ascii_serialization();
        let cached = {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries
                .get(&origin)
                .filter(|(until, _)| *until > Instant::now())
                .map(|(_, r)| r.clone())
        };
        let rules = match cached {
            Some(r) => r,
            None => {
                let (rules, keep) = self.load(fetcher, url, cancel).await?;
                let rules = Arc::new(rules);
                let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
                make_room(&mut entries, MAX_ORIGINS);
                entries.insert(origin, (Instant::now() + keep, rules.clone()));
                rules
            }
        };
        Ok(match &*rules {
            Rules::AllowAll => true,
            Rules::DisallowAll => false,
            Rules::Parsed(robot) => robot.allowed(url.as_str()),
        })
    }

    async fn load(
        &self,
        fetcher: &Fetcher,
        url: &Url,
        cancel: &CancellationToken,
    ) -> Result<(Rules, Duration), FetchError> {
        let Ok(robots_url) = url.join("/robots.txt") else {
            return Ok((Rules::AllowAll, KEEP));
        };
        let req = FetchRequest {
            url: robots_url,
            purpose: Purpose::Robots,
            etag: None,
            last_modified: None,
        };
        match fetcher.fetch_once(&req, cancel).await {
            Ok(f) => match Robot::new(&self.agent, &f.body) {
                Ok(robot) => Ok((Rules::Parsed(Box::new(robot)), KEEP)),
                Err(_) => Ok((Rules::AllowAll, KEEP)),
            },
            Err(FetchError::Http { status, .. })
                if (400..500).contains(&status) && status != 429 =>
            {
                Ok((Rules::AllowAll, KEEP))
            }
            // A refused host is the outbound policy's verdict on the article too, not robots'.
            Err(e @ (FetchError::Cancelled | FetchError::Refused(_))) => Err(e),
            Err(_) => Ok((Rules::DisallowAll, KEEP_AFTER_ERROR)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_evicts_expired_then_soonest_expiring_origins() {
        let mut entries = Entries::new();
        let now = Instant::now();
        for i in 0..100u64 {
            entries.insert(
                format!("https://site{i}.example"),
                (now + Duration::from_secs(i + 1), Arc::new(Rules::AllowAll)),
            );
        }
        for i in 0..1_000 {
            make_room(&mut entries, 100);
            entries.insert(
                format!("https://new{i}.example"),
                (
                    now + Duration::from_secs(10_000 + i),
                    Arc::new(Rules::AllowAll),
                ),
            );
            assert!(entries.len() <= 100, "{} entries", entries.len());
        }
        assert!(entries.contains_key("https://new999.example"));
        assert!(
            !entries.contains_key("https://site0.example"),
            "the soonest to expire goes first"
        );
    }

    #[test]
    fn token() {
        assert_eq!(agent_token("wirewatch/0.1 (+https://x)"), "wirewatch");
    }
}
