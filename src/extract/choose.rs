//! The body of a page: our extractor first, and the `trafilatura` crate where ours looks unsure.
//!
//! Our extractor ([`body`]) is fast and precise on news pages, but on pages of other shapes
//! (blogs, public bodies, shops, forums) it sometimes settles on one small block: an author box,
//! a cookie notice, one section of many. Such a pick shows as a body that holds little of the
//! page's visible text. Only then is the library run (it costs about seven times our extractor),
//! and its text is taken when it found any. The share below which ours counts as unsure was
//! derived on development folds 0 and 1 and checked on folds 2 and 3 (docs/EXTRACTION.md).

use scraper::Html;

use super::{body, engines};

/// Below this share of the page's visible text, our body is taken for a wrong pick.
const UNSURE_SHARE: f64 = 0.25;

/// The body text of the page: ours, or the `trafilatura` crate's where ours holds less than
/// [`UNSURE_SHARE`] of the page's text. `bounded` is the page after [`crate::html::bounded`].
///
/// The library is not run when the page marks our text as the article (`<article>`,
/// `itemprop="articleBody"`), nor when the linear pre-pass had to change the markup (`altered`:
/// nesting past [`crate::html::MAX_DEPTH`] or more than [`crate::html::MAX_ELEMENTS`] tags), which
/// real pages never need and hostile ones always do: there the library's extra work would buy
/// nothing.
pub(super) fn body(doc: &Html, bounded: &str, altered: bool) -> String {
    let (text, marked) = body::main_text_marked(doc);
    let ours = with_lead(doc, text);
    if marked || altered {
        return ours;
    }
    let page = body::page_text_chars(doc);
    let share = ours.chars().count() as f64 / page.max(1) as f64;
    if page == 0 || share >= UNSURE_SHARE {
        return ours;
    }
    engines::trafilatura(bounded).unwrap_or(ours)
}

/// Our body with the article's lead in front when the body lacks it.
pub(super) fn with_lead(doc: &Html, text: String) -> String {
    match body::lead(doc, &text) {
        Some(lead) => format!("{lead}\n\n{text}"),
        None => text,
    }
}
