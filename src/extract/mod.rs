//! Article extraction: from one HTML page to title, body text, date, authors, language, canonical
//! URL, site name and whether the page is a paywall teaser.
//!
//! Metadata comes from the most trustworthy place that has it: JSON-LD, then the app state of
//! pages built with Next.js and kin ([`appdata`]), then OpenGraph and `article:*` meta tags, then
//! the page itself. The body comes from the page ([`body`]); structured bodies (JSON-LD, app
//! state) are often cut short and are used only when the page's own text is missing or much
//! shorter. Pages that are not articles (bot walls, paywall teasers, login and error pages) are
//! recognised ([`kind`]) and say so in [`Article::not_article`].

mod appdata;
mod body;
mod choose;
pub mod dates;
mod engines;
mod kind;
mod metadata;
pub mod text;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use engines::Engine;
pub use kind::NotAnArticle;
pub use text::html_to_text;

/// What `wirewatch extract` prints and what the pipeline stores.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Article {
    pub title: Option<String>,
    pub body: String,
    pub published: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    pub language: Option<String>,
    pub canonical_url: Option<String>,
    pub site_name: Option<String>,
    pub paywalled: bool,
    /// Set when the page is not an article; printed only then, so an article's JSON is exactly
    /// the contract's fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_article: Option<NotAnArticle>,
}

/// Extracts one page. `url` is where it was fetched from, used to resolve a relative canonical link.
pub fn extract(html: &str, url: Option<&str>) -> Article {
    extract_with(html, url, Engine::Auto)
}

/// [`extract`] with the body taken from the given extractor.
pub fn extract_with(html: &str, url: Option<&str>, engine: Engine) -> Article {
    let bounded = crate::html::bounded(html);
    let doc = scraper::Html::parse_document(&bounded);
    let meta = metadata::read(&doc, url);
    let mut body = match engine {
        Engine::Ours => choose::with_lead(&doc, body::main_text(&doc)),
        Engine::Trafilatura => engines::trafilatura(&bounded).unwrap_or_default(),
        Engine::Readability => engines::readability(&bounded).unwrap_or_default(),
        Engine::Auto => choose::body(
            &doc,
            &bounded,
            matches!(bounded, std::borrow::Cow::Owned(_)),
        ),
    };
    // A page whose text lives only in structured data (apps that render client-side), or whose
    // visible text the extractor could only partly find.
    if let Some(structured) = meta.structured_body.as_deref()
        && structured.chars().count() > body.chars().count() * 2
    {
        body = text::normalize_blocks(structured);
    }
    let not_article = kind::classify(html, &doc, &meta, &body);
    let language = meta.language.or_else(|| guess_language(&body));
    Article {
        title: meta.title,
        body,
        published: meta.published,
        authors: meta.authors,
        language,
        canonical_url: meta.canonical_url,
        site_name: meta.site_name,
        paywalled: meta.paywalled,
        not_article,
    }
}

/// Extracts bytes of unknown encoding (HTTP header charset first, then `<meta charset>`, then sniffing).
pub fn extract_bytes(bytes: &[u8], content_type: Option<&str>, url: Option<&str>) -> Article {
    extract_bytes_with(bytes, content_type, url, Engine::Auto)
}

/// [`extract_bytes`] with the body taken from the given extractor.
pub fn extract_bytes_with(
    bytes: &[u8],
    content_type: Option<&str>,
    url: Option<&str>,
    engine: Engine,
) -> Article {
    let html = crate::parse::decode_to_utf8(bytes, content_type);
    extract_with(&html, url, engine)
}

/// A coarse language guess by script, for pages that do not declare one.
fn guess_language(text: &str) -> Option<String> {
    let sample: Vec<char> = text
        .chars()
        .filter(|c| c.is_alphabetic())
        .take(2000)
        .collect();
    if sample.len() < 20 {
        return None;
    }
    let count = |f: fn(char) -> bool| sample.iter().filter(|c| f(**c)).count();
    let kana = count(|c| matches!(c, '\u{3040}'..='\u{30ff}'));
    let han = count(|c| matches!(c, '\u{4e00}'..='\u{9fff}'));
    let hangul = count(|c| matches!(c, '\u{ac00}'..='\u{d7af}'));
    let latin = count(|c| c.is_ascii_alphabetic());
    let n = sample.len();
    if kana * 10 > n {
        Some("ja".into())
    } else if hangul * 3 > n {
        Some("ko".into())
    } else if han * 3 > n {
        Some("zh".into())
    } else if latin * 10 > n * 9 {
        // Latin script: English is the only Latin-script language this beat's sources publish
        // without declaring it; anything else stays unknown rather than mislabelled.
        let lower = text.to_ascii_lowercase();
        let hits = [" the ", " and ", " of ", " to ", " in "]
            .iter()
            .filter(|w| lower.contains(*w))
            .count();
        (hits >= 4).then(|| "en".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_scripts() {
        assert_eq!(
            guess_language("美国商务部周五宣布将更多中国企业列入实体清单，限制其获取先进芯片。")
                .as_deref(),
            Some("zh")
        );
        assert_eq!(
            guess_language(
                "The US and China agreed to talks on the export of chips to the region in May."
            )
            .as_deref(),
            Some("en")
        );
    }
}
