//! The learned layer over the rules (issue 18): one logistic regression per topic over a
//! sentence's words (uni- and bigrams), the gazetteer kinds it names and the rules whose trigger
//! words it holds. It is a second opinion next to the rules, not a replacement:
//!
//! - it **adds** a topic to a sentence the rules left alone only when its probability reaches
//!   `add_threshold` (high), and such a mention says `rule = "model"` and names the features that
//!   pushed it up;
//! - it can **veto** a rule's hit when its probability is below `veto_threshold` (0 = never).
//!
//! Why the features hold no rule *decisions* (fired, vetoed): the rule pack was written against the
//! shared units, so on them its decisions are right by construction; a model given them learns to
//! copy the rules and adds nothing where the rules miss. Trigger words present (the rule's `terms`
//! occur, whatever its context and vetoes say) are plain lexical evidence and stay.
//!
//! The model is data (`config/topic_model.json`), trained by `wirewatch train-topics`, deterministic
//! (inputs sorted by id, full-batch training from zero weights, no randomness).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::TOPICS;

/// The model shipped with wirewatch, used unless a configuration names another or turns it off.
pub const BUILTIN_MODEL: &str = include_str!("../../config/topic_model.json");

/// The format version this build reads and writes.
pub const FORMAT: u32 = 1;

/// How the model's probabilities are combined with the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSettings {
    /// A sentence the rules did not tag gets the topic from the model at this probability or above.
    pub add_threshold: f64,
    /// A rule's hit is dropped when the model's probability for its topic is below this (0: never).
    pub veto_threshold: f64,
    /// Evidence a model mention adds to the article's topic score (as a rule's `weight`).
    pub weight: f64,
    /// How many features a model mention names as its reason.
    pub explain: usize,
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            add_threshold: 0.9,
            veto_threshold: 0.0,
            weight: 1.0,
            explain: 5,
        }
    }
}

/// How a model was trained, kept in the file so that it can be rebuilt and checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Training {
    /// The command that wrote the file.
    pub command: String,
    pub units: usize,
    /// SHA-256 of the training units as read (sorted by id, one `id\ttopics\ttext` line each).
    pub units_sha256: String,
    pub l2: f64,
    pub epochs: usize,
    pub learning_rate: f64,
    /// Word features seen in fewer units than this were left out.
    pub min_df: usize,
}

/// The model file (`config/topic_model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub format: u32,
    /// Topic order of `bias` and of every feature's weights.
    pub topics: Vec<String>,
    pub settings: ModelSettings,
    pub training: Training,
    pub bias: [f64; 4],
    /// Feature name -> weight per topic. Names: `w:word`, `b:word word`, `kind:<gazetteer kind>`,
    /// `trigger:<rule name>`.
    pub features: BTreeMap<String, [f64; 4]>,
}

/// Why a model file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct ModelError {
    pub file: String,
    pub problem: String,
}

/// A loaded model.
#[derive(Debug)]
pub struct TopicModel {
    pub settings: ModelSettings,
    bias: [f32; 4],
    names: Vec<String>,
    weights: Vec<[f32; 4]>,
    index: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
}

impl TopicModel {
    pub fn parse(text: &str, file: &str) -> Result<TopicModel, ModelError> {
        let fail = |problem: String| ModelError {
            file: file.to_string(),
            problem,
        };
        let m: ModelFile = serde_json::from_str(text).map_err(|e| fail(e.to_string()))?;
        if m.format != FORMAT {
            return Err(fail(format!(
                "format {} (this wirewatch reads format {FORMAT}; retrain with `wirewatch train-topics`)",
                m.format
            )));
        }
        if m.topics != TOPICS {
            return Err(fail(format!(
                "topics {:?}, expected {:?}",
                m.topics, TOPICS
            )));
        }
        Ok(Self::from_file(m))
    }

    pub fn from_file(m: ModelFile) -> TopicModel {
        let mut names = Vec::with_capacity(m.features.len());
        let mut weights = Vec::with_capacity(m.features.len());
        let mut index = HashMap::with_capacity_and_hasher(m.features.len(), Default::default());
        for (i, (name, w)) in m.features.into_iter().enumerate() {
            index.insert(name.clone().into_boxed_str(), i as u32);
            names.push(name);
            weights.push(w.map(|x| x as f32));
        }
        TopicModel {
            settings: m.settings,
            bias: m.bias.map(|x| x as f32),
            names,
            weights,
            index,
        }
    }

