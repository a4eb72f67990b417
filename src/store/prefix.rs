//! Prefix terms (`smuggl*`, `title:tarif*`): tantivy's query parser has no single-word prefix, so
//! each one is rewritten, before parsing, into the alternatives the index actually holds, as
//! Lucene's multi-term rewrite does: `smuggl*` becomes `(smuggle OR smuggled OR smuggling)`.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use tantivy::Searcher;
use tantivy::schema::{FieldType, Schema};

/// More alternatives than this for one prefix are dropped (with a note): a two-letter prefix must
/// not turn into a query of ten thousand terms.
pub const MAX_EXPANSIONS: usize = 64;

static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:([A-Za-z_]+):)?([\p{Alphabetic}\p{N}_]+)\*").expect("valid regex")
});

/// A prefix term in an unquoted part: its span, field and word.
struct Span<'a> {
    start: usize,
    end: usize,
    field: Option<&'a str>,
    word: &'a str,
}

/// Prefix terms that stand alone: a word (optionally `field:`) ending in `*`, with a space, a
/// bracket or an operator sign before it and a space, `)` or `^` after it (`a*b` is no prefix).
fn spans(part: &str) -> Vec<Span<'_>> {
    PREFIX
        .captures_iter(part)
        .filter_map(|c| {
            let all = c.get(0)?;
            let before = part[..all.start()].chars().next_back();
            let after = part[all.end()..].chars().next();
            let open = before.is_none_or(|ch| ch.is_whitespace() || "(+-".contains(ch));
            let close = after.is_none_or(|ch| ch.is_whitespace() || ")^".contains(ch));
            (open && close).then(|| Span {
                start: all.start(),
                end: all.end(),
                field: c.get(1).map(|f| f.as_str()),
                word: c.get(2).map_or("", |w| w.as_str()),
            })
        })
        .collect()
}

/// Whether the query holds a prefix term outside quotes.
pub fn has_prefix(q: &str) -> bool {
    unquoted(q).any(|(quoted, part)| !quoted && !spans(part).is_empty())
}

/// The query with each prefix term replaced by its alternatives in `lexicon`, and notes on what
/// was cut short. `defaults` are the fields a prefix without `field:` expands over.
pub fn expand(
    q: &str,
    schema: &Schema,
    defaults: &[&str],
    lexicon: &Searcher,
) -> (String, Vec<String>) {
    let mut out = String::with_capacity(q.len());
    let mut notes = Vec::new();
    for (quoted, part) in unquoted(q) {
        if quoted {
            out.push_str(part);
            continue;
        }
        let mut last = 0;
        for span in spans(part) {
            out.push_str(&part[last..span.start]);
            last = span.end;
            let (word, field_prefix) = (span.word, span.field.map(|f| format!("{f}:")));
            let field_prefix = field_prefix.unwrap_or_default();
            let fields: Vec<&str> = match span.field {
                Some(f) => vec![f],
                None => defaults.to_vec(),
            };
            let mut alternatives: Vec<String> = Vec::new();
            for name in &fields {
                let Ok(field) = schema.get_field(name) else {
                    continue;
                };
                let text_field = matches!(schema.get_field_entry(field).field_type(),
                    FieldType::Str(o) if o.get_indexing_options().is_some_and(|i| i.tokenizer() != "raw"));
                let stem = if text_field {
                    word.to_lowercase()
                } else {
                    word.to_string()
                };
                let terms = terms_with_prefix(lexicon, field, &stem, MAX_EXPANSIONS + 1);
                if terms.len() > MAX_EXPANSIONS {
                    notes.push(format!(
                        "`{word}*` matches more than {MAX_EXPANSIONS} words; only the first {MAX_EXPANSIONS} are searched"
                    ));
                }
                alternatives.extend(
                    terms
                        .into_iter()
                        .take(MAX_EXPANSIONS)
                        .map(|t| format!("{field_prefix}{t}")),
                );
            }
            alternatives.sort();
            alternatives.dedup();
            if alternatives.is_empty() {
                // Nothing starts so: the bare word keeps the query's shape and matches nothing new.
                out.push_str(&format!("{field_prefix}{word}"));
            } else {
                out.push_str(&format!("({})", alternatives.join(" OR ")));
            }
        }
        let replaced = &part[last..];
        out.push_str(replaced);
    }
    (out, notes)
}

/// Up to `limit` terms of `field` that start with `stem`, over every segment, in order.
fn terms_with_prefix(
    searcher: &Searcher,
    field: tantivy::schema::Field,
    stem: &str,
    limit: usize,
) -> Vec<String> {
    let mut found = BTreeSet::new();
    for segment in searcher.segment_readers() {
        let Ok(inverted) = segment.inverted_index(field) else {
            continue;
        };
        let Ok(mut stream) = inverted.terms().range().ge(stem.as_bytes()).into_stream() else {
            continue;
        };
        while stream.advance() {
            let key = stream.key();
            if !key.starts_with(stem.as_bytes()) || found.len() >= limit * 4 {
                break;
            }
            // Only words the query parser reads back as one word (no quotes, colons or spaces).
            if let Ok(t) = std::str::from_utf8(key)
                && t.chars().all(|ch| ch.is_alphanumeric() || ch == '_')
            {
                found.insert(t.to_string());
            }
        }
    }
    found.into_iter().take(limit).collect()
}

/// The query cut into parts inside and outside double quotes.
fn unquoted(q: &str) -> impl Iterator<Item = (bool, &str)> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, ch) in q.char_indices() {
        match ch {
            '\\' if !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => {
                let end = if quoted { i + 1 } else { i };
                parts.push((quoted, &q[start..end]));
                start = end;
                quoted = !quoted;
            }
            _ => {}
        }
        escaped = false;
    }
    parts.push((quoted, &q[start..]));
    parts.into_iter().filter(|(_, p)| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_prefixes_outside_quotes_only() {
        assert!(has_prefix("smuggl*"));
        assert!(has_prefix("chips AND title:tarif*"));
        assert!(has_prefix("(export OR smuggl*)"));
        assert!(!has_prefix("\"big bad wo\"*"));
        assert!(!has_prefix("\"smuggl* inside\""));
        assert!(!has_prefix("a*b"));
        assert!(!has_prefix("*"));
    }

    #[test]
    fn quotes_split_the_query() {
        let parts: Vec<(bool, &str)> = unquoted(r#"a "b \" c" d"#).collect();
        assert_eq!(
            parts,
            vec![(false, "a "), (true, r#""b \" c""#), (false, " d")]
        );
    }
}
