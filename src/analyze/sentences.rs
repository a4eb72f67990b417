//! Sentence splitting that copes with abbreviations ("U.S.", "Corp."), decimals, quotes and
//! Chinese/Japanese full stops.

/// A sentence as a byte range into the text it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

const ABBREVIATIONS: &[&str] = &[
    "u.s", "u.k", "u.n", "e.u", "mr", "mrs", "ms", "dr", "prof", "sen", "rep", "gov", "gen",
    "corp", "inc", "ltd", "co", "jr", "sr", "st", "no", "vs", "etc", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "p.m", "a.m", "i.e", "e.g", "dept",
    "est", "approx", "fig", "al", "u.s.a", "s.a", "n.v", "plc",
];

/// Splits text into sentences; paragraph breaks always end a sentence.
pub fn split(text: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        let mut end_here = None;
        match c {
            '。' | '！' | '？' | '!' | '?' => {
                let mut j = i + 1;
                while j < chars.len() && is_closing(chars[j].1) {
                    j += 1;
                }
                end_here = Some(j);
            }
            '.' => {
                let mut j = i + 1;
                while j < chars.len() && is_closing(chars[j].1) {
                    j += 1;
                }
                let next_is_space = j >= chars.len() || chars[j].1.is_whitespace();
                if next_is_space && !is_abbreviation(text, pos) && next_starts_sentence(&chars, j) {
                    end_here = Some(j);
                }
            }
            '\n' if i + 1 < chars.len() && chars[i + 1].1 == '\n' => {
                end_here = Some(i);
            }
            _ => {}
        }
        if let Some(j) = end_here {
            let end = chars.get(j).map(|(p, _)| *p).unwrap_or(text.len());
            push_trimmed(text, start, end, &mut spans);
            start = end;
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    push_trimmed(text, start, text.len(), &mut spans);
    spans
}

fn is_closing(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '\u{201d}' | '\u{2019}' | ')' | ']' | '」' | '』' | '）'
    )
}

fn next_starts_sentence(chars: &[(usize, char)], mut j: usize) -> bool {
    while j < chars.len() && chars[j].1.is_whitespace() {
        j += 1;
    }
    match chars.get(j) {
        None => true,
        Some((_, c)) => !c.is_lowercase(),
    }
}

fn is_abbreviation(text: &str, dot: usize) -> bool {
    let before = &text[..dot];
    let word: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || *c == '.')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let lower = word.to_lowercase();
    // Single capital initials ("J. Smith") and listed abbreviations.
    ABBREVIATIONS.contains(&lower.as_str())
        || (word.chars().count() == 1 && word.chars().all(|c| c.is_uppercase()))
}

fn push_trimmed(text: &str, start: usize, end: usize, out: &mut Vec<Span>) {
    let slice = &text[start..end];
    let lead = slice.len() - slice.trim_start().len();
    let trail = slice.len() - slice.trim_end().len();
    if start + lead < end - trail {
        out.push(Span {
            start: start + lead,
            end: end - trail,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(t: &str) -> Vec<&str> {
        split(t).iter().map(|s| &t[s.start..s.end]).collect()
    }

    #[test]
    fn abbreviations_and_quotes() {
        let t = "The U.S. Commerce Dept. added Acme Corp. to the list. \"We object,\" China said. Prices rose 2.5 per cent! Next?";
        assert_eq!(
            texts(t),
            vec![
                "The U.S. Commerce Dept. added Acme Corp. to the list.",
                "\"We object,\" China said.",
                "Prices rose 2.5 per cent!",
                "Next?"
            ]
        );
    }

    #[test]
    fn chinese_punctuation() {
        assert_eq!(
            texts("美国加征关税。中国表示反对！是吗？"),
            vec!["美国加征关税。", "中国表示反对！", "是吗？"]
        );
    }

    #[test]
    fn paragraphs_end_sentences() {
        assert_eq!(
            texts("Headline without stop\n\nBody text."),
            vec!["Headline without stop", "Body text."]
        );
    }
}
