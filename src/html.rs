//! HTML parsing with work bounded by input size, for pages written by anyone.
//!
//! The HTML5 tree builder checks "is an element of this kind in scope?" by walking the stack of
//! open elements, on nearly every start and end tag, so a page of N nested `<div>`s costs N²
//! (measured: 40,000 levels took 3.4 s, 200,000 more than a minute). Browsers bound the tree
//! instead: Chromium stops nesting at 512 levels. [`parse_document`] does the same before the
//! tree builder sees the page: one linear pass over the markup that leaves out the start and end
//! tags of elements deeper than [`MAX_DEPTH`], keeping their text. Every stage after it (scope
//! checks, our own walks over ancestors) is then bounded by a constant per node.
//!
//! The pass estimates depth the way the tree builder nests: void elements, self-closing tags,
//! comments and raw-text elements (`<script>`, `<style>`, ...) add no level; a `<p>`, `<li>`,
//! `<option>` or table cell that the parser would close implicitly is closed here too. The
//! estimate only needs to be right for real pages, which stay far below the limit; on hostile
//! ones an error in it only moves where flattening starts.

use std::borrow::Cow;

use scraper::Html;

/// Nesting deeper than this is flattened. News pages nest 20 to 60 levels, rarely past 150.
pub const MAX_DEPTH: usize = 256;

/// Parses a whole document, flattening nesting beyond [`MAX_DEPTH`].
pub fn parse_document(html: &str) -> Html {
    Html::parse_document(&flatten_deep_nesting(html, MAX_DEPTH))
}

/// The markup the tree builder gets from [`parse_document`]: nesting beyond [`MAX_DEPTH`] and
/// tags beyond [`MAX_ELEMENTS`] left out. For HTML parsers other than ours (libraries that parse
/// the page themselves), so that their work is bounded the same way.
pub fn bounded(html: &str) -> Cow<'_, str> {
    flatten_deep_nesting(html, MAX_DEPTH)
}

/// Parses a fragment (feed summaries), flattening nesting beyond [`MAX_DEPTH`].
pub fn parse_fragment(html: &str) -> Html {
    Html::parse_fragment(&flatten_deep_nesting(html, MAX_DEPTH))
}

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param",
    "source", "track", "wbr", "frame", "basefont", "bgsound", "image",
];
/// Elements whose content is text up to their own end tag.
const RAW_TEXT: &[&str] = &[
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
    "plaintext",
];
/// Elements an open one of the same kind is closed by (`<li>` after `<li>`), or that a block
/// start closes (`<p>`).
const SELF_CLOSING_SIBLINGS: &[&str] = &[
    "p", "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "rb", "rt", "rp", "rtc",
];
/// Formatting elements: the tree builder remembers each one that is left open and re-creates
/// all of them in every new block (`<p><b id=1>x</p><p><b id=2>x</p>...` re-creates 1, then 1
/// and 2, ...): quadratic nodes and memory (2,000 such paragraphs, 40 KB, took 50 s and 370 MB).
const FORMATTING: &[&str] = &[
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];
/// Formatting elements left open at once beyond which new ones are left out; real pages keep a
/// handful open (an unclosed `<font>` or two).
pub const MAX_OPEN_FORMATTING: usize = 6;
/// Start tags read before the rest of the page is read as text alone: a long news page has a few
/// thousand elements, so this bounds every later stage without touching real pages.
pub const MAX_ELEMENTS: usize = 60_000;
/// Structure the tree builder creates once, whatever the markup says.
const ROOTS: &[&str] = &["html", "head", "body"];

