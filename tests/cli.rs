//! The command-line contracts: check-config, parse-feed, extract, analyze.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::repo_file;

fn wirewatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wirewatch"))
}

#[test]
fn every_shipped_config_is_valid() {
    for entry in std::fs::read_dir(repo_file("config")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml")
            || path.file_name().unwrap() == "topics.toml"
        {
            continue;
        }
        let out = wirewatch().arg("check-config").arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn check_config_reports_every_problem_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r#"[fetch]
per_host_concurrency = 0

[[source]]
name = "Dup"
kind = "feed"
url = "https://example.com/a.xml"
interval = "5 fortnights"
"#,
    )
    .unwrap();
    // A syntax-level problem (bad duration) is reported with its line.
    let out = wirewatch().arg("check-config").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:8"), "{err}");
    assert!(
        err.contains("source \"Dup\"") && err.contains("interval"),
        "{err}"
    );

    // Semantic problems are all reported at once.
    std::fs::write(
        &path,
        r#"[fetch]
per_host_concurrency = 0

[[source]]
name = "Dup"
kind = "feed"
url = "not a url"

[[source]]
name = "Dup"
kind = "feed"
url = "https://example.com/b.xml"
"#,
    )
    .unwrap();
    let out = wirewatch().arg("check-config").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("3 problems"), "{err}");
    assert!(
        err.contains("[fetch], field `per_host_concurrency`"),
        "{err}"
    );
    assert!(err.contains("source \"Dup\", field `url`"), "{err}");
    assert!(err.contains("source \"Dup\", field `name`"), "{err}");
}

#[test]
fn parse_feed_prints_the_contract_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.xml");
    std::fs::write(
        &path,
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
<item><title>Chip curbs</title><link>https://news.example/a</link><guid>a1</guid>
<pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate><author>desk@news.example (Desk)</author>
<description>Teaser &lt;b&gt;text&lt;/b&gt;</description></item></channel></rss>"#,
    )
    .unwrap();
    let out = wirewatch().arg("parse-feed").arg(&path).output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format"], "rss2");
    assert_eq!(v["title"], "Wire");
    let e = &v["entries"][0];
    for key in [
        "id",
        "title",
        "link",
        "published",
        "updated",
        "authors",
        "summary",
        "content",
    ] {
        assert!(e.get(key).is_some(), "entry lacks {key}: {e}");
    }
    assert_eq!(e["link"], "https://news.example/a");
    assert_eq!(e["published"], "2026-11-20T08:00:00Z");

    // stdin, and a clear failure on garbage.
    let mut child = wirewatch()
        .args(["parse-feed", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"this is not a feed")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing usable"));
}

#[test]
fn extract_reads_metadata_and_body() {
    let dir = tempfile::tempdir().unwrap();
    let page = common::article_page(
        "Dutch widen ASML export curbs",
        &[
            "The Netherlands widened export controls on ASML lithography machines on Friday.",
            "China's commerce ministry said it opposed the move.",
        ],
    );
    std::fs::write(dir.path().join("a1.html"), &page).unwrap();
    let out = wirewatch()
        .args(["extract", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], "a1");
    assert_eq!(v["title"], "Dutch widen ASML export curbs");
    assert_eq!(v["authors"][0], "Fixture Reporter");
    assert_eq!(v["language"], "en");
    assert_eq!(v["published"], "2026-11-20T08:00:00Z");
    let body = v["body"].as_str().unwrap();
    assert!(
        body.starts_with("The Netherlands widened") && body.contains("\n\nChina's commerce"),
        "{body}"
    );
    assert!(
        !body.contains("Copyright") && !body.contains("Home"),
        "{body}"
    );
}

