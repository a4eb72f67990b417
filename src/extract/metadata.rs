//! Article metadata from JSON-LD, app state (Next.js data), meta tags and the page.

use chrono::{DateTime, Utc};
use scraper::{Html, Selector};
use serde_json::Value;

use super::dates::parse_date;

#[derive(Debug, Default)]
pub(super) struct Metadata {
    pub title: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    pub language: Option<String>,
    pub canonical_url: Option<String>,
    pub site_name: Option<String>,
    pub paywalled: bool,
    /// `articleBody` from structured data: a fallback when the page shows no text of its own.
    pub structured_body: Option<String>,
    /// Structured data or meta tags present the page as a dated article (not a mere `WebPage`):
    /// such a page is never taken for a login or error page, whatever its title says.
    pub marked_article: bool,
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("static selector")
}

fn meta_content(doc: &Html, keys: &[&str]) -> Option<String> {
    let metas = sel("meta[content]");
    for key in keys {
        for m in doc.select(&metas) {
            let v = m.value();
            let name = v.attr("property").or(v.attr("name")).or(v.attr("itemprop"));
            if name.is_some_and(|n| n.eq_ignore_ascii_case(key))
                && let Some(c) = v.attr("content").map(str::trim).filter(|c| !c.is_empty())
            {
                return Some(c.to_string());
            }
        }
    }
    None
}

const ARTICLE_TYPES: &[&str] = &[
    "NewsArticle",
    "Article",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "BlogPosting",
    "OpinionNewsArticle",
    "Report",
    "LiveBlogPosting",
    "TechArticle",
    "WebPage",
];

/// Every JSON-LD object on the page, `@graph` members included.
fn json_ld_objects(doc: &Html) -> Vec<Value> {
    let mut out = Vec::new();
    for script in doc.select(&sel(r#"script[type="application/ld+json"]"#)) {
        let raw: String = script.text().collect();
        let Ok(value) = serde_json::from_str::<Value>(raw.trim()) else {
            continue;
        };
        flatten(value, &mut out);
    }
    out
}

fn flatten(value: Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.into_iter().for_each(|v| flatten(v, out)),
        Value::Object(mut map) => {
            if let Some(graph) = map.remove("@graph") {
                flatten(graph, out);
            }
            out.push(Value::Object(map));
        }
        _ => {}
    }
}

fn is_article(v: &Value) -> bool {
    let matches = |t: &Value| t.as_str().is_some_and(|s| ARTICLE_TYPES.contains(&s));
    match v.get("@type") {
        Some(Value::Array(types)) => types.iter().any(matches),
        Some(t) => matches(t),
        None => false,
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Object(o) => o
            .get("name")
            .and_then(Value::as_str)
            .map(|s| s.trim().to_string()),
        _ => None,
    }
}

/// Author names from the forms publishers use: a string, an object, a list of either, or a
/// string that itself holds JSON.
pub(super) fn author_names(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => {
            let t = s.trim();
            if (t.starts_with('{') || t.starts_with('['))
                && let Ok(inner) = serde_json::from_str::<Value>(t)
            {
                return author_names(&inner);
            }
            if t.is_empty() || t.starts_with("http") {
                vec![]
            } else {
                vec![t.to_string()]
            }
        }
        Value::Object(o) => o.get("name").map(author_names).unwrap_or_default(),
        Value::Array(items) => items.iter().flat_map(author_names).collect(),
        _ => vec![],
    }
}

