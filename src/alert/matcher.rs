//! Runs every saved search against a batch of just-committed articles.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use chrono::Utc;
use tracing::warn;

use super::{Alert, Evidence, Payload, deliver_at};
use crate::config::AlertConfig;
use crate::store::batch::{Batch, Presearcher, SavedQuery};
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

/// What goes into an alert's evidence: sentences of the body (by index, with the search's
/// words as written there) and then the topic's mentions (by index), five at most.
struct Chosen {
    sentences: Vec<(usize, Vec<String>)>,
    mentions: Vec<usize>,
}

fn choose(alert: &Alert, a: &StoredArticle, sentences: &Sentences, words: &[String]) -> Chosen {
    let picked = sentences.holding(words, 3);
    let mentions = a
        .analysis
        .mentions
        .iter()
        .enumerate()
        .filter(|(_, m)| alert.spec.topic.as_ref().is_none_or(|t| &m.topic == t))
        .filter(|(_, m)| !picked.iter().any(|(i, _)| sentences.text(*i) == m.sentence))
        .take(5 - picked.len())
        .map(|(i, _)| i)
        .collect();
    Chosen {
        sentences: picked,
        mentions,
    }
}

fn query_evidence(sentence: &str, terms: &[String]) -> Evidence {
    Evidence {
        topic: "query".into(),
        sentence: sentence.to_string(),
        terms: terms.to_vec(),
    }
}

fn mention_evidence(m: &crate::analyze::Mention) -> Evidence {
    Evidence {
        topic: m.topic.clone(),
        sentence: m.sentence.clone(),
        terms: m.terms.clone(),
    }
}

/// The alert's view of an article: its facts for the receiver, and the evidence: first the
/// sentences that hold the search's own words (`words`, lower case), then the topic's mentions.
pub fn payload(
    alert: &Alert,
    a: &StoredArticle,
    sentences: &Sentences,
    words: &[String],
) -> Payload {
    let chosen = choose(alert, a, sentences, words);
    let mut evidence: Vec<Evidence> = chosen
        .sentences
        .iter()
        .map(|(i, terms)| query_evidence(sentences.text(*i), terms))
        .collect();
    evidence.extend(
        chosen
            .mentions
            .iter()
            .map(|&i| mention_evidence(&a.analysis.mentions[i])),
    );
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

/// One article of a batch as the matcher sees it: split once, and its payload JSON assembled
/// from pieces serialised once (an article matched by fifty searches is not serialised fifty
/// times over).
pub struct ArticleView<'a> {
    article: &'a StoredArticle,
    sentences: Sentences<'a>,
    /// The payload without evidence, up to its opening `[`, per alert topic.
    /// (A handful: one per topic among the alerts that match it.)
    heads: Vec<(Option<String>, String)>,
    /// Each sentence as a JSON string, escaped once.
    sentence_json: FastMap<usize, String>,
    mention_json: FastMap<usize, String>,
}

impl<'a> ArticleView<'a> {
    pub fn new(article: &'a StoredArticle) -> ArticleView<'a> {
        ArticleView::with(article, Sentences::of(&article.body))
    }

    /// Article `doc` of `batch`, whose words the batch has already found.
    pub fn in_batch(article: &'a StoredArticle, batch: &'a Batch<'a>, doc: usize) -> Self {
        ArticleView::with(article, Sentences::in_batch(&article.body, batch, doc))
    }

    fn with(article: &'a StoredArticle, sentences: Sentences<'a>) -> ArticleView<'a> {
        ArticleView {
            article,
            sentences,
            heads: Vec::new(),
            sentence_json: FastMap::default(),
            mention_json: FastMap::default(),
        }
    }