/// The markup with tags nested deeper than `max_depth` left out (their text stays), borrowed
/// unchanged when nothing is that deep. Linear in the input: each tag costs at most `max_depth`.
pub fn flatten_deep_nesting(html: &str, max_depth: usize) -> Cow<'_, str> {
    let bytes = html.as_bytes();
    let mut out: Option<String> = None;
    // Bytes of `html` before `copied` are already in `out` (or need no copy while it is None).
    let mut copied = 0;
    let mut stack: Vec<String> = Vec::new();
    // Start tags left out beyond the limit, still open.
    let mut excess: usize = 0;
    // Formatting elements not closed by their own end tag yet, and those left out, by name.
    let mut formatting: Vec<&'static str> = Vec::new();
    let mut formatting_dropped: std::collections::HashMap<&'static str, usize> =
        std::collections::HashMap::new();
    let mut elements = 0usize;
    // Past the element budget every tag is left out; the text stays.
    let mut over_budget = false;
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'<', &bytes[i..]) {
        let start = i + off;
        let Some(tag) = scan_tag(bytes, start) else {
            i = start + 1;
            continue;
        };
        i = tag.end;
        let drop = match tag.kind {
            // Comments become nodes too.
            TagKind::Other => {
                elements += 1;
                elements > MAX_ELEMENTS
            }
            TagKind::Start { name, self_closing } => {
                if let Some(end) = raw_text_end(bytes, &name, tag.end) {
                    i = end;
                }
                let format = FORMATTING.iter().find(|f| **f == name).copied();
                elements += 1;
                if elements > MAX_ELEMENTS {
                    over_budget = true;
                    true
                } else if self_closing
                    || VOID.contains(&name.as_str())
                    || ROOTS.contains(&name.as_str())
                {
                    false
                } else if let Some(f) = format
                    && formatting.len() >= MAX_OPEN_FORMATTING
                {
                    *formatting_dropped.entry(f).or_default() += 1;
                    true
                } else {
                    if let Some(f) = format {
                        formatting.push(f);
                    }
                    if SELF_CLOSING_SIBLINGS.contains(&name.as_str())
                        && stack.last().is_some_and(|top| *top == name)
                        || stack.last().is_some_and(|top| top == "p") && closes_p(&name)
                    {
                        stack.pop();
                    }
                    if stack.len() >= max_depth {
                        excess += 1;
                        true
                    } else {
                        stack.push(name);
                        false
                    }
                }
            }
            TagKind::End { name } => {
                let format = FORMATTING.iter().find(|f| **f == name).copied();
                if let Some(n) = format.and_then(|f| formatting_dropped.get_mut(f))
                    && *n > 0
                {
                    *n -= 1;
                    true
                } else if over_budget {
                    true
                } else if excess > 0 {
                    excess -= 1;
                    true
                } else {
                    if let Some(pos) = stack.iter().rposition(|n| *n == name) {
                        stack.truncate(pos);
                    }
                    if let Some(pos) = format.and_then(|f| formatting.iter().rposition(|n| *n == f))
                    {
                        formatting.remove(pos);
                    }
                    false
                }
            }
        };
        if drop {
            let buf = out.get_or_insert_with(|| String::with_capacity(html.len()));
            buf.push_str(&html[copied..start]);
            copied = tag.end;
        }
    }
    match out {
        None => Cow::Borrowed(html),
        Some(mut buf) => {
            buf.push_str(&html[copied..]);
            Cow::Owned(buf)
        }
    }
}

/// Block starts that close an open `<p>` in the tree builder.
fn closes_p(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "ul"
            | "ol"
            | "dl"
            | "table"
            | "section"
            | "article"
            | "aside"
            | "header"
            | "footer"
            | "nav"
            | "blockquote"
            | "pre"
            | "form"
            | "figure"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "hr"
            | "main"
            | "address"
            | "fieldset"
            | "details"
            | "menu"
    )
}

enum TagKind {
    Start {
        name: String,
        self_closing: bool,
    },
    End {
        name: String,
    },
    /// A comment, doctype or processing instruction: no level.
    Other,
}

struct Tag {
    kind: TagKind,
    /// Index just past the tag's closing `>`.
    end: usize,
}

/// Reads the tag that starts at `bytes[start] == b'<'`; `None` when it is text (a lone `<`).
fn scan_tag(bytes: &[u8], start: usize) -> Option<Tag> {
    let rest = &bytes[start + 1..];
    if rest.starts_with(b"!--") {
        let end =
            memchr::memmem::find(&rest[3..], b"-->").map_or(bytes.len(), |p| start + 1 + 3 + p + 3);
        return Some(Tag {
            kind: TagKind::Other,
            end,
        });
    }
    if rest.first().is_some_and(|b| matches!(b, b'!' | b'?')) {
        let end = memchr::memchr(b'>', rest).map_or(bytes.len(), |p| start + 1 + p + 1);
        return Some(Tag {
            kind: TagKind::Other,
            end,
        });
    }
    let (closing, name_at) = match rest.first() {
        Some(b'/') => (true, start + 2),
        _ => (false, start + 1),
    };
    let name_len = bytes[name_at..]
        .iter()
        .take_while(|b| !b.is_ascii_whitespace() && !matches!(b, b'/' | b'>'))
        .count();
    if name_len == 0 || !bytes[name_at].is_ascii_alphabetic() {
        return None;
    }
    let name = String::from_utf8_lossy(&bytes[name_at..name_at + name_len]).to_ascii_lowercase();
    // Attributes may hold `>` inside quotes.
    let mut j = name_at + name_len;
    let mut quote: Option<u8> = None;
    let mut prev = 0u8;
    while j < bytes.len() {
        let b = bytes[j];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            // A quote opens a value only after `=` (the tokenizer's rule, loosely).
            None if (b == b'"' || b == b'\'') && prev == b'=' => quote = Some(b),
            None if b == b'>' => break,
            None => {}
        }
        if !b.is_ascii_whitespace() {
            prev = b;
        }
        j += 1;
    }
    let end = (j + 1).min(bytes.len());
    let self_closing = !closing && j > 0 && bytes.get(j - 1) == Some(&b'/');
    Some(Tag {
        kind: if closing {
            TagKind::End { name }
        } else {
            TagKind::Start { name, self_closing }
        },
        end,
    })
}

