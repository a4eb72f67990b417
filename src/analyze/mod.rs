//! Analysis: which sentences mention the beat's topics, which entities an article names, and the
//! structured facts it states.
//!
//! Rules and the gazetteer are data (`config/topics.toml`, `config/gazetteer.tsv`), compiled once
//! into an [`Analyzer`] that is shared read-only by every pipeline task.

pub mod facts;
mod gazetteer;
pub mod model;
mod pattern;
pub mod rules;
pub mod sentences;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use facts::Fact;
pub use gazetteer::{Gazetteer, GazetteerError};
pub use model::{BUILTIN_MODEL, FeatureWeight, ModelError, ModelEvidence, TopicModel};
pub use rules::{RuleError, RulePack, TOPICS, TopicName};

/// A topic attached to an article with its score (0..1): near 1 for an article *about* the topic,
/// low for one that mentions it in passing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopicScore {
    pub name: String,
    pub score: f64,
}

/// One sentence that mentions a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Mention {
    pub topic: String,
    /// `title` or `body`.
    pub field: String,
    pub sentence: String,
    /// Character (not byte) offsets of the sentence in the field's text.
    pub start: usize,
    pub end: usize,
    /// The words that fired, as written in the text (for a mention of the model: the words of its
    /// strongest features, in lower case).
    pub terms: Vec<String>,
    /// The rule that fired, or `model` when the learned layer tagged the sentence.
    pub rule: String,
    /// The topic model's probability for the sentence and topic, when a model is loaded; for
    /// `rule = "model"` also the features that pushed it up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelEvidence>,
}

/// A named entity found in the article.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Entity {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub count: usize,
}

/// Everything analysis says about one article.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Analysis {
    pub topics: Vec<TopicScore>,
    pub mentions: Vec<Mention>,
    pub entities: Vec<Entity>,
    /// Structured facts, each tagged by `kind` (e.g. `tariff_change`).
    #[schema(value_type = Vec<Object>)]
    pub facts: Vec<serde_json::Value>,
    /// Restricted-party list entries the article names (`[[watchlist]]`s loaded).
    #[serde(default)]
    pub listed: Vec<crate::watchlist::Listing>,
}

/// The restricted-party lists in force, shared by every analyzer built from one configuration
/// and replaced whole when a list refreshes.
pub type WatchlistSlot =
    std::sync::Arc<std::sync::RwLock<Option<std::sync::Arc<crate::watchlist::Matcher>>>>;

impl Analysis {
    pub fn topic_names(&self) -> Vec<String> {
        self.topics.iter().map(|t| t.name.clone()).collect()
    }
}

/// Why the analyzer could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error(transparent)]
    Gazetteer(#[from] GazetteerError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{file}: cannot read it: {error}")]
    Unreadable { file: String, error: String },
}

/// The topic rules shipped with wirewatch, used when a configuration names no rule pack, so that a
/// configuration written anywhere works without a copy of `config/`.
pub const BUILTIN_TOPICS: &str = include_str!("../../config/topics.toml");
/// The entity gazetteer shipped with wirewatch, used when a configuration names none.
pub const BUILTIN_GAZETTEER: &str = include_str!("../../config/gazetteer.tsv");

/// One rule file's text and the name its problems are reported under.
#[derive(Debug, Clone)]
pub struct RuleText {
    pub name: String,
    pub text: String,
}

impl RuleText {
    /// The file at `path`, or the built-in text (named `builtin`) when there is no path.
    pub fn read(
        path: Option<&Path>,
        builtin: &'static str,
        what: &str,
    ) -> Result<RuleText, std::io::Error> {
        match path {
            Some(p) => Ok(RuleText {
                name: p.display().to_string(),
                text: std::fs::read_to_string(p)?,
            }),
            None => Ok(RuleText {
                name: format!("built-in {what}"),
                text: builtin.to_string(),
            }),
        }
    }
}

