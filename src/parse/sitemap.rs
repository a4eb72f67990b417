//! Sitemaps: `<urlset>` (with Google News extensions) and `<sitemapindex>`.
//!
//! roxmltree rather than feed-rs: a sitemap is not a feed, and a small tree is the simplest way to
//! read `url/loc`, `lastmod` and `news:news/news:title` by local name whatever the prefixes are.

use chrono::{DateTime, Utc};

use super::{Entry, Format, ParseError, ParsedFeed};

pub(super) fn looks_like(text: &str) -> bool {
    // Cut on a character boundary: the first 2 KB may end inside a multi-byte character.
    let mut cut = text.len().min(2048);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    head.contains("<urlset") || head.contains("<sitemapindex")
}

pub(super) fn parse(text: &str) -> Result<ParsedFeed, ParseError> {
    let mut warnings = Vec::new();
    if let Some(depth) = super::nesting::xml_too_deep(text, super::nesting::MAX_XML_DEPTH) {
        return Err(ParseError::Malformed {
            format: "sitemap",
            message: format!("elements nested {depth} levels deep; a sitemap nests five"),
        });
    }
    let text = super::repair::fix_references(text, &mut warnings);
    match roxmltree::Document::parse_with_options(&text, options()) {
        Ok(doc) => read(doc.root_element(), warnings),
        Err(e) => salvage(&text, &e.to_string(), warnings),
    }
}

fn options() -> roxmltree::ParsingOptions {
    roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    }
}

fn read(root: roxmltree::Node, warnings: Vec<String>) -> Result<ParsedFeed, ParseError> {
    match root.tag_name().name() {
        "sitemapindex" => {
            let mut children: Vec<(Option<DateTime<Utc>>, String)> = root
                .children()
                .filter(|n| n.has_tag_name_local("sitemap"))
                .filter_map(|n| {
                    let loc = child_text(n, "loc")?;
                    Some((
                        child_text(n, "lastmod").and_then(|d| parse_w3c_date(&d)),
                        loc,
                    ))
                })
                .collect();
            // Newest first: the daemon reads only the first few children per poll, and indexes
            // that list years of monthly sitemaps usually put the current one last.
            children.sort_by_key(|c| std::cmp::Reverse(c.0));
            Ok(ParsedFeed {
                format: Format::SitemapIndex,
                title: None,
                entries: Vec::new(),
                sitemaps: children.into_iter().map(|(_, loc)| loc).collect(),
                warnings,
            })
        }
        "urlset" => Ok(ParsedFeed {
            format: Format::Sitemap,
            title: None,
            entries: root
                .children()
                .filter(|n| n.has_tag_name_local("url"))
                .filter_map(url_entry)
                .collect(),
            sitemaps: Vec::new(),
            warnings,
        }),
        other => Err(ParseError::Unrecognised(format!(
            "root element <{other}> is neither <urlset> nor <sitemapindex>"
        ))),
    }
}

/// A sitemap that is not well-formed (cut off, a stray tag): each complete `<url>` or `<sitemap>`
/// element is read on its own, under the root's namespace declarations.
fn salvage(text: &str, error: &str, mut warnings: Vec<String>) -> Result<ParsedFeed, ParseError> {
    let malformed = || ParseError::Malformed {
        format: "sitemap",
        message: error.to_string(),
    };
    let (root, item) = if text.contains("<sitemapindex") {
        ("sitemapindex", "sitemap")
    } else {
        ("urlset", "url")
    };
    let open_at = text.find(&format!("<{root}")).ok_or_else(malformed)?;
    let open_end = open_at + text[open_at..].find('>').ok_or_else(malformed)?;
    let open = text[open_at..open_end].trim_end_matches('/');
    let (start, end) = (format!("<{item}>"), format!("</{item}>"));
    let mut blocks = String::new();
    let mut rest = &text[open_end..];
    let mut kept = 0;
    while let Some(at) = rest.find(&start) {
        let Some(len) = rest[at..].find(&end) else {
            break;
        };
        let block = &rest[at..at + len + end.len()];
        let wrapped = format!("{open}>{block}</{root}>");
        if roxmltree::Document::parse_with_options(&wrapped, options()).is_ok() {
            blocks.push_str(block);
            kept += 1;
        }
        rest = &rest[at + len + end.len()..];
    }
    if kept == 0 {
        return Err(malformed());
    }
    warnings.push(format!(
        "sitemap is not well-formed ({error}); read its {kept} complete <{item}> elements"
    ));
    let whole = format!("{open}>{blocks}</{root}>");
    let doc =
        roxmltree::Document::parse_with_options(&whole, options()).map_err(|_| malformed())?;
    read(doc.root_element(), warnings)
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
    // A sitemap has no summary; its news keywords are the nearest thing to one, and they are
    // words analysis and search should see (`Huawei, export controls`).
    let keywords = news
        .and_then(|n| child_text(n, "keywords"))
        .map(|k| format!("Keywords: {k}"));
    Some(Entry {
        id: loc.clone(),
        title,
        link: Some(loc),
        published: published.or(lastmod),
        updated: lastmod,
        authors: Vec::new(),
        summary: keywords,
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
    fn a_broken_sitemap_keeps_its_complete_urls() {
        let doc = r#"<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>https://e.com/1?a=1&b=2</loc></url><url><loc>https://e.com/2</loc></url><url><loc>https://e.com/3</lo"#;
        let f = parse_document(doc.as_bytes(), None, None).unwrap();
        let links: Vec<_> = f.entries.iter().filter_map(|e| e.link.as_deref()).collect();
        assert_eq!(links, ["https://e.com/1?a=1&b=2", "https://e.com/2"]);
        assert!(f.warnings.iter().any(|w| w.contains("not well-formed")));
    }

    #[test]
    fn index_children_come_newest_first() {
        let doc = r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://e.com/2024.xml</loc><lastmod>2024-12-31</lastmod></sitemap>
<sitemap><loc>https://e.com/undated.xml</loc></sitemap>
<sitemap><loc>https://e.com/2026.xml</loc><lastmod>2026-11-28T10:00:00Z</lastmod></sitemap>
</sitemapindex>"#;
        let f = parse_document(doc.as_bytes(), None, None).unwrap();
        assert_eq!(
            f.sitemaps,
            [
                "https://e.com/2026.xml",
                "https://e.com/2024.xml",
                "https://e.com/undated.xml"
            ]
        );
    }

    #[test]
    fn news_sitemap() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://e.com/a?x=1&amp;y=2</loc><news:news><news:publication><news:name>E</news:name></news:publication>
<news:publication_date>2026-11-27T08:00:00+08:00</news:publication_date><news:title>US widens chip curbs</news:title><news:keywords>export controls, Huawei</news:keywords></news:news></url>
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
            f.entries[0].summary.as_deref(),
            Some("Keywords: export controls, Huawei")
        );
        assert_eq!(f.entries[1].summary, None);
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