pub(super) fn read(doc: &Html, url: Option<&str>) -> Metadata {
    let ld = json_ld_objects(doc);
    let article = ld
        .iter()
        .find(|v| is_article(v) && v.get("headline").is_some())
        .or_else(|| ld.iter().find(|v| is_article(v)));
    let mut m = Metadata::default();

    if let Some(a) = article {
        m.title = str_field(a, "headline");
        m.published = str_field(a, "datePublished").and_then(|d| parse_date(&d));
        if let Some(author) = a.get("author") {
            m.authors = author_names(author);
        }
        m.site_name = a
            .get("publisher")
            .and_then(|p| str_field(p, "name").or_else(|| p.as_str().map(str::to_string)));
        m.paywalled = matches!(a.get("isAccessibleForFree"), Some(Value::Bool(false)))
            || a.get("isAccessibleForFree")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("false"));
        m.structured_body = str_field(a, "articleBody");
        m.language = str_field(a, "inLanguage");
        m.canonical_url = str_field(a, "url").filter(|u| u.starts_with("http"));
        let web_page_only = a.get("@type").and_then(Value::as_str) == Some("WebPage");
        m.marked_article = m.published.is_some() && !web_page_only;
    }

    // Next.js and other app states: below JSON-LD (which publishers write for search engines and
    // keep right), above meta tags (which often carry a social-media headline).
    if let Some(app) = super::appdata::read(doc) {
        m.title = m.title.or(app.title);
        m.published = m.published.or(app.published);
        if m.authors.is_empty() {
            m.authors = app.authors;
        }
        m.site_name = m.site_name.or(app.site_name);
        m.paywalled |= app.paywalled;
        m.marked_article |= app.published.is_some();
        if m.canonical_url.is_none() {
            m.canonical_url = app
                .canonical
                .map(|c| crate::parse::resolve(&c, url))
                .filter(|c| c.starts_with("http"));
        }
        // Of two structured bodies, the longer: either may be cut.
        if let Some(body) = app.body
            && m.structured_body
                .as_ref()
                .is_none_or(|b| b.chars().count() < body.chars().count())
        {
            m.structured_body = Some(body);
        }
    }
    if m.title.is_none() {
        m.title = meta_content(doc, &["og:title", "twitter:title"])
            .or_else(|| first_text(doc, "h1"))
            .or_else(|| first_text(doc, "title"));
    }
    if m.published.is_none() {
        m.published = meta_content(
            doc,
            &[
                "article:published_time",
                "datePublished",
                "pubdate",
                "publishdate",
                "date",
                "DC.date.issued",
                "dcterms.created",
                "sailthru.date",
                "parsely-pub-date",
            ],
        )
        .and_then(|d| parse_date(&d))
        .or_else(|| {
            doc.select(&sel("time[datetime]"))
                .next()
                .and_then(|t| t.value().attr("datetime"))
                .and_then(parse_date)
        });
    }
    if meta_content(doc, &["og:type"]).is_some_and(|t| t.eq_ignore_ascii_case("article"))
        && m.published.is_some()
    {
        m.marked_article = true;
    }
    if m.authors.is_empty()
        && let Some(a) = meta_content(
            doc,
            &[
                "author",
                "article:author",
                "byl",
                "parsely-author",
                "sailthru.author",
            ],
        )
    {
        let a = a
            .trim_start_matches("By ")
            .trim_start_matches("by ")
            .to_string();
        if !a.starts_with("http") {
            m.authors = vec![a];
        }
    }
    if m.site_name.is_none() {
        m.site_name = meta_content(doc, &["og:site_name", "application-name"]);
    }
    let canonical_link = doc
        .select(&sel(r#"link[rel="canonical"][href]"#))
        .next()
        .and_then(|l| l.value().attr("href"))
        .map(str::to_string)
        .or_else(|| meta_content(doc, &["og:url"]));
    if let Some(c) = canonical_link {
        m.canonical_url = Some(crate::parse::resolve(&c, url));
    }
    if m.canonical_url.is_none() {
        m.canonical_url = url.map(str::to_string);
    }
    m.language = doc
        .select(&sel("html[lang]"))
        .next()
        .and_then(|h| h.value().attr("lang"))
        .map(str::to_string)
        .or(m.language)
        .or_else(|| meta_content(doc, &["og:locale", "content-language", "language"]))
        .map(|l| normalize_lang(&l))
        .filter(|l| !l.is_empty());
    m
}

fn first_text(doc: &Html, selector: &str) -> Option<String> {
    doc.select(&sel(selector))
        .next()
        .map(|e| {
            e.text()
                .collect::<Vec<_>>()
                .join(" ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|t| !t.is_empty())
}

/// `en_US` and `en-us` both become `en`; the primary subtag is what filters use.
fn normalize_lang(l: &str) -> String {
    l.split(['-', '_'])
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_ld_graph_and_string_author() {
        let html = r#"<html lang="en-GB"><head>
<script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"WebSite","name":"X"},
{"@type":"NewsArticle","headline":"Chips curbs widen","datePublished":"2026-11-20T09:00:00Z",
"author":"[{\"@type\":\"Person\",\"name\":\"Jane Doe\"}]","publisher":{"@type":"Organization","name":"Daily"},
"isAccessibleForFree":false}]}</script>
<link rel="canonical" href="/story/1"></head><body><h1>Other</h1></body></html>"#;
        let doc = Html::parse_document(html);
        let m = read(&doc, Some("https://daily.example/story/1?utm_source=x"));
        assert_eq!(m.title.as_deref(), Some("Chips curbs widen"));
        assert_eq!(m.authors, vec!["Jane Doe"]);
        assert_eq!(m.site_name.as_deref(), Some("Daily"));
        assert!(m.paywalled);
        assert_eq!(m.language.as_deref(), Some("en"));
        assert_eq!(
            m.canonical_url.as_deref(),
            Some("https://daily.example/story/1")
        );
        assert!(m.published.is_some());
    }

    #[test]
    fn meta_fallbacks() {
        let html = r#"<html><head><meta property="og:title" content="OG title">
<meta property="article:published_time" content="2026-01-02T03:04:05+00:00">
<meta name="author" content="By Li Wei"></head><body></body></html>"#;
        let m = read(&Html::parse_document(html), None);
        assert_eq!(m.title.as_deref(), Some("OG title"));
        assert_eq!(m.authors, vec!["Li Wei"]);
        assert!(m.published.is_some());
    }
}