#[test]
fn analyze_finds_the_beat_in_a_passage() {
    // A passage in the vein of the article that started the project.
    let text = "Washington's sanctions have not stopped Nvidia's A100 and H100 chips from reaching China, \
the South China Morning Post reported, as smugglers routed GPUs through Singapore. \
The US will raise tariffs on legacy semiconductors from 25% to 50%, and Commerce tightened export controls on HBM and GAA technology.";
    let mut child = wirewatch()
        .arg("analyze")
        .arg("--config")
        .arg(repo_file("config/wirewatch.toml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = serde_json::json!({"id": "seed", "text": text}).to_string() + "\n";
    child
        .stdin
        .take()
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], "seed");
    let topics: Vec<&str> = v["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for t in ["sanctions", "tariffs", "export_controls", "chip_smuggling"] {
        assert!(topics.contains(&t), "{t} missing: {v}");
    }
    let entities: Vec<&str> = v["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    for e in [
        "us", "china", "nvidia", "a100", "h100", "hbm", "gaa", "scmp",
    ] {
        assert!(entities.contains(&e), "{e} missing: {entities:?}");
    }
    let facts = v["facts"].as_array().unwrap();
    let fact = facts
        .iter()
        .find(|f| f["kind"] == "tariff_change")
        .unwrap_or_else(|| panic!("no tariff fact: {v}"));
    assert_eq!(fact["from_pct"], 25.0);
    assert_eq!(fact["to_pct"], 50.0);
    assert_eq!(fact["product"], "legacy semiconductors");
    // The passage's smuggling sentence is a case with its chips.
    let case = facts
        .iter()
        .find(|f| f["kind"] == "smuggling_case")
        .unwrap_or_else(|| panic!("no smuggling case: {v}"));
    assert!(!case["chips"].as_array().unwrap().is_empty(), "{case}");
    let mention = &v["mentions"][0];
    let start = mention["start"].as_u64().unwrap() as usize;
    let end = mention["end"].as_u64().unwrap() as usize;
    let sentence: String = text.chars().skip(start).take(end - start).collect();
    assert_eq!(sentence, mention["sentence"].as_str().unwrap());
}

#[test]
fn sources_export_then_import_round_trips_the_feed_list() {
    let dir = tempfile::tempdir().unwrap();
    let from = dir.path().join("from.toml");
    std::fs::write(
        &from,
        r#"# The desk's sources.
[[source]]
name = "Trade & tariffs <daily>"
kind = "feed"
url = "https://trade.example.org/feed.xml?section=a&b=1"

[[source]]
name = "BIS press"
kind = "feed"
url = "https://bis.example.gov/rss"
interval = "30m"

[[source]]
name = "News sitemap"
kind = "sitemap"
url = "https://news.example.com/sitemap.xml"
"#,
    )
    .unwrap();
    let out = wirewatch()
        .args(["sources", "export-opml", "--config"])
        .arg(&from)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let opml = dir.path().join("sources.opml");
    std::fs::write(&opml, &out.stdout).unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 sitemap/html source(s) left out"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Into a configuration that does not exist yet, then once more: the second adds nothing.
    let to = dir.path().join("to.toml");
    let import = || {
        wirewatch()
            .args(["sources", "import-opml"])
            .arg(&opml)
            .arg("--config")
            .arg(&to)
            .output()
            .unwrap()
    };
    let out = import();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("2 source(s) added, 0 skipped"), "{said}");
    let out = import();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("0 source(s) added, 2 skipped"), "{said}");
    assert!(said.contains("already configured"), "{said}");

    let feeds = |path: &std::path::Path| {
        let config = wirewatch::config::Config::load(path).unwrap();
        let mut v: Vec<(String, String)> = config
            .sources
            .iter()
            .filter(|s| s.kind == wirewatch::config::SourceKind::Feed)
            .map(|s| (s.name.clone(), s.url.clone()))
            .collect();
        v.sort();
        v
    };
    // `Config::load` validated the written file: the daemon would take it at its next reload.
    assert_eq!(feeds(&from), feeds(&to));
}

#[test]
fn import_opml_names_the_problem_of_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("w.toml");
    std::fs::write(&config, "# nothing yet\n").unwrap();
    for (text, expect) in [
        ("<opml><body><outline text=\"x\"", "not well-formed XML"),
        (
            "<rss version=\"2.0\"><channel/></rss>",
            "the root element is <rss>",
        ),
    ] {
        let opml = dir.path().join("bad.opml");
        std::fs::write(&opml, text).unwrap();
        let out = wirewatch()
            .args(["sources", "import-opml"])
            .arg(&opml)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad.opml") && err.contains(expect), "{err}");
        assert_eq!(std::fs::read_to_string(&config).unwrap(), "# nothing yet\n");
    }
}
