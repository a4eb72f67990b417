//! Highlighted fragments of a hit's title and body: the words of the query marked with `<mark>`,
//! everything else HTML-escaped.
//!
//! It chooses fragments as tantivy's `SnippetGenerator` does — the text cut at word starts into
//! consecutive pieces of at most `max_chars` bytes, the piece whose query words weigh most (a
//! word weighs `1 / (1 + documents holding it)`, so rare words count more) — but finds the words
//! by scanning the text in place: tantivy's generator runs the field's analyzer, which allocates
//! a lower-cased string for every word of every hit (0.4–0.6 ms of a 1.2–2.1 ms one-word search
//! in process; with its allocations, the largest cost after finding the hits in perf).
//! Words are what the text fields' analyzer makes of them: runs of alphanumeric characters,
//! compared lower-cased, those of 40 bytes or more dropped.

use tantivy::query::Query;
use tantivy::schema::Field;
use tantivy::{Score, Searcher};

/// tantivy's default analyzer drops words this long or longer.
const MAX_WORD: usize = 40;

pub(super) struct Highlighter {
    /// The query's words in this field, lower-cased, with their weights.
    words: Vec<(String, Score)>,
    /// Bit `n` set when a query word is `n` bytes long: most words of a text are not compared.
    lengths: u64,
    max_chars: usize,
}

impl Highlighter {
    pub(super) fn new(
        searcher: &Searcher,
        query: &dyn Query,
        field: Field,
        max_chars: usize,
    ) -> tantivy::Result<Highlighter> {
        let mut terms = Vec::new();
        query.query_terms(&mut |t, _| {
            if t.field() == field {
                terms.push(t.clone());
            }
        });
        let mut words: Vec<(String, Score)> = Vec::with_capacity(terms.len());
        for t in terms {
            let Some(text) = t.value().as_str().map(str::to_string) else {
                continue;
            };
            if words.iter().any(|(w, _)| *w == text) {
                continue;
            }
            let weight = 1.0 / (1.0 + searcher.doc_freq(&t)? as Score);
            words.push((text, weight));
        }
        Ok(Highlighter::with(words, max_chars))
    }

    fn with(words: Vec<(String, Score)>, max_chars: usize) -> Highlighter {
        let lengths = (words.iter())
            .filter(|(w, _)| w.len() < 64)
            .fold(0, |bits, (w, _)| bits | 1u64 << w.len());
        Highlighter {
            words,
            lengths,
            max_chars,
        }
    }

    /// The best fragment of `text` as HTML, or `None` when no query word occurs in it.
    pub(super) fn fragment(&self, text: &str) -> Option<String> {
        if self.words.is_empty() {
            return None;
        }
        if crate::text::has_cjk(text) {
            return self.fragment_segmented(text);
        }
        let mut best: Option<Fragment> = None;
        let mut current = Fragment::at(0);
        let mut lowered = String::new();
        for (start, end) in words(text) {
            // The analyzer drops such words: they neither match nor extend a fragment.
            if end - start >= MAX_WORD {
                continue;
            }
            if end - current.start > self.max_chars {
                let done = std::mem::replace(&mut current, Fragment::at(start));
                if done.score > best.as_ref().map_or(0.0, |b| b.score) {
                    best = Some(done);
                }
            }
            current.end = end;
            if let Some(weight) = self.weight(&text[start..end], &mut lowered) {
                current.score += weight;
                current.marks.push((start, end));
            }
        }
        if current.score > best.as_ref().map_or(0.0, |b| b.score) {
            best = Some(current);
        }
        best.map(|f| f.html(text))
    }

    /// As [`Self::fragment`], for a text with CJK runs: its words are found by the archive's
    /// analyzer (segmented, normalised), so fragments and marks start and end on the characters
    /// that make up words, and nothing is inserted between them. Bigrams overlap: their marks
    /// are merged.
    fn fragment_segmented(&self, text: &str) -> Option<String> {
        let mut best: Option<Fragment> = None;
        let mut current = Fragment::at(0);
        for (start, end, term) in crate::text::segment::words(text) {
            if end - current.start > self.max_chars {
                let done = std::mem::replace(&mut current, Fragment::at(start));
                if done.score > best.as_ref().map_or(0.0, |b| b.score) {
                    best = Some(done);
                }
            }
            current.end = current.end.max(end);
            if let Some(weight) = (self.words.iter().find(|(w, _)| *w == term)).map(|(_, s)| *s) {
                current.score += weight;
                match current.marks.last_mut() {
                    Some(last) if last.1 >= start => last.1 = last.1.max(end),
                    _ => current.marks.push((start, end)),
                }
            }
        }
        if current.score > best.as_ref().map_or(0.0, |b| b.score) {
            best = Some(current);
        }
        best.map(|f| f.html(text))
    }

    fn weight(&self, word: &str, lowered: &mut String) -> Option<Score> {
        if word.is_ascii() {
            // ASCII lower-cases to the same length.
            if self.lengths & (1u64 << word.len()) == 0 {
                return None;
            }
            self.words
                .iter()
                .find(|(w, _)| w.len() == word.len() && w.eq_ignore_ascii_case(word))
                .map(|(_, s)| *s)
        } else {
            lowered.clear();
            lowered.extend(word.chars().flat_map(char::to_lowercase));
            self.words
                .iter()
                .find(|(w, _)| w == lowered)
                .map(|(_, s)| *s)
        }
    }
}

/// A piece of the text: where it starts and ends, how much its query words weigh, where they are.
struct Fragment {
    start: usize,
    end: usize,
    score: Score,
    marks: Vec<(usize, usize)>,
}

impl Fragment {
    fn at(start: usize) -> Fragment {
        Fragment {
            start,
            end: start,
            score: 0.0,
            marks: Vec::new(),
        }
    }