    pub fn feature(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    pub fn name(&self, feature: u32) -> &str {
        &self.names[feature as usize]
    }

    /// Probability per topic of a sentence with these (deduplicated) features.
    pub fn probabilities(&self, features: &[u32]) -> [f64; 4] {
        let mut z = self.bias;
        for &f in features {
            let w = &self.weights[f as usize];
            for t in 0..4 {
                z[t] += w[t];
            }
        }
        z.map(|z| sigmoid(f64::from(z)))
    }

    /// The features that pushed `topic` up most, strongest first, with their weights.
    pub fn reasons(&self, features: &[u32], topic: usize) -> Vec<FeatureWeight> {
        let mut up: Vec<(f32, u32)> = features
            .iter()
            .map(|&f| (self.weights[f as usize][topic], f))
            .filter(|(w, _)| *w > 0.0)
            .collect();
        up.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        up.into_iter()
            .take(self.settings.explain)
            .map(|(w, f)| FeatureWeight {
                feature: self.name(f).to_string(),
                weight: (f64::from(w) * 1000.0).round() / 1000.0,
            })
            .collect()
    }
}

/// Why the model tagged a sentence: its probability and its strongest features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ModelEvidence {
    pub probability: f64,
    /// Strongest first; empty on a rule's mention (the rule is its reason).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<FeatureWeight>,
}

/// One feature of the model and its weight for the topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeatureWeight {
    pub feature: String,
    pub weight: f64,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The feature name of a rule whose trigger words occur.
pub fn trigger_name(rule: &str) -> String {
    format!("trigger:{rule}")
}

/// The feature name of a gazetteer kind named in the sentence.
pub fn kind_name(kind: &str) -> String {
    format!("kind:{kind}")
}

/// Calls `f` with every word feature of `sentence` (`w:` unigrams, `b:` bigrams; lower case,
/// numbers as `0`), built in `buf` (no allocation per feature). Repeats are not removed.
pub fn each_word_feature(sentence: &str, buf: &mut String, mut f: impl FnMut(&str)) {
    let mut prev: Option<&str> = None;
    for tok in sentence
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
    {
        buf.clear();
        buf.push_str("w:");
        push_token(buf, tok);
        f(buf);
        if let Some(p) = prev {
            buf.clear();
            buf.push_str("b:");
            push_token(buf, p);
            buf.push(' ');
            push_token(buf, tok);
            f(buf);
        }
        prev = Some(tok);
    }
}

fn push_token(buf: &mut String, tok: &str) {
    if tok.bytes().all(|b| b.is_ascii_digit()) {
        buf.push('0');
    } else if tok.is_ascii() {
        buf.extend(tok.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        buf.extend(tok.chars().flat_map(char::to_lowercase));
    }
}

/// One labelled training example: the features of its text and its topics.
#[derive(Debug, Clone)]
pub struct Example {
    pub id: String,
    pub features: BTreeSet<String>,
    /// Indexed like [`TOPICS`].
    pub labels: [bool; 4],
}

/// Training options.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub l2: f64,
    pub epochs: usize,
    pub learning_rate: f64,
    pub min_df: usize,
    pub settings: ModelSettings,
    pub command: String,
    pub units_sha256: String,
}

