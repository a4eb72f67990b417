//! Queries with Han characters, asked in every way the archive may have cut them.
//!
//! An article's CJK runs are cut by its detected language: Chinese into dictionary words, other
//! CJK text into bigrams. A query such as `半導体` does not say which language the articles that
//! hold it are in (it is Chinese and Japanese alike), so each query word or phrase holding Han
//! characters becomes a choice of both segmentations: `(⟨words⟩半導体 OR ⟨bigrams⟩半導体)`, where
//! the markers are private-use characters that tell the tokenizer which to use (see
//! [`super::segment::AS_WORDS`]). The rest of the query language (fields, phrases, signs,
//! operators, parentheses) is kept as written. Text without Han characters is cut the same way
//! whatever its language, and is left alone.

use std::borrow::Cow;

use super::segment::{AS_BIGRAMS, AS_WORDS};
use super::{Script, script};

/// The fields a query word may name that are segmented text.
const TEXT_FIELDS: [&str; 3] = ["title", "body", "summary"];

/// `q` with each word or phrase holding Han characters replaced by the choice of its
/// segmentations; `q` itself when it holds none.
pub fn alternatives(q: &str) -> Cow<'_, str> {
    if !q.chars().any(|c| script(c) == Script::Han) {
        return Cow::Borrowed(q);
    }
    let mut out = String::with_capacity(q.len() * 3);
    let mut rest = q;
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() || c == '(' || c == ')' {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let len = unit_len(rest);
        let (unit, after) = rest.split_at(len);
        rewrite_unit(unit, &mut out);
        rest = after;
    }
    Cow::Owned(out)
}

/// The length of the query unit at the start of `s`: an optional sign, an optional `field:`, then
/// a quoted phrase (with its `~slop` or `^boost`) or a bare word.
fn unit_len(s: &str) -> usize {
    let mut i = 0;
    let b = s.as_bytes();
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    if let Some(colon) = field_prefix_len(&s[i..]) {
        i += colon;
    }
    if b.get(i) == Some(&b'"') {
        i += match s[i + 1..].find('"') {
            Some(close) => close + 2,
            None => s.len() - i,
        };
    }
    i + s[i..]
        .find(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '"')
        .unwrap_or(s.len() - i)
}

/// The length of `field:` at the start of `s`, when it starts so.
fn field_prefix_len(s: &str) -> Option<usize> {
    let name = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(s.len());
    (name > 0 && s[name..].starts_with(':')).then_some(name + 1)
}

fn rewrite_unit(unit: &str, out: &mut String) {
    let sign_len = usize::from(unit.starts_with(['+', '-']));
    let (sign, rest) = unit.split_at(sign_len);
    let field_len = field_prefix_len(rest).unwrap_or(0);
    let (field, literal) = rest.split_at(field_len);
    let name = field.trim_end_matches(':');
    let segmented = name.is_empty() || TEXT_FIELDS.contains(&name);
    // Prefix terms, fuzzy or boosted words, escapes and ranges are left to the parser as written.
    let plain_word =
        !literal.starts_with('"') && !literal.contains(['*', '^', '~', '\\', '[', '{']);
    let has_han = literal.chars().any(|c| script(c) == Script::Han);
    let phrase = literal.starts_with('"') && literal[1..].contains('"');
    if !(segmented && has_han && (phrase || plain_word)) {
        out.push_str(unit);
        return;
    }
    let marked = |marker: char| -> String {
        match literal.strip_prefix('"') {
            Some(phrase) => format!("{field}\"{marker}{phrase}"),
            None => format!("{field}{marker}{literal}"),
        }
    };
    out.push_str(sign);
    out.push('(');
    out.push_str(&marked(AS_WORDS));
    out.push_str(" OR ");
    out.push_str(&marked(AS_BIGRAMS));
    out.push(')');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(q: &str) -> String {
        alternatives(q)
            .replace(AS_WORDS, "<w>")
            .replace(AS_BIGRAMS, "<b>")
    }

    #[test]
    fn han_words_and_phrases_get_both_segmentations() {
        assert_eq!(show("export controls"), "export controls");
        assert_eq!(show("中芯国际"), "(<w>中芯国际 OR <b>中芯国际)");
        assert_eq!(show("nvidia AND 走私"), "nvidia AND (<w>走私 OR <b>走私)");
        assert_eq!(
            show("title:\"出口 管制\"~2 -芯片"),
            "(title:\"<w>出口 管制\"~2 OR title:\"<b>出口 管制\"~2) -(<w>芯片 OR <b>芯片)"
        );
        assert_eq!(
            show("(半導体 OR 반도체)"),
            "((<w>半導体 OR <b>半導体) OR 반도체)"
        );
        // Not segmented text, or not a plain word: as written.
        assert_eq!(show("source:\"新华社\""), "source:\"新华社\"");
        assert_eq!(show("中芯*"), "中芯*");
        // An unclosed quote is left to the lenient parser.
        assert_eq!(show("\"中芯"), "\"中芯");
    }
}
