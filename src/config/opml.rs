//! OPML in and out: `wirewatch sources import-opml FILE` and `wirewatch sources export-opml`.
//!
//! Imported feeds become `[[source]]` tables appended to the configuration file itself, because
//! that file is the one list of sources an operator edits, checks (`check-config`) and reloads
//! (SIGHUP). Appending text, rather than rewriting the file from parsed data, keeps every comment
//! and layout choice the operator made. Feeds already configured (same URL) are skipped.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;

use super::{Config, ConfigError, SourceConfig, SourceKind};
use crate::alert::feed::esc;

/// Why an OPML document (or the configuration it goes into) could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OpmlError {
    #[error("{file}: not well-formed XML: {message}")]
    Xml { file: String, message: String },
    #[error(
        "{file}: not an OPML document: the root element is <{root}>, expected <opml> (is this a feed rather than a list of feeds?)"
    )]
    NotOpml { file: String, root: String },
    #[error("{file}: the OPML document has no <body> element, so it lists no feeds")]
    NoBody { file: String },
    #[error("cannot read {file}: {message}")]
    Read { file: String, message: String },
    #[error("cannot write {file}: {message}")]
    Write { file: String, message: String },
    #[error("{0}")]
    Config(#[from] ConfigError),
}

/// One feed listed in an OPML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    /// `text` (or `title`) of the outline.
    pub name: String,
    /// `xmlUrl`.
    pub url: String,
    /// The titles of the outlines it is nested in (categories), outermost first.
    pub categories: Vec<String>,
}

/// An outline that names a feed but cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub name: String,
    pub url: String,
    pub reason: String,
}

/// Reads the feeds of an OPML document, nested outlines (categories) included. `file` names the
/// document in errors. An outline with an unusable `xmlUrl` is rejected, not fatal.
pub fn parse(text: &str, file: &str) -> Result<(Vec<OpmlFeed>, Vec<Rejected>), OpmlError> {
    let opts = roxmltree::ParsingOptions {
        // Some exporters still write a DOCTYPE; roxmltree bounds entity expansion itself.
        allow_dtd: true,
        ..Default::default()
    };
    // roxmltree recurses per level: a deep file would overflow the stack (see parse::nesting).
    if let Some(depth) =
        crate::parse::nesting::xml_too_deep(text, crate::parse::nesting::MAX_XML_DEPTH)
    {
        return Err(OpmlError::Xml {
            file: file.to_string(),
            message: format!("outlines nested {depth} levels deep"),
        });
    }
    let doc = roxmltree::Document::parse_with_options(text, opts).map_err(|e| OpmlError::Xml {
        file: file.to_string(),
        message: e.to_string(),
    })?;
    let root = doc.root_element();
    if !root.tag_name().name().eq_ignore_ascii_case("opml") {
        return Err(OpmlError::NotOpml {
            file: file.to_string(),
            root: root.tag_name().name().to_string(),
        });
    }
    let body = root
        .children()
        .find(|n| n.is_element() && n.tag_name().name().eq_ignore_ascii_case("body"))
        .ok_or_else(|| OpmlError::NoBody {
            file: file.to_string(),
        })?;
    let mut feeds = Vec::new();
    let mut rejected = Vec::new();
    let mut path = Vec::new();
    walk(body, &mut path, &mut feeds, &mut rejected);
    Ok((feeds, rejected))
}

fn walk(
    node: roxmltree::Node,
    path: &mut Vec<String>,
    feeds: &mut Vec<OpmlFeed>,
    rejected: &mut Vec<Rejected>,
) {
    for outline in node
        .children()
        .filter(|n| n.is_element() && n.tag_name().name().eq_ignore_ascii_case("outline"))
    {
        // Attribute names are camelCase in the spec, but exporters vary in case.
        let attr = |name: &str| {
            outline
                .attributes()
                .find(|a| a.name().eq_ignore_ascii_case(name))
                .map(|a| a.value().trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let title = attr("text").or_else(|| attr("title"));
        if let Some(url) = attr("xmlUrl") {
            let name = title.unwrap_or_else(|| {
                url::Url::parse(&url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .unwrap_or_else(|| url.clone())
            });
            match pollable(&url) {
                Ok(url) => feeds.push(OpmlFeed {
                    name,
                    url,
                    categories: path.clone(),
                }),
                Err(reason) => rejected.push(Rejected { name, url, reason }),
            }
            continue;
        }
        // An outline without a feed is a category: its children carry its title as their path.
        path.push(title.unwrap_or_default());
        walk(outline, path, feeds, rejected);
        path.pop();
    }
}

/// The URL normalised (host lower-cased, default port dropped), or why it cannot be polled.
fn pollable(url: &str) -> Result<String, String> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u.into()),
        Ok(u) => Err(format!(
            "only http and https URLs with a host can be polled, not `{}`",
            u.scheme()
        )),
        Err(e) => Err(format!("not a URL: {e}")),
    }
}

