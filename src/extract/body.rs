//! Main-text extraction: find the element that holds the article's paragraphs, then read its
//! text blocks, leaving out navigation, share bars, captions and link lists.
//!
//! A first version in the spirit of Readability: paragraphs vote for their parent (and half a vote
//! for the grandparent) by their length and low link density; the best-scored container wins.

use std::collections::HashMap;

use ego_tree::NodeId;
use scraper::{ElementRef, Html, Node, Selector};

/// Containers that never hold article text.
const BOILERPLATE_TAGS: &[&str] = &[
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "script",
    "style",
    "noscript",
    "button",
    "select",
    "template",
    "svg",
    "iframe",
    "figcaption",
    "menu",
    "dialog",
];
/// Class or id words that mark boilerplate containers.
const BOILERPLATE_WORDS: &[&str] = &[
    "comment",
    "share",
    "social",
    "related",
    "promo",
    "newsletter",
    "subscribe",
    "sidebar",
    "breadcrumb",
    "advert",
    "cookie",
    "footer",
    "navbar",
    "menu",
    "popup",
    "modal",
    "recommend",
    "signup",
    "paywall",
    "byline",
    "caption",
    "tags",
    "toolbar",
    "outbrain",
    "taboola",
];
const TEXT_BLOCKS: &[&str] = &["p", "h2", "h3", "h4", "li", "blockquote", "pre", "td"];

fn is_boilerplate(el: &ElementRef) -> bool {
    let v = el.value();
    if BOILERPLATE_TAGS.contains(&v.name()) {
        return true;
    }
    if v.attr("hidden").is_some() || v.attr("aria-hidden") == Some("true") {
        return true;
    }
    let marks = format!(
        "{} {}",
        v.attr("class").unwrap_or(""),
        v.attr("id").unwrap_or("")
    )
    .to_ascii_lowercase();
    // Whole words only: "shared-content" is boilerplate, "article-body" never is.
    marks
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| BOILERPLATE_WORDS.contains(&w))
}

fn in_boilerplate(el: &ElementRef) -> bool {
    is_boilerplate(el)
        || el
            .ancestors()
            .filter_map(ElementRef::wrap)
            .any(|a| is_boilerplate(&a) && a.value().name() != "body" && a.value().name() != "html")
}

fn block_text(el: &ElementRef) -> String {
    el.text()
        .collect::<Vec<_>>()
        .join("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn link_text_len(el: &ElementRef) -> usize {
    let a = Selector::parse("a").expect("static selector");
    el.select(&a).map(|l| block_text(&l).chars().count()).sum()
}

/// Counts a CJK character as a word's worth of text, so Chinese and Japanese pages score fairly.
fn weight(text: &str) -> f64 {
    text.chars()
        .map(|c| if c > '\u{2e80}' { 3.0 } else { 1.0 })
        .sum()
}

/// The article's main text, paragraphs separated by blank lines.
pub(super) fn main_text(doc: &Html) -> String {
    let p = Selector::parse("p, pre, blockquote").expect("static selector");
    let mut scores: HashMap<NodeId, f64> = HashMap::new();
    for para in doc.select(&p) {
        if in_boilerplate(&para) {
            continue;
        }
        let text = block_text(&para);
        let len = weight(&text);
        if len < 25.0 {
            continue;
        }
        let links = link_text_len(&para) as f64;
        let density = links / text.chars().count().max(1) as f64;
        if density > 0.5 {
            continue;
        }
        let score = (1.0 + len / 100.0).min(4.0) * (1.0 - density)
            + text.matches([',', '，', '、']).count() as f64 * 0.3;
        let mut ancestors = para.ancestors().filter_map(ElementRef::wrap);
        if let Some(parent) = ancestors.next() {
            *scores.entry(parent.id()).or_default() += score;
        }
        if let Some(grand) = ancestors.next() {
            *scores.entry(grand.id()).or_default() += score / 2.0;
        }
    }
    let best = scores
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .and_then(|(id, _)| doc.tree.get(*id))
        .and_then(ElementRef::wrap);
    let Some(best) = best else {
        return String::new();
    };
    // Article bodies are often split over sibling containers (ads between them); widen to the
    // parent when it adds substantial scored siblings.
    let container = widen(best, &scores);
    collect_blocks(container)
}

fn widen<'a>(best: ElementRef<'a>, scores: &HashMap<NodeId, f64>) -> ElementRef<'a> {
    let best_score = scores.get(&best.id()).copied().unwrap_or(0.0);
    let Some(parent) = best.parent().and_then(ElementRef::wrap) else {
        return best;
    };
    if matches!(parent.value().name(), "body" | "html") {
        return best;
    }
    let siblings: f64 = parent
        .children()
        .filter_map(ElementRef::wrap)
        .filter(|c| c.id() != best.id())
        .filter_map(|c| scores.get(&c.id()))
        .filter(|s| **s >= best_score * 0.2)
        .sum();
    if siblings > 0.0 { parent } else { best }
}

