//! Runs every saved search against a batch of just-committed articles.

use chrono::Utc;
use tracing::warn;

use super::{Alert, Evidence, Payload, deliver_at};
use crate::store::state::NewMatch;
use crate::store::{ArticleIndex, SearchRequest, StoredArticle};

/// The request a saved search runs as.
pub fn request(alert: &Alert) -> SearchRequest {
    let s = &alert.spec;
    SearchRequest {
        q: s.query.clone(),
        topic: s.topic.clone(),
        entity: s.entity.clone(),
        source: s.source.clone(),
        lang: s.lang.clone(),
        limit: 100,
        ..Default::default()
    }
}

/// Whether an article is *about* the alert's topic enough (`min_score`).
pub fn passes_min_score(alert: &Alert, article: &StoredArticle) -> bool {
    let min = alert.spec.min_score;
    if min <= 0.0 {
        return true;
    }
    let topics = &article.analysis.topics;
    let score = match &alert.spec.topic {
        Some(t) => topics.iter().find(|x| &x.name == t).map(|x| x.score),
        None => topics.iter().map(|x| x.score).max_by(f64::total_cmp),
    };
    score.is_some_and(|s| s >= min)
}

/// The alert's view of an article: its facts for the receiver, the sentences for its topic.
pub fn payload(alert: &Alert, a: &StoredArticle) -> Payload {
    let evidence = a
        .analysis
        .mentions
        .iter()
        .filter(|m| alert.spec.topic.as_ref().is_none_or(|t| &m.topic == t))
        .take(5)
        .map(|m| Evidence {
            topic: m.topic.clone(),
            sentence: m.sentence.clone(),
            terms: m.terms.clone(),
        })
        .collect();
    Payload {
        article_id: a.id.clone(),
        title: a.title.clone(),
        url: a.url.clone(),
        source: a.source.clone(),
        published: a.published,
        topics: a.analysis.topics.clone(),
        entities: a.analysis.entities.iter().map(|e| e.id.clone()).collect(),
        evidence,
    }
}

/// New matches of every enabled alert among `ids`.
pub fn match_batch(
    index: &ArticleIndex,
    alerts: &[Alert],
    ids: &[String],
) -> Vec<(NewMatch, Payload, String)> {
    let now = Utc::now();
    let mut out = Vec::new();
    for alert in alerts.iter().filter(|a| a.spec.enabled) {
        let found = match index.match_among(&request(alert), ids) {
            Ok(found) => found,
            Err(e) => {
                warn!(alert = %alert.spec.name, error = %e, "saved search could not run");
                continue;
            }
        };
        for article in found.iter().filter(|a| passes_min_score(alert, a)) {
            let payload = payload(alert, article);
            let json = serde_json::to_string(&payload).unwrap_or_default();
            out.push((
                NewMatch {
                    alert_id: alert.id,
                    article_id: article.id.clone(),
                    payload: json,
                    channels: alert.spec.channels.clone(),
                    deliver_at: deliver_at(alert.spec.mode, now),
                },
                payload,
                alert.spec.name.clone(),
            ));
        }
    }
    out
}
