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
    let mut i = 0;
    while let Some(at) = next_stop(text, i) {
        let Some(c) = text[at..].chars().next() else {
            break;
        };
        let after = at + c.len_utf8();
        let end_here = match c {
            '。' | '！' | '？' | '!' | '?' => Some(skip_closing(text, after)),
            '.' => {
                let j = skip_closing(text, after);
                let next_is_space = text[j..].chars().next().is_none_or(char::is_whitespace);
                (next_is_space && !is_abbreviation(text, at) && next_starts_sentence(text, j))
                    .then_some(j)
            }
            '\n' if text[after..].starts_with('\n') => Some(at),
            _ => None,
        };
        match end_here {
            Some(end) => {
                push_trimmed(text, start, end, &mut spans);
                start = end;
                i = end.max(after);
            }
            None => i = after,
        }
    }
    push_trimmed(text, start, text.len(), &mut spans);
    spans
}

/// Where the next character that could end a sentence starts, from byte `from`: the bytes
/// scanned are ASCII stops and the lead bytes of the CJK ones (never inside another character).
fn next_stop(text: &str, from: usize) -> Option<usize> {
    let rest = text.as_bytes().get(from..)?;
    rest.iter()
        .position(|b| matches!(b, b'.' | b'!' | b'?' | b'\n' | 0xE3 | 0xEF))
        .map(|k| from + k)
}

/// The byte after any closing quotes or brackets from `from`.
fn skip_closing(text: &str, from: usize) -> usize {
    let rest = &text[from..];
    let closing: usize = rest
        .chars()
        .take_while(|&c| is_closing(c))
        .map(char::len_utf8)
        .sum();
    from + closing
}

fn is_closing(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '\u{201d}' | '\u{2019}' | ')' | ']' | '」' | '』' | '）'
    )
}

fn next_starts_sentence(text: &str, from: usize) -> bool {
    text[from..]
        .chars()
        .find(|c| !c.is_whitespace())
        .is_none_or(|c| !c.is_lowercase())
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
