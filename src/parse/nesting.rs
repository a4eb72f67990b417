//! A linear check of XML nesting before a tree parser sees the document.
//!
//! roxmltree (sitemaps, OPML) descends one call per element level, so a document of 20,000
//! nested elements overflows a thread's stack, which aborts the whole process: no
//! `catch_unwind` can contain it. Feeds and sitemaps nest a handful of levels; anything deeper
//! than [`MAX_XML_DEPTH`] is refused as malformed before parsing.

/// Elements open at once beyond which a document is refused.
pub const MAX_XML_DEPTH: usize = 256;

/// The first depth past `limit` that the document reaches, if it does.
pub fn xml_too_deep(text: &str, limit: usize) -> Option<usize> {
    let b = text.as_bytes();
    let find = |from: usize, pat: &[u8]| memchr::memmem::find(&b[from.min(b.len())..], pat);
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'<', &b[i..]) {
        let at = i + off;
        let rest = &b[at + 1..];
        let skip_to = |pat: &[u8]| find(at + 1, pat).map_or(b.len(), |p| at + 1 + p + pat.len());
        i = if rest.starts_with(b"!--") {
            skip_to(b"-->")
        } else if rest.starts_with(b"![CDATA[") {
            skip_to(b"]]>")
        } else if rest.starts_with(b"?") || rest.starts_with(b"!") {
            // A declaration or processing instruction; a broken one (no end before the next
            // `<`) is skipped only up to that `<`, as a lenient parser reads on from there.
            let next_open = find(at + 1, b"<").map_or(b.len(), |p| at + 1 + p);
            let end = if rest.starts_with(b"?") {
                skip_to(b"?>")
            } else {
                // A DOCTYPE's internal subset holds `<` and `>` of its own.
                match (find(at + 1, b"["), find(at + 1, b">")) {
                    (Some(open), Some(close)) if open < close => skip_to(b"]>"),
                    _ => skip_to(b">"),
                }
            };
            if rest.starts_with(b"!DOCTYPE") || rest.starts_with(b"!doctype") {
                end
            } else {
                end.min(next_open)
            }
        } else {
            let end = tag_end(b, at + 1);
            if rest.starts_with(b"/") {
                depth = depth.saturating_sub(1);
            } else if end >= 2 && b[end - 2] != b'/' {
                depth += 1;
                if depth > limit {
                    return Some(depth);
                }
            }
            end
        };
    }
    None
}

/// Index just past the `>` that ends the tag starting at `from` (quotes respected).
fn tag_end(b: &[u8], from: usize) -> usize {
    let mut quote = None;
    for (k, &c) in b.iter().enumerate().skip(from) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'>' => return k + 1,
            None => {}
        }
    }
    b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_documents_pass_and_deep_ones_are_caught() {
        let ok = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b>">]><urlset a="1>2"><!-- <a><a> --><url><loc>x</loc><e/><![CDATA[<a><a><a>]]></url></urlset>"#;
        assert_eq!(xml_too_deep(ok, 3), None);
        assert_eq!(xml_too_deep(ok, 2), Some(3));
        let deep = format!("<a>{}", "<b>".repeat(300));
        assert_eq!(xml_too_deep(&deep, 256), Some(257));
        let flat = "<a></a>".repeat(100_000);
        assert_eq!(xml_too_deep(&flat, 1), None);
        let broken_decl = format!("<?xml version=\"1.0\" encodin<a>{}", "<b>x".repeat(300));
        assert!(xml_too_deep(&broken_decl, 256).is_some());
        for broken in [
            "<",
            "<a",
            "<a b='>",
            "<!--",
            "<![CDATA[",
            "<!DOCTYPE [",
            "</",
        ] {
            let _ = xml_too_deep(broken, 1);
        }
    }
}
