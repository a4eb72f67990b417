//! Discovery in raw documents, kept apart from `parse/` (which reads entries): the feeds an HTML
//! page advertises (`<link rel="alternate">`), so that a source given as a site URL polls its feed;
//! and what a feed says about itself before its first entry (`<ttl>`, WebSub `rel="hub"` and
//! `rel="self"` links), read by a small streaming scan of the raw bytes.

use scraper::Selector;
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
    let doc = crate::html::parse_document(html);
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

/// What a feed document says about itself, from its head (before the first entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedHead {
    /// RSS `<ttl>`: minutes the feed may be cached.
    pub ttl: Option<std::time::Duration>,
    /// `<link rel="hub">` / `<atom:link rel="hub">`: WebSub hubs.
    pub hubs: Vec<String>,
    /// `rel="self"`: the feed's own URL, the topic to subscribe to.
    pub self_url: Option<String>,
}

/// Scans a feed's head. Tolerant by design: it stops at the first entry, at 256 KiB, or at the
/// first XML error, and reports what it found up to there (a broken feed loses only its hints).
pub fn feed_head(body: &[u8]) -> FeedHead {
    use quick_xml::events::Event;
    let body = &body[..body.len().min(256 * 1024)];
    let mut reader = quick_xml::Reader::from_reader(body);
    reader.config_mut().trim_text(true);
    let mut head = FeedHead::default();
    let mut buf = Vec::new();
    let mut in_ttl = false;
    while let Ok(event) = reader.read_event_into(&mut buf) {
        match event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().into_inner() {
                "item" | "entry" => break,
                "ttl" => in_ttl = true,
                "link" => {
                    let (mut rel, mut href) = (None, None);
                    for a in e.attributes().flatten() {
                        let value = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map(|v| v.trim().to_string());
                        match (a.key.local_name().into_inner(), value) {
                            ("rel", Ok(v)) => rel = Some(v.to_ascii_lowercase()),
                            ("href", Ok(v)) if !v.is_empty() => href = Some(v),
                            _ => {}
                        }
                    }
                    match (rel.as_deref(), href) {
                        (Some(rel), Some(href))
                            if rel.split_ascii_whitespace().any(|r| r == "hub")
                                && !head.hubs.contains(&href) =>
                        {
                            head.hubs.push(href);
                        }
                        (Some("self"), Some(href)) => {
                            head.self_url.get_or_insert(href);
                        }
                        _ => {}
                    }
                }
                _ => {}
            },
            Event::Text(t) if in_ttl => {
                head.ttl = AsRef::<str>::as_ref(&t)
                    .trim()
                    .parse::<u64>()
                    .ok()
                    // A year is the most any publisher can mean; more is a typo.
                    .filter(|m| *m <= 525_600)
                    .map(|m| std::time::Duration::from_secs(m * 60));
            }
            Event::End(_) => in_ttl = false,
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    head
}

/// `(rel, url)` pairs of HTTP `Link` header values (`<https://hub.example/>; rel="hub"`), the way
/// a hub may be advertised for any content type.
pub fn link_header(values: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for value in values {
        let mut rest = value.as_str();
        // Each link is `<url>` followed by `;`-separated parameters up to the next `<`.
        while let Some(start) = rest.find('<') {
            let Some(len) = rest[start..].find('>') else {
                break;
            };
            let url = rest[start + 1..start + len].trim().to_string();
            rest = &rest[start + len + 1..];
            let params_end = rest.find('<').unwrap_or(rest.len());
            // The comma before the next link belongs to neither.
            let params = rest[..params_end].trim_end().trim_end_matches(',');
            for param in params.split(';') {
                let Some((k, v)) = param.split_once('=') else {
                    continue;
                };
                if k.trim().eq_ignore_ascii_case("rel") {
                    for rel in v.trim().trim_matches('"').split_ascii_whitespace() {
                        out.push((rel.to_ascii_lowercase(), url.clone()));
                    }
                }
            }
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

    #[test]
    fn feed_head_finds_ttl_hub_and_self_before_the_first_entry() {
        let rss = br#"<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<title>T</title><link>https://e.example/</link><ttl> 45 </ttl>
<atom:link rel="self" type="application/rss+xml" href="https://e.example/rss?a=1&amp;b=2"/>
<atom:link href="https://hub.example/" rel="hub"/>
<item><title>x</title><atom:link rel="hub" href="https://not-this.example/"/></item></channel></rss>"#;
        let head = feed_head(rss);
        assert_eq!(head.ttl, Some(std::time::Duration::from_secs(45 * 60)));
        assert_eq!(head.hubs, ["https://hub.example/"]);
        assert_eq!(
            head.self_url.as_deref(),
            Some("https://e.example/rss?a=1&b=2")
        );
        let atom = br#"<feed xmlns="http://www.w3.org/2005/Atom"><link rel="alternate" href="https://e.example/"/><link rel="hub" href="https://a.hub/"/><link rel="hub" href="https://b.hub/"/><link rel="self" href="https://e.example/atom"/><entry/></feed>"#;
        let head = feed_head(atom);
        assert_eq!(head.hubs, ["https://a.hub/", "https://b.hub/"]);
        assert_eq!(head.ttl, None);
        // Broken or foreign documents give nothing, never a panic.
        assert_eq!(
            feed_head(b"<rss><channel><ttl>soon</ttl><<<"),
            FeedHead::default()
        );
        assert_eq!(feed_head(b"\xff\xfe garbage"), FeedHead::default());
    }

    #[test]
    fn link_headers() {
        let got = link_header(&[
            r#"<https://hub.example/>; rel="hub", <https://e.example/feed>; rel=self"#.into(),
            "<https://x.example/a,b>; title=\"x\"; rel=\"alternate hub\"".into(),
        ]);
        assert_eq!(
            got,
            [
                ("hub".to_string(), "https://hub.example/".to_string()),
                ("self".to_string(), "https://e.example/feed".to_string()),
                ("alternate".to_string(), "https://x.example/a,b".to_string()),
                ("hub".to_string(), "https://x.example/a,b".to_string()),
            ]
        );
    }
}
