//! The term syntax shared by topic rules and the gazetteer, compiled to regular expressions.
//!
//! - words match whole words: `tariff` does not match `tariffs`; `tariff*` matches both;
//! - `*` at the end of a word matches any word ending (`smuggl*`), inside a phrase too (`export control*`);
//! - a phrase's words may be separated by spaces or hyphens (`export control` = `export-control`);
//! - a term written in capitals (`US`, `BIS`, `H20`) is case-sensitive, every other is not;
//! - Chinese and Japanese terms (`实体清单`) match anywhere, as those scripts have no spaces, and in
//!   any script: traditional, simplified and Japanese forms are folded together (`實體清單`).

use regex::Regex;

/// Builds the regex fragment for one term, or says what is wrong with it.
pub fn term_regex(term: &str) -> Result<String, String> {
    // Text is matched folded (traditional, simplified and Japanese forms as one; see
    // `Analyzer::analyze`), so terms are too: 中芯國際 and 中芯国际 are the same term.
    let term = crate::text::fold_keep_len(term.trim());
    let term = term.as_ref();
    if term.is_empty() {
        return Err("empty term".into());
    }
    if term.starts_with('*') {
        return Err(format!("`{term}`: a wildcard may only end a word"));
    }
    let letters: Vec<char> = term.chars().filter(|c| c.is_alphabetic()).collect();
    let case_sensitive = letters.len() >= 2
        && letters.iter().all(|c| !c.is_lowercase())
        && letters.iter().any(|c| c.is_uppercase());
    let mut body = String::new();
    for (i, word) in term.split_whitespace().enumerate() {
        if i > 0 {
            body.push_str(r"[\s\-]+");
        }
        let (stem, wild) = match word.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (word, false),
        };
        if stem.contains('*') {
            return Err(format!("`{term}`: a wildcard may only end a word"));
        }
        // Hyphens inside a word also accept a space ("anti-dumping" = "anti dumping").
        let escaped = regex::escape(stem).replace(r"\-", r"[\s\-]?");
        body.push_str(&escaped);
        if wild {
            // Letters and digits are already closed under case: keeping the class out of the
            // case-insensitive group spares the regex compiler folding all of Unicode.
            body.push_str(r"(?-i:[\p{L}\p{N}\-]*)");
        }
    }
    let first = term.chars().next().unwrap_or(' ');
    let last_raw = term.chars().last().unwrap_or(' ');
    let open = if is_word_char(first) && !is_cjk(first) {
        r"(?-u:\b)"
    } else {
        ""
    };
    let close = if last_raw != '*' && is_word_char(last_raw) && !is_cjk(last_raw) {
        r"(?-u:\b)"
    } else {
        ""
    };
    let flags = if case_sensitive { "" } else { "(?i)" };
    Ok(format!("(?:{flags}{open}{body}{close})"))
}

/// One regex matching any of the terms.
pub fn any_of(terms: &[String]) -> Result<Regex, String> {
    let parts: Result<Vec<String>, String> = terms.iter().map(|t| term_regex(t)).collect();
    let parts = parts?;
    // Long alternations with wildcards outgrow the default lazy-DFA cache; when it thrashes the
    // regex crate falls back to a much slower engine (a 100-term exclusion list halved analysis
    // throughput), so these get room.
    regex::RegexBuilder::new(&parts.join("|"))
        .size_limit(64 << 20)
        .dfa_size_limit(32 << 20)
        .build()
        .map_err(|e| {
            // Compiling each term on its own is slow for a whole rule pack, so it is done only
            // here, to name the term at fault.
            terms
                .iter()
                .zip(&parts)
                .find_map(|(t, p)| Regex::new(p).err().map(|e| format!("`{t}`: {e}")))
                .unwrap_or_else(|| e.to_string())
        })
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

pub fn is_cjk(c: char) -> bool {
    matches!(c, '\u{2e80}'..='\u{9fff}' | '\u{f900}'..='\u{faff}' | '\u{ff00}'..='\u{ffef}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(term: &str, text: &str) -> bool {
        Regex::new(&term_regex(term).unwrap())
            .unwrap()
            .is_match(text)
    }

    #[test]
    fn words_stems_phrases_case() {
        assert!(m("tariff", "a new tariff on"));
        assert!(!m("tariff", "new tariffs"));
        assert!(m("tariff*", "new tariffs"));
        assert!(m("smuggl*", "Smuggling rings"));
        assert!(m("export control*", "export-controls were"));
        assert!(m("US", "the US said"));
        assert!(!m("US", "let us go"));
        assert!(!m("Intel", "intelligence"));
        assert!(m("实体清单", "列入实体清单的企业"));
        assert!(m("anti-dumping", "anti dumping duties"));
        assert!(term_regex("*x").is_err());
        assert!(term_regex("a*b").is_err());
    }
}
