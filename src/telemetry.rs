//! Metrics, as typed events recorded in one place and exposed at `/metrics` (OpenMetrics text).
//!
//! Labels stay low-cardinality: source names (bounded by the config) and small outcome sets, never
//! URLs or article ids.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceOutcome {
    pub source: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabel {
    pub source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PurposeLabel {
    pub purpose: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EntryLabel {
    pub source: String,
    pub kind: String,
}

/// A cluster message: its kind (article, seen, source, ...) and what became of it.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabel {
    pub kind: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabel {
    pub source: String,
    pub rule: String,
}

/// The outbound policy's refusals of one source's fetches, for its health.
#[derive(Clone, Debug, Default)]
pub struct SourceRefusals {
    pub count: u64,
    /// The last refusal's message (URL and rule) and when it happened.
    pub last: String,
    pub at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Every metric the daemon exports.
pub struct Metrics {
    registry: Mutex<Registry>,
    pub polls: Family<SourceOutcome, Counter>,
    pub article_fetches: Family<SourceOutcome, Counter>,
    pub fetch_bytes: Family<SourceLabel, Counter>,
    pub fetch_seconds: Family<PurposeLabel, Histogram>,
    pub entries: Family<EntryLabel, Counter>,
    pub articles_indexed: Counter,
    pub commit_seconds: Histogram,
    pub index_documents: Gauge,
    pub index_size_bytes: Gauge,
    pub last_success: Family<SourceLabel, Gauge<f64, AtomicU64>>,
    pub alert_matches: Counter,
    pub deliveries: Family<SourceOutcome, Counter>,
    pub outbox_depth: Gauge,
    pub outbound_refused: Family<RefusalLabel, Counter>,
    /// Messages published to (fetch role) or consumed from (index role) the cluster's stream.
    pub cluster_messages: Family<ClusterLabel, Counter>,
    /// Per source: keyed by configured source names, so bounded by the configuration.
    refusals: Mutex<std::collections::HashMap<String, SourceRefusals>>,
    /// Unix seconds of the last finished poll of any source (for STATUS lines).
    last_poll: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("wirewatch");
        let polls = Family::<SourceOutcome, Counter>::default();
        r.register(
            "polls",
            "Source polls by source and outcome (ok, not-modified, http-error, ...)",
            polls.clone(),
        );
        let article_fetches = Family::<SourceOutcome, Counter>::default();
        r.register(
            "article_fetches",
            "Article page fetches by source and outcome",
            article_fetches.clone(),
        );
        let fetch_bytes = Family::<SourceLabel, Counter>::default();
        r.register(
            "fetch_bytes",
            "Response bytes received, by source",
            fetch_bytes.clone(),
        );
        let fetch_seconds = Family::<PurposeLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.01, 2.0, 12))
        });
        r.register(
            "fetch_duration_seconds",
            "Fetch latency (source documents and article pages)",
            fetch_seconds.clone(),
        );
        let entries = Family::<EntryLabel, Counter>::default();
        r.register(
            "entries",
            "Entries seen in sources: kind = seen | new | duplicate",
            entries.clone(),
        );
        let articles_indexed = Counter::default();
        r.register(
            "articles_indexed",
            "Articles added or updated in the index",
            articles_indexed.clone(),
        );
        let commit_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        r.register(
            "index_commit_duration_seconds",
            "Index commit latency",
            commit_seconds.clone(),
        );
        let index_documents = Gauge::default();
        r.register(
            "index_documents",
            "Documents in the index",
            index_documents.clone(),
        );
        let index_size_bytes = Gauge::default();
        r.register(
            "index_size_bytes",
            "Size of the index and state database on disk",
            index_size_bytes.clone(),
        );
        let last_success = Family::<SourceLabel, Gauge<f64, AtomicU64>>::default();
        r.register(
            "source_last_success_timestamp_seconds",
            "Unix time of each source's last successful poll",
            last_success.clone(),
        );
        let alert_matches = Counter::default();
        r.register(
            "alert_matches",
            "New (alert, article) matches queued for delivery",
            alert_matches.clone(),
        );
        let deliveries = Family::<SourceOutcome, Counter>::default();
        r.register(
            "alert_deliveries",
            "Alert deliveries by channel kind (as `source`) and outcome: delivered, retry, dead",
            deliveries.clone(),
        );
        let outbox_depth = Gauge::default();
        r.register(
            "alert_outbox_depth",
            "Alert deliveries waiting in the outbox",
            outbox_depth.clone(),
        );
        let outbound_refused = Family::<RefusalLabel, Counter>::default();
        r.register(
            "outbound_refused",
            "Fetches refused by the outbound policy, by source and rule (loopback, private, ...)",
            outbound_refused.clone(),
        );
        let cluster_messages = Family::<ClusterLabel, Counter>::default();
        r.register(
            "cluster_messages",
            "Stream messages published (fetch role: stored, duplicate) or consumed (index role: committed, undecodable)",
            cluster_messages.clone(),
        );
        Metrics {
            outbound_refused,
            cluster_messages,
            refusals: Mutex::default(),
            alert_matches,
            deliveries,
            outbox_depth,
            registry: Mutex::new(r),
            polls,
            article_fetches,
            fetch_bytes,
            fetch_seconds,
            entries,
            articles_indexed,
            commit_seconds,
            index_documents,
            index_size_bytes,
            last_success,
            last_poll: AtomicU64::new(0),
        }
    }

    /// A message was published to the cluster's stream (`duplicate`: the server had it already).
    pub fn cluster_published(&self, kind: &str, duplicate: bool) {
        self.cluster_event(kind, if duplicate { "duplicate" } else { "stored" }, 1);
    }

    /// Cluster messages of one kind came to an end (`committed`, `undecodable`, ...).
    pub fn cluster_event(&self, kind: &str, outcome: &str, n: u64) {
        self.cluster_messages
            .get_or_create(&ClusterLabel {
                kind: kind.into(),
                outcome: outcome.into(),
            })
            .inc_by(n);
    }

    /// A poll of a source ended.
    pub fn poll_done(&self, source: &str, outcome: &str, success: bool) {
        self.polls
            .get_or_create(&SourceOutcome {
                source: source.into(),
                outcome: outcome.into(),
            })
            .inc();
        let now = unix_now();
        if success {
            self.last_success
                .get_or_create(&SourceLabel {
                    source: source.into(),
                })
                .set(now);
        }
        self.last_poll.store(now as u64, Ordering::Relaxed);
    }

    /// The outbound policy refused a fetch made for a source.
    pub fn refused(&self, source: &str, refusal: &crate::fetch::Refusal) {
        self.outbound_refused
            .get_or_create(&RefusalLabel {
                source: source.into(),
                rule: refusal.rule.into(),
            })
            .inc();
        if let Ok(mut map) = self.refusals.lock() {
            let entry = map.entry(source.to_string()).or_default();
            entry.count += 1;
            entry.last = refusal.to_string();
            entry.at = Some(chrono::Utc::now());
        }
    }

    /// The refusals recorded for a source since the daemon started.
    pub fn refusals_of(&self, source: &str) -> Option<SourceRefusals> {
        self.refusals.lock().ok()?.get(source).cloned()
    }

    /// A fetch finished (whatever the outcome).
    pub fn fetched(&self, source: &str, purpose: &str, bytes: usize, took: Duration) {
        self.fetch_bytes
            .get_or_create(&SourceLabel {
                source: source.into(),
            })
            .inc_by(bytes as u64);
        self.fetch_seconds
            .get_or_create(&PurposeLabel {
                purpose: purpose.into(),
            })
            .observe(took.as_secs_f64());
    }

    /// Article fetches of `source` with `outcome` (`paywall`, `blocked`, ...) since the start.
    pub fn article_fetches_of(&self, source: &str, outcome: &str) -> u64 {
        self.article_fetches
            .get(&SourceOutcome {
                source: source.into(),
                outcome: outcome.into(),
            })
            .map_or(0, |c| c.get())
    }

    pub fn article_fetch(&self, source: &str, outcome: &str) {
        self.article_fetches
            .get_or_create(&SourceOutcome {
                source: source.into(),
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn entries(&self, source: &str, seen: usize, new: usize) {
        let add = |kind: &str, n: usize| {
            self.entries
                .get_or_create(&EntryLabel {
                    source: source.into(),
                    kind: kind.into(),
                })
                .inc_by(n as u64);
        };
        add("seen", seen);
        add("new", new);
        add("duplicate", seen.saturating_sub(new));
    }

    pub fn committed(&self, docs: usize, took: Duration) {
        self.articles_indexed.inc_by(docs as u64);
        self.commit_seconds.observe(took.as_secs_f64());
    }

    pub fn delivery(&self, channel_kind: &str, outcome: &str, n: usize) {
        self.deliveries
            .get_or_create(&SourceOutcome {
                source: channel_kind.into(),
                outcome: outcome.into(),
            })
            .inc_by(n as u64);
    }

    pub fn last_poll(&self) -> Option<u64> {
        Some(self.last_poll.load(Ordering::Relaxed)).filter(|t| *t > 0)
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Liveness of the long-running parts, checked by the watchdog and `/healthz`.
#[derive(Default)]
pub struct Heartbeats {
    scheduler: AtomicU64,
    writer: AtomicU64,
}

/// A part that has not beaten for this long is considered stuck.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

impl Heartbeats {
    pub fn scheduler(&self) {
        self.scheduler.store(unix_now() as u64, Ordering::Relaxed);
    }

    pub fn writer(&self) {
        self.writer.store(unix_now() as u64, Ordering::Relaxed);
    }

    /// `Err` names the part that is not alive.
    pub fn check(&self) -> Result<(), &'static str> {
        let now = unix_now() as u64;
        let fresh =
            |t: &AtomicU64| now.saturating_sub(t.load(Ordering::Relaxed)) <= STALE_AFTER.as_secs();
        if !fresh(&self.scheduler) {
            return Err("scheduler");
        }
        if !fresh(&self.writer) {
            return Err("index writer");
        }
        Ok(())
    }
}

pub type SharedHeartbeats = Arc<Heartbeats>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_counters_with_labels() {
        let m = Metrics::new();
        m.poll_done("SCMP", "ok", true);
        m.entries("SCMP", 10, 3);
        let text = m.encode();
        assert!(
            text.contains(r#"wirewatch_polls_total{source="SCMP",outcome="ok"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"wirewatch_entries_total{source="SCMP",kind="duplicate"} 7"#),
            "{text}"
        );
        assert!(text.contains("wirewatch_source_last_success_timestamp_seconds{source=\"SCMP\"}"));
    }

    #[test]
    fn heartbeats_go_stale() {
        let h = Heartbeats::default();
        assert_eq!(h.check(), Err("scheduler"));
        h.scheduler();
        h.writer();
        assert_eq!(h.check(), Ok(()));
    }
}
