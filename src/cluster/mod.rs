//! Scale-out over NATS JetStream (`run --role fetch|index`, docs/SCALING.md).
//!
//! ```text
//! fetch node ─► poll (leased sources) ─► … analyze ─► publish ──► stream <stream>.{article,seen,source}
//!   (KV leases)                                       (await ack,        │ durable pull consumer
//!                                                      Nats-Msg-Id)      ▼
//!                                        index node: WriteOp ─► writer (commit, alerts) ─► ack
//! ```
//!
//! The fetch side keeps the ingest code as it is and swaps the local writer for a [`publish`]
//! task that speaks the same [`WriteOp`](crate::store::writer::WriteOp)s; the index side turns
//! messages back into `WriteOp`s for the one writer ([`consume`]). Sources are shared between fetch
//! nodes by [`lease`]s in a JetStream key-value bucket.

pub mod consume;
pub mod lease;
pub mod publish;

use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::ClusterConfig;
use crate::store::{SeenArticle, SourceStatus, SourceUpdate, StoredArticle};

/// Which half of the pipeline a process runs (`run --role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Everything in one process, no NATS (today's daemon).
    #[default]
    All,
    /// Polls leased sources and publishes what it finds.
    Fetch,
    /// Consumes the stream into the archive; runs alerts and the API.
    Index,
}

/// Problems talking to NATS; all are start-up problems (at run time the client reconnects).
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "cannot connect to NATS at {urls}: {source} (is nats-server running with JetStream, `-js`?)"
    )]
    Connect {
        urls: String,
        source: async_nats::ConnectError,
    },
    #[error("cannot create or open the JetStream stream `{name}`: {message}")]
    Stream { name: String, message: String },
    #[error("cannot create or open the durable consumer `{name}`: {message}")]
    Consumer { name: String, message: String },
    #[error("cannot create or open the lease bucket `{name}`: {message}")]
    Bucket { name: String, message: String },
}

/// How long start-up waits for JetStream to be able to create the stream.
const STARTUP_PATIENCE: Duration = Duration::from_secs(30);

/// A connection to the cluster's JetStream.
#[derive(Clone)]
pub struct Cluster {
    pub config: ClusterConfig,
    pub js: jetstream::Context,
}

