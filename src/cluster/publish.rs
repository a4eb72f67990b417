//! The fetch node's stand-in for the index writer: takes the same `WriteOp`s from the pollers,
//! publishes each article to the stream and waits for JetStream's ack before it records the
//! article as seen in the fetch node's own state database. A crash between the two re-publishes
//! the article at the next poll, and the server drops the copy by its message id (or the index
//! upserts it again): nothing is lost, nothing is stored twice.

use std::collections::HashSet;
use std::time::Duration;

use async_nats::HeaderMap;
use tokio::sync::mpsc;
use tracing::{debug, error, warn};

use super::{Cluster, Envelope, WireSource, article_msg_id};
use crate::ingest::Inflight;
use crate::store::writer::WriteOp;
use crate::store::{SeenArticle, State};

/// Seen records written to the local state database at once, at most.
const SEEN_BATCH: usize = 256;
/// How long one message is retried (a NATS server failing over, a stream electing a leader).
const PUBLISH_PATIENCE: Duration = Duration::from_secs(60);

pub struct Publisher {
    pub cluster: Cluster,
    pub state: State,
    /// The pollers' claims on article ids, released once an article is recorded (or given up).
    pub inflight: Inflight,
    pub metrics: std::sync::Arc<crate::telemetry::Metrics>,
}

impl Publisher {
    /// Runs until every sender is dropped, then records what is left.
    pub async fn run(self, mut rx: mpsc::Receiver<WriteOp>) {
        let mut seen: Vec<SeenArticle> = Vec::new();
        // Sources with an article that could not be published since their last poll report.
        let mut failed: HashSet<String> = HashSet::new();
        while let Some(op) = rx.recv().await {
            match op {
                WriteOp::Article {
                    article,
                    mark_seen,
                    updated,
                } => {
                    let record = SeenArticle {
                        id: article.id.clone(),
                        source: article.source.clone(),
                        url: article.canonical_url.clone(),
                        updated,
                    };
                    let msg_id = article_msg_id(&article.id, mark_seen, updated);
                    let envelope = Envelope::Article {
                        article,
                        complete: mark_seen,
                        updated,
                    };
                    if self.publish("article", Some(msg_id), &envelope).await {
                        if mark_seen {
                            seen.push(record);
                        }
                    } else {
                        failed.insert(record.source.clone());
                        self.inflight.release([record.id]);
                    }
                }
                WriteOp::Seen(s) => {
                    let msg_id = format!("seen.{}", s.id);
                    if self
                        .publish("seen", Some(msg_id), &Envelope::from(s.clone()))
                        .await
                    {
                        seen.push(s);
                    } else {
                        failed.insert(s.source.clone());
                        self.inflight.release([s.id]);
                    }
                }
                WriteOp::SourceDone(mut update) => {
                    if failed.remove(&update.name) {
                        // Keep the old validators, so the next poll lists the entries again.
                        update.etag = None;
                        update.last_modified = None;
                    }
                    // Best effort: the index node's /sources is a report, the schedule is local.
                    let report = Envelope::Source(WireSource::from(&*update));
                    self.publish("source", None, &report).await;
                    self.record(&mut seen, &[*update]);
                }
                WriteOp::Flush(ack) => {
                    self.record(&mut seen, &[]);
                    let _ = ack.send(Ok(()));
                }
            }
            if seen.len() >= SEEN_BATCH || rx.is_empty() {
                self.record(&mut seen, &[]);
            }
        }
        self.record(&mut seen, &[]);
        debug!("publisher stopped");
    }

    /// Records acknowledged articles (and a source's new state) locally, then ends their claims.
    fn record(&self, seen: &mut Vec<SeenArticle>, updates: &[crate::store::SourceUpdate]) {
        if seen.is_empty() && updates.is_empty() {
            return;
        }
        if let Err(e) = self.state.record_commit(seen, updates) {
            // The articles are on the stream; the next poll publishes them again and the
            // server (or the index's upsert) drops the copies.
            error!(error = %e, "recording published articles in the state database failed");
        }
        self.inflight.release(seen.drain(..).map(|s| s.id));
    }

    /// Publishes one message and waits for the stream to have it; retries with backoff for a
    /// while (failover) and says whether it got there.
    async fn publish(&self, kind: &str, msg_id: Option<String>, envelope: &Envelope) -> bool {
        let payload = match serde_json::to_vec(envelope) {
            Ok(p) => bytes::Bytes::from(p),
            Err(e) => {
                error!(error = %e, "cannot encode a message for the stream");
                return false;
            }
        };
        let subject = self.cluster.subject(kind);
        let started = tokio::time::Instant::now();
        let mut wait = Duration::from_millis(100);
        loop {
            let mut headers = HeaderMap::new();
            if let Some(id) = &msg_id {
                headers.insert("Nats-Msg-Id", id.as_str());
            }
            let sent = self
                .cluster
                .js
                .publish_with_headers(subject.clone(), headers, payload.clone())
                .await;
            let outcome = match sent {
                Ok(ack) => ack.await.map(|a| a.duplicate).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(duplicate) => {
                    self.metrics.cluster_published(kind, duplicate);
                    return true;
                }
                Err(e) if started.elapsed() + wait < PUBLISH_PATIENCE => {
                    debug!(error = %e, subject, "publish not acknowledged; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    warn!(error = %e, subject, "giving up publishing; the next poll finds the entry again");
                    return false;
                }
            }
        }
    }
}