/// The OPML 2.0 document of the configured feed sources. Sitemap and HTML sources are left out:
/// OPML lists feeds, and no feed reader could use their selectors.
pub fn export(sources: &[SourceConfig]) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n");
    let _ = writeln!(
        out,
        "  <head>\n    <title>wirewatch sources</title>\n    <dateCreated>{}</dateCreated>\n  </head>\n  <body>",
        chrono::Utc::now().to_rfc2822()
    );
    for s in sources.iter().filter(|s| s.kind == SourceKind::Feed) {
        let name = esc(&s.name);
        let _ = writeln!(
            out,
            "    <outline type=\"rss\" text=\"{name}\" title=\"{name}\" xmlUrl=\"{}\"/>",
            esc(&s.url)
        );
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// `(name, url)` of the sources appended to the configuration.
    pub added: Vec<(String, String)>,
    /// `(name, url, why)` of the feeds left out.
    pub skipped: Vec<(String, String, String)>,
}

/// Appends the OPML document's feeds to the configuration file at `config` (created when it
/// does not exist) as `[[source]]` tables of kind `feed`. Feeds whose URL is already configured
/// are skipped; a name already taken by another source gets a numbered suffix. The resulting
/// file is validated before it replaces the old one, so a failed import changes nothing.
pub fn import(config: &Path, opml_text: &str, opml_file: &str) -> Result<ImportReport, OpmlError> {
    let (feeds, rejected) = parse(opml_text, opml_file)?;
    let file = config.display().to_string();
    let existing_text = match std::fs::read_to_string(config) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(OpmlError::Read {
                file,
                message: e.to_string(),
            });
        }
    };
    let current = Config::parse(&existing_text, &file)?;
    let mut report = ImportReport::default();
    for r in rejected {
        report.skipped.push((r.name, r.url, r.reason));
    }
    let mut urls: HashSet<String> = current
        .sources
        .iter()
        .map(|s| pollable(&s.url).unwrap_or_else(|_| s.url.clone()))
        .collect();
    let mut names: HashSet<String> = current.sources.iter().map(|s| s.name.clone()).collect();
    for feed in feeds {
        if !urls.insert(feed.url.clone()) {
            report
                .skipped
                .push((feed.name, feed.url, "already configured".into()));
            continue;
        }
        let name = unique_name(&feed.name, &names);
        names.insert(name.clone());
        report.added.push((name, feed.url));
    }
    if report.added.is_empty() {
        return Ok(report);
    }
    let text = append_sources(&existing_text, opml_file, &report.added);
    // Never leave a file behind that the daemon would refuse at its next reload.
    Config::parse(&text, &file)?;
    write_atomically(config, &text).map_err(|e| OpmlError::Write {
        file,
        message: e.to_string(),
    })?;
    Ok(report)
}

fn unique_name(name: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(name) {
        return name.to_string();
    }
    (2..)
        .map(|n| format!("{name} ({n})"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or_else(|| name.to_string())
}

fn append_sources(existing: &str, opml_file: &str, added: &[(String, String)]) -> String {
    #[derive(serde::Serialize)]
    struct Tables<'a> {
        source: Vec<Table<'a>>,
    }
    #[derive(serde::Serialize)]
    struct Table<'a> {
        name: &'a str,
        kind: &'static str,
        url: &'a str,
    }
    let tables = Tables {
        source: added
            .iter()
            .map(|(name, url)| Table {
                name,
                kind: "feed",
                url,
            })
            .collect(),
    };
    // toml's serializer quotes and escapes; a plain string of three fields cannot fail to render.
    let rendered = toml::to_string(&tables).unwrap_or_default();
    let mut text = existing.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    if !text.is_empty() {
        text.push('\n');
    }
    let _ = writeln!(
        text,
        "# Imported from {} by `wirewatch sources import-opml` on {}.",
        opml_file.replace('\n', " "),
        chrono::Utc::now().format("%Y-%m-%d")
    );
    text.push_str(&rendered);
    text
}

