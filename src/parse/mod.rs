//! Parsing what a source returns into one entry model: feeds (RSS, Atom, RDF, JSON Feed, Federal
//! Register document lists), sitemaps and HTML listing pages.
//!
//! Everything here runs on untrusted bytes, so [`parse_document`] contains panics: a parser bug on a
//! hostile document becomes a [`ParseError`] for that document, never a dead daemon.

mod dates;
mod encoding;
mod federal_register;
mod feed;
mod json_feed;
pub mod listing;
pub mod nesting;
mod repair;
mod sitemap;

use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use encoding::decode_to_utf8;

/// The format a document was read as (`parse-feed`'s `"format"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Rss0,
    Rss1,
    Rss2,
    Atom,
    JsonFeed,
    Sitemap,
    SitemapIndex,
    FederalRegister,
    HtmlListing,
}

/// One item of a feed, sitemap or listing, as far as the document tells.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Entry {
    pub id: String,
    pub title: Option<String>,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    /// Summary or description, as published (may hold HTML).
    pub summary: Option<String>,
    /// Full content, as published (may hold HTML).
    pub content: Option<String>,
}

/// A parsed document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedFeed {
    pub format: Format,
    pub title: Option<String>,
    pub entries: Vec<Entry>,
    /// For a sitemap index: the child sitemaps to read next.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sitemaps: Vec<String>,
    /// What had to be repaired or left out to read the document (unreadable dates, a broken-off
    /// end, unescaped `&`): for the source's log and `parse-feed`'s stderr, not for readers.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("empty document")]
    Empty,
    #[error("not a feed or sitemap: {0}")]
    Unrecognised(String),
    #[error("malformed {format}: {message}")]
    Malformed {
        format: &'static str,
        message: String,
    },
    #[error("the parser crashed on this document ({0}); it was skipped")]
    Panicked(String),
}

/// Parses a feed or sitemap. `base` resolves relative links; `content_type` is the HTTP header,
/// whose charset outranks what the document says about itself.
pub fn parse_document(
    bytes: &[u8],
    base: Option<&str>,
    content_type: Option<&str>,
) -> Result<ParsedFeed, ParseError> {
    let mut parsed = guarded(|| {
        let text = encoding::decode(bytes, content_type);
        let trimmed = text.trim_start_matches('\u{feff}').trim_start();
        if trimmed.is_empty() {
            return Err(ParseError::Empty);
        }
        if trimmed.starts_with('{') {
            if federal_register::looks_like(trimmed) {
                return federal_register::parse(trimmed);
            }
            return json_feed::parse(trimmed, base);
        }
        if sitemap::looks_like(trimmed) {
            return sitemap::parse(trimmed);
        }
        feed::parse(trimmed, base)
    })?;
    // The same repair or unreadable date repeated per entry is one thing to report.
    let mut seen = std::collections::HashSet::new();
    parsed.warnings.retain(|w| seen.insert(w.clone()));
    cap_entries(&mut parsed);
    Ok(parsed)
}

/// Entries read from one document; a sitemap may list 50,000 URLs by its protocol, a feed a few
/// hundred. What lies beyond is left out (and said), so that one document cannot turn into an
/// unbounded queue of fetches and index writes.
pub const MAX_ENTRIES: usize = 50_000;
/// Child sitemaps an index may name (its protocol's own limit).
pub const MAX_SITEMAPS: usize = 50_000;

/// Applies [`MAX_ENTRIES`] and [`MAX_SITEMAPS`], with a warning for each cut.
pub fn cap_entries(parsed: &mut ParsedFeed) {
    if parsed.entries.len() > MAX_ENTRIES {
        parsed.warnings.push(format!(
            "{} entries beyond the first {MAX_ENTRIES} left out",
            parsed.entries.len() - MAX_ENTRIES
        ));
        parsed.entries.truncate(MAX_ENTRIES);
    }
    if parsed.sitemaps.len() > MAX_SITEMAPS {
        parsed.warnings.push(format!(
            "{} child sitemaps beyond the first {MAX_SITEMAPS} left out",
            parsed.sitemaps.len() - MAX_SITEMAPS
        ));
        parsed.sitemaps.truncate(MAX_SITEMAPS);
    }
}

/// Runs untrusted parsing with panics turned into errors.
pub fn guarded<T>(f: impl FnOnce() -> Result<T, ParseError>) -> Result<T, ParseError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(ParseError::Panicked(message))
        }
    }
}

/// Resolves a possibly relative link against the document's base.
pub(crate) fn resolve(link: &str, base: Option<&str>) -> String {
    let link = link.trim();
    // Nearly every link is absolute already; parsing each one only to learn that cost ~2% of
    // feed parsing. (An invalid absolute link comes back as written either way.)
    if (link.starts_with("https://") || link.starts_with("http://"))
        && !link.contains(char::is_whitespace)
    {
        return link.to_string();
    }
    if url::Url::parse(link).is_ok() {
        return link.to_string();
    }
    base.and_then(|b| url::Url::parse(b).ok())
        .and_then(|b| b.join(link).ok())
        .map(|u| u.to_string())
        .unwrap_or_else(|| link.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_gives_at_most_max_entries() {
        let urls: String = (0..MAX_ENTRIES + 10)
            .map(|i| format!("<url><loc>https://e.example/{i}</loc></url>"))
            .collect();
        let doc = format!(
            r#"<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>"#
        );
        let parsed = parse_document(doc.as_bytes(), None, None).expect("a sitemap");
        assert_eq!(parsed.entries.len(), MAX_ENTRIES);
        assert!(
            parsed
                .warnings
                .iter()
                .any(|w| w.contains("10 entries beyond")),
            "{:?}",
            parsed.warnings
        );
    }

    #[test]
    fn panics_become_errors() {
        let r: Result<(), _> = guarded(|| panic!("boom"));
        assert!(matches!(r, Err(ParseError::Panicked(m)) if m == "boom"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for doc in [
            &b""[..],
            b"   ",
            b"<html><body>hi</body></html>",
            b"{\"a\":1}",
            b"\xff\xfe\x00",
        ] {
            assert!(parse_document(doc, None, None).is_err(), "{doc:?}");
        }
    }
}
