//! The Atom feed of an alert's matches, for analysts' feed readers.

use chrono::Utc;

use super::Alert;
use super::store::MatchRecord;

/// Text escaped for XML content and attribute values (also used for OPML).
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 does not allow at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{fffe}' | '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Renders an Atom 1.0 feed; `self_url` is the feed's own address.
pub fn render(alert: &Alert, matches: &[MatchRecord], self_url: &str) -> String {
    let updated = matches
        .first()
        .map(|m| m.matched_at)
        .unwrap_or_else(Utc::now);
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    x.push_str(&format!(
        "<title>wirewatch: {}</title>\n",
        esc(&alert.spec.name)
    ));
    x.push_str(&format!(
        "<subtitle>{}</subtitle>\n",
        esc(&alert.spec.query)
    ));
    x.push_str(&format!("<id>urn:wirewatch:alert:{}</id>\n", alert.id));
    x.push_str(&format!(
        "<link rel=\"self\" href=\"{}\"/>\n",
        esc(self_url)
    ));
    x.push_str(&format!(
        "<updated>{}</updated>\n<generator>wirewatch</generator>\n",
        updated.to_rfc3339()
    ));
    for m in matches {
        let a = &m.article;
        x.push_str("<entry>\n");
        x.push_str(&format!("<title>{}</title>\n", esc(&a.title)));
        x.push_str(&format!(
            "<id>urn:wirewatch:alert:{}:{}</id>\n",
            alert.id,
            esc(&a.article_id)
        ));
        if a.url.starts_with("http://") || a.url.starts_with("https://") {
            x.push_str(&format!(
                "<link rel=\"alternate\" href=\"{}\"/>\n",
                esc(&a.url)
            ));
        }
        x.push_str(&format!(
            "<updated>{}</updated>\n",
            m.matched_at.to_rfc3339()
        ));
        if let Some(p) = a.published {
            x.push_str(&format!("<published>{}</published>\n", p.to_rfc3339()));
        }
        x.push_str(&format!(
            "<author><name>{}</name></author>\n",
            esc(&a.source)
        ));
        for t in &a.topics {
            x.push_str(&format!("<category term=\"{}\"/>\n", esc(&t.name)));
        }
        let summary: Vec<String> = a.evidence.iter().map(super::Payload::marked).collect();
        x.push_str(&format!(
            "<summary type=\"text\">{}</summary>\n",
            esc(&summary.join("\n"))
        ));
        x.push_str("</entry>\n");
    }
    x.push_str("</feed>\n");
    x
}
