//! Per-host politeness: a concurrency limit and a minimum gap between request starts, shared by
//! every request to the host, plus deferral when a host asks us to back off (Retry-After).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

/// `host:port`: the unit of politeness (and of robots.txt).
pub fn host_key(url: &Url) -> Option<String> {
    Some(format!(
        "{}:{}",
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?
    ))
}

struct Host {
    slots: Arc<Semaphore>,
    next_start: Mutex<Instant>,
}

/// Hosts remembered at once. Article links come from content, so the hosts are the web's
/// choice; a host with no request in flight and no pending start time holds nothing worth
/// keeping and is forgotten first.
const MAX_HOSTS: usize = 4096;

/// Drops hosts that nobody holds and whose next start has passed. When every host is busy
/// (more than `MAX_HOSTS` requests in flight, which the poll limits prevent), the map grows
/// past the cap rather than letting two requests to one host run unspaced.
fn forget_idle(hosts: &mut HashMap<String, Arc<Host>>, concurrency: usize) {
    let now = Instant::now();
    hosts.retain(|_, h| {
        let next = *h.next_start.lock().unwrap_or_else(|p| p.into_inner());
        Arc::strong_count(h) > 1 || h.slots.available_permits() < concurrency || next > now
    });
}

/// Hands out permission to send one request to a host.
#[derive(Clone)]
pub struct HostLimiter {
    hosts: Arc<Mutex<HashMap<String, Arc<Host>>>>,
    concurrency: usize,
    interval: Duration,
}

/// Held while a request is in flight.
pub struct HostPermit {
    _permit: OwnedSemaphorePermit,
}

impl HostLimiter {
    pub fn new(concurrency: usize, interval: Duration) -> HostLimiter {
        HostLimiter {
            hosts: Arc::default(),
            concurrency: concurrency.max(1),
            interval,
        }
    }

    fn host(&self, key: &str) -> Arc<Host> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        if hosts.len() >= MAX_HOSTS && !hosts.contains_key(key) {
            forget_idle(&mut hosts, self.concurrency);
        }
        hosts
            .entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(Host {
                    slots: Arc::new(Semaphore::new(self.concurrency)),
                    next_start: Mutex::new(Instant::now()),
                })
            })
            .clone()
    }

    /// Waits for a free slot and for the host's next start time.
    pub async fn acquire(&self, key: &str) -> HostPermit {
        let host = self.host(key);
        let permit = host
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("host semaphores are never closed");
        let start_at = {
            let mut next = host.next_start.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start + self.interval;
            start
        };
        tokio::time::sleep_until(start_at).await;
        HostPermit { _permit: permit }
    }

    /// Pushes the host's next start back by `delay` from now (never earlier than already set).
    pub fn defer(&self, key: &str, delay: Duration) {
        let host = self.host(key);
        let mut next = host.next_start.lock().unwrap_or_else(|p| p.into_inner());
        let until = Instant::now() + delay;
        if until > *next {
            *next = until;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_to_one_host() {
        let limiter = HostLimiter::new(2, Duration::from_secs(1));
        let t0 = Instant::now();
        let _a = limiter.acquire("h:80").await;
        let _b = limiter.acquire("h:80").await;
        assert!(Instant::now() - t0 >= Duration::from_secs(1));
        // Another host is not slowed down.
        let t1 = Instant::now();
        let _c = limiter.acquire("other:80").await;
        assert_eq!(Instant::now(), t1);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_hosts_are_forgotten_past_the_cap() {
        let limiter = HostLimiter::new(2, Duration::from_millis(10));
        let held = limiter.acquire("busy:80").await;
        for i in 0..MAX_HOSTS * 3 {
            let _p = limiter.acquire(&format!("h{i}:80")).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let len = limiter.hosts.lock().unwrap().len();
        assert!(len <= MAX_HOSTS, "{len} hosts remembered");
        assert!(
            limiter.hosts.lock().unwrap().contains_key("busy:80"),
            "a host with a request in flight is kept"
        );
        drop(held);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_and_deferral() {
        let limiter = HostLimiter::new(1, Duration::ZERO);
        let a = limiter.acquire("h:80").await;
        let l2 = limiter.clone();
        let waiter = tokio::spawn(async move {
            let _b = l2.acquire("h:80").await;
            Instant::now()
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiter.is_finished());
        limiter.defer("h:80", Duration::from_secs(30));
        let released = Instant::now();
        drop(a);
        let started = waiter.await.unwrap();
        assert!(started - released >= Duration::from_secs(30));
    }
}
