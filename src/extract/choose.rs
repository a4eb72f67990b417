//! The body of a page chosen among extractors by agreement.

use scraper::Html;

use super::{body, engines};

/// Word 4-gram shingles of a text, hashed.
fn shingles(text: &str) -> std::collections::HashSet<u64> {
    use std::hash::{BuildHasher, Hasher};
    let words: Vec<&str> = text.split_whitespace().collect();
    let state = foldhash::fast::FixedState::with_seed(0);
    words
        .windows(4.min(words.len().max(1)))
        .map(|w| {
            let mut h = state.build_hasher();
            for x in w {
                h.write(x.as_bytes());
                h.write_u8(0);
            }
            h.finish()
        })
        .collect()
}

/// F1 of shingle overlap between two texts.
fn agreement(a: &std::collections::HashSet<u64>, b: &std::collections::HashSet<u64>) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let common = a.intersection(b).count() as f64;
    2.0 * common / (a.len() + b.len()) as f64
}

/// The body: of our extractor's and the libraries' texts, the one that agrees most with the others.
pub(super) fn body(doc: &Html, bounded: &str) -> String {
    let candidates = [
        body::main_text(doc),
        engines::trafilatura(bounded).unwrap_or_default(),
        engines::readability(bounded).unwrap_or_default(),
    ];
    let sets: Vec<_> = candidates.iter().map(|c| shingles(c)).collect();
    let best = (0..candidates.len())
        .max_by(|&i, &j| {
            let score = |k: usize| -> f64 {
                (0..sets.len())
                    .filter(|&o| o != k)
                    .map(|o| agreement(&sets[k], &sets[o]))
                    .sum()
            };
            score(i).total_cmp(&score(j)).then(j.cmp(&i))
        })
        .unwrap_or(0);
    let [a, b, c] = candidates;
    [a, b, c].into_iter().nth(best).unwrap_or_default()
}
