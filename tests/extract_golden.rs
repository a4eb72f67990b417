//! Golden tests for article extraction: every page under tests/fixtures/extract (written for this
//! project: JSON-LD, Next.js, GBK with and without a declaration, a paywall teaser, a bot wall, a
//! login page, a soft 404 ...) is extracted and compared with the `.expected.json` beside it, the
//! JSON `wirewatch extract` prints. `*.listing.html` pages are listing pages, read with the site
//! presets shipped (commented) in config/wirewatch.toml.
//!
//! After a deliberate change, `WIREWATCH_BLESS=1 cargo test --test extract_golden` rewrites the
//! expected files; review the diff by eye before committing it.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "common/golden.rs"]
mod golden;

use wirewatch::config::Config;
use wirewatch::extract::extract_bytes;
use wirewatch::parse::listing::{ListingSelectors, parse_listing};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/extract")
}

fn fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("fixture directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.trim_end_matches(".html")
        .trim_end_matches(".listing")
        .to_string()
}

/// The site presets: the commented `[[source]]` blocks between the preset markers of the shipped
/// configuration, uncommented.
fn presets() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/wirewatch.toml");
    let text = std::fs::read_to_string(path).expect("shipped config");
    let block = text
        .split("# --- presets ---")
        .nth(1)
        .and_then(|rest| rest.split("# --- end of presets ---").next())
        .expect("preset markers in config/wirewatch.toml");
    let toml: String = block
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        // The prose above the first block is not TOML.
        .skip_while(|l| !l.starts_with("[[source]]"))
        .map(|l| format!("{l}\n"))
        .collect();
    Config::parse(&toml, "config/wirewatch.toml (presets)")
        .unwrap_or_else(|e| panic!("the presets do not validate:\n{e}\n{toml}"))
}

fn reading(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).expect("fixture");
    let name = stem(path);
    if path.to_string_lossy().ends_with(".listing.html") {
        let config = presets();
        let preset = config
            .sources
            .iter()
            .find(|s| s.name.starts_with("SCMP"))
            .expect("SCMP preset");
        let selectors = ListingSelectors::new(
            preset.link_selector.as_deref().expect("link_selector"),
            preset.title_selector.as_deref(),
            preset.date_selector.as_deref(),
        )
        .expect("preset selectors");
        let html = String::from_utf8(bytes).expect("listing fixtures are UTF-8");
        return match parse_listing(&html, &preset.url, &selectors) {
            Ok(feed) => serde_json::to_value(&feed).expect("serialisable"),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
    }
    let url = format!("https://news.example/fixtures/{name}");
    serde_json::to_value(extract_bytes(&bytes, None, Some(&url))).expect("serialisable")
}

#[test]
fn every_page_extracts_as_expected() {
    let files = fixtures();
    assert!(files.len() >= 10, "fixtures missing: {files:?}");
    golden::check(
        files
            .into_iter()
            .map(|path| golden::Case {
                got: reading(&path),
                expected: fixture_dir().join(format!("{}.expected.json", stem(&path))),
                fixture: path,
            })
            .collect(),
    );
}

#[test]
fn presets_are_valid_html_sources() {
    let config = presets();
    assert!(config.sources.len() >= 2, "{:?}", config.sources.len());
    for s in &config.sources {
        assert_eq!(s.kind.to_string(), "html", "{}", s.name);
        assert!(s.link_selector.is_some(), "{}", s.name);
    }
}

/// `wirewatch extract` keeps the contract's fields exactly for an article and adds
/// `not_article` only for a page that is not one.
#[test]
fn extract_cli_names_pages_that_are_not_articles() {
    let run = |file: &str| -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_wirewatch"))
            .arg("extract")
            .arg(fixture_dir().join(file))
            .output()
            .expect("run wirewatch");
        assert!(out.status.success(), "{file}: {out:?}");
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let mut keys: Vec<String> = run("jsonld-graph.html")
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "authors",
            "body",
            "canonical_url",
            "language",
            "paywalled",
            "published",
            "site_name",
            "title"
        ]
    );
    assert_eq!(run("login.html")["not_article"], "login");
    assert_eq!(run("soft-404.html")["not_article"], "error-page");
}