impl Cluster {
    /// Connects and makes sure the stream exists (every node may be the first to start).
    pub async fn connect(config: &ClusterConfig, role: &str) -> Result<Cluster, ClusterError> {
        let options = async_nats::ConnectOptions::new()
            .name(format!("wirewatch-{role}"))
            .connection_timeout(Duration::from_secs(5));
        let client = async_nats::connect_with_options(config.nats_urls.clone(), options)
            .await
            .map_err(|source| ClusterError::Connect {
                urls: config.nats_urls.join(", "),
                source,
            })?;
        let js = jetstream::new(client);
        let cluster = Cluster {
            config: config.clone(),
            js,
        };
        // Servers started together elect their JetStream leader a few seconds after they
        // accept connections; until then creating a stream fails. Wait that out, not forever.
        let deadline = tokio::time::Instant::now() + STARTUP_PATIENCE;
        loop {
            match cluster.stream().await {
                Ok(_) => return Ok(cluster),
                Err(e) if tokio::time::Instant::now() < deadline => {
                    tracing::info!(error = %e, "JetStream not ready yet; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The articles stream, created when missing (an existing one is used as it is configured).
    pub async fn stream(&self) -> Result<stream::Stream, ClusterError> {
        let c = &self.config;
        self.js
            .get_or_create_stream(stream::Config {
                name: c.stream.clone(),
                subjects: vec![format!("{}.>", c.stream)],
                // Limits, not work-queue retention: a new index node (or another consumer, such
                // as a search-engine sink) can read everything within `max_age` again.
                retention: stream::RetentionPolicy::Limits,
                discard: stream::DiscardPolicy::Old,
                storage: stream::StorageType::File,
                max_age: c.max_age.0,
                duplicate_window: c.duplicate_window.0,
                num_replicas: c.replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| ClusterError::Stream {
                name: c.stream.clone(),
                message: e.to_string(),
            })
    }

    /// The index node's durable pull consumer, created when missing.
    pub async fn consumer(&self) -> Result<consumer::PullConsumer, ClusterError> {
        let c = &self.config;
        let stream = self.stream().await?;
        stream
            .get_or_create_consumer(
                &c.consumer,
                consumer::pull::Config {
                    durable_name: Some(c.consumer.clone()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    deliver_policy: consumer::DeliverPolicy::All,
                    // Longer than a commit of a full batch takes; a message not acked by then
                    // is delivered again (and upserted again, harmlessly).
                    ack_wait: c.ack_wait.0,
                    max_ack_pending: 4096,
                    num_replicas: c.replicas,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| ClusterError::Consumer {
                name: c.consumer.clone(),
                message: e.to_string(),
            })
    }

    /// The lease bucket: one key per source, gone `lease_ttl` after its holder last renewed it.
    pub async fn leases(&self) -> Result<kv::Store, ClusterError> {
        let c = &self.config;
        let failed = |e: String| ClusterError::Bucket {
            name: c.lease_bucket.clone(),
            message: e,
        };
        // The bucket's stream is made here with the key-value conventions (what
        // `create_key_value` would send): that call first asks for the account's info, whose
        // answer from the nats-server 2.9 that Debian ships the client cannot read.
        self.js
            .get_or_create_stream(stream::Config {
                name: format!("KV_{}", c.lease_bucket),
                subjects: vec![format!("$KV.{}.>", c.lease_bucket)],
                max_messages_per_subject: 1,
                max_age: c.lease_ttl.0,
                storage: stream::StorageType::File,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: stream::DiscardPolicy::New,
                num_replicas: c.replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| failed(e.to_string()))?;
        self.js
            .get_key_value(&c.lease_bucket)
            .await
            .map_err(|e| failed(e.to_string()))
    }

    pub fn subject(&self, kind: &str) -> String {
        format!("{}.{kind}", self.config.stream)
    }
}

/// One message on the stream (JSON). Fields are added, never renamed: fetch and index nodes of
/// different versions may run side by side during an upgrade.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Envelope {
    /// An article to upsert; `complete` false: stored with its feed text, page still to come.
    Article {
        article: Box<StoredArticle>,
        complete: bool,
        updated: Option<DateTime<Utc>>,
    },
    /// An entry done without an article.
    Seen {
        id: String,
        source: String,
        url: String,
        updated: Option<DateTime<Utc>>,
    },
    /// A poll's outcome, for the index node's `/sources`.
    Source(WireSource),
}

/// A [`SourceUpdate`] as it travels.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireSource {
    pub name: String,
    pub url: String,
    pub kind: String,
    pub attempted_at: DateTime<Utc>,
    pub status: String,
    pub error: Option<String>,
    pub next_check_at: DateTime<Utc>,
    pub consecutive_failures: u32,
    pub new_articles: u64,
}

impl From<&SourceUpdate> for WireSource {
    fn from(u: &SourceUpdate) -> Self {
        WireSource {
            name: u.name.clone(),
            url: u.url.clone(),
            kind: u.kind.clone(),
            attempted_at: u.attempted_at,
            status: u.status.as_str().into(),
            error: u.error.clone(),
            next_check_at: u.next_check_at,
            consecutive_failures: u.consecutive_failures,
            new_articles: u.new_articles,
        }
    }
}

impl WireSource {
    /// The update for the index node's state: validators, feed URL and interval stay the fetch
    /// node's business (`None` keeps what is stored).
    pub fn into_update(self) -> SourceUpdate {
        let status = [
            SourceStatus::Ok,
            SourceStatus::NotModified,
            SourceStatus::HttpError,
            SourceStatus::FetchError,
            SourceStatus::ParseError,
            SourceStatus::Blocked,
            SourceStatus::RobotsDisallowed,
            SourceStatus::Refused,
            SourceStatus::Disabled,
        ]
        .into_iter()
        .find(|s| s.as_str() == self.status)
        // A status from a newer fetch node: reported as a fetch error rather than dropped.
        .unwrap_or(SourceStatus::FetchError);
        SourceUpdate {
            name: self.name,
            url: self.url,
            kind: self.kind,
            attempted_at: self.attempted_at,
            status,
            error: self.error,
            etag: None,
            last_modified: None,
            next_check_at: self.next_check_at,
            consecutive_failures: self.consecutive_failures,
            new_articles: self.new_articles,
            feed_url: None,
            interval: None,
        }
    }
}

impl From<SeenArticle> for Envelope {
    fn from(s: SeenArticle) -> Self {
        Envelope::Seen {
            id: s.id,
            source: s.source,
            url: s.url,
            updated: s.updated,
        }
    }
}

/// The `Nats-Msg-Id` of an article: its key, plus what makes a later version a different message
/// (the entry's updated stamp; `.feed` for the feed-text version stored while the page is still
/// to come), so that the server drops a republished copy but never a newer version.
pub fn article_msg_id(id: &str, complete: bool, updated: Option<DateTime<Utc>>) -> String {
    let mut key = id.to_string();
    if let Some(u) = updated {
        key.push_str(&format!(".u{}", u.timestamp_millis()));
    }
    if !complete {
        key.push_str(".feed");
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_tell_versions_apart_and_copies_not() {
        let t = DateTime::from_timestamp(1_700_000_000, 0);
        assert_eq!(article_msg_id("abc", true, None), "abc");
        assert_eq!(
            article_msg_id("abc", true, None),
            article_msg_id("abc", true, None)
        );
        assert_ne!(
            article_msg_id("abc", false, None),
            article_msg_id("abc", true, None)
        );
        assert_ne!(
            article_msg_id("abc", true, t),
            article_msg_id("abc", true, None)
        );
    }

    #[test]
    fn source_status_survives_the_wire() {
        let wire = WireSource {
            name: "n".into(),
            url: "u".into(),
            kind: "feed".into(),
            attempted_at: Utc::now(),
            status: "not-modified".into(),
            error: None,
            next_check_at: Utc::now(),
            consecutive_failures: 0,
            new_articles: 0,
        };
        let json = serde_json::to_string(&Envelope::Source(wire)).unwrap_or_default();
        let Ok(Envelope::Source(back)) = serde_json::from_str::<Envelope>(&json) else {
            panic!("a source envelope does not read back: {json}");
        };
        assert_eq!(back.into_update().status, SourceStatus::NotModified);
    }
}
