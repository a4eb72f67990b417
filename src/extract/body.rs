//! Main-text extraction: find the element that holds the article's paragraphs, then read its
//! text blocks, leaving out navigation, share bars, captions and link lists.
//!
//! A first version in the spirit of Readability: paragraphs vote for their parent (and half a vote
//! for the grandparent) by their length and low link density; the best-scored container wins.

use std::collections::HashMap;
use std::sync::LazyLock;

use ego_tree::NodeId;
use scraper::{ElementRef, Html, Node, Selector};

/// Containers that never hold article text.
const BOILERPLATE_TAGS: &[&str] = &[
    "nav",
    "footer",
    "aside",
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
    "comments",
    "share",
    "sharing",
    "social",
    "related",
    "promo",
    "newsletter",
    "subscribe",
    "breadcrumb",
    "breadcrumbs",
    "advert",
    "ad",
    "ads",
    "cookie",
    "cookies",
    "popup",
    "modal",
    "recommend",
    "recommended",
    "signup",
    "byline",
    "caption",
    "credit",
    "tags",
    "toolbar",
    "outbrain",
    "taboola",
    "disqus",
    "widget",
    // Consent banners, author boxes, recirculation and sign-up boxes, in the languages the
    // development sets hold (English, German, French, Spanish).
    "consent",
    "gdpr",
    "bio",
    "authorbox",
    "trending",
    "recirculation",
    "kommentar",
    "kommentare",
    "teilen",
    "empfehlungen",
    "werbung",
    "anzeige",
    "commentaires",
    "partage",
    "comentarios",
    "compartir",
    "relacionadas",
    "relacionados",
    "publicidad",
];
/// Layout words: boilerplate unless the same class also names the article (`main-content-sidebar`
/// is a sidebar, `post-body has-sidebar` is the article).
const LAYOUT_WORDS: &[&str] = &[
    "sidebar", "footer", "navbar", "menu", "paywall", "banner", "masthead",
];
const TEXT_BLOCKS: &[&str] = &[
    "p",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "dt",
    "dd",
    "blockquote",
    "pre",
    "td",
];
/// ARIA landmark and widget roles that are never the article.
const BOILERPLATE_ROLES: &[&str] = &[
    "navigation",
    "banner",
    "contentinfo",
    "complementary",
    "search",
    "dialog",
    "alertdialog",
    "menu",
    "menubar",
    "toolbar",
    "tablist",
];
/// schema.org types (microdata `itemtype`) of page parts that are not the article.
const BOILERPLATE_ITEMTYPES: &[&str] = &[
    "/Comment",
    "/WPFooter",
    "/WPSideBar",
    "/WPHeader",
    "/SiteNavigationElement",
    "/WPAdBlock",
];

/// Class or id words that mark the article container.
const POSITIVE_WORDS: &[&str] = &[
    "article",
    "body",
    "content",
    "entry",
    "main",
    "post",
    "story",
    "text",
    "blog",
    "prose",
    "articlebody",
    "storybody",
    "richtext",
];

fn class_words(el: &ElementRef) -> Vec<String> {
    let v = el.value();
    format!(
        "{} {}",
        v.attr("class").unwrap_or(""),
        v.attr("id").unwrap_or("")
    )
    .to_ascii_lowercase()
    .split(|c: char| !c.is_ascii_alphanumeric())
    .filter(|w| !w.is_empty())
    .map(String::from)
    .collect()
}

/// Never article text, whatever the page: navigation, forms, scripts, asides.
fn is_boilerplate_tag(el: &ElementRef) -> bool {
    let v = el.value();
    BOILERPLATE_TAGS.contains(&v.name())
        || v.attr("hidden").is_some()
        || v.attr("aria-hidden") == Some("true")
        || v.attr("role")
            .is_some_and(|r| BOILERPLATE_ROLES.contains(&r.trim().to_ascii_lowercase().as_str()))
        || v.attr("itemtype").is_some_and(|t| {
            BOILERPLATE_ITEMTYPES
                .iter()
                .any(|b| t.trim_end().ends_with(b))
        })
        || matches!(v.attr("itemprop"), Some("comment" | "author"))
}

/// Marked as boilerplate by its class or id (share bars, related links, comments ...), or a
/// `<form>` / `<header>`: usually boilerplate, but some sites wrap the whole page in a form.
fn has_boilerplate_class(el: &ElementRef) -> bool {
    if matches!(el.value().name(), "form" | "header") {
        return true;
    }
    let words = class_words(el);
    // Whole words only: "shared-content" is boilerplate, "article-body" never is.
    let positive = words.iter().any(|w| POSITIVE_WORDS.contains(&w.as_str()));
    words
        .iter()
        .any(|w| BOILERPLATE_WORDS.contains(&w.as_str()))
        || (!positive && words.iter().any(|w| LAYOUT_WORDS.contains(&w.as_str())))
}

