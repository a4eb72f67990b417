//! Discovery in raw documents, kept apart from `parse/` (which reads entries): the feeds an HTML
//! page advertises (`<link rel="alternate">`), so that a source given as a site URL polls its feed.

use scraper::{Html, Selector};
use url::Url;

/// The media types of feeds that a page may advertise, in the spellings seen in the wild.
const FEED_TYPES: &[&str] = &[
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/rdf+xml",
];

/// Whether a response is an HTML page rather than a feed. The document's start outranks the
/// Content-Type: many servers label their RSS `text/html`, and some label pages `text/xml`.
pub fn looks_like_html(content_type: Option<&str>, body: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&body[..body.len().min(1024)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return true;
    }
    if ["<?xml", "<rss", "<feed", "<rdf", "{"]
        .iter()
        .any(|p| head.starts_with(p))
    {
        return false;
    }
    content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("text/html"))
}

/// The feeds an HTML page links to with `<link rel="alternate" type="…">`, in document order,
/// resolved against the page's `<base href>` or its URL. The first is usually the site's main
/// feed (later ones tend to be comments or category feeds).
pub fn feed_links(html: &str, page: &Url) -> Vec<Url> {
    let doc = Html::parse_document(html);
    // Static selectors: they parse; an error here would be a bug, and gives no links, not a panic.
    let (Ok(links), Ok(base)) = (
        Selector::parse("link[rel][href]"),
        Selector::parse("base[href]"),
    ) else {
        return Vec::new();
    };
    let base = doc
        .select(&base)
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|h| page.join(h.trim()).ok())
        .unwrap_or_else(|| page.clone());
    let mut out: Vec<Url> = Vec::new();
    for link in doc.select(&links) {
        let el = link.value();
        let alternate = el
            .attr("rel")
            .unwrap_or_default()
            .split_ascii_whitespace()
            .any(|r| r.eq_ignore_ascii_case("alternate"));
        let feed_type = el.attr("type").is_some_and(|t| {
            let t = t.trim().to_ascii_lowercase();
            FEED_TYPES.iter().any(|f| t.starts_with(f))
        });
        if !(alternate && feed_type) {
            continue;
        }
        let Some(url) = el.attr("href").and_then(|h| base.join(h.trim()).ok()) else {
            continue;
        };
        if matches!(url.scheme(), "http" | "https") && !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternate_feed_links_resolved_against_the_page() {
        let page = Url::parse("https://news.example.org/world/index.html").unwrap();
        let html = r#"<!DOCTYPE html><html><head>
<link rel="stylesheet" href="/s.css">
<link rel="alternate" hreflang="zh" href="/zh/">
<link rel="Alternate" type="application/rss+xml; charset=utf-8" title="World" href="feed.xml">
<link rel="alternate" type="application/atom+xml" href="https://news.example.org/atom">
<link rel="alternate" type="application/feed+json" href="//cdn.example.org/feed.json">
<link rel="alternate" type="application/rss+xml" href="feed.xml">
<link rel="alternate" type="application/rss+xml" href="javascript:void(0)">
</head><body></body></html>"#;
        let got: Vec<String> = feed_links(html, &page)
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(
            got,
            [
                "https://news.example.org/world/feed.xml",
                "https://news.example.org/atom",
                "https://cdn.example.org/feed.json",
            ]
        );
    }

    #[test]
    fn base_href_and_html_sniffing() {
        let page = Url::parse("https://a.example/x/y").unwrap();
        let html = r#"<html><head><base href="https://b.example/root/"><link rel="alternate" type="application/atom+xml" href="f.atom"></head></html>"#;
        assert_eq!(
            feed_links(html, &page)[0].as_str(),
            "https://b.example/root/f.atom"
        );
        assert!(looks_like_html(
            Some("text/html; charset=utf-8"),
            b"<!-- x --><p>"
        ));
        assert!(looks_like_html(None, b"\n  <!DOCTYPE html><html>"));
        assert!(!looks_like_html(
            Some("text/html"),
            b"<?xml version=\"1.0\"?><rss version=\"2.0\">"
        ));
        assert!(!looks_like_html(None, b"<?xml version=\"1.0\"?><rss>"));
    }
}
