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
                self.entries
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(origin, (Instant::now() + keep, rules.clone()));
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
            purpose: Purpose::Source,
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
            Err(FetchError::Cancelled) => Err(FetchError::Cancelled),
            Err(_) => Ok((Rules::DisallowAll, KEEP_AFTER_ERROR)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token() {
        assert_eq!(agent_token("wirewatch/0.1 (+https://x)"), "wirewatch");
    }
}