/// Trains one L2-regularised logistic regression per topic with full-batch AdaGrad from zero
/// weights: the same examples give the same file, bit for bit.
pub fn train(examples: &[Example], opts: &TrainOptions) -> ModelFile {
    let mut examples: Vec<&Example> = examples.iter().collect();
    examples.sort_by(|a, b| a.id.cmp(&b.id));
    // Vocabulary: rule triggers and kinds always; words seen in at least `min_df` examples.
    let mut df: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &examples {
        for f in &e.features {
            *df.entry(f.as_str()).or_default() += 1;
        }
    }
    let vocab: Vec<&str> = df
        .iter()
        .filter(|(f, n)| !(f.starts_with("w:") || f.starts_with("b:")) || **n >= opts.min_df)
        .map(|(f, _)| *f)
        .collect();
    let position: HashMap<&str, usize> = vocab.iter().enumerate().map(|(i, f)| (*f, i)).collect();
    let rows: Vec<Vec<usize>> = examples
        .iter()
        .map(|e| {
            e.features
                .iter()
                .filter_map(|f| position.get(f.as_str()).copied())
                .collect()
        })
        .collect();
    let n = examples.len().max(1) as f64;
    let mut bias = [0.0f64; 4];
    let mut weights = vec![[0.0f64; 4]; vocab.len()];
    for t in 0..4 {
        let y: Vec<f64> = examples
            .iter()
            .map(|e| if e.labels[t] { 1.0 } else { 0.0 })
            .collect();
        let mut w = vec![0.0f64; vocab.len()];
        let mut b = 0.0f64;
        let mut g2 = vec![0.0f64; vocab.len()];
        let mut gb2 = 0.0f64;
        let mut grad = vec![0.0f64; vocab.len()];
        for _ in 0..opts.epochs {
            grad.iter_mut().for_each(|g| *g = 0.0);
            let mut gb = 0.0;
            for (row, y) in rows.iter().zip(&y) {
                let z = b + row.iter().map(|&j| w[j]).sum::<f64>();
                let err = (sigmoid(z) - y) / n;
                gb += err;
                for &j in row {
                    grad[j] += err;
                }
            }
            for j in 0..w.len() {
                let g = grad[j] + opts.l2 * w[j];
                g2[j] += g * g;
                w[j] -= opts.learning_rate * g / (g2[j].sqrt() + 1e-12);
            }
            gb2 += gb * gb;
            b -= opts.learning_rate * gb / (gb2.sqrt() + 1e-12);
        }
        bias[t] = b;
        for (j, wj) in w.into_iter().enumerate() {
            weights[j][t] = wj;
        }
    }
    let round = |x: f64| (x * 10_000.0).round() / 10_000.0;
    let features = vocab
        .iter()
        .zip(weights)
        .map(|(f, w)| (f.to_string(), w.map(round)))
        .filter(|(_, w)| w.iter().any(|x| *x != 0.0))
        .collect();
    ModelFile {
        format: FORMAT,
        topics: TOPICS.iter().map(|t| t.to_string()).collect(),
        settings: opts.settings.clone(),
        training: Training {
            command: opts.command.clone(),
            units: examples.len(),
            units_sha256: opts.units_sha256.clone(),
            l2: opts.l2,
            epochs: opts.epochs,
            learning_rate: opts.learning_rate,
            min_df: opts.min_df,
        },
        bias: bias.map(round),
        features,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_features_are_lower_case_uni_and_bigrams() {
        let mut got = Vec::new();
        let mut buf = String::new();
        each_word_feature("Curbs on 2,000 GPUs", &mut buf, |f| got.push(f.to_string()));
        assert_eq!(
            got,
            [
                "w:curbs",
                "w:on",
                "b:curbs on",
                "w:0",
                "b:on 0",
                "w:0",
                "b:0 0",
                "w:gpus",
                "b:0 gpus"
            ]
        );
    }

    fn example(id: &str, words: &[&str], topic: Option<usize>) -> Example {
        let mut labels = [false; 4];
        if let Some(t) = topic {
            labels[t] = true;
        }
        Example {
            id: id.into(),
            features: words.iter().map(|w| format!("w:{w}")).collect(),
            labels,
        }
    }

    #[test]
    fn training_is_deterministic_and_learns_a_word() {
        let examples = vec![
            example("a", &["levies", "steel"], Some(1)),
            example("b", &["levies", "imports"], Some(1)),
            example("c", &["football", "league"], None),
            example("d", &["football", "steel"], None),
            example("e", &["levies", "cars"], Some(1)),
        ];
        let opts = TrainOptions {
            l2: 1e-3,
            epochs: 200,
            learning_rate: 0.5,
            min_df: 2,
            settings: ModelSettings::default(),
            command: "test".into(),
            units_sha256: String::new(),
        };
        let a = train(&examples, &opts);
        let mut reversed = examples.clone();
        reversed.reverse();
        assert_eq!(a, train(&reversed, &opts), "input order must not matter");
        // "cars" and "imports" occur once: below min_df.
        assert!(!a.features.contains_key("w:cars"));
        let m = TopicModel::from_file(a);
        let levies = m.feature("w:levies").unwrap();
        let football = m.feature("w:football").unwrap();
        assert!(m.probabilities(&[levies])[1] > 0.8);
        assert!(m.probabilities(&[football])[1] < 0.2);
        assert_eq!(m.reasons(&[levies, football], 1)[0].feature, "w:levies");
    }
}
