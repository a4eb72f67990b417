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