/// The texts an analyzer is built from; also what `reindex` digests to tell whether rules changed.
#[derive(Debug, Clone)]
pub struct RuleTexts {
    pub topics: RuleText,
    pub gazetteer: RuleText,
    /// The topic model; `None` when the configuration turns it off.
    pub model: Option<RuleText>,
}

impl RuleTexts {
    /// Reads the rule pack and gazetteer a configuration names (`None`: the built-in one).
    pub fn read(
        topics: Option<&Path>,
        gazetteer: Option<&Path>,
    ) -> Result<RuleTexts, AnalyzeError> {
        Self::read_with_model(topics, gazetteer, Some(None))
    }

    /// As [`RuleTexts::read`], with the topic model: `Some(path)` that file, `Some(None)` the
    /// built-in one, `None` no model (rules alone).
    pub fn read_with_model(
        topics: Option<&Path>,
        gazetteer: Option<&Path>,
        model: Option<Option<&Path>>,
    ) -> Result<RuleTexts, AnalyzeError> {
        let unreadable = |p: Option<&Path>, e: std::io::Error| AnalyzeError::Unreadable {
            file: p.map(|p| p.display().to_string()).unwrap_or_default(),
            error: e.to_string(),
        };
        Ok(RuleTexts {
            topics: RuleText::read(topics, BUILTIN_TOPICS, "topic rules")
                .map_err(|e| unreadable(topics, e))?,
            gazetteer: RuleText::read(gazetteer, BUILTIN_GAZETTEER, "gazetteer")
                .map_err(|e| unreadable(gazetteer, e))?,
            model: match model {
                Some(path) => Some(
                    RuleText::read(path, BUILTIN_MODEL, "topic model")
                        .map_err(|e| unreadable(path, e))?,
                ),
                None => None,
            },
        })
    }
}

/// Compiled rules and gazetteer, and the topic model when there is one.
#[derive(Debug)]
pub struct Analyzer {
    rules: RulePack,
    gazetteer: Gazetteer,
    model: Option<Attached>,
    watchlists: Option<WatchlistSlot>,
}

/// A model with its features looked up for this analyzer's rules and gazetteer.
#[derive(Debug)]
struct Attached {
    model: TopicModel,
    /// Per rule: the feature of its trigger words.
    rule_feature: Vec<Option<u32>>,
    /// Per gazetteer entity: the feature of its kind.
    entity_feature: Vec<Option<u32>>,
}

struct Field<'a> {
    name: &'static str,
    text: &'a str,
}

impl Analyzer {
    pub fn load(topics: &Path, gazetteer: &Path) -> Result<Analyzer, AnalyzeError> {
        Ok(Analyzer {
            rules: RulePack::load(topics)?,
            gazetteer: Gazetteer::load(gazetteer)?,
            model: None,
            watchlists: None,
        })
    }

    /// The analyzer a configuration asks for: the files it names, or the copies built into the
    /// binary for whichever it leaves out.
    pub fn from_texts(texts: &RuleTexts) -> Result<Analyzer, AnalyzeError> {
        let analyzer = Analyzer {
            rules: RulePack::parse(&texts.topics.text, &texts.topics.name)?,
            gazetteer: Gazetteer::parse(&texts.gazetteer.text, &texts.gazetteer.name)?,
            model: None,
            watchlists: None,
        };
        Ok(match &texts.model {
            Some(m) => analyzer.with_model(TopicModel::parse(&m.text, &m.name)?),
            None => analyzer,
        })
    }

    /// Rules and gazetteer alone (no topic model).
    pub fn new(rules: RulePack, gazetteer: Gazetteer) -> Analyzer {
        Analyzer {
            rules,
            gazetteer,
            model: None,
            watchlists: None,
        }
    }

