//! Article data that JavaScript apps embed in their pages: Next.js `__NEXT_DATA__` and the
//! `window.__APOLLO_STATE__` / `__INITIAL_STATE__` / `__PRELOADED_STATE__` assignments of other
//! frameworks. Sites built this way (SCMP among them) often render the article from this JSON,
//! so it holds the title, dates, authors and body even when the HTML around it is thin.
//!
//! The JSON has no fixed schema: the article is found as the object that looks most like one
//! (a headline next to a publication date, authors, a body), not by a path known for one site.

use chrono::{DateTime, Utc};
use scraper::{Html, Selector};
use serde_json::{Map, Value};

use super::dates::parse_date;
use super::metadata::author_names;
use super::text::{html_to_text, normalize_blocks};

/// What the embedded data says of the page's article.
#[derive(Debug, Default)]
pub(super) struct AppArticle {
    pub title: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    /// Absolute, or relative to the page (resolved by the caller).
    pub canonical: Option<String>,
    pub site_name: Option<String>,
    pub paywalled: bool,
    pub body: Option<String>,
}

/// `window.X = {...}` assignments worth reading; the value is a JSON object literal.
const STATE_VARS: &[&str] = &[
    "__NEXT_DATA__",
    "__APOLLO_STATE__",
    "__INITIAL_STATE__",
    "__PRELOADED_STATE__",
];
const TITLE_KEYS: &[&str] = &["headline", "title", "name"];
const DATE_KEYS: &[&str] = &[
    "datePublished",
    "publishedDate",
    "publishDate",
    "published_at",
    "publishedAt",
    "firstPublishedDate",
    "firstPublishedAt",
    "publicationDate",
    "pubDate",
];
const AUTHOR_KEYS: &[&str] = &["authors", "author", "byline", "bylines", "creators"];
const BODY_KEYS: &[&str] = &["body", "articleBody", "content", "bodyHtml", "text"];
const URL_KEYS: &[&str] = &[
    "canonicalUrl",
    "canonical",
    "url",
    "urlAlias",
    "fullUrl",
    "path",
];
/// Bounds on the walk: app states can hold thousands of objects.
const MAX_DEPTH: usize = 12;
const MAX_NODES: usize = 50_000;

/// The embedded states on the page, parsed; scripts that are not JSON are skipped.
fn states(doc: &Html) -> Vec<(Value, bool)> {
    let mut out = Vec::new();
    let next = Selector::parse("script#__NEXT_DATA__").expect("static selector");
    for script in doc.select(&next) {
        let raw: String = script.text().collect();
        if let Ok(v) = serde_json::from_str::<Value>(raw.trim()) {
            out.push((v, true));
        }
    }
    let scripts = Selector::parse("script:not([src])").expect("static selector");
    for script in doc.select(&scripts) {
        if script.value().attr("id") == Some("__NEXT_DATA__") {
            continue;
        }
        let raw: String = script.text().collect();
        for var in STATE_VARS {
            let Some(pos) = raw.find(var) else { continue };
            let rest = raw[pos + var.len()..].trim_start();
            let Some(rest) = rest.strip_prefix('=') else {
                continue;
            };
            // The object literal is followed by more script (`;__NEXT_LOADED_PAGES__=...`): read
            // one JSON value and ignore what comes after it.
            let mut values = serde_json::Deserializer::from_str(rest.trim_start()).into_iter();
            if let Some(Ok(v)) = values.next() {
                out.push((v, *var == "__NEXT_DATA__"));
            }
        }
    }
    out
}

fn text_of(v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn first_text(o: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| text_of(o.get(*k)))
}

fn date_of(o: &Map<String, Value>) -> Option<DateTime<Utc>> {
    DATE_KEYS.iter().find_map(|k| match o.get(*k)? {
        Value::String(s) => parse_date(s),
        // Milliseconds since the epoch (SCMP) or seconds.
        Value::Number(n) => n.as_i64().and_then(|n| parse_date(&n.to_string())),
        _ => None,
    })
}

