//! HTML listing pages (`kind = "html"`): a page of links to articles, picked by CSS selectors.

use scraper::{ElementRef, Selector};

use super::{Entry, Format, ParseError, ParsedFeed, resolve};

/// Selectors of one HTML source, already checked by config validation.
pub struct ListingSelectors {
    pub link: Selector,
    pub title: Option<Selector>,
    pub date: Option<Selector>,
}

impl ListingSelectors {
    pub fn new(link: &str, title: Option<&str>, date: Option<&str>) -> Result<Self, String> {
        let parse = |s: &str| Selector::parse(s).map_err(|e| format!("`{s}`: {e}"));
        Ok(Self {
            link: parse(link)?,
            title: title.map(parse).transpose()?,
            date: date.map(parse).transpose()?,
        })
    }
}

/// Article links read from one listing page: a section front links a few hundred at most.
pub const MAX_LINKS: usize = 2_000;

/// Reads article links from a listing page (the first [`MAX_LINKS`]); links are resolved against `base` and deduplicated.
pub fn parse_listing(
    html: &str,
    base: &str,
    selectors: &ListingSelectors,
) -> Result<ParsedFeed, ParseError> {
    super::guarded(|| {
        let doc = crate::html::parse_document(html);
        // Index of each link's entry: cards often link an article twice (image, then headline).
        let mut seen = std::collections::HashMap::new();
        let mut entries: Vec<Entry> = Vec::new();
        for el in doc.select(&selectors.link) {
            if entries.len() >= MAX_LINKS {
                break;
            }
            let Some(href) = link_of(el) else { continue };
            let link = resolve(href, Some(base));
            if let Some(&i) = seen.get(&link) {
                // The first link may have been an image with no text: a later one names it.
                let entry: &mut Entry = &mut entries[i];
                if entry.title.is_none() {
                    entry.title = Some(text_of(el)).filter(|t| !t.is_empty());
                }
                continue;
            }
            seen.insert(link.clone(), entries.len());
            let title = selectors
                .title
                .as_ref()
                .and_then(|s| near(el, s))
                .map(text_of)
                .or_else(|| Some(text_of(el)))
                .filter(|t| !t.is_empty());
            let published = selectors
                .date
                .as_ref()
                .and_then(|s| near(el, s))
                .and_then(|d| {
                    d.value()
                        .attr("datetime")
                        .map(str::to_string)
                        .or_else(|| Some(text_of(d)))
                })
                .and_then(|d| crate::extract::dates::parse_date(&d));
            entries.push(Entry {
                id: link.clone(),
                title,
                link: Some(link),
                published,
                ..Entry::default()
            });
        }
        if entries.is_empty() {
            return Err(ParseError::Unrecognised(
                "the link selector matched no links on the listing page".into(),
            ));
        }
        Ok(ParsedFeed {
            format: Format::HtmlListing,
            title: doc
                .select(&Selector::parse("title").expect("static selector"))
                .next()
                .map(text_of),
            entries,
            sitemaps: Vec::new(),
            warnings: Vec::new(),
        })
    })
}

/// Title and date live near the link: the first match inside the link's closest ancestors.
fn near<'a>(el: ElementRef<'a>, selector: &Selector) -> Option<ElementRef<'a>> {
    std::iter::once(el)
        .chain(el.ancestors().filter_map(ElementRef::wrap))
        .take(4)
        .find_map(|anc| anc.select(selector).next())
}

fn link_of(el: ElementRef<'_>) -> Option<&str> {
    el.value().attr("href").or_else(|| {
        el.select(&Selector::parse("a[href]").expect("static selector"))
            .next()
            .and_then(|a| a.value().attr("href"))
    })
}

fn text_of(el: ElementRef) -> String {
    el.text()
        .collect::<Vec<_>>()
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_gives_at_most_max_links() {
        let links: String = (0..MAX_LINKS + 50)
            .map(|i| format!("<a href=\"/story/{i}\">Story {i}</a>"))
            .collect();
        let sel = ListingSelectors::new("a[href]", None, None).expect("valid");
        let f = parse_listing(&links, "https://e.example/", &sel).expect("a listing");
        assert_eq!(f.entries.len(), MAX_LINKS);
    }

    #[test]
    fn picks_links_titles_and_dates() {
        let html = r#"<html><body><ul>
<li class="item"><a class="headline" href="/news/1">Export rule</a><time datetime="2026-11-20T09:00:00Z">Nov 20</time></li>
<li class="item"><a class="headline" href="/news/2">Second</a></li>
<li class="item"><a class="headline" href="/news/1">dup</a></li>
</ul><a href="/about">About</a></body></html>"#;
        let sel = ListingSelectors::new("li.item a.headline", None, Some("time")).unwrap();
        let f = parse_listing(html, "https://gov.example/news", &sel).unwrap();
        assert_eq!(f.entries.len(), 2);
        assert_eq!(
            f.entries[0].link.as_deref(),
            Some("https://gov.example/news/1")
        );
        assert_eq!(f.entries[0].title.as_deref(), Some("Export rule"));
        assert!(f.entries[0].published.is_some());
    }
}