    /// This analyzer with a topic model next to its rules.
    pub fn with_model(mut self, model: TopicModel) -> Analyzer {
        let rule_feature = self
            .rules
            .rules
            .iter()
            .map(|r| model.feature(&model::trigger_name(&r.name)))
            .collect();
        let entity_feature = self
            .gazetteer
            .entities
            .iter()
            .map(|e| model.feature(&model::kind_name(&e.kind)))
            .collect();
        self.model = Some(Attached {
            model,
            rule_feature,
            entity_feature,
        });
        self
    }

    /// This analyzer without its topic model: the rules alone.
    pub fn without_model(mut self) -> Analyzer {
        self.model = None;
        self
    }

    pub fn model(&self) -> Option<&TopicModel> {
        self.model.as_ref().map(|m| &m.model)
    }

    /// The model's features of a text (every sentence's, together), by name: what
    /// `wirewatch train-topics` learns from. The same features as [`Analyzer::analyze`] reads.
    pub fn model_features(&self, text: &str) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        let mut buf = String::new();
        for span in sentences::split(text) {
            let folded = crate::text::fold_keep_len(&text[span.start..span.end]);
            let sentence: &str = &folded;
            for i in self.rules.term_set.matches(sentence).iter() {
                out.insert(model::trigger_name(&self.rules.rules[i].name));
            }
            for i in self.entities_in(sentence) {
                out.insert(model::kind_name(&self.gazetteer.entities[i].kind));
            }
            model::each_word_feature(sentence, &mut buf, |f| {
                out.insert(f.to_string());
            });
        }
        out
    }

    /// Matches articles against the restricted-party lists in `slot` (whatever it holds at the
    /// time of each analysis).
    pub fn with_watchlists(mut self, slot: WatchlistSlot) -> Analyzer {
        self.watchlists = Some(slot);
        self
    }

    /// The lists this analyzer matches against, if any.
    pub fn watchlists(&self) -> Option<&WatchlistSlot> {
        self.watchlists.as_ref()
    }

    /// The gazetteer entities named in a (folded) sentence, their context met.
    fn entities_in<'a>(&'a self, sentence: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.gazetteer
            .set
            .matches(sentence)
            .into_iter()
            .filter(|&i| {
                self.gazetteer.entities[i]
                    .context
                    .as_ref()
                    .is_none_or(|c| c.is_match(sentence))
            })
    }

    pub fn analyze(&self, title: &str, body: &str) -> Analysis {
        let mut evidence = [0.0f64; 4];
        let mut mentions = Vec::new();
        let mut entity_counts: BTreeMap<usize, usize> = BTreeMap::new();
        let mut facts = Vec::new();
        let settings = &self.rules.settings;
        // Per sentence: the rules' hits (topic, weight, mention) before the model has its say, and
        // the model's features; reused across sentences.
        let mut hits: Vec<(usize, f64, Mention)> = Vec::new();
        let mut features: Vec<u32> = Vec::new();
        let mut buf = String::new();
        for field in [
            Field {
                name: "title",
                text: title,
            },
            Field {
                name: "body",
                text: body,
            },
        ] {
            if field.text.trim().is_empty() {
                continue;
            }
            for (n, span) in sentences::split(field.text).iter().enumerate() {
                let written = &field.text[span.start..span.end];
                // Rules and names are matched on the sentence folded to simplified Chinese
                // (traditional and Japanese forms alike; terms are folded when compiled). Folding
                // keeps every character's length, so what matched is sliced from `written`.
                let folded = crate::text::fold_keep_len(written);
                let sentence: &str = &folded;
                let position = if field.name == "title" {
                    settings.title_weight
                } else if n < settings.lead_sentences {
                    settings.lead_weight
                } else {
                    1.0
                };
                let mut fired = [false; 4];
                // A topic whose rule met its terms (and context) but was ruled out by its
                // `exclude` / `veto`: the pack decided the word is meant in another sense.
                let mut vetoed = [false; 4];
                let candidates = self.rules.term_set.matches(sentence);
                for rule in candidates.iter().map(|i| &self.rules.rules[i]) {
                    // One sentence is one piece of evidence per topic, however many rules fire:
                    // once a topic has fired (its first rule in file order names the mention),
                    // its later rules need not be read against the sentence.
                    if fired[rule.topic] {
                        continue;
                    }
                    let terms = match rule_fires(rule, sentence, written) {
                        Fire::Yes(terms) => terms,
                        Fire::No => continue,
                        Fire::Vetoed => {
                            vetoed[rule.topic] = true;
                            continue;
                        }
                    };
                    fired[rule.topic] = true;
                    hits.push((
                        rule.topic,
                        rule.weight,
                        Mention {
                            topic: TOPICS[rule.topic].to_string(),
                            field: field.name.to_string(),
                            sentence: written.to_string(),
                            start: 0,
                            end: 0,
                            terms,
                            rule: rule.name.clone(),
                            model: None,
                        },
                    ));
                }
                let mut found: Vec<(usize, usize, usize)> = Vec::new();
                for i in self.entities_in(sentence) {
                    let e = &self.gazetteer.entities[i];
                    found.extend(
                        e.pattern
                            .find_iter(sentence)
                            .map(|m| (i, m.start(), m.end())),
                    );
                }
                if let Some(m) = &self.model {
                    features.clear();
                    features.extend(candidates.iter().filter_map(|i| m.rule_feature[i]));
                    features.extend(found.iter().filter_map(|&(i, _, _)| m.entity_feature[i]));
                    model::each_word_feature(sentence, &mut buf, |f| {
                        features.extend(m.model.feature(f));
                    });
                    features.sort_unstable();
                    features.dedup();
                    let p = m.model.probabilities(&features);
                    let s = &m.model.settings;
                    // A rule's hit the model finds very unlikely is dropped; a topic no rule
                    // found is added when the model is confident, naming its features, unless a
                    // rule of that topic ruled the sense out (the model does not overrule a
                    // veto: it learns words, the veto knows the court or the rice).
                    hits.retain(|(t, _, _)| p[*t] >= s.veto_threshold);
                    // A rule's mention carries the model's opinion of it too (no features: the
                    // rule is the reason).
                    for (t, _, mention) in &mut hits {
                        mention.model = Some(ModelEvidence {
                            probability: (p[*t] * 1000.0).round() / 1000.0,
                            features: Vec::new(),
                        });
                    }
                    for t in 0..TOPICS.len() {
                        if fired[t] || vetoed[t] || p[t] < s.add_threshold {
                            continue;
                        }
                        let reasons = m.model.reasons(&features, t);
                        let terms = reasons
                            .iter()
                            .filter_map(|r| {
                                r.feature
                                    .strip_prefix("w:")
                                    .or_else(|| r.feature.strip_prefix("b:"))
                            })
                            .map(str::to_string)
                            .collect();
                        hits.push((
                            t,
                            s.weight,
                            Mention {
                                topic: TOPICS[t].to_string(),
                                field: field.name.to_string(),
                                sentence: written.to_string(),
                                start: 0,
                                end: 0,
                                terms,
                                rule: "model".to_string(),
                                model: Some(ModelEvidence {
                                    probability: (p[t] * 1000.0).round() / 1000.0,
                                    features: reasons,
                                }),
                            },
                        ));
                    }
                }
                if !hits.is_empty() {
                    let start = field.text[..span.start].chars().count();
                    let end = start + sentence.chars().count();
                    for (t, weight, mut mention) in hits.drain(..) {
                        evidence[t] += weight * position;
                        mention.start = start;
                        mention.end = end;
                        mentions.push(mention);
                    }
                }
                // A name inside a longer name of the same kind is that longer name: 商务部
                // (MOFCOM) inside 美国商务部 (US Commerce). A country inside an agency's name
                // is still named.
                let kind = |i: usize| &self.gazetteer.entities[i].kind;
                for &(i, start, end) in &found {
                    let inside = found.iter().any(|&(j, s, e)| {
                        j != i
                            && kind(j) == kind(i)
                            && s <= start
                            && e >= end
                            && e - s > end - start
                    });
                    if !inside {
                        *entity_counts.entry(i).or_default() += 1;
                    }
                }
                for f in facts::facts_in(written) {
                    if let Ok(v) = serde_json::to_value(&f)
                        && !facts.contains(&v)
                    {
                        facts.push(v);
                    }
                }
            }
        }
        let topics = TOPICS
            .iter()
            .enumerate()
            .filter(|(i, _)| evidence[*i] > 0.0 && evidence[*i] >= self.rules.thresholds[*i])
            .map(|(i, name)| TopicScore {
                name: name.to_string(),
                score: saturate(evidence[i]),
            })
            .collect::<Vec<_>>();
        mentions.retain(|m| topics.iter().any(|t| t.name == m.topic));
        // A fact counts in an article on its beat: a "tariff" rise on electricity or "smuggled"
        // chips of a casino are read by the same patterns but are no news here.
        let on = |names: &[&str]| topics.iter().any(|t| names.contains(&t.name.as_str()));
        facts.retain(|f| match f["kind"].as_str() {
            Some("tariff_change") => on(&["tariffs"]),
            Some("export_control_action") => on(&["export_controls", "sanctions"]),
            Some("smuggling_case") => on(&["chip_smuggling", "export_controls"]),
            _ => true,
        });
        let entities: Vec<Entity> = entity_counts
            .into_iter()
            .map(|(i, count)| {
                let e = &self.gazetteer.entities[i];
                Entity {
                    id: e.id.clone(),
                    kind: e.kind.clone(),
                    name: e.name.clone(),
                    count,
                }
            })
            .collect();
        let matcher = self
            .watchlists
            .as_ref()
            .and_then(|slot| slot.read().ok().and_then(|m| m.clone()));
        let mut listed: Vec<crate::watchlist::Listing> = Vec::new();
        if let Some(m) = matcher {
            for hit in m.match_article(title, body, &entities) {
                let l = hit.listing();
                if !listed.contains(&l) {
                    listed.push(l);
                }
            }
        }
        Analysis {
            topics,
            mentions,
            entities,
            facts,
            listed,
        }
    }
}