/// Folds case and whitespace so a headline can be found inside a `<title>` with a site suffix.
fn fold(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// How much an object looks like the page's article, and whether the page's title names it;
/// `None` when it does not look like one at all.
fn score(o: &Map<String, Value>, depth: usize, page_titles: &[String]) -> Option<(f64, bool)> {
    let title = first_text(o, TITLE_KEYS)?;
    let mut s = 0.0;
    if date_of(o).is_some() {
        s += 2.0;
    }
    if AUTHOR_KEYS.iter().any(|k| o.contains_key(*k)) {
        s += 1.0;
    }
    if BODY_KEYS
        .iter()
        .any(|k| o.get(*k).is_some_and(|v| !v.is_null()))
    {
        s += 1.0;
    }
    if o.contains_key("headline") {
        s += 1.0;
    }
    // A list of teasers holds many objects with a title and a date: the page's own article is
    // the one its <title> or <h1> names.
    let t = fold(&title);
    let named = t.chars().count() >= 8 && page_titles.iter().any(|p| p.contains(&t));
    if named {
        s += 3.0;
    }
    // Without a date, a title match and something more, it is a menu entry or a tag.
    (s >= 3.0).then_some((s - depth as f64 * 0.05, named))
}

type Best<'a> = Option<(f64, bool, &'a Map<String, Value>)>;

fn walk<'a>(
    v: &'a Value,
    depth: usize,
    seen: &mut usize,
    page_titles: &[String],
    best: &mut Best<'a>,
) {
    *seen += 1;
    if depth > MAX_DEPTH || *seen > MAX_NODES {
        return;
    }
    match v {
        Value::Object(o) => {
            if let Some((s, named)) = score(o, depth, page_titles)
                && best.is_none_or(|(b, _, _)| s > b)
            {
                *best = Some((s, named, o));
            }
            for child in o.values() {
                walk(child, depth + 1, seen, page_titles, best);
            }
        }
        Value::Array(items) => {
            for child in items {
                walk(child, depth + 1, seen, page_titles, best);
            }
        }
        _ => {}
    }
}

/// Reads the article from the page's embedded app state, if the page has one that holds it.
pub(super) fn read(doc: &Html) -> Option<AppArticle> {
    let states = states(doc);
    if states.is_empty() {
        return None;
    }
    let mut page_titles = Vec::new();
    for s in ["title", "h1", r#"meta[property="og:title"]"#] {
        let sel = Selector::parse(s).expect("static selector");
        if let Some(el) = doc.select(&sel).next() {
            let t = el
                .value()
                .attr("content")
                .map(str::to_string)
                .unwrap_or_else(|| el.text().collect());
            page_titles.push(fold(&t));
        }
    }
    let mut best: Best = None;
    for (state, is_next) in &states {
        let mut seen = 0;
        let mut found = None;
        walk(state, 0, &mut seen, &page_titles, &mut found);
        // Outside Next.js page props, a state is a cache of everything the app fetched (related
        // stories, menus): only an object the page's title names is taken for the article.
        if let Some((s, named, o)) = found
            && (*is_next || named)
            && best.is_none_or(|(b, _, _)| s > b)
        {
            best = Some((s, named, o));
        }
    }
    let (_, _, o) = best?;
    let authors = AUTHOR_KEYS
        .iter()
        .find_map(|k| o.get(*k).map(author_names).filter(|a| !a.is_empty()))
        .unwrap_or_default();
    Some(AppArticle {
        title: first_text(o, &["headline", "title"]),
        published: date_of(o),
        authors,
        canonical: first_text(o, URL_KEYS).filter(|u| u.starts_with("http") || u.starts_with('/')),
        site_name: o.get("publisher").and_then(|p| {
            text_of(Some(p)).or_else(|| p.as_object().and_then(|p| first_text(p, &["name"])))
        }),
        paywalled: paywalled(o),
        body: BODY_KEYS
            .iter()
            .find_map(|k| o.get(*k).and_then(body_text))
            .filter(|b| !b.is_empty()),
    })
}

/// Only flags that say so outright: a "premium" section or a subscriber badge is not a wall.
fn paywalled(o: &Map<String, Value>) -> bool {
    let truthy = |k: &str| match o.get(k) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    };
    let free = match o.get("isAccessibleForFree") {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => Some(!s.eq_ignore_ascii_case("false")),
        _ => None,
    };
    free == Some(false) || truthy("paywalled") || truthy("isPaywalled") || truthy("paywall")
}

