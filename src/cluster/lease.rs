//! Source leases: a fetch node polls a source only while it holds the source's key in the lease
//! bucket. A key is taken with a create (fails while another node holds it), renewed by an
//! update that names the revision this node wrote last (fails if anyone else wrote since), and
//! deleted on a clean stop. The bucket's max age is the TTL: the keys of a node that dies
//! (or loses NATS) vanish after it, and the surviving nodes take them over.
//!
//! Nodes announce themselves under `node.<id>` in the same bucket; each takes at most its fair
//! share (sources / live nodes, rounded up) and gives back what is over it, so a node that joins
//! gets work without anyone dying.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::kv::{self, CreateErrorKind};
use futures::StreamExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// One held lease: the revision this node wrote and when.
#[derive(Debug, Clone, Copy)]
struct Held {
    revision: u64,
    renewed: Instant,
}

/// The leases this node holds, shared with the scheduler.
#[derive(Clone)]
pub struct Leases {
    held: Arc<RwLock<HashMap<String, Held>>>,
    ttl: Duration,
    /// Tells the scheduler that a lease was taken (so it polls without waiting for its tick).
    pub changed: Arc<tokio::sync::Notify>,
}

impl Leases {
    pub fn new(ttl: Duration) -> Leases {
        Leases {
            held: Arc::default(),
            ttl,
            changed: Arc::default(),
        }
    }

    /// Whether this node may poll `source` now: it holds the lease and renewed it recently enough
    /// that the key cannot have expired (a node cut off from NATS stops polling by itself).
    pub fn holds(&self, source: &str) -> bool {
        let margin = self.ttl / 3;
        self.held
            .read()
            .map(|h| {
                h.get(source)
                    .is_some_and(|l| l.renewed.elapsed() + margin < self.ttl)
            })
            .unwrap_or(false)
    }

    pub fn count(&self) -> usize {
        self.held.read().map(|h| h.len()).unwrap_or(0)
    }

    fn snapshot(&self) -> HashMap<String, Held> {
        self.held.read().map(|h| h.clone()).unwrap_or_default()
    }

    fn set(&self, source: &str, held: Option<Held>) {
        if let Ok(mut h) = self.held.write() {
            match held {
                Some(l) => {
                    h.insert(source.to_string(), l);
                }
                None => {
                    h.remove(source);
                }
            }
        }
    }