/// Evidence mapped to 0..1: one passing mention ~0.3, a title mention plus a few in the body ~0.8.
fn saturate(evidence: f64) -> f64 {
    let s = 1.0 - (-evidence / 3.0).exp();
    (s * 1000.0).round() / 1000.0
}

/// What a rule makes of a sentence.
enum Fire {
    /// It fires, with the terms that made it fire.
    Yes(Vec<String>),
    /// Its terms, near words or context are not there.
    No,
    /// They are, but an `exclude` or `veto` rules the sense out.
    Vetoed,
}

/// Whether `rule` fires in `sentence` (folded), and the terms that made it fire as `written` (the
/// same sentence before folding, whose byte offsets are the same).
fn rule_fires(rule: &rules::Rule, sentence: &str, written: &str) -> Fire {
    // The conditions are all required; the ones that usually fail (near, context) are checked
    // first, and with is_match, which needs no search for where a match starts: most candidate
    // sentences are dropped before any match is located or an exclusion list is read. Every
    // context list must be met somewhere in the sentence; what met it is part of the why, found
    // once the rule fires.
    if rule.near.as_ref().is_some_and(|n| !n.is_match(sentence))
        || !rule.context.iter().all(|c| c.is_match(sentence))
    {
        return Fire::No;
    }
    let hits: Vec<regex::Match> = rule.terms.find_iter(sentence).collect();
    if hits.is_empty() {
        return Fire::No;
    }
    let mut fired: Vec<&str> = Vec::new();
    if let Some(near) = &rule.near {
        let ctx: Vec<regex::Match> = near.find_iter(sentence).collect();
        for h in &hits {
            if let Some(c) = ctx.iter().find(|c| match rule.within {
                None => true,
                Some(n) => word_distance(sentence, h, c) <= n,
            }) {
                fired.push(&written[h.range()]);
                fired.push(&written[c.range()]);
            }
        }
        if fired.is_empty() {
            return Fire::No;
        }
    } else {
        fired.extend(hits.iter().map(|h| &written[h.range()]));
    }
    if let Some(ex) = &rule.exclude {
        let vetoed = match rule.exclude_within {
            None => ex.is_match(sentence),
            Some(n) => ex
                .find_iter(sentence)
                .any(|x| hits.iter().any(|h| word_distance(sentence, h, &x) <= n)),
        };
        if vetoed {
            return Fire::Vetoed;
        }
    }
    if rule.veto.as_ref().is_some_and(|v| v.is_match(sentence)) {
        return Fire::Vetoed;
    }
    let mut terms: Vec<String> = Vec::new();
    let context_terms = rule
        .context
        .iter()
        .filter_map(|c| c.find(sentence).map(|m| &written[m.range()]));
    for t in fired.into_iter().chain(context_terms) {
        push_unique(&mut terms, t);
    }
    Fire::Yes(terms)
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

/// Words strictly between two matches (0 when adjacent or overlapping). CJK characters count as
/// words, since those scripts do not separate words with spaces.
fn word_distance(text: &str, a: &regex::Match, b: &regex::Match) -> usize {
    let (first, second) = if a.start() <= b.start() {
        (a, b)
    } else {
        (b, a)
    };
    if second.start() <= first.end() {
        return 0;
    }
    let gap = &text[first.end()..second.start()];
    gap.split_whitespace().count() + gap.chars().filter(|c| pattern::is_cjk(*c)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analyzer() -> Analyzer {
        let rules = RulePack::parse(
            r#"
[[topic]]
name = "chip_smuggling"
threshold = 1.0
[[rule]]
name = "smuggling-chips"
topic = "chip_smuggling"
terms = ["smuggl*"]
near = ["chip*", "GPU*", "H100", "semiconductor*"]
within = 6
[[rule]]
name = "sanctions"
topic = "sanctions"
terms = ["sanction*"]
exclude = ["FIFA", "league", "doping"]
"#,
            "test",
        )
        .unwrap();
        let gaz = Gazetteer::parse(
            "nvidia\tcompany\tNvidia\t英伟达\nh20\tchip\tH20\t\tchip*|GPU*|Nvidia\n",
            "test",
        )
        .unwrap();
        Analyzer::new(rules, gaz)
    }

    #[test]
    fn context_exclusion_and_offsets() {
        let a = analyzer();
        let r = a.analyze(
            "Police bust ring",
            "Police said the gang smuggled H100 chips into China. The league sanctioned the club. 英伟达 said nothing.",
        );
        assert_eq!(r.topic_names(), vec!["chip_smuggling"]);
        let m = &r.mentions[0];
        assert_eq!(
            m.sentence,
            "Police said the gang smuggled H100 chips into China."
        );
        assert_eq!((m.start, m.end), (0, 52));
        assert!(m.terms.contains(&"smuggled".to_string()));
        assert_eq!(
            r.entities.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            vec!["nvidia"]
        );
    }

    #[test]
    fn near_requires_context_within_n_words() {
        let a = analyzer();
        let r = a.analyze(
            "",
            "Drug smuggling rose sharply last year while demand for memory chips fell.",
        );
        assert!(r.topics.is_empty());
    }

    #[test]
    fn sku_needs_context() {
        let a = analyzer();
        let r = a.analyze("", "The H20 road was closed. Nvidia's H20 chip sold well.");
        let ids: Vec<_> = r
            .entities
            .iter()
            .map(|e| (e.id.as_str(), e.count))
            .collect();
        assert_eq!(ids, vec![("nvidia", 1), ("h20", 1)]);
    }
}