/// Inside navigation, a form, an aside ... Class names on ancestors are not trusted here: page
/// wrappers often carry layout words such as `has-sidebar` around the article itself.
fn in_boilerplate_tag(el: &ElementRef) -> bool {
    is_boilerplate_tag(el)
        || el
            .ancestors()
            .filter_map(ElementRef::wrap)
            .any(|a| is_boilerplate_tag(&a))
}

/// How much a container's class and id speak for it being the article.
fn class_weight(el: &ElementRef) -> f64 {
    // schema.org microdata names the body outright.
    if el.value().attr("itemprop") == Some("articleBody") {
        return 3.0;
    }
    let words = class_words(el);
    let positive = words.iter().any(|w| POSITIVE_WORDS.contains(&w.as_str()));
    let negative = words
        .iter()
        .any(|w| BOILERPLATE_WORDS.contains(&w.as_str()));
    match (positive, negative) {
        (true, false) => 1.25,
        (false, true) => 0.25,
        _ => 1.0,
    }
}

/// Text a reader sees in an element: script, style and `<noscript>` (which HTML parsers keep as
/// raw markup text) left out.
fn block_text(el: &ElementRef) -> String {
    let mut out = String::new();
    visible_text(*el, &mut out);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Iterative (an explicit traversal, not recursion), so nesting from the page costs no stack.
fn visible_text(el: ElementRef, out: &mut String) {
    use ego_tree::iter::Edge;
    let mut skipping: Option<NodeId> = None;
    for edge in el.traverse() {
        match edge {
            Edge::Open(node) if skipping.is_none() && node.id() != el.id() => match node.value() {
                Node::Text(t) => out.push_str(t),
                Node::Element(e)
                    if matches!(
                        e.name(),
                        "script" | "style" | "noscript" | "template" | "svg"
                    ) =>
                {
                    skipping = Some(node.id())
                }
                Node::Element(e) if e.name() == "br" => out.push(' '),
                _ => {}
            },
            Edge::Close(node) if skipping == Some(node.id()) => skipping = None,
            _ => {}
        }
    }
}

/// Characters of text a reader sees on the whole page (whitespace folded), for telling how much
/// of it the extracted body holds.
pub(super) fn page_text_chars(doc: &Html) -> usize {
    let body = Selector::parse("body").expect("static selector");
    doc.select(&body)
        .next()
        .map(|b| block_text(&b).chars().count())
        .unwrap_or(0)
}

/// Text directly inside an element (not in child elements): paragraphs separated by `<br>`.
fn direct_text(el: &ElementRef) -> String {
    el.children()
        .filter_map(|c| match c.value() {
            Node::Text(t) => Some(t.to_string()),
            Node::Element(e) if matches!(e.name(), "a" | "b" | "i" | "em" | "strong" | "span") => {
                ElementRef::wrap(c).map(|e| e.text().collect::<String>())
            }
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

static LINKS: LazyLock<Selector> = LazyLock::new(|| Selector::parse("a").expect("static selector"));

fn link_text_len(el: &ElementRef) -> usize {
    el.select(&LINKS)
        .map(|l| block_text(&l).chars().count())
        .sum()
}

/// Counts a CJK character as a word's worth of text, so Chinese and Japanese pages score fairly.
fn weight(text: &str) -> f64 {
    text.chars()
        .map(|c| if c > '\u{2e80}' { 3.0 } else { 1.0 })
        .sum()
}

/// The article's main text, paragraphs separated by blank lines.
pub(super) fn main_text(doc: &Html) -> String {
    main_text_marked(doc).0
}

/// [`main_text`], and whether the page itself marks the chosen text as the article: it lies in
/// an `<article>` element or one with `itemprop="articleBody"`.
pub(super) fn main_text_marked(doc: &Html) -> (String, bool) {
    let blocks = Selector::parse("p, pre, blockquote, div, td, section").expect("static selector");
    let mut scores: HashMap<NodeId, f64> = HashMap::new();
    // Paragraph score summed over every ancestor: how much article text a subtree holds.
    let mut totals: HashMap<NodeId, f64> = HashMap::new();
    for para in doc.select(&blocks) {
        let name = para.value().name();
        let text = if matches!(name, "p" | "pre" | "blockquote") {
            block_text(&para)
        } else {
            // Containers count only for text of their own (sites that write paragraphs as
            // text separated by <br>), never for their children's.
            let own = direct_text(&para);
            if weight(&own) < 80.0 {
                continue;
            }
            own
        };
        let len = weight(&text);
        if len < 25.0 || in_boilerplate_tag(&para) {
            continue;
        }
        let links = if matches!(name, "p" | "pre" | "blockquote") {
            link_text_len(&para) as f64
        } else {
            0.0
        };
        let density = links / text.chars().count().max(1) as f64;
        if density > 0.5 {
            continue;
        }
        let score = (1.0 + len / 100.0).min(4.0) * (1.0 - density)
            + text.matches([',', '，', '、']).count() as f64 * 0.3;
        let own = if matches!(name, "p" | "pre" | "blockquote") {
            None
        } else {
            Some(para)
        };
        for a in own
            .into_iter()
            .chain(para.ancestors().filter_map(ElementRef::wrap))
        {
            *totals.entry(a.id()).or_default() += score;
        }
        let mut ancestors = own
            .into_iter()
            .chain(para.ancestors().filter_map(ElementRef::wrap));
        for share in [1.0, 0.5, 0.25] {
            match ancestors.next() {
                Some(a) => *scores.entry(a.id()).or_default() += score * share,
                None => break,
            }
        }
    }
    let best = scores
        .iter()
        .filter_map(|(id, s)| {
            let el = doc.tree.get(*id).and_then(ElementRef::wrap)?;
            Some((el, s * class_weight(&el)))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(el, _)| el);
    let Some(best) = best else {
        return (String::new(), false);
    };
    // Article bodies are often split over sibling containers (ads between them); widen to the
    // parent when it adds substantial scored siblings.
    let container = widen(best, &totals);
    let marked = std::iter::once(best)
        .chain(best.ancestors().filter_map(ElementRef::wrap))
        .any(|e| {
            e.value().name() == "article" || e.value().attr("itemprop") == Some("articleBody")
        });
    (collect_blocks(container), marked)
}

/// The article's lead (standfirst, "Vorspann", "chapeau"): the page's own summary, shown above the
/// body but outside its container. Found as the visible block whose text is the page's meta
/// description; `None` when the body already holds it or no visible block shows it.
pub(super) fn lead(doc: &Html, body: &str) -> Option<String> {
    let metas = Selector::parse("meta[content]").expect("static selector");
    let description = doc.select(&metas).find_map(|m| {
        let v = m.value();
        let key = v.attr("name").or(v.attr("property"))?;
        (key.eq_ignore_ascii_case("description") || key.eq_ignore_ascii_case("og:description"))
            .then(|| {
                v.attr("content")
                    .unwrap_or("")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
    })?;
    if weight(&description) < 60.0 {
        return None;
    }
    let probe: String = description.chars().take(30).collect();
    let folded_body = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if folded_body.contains(&probe) {
        return None;
    }
    let len = description.chars().count() as f64;
    // Text nodes are short, so finding the one that starts the description is linear in the page.
    for node in doc.tree.root().descendants() {
        let Node::Text(t) = node.value() else {
            continue;
        };
        let folded = t.split_whitespace().collect::<Vec<_>>().join(" ");
        if folded.is_empty()
            || !(folded.starts_with(&probe)
                || probe.starts_with(&folded) && folded.chars().count() >= 20)
        {
            continue;
        }
        let block = node.ancestors().filter_map(ElementRef::wrap).find(|e| {
            matches!(
                e.value().name(),
                "p" | "h2" | "h3" | "div" | "section" | "header" | "strong" | "span" | "td"
            )
        });
        let Some(block) = block else { continue };
        if matches!(block.value().name(), "title" | "head") || in_boilerplate_tag(&block) {
            return None;
        }
        let text = block_text(&block);
        let n = text.chars().count() as f64;
        return (n >= len * 0.8 && n <= len * 1.5 && text.starts_with(&probe)).then_some(text);
    }
    None
}

/// Article bodies are often split over sibling containers (figures or ads between sections):
/// climb while the parent adds a substantial share of article text of its own.
fn widen<'a>(best: ElementRef<'a>, totals: &HashMap<NodeId, f64>) -> ElementRef<'a> {
    let total = |e: &ElementRef| totals.get(&e.id()).copied().unwrap_or(0.0);
    let Some(parent) = best.parent().and_then(ElementRef::wrap) else {
        return best;
    };
    if matches!(parent.value().name(), "body" | "html") || has_boilerplate_class(&parent) {
        return best;
    }
    // Climbing further merges neighbouring stories and comment threads more often than it
    // recovers split bodies (measured on the extraction benchmark).
    if total(&parent) - total(&best) >= total(&best) * 0.5 {
        parent
    } else {
        best
    }
}

fn collect_blocks(container: ElementRef) -> String {
    let total = weight(&block_text(&container)).max(1.0);
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
        if el.id() != container.id() {
            // A class-marked subtree that holds most of the container's text is the article
            // wearing an unlucky class name, not boilerplate.
            let skip = is_boilerplate_tag(&el)
                || (has_boilerplate_class(&el) && weight(&block_text(&el)) < total * 0.5);
            if skip {
                inside_block = Some(el.id());
                continue;
            }
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
            // Short list items are kept only without links: bullet points of the article, not
            // menus or "related" lists.
            let short_list_item = name == "li" && weight(&text) < 40.0 && density > 0.0;
            if density <= 0.5 && !short_list_item {
                push(text);
            }
        } else if matches!(name, "div" | "section" | "td") {
            let own = direct_text(&el);
            if weight(&own) >= 40.0 {
                push(own);
            }
        }
    }
    blocks.join("\n\n")
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
