//! The index node's intake: a durable pull consumer whose messages become `WriteOp`s for the one
//! writer. A batch is acknowledged only after the writer's commit that holds it (a `Flush` ack),
//! so a crash before the commit gets the batch delivered again; the writer upserts by article key
//! and records alert matches by (alert, article), so the second delivery adds nothing and alerts
//! nobody twice.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::PullConsumer;
use futures::StreamExt;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

use super::Envelope;
use crate::store::writer::{WriteOp, WriterTx};
use crate::store::{SeenArticle, State};
use crate::telemetry::Metrics;

/// Messages taken (and committed) at once.
const BATCH: usize = 256;
/// How long a pull waits for a full batch before it takes what there is.
const PULL_WAIT: Duration = Duration::from_millis(500);

/// Consumes until `stop`; the batch in hand when it comes is committed and acknowledged first.
pub async fn run(
    consumer: PullConsumer,
    writer: WriterTx,
    state: State,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        let pulled = tokio::select! {
            _ = stop.cancelled() => break,
            b = consumer.batch().max_messages(BATCH).expires(PULL_WAIT).messages() => b,
        };
        let mut batch = match pulled {
            Ok(b) => b,
            Err(e) => {
                // The server is failing over or away: the client reconnects; try again shortly.
                warn!(error = %e, "cannot pull from the stream; retrying");
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        let mut taken = Vec::new();
        let mut articles = 0u64;
        while let Some(message) = batch.next().await {
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    debug!(error = %e, "pull ended early");
                    break;
                }
            };
            let op = match serde_json::from_slice::<Envelope>(&message.payload) {
                Ok(envelope) => into_op(envelope),
                Err(e) => {
                    // Redelivering it would fail the same way forever.
                    error!(subject = %message.subject, error = %e, "undecodable message on the stream; dropped");
                    metrics.cluster_event("unknown", "undecodable", 1);
                    let _ = message.ack_with(AckKind::Term).await;
                    continue;
                }
            };
            if is_stale_draft(&state, &op) {
                // Committed already in full (its complete version came first, this one again
                // after a redelivery): storing it would put the feed's teaser back.
                debug!("feed-text version of an article stored in full; skipped");
                taken.push(message);
                continue;
            }
            if matches!(op, WriteOp::Article { .. }) {
                articles += 1;
            }
            if writer.send(op).await.is_err() {
                // The writer is gone (stopping): unacknowledged, the message comes again.
                return;
            }
            taken.push(message);
        }
        if taken.is_empty() {
            continue;
        }
        let (ack_tx, ack_rx) = oneshot::channel();
        if writer.send(WriteOp::Flush(ack_tx)).await.is_err() {
            return;
        }
        match ack_rx.await {
            Ok(Ok(())) => {
                for message in &taken {
                    // A lost ack only means one more delivery, which the upsert absorbs.
                    if let Err(e) = message.ack().await {
                        debug!(error = %e, "ack not sent");
                    }
                }
                metrics.cluster_event("article", "committed", articles);
                debug!(messages = taken.len(), "batch committed and acknowledged");
            }
            Ok(Err(e)) => {
                // Not acknowledged: delivered again after the ack wait, by when the disk may be back.
                error!(error = %e, "commit failed; the batch will be delivered again");
                for message in &taken {
                    let _ = message
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(5))))
                        .await;
                }
            }
            Err(_) => return,
        }
    }
}

/// A feed-text version of an article whose complete version, of the same or a later feed update,
/// is committed here already. (A feed-text version of a *newer* update still goes in, as in the
/// single process.)
fn is_stale_draft(state: &State, op: &WriteOp) -> bool {
    let WriteOp::Article {
        article,
        mark_seen: false,
        updated,
    } = op
    else {
        return false;
    };
    let Ok(seen) = state.seen_versions(std::slice::from_ref(&article.id)) else {
        return false;
    };
    match (seen.get(&article.id), updated) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(stored), Some(draft)) => stored.is_some_and(|s| s >= *draft),
    }
}

fn into_op(envelope: Envelope) -> WriteOp {
    match envelope {
        Envelope::Article {
            article,
            complete,
            updated,
        } => WriteOp::Article {
            article,
            mark_seen: complete,
            updated,
        },
        Envelope::Seen {
            id,
            source,
            url,
            updated,
        } => WriteOp::Seen(SeenArticle {
            id,
            source,
            url,
            updated,
        }),
        Envelope::Source(s) => WriteOp::SourceDone(Box::new(s.into_update())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::index::tests::article;

    fn draft(id: &str, updated: Option<chrono::DateTime<chrono::Utc>>) -> WriteOp {
        WriteOp::Article {
            article: Box::new(article(id, "t", "b", None)),
            mark_seen: false,
            updated,
        }
    }

    #[test]
    fn a_feed_text_version_never_replaces_the_full_one_of_the_same_update() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let state = State::open(&dir.path().join("state.sqlite")).unwrap_or_else(|e| panic!("{e}"));
        let t = chrono::DateTime::from_timestamp(1_700_000_000, 0);
        let later = chrono::DateTime::from_timestamp(1_700_000_600, 0);
        let seen = |id: &str, updated| SeenArticle {
            id: id.into(),
            source: "s".into(),
            url: format!("https://example.org/{id}"),
            updated,
        };
        state
            .record_commit(&[seen("full", t), seen("undated", None)], &[])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(is_stale_draft(&state, &draft("full", t)));
        assert!(is_stale_draft(&state, &draft("full", None)));
        assert!(is_stale_draft(&state, &draft("undated", None)));
        // A newer update of the entry, and articles not stored in full, go in.
        assert!(!is_stale_draft(&state, &draft("full", later)));
        assert!(!is_stale_draft(&state, &draft("undated", later)));
        assert!(!is_stale_draft(&state, &draft("new", None)));
    }
}
