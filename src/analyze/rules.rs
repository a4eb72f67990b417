//! Topic rule packs (`config/topics.toml`): loading, validation and compiled form.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use regex::Regex;
use serde::Deserialize;

use super::pattern;

/// The four topics of the beat; rule packs may use only these names.
pub const TOPICS: &[&str] = &["sanctions", "tariffs", "export_controls", "chip_smuggling"];

/// [`TOPICS`] as the API document states them.
#[allow(dead_code)] // a schema only: values are checked against `TOPICS`
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum TopicName {
    Sanctions,
    Tariffs,
    ExportControls,
    ChipSmuggling,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPack {
    #[serde(default)]
    settings: Settings,
    #[serde(default, rename = "topic")]
    topics: Vec<RawTopic>,
    #[serde(default, rename = "rule")]
    rules: Vec<RawRule>,
}

/// `[settings]` of a rule pack.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Multiplier for a rule that fires in the title.
    pub title_weight: f64,
    /// Multiplier for a rule that fires in the lead.
    pub lead_weight: f64,
    /// How many opening sentences of the body count as the lead.
    pub lead_sentences: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            title_weight: 2.0,
            lead_weight: 1.5,
            lead_sentences: 2,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    name: String,
    /// Evidence (sum of rule weights) an article needs to be tagged with the topic.
    #[serde(default = "one")]
    threshold: f64,
    #[serde(default)]
    #[allow(dead_code)] // documentation for analysts, kept so the file can describe each topic
    description: String,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    topic: String,
    terms: Vec<String>,
    #[serde(default)]
    near: Vec<String>,
    #[serde(default)]
    within: Option<usize>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    exclude_within: Option<usize>,
    /// Vetoes anywhere in the sentence, whatever `exclude_within` says.
    #[serde(default)]
    veto: Vec<String>,
    /// Lists of which one term each must occur somewhere in the sentence (the sense of an
    /// ambiguous trigger decided from context: traded goods, a restricted destination, ...).
    #[serde(default)]
    context: Vec<Vec<String>>,
    #[serde(default = "one")]
    weight: f64,
}

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub name: String,
    pub topic: usize,
    pub terms: Regex,
    pub near: Option<Regex>,
    /// Words between a term and its context; `None` = anywhere in the same sentence.
    pub within: Option<usize>,
    pub exclude: Option<Regex>,
    pub exclude_within: Option<usize>,
    /// Vetoes anywhere in the sentence.
    pub veto: Option<Regex>,
    /// Each must match somewhere in the sentence for the rule to fire.
    pub context: Vec<Regex>,
    pub weight: f64,
}

/// A compiled rule pack.
#[derive(Debug)]
pub struct RulePack {
    pub settings: Settings,
    /// Thresholds indexed like [`TOPICS`].
    pub thresholds: [f64; 4],
    pub rules: Vec<Rule>,
    /// Every rule's terms in one set: a sentence is checked against the few rules whose terms it
    /// holds, found in a single pass.
    pub term_set: regex::RegexSet,
}

/// Every problem of a rule pack, each naming its rule.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {}", problems.join("; "))]
pub struct RuleError {
    pub file: String,
    pub problems: Vec<String>,
}

impl RulePack {
    pub fn load(path: &Path) -> Result<RulePack, RuleError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| RuleError {
            file: file.clone(),
            problems: vec![format!("cannot read it: {e}")],
        })?;
        Self::parse(&text, &file)
    }

    pub fn parse(text: &str, file: &str) -> Result<RulePack, RuleError> {
        let raw: RawPack = toml::from_str(text).map_err(|e| RuleError {
            file: file.to_string(),
            problems: vec![e.to_string()],
        })?;
        let mut problems = Vec::new();
        let mut thresholds = [1.0; 4];
        for t in &raw.topics {
            match TOPICS.iter().position(|n| *n == t.name) {
                Some(i) => thresholds[i] = t.threshold,
                None => problems.push(format!(
                    "[[topic]] `{}`: unknown topic (one of {})",
                    t.name,
                    TOPICS.join(", ")
                )),
            }
        }
        let mut names = HashSet::new();
        let mut rules = Vec::new();
        // The same list (a context of sensitive goods, say) serves several rules: compiled once.
        let mut compiled: HashMap<Vec<String>, Regex> = HashMap::new();
        for r in raw.rules {
            let mut fail = |msg: String| problems.push(format!("rule `{}`: {msg}", r.name));
            if !names.insert(r.name.clone()) {
                fail("the name is used by an earlier rule".into());
            }
            let Some(topic) = TOPICS.iter().position(|n| *n == r.topic) else {
                fail(format!(
                    "unknown topic `{}` (one of {})",
                    r.topic,
                    TOPICS.join(", ")
                ));
                continue;
            };
            if r.terms.is_empty() {
                fail("`terms` is empty".into());
                continue;
            }
            if r.within.is_some() && r.near.is_empty() {
                fail("`within` needs `near`".into());
            }
            let mut compile = |terms: &[String], field: &str| -> Result<Option<Regex>, String> {
                if terms.is_empty() {
                    return Ok(None);
                }
                if let Some(re) = compiled.get(terms) {
                    return Ok(Some(re.clone()));
                }
                let re = pattern::any_of(terms).map_err(|e| format!("`{field}`: {e}"))?;
                compiled.insert(terms.to_vec(), re.clone());
                Ok(Some(re))
            };
            if r.context.iter().any(Vec::is_empty) {
                fail("`context` has an empty list".into());
            }
            let (terms, near, exclude, veto) = match (
                compile(&r.terms, "terms"),
                compile(&r.near, "near"),
                compile(&r.exclude, "exclude"),
                compile(&r.veto, "veto"),
            ) {
                (Ok(Some(t)), Ok(n), Ok(x), Ok(v)) => (t, n, x, v),
                (a, b, c, d) => {
                    for e in [a.err(), b.err(), c.err(), d.err()].into_iter().flatten() {
                        fail(e);
                    }
                    continue;
                }
            };
            let mut context = Vec::new();
            for list in &r.context {
                match compile(list, "context") {
                    Ok(Some(c)) => context.push(c),
                    Ok(None) => {}
                    Err(e) => fail(e),
                }
            }
            rules.push(Rule {
                name: r.name,
                topic,
                terms,
                near,
                within: r.within,
                exclude,
                exclude_within: r.exclude_within,
                veto,
                context,
                weight: r.weight,
            });
        }
        if !problems.is_empty() {
            return Err(RuleError {
                file: file.to_string(),
                problems,
            });
        }
        let term_set = regex::RegexSetBuilder::new(rules.iter().map(|r| r.terms.as_str()))
            .size_limit(256 << 20)
            .dfa_size_limit(64 << 20)
            .build()
            .map_err(|e| RuleError {
                file: file.to_string(),
                problems: vec![format!("the rules together are too large to compile: {e}")],
            })?;
        Ok(RulePack {
            settings: raw.settings,
            thresholds,
            rules,
            term_set,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_rule() {
        let text = r#"
[[rule]]
name = "a"
topic = "weather"
terms = ["rain"]
[[rule]]
name = "b"
topic = "tariffs"
terms = ["*bad"]
[[rule]]
name = "c"
topic = "tariffs"
terms = ["tariff*"]
within = 3
"#;
        let e = RulePack::parse(text, "t.toml").unwrap_err();
        assert_eq!(e.problems.len(), 3, "{e}");
        assert!(e.problems[0].starts_with("rule `a`"));
        assert!(e.problems[1].starts_with("rule `b`"));
        assert!(e.problems[2].contains("`within` needs `near`"));
    }
}