    fn html(&self, text: &str) -> String {
        let mut out = String::with_capacity(self.end - self.start + 16 * self.marks.len());
        let mut at = self.start;
        for &(from, to) in &self.marks {
            escape_into(&text[at..from], &mut out);
            out.push_str("<mark>");
            escape_into(&text[from..to], &mut out);
            out.push_str("</mark>");
            at = to;
        }
        escape_into(&text[at..self.end], &mut out);
        out
    }
}

/// The byte ranges of the runs of alphanumeric characters of `text`. ASCII bytes are classified
/// as they are; only other characters are decoded.
fn words(text: &str) -> Words<'_> {
    Words { text, at: 0 }
}

struct Words<'a> {
    text: &'a str,
    at: usize,
}

impl Words<'_> {
    /// Whether the character at `i` is alphanumeric, and where the next one starts.
    #[inline]
    fn class(&self, i: usize) -> (bool, usize) {
        let b = self.text.as_bytes()[i];
        if b.is_ascii() {
            return (b.is_ascii_alphanumeric(), i + 1);
        }
        let c = (self.text[i..].chars().next()).unwrap_or(char::REPLACEMENT_CHARACTER);
        (c.is_alphanumeric(), i + c.len_utf8())
    }
}

impl Iterator for Words<'_> {
    type Item = (usize, usize);

    #[inline]
    fn next(&mut self) -> Option<(usize, usize)> {
        let len = self.text.len();
        while self.at < len {
            let (word, next) = self.class(self.at);
            if word {
                break;
            }
            self.at = next;
        }
        if self.at >= len {
            return None;
        }
        let start = self.at;
        while self.at < len {
            let (word, next) = self.class(self.at);
            if !word {
                break;
            }
            self.at = next;
        }
        Some((start, self.at))
    }
}

/// Appends `s` HTML-escaped.
pub(super) fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn highlighter(words: &[(&str, Score)], max_chars: usize) -> Highlighter {
        Highlighter::with(
            words.iter().map(|(w, s)| (w.to_string(), *s)).collect(),
            max_chars,
        )
    }

    #[test]
    fn words_are_runs_of_alphanumerics() {
        let text = "Chips, wafers & 5nm-class ÉLAN—now.";
        let got: Vec<&str> = words(text).map(|(a, b)| &text[a..b]).collect();
        assert_eq!(got, ["Chips", "wafers", "5nm", "class", "ÉLAN", "now"]);
        assert_eq!(words("").count(), 0);
        assert_eq!(words(" ,. ").count(), 0);
    }

    #[test]
    fn marks_query_words_in_any_case_and_escapes_the_rest() {
        let h = highlighter(&[("chips", 0.5), ("élan", 0.5)], 300);
        assert_eq!(
            h.fragment("<b>CHIPS</b> & Chips, Élan").as_deref(),
            Some(
                "&lt;b&gt;<mark>CHIPS</mark>&lt;/b&gt; &amp; <mark>Chips</mark>, <mark>Élan</mark>"
            )
        );
        assert_eq!(h.fragment("nothing here"), None);
        assert_eq!(h.fragment(""), None);
        // Part of a longer word is not the word.
        assert_eq!(h.fragment("microchips"), None);
    }

    use crate::text::segment::{AS_BIGRAMS, AS_WORDS, words as segment_words};

    #[test]
    fn cjk_marks_whole_characters_merges_overlapping_bigrams_and_inserts_nothing() {
        // The terms a query for 中芯国际 holds: jieba's and the bigrams.
        let terms: Vec<(String, Score)> = [AS_WORDS, AS_BIGRAMS]
            .iter()
            .flat_map(|m| segment_words(&format!("{m}中芯国际")))
            .map(|w| (w.2, 0.3))
            .collect();
        let h = Highlighter::with(terms, 300);
        let text = "美国商务部称，中芯國際<公司>被列入实体清单。";
        let got = h.fragment(text).unwrap();
        assert!(got.contains("<mark>中芯國際</mark>"), "{got}");
        assert!(got.contains("&lt;公司&gt;"), "{got}");
        assert_eq!(
            got.replace("<mark>", "").replace("</mark>", ""),
            "美国商务部称，中芯國際&lt;公司&gt;被列入实体清单"
        );
        // Japanese, cut into bigrams: 半導体 is 半导 + 导体, one mark.
        let h = highlighter(&[("半导", 0.5), ("导体", 0.5)], 300);
        let got = h.fragment("日本は半導体の輸出規制を強化した。").unwrap();
        assert!(got.contains("は<mark>半導体</mark>の"), "{got}");
        // A fragment of a long CJK text is cut between characters.
        let long = format!("{}半導体{}", "あ".repeat(200), "い".repeat(200));
        let h = highlighter(&[("半导", 0.5), ("导体", 0.5)], 60);
        let got = h.fragment(&long).unwrap();
        assert!(got.contains("<mark>半導体</mark>"), "{got}");
        assert!(got.len() < long.len());
    }

    #[test]
    fn picks_the_piece_whose_words_weigh_most() {
        let h = highlighter(&[("common", 0.1), ("rare", 0.9)], 20);
        let text = "common words first then a rare one at the end";
        let got = h.fragment(text).unwrap();
        assert!(got.contains("<mark>rare</mark>"), "{got}");
        assert!(!got.contains("common"), "{got}");
        assert!(got.len() <= 20 + "<mark></mark>".len(), "{got}");
        // Ties go to the earlier piece.
        let h = highlighter(&[("a1", 0.5)], 10);
        assert_eq!(
            h.fragment("a1 xxxxxxxx a1 yyyyyyyy").unwrap(),
            "<mark>a1</mark>"
        );
    }
}
