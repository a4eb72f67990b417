//! JSON Feed 1.0 / 1.1, and what publishers make of it, read from a `serde_json::Value`.
//!
//! The one format not handed to feed-rs, for two measured reasons: feed-rs reads JSON through
//! `io::Read` a byte at a time (serde_json's slowest path; a fifth of the feed corpus's bytes are
//! JSON and they took 6% of parsing time), and it refuses a whole feed over one field of the wrong
//! type (a numeric `id`, `tags` as one string, an `author` given as a name, an `http://` or missing
//! `version`). Walking a `Value` takes whatever is there and skips what is not.

use chrono::Utc;
use serde_json::{Map, Value};

use super::feed::{clean_title, content_id, plausible};
use super::{Entry, Format, ParseError, ParsedFeed, dates, resolve};

pub(super) fn parse(text: &str, base: Option<&str>) -> Result<ParsedFeed, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ParseError::Malformed {
        format: "JSON Feed",
        message: e.to_string(),
    })?;
    let Value::Object(feed) = value else {
        return Err(ParseError::Unrecognised(
            "JSON that is not an object".into(),
        ));
    };
    let items = feed.get("items").and_then(Value::as_array);
    let versioned = string(&feed, "version").is_some_and(|v| v.contains("jsonfeed.org"));
    if items.is_none() && !versioned {
        return Err(ParseError::Unrecognised(
            "JSON without a JSON Feed version or items".into(),
        ));
    }
    let feed_authors = authors(&feed);
    let now = Utc::now();
    let mut warnings = Vec::new();
    let mut entries = Vec::new();
    for item in items.into_iter().flatten().filter_map(Value::as_object) {
        let mut date = |key: &str| {
            let raw = string(item, key)?;
            match dates::parse_feed_date(&raw) {
                Some(d) => plausible(Some(d), now, &mut warnings),
                None => {
                    warnings.push(format!("unreadable date {raw:?} left out"));
                    None
                }
            }
        };
        let published = date("date_published");
        let updated = date("date_modified").or(published);
        let link = string(item, "url")
            .or_else(|| string(item, "external_url"))
            .map(|u| resolve(&u, base));
        let title = string(item, "title").and_then(|t| clean_title(&t));
        let summary = string(item, "summary");
        let content = string(item, "content_html").or_else(|| string(item, "content_text"));
        let id = match item.get("id") {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
        .or_else(|| link.clone())
        .unwrap_or_else(|| {
            content_id(
                title.as_deref(),
                summary.as_deref(),
                content.as_deref(),
                published,
            )
        });
        let mut item_authors = authors(item);
        if item_authors.is_empty() {
            item_authors = feed_authors.clone();
        }
        entries.push(Entry {
            id,
            title,
            link,
            published,
            updated,
            authors: item_authors,
            summary,
            content,
        });
    }
    Ok(ParsedFeed {
        format: Format::JsonFeed,
        title: string(&feed, "title").and_then(|t| clean_title(&t)),
        entries,
        sitemaps: Vec::new(),
        warnings,
    })
}

/// A non-empty string field; numbers are not strings here (a numeric title is a mistake).
fn string(object: &Map<String, Value>, key: &str) -> Option<String> {
    object
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `authors` (1.1) or `author` (1.0), each an object with a `name` or, as some write it, a string.
fn authors(object: &Map<String, Value>) -> Vec<String> {
    let name = |v: &Value| match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Object(o) => string(o, "name"),
        _ => None,
    };
    let mut names: Vec<String> = match object.get("authors") {
        Some(Value::Array(list)) => list.iter().filter_map(name).collect(),
        Some(other) => name(other).into_iter().collect(),
        None => Vec::new(),
    };
    if names.is_empty()
        && let Some(author) = object.get("author")
    {
        names.extend(name(author));
    }
    names.retain(|n| !n.is_empty());
    names
}

#[cfg(test)]
mod tests {
    use super::super::parse_document;
    use super::*;

    #[test]
    fn variants_publishers_write() {
        let doc = r#"{"version":"http://jsonfeed.org/version/1","title":"J","author":{"name":"Desk"},
            "items":[{"id":42,"url":"/a","title":"A &amp; B","tags":"x, y","author":"Ann",
                      "date_published":"Sat, 16 Dec 2023 14:02:33 GMT","content_text":"Body"},
                     {"title":"No id","summary":"S","date_modified":"soon","authors":[{"name":"Bo"},"Cy"]},
                     "not an item"]}"#;
        let f = parse(doc, Some("https://e.com/feed.json")).unwrap();
        assert_eq!(f.format, Format::JsonFeed);
        assert_eq!(f.entries.len(), 2);
        let a = &f.entries[0];
        assert_eq!(a.id, "42");
        assert_eq!(a.link.as_deref(), Some("https://e.com/a"));
        assert_eq!(a.title.as_deref(), Some("A & B"));
        assert_eq!(a.authors, ["Ann"]);
        assert_eq!(a.content.as_deref(), Some("Body"));
        assert!(a.published.is_some());
        let b = &f.entries[1];
        assert!(b.id.starts_with("urn:wirewatch:"));
        assert_eq!(b.authors, ["Bo", "Cy"]);
        assert!(f.warnings.iter().any(|w| w.contains("soon")));
    }

    #[test]
    fn json_that_is_not_a_feed() {
        assert!(parse_document(br#"{"a": 1}"#, None, None).is_err());
        assert!(parse_document(br#"{"items": [}"#, None, None).is_err());
        let empty = parse_document(
            br#"{"version": "https://jsonfeed.org/version/1.1", "title": "T"}"#,
            None,
            None,
        )
        .unwrap();
        assert!(empty.entries.is_empty());
    }
}
