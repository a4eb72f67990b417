//! RSS / Atom / RDF / JSON Feed through feed-rs, normalised into [`Entry`].

use chrono::{DateTime, Duration, Utc};
use feed_rs::model::{self, FeedType};

use super::{Entry, Format, ParseError, ParsedFeed, resolve};

/// Dates further in the future than this are publisher errors (wrong time zone, typos), not news
/// from tomorrow; they are dropped rather than allowed to pin an article to the top of "newest".
const MAX_FUTURE_SKEW_HOURS: i64 = 26;

pub(super) fn parse(bytes: &[u8], base: Option<&str>) -> Result<ParsedFeed, ParseError> {
    let parser = feed_rs::parser::Builder::new().base_uri(base).build();
    let feed = parser.parse(bytes).map_err(|e| classify(&e))?;
    let format = match feed.feed_type {
        FeedType::Atom => Format::Atom,
        FeedType::JSON => Format::JsonFeed,
        FeedType::RSS0 => Format::Rss0,
        FeedType::RSS1 => Format::Rss1,
        FeedType::RSS2 => Format::Rss2,
    };
    let now = Utc::now();
    let entries = feed
        .entries
        .into_iter()
        .map(|e| entry(e, base, now))
        .collect();
    Ok(ParsedFeed {
        format,
        title: feed.title.map(|t| t.content.trim().to_string()),
        entries,
        sitemaps: Vec::new(),
    })
}

fn classify(e: &feed_rs::parser::ParseFeedError) -> ParseError {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError as E};
    match e {
        E::ParseError(ParseErrorKind::NoFeedRoot) => {
            ParseError::Unrecognised("no RSS, Atom, RDF or JSON Feed root element".into())
        }
        E::JsonSerde(e) => ParseError::Malformed {
            format: "JSON Feed",
            message: e.to_string(),
        },
        E::JsonUnsupportedVersion(v) => ParseError::Malformed {
            format: "JSON Feed",
            message: format!("unsupported version {v}"),
        },
        other => ParseError::Malformed {
            format: "XML feed",
            message: other.to_string(),
        },
    }
}

fn entry(e: model::Entry, base: Option<&str>, now: DateTime<Utc>) -> Entry {
    let base = e
        .base
        .as_deref()
        .filter(|b| url::Url::parse(b).is_ok())
        .or(base);
    let link = pick_link(&e.links).map(|l| resolve(l, base)).or_else(|| {
        // Many RSS feeds put the permalink only in <guid isPermaLink="true">.
        let id = e.id.trim();
        (id.starts_with("http://") || id.starts_with("https://")).then(|| id.to_string())
    });
    let authors = e
        .authors
        .iter()
        .filter_map(|p| p.name.as_deref().or(p.email.as_deref()))
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    Entry {
        id: e.id,
        title: e
            .title
            .map(|t| t.content.trim().to_string())
            .filter(|t| !t.is_empty()),
        link,
        published: plausible(e.published, now),
        updated: plausible(e.updated, now),
        authors,
        summary: e
            .summary
            .map(|t| t.content)
            .filter(|s| !s.trim().is_empty()),
        content: e
            .content
            .and_then(|c| c.body)
            .filter(|s| !s.trim().is_empty()),
    }
}

/// The entry's own page: an `alternate` (or unlabelled) link, else the first one.
fn pick_link(links: &[model::Link]) -> Option<&str> {
    links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or_else(|| links.first())
        .map(|l| l.href.as_str())
        .filter(|h| !h.trim().is_empty())
}

fn plausible(date: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    date.filter(|d| *d <= now + Duration::hours(MAX_FUTURE_SKEW_HOURS))
}

#[cfg(test)]
mod tests {
    use super::super::parse_document;
    use super::*;

    #[test]
    fn rss_with_guid_permalink_and_relative_links() {
        let doc = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>A &amp; B</title><guid isPermaLink="true">https://e.com/a</guid><pubDate>Mon, 02 Jun 2025 10:00:00 GMT</pubDate></item>
<item><title>Rel</title><link>/b</link><author>x@e.com (X)</author></item>
</channel></rss>"#;
        let f = parse_document(doc.as_bytes(), Some("https://e.com/feed"), None).unwrap();
        assert_eq!(f.format, Format::Rss2);
        assert_eq!(f.entries[0].title.as_deref(), Some("A & B"));
        assert_eq!(f.entries[0].link.as_deref(), Some("https://e.com/a"));
        assert!(f.entries[0].published.is_some());
        assert_eq!(f.entries[1].link.as_deref(), Some("https://e.com/b"));
    }

    #[test]
    fn future_dates_are_dropped() {
        let now = Utc::now();
        assert!(plausible(Some(now + Duration::days(30)), now).is_none());
        assert!(plausible(Some(now + Duration::hours(2)), now).is_some());
    }

    #[test]
    fn json_feed() {
        let doc = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{"id":"1","url":"https://e.com/1","title":"One","content_text":"Body"}]}"#;
        let f = parse_document(doc.as_bytes(), None, None).unwrap();
        assert_eq!(f.format, Format::JsonFeed);
        assert_eq!(f.entries[0].content.as_deref(), Some("Body"));
    }
}
