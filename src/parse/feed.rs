//! RSS / Atom / RDF / JSON Feed through feed-rs, normalised into [`Entry`].

use chrono::{DateTime, Duration, Utc};
use feed_rs::model::{self, FeedType};
use sha2::{Digest, Sha256};

use std::sync::{Arc, Mutex};

use super::repair::{self, Dialect};
use super::{Entry, Format, ParseError, ParsedFeed, dates, resolve};
use crate::extract::text::html_to_text;

/// Dates further in the future than this are publisher errors (wrong time zone, typos), not news
/// from tomorrow; they are dropped rather than allowed to pin an article to the top of "newest".
const MAX_FUTURE_SKEW_HOURS: i64 = 26;

/// Parses an XML feed: the repair layer first, then feed-rs, then normalisation.
pub(super) fn parse(text: &str, base: Option<&str>) -> Result<ParsedFeed, ParseError> {
    let unreadable_dates = Arc::new(Mutex::new(Vec::new()));
    let repaired = repair::repair_xml(text);
    let feed = match build(base, &unreadable_dates).parse(repaired.text.as_bytes()) {
        Ok(feed) => feed,
        // The repair is a means, not a gate: if feed-rs reads the original, so be it.
        Err(e) => build(base, &unreadable_dates)
            .parse(text.as_bytes())
            .map_err(|_| classify(&e))?,
    };
    if repaired.cut_entry && feed.entries.is_empty() {
        // Nothing complete before the break: a broken document, not an empty feed.
        return Err(ParseError::Malformed {
            format: "XML feed",
            message: repaired.notes.join("; "),
        });
    }
    let mut warnings = repaired.notes;
    let format = match (feed.feed_type, repaired.dialect) {
        (FeedType::RSS2, Dialect::Rss { legacy: true }) => Format::Rss0,
        (FeedType::Atom, _) => Format::Atom,
        (FeedType::JSON, _) => Format::JsonFeed,
        (FeedType::RSS0, _) => Format::Rss0,
        (FeedType::RSS1, _) => Format::Rss1,
        (FeedType::RSS2, _) => Format::Rss2,
    };
    let now = Utc::now();
    let entries: Vec<Entry> = feed
        .entries
        .into_iter()
        .map(|e| entry(e, base, now, &mut warnings))
        .collect();
    if let Ok(dates) = unreadable_dates.lock() {
        for date in dates.iter().take(5) {
            warnings.push(format!("unreadable date {date:?} left out"));
        }
    }
    Ok(ParsedFeed {
        format,
        title: feed.title.and_then(|t| clean_title(&t.content)),
        entries,
        sitemaps: Vec::new(),
        warnings,
    })
}

/// feed-rs with our date reader, which also remembers what it could not read.
fn build(base: Option<&str>, unreadable: &Arc<Mutex<Vec<String>>>) -> feed_rs::parser::Parser {
    let unreadable = Arc::clone(unreadable);
    feed_rs::parser::Builder::new()
        .base_uri(base)
        // feed-rs falls back to a random UUID for an entry with neither link nor title, which
        // would make the same entry new on every poll; `entry` derives one from its text instead.
        .id_generator(|links, title, _| match links.first() {
            Some(link) => feed_rs::parser::generate_id_from_link_and_title(link, title),
            None => String::new(),
        })
        .timestamp_parser(move |s| {
            let date = dates::parse_feed_date(s);
            if date.is_none()
                && !s.trim().is_empty()
                && let Ok(mut list) = unreadable.lock()
            {
                list.push(s.trim().chars().take(60).collect());
            }
            date
        })
        .build()
}

fn classify(e: &feed_rs::parser::ParseFeedError) -> ParseError {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError as E};
    match e {
        E::ParseError(ParseErrorKind::NoFeedRoot) => {
            ParseError::Unrecognised("no RSS, Atom, RDF or JSON Feed root element".into())
        }
        // JSON never reaches feed-rs (see json_feed.rs).
        other => ParseError::Malformed {
            format: "XML feed",
            message: other.to_string(),
        },
    }
}

fn entry(
    e: model::Entry,
    base: Option<&str>,
    now: DateTime<Utc>,
    warnings: &mut Vec<String>,
) -> Entry {
    let base = e
        .base
        .as_deref()
        .filter(|b| url::Url::parse(b).is_ok())
        .or(base);
    let link = pick_link(&e.links)
        .filter(|l| *l != repair::MISSING_LINK)
        .map(|l| resolve(l, base))
        .or_else(|| {
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
    let id = if e.id.is_empty() {
        content_id(
            e.title.as_ref().map(|t| t.content.as_str()),
            e.summary.as_ref().map(|t| t.content.as_str()),
            e.content.as_ref().and_then(|c| c.body.as_deref()),
            e.published,
        )
    } else {
        e.id
    };
    Entry {
        id,
        title: e.title.and_then(|t| clean_title(&t.content)),
        link,
        published: plausible(e.published, now, warnings),
        updated: plausible(e.updated, now, warnings),
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

/// An id for an entry that has neither id nor link: a digest of what it says, so the same
/// entry gets the same id on every poll.
pub(super) fn content_id(
    title: Option<&str>,
    summary: Option<&str>,
    content: Option<&str>,
    published: Option<DateTime<Utc>>,
) -> String {
    let mut hash = Sha256::new();
    for part in [title, summary, content] {
        hash.update(part.unwrap_or("").as_bytes());
        hash.update([0]);
    }
    hash.update(published.map(|d| d.to_rfc3339()).unwrap_or_default());
    format!("urn:wirewatch:{}", &hex::encode(hash.finalize())[..32])
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

pub(super) fn plausible(
    date: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    warnings: &mut Vec<String>,
) -> Option<DateTime<Utc>> {
    let date = date?;
    if date > now + Duration::hours(MAX_FUTURE_SKEW_HOURS) {
        warnings.push(format!("date {date} is in the future; left out"));
        return None;
    }
    Some(date)
}

/// Titles are plain text to a reader, but RSS titles often carry entities and markup meant as
/// HTML (`AT&amp;amp;T`, `&lt;b&gt;`): decode and strip them, and fold whitespace.
pub(super) fn clean_title(raw: &str) -> Option<String> {
    let title = if raw.contains('<') {
        html_to_text(raw).replace("\n\n", " ")
    } else {
        let decoded = repair::decode_references(raw);
        decoded.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    (!title.is_empty()).then_some(title)
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
        let mut warnings = Vec::new();
        assert!(plausible(Some(now + Duration::days(30)), now, &mut warnings).is_none());
        assert!(plausible(Some(now + Duration::hours(2)), now, &mut warnings).is_some());
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn entries_without_id_or_link_get_the_same_id_every_time() {
        let doc = "<rss version=\"2.0\"><channel><item><description>Only text</description></item></channel></rss>";
        let a = parse_document(doc.as_bytes(), None, None).unwrap();
        let b = parse_document(doc.as_bytes(), None, None).unwrap();
        assert_eq!(a.entries[0].id, b.entries[0].id);
        assert!(a.entries[0].id.starts_with("urn:wirewatch:"));
    }

    #[test]
    fn json_feed() {
        let doc = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[{"id":"1","url":"https://e.com/1","title":"One","content_text":"Body"}]}"#;
        let f = parse_document(doc.as_bytes(), None, None).unwrap();
        assert_eq!(f.format, Format::JsonFeed);
        assert_eq!(f.entries[0].content.as_deref(), Some("Body"));
    }
}
