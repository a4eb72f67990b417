//! Runs every saved search against a batch of just-committed articles.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use tracing::warn;

use super::{Alert, Evidence, Payload, deliver_at};
use crate::config::AlertConfig;
use crate::store::batch::SavedQuery;
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

/// Saved searches compiled for matching, kept from one commit to the next and compiled again only
/// when an alert changes.
#[derive(Default)]
pub struct Compiled {
    by_id: HashMap<i64, (AlertConfig, SavedQuery)>,
}

impl Compiled {
    fn get(&mut self, index: &ArticleIndex, alert: &Alert) -> &SavedQuery {
        let entry = self
            .by_id
            .entry(alert.id)
            .or_insert_with(|| (alert.spec.clone(), index.saved_query(&request(alert))));
        if entry.0 != alert.spec {
            *entry = (alert.spec.clone(), index.saved_query(&request(alert)));
        }
        &entry.1
    }

    /// Compiles every alert now (otherwise each is compiled at the first batch it meets).
    pub fn prepare(&mut self, index: &ArticleIndex, alerts: &[Alert]) {
        self.retain(alerts);
        for alert in alerts {
            self.get(index, alert);
        }
    }

    /// Forgets alerts that are gone.
    fn retain(&mut self, alerts: &[Alert]) {
        if self.by_id.len() > alerts.len() {
            let live: HashSet<i64> = alerts.iter().map(|a| a.id).collect();
            self.by_id.retain(|id, _| live.contains(id));
        }
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
    let enabled: Vec<&Alert> = alerts.iter().filter(|a| a.spec.enabled).collect();
    if batch_articles.is_empty() || enabled.is_empty() {
        return Vec::new();
    }
    let mut batch = match index.batch(&batch_articles) {
        Ok(b) => b,
        Err(e) => {
            warn!(error = %e, "could not index the batch for saved searches");
            return Vec::new();
        }
    };
    compiled.retain(alerts);
    let now = Utc::now();
    let mut out = Vec::new();
    // The evidence depends on the alert only through its topic: one payload per (article, topic).
    let mut payloads: HashMap<(usize, Option<&str>), String> = HashMap::new();
    let mut fingerprints: HashMap<usize, String> = HashMap::new();
    for alert in enabled {
        let found = match batch.matches(compiled.get(index, alert)) {
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
