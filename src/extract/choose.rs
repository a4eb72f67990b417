//! The body of a page: our extractor first, and the `trafilatura` crate where ours looks unsure
//! and the two disagree.
//!
//! Our extractor ([`body`]) is fast and precise on news pages, but on pages of other shapes
//! (blogs, public bodies, shops, forums) it sometimes settles on one small block: an author box,
//! a cookie notice, one section of many. Such a pick shows as a body that holds little of the
//! page's visible text. Only then is the library run (it costs about five times our extractor),
//! and the two bodies are compared word by word ([`Agreement`]): where ours is not mostly found
//! in the library's, or the library's holds much more, the library's is taken. Thresholds were derived on
//! development folds and checked on the others (docs/EXTRACTION.md).

use std::collections::HashMap;

use scraper::Html;

use super::{body, engines};

/// Below this share of the page's visible text (characters), our body is doubtful and the
/// library is asked. Derived on folds 0–1 and checked on 2–3 and the other way round; it sends
/// about a fifth of the snippet set's pages and a twentieth of the news pages to the library.
const UNSURE_SHARE: f64 = 0.2;
/// The library's body is taken when less than this share of our words is in it ...
const OURS_FOUND: f64 = 0.8;
/// ... or when it holds more than this many times our words.
const LIBRARY_MORE: f64 = 1.3;

/// Word overlap between our body and the library's: lower-cased word multisets.
#[derive(Debug, Clone, Copy)]
pub(super) struct Agreement {
    /// Words in ours.
    pub ours: usize,
    /// Words in the library's.
    pub library: usize,
    /// Words in both (multiset intersection).
    pub both: usize,
}

impl Agreement {
    pub(super) fn of(ours: &str, library: &str) -> Agreement {
        let words = |t: &str| -> HashMap<String, usize> {
            let mut m = HashMap::new();
            for w in t
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
            {
                *m.entry(w.to_lowercase()).or_default() += 1;
            }
            m
        };
        let (a, b) = (words(ours), words(library));
        let both = a
            .iter()
            .map(|(w, n)| (*n).min(b.get(w).copied().unwrap_or(0)))
            .sum();
        Agreement {
            ours: a.values().sum(),
            library: b.values().sum(),
            both,
        }
    }

    /// Whether the library's body is the better one.
    fn library_wins(&self) -> bool {
        if self.library == 0 {
            return false;
        }
        if self.ours == 0 {
            return true;
        }
        let found = self.both as f64 / self.ours as f64;
        found < OURS_FOUND || self.library as f64 > self.ours as f64 * LIBRARY_MORE
    }
}

/// The body text of the page: ours, or the `trafilatura` crate's where ours holds less than
/// [`UNSURE_SHARE`] of the page's visible text and the library's is the better one
/// ([`Agreement::library_wins`]). `bounded` is the page after [`crate::html::bounded`].
///
/// The library is not run when the linear pre-pass had to change the markup (`altered`: nesting
/// past [`crate::html::MAX_DEPTH`] or more than [`crate::html::MAX_ELEMENTS`] tags), which real
/// pages never need and hostile ones always do: there the library's extra work would buy nothing.
pub(super) fn body(doc: &Html, bounded: &str, altered: bool) -> String {
    let ours = with_lead(doc, body::main_text(doc));
    if altered {
        return ours;
    }
    let page = body::page_text_chars(doc);
    let share = ours.chars().count() as f64 / page.max(1) as f64;
    if page == 0 || share >= UNSURE_SHARE {
        return ours;
    }
    match engines::trafilatura(bounded) {
        Some(library) if Agreement::of(&ours, &library).library_wins() => library,
        _ => ours,
    }
}

/// Our body with the article's lead in front when the body lacks it.
pub(super) fn with_lead(doc: &Html, text: String) -> String {
    match body::lead(doc, &text) {
        Some(lead) => format!("{lead}\n\n{text}"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_counts_shared_words_case_folded() {
        let a = Agreement::of("The rule, the list.", "the Rule and THE list");
        assert_eq!((a.ours, a.library, a.both), (4, 5, 4));
        assert!(!a.library_wins());
    }

    #[test]
    fn the_library_wins_where_ours_is_elsewhere_or_a_fraction() {
        // Ours is a cookie notice the library's body does not hold.
        let elsewhere = Agreement::of(
            "We use cookies to improve your experience on this site",
            "The ministry said on Friday that the rules would apply from May to all exporters",
        );
        assert!(elsewhere.library_wins());
        // Ours is one section of the library's longer body.
        let part = Agreement::of(
            "The ministry said on Friday",
            "The ministry said on Friday that the rules would apply from May",
        );
        assert!(part.library_wins());
        // The library found nothing.
        assert!(!Agreement::of("The ministry said", "").library_wins());
    }
}