    /// `serde_json::to_string(&payload(alert, article, ..))`, from cached pieces.
    pub fn payload_json(&mut self, alert: &Alert, words: &[String]) -> String {
        let a = self.article;
        let chosen = choose(alert, a, &self.sentences, words);
        let topic = &alert.spec.topic;
        let at = match self.heads.iter().position(|(t, _)| t == topic) {
            Some(at) => at,
            None => {
                let mut empty = payload(alert, a, &self.sentences, &[]);
                empty.evidence.clear();
                let mut json = serde_json::to_string(&empty).unwrap_or_default();
                // `..."evidence":[]}` -> `..."evidence":[`
                json.truncate(json.len().saturating_sub(2));
                self.heads.push((topic.clone(), json));
                self.heads.len() - 1
            }
        };
        let head = &self.heads[at].1;
        let mut out = String::with_capacity(head.len() + 512);
        out.push_str(head);
        for (k, (i, terms)) in chosen.sentences.into_iter().enumerate() {
            let sentences = &self.sentences;
            let sentence = self
                .sentence_json
                .entry(i)
                .or_insert_with(|| serde_json::to_string(sentences.text(i)).unwrap_or_default());
            // Field for field what serde writes for `Evidence`.
            let terms = serde_json::to_string(&terms).unwrap_or_default();
            let comma = if k > 0 { "," } else { "" };
            for piece in [
                comma,
                r#"{"topic":"query","sentence":"#,
                sentence,
                r#","terms":"#,
                &terms,
                "}",
            ] {
                out.push_str(piece);
            }
        }
        let mut first = out.ends_with('[');
        for i in chosen.mentions {
            let piece = self.mention_json.entry(i).or_insert_with(|| {
                serde_json::to_string(&mention_evidence(&a.analysis.mentions[i]))
                    .unwrap_or_default()
            });
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(piece);
        }
        out.push_str("]}");
        out
    }
}

/// Maps keyed by an article's words: fast, and seeded per process, so that text written to
/// collide cannot slow matching down.
type WordMap<'a> = FastMap<Cow<'a, str>, Vec<Range<usize>>>;

/// Maps keyed by positions in an article.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Where an article's words (in lower case) are written in its body.
enum Words<'a> {
    /// Found by splitting the body here: an article seen on its own.
    Own(WordMap<'a>),
    /// Found when its batch was indexed: its document there.
    Batch(&'a Batch<'a>, usize),
}

/// An article's sentences, and where the words of a search are written in them: split once for
/// all the searches that match it.
pub struct Sentences<'a> {
    body: &'a str,
    /// Each sentence's bytes in the body, without surrounding space.
    spans: Vec<Range<usize>>,
    words: Words<'a>,
}

impl<'a> Sentences<'a> {
    /// The sentences of `body`, with its words found by splitting it (as the index's tokenizer
    /// does: runs of letters and digits, in lower case; CJK text segmented).
    pub fn of(body: &'a str) -> Sentences<'a> {
        let mut words = WordMap::with_capacity_and_hasher(
            body.len() / 8,
            foldhash::fast::RandomState::default(),
        );
        if crate::text::has_cjk(body) {
            // CJK text has no spaces: its words are what the archive's analyzer makes of it
            // (segmented, folded), as the search's own words are.
            for (from, to, term) in crate::text::segment::words(body) {
                words.entry(Cow::Owned(term)).or_default().push(from..to);
            }
            return Sentences {
                body,
                spans: spans_of(body),
                words: Words::Own(words),
            };
        }
        for range in word_ranges(body) {
            let written = &body[range.clone()];
            // Most words are lower-case ASCII already: they are borrowed, not copied.
            let lower = if written
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                Cow::Borrowed(written)
            } else {
                Cow::Owned(written.to_lowercase())
            };
            words.entry(lower).or_default().push(range);
        }
        Sentences {
            body,
            spans: spans_of(body),
            words: Words::Own(words),
        }
    }

    /// The sentences of article `doc` of `batch`, whose words the batch has already found.
    pub fn in_batch(body: &'a str, batch: &'a Batch<'a>, doc: usize) -> Sentences<'a> {
        Sentences {
            body,
            spans: spans_of(body),
            words: Words::Batch(batch, doc),
        }
    }

    fn text(&self, i: usize) -> &'a str {
        &self.body[self.spans[i].clone()]
    }

    /// The sentence holding byte `at` of the body.
    fn sentence_at(&self, at: usize) -> Option<usize> {
        let i = self.spans.partition_point(|s| s.end <= at);
        self.spans.get(i).filter(|s| s.start <= at).map(|_| i)
    }

