//! HTML fragments (feed summaries and content) reduced to clean text for analysis and search.

use scraper::Node;

/// Elements whose content is never text a reader sees.
const SKIP: &[&str] = &[
    "script", "style", "noscript", "template", "iframe", "svg", "head",
];
/// Elements that end a paragraph.
const BLOCK: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "tr",
    "section",
    "article",
    "ul",
    "ol",
    "table",
    "pre",
    "figure",
    "header",
    "footer",
    "hr",
    "dd",
    "dt",
];

/// Text of an HTML fragment with paragraphs kept as blank-line-separated blocks and whitespace
/// folded inside them. Plain text passes through with its entities decoded.
pub fn html_to_text(fragment: &str) -> String {
    if !fragment.contains('<') && !fragment.contains('&') {
        return normalize_blocks(fragment);
    }
    let doc = crate::html::parse_fragment(fragment);
    let mut out = String::new();
    walk(doc.tree.root(), &mut out);
    normalize_blocks(&out)
}

/// Iterative (an explicit traversal, not recursion), so nesting from the page costs no stack.
fn walk(root: ego_tree::NodeRef<Node>, out: &mut String) {
    use ego_tree::iter::Edge;
    let mut skipping: Option<ego_tree::NodeId> = None;
    for edge in root.traverse() {
        match edge {
            Edge::Open(node) if skipping.is_none() && node.id() != root.id() => {
                match node.value() {
                    Node::Text(t) => out.push_str(t),
                    Node::Element(e) if SKIP.contains(&e.name()) => skipping = Some(node.id()),
                    Node::Element(e) if BLOCK.contains(&e.name()) => out.push_str("\n\n"),
                    _ => {}
                }
            }
            Edge::Close(node) if skipping == Some(node.id()) => skipping = None,
            Edge::Close(node) if skipping.is_none() && node.id() != root.id() => {
                if let Node::Element(e) = node.value()
                    && BLOCK.contains(&e.name())
                {
                    out.push_str("\n\n");
                }
            }
            _ => {}
        }
    }
}

/// Folds whitespace within paragraphs and keeps one blank line between them.
pub fn normalize_blocks(text: &str) -> String {
    let mut paragraphs = Vec::new();
    for para in text.split("\n\n") {
        let folded = para.split_whitespace().collect::<Vec<_>>().join(" ");
        if !folded.is_empty() {
            paragraphs.push(folded);
        }
    }
    paragraphs.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_paragraphs_and_decodes_entities() {
        let t = html_to_text(
            "<p>US &amp; China&rsquo;s\n  talks</p><script>x()</script><p>Second<br>line</p>",
        );
        assert_eq!(t, "US & China\u{2019}s talks\n\nSecond\n\nline");
    }

    #[test]
    fn plain_text_is_folded() {
        assert_eq!(html_to_text("  a   b \n\n c "), "a b\n\nc");
    }
}