/// Writes through a temporary file in the same directory and renames it over the target, so a
/// crash mid-write never leaves half a configuration.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "wirewatch.toml".into());
    let tmp = dir.join(format!(".{name}.import-{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    // Keep the file's permissions (the packaged config is 0640, readable by the service only).
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NESTED: &str = r#"<?xml version="1.0"?>
<opml version="1.0"><head><title>Reader export</title></head><body>
  <outline text="Trade">
    <outline text="Tariff &amp; trade" type="rss" xmlUrl="https://Trade.Example.org/feed.xml"/>
    <outline title="Customs">
      <outline type="rss" xmlUrl="https://customs.example.org/rss"/>
    </outline>
  </outline>
  <outline text="Top" xmlurl="http://example.com/atom" />
  <outline text="Mail" xmlUrl="mailto:x@example.org"/>
  <outline text="Just a link" htmlUrl="https://example.com/"/>
</body></opml>"#;

    #[test]
    fn nested_outlines_are_read_with_their_categories() {
        let (feeds, rejected) = parse(NESTED, "f.opml").unwrap();
        let got: Vec<(&str, &str, Vec<&str>)> = feeds
            .iter()
            .map(|f| {
                (
                    f.name.as_str(),
                    f.url.as_str(),
                    f.categories.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "Tariff & trade",
                    "https://trade.example.org/feed.xml",
                    vec!["Trade"]
                ),
                (
                    "customs.example.org",
                    "https://customs.example.org/rss",
                    vec!["Trade", "Customs"]
                ),
                ("Top", "http://example.com/atom", vec![]),
            ]
        );
        assert_eq!(rejected.len(), 1);
        assert!(rejected[0].reason.contains("mailto"), "{rejected:?}");
    }

    #[test]
    fn bad_documents_say_what_is_wrong() {
        let e = parse("<opml><body><outline", "a.opml").unwrap_err();
        assert!(
            e.to_string().starts_with("a.opml: not well-formed XML"),
            "{e}"
        );
        let e = parse("<rss version=\"2.0\"><channel/></rss>", "b.opml").unwrap_err();
        assert!(e.to_string().contains("root element is <rss>"), "{e}");
        let e = parse("<opml version=\"2.0\"><head/></opml>", "c.opml").unwrap_err();
        assert!(e.to_string().contains("no <body>"), "{e}");
    }

    #[test]
    fn export_escapes_and_lists_feeds_only() {
        let config = Config::parse(
            r#"
[[source]]
name = "A <&> \"B\""
kind = "feed"
url = "https://a.example/feed?x=1&y=2"
[[source]]
name = "Map"
kind = "sitemap"
url = "https://a.example/sitemap.xml"
"#,
            "t.toml",
        )
        .unwrap();
        let doc = export(&config.sources);
        let (feeds, rejected) = parse(&doc, "export").unwrap();
        assert!(rejected.is_empty());
        assert_eq!(
            feeds,
            vec![OpmlFeed {
                name: "A <&> \"B\"".into(),
                url: "https://a.example/feed?x=1&y=2".into(),
                categories: vec![],
            }]
        );
    }

    #[test]
    fn import_appends_keeps_comments_and_skips_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.toml");
        let original = "# my comment\n[daemon]\nlisten = \"127.0.0.1:9\" # inline\n\n[[source]]\nname = \"Top\"\nkind = \"feed\"\nurl = \"https://other.example/x\"\n";
        std::fs::write(&path, original).unwrap();
        let report = import(&path, NESTED, "f.opml").unwrap();
        assert_eq!(
            report.added,
            vec![
                (
                    "Tariff & trade".to_string(),
                    "https://trade.example.org/feed.xml".to_string()
                ),
                (
                    "customs.example.org".to_string(),
                    "https://customs.example.org/rss".to_string()
                ),
                ("Top (2)".to_string(), "http://example.com/atom".to_string()),
            ]
        );
        assert_eq!(report.skipped.len(), 1);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(original), "{text}");
        let config = Config::parse(&text, "w.toml").unwrap();
        assert_eq!(config.sources.len(), 4);
        // A second import adds nothing and leaves the file alone.
        let again = import(&path, NESTED, "f.opml").unwrap();
        assert!(again.added.is_empty());
        assert_eq!(again.skipped.len(), 4);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }
}