    /// Up to `max` sentences that hold one of `words` (lower case), in order: their indexes,
    /// with the words as written there (sorted, once each).
    fn holding(&self, words: &[String], max: usize) -> Vec<(usize, Vec<String>)> {
        let mut seen: Vec<(usize, &str)> = Vec::new();
        let mut note = |range: Range<usize>| {
            if let Some(i) = self.sentence_at(range.start) {
                seen.push((i, &self.body[range]));
            }
        };
        for word in words {
            match &self.words {
                Words::Own(map) => map
                    .get(word.as_str())
                    .into_iter()
                    .flatten()
                    .for_each(|r| note(r.clone())),
                Words::Batch(batch, doc) => batch.in_body(*doc, word).for_each(&mut note),
            }
        }
        seen.sort_unstable();
        seen.dedup();
        let mut out: Vec<(usize, Vec<String>)> = Vec::new();
        for (i, written) in seen {
            if out.last().is_none_or(|(last, _)| *last != i) {
                if out.len() == max {
                    break;
                }
                out.push((i, Vec::new()));
            }
            if let Some((_, terms)) = out.last_mut() {
                terms.push(written.to_string());
            }
        }
        out
    }
}

/// Each sentence's bytes in `body`, without surrounding space.
fn spans_of(body: &str) -> Vec<Range<usize>> {
    crate::analyze::sentences::split(body)
        .into_iter()
        .filter_map(|span| {
            let text = &body[span.start..span.end];
            let start = span.start + (text.len() - text.trim_start().len());
            let end = span.start + text.trim_end().len();
            (start < end).then_some(start..end)
        })
        .collect()
}

/// The words of `text`: runs of letters and digits, as byte ranges.
fn word_ranges(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut chars = text.char_indices().peekable();
    std::iter::from_fn(move || {
        let start = loop {
            let (i, c) = chars.next()?;
            if c.is_alphanumeric() {
                break i;
            }
        };
        let mut end = text.len();
        while let Some(&(i, c)) = chars.peek() {
            if !c.is_alphanumeric() {
                end = i;
                break;
            }
            chars.next();
        }
        Some(start..end)
    })
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
    /// The list compiled last: the same list again needs no comparing.
    list: Option<Arc<Vec<Alert>>>,
    specs: Vec<(i64, AlertConfig)>,
    queries: Vec<SavedQuery>,
    presearcher: Presearcher,
}

