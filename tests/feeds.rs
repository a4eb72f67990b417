//! Golden tests for feed parsing: every document under tests/fixtures/feeds (written for this
//! project, one per cause the repair and normalisation layers handle) is parsed and compared with
//! the `.expected.json` beside it: the `parse-feed` JSON plus the warnings the parse reported.
//!
//! After a deliberate change, `WIREWATCH_BLESS=1 cargo test --test feeds` rewrites the expected
//! files; review the diff before committing it.

use std::path::{Path, PathBuf};

#[path = "common/golden.rs"]
mod golden;

use wirewatch::parse::parse_document;

const BASE: &str = "https://example.com/feed";

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    files.sort();
    files
}

fn reading(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).expect("fixture");
    match parse_document(&bytes, Some(BASE), None) {
        Ok(feed) => {
            let mut v = serde_json::to_value(&feed).expect("serialisable");
            v["warnings"] = serde_json::json!(feed.warnings);
            v
        }
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    }
}

#[test]
fn every_fixture_reads_as_expected() {
    let files = fixtures();
    assert!(files.len() >= 15, "fixtures missing: {files:?}");
    golden::check(
        files
            .into_iter()
            .map(|path| golden::Case {
                got: reading(&path),
                expected: PathBuf::from(format!("{}.expected.json", path.display())),
                fixture: path,
            })
            .collect(),
    );
}

/// Truncating a real-looking feed at every byte never panics and never invents an entry: what
/// comes back is always a prefix of the complete feed's entries.
#[test]
fn a_feed_cut_anywhere_keeps_only_complete_entries() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds/dates.xml");
    let bytes = std::fs::read(path).expect("fixture");
    let full = parse_document(&bytes, Some(BASE), None).expect("complete feed");
    let titles: Vec<_> = full.entries.iter().map(|e| e.title.clone()).collect();
    for cut in 1..bytes.len() {
        if let Ok(feed) = parse_document(&bytes[..cut], Some(BASE), None) {
            let got: Vec<_> = feed.entries.iter().map(|e| e.title.clone()).collect();
            assert!(
                titles.starts_with(&got),
                "cut at {cut}: {got:?} is not a prefix of {titles:?}"
            );
        }
    }
}

/// Issue 17, point 6: a character reference reads the same whatever its case form (`&#X41;`,
/// `&#x41;`, `&#65;`), in an RSS title, a plain and an escaped-markup description, a CDATA
/// description, and in a page's title and body.
#[test]
fn character_references_in_any_case_form_read_the_same_in_feeds_and_pages() {
    let refs =
        "&#X41;&#x41;&#65; &#X2019;&#x2019;&#8217; &#XE9;&#xe9;&#233;&eacute; &#X26;&#x26;&amp;";
    let want = "AAA ’’’ éééé &&&";
    let escaped = refs.replace('&', "&amp;");
    let feed = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{refs}</title><link>https://example.com/</link>
<item><title>{refs}</title><link>https://example.com/a/1</link><description>{refs}</description></item>
<item><title>two</title><link>https://example.com/a/2</link><description>&lt;p&gt;{escaped}&lt;/p&gt;</description></item>
<item><title>three</title><link>https://example.com/a/3</link><description><![CDATA[<p>{refs}</p>]]></description></item>
</channel></rss>"#
    );
    let feed = parse_document(feed.as_bytes(), Some(BASE), None).expect("feed");
    assert_eq!(feed.title.as_deref(), Some(want));
    assert_eq!(feed.entries.len(), 3, "{:?}", feed.entries);
    assert_eq!(feed.entries[0].title.as_deref(), Some(want));
    // A summary keeps the feed's markup (the contract); its text is what a reader sees.
    for entry in &feed.entries {
        let summary = entry.summary.as_deref().expect("summary");
        assert_eq!(wirewatch::extract::html_to_text(summary), want, "{entry:?}");
    }
    let page = format!(
        "<!DOCTYPE html><html><head><title>{refs}</title></head><body><article><h1>{refs}</h1>\
         <p>{refs} and the rest of a paragraph long enough to be read as the article's text.</p>\
         </article></body></html>"
    );
    let article = wirewatch::extract::extract(&page, None);
    assert_eq!(article.title.as_deref(), Some(want));
    assert!(article.body.starts_with(want), "{:?}", article.body);
}
