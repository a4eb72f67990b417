//! Body extractors from other projects, run beside our own ([`super::body`]) so that the page's
//! body can be chosen by agreement (see [`super::choose`]).
//!
//! - `trafilatura` (Apache-2.0): a Rust port of trafilatura (Go's go-trafilatura, itself a port
//!   of Python trafilatura), with its readability and jusText fallbacks.
//! - `dom_smoothie` (MIT): a port of Mozilla's Readability.js.
//!
//! Both parse HTML with their own html5ever. They never see the page as it came: they get the
//! markup after [`crate::html::bounded`], the same linear pre-pass our own parser runs first
//! (nesting capped at [`crate::html::MAX_DEPTH`], at most [`crate::html::MAX_ELEMENTS`] tags), so
//! a hostile page costs them what it costs us. The trade-off: each library parses the page once
//! more (time, and a second tree in memory while it runs), which the benchmark counts.

/// Which extractor produces the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// Ours and the libraries, combined per page by agreement (the default).
    #[default]
    Auto,
    /// Our own extractor alone.
    Ours,
    /// The `trafilatura` crate alone.
    Trafilatura,
    /// The `dom_smoothie` crate (Readability) alone.
    Readability,
}

impl std::str::FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Engine::Auto),
            "ours" => Ok(Engine::Ours),
            "trafilatura" => Ok(Engine::Trafilatura),
            "readability" | "dom_smoothie" => Ok(Engine::Readability),
            other => Err(format!(
                "unknown engine {other:?}: auto, ours, trafilatura or readability"
            )),
        }
    }
}

/// Lines of text to blank-line-separated paragraphs, whitespace folded. A line that is markup
/// (a `<noscript>` element's content, which a parser that runs scripts keeps as raw text) is not
/// text a reader sees and is left out.
fn paragraphs(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !(l.is_empty() || l.starts_with('<') && l.ends_with('>')))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The `trafilatura` crate's main text (comments left out, tables kept, fallbacks on: the
/// settings trafilatura calls standard). `bounded` is the page after [`crate::html::bounded`].
pub(super) fn trafilatura(bounded: &str) -> Option<String> {
    let mut opts = trafilatura::Options::default();
    opts.enable_fallback = true;
    opts.exclude_comments = true;
    let result = trafilatura::extract(bounded, &opts).ok()?;
    Some(paragraphs(&result.content_text)).filter(|t| !t.is_empty())
}

/// `dom_smoothie`'s (Readability's) main text. `bounded` as for [`trafilatura`].
pub(super) fn readability(bounded: &str) -> Option<String> {
    let cfg = dom_smoothie::Config {
        text_mode: dom_smoothie::TextMode::Formatted,
        max_elements_to_parse: crate::html::MAX_ELEMENTS,
        ..Default::default()
    };
    let mut r = dom_smoothie::Readability::new(bounded, None, Some(cfg)).ok()?;
    let article = r.parse().ok()?;
    Some(paragraphs(&article.text_content)).filter(|t| !t.is_empty())
}
