//! Runs every saved search against a batch of just-committed articles.

use std::collections::HashMap;

use chrono::Utc;
use tracing::warn;

use super::{Alert, Evidence, Payload, deliver_at};
use crate::config::AlertConfig;
use crate::store::batch::{Presearcher, SavedQuery};
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
        revision: 0,
        topics: a.analysis.topics.clone(),
        entities: a.analysis.entities.iter().map(|e| e.id.clone()).collect(),
        evidence,
    }
}

/// What a match saw of an article: a digest of its title and body (an update changes it).
pub fn fingerprint(a: &StoredArticle) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(a.title.as_bytes());
    h.update([0]);
    h.update(a.body.as_bytes());
    hex::encode(&h.finalize()[..12])
}

/// Saved searches compiled for matching, in the order of the alert list they were made from;
/// kept from one commit to the next and compiled again only when an alert changes.
#[derive(Default)]
pub struct Compiled {
    specs: Vec<(i64, AlertConfig)>,
    queries: Vec<SavedQuery>,
    presearcher: Presearcher,
}

impl Compiled {
    /// Brings the compiled searches in line with `alerts` (cheap when nothing changed).
    pub fn prepare(&mut self, index: &ArticleIndex, alerts: &[Alert]) {
        let same = self.specs.len() == alerts.len()
            && self
                .specs
                .iter()
                .zip(alerts)
                .all(|((id, spec), a)| *id == a.id && *spec == a.spec);
        if same {
            return;
        }
        let mut old: HashMap<i64, (AlertConfig, SavedQuery)> = self
            .specs
            .drain(..)
            .zip(self.queries.drain(..))
            .map(|((id, spec), q)| (id, (spec, q)))
            .collect();
        for alert in alerts {
            let query = match old.remove(&alert.id) {
                Some((spec, q)) if spec == alert.spec => q,
                _ => index.saved_query(&request(alert)),
            };
            self.specs.push((alert.id, alert.spec.clone()));
            self.queries.push(query);
        }
        self.presearcher = Presearcher::new(
            self.queries
                .iter()
                .zip(alerts)
                .map(|(q, a)| a.spec.enabled.then_some(q)),
        );
    }
}

impl Compiled {
    /// Positions of the searches a batch could match (see [`Presearcher`]).
    pub fn candidates(&self, batch: &crate::store::batch::Batch) -> Vec<usize> {
        batch.candidates(&self.presearcher)
    }
}

/// New matches of every enabled alert among a commit's articles (the last version of each, should
/// one have been stored twice).
pub fn match_batch(
    index: &ArticleIndex,
    alerts: &[Alert],
    compiled: &mut Compiled,
    articles: &[StoredArticle],
) -> Vec<NewMatch> {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, a) in articles.iter().enumerate() {
        last.insert(a.id.as_str(), i);
    }
    let mut positions: Vec<usize> = last.into_values().collect();
    positions.sort_unstable();
    let batch_articles: Vec<&StoredArticle> = positions.iter().map(|&i| &articles[i]).collect();
    if batch_articles.is_empty() || !alerts.iter().any(|a| a.spec.enabled) {
        return Vec::new();
    }
    compiled.prepare(index, alerts);
    let mut batch = match index.batch(&batch_articles) {
        Ok(b) => b,
        Err(e) => {
            warn!(error = %e, "could not index the batch for saved searches");
            return Vec::new();
        }
    };
    let candidates = batch.candidates(&compiled.presearcher);
    let now = Utc::now();
    let mut out = Vec::new();
    // The evidence depends on the alert only through its topic: one payload per (article, topic).
    let mut payloads: HashMap<(usize, Option<&str>), String> = HashMap::new();
    let mut fingerprints: HashMap<usize, String> = HashMap::new();
    for i in candidates {
        let (alert, saved) = (&alerts[i], &compiled.queries[i]);
        let found = match batch.matches(saved) {
            Ok(found) => found,
            Err(e) => {
                warn!(alert = %alert.spec.name, error = %e, "saved search could not run");
                continue;
            }
        };
        for i in found {
            let article = batch_articles[i];
            if !passes_min_score(alert, article) {
                continue;
            }
            let json = payloads
                .entry((i, alert.spec.topic.as_deref()))
                .or_insert_with(|| {
                    serde_json::to_string(&payload(alert, article)).unwrap_or_default()
                });
            let fingerprint = fingerprints
                .entry(i)
                .or_insert_with(|| fingerprint(article));
            out.push(NewMatch {
                alert_id: alert.id,
                article_id: article.id.clone(),
                payload: json.clone(),
                channels: alert.spec.channels.clone(),
                deliver_at: deliver_at(alert.spec.mode, now),
                fingerprint: fingerprint.clone(),
                on_update: alert.spec.on_update,
            });
        }
    }
    out
}