fn collect_blocks(container: ElementRef) -> String {
    let mut blocks: Vec<String> = Vec::new();
    let mut push = |t: String| {
        if !t.is_empty() && blocks.last() != Some(&t) {
            blocks.push(t);
        }
    };
    let mut stack = vec![container];
    // Depth-first, in document order; a text block's own descendants are read as part of it.
    let mut ordered = Vec::new();
    while let Some(el) = stack.pop() {
        ordered.push(el);
        let children: Vec<ElementRef> = el.children().filter_map(ElementRef::wrap).collect();
        stack.extend(children.into_iter().rev());
    }
    let mut inside_block: Option<NodeId> = None;
    for el in ordered {
        if let Some(b) = inside_block {
            if el.ancestors().any(|a| a.id() == b) {
                continue;
            }
            inside_block = None;
        }
        if el.id() != container.id() && is_boilerplate(&el) {
            // Skip the whole subtree.
            inside_block = Some(el.id());
            continue;
        }
        let name = el.value().name();
        if TEXT_BLOCKS.contains(&name) {
            inside_block = Some(el.id());
            let text = block_text(&el);
            let chars = text.chars().count();
            if chars == 0 {
                continue;
            }
            let density = link_text_len(&el) as f64 / chars as f64;
            let short_list_item = name == "li" && weight(&text) < 40.0;
            if density <= 0.5 && !short_list_item {
                push(text);
            }
        } else if name == "div" && has_direct_text(&el) {
            // Some sites put paragraphs straight into divs separated by <br>.
            inside_block = Some(el.id());
            let text = block_text(&el);
            if weight(&text) >= 40.0
                && (link_text_len(&el) as f64) < 0.3 * text.chars().count() as f64
            {
                push(text);
            }
        }
    }
    blocks.join("\n\n")
}

fn has_direct_text(el: &ElementRef) -> bool {
    el.children().any(|c| match c.value() {
        Node::Text(t) => t.trim().chars().count() > 30,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_article_and_skips_boilerplate() {
        let html = r#"<html><body>
<nav><p>Home | World | Business | Tech and a long enough navigation paragraph to count</p></nav>
<div class="share-bar"><p>Share this story on every social network you can think of, please do</p></div>
<article><h1>Title</h1>
<div class="article-body">
<p>The United States on Friday added 12 Chinese companies to the Entity List, officials said.</p>
<p>The move, which targets makers of advanced chips, follows months of talks, according to people familiar.</p>
<aside><p>Related: another story that should never appear in the body of this article</p></aside>
<p>Beijing said it would respond, calling the restrictions an abuse of export controls.</p>
</div></article>
<footer><p>Copyright 2026 Example News Group, all rights reserved worldwide forever</p></footer>
</body></html>"#;
        let text = main_text(&Html::parse_document(html));
        let paras: Vec<&str> = text.split("\n\n").collect();
        assert_eq!(paras.len(), 3, "{text}");
        assert!(paras[0].starts_with("The United States on Friday"));
        assert!(paras[2].starts_with("Beijing said"));
        assert!(!text.contains("Related"));
        assert!(!text.contains("Copyright"));
    }
}
