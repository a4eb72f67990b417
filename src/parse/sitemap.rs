//! Sitemaps: `<urlset>` (with Google News extensions) and `<sitemapindex>`.
//!
//! roxmltree rather than feed-rs: a sitemap is not a feed, and a small tree is the simplest way to
//! read `url/loc`, `lastmod` and `news:news/news:title` by local name whatever the prefixes are.

use chrono::{DateTime, Utc};

use super::{Entry, Format, ParseError, ParsedFeed};

pub(super) fn looks_like(text: &str) -> bool {
    let head = &text[..text.len().min(2048)];
    head.contains("<urlset") || head.contains("<sitemapindex")
}

pub(super) fn parse(text: &str) -> Result<ParsedFeed, ParseError> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc =
        roxmltree::Document::parse_with_options(text, opts).map_err(|e| ParseError::Malformed {
            format: "sitemap",
            message: e.to_string(),
        })?;
    let root = doc.root_element();
    match root.tag_name().name() {
        "sitemapindex" => Ok(ParsedFeed {
            format: Format::SitemapIndex,
            title: None,
            entries: Vec::new(),
            sitemaps: root
                .children()
                .filter(|n| n.has_tag_name_local("sitemap"))
                .filter_map(|n| child_text(n, "loc"))
                .collect(),
            warnings: Vec::new(),
        }),
        "urlset" => Ok(ParsedFeed {
            format: Format::Sitemap,
            title: None,
            entries: root
                .children()
                .filter(|n| n.has_tag_name_local("url"))
                .filter_map(url_entry)
                .collect(),
            sitemaps: Vec::new(),
            warnings: Vec::new(),
        }),
        other => Err(ParseError::Unrecognised(format!(
            "root element <{other}> is neither <urlset> nor <sitemapindex>"
        ))),
    }
}

trait LocalName {
    fn has_tag_name_local(&self, name: &str) -> bool;
}

impl LocalName for roxmltree::Node<'_, '_> {
    fn has_tag_name_local(&self, name: &str) -> bool {
        self.is_element() && self.tag_name().name() == name
    }
}

fn child_text(node: roxmltree::Node, name: &str) -> Option<String> {
    node.children()
        .find(|c| c.has_tag_name_local(name))
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

fn url_entry(node: roxmltree::Node) -> Option<Entry> {
    let loc = child_text(node, "loc")?;
    let news = node.children().find(|c| c.has_tag_name_local("news"));
    let published = news
        .and_then(|n| child_text(n, "publication_date"))
        .and_then(|d| parse_w3c_date(&d));
    let lastmod = child_text(node, "lastmod").and_then(|d| parse_w3c_date(&d));
    let title = news.and_then(|n| child_text(n, "title"));
    Some(Entry {
        id: loc.clone(),
        title,
        link: Some(loc),
        published: published.or(lastmod),
        updated: lastmod,
        authors: Vec::new(),
        summary: None,
        content: None,
    })
}

/// W3C datetime as sitemaps use it: a full RFC 3339 timestamp or a bare date.
pub(crate) fn parse_w3c_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|dt| dt.and_utc());
    }
    // Minutes without seconds, allowed by the W3C profile: 2026-11-28T10:00+08:00.
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%:z")
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::super::parse_document;
    use super::*;

    #[test]
    fn news_sitemap() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://e.com/a?x=1&amp;y=2</loc><news:news><news:publication><news:name>E</news:name></news:publication>
<news:publication_date>2026-11-27T08:00:00+08:00</news:publication_date><news:title>US widens chip curbs</news:title></news:news></url>
<url><loc>https://e.com/b</loc><lastmod>2026-11-26</lastmod></url>
</urlset>"#;
        let f = parse_document(doc.as_bytes(), None, None).unwrap();
        assert_eq!(f.format, Format::Sitemap);
        assert_eq!(f.entries.len(), 2);
        assert_eq!(
            f.entries[0].link.as_deref(),
            Some("https://e.com/a?x=1&y=2")
        );
        assert_eq!(f.entries[0].title.as_deref(), Some("US widens chip curbs"));
        assert_eq!(
            f.entries[0].published.unwrap().to_rfc3339(),
            "2026-11-27T00:00:00+00:00"
        );
        assert!(f.entries[1].published.is_some());
    }

    #[test]
    fn sitemap_index() {
        let doc = r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>https://e.com/s1.xml</loc></sitemap></sitemapindex>"#;
        let f = parse_document(doc.as_bytes(), None, None).unwrap();
        assert_eq!(f.format, Format::SitemapIndex);
        assert_eq!(f.sitemaps, vec!["https://e.com/s1.xml"]);
    }
}