    /// Keeps the leases until `release` is cancelled, then gives every one back. `sources` says
    /// which sources there are now (the configuration may be reloaded).
    pub async fn run(
        self,
        bucket: kv::Store,
        node: String,
        sources: impl Fn() -> Vec<String>,
        release: CancellationToken,
    ) {
        let period = (self.ttl / 3).max(Duration::from_millis(200));
        let node_key = format!("node.{}", key_safe(&node));
        // Announce first and take leases one period later: nodes started together then see each
        // other and split the sources, instead of the first one taking all and polling them all
        // before it hands half back.
        let _ = bucket
            .put(&node_key, bytes::Bytes::from(node.clone()))
            .await;
        tokio::select! {
            _ = release.cancelled() => {}
            _ = tokio::time::sleep(period) => {}
        }
        loop {
            // A renewal stuck on a server that went away must not hold up the stop.
            let now = sources();
            tokio::select! {
                _ = release.cancelled() => break,
                _ = self.tick(&bucket, &node, &node_key, &now) => {}
            }
            tokio::select! {
                _ = release.cancelled() => break,
                _ = tokio::time::sleep(period) => {}
            }
        }
        let held = self.snapshot();
        for (source, lease) in &held {
            // Bounded: a key not deleted expires after the TTL anyway.
            let delete = bucket.delete_expect_revision(source_key(source), Some(lease.revision));
            let _ = tokio::time::timeout(Duration::from_secs(2), delete).await;
            self.set(source, None);
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), bucket.delete(&node_key)).await;
        info!(released = held.len(), "source leases released");
    }

    async fn tick(&self, bucket: &kv::Store, node: &str, node_key: &str, sources: &[String]) {
        let value = bytes::Bytes::from(node.to_string());
        if let Err(e) = bucket.put(node_key, value.clone()).await {
            debug!(error = %e, "cannot announce this node in the lease bucket");
        }
        let nodes = live_nodes(bucket).await.max(1);
        let share = sources.len().div_ceil(nodes);

        // Renew what is held; forget what is lost or no longer configured.
        for (source, lease) in self.snapshot() {
            let key = source_key(&source);
            if !sources.contains(&source) {
                let _ = bucket
                    .delete_expect_revision(&key, Some(lease.revision))
                    .await;
                self.set(&source, None);
                continue;
            }
            match bucket.update(&key, value.clone(), lease.revision).await {
                Ok(revision) => self.set(
                    &source,
                    Some(Held {
                        revision,
                        renewed: Instant::now(),
                    }),
                ),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    // An update retried after its ack was lost (a server failing over) finds
                    // its own write: still ours.
                    match own_revision(bucket, &key, node).await {
                        Some(revision) => self.set(
                            &source,
                            Some(Held {
                                revision,
                                renewed: Instant::now(),
                            }),
                        ),
                        None => {
                            warn!(source, "lease lost to another node");
                            self.set(&source, None);
                        }
                    }
                }
                // NATS unreachable: keep it for now; `holds` stops polling before it can expire.
                Err(e) => debug!(source, error = %e, "lease not renewed"),
            }
        }

        // Give back what is over the fair share (a node joined), then take free ones up to it.
        let mut held: Vec<String> = self.snapshot().into_keys().collect();
        held.sort();
        while held.len() > share {
            let Some(source) = held.pop() else { break };
            if let Some(lease) = self.snapshot().get(&source) {
                let _ = bucket
                    .delete_expect_revision(source_key(&source), Some(lease.revision))
                    .await;
            }
            self.set(&source, None);
            debug!(source, "lease handed back to balance the nodes");
        }
        let mut took = 0;
        for source in sources {
            if self.count() >= share {
                break;
            }
            if self.snapshot().contains_key(source) {
                continue;
            }
            let key = source_key(source);
            let created = match bucket.create(&key, value.clone()).await {
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {
                    // Ours already if this node wrote it last (a renewal whose answer was lost).
                    own_revision(bucket, &key, node).await.ok_or(e)
                }
                other => other,
            };
            match created {
                Ok(revision) => {
                    self.set(
                        source,
                        Some(Held {
                            revision,
                            renewed: Instant::now(),
                        }),
                    );
                    took += 1;
                }
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {}
                Err(e) => debug!(source, error = %e, "cannot take a lease"),
            }
        }
        if took > 0 {
            info!(took, held = self.count(), nodes, "source leases taken");
            self.changed.notify_one();
        }
    }
}

/// The key's revision when this node wrote its current value.
async fn own_revision(bucket: &kv::Store, key: &str, node: &str) -> Option<u64> {
    match bucket.entry(key).await {
        Ok(Some(e)) if e.operation == kv::Operation::Put && e.value.as_ref() == node.as_bytes() => {
            Some(e.revision)
        }
        _ => None,
    }
}

/// Nodes that announced themselves within the TTL.
async fn live_nodes(bucket: &kv::Store) -> usize {
    let Ok(keys) = bucket.keys().await else {
        return 1;
    };
    keys.filter(|k| std::future::ready(k.as_ref().is_ok_and(|k| k.starts_with("node."))))
        .count()
        .await
}

/// A bucket key for a source name (keys allow only `[-/_=.a-zA-Z0-9]`).
fn source_key(source: &str) -> String {
    use sha2::{Digest, Sha256};
    format!(
        "source.{}",
        hex::encode(&Sha256::digest(source.as_bytes())[..16])
    )
}

fn key_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A name for this node that no other running node has: host, process and a random part.
pub fn node_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    format!(
        "{}-{}-{:08x}",
        key_safe(&host),
        std::process::id(),
        rand::random::<u32>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_keys_are_valid_bucket_keys() {
        for name in ["SCMP China", "BIS press / 中文", "a.b*c>d"] {
            let key = source_key(name);
            assert!(
                key.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-/_=.".contains(c)),
                "{key}"
            );
        }
        assert_ne!(source_key("a"), source_key("b"));
    }

    #[test]
    fn a_lease_not_renewed_for_two_thirds_of_its_ttl_is_not_held() {
        let leases = Leases::new(Duration::from_secs(3));
        leases.set(
            "s",
            Some(Held {
                revision: 1,
                renewed: Instant::now(),
            }),
        );
        assert!(leases.holds("s"));
        assert!(!leases.holds("t"));
        leases.set(
            "s",
            Some(Held {
                revision: 1,
                renewed: Instant::now() - Duration::from_secs(2),
            }),
        );
        assert!(!leases.holds("s"));
    }
}