impl Compiled {
    /// Brings the compiled searches in line with `alerts` (cheap when nothing changed).
    pub fn prepare(&mut self, index: &ArticleIndex, alerts: &Arc<Vec<Alert>>) {
        if self.list.as_ref().is_some_and(|l| Arc::ptr_eq(l, alerts)) {
            return;
        }
        self.list = Some(alerts.clone());
        let alerts = alerts.as_slice();
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
    alerts: &Arc<Vec<Alert>>,
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
    let batch = match index.batch(&batch_articles) {
        Ok(b) => b,
        Err(e) => {
            warn!(error = %e, "could not index the batch for saved searches");
            return Vec::new();
        }
    };
    let candidates = batch.candidates(&compiled.presearcher);
    let now = Utc::now();
    let mut out = Vec::new();
    let mut views: HashMap<usize, ArticleView> = HashMap::new();
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
            let view = views
                .entry(i)
                .or_insert_with(|| ArticleView::in_batch(article, &batch, i));
            let json = view.payload_json(alert, saved.words());
            let fingerprint = fingerprints
                .entry(i)
                .or_insert_with(|| fingerprint(article));
            out.push(NewMatch {
                alert_id: alert.id,
                article_id: article.id.clone(),
                payload: json,
                channels: alert.spec.channels.clone(),
                deliver_at: deliver_at(alert.spec.mode, now),
                fingerprint: fingerprint.clone(),
                on_update: alert.spec.on_update,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::index::tests::article;

    #[test]
    fn evidence_starts_with_the_sentences_the_search_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let index = ArticleIndex::open(dir.path()).unwrap();
        let a = article(
            "a",
            "Boards seized",
            "Customs opened an inquiry on Monday. Officials said Quokkagpu boards were declared as \
             network gear. The weather was fine. A second QUOKKAGPU shipment was stopped in Penang.",
            None,
        );
        let alert = Alert {
            id: 7,
            origin: "config".into(),
            spec: AlertConfig {
                name: "boards".into(),
                query: "quokkagpu AND NOT weather".into(),
                topic: None,
                entity: None,
                source: None,
                lang: None,
                min_score: 0.0,
                channels: vec![],
                mode: Default::default(),
                on_update: false,
                enabled: true,
            },
        };
        let mut a = a;
        // A topic mention of a sentence already chosen for the search's words is not repeated.
        for sentence in [
            "Customs opened an inquiry on Monday.",
            "A second QUOKKAGPU shipment was stopped in Penang.",
        ] {
            a.analysis.mentions.push(crate::analyze::Mention {
                topic: "chip_smuggling".into(),
                field: "body".into(),
                sentence: sentence.into(),
                start: 0,
                end: 0,
                terms: vec!["Customs".into()],
                rule: "r".into(),
            });
        }
        let words = index.saved_query(&request(&alert)).words().to_vec();
        assert_eq!(words, vec!["quokkagpu"]);
        let p = payload(&alert, &a, &Sentences::of(&a.body), &words);
        let sentences: Vec<&str> = p.evidence.iter().map(|e| e.sentence.as_str()).collect();
        assert_eq!(
            sentences,
            vec![
                "Officials said Quokkagpu boards were declared as network gear.",
                "A second QUOKKAGPU shipment was stopped in Penang.",
                "Customs opened an inquiry on Monday.",
            ]
        );
        assert_eq!(p.evidence[2].topic, "chip_smuggling");
        assert_eq!(p.evidence[1].terms, vec!["QUOKKAGPU"]);
        // The assembled JSON is the payload's, piece for piece, and stays so when cached.
        let mut view = ArticleView::new(&a);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(view.payload_json(&alert, &words), json);
        assert_eq!(view.payload_json(&alert, &words), json);
        // Words found by the batch's index give the same evidence as the article's own split.
        let other = article("b", "Other", "Nothing about Quokkagpu here at all.", None);
        let refs = [&other, &a];
        let batch = index.batch(&refs).unwrap();
        let mut in_batch = ArticleView::in_batch(&a, &batch, 1);
        assert_eq!(in_batch.payload_json(&alert, &words), json);
        let none =
            serde_json::to_string(&payload(&alert, &a, &Sentences::of(&a.body), &[])).unwrap();
        assert_eq!(view.payload_json(&alert, &[]), none);
        assert_eq!(
            Payload::marked(&p.evidence[0]),
            "Officials said **Quokkagpu** boards were declared as network gear."
        );
    }

    #[test]
    fn evidence_of_a_chinese_article_is_the_sentence_holding_the_searched_word() {
        let dir = tempfile::tempdir().unwrap();
        let index = ArticleIndex::open(dir.path()).unwrap();
        let a = article(
            "z",
            "晶片案",
            "今日天氣晴朗。檢方指控該集團將輝達晶片走私至第三國！市場反應平淡。",
            None,
        );
        let alert = Alert {
            id: 8,
            origin: "config".into(),
            spec: AlertConfig {
                name: "smuggling".into(),
                query: "走私".into(),
                topic: None,
                entity: None,
                source: None,
                lang: None,
                min_score: 0.0,
                channels: vec![],
                mode: Default::default(),
                on_update: false,
                enabled: true,
            },
        };
        let words = index.saved_query(&request(&alert)).words().to_vec();
        let p = payload(&alert, &a, &Sentences::of(&a.body), &words);
        assert_eq!(
            p.evidence[0].sentence,
            "檢方指控該集團將輝達晶片走私至第三國！"
        );
        assert_eq!(p.evidence[0].terms, vec!["走私"]);
        // The batch's index finds the same.
        let refs = [&a];
        let batch = index.batch(&refs).unwrap();
        let mut in_batch = ArticleView::in_batch(&a, &batch, 0);
        assert_eq!(
            in_batch.payload_json(&alert, &words),
            serde_json::to_string(&p).unwrap()
        );
    }
}
