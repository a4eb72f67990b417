//! The entity gazetteer (`config/gazetteer.tsv`): chips, companies, agencies and lists, countries,
//! legal instruments, with English and Chinese aliases mapped to one canonical id.
//!
//! Columns: `id`, `kind`, `name`, `aliases` (`|`-separated), `context` (`|`-separated terms of which
//! one must occur in the same sentence: for short, ambiguous names such as the SKU `H20`).
//! Lines starting with `#` are comments.

use std::path::Path;

use regex::Regex;

use super::pattern;

#[derive(Debug)]
pub struct EntityDef {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub pattern: Regex,
    pub context: Option<Regex>,
}

#[derive(Debug)]
pub struct Gazetteer {
    pub entities: Vec<EntityDef>,
    /// All entity patterns in one set, so a sentence is scanned once for candidates.
    pub set: regex::RegexSet,
}

impl Default for Gazetteer {
    fn default() -> Self {
        Gazetteer {
            entities: Vec::new(),
            set: regex::RegexSet::empty(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{file}: {}", problems.join("; "))]
pub struct GazetteerError {
    pub file: String,
    pub problems: Vec<String>,
}

impl Gazetteer {
    pub fn load(path: &Path) -> Result<Gazetteer, GazetteerError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| GazetteerError {
            file: file.clone(),
            problems: vec![format!("cannot read it: {e}")],
        })?;
        Self::parse(&text, &file)
    }

    pub fn parse(text: &str, file: &str) -> Result<Gazetteer, GazetteerError> {
        let mut entities = Vec::new();
        let mut problems = Vec::new();
        let mut ids = std::collections::HashSet::new();
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            if line.trim().is_empty() || line.starts_with('#') || line.starts_with("id\t") {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() < 3 {
                problems.push(format!(
                    "line {line_no}: expected id, kind, name[, aliases, context] separated by tabs"
                ));
                continue;
            }
            let (id, kind, name) = (cols[0].trim(), cols[1].trim(), cols[2].trim());
            if !ids.insert(id.to_string()) {
                problems.push(format!(
                    "line {line_no}: id `{id}` is used by an earlier line"
                ));
                continue;
            }
            let split = |i: usize| -> Vec<String> {
                cols.get(i)
                    .map(|c| {
                        c.split('|')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut terms = vec![name.to_string()];
            terms.extend(split(3));
            let context = split(4);
            let pattern = match pattern::any_of(&terms) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(format!("line {line_no} (`{id}`): {e}"));
                    continue;
                }
            };
            let context = if context.is_empty() {
                None
            } else {
                match pattern::any_of(&context) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        problems.push(format!("line {line_no} (`{id}`) context: {e}"));
                        continue;
                    }
                }
            };
            entities.push(EntityDef {
                id: id.to_string(),
                kind: kind.to_string(),
                name: name.to_string(),
                pattern,
                context,
            });
        }
        if problems.is_empty() {
            let set = regex::RegexSetBuilder::new(entities.iter().map(|e| e.pattern.as_str()))
                .size_limit(256 << 20)
                .dfa_size_limit(64 << 20)
                .build()
                .map_err(|e| GazetteerError {
                    file: file.to_string(),
                    problems: vec![format!(
                        "the entities together are too large to compile: {e}"
                    )],
                })?;
            Ok(Gazetteer { entities, set })
        } else {
            Err(GazetteerError {
                file: file.to_string(),
                problems,
            })
        }
    }
}