/// Body text from the forms apps use: an HTML string, `{html}` / `{text}` / `{json}` wrappers, or
/// a rich-text tree of `{type, children}` nodes with `{type: "text", data}` leaves.
fn body_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(html_to_text(s)),
        Value::Object(o) => {
            if let Some(inner) = ["json", "html", "text", "content", "children"]
                .iter()
                .find_map(|k| o.get(*k))
                && !o.contains_key("type")
            {
                return body_text(inner);
            }
            let mut out = String::new();
            render(v, &mut out);
            Some(normalize_blocks(&out))
        }
        Value::Array(items) if items.iter().all(Value::is_string) => Some(normalize_blocks(
            &items
                .iter()
                .filter_map(Value::as_str)
                .map(html_to_text)
                .collect::<Vec<_>>()
                .join("\n\n"),
        )),
        Value::Array(_) => {
            let mut out = String::new();
            render(v, &mut out);
            Some(normalize_blocks(&out))
        }
        _ => None,
    }
}

/// Node types that end a paragraph.
const BLOCK_TYPES: &[&str] = &[
    "p",
    "paragraph",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "heading",
    "li",
    "ul",
    "ol",
    "blockquote",
    "pre",
    "div",
];
/// Node types that never hold article text (captions and media are left out of page bodies too).
const SKIP_TYPES: &[&str] = &[
    "img",
    "image",
    "figure",
    "figcaption",
    "video",
    "iframe",
    "script",
    "style",
    "embed",
];

fn render(v: &Value, out: &mut String) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| render(i, out)),
        Value::Object(o) => {
            let kind = o.get("type").and_then(Value::as_str).unwrap_or("");
            if SKIP_TYPES.contains(&kind) {
                return;
            }
            if kind == "text" {
                if let Some(t) = o
                    .get("data")
                    .or_else(|| o.get("text"))
                    .and_then(Value::as_str)
                {
                    out.push_str(t);
                }
                return;
            }
            let block = BLOCK_TYPES.contains(&kind);
            if block {
                out.push_str("\n\n");
            }
            // Leaves of unknown types (ad slots, trackers) have no children and add nothing.
            if let Some(children) = o.get("children") {
                render(children, out);
            } else if let Some(t) = o.get("text").and_then(Value::as_str) {
                out.push_str(t);
            }
            if block {
                out.push_str("\n\n");
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_data_article_with_rich_text_body() {
        let html = r#"<html><head><title>Chip curbs widen | Daily</title></head><body>
<script id="__NEXT_DATA__" type="application/json">{"props":{"pageProps":{"related":[{"headline":"Another story","publishedDate":1700000000000}],
"payload":{"data":{"article":{"headline":"Chip curbs widen","publishedDate":1776249000000,"urlAlias":"/tech/article/1/chip-curbs",
"authors":[{"name":"Jane Example"}],"paywalled":true,
"body":{"json":[{"type":"p","children":[{"type":"text","data":"One "},{"type":"a","children":[{"type":"text","data":"link"}]},{"type":"text","data":"."}]},
{"type":"inline-ad-slot"},{"type":"h3","children":[{"type":"text","data":"Sub"}]},{"type":"p","children":[{"type":"text","data":"Two."}]}]}}}}}}}</script>
</body></html>"#;
        let a = read(&Html::parse_document(html)).expect("article");
        assert_eq!(a.title.as_deref(), Some("Chip curbs widen"));
        assert_eq!(a.authors, vec!["Jane Example"]);
        assert_eq!(
            a.published.map(|d| d.to_rfc3339()).as_deref(),
            Some("2026-04-15T10:30:00+00:00")
        );
        assert_eq!(a.canonical.as_deref(), Some("/tech/article/1/chip-curbs"));
        assert!(a.paywalled);
        assert_eq!(a.body.as_deref(), Some("One link.\n\nSub\n\nTwo."));
    }

    #[test]
    fn window_state_needs_the_page_title() {
        let state = r#"window.__APOLLO_STATE__ = {"Post:1":{"title":"A related story","date":"x","publishedAt":"2026-01-01T00:00:00Z","author":"A"}};"#;
        let html = format!(
            "<html><head><title>The page's story</title></head><body><script>{state}</script></body></html>"
        );
        assert!(read(&Html::parse_document(&html)).is_none());
        let html = html.replace("The page's story", "A related story");
        let a = read(&Html::parse_document(&html)).expect("named by the title");
        assert_eq!(a.authors, vec!["A"]);
    }
}