/// For a raw-text element, the index of its end tag's `<` (or the end of input).
fn raw_text_end(bytes: &[u8], name: &str, from: usize) -> Option<usize> {
    if !RAW_TEXT.contains(&name) {
        return None;
    }
    if name == "plaintext" {
        return Some(bytes.len());
    }
    let mut k = from;
    while let Some(p) = memchr::memmem::find(&bytes[k..], b"</") {
        let at = k + p;
        let candidate = &bytes[at + 2..];
        if candidate.len() >= name.len()
            && candidate[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && candidate
                .get(name.len())
                .is_none_or(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))
        {
            return Some(at);
        }
        k = at + 2;
    }
    Some(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_of(doc: &Html) -> usize {
        doc.tree
            .nodes()
            .map(|n| n.ancestors().count())
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn ordinary_pages_pass_unchanged() {
        let page = r#"<!doctype html><html><head><title>a < b</title><script>if (a<b && "</div>") {}</script></head>
<body><div class="x" data-q='1>0'><p>One<p>Two<ul><li>a<li>b</ul><img src=x><br/><svg><path d="M0"/></svg>
<!-- <div><div><div> --><table><tr><td>1<td>2</table></div></body></html>"#;
        assert!(matches!(flatten_deep_nesting(page, 4), Cow::Borrowed(_)));
    }

    #[test]
    fn deep_nesting_is_flattened_and_its_text_kept() {
        let n = 5_000;
        let page = format!(
            "<html><body>{}<p>deep text</p>{}<p>after</p></body></html>",
            "<div>".repeat(n),
            "</div>".repeat(n)
        );
        let flat = flatten_deep_nesting(&page, 100);
        assert!(flat.len() < page.len());
        let doc = Html::parse_document(&flat);
        assert!(depth_of(&doc) <= 100 + 4, "depth {}", depth_of(&doc));
        let text: String = doc.root_element().text().collect();
        assert!(
            text.contains("deep text") && text.contains("after"),
            "{text}"
        );
    }

    #[test]
    fn formatting_left_open_in_every_paragraph_is_bounded() {
        let page: String = (0..3_000)
            .map(|i| format!("<p><b id={i}>x{i}</p>"))
            .collect();
        let flat = flatten_deep_nesting(&page, MAX_DEPTH);
        let doc = Html::parse_document(&flat);
        assert!(
            doc.tree.nodes().count() < 3_000 * (MAX_OPEN_FORMATTING + 4),
            "{} nodes",
            doc.tree.nodes().count()
        );
        let text: String = doc.root_element().text().collect();
        assert!(text.contains("x0") && text.contains("x2999"));
        // Closed formatting costs nothing.
        let tidy: String = (0..3_000)
            .map(|i| format!("<p><b id={i}>x</b></p>"))
            .collect();
        assert!(matches!(
            flatten_deep_nesting(&tidy, MAX_DEPTH),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn past_the_element_budget_only_text_is_read() {
        let page: String = (0..MAX_ELEMENTS + 5_000)
            .map(|i| format!("<span>w{i} </span><!-- c -->"))
            .collect();
        let doc = Html::parse_document(&flatten_deep_nesting(&page, MAX_DEPTH));
        assert!(doc.tree.nodes().count() < 2 * MAX_ELEMENTS + 5_000);
        let text: String = doc.root_element().text().collect();
        assert!(text.contains("w0 ") && text.contains(&format!("w{} ", MAX_ELEMENTS + 4_999)));
    }

    #[test]
    fn unclosed_paragraphs_and_list_items_do_not_count_as_depth() {
        let page = format!(
            "<body>{}{}</body>",
            "<p>para ".repeat(1_000),
            "<ul>".to_string() + &"<li>item ".repeat(1_000) + "</ul>"
        );
        assert!(matches!(flatten_deep_nesting(&page, 50), Cow::Borrowed(_)));
    }

    #[test]
    fn hostile_fragments_end_safely() {
        for page in [
            "<",
            "<div",
            "<div class=\"unterminated>",
            "<!--",
            "<script>never closed",
            "</",
            "<a<b<c<d",
            "<div>\u{fffd}é<p>ü",
        ] {
            let _ = parse_document(page);
            let _ = flatten_deep_nesting(page, 1);
        }
    }
}
