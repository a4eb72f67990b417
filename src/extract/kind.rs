//! Pages that are not articles although they answer 200: bot-wall challenges, paywall teasers,
//! login pages and error pages ("soft 404s"). Their text must never be stored as a story.
//!
//! Each test pairs a signal with a short body: real articles carry login forms in their headers,
//! `isAccessibleForFree: false` with the whole text on the page, and Cloudflare's script tag, so
//! a signal alone is not enough.

use scraper::{Html, Selector};
use serde::Serialize;

use super::metadata::Metadata;

/// Why a page is not an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotAnArticle {
    /// An anti-bot challenge (Cloudflare, DataDome, PerimeterX, Akamai) instead of the page.
    BotWall,
    /// Structured data says the article is for subscribers, and the page shows only a teaser.
    Paywall,
    /// A sign-in page (the site redirected the article to it).
    Login,
    /// A "page not found" or server-error page served with status 200.
    ErrorPage,
}

impl NotAnArticle {
    /// The name used in JSON, metrics and source status.
    pub fn as_str(self) -> &'static str {
        match self {
            NotAnArticle::BotWall => "bot-wall",
            NotAnArticle::Paywall => "paywall",
            NotAnArticle::Login => "login",
            NotAnArticle::ErrorPage => "error-page",
        }
    }
}

impl std::fmt::Display for NotAnArticle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotAnArticle::BotWall => "a bot-wall challenge page",
            NotAnArticle::Paywall => "a paywall teaser",
            NotAnArticle::Login => "a login page",
            NotAnArticle::ErrorPage => "an error page served as 200",
        })
    }
}

/// Body text (in characters) up to which a page flagged as paywalled is taken for a teaser. Real
/// teasers run to one to three short paragraphs; subscriber pages that do show the whole story
/// (the extraction benchmark has several) run to thousands of characters.
const PAYWALL_TEASER_MAX_CHARS: usize = 1000;
/// A paywalled text that breaks off with an ellipsis is a teaser up to this length.
const CUT_TEASER_MAX_CHARS: usize = 3000;
/// A challenge, login or error page has little text of its own; navigation and "popular stories"
/// blocks on soft-404 pages are mostly left out by the body extractor.
const THIN_PAGE_MAX_CHARS: usize = 1000;

const ERROR_PHRASES: &[&str] = &[
    "page not found",
    "page cannot be found",
    "page can't be found",
    "page can\u{2019}t be found",
    "page could not be found",
    "page does not exist",
    "page doesn't exist",
    "page no longer exists",
    "page is no longer available",
    "page you requested",
    "page you were looking for",
    "404 not found",
    "error 404",
    "404 error",
    "file not found",
    "410 gone",
    "internal server error",
    "页面不存在",
    "页面未找到",
    "找不到页面",
    "找不到该页面",
    "頁面不存在",
    "ページが見つかりません",
    "페이지를 찾을 수 없습니다",
];
/// Whole titles (before a ` | Site` suffix) that are a status, not a headline.
const ERROR_TITLES: &[&str] = &["404", "410", "500", "not found", "error", "page not found"];
const LOGIN_WORDS: &[&str] = &[
    "sign in",
    "sign-in",
    "signin",
    "log in",
    "log-in",
    "login",
    "登录",
    "登入",
    "ログイン",
    "로그인",
];

fn headings(doc: &Html) -> Vec<String> {
    let mut out = Vec::new();
    for s in ["title", "h1", r#"meta[property="og:title"]"#] {
        let sel = Selector::parse(s).expect("static selector");
        for el in doc.select(&sel).take(2) {
            let t = el
                .value()
                .attr("content")
                .map(str::to_string)
                .unwrap_or_else(|| el.text().collect());
            let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
            if !t.is_empty() {
                out.push(t.to_lowercase());
            }
        }
    }
    out
}

fn is_error_heading(h: &str) -> bool {
    if ERROR_PHRASES.iter().any(|p| h.contains(p)) {
        return true;
    }
    // The title before a site suffix; separators need spaces around them ("error-prone" is a word).
    let end = [" | ", " - ", " \u{2013} ", " \u{2014} ", ": ", " \u{00b7} "]
        .iter()
        .filter_map(|sep| h.find(sep))
        .min()
        .unwrap_or(h.len());
    let first = h[..end].trim_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation());
    ERROR_TITLES.contains(&first)
}

fn is_login_heading(h: &str) -> bool {
    LOGIN_WORDS.iter().any(|w| {
        // Whole words: "blogin" or "login-free" are not sign-in pages.
        h.match_indices(w).any(|(i, _)| {
            let before = h[..i].chars().next_back();
            let after = h[i + w.len()..].chars().next();
            // Only Latin words need boundaries; CJK text has no spaces between words.
            !before.is_some_and(|c| c.is_ascii_alphanumeric())
                && !after.is_some_and(|c| c.is_ascii_alphanumeric())
        })
    })
}

/// A password field a reader can see (hidden modal forms are everywhere on news sites).
fn has_password_field(doc: &Html) -> bool {
    let sel = Selector::parse(r#"input[type="password" i]"#).expect("static selector");
    doc.select(&sel).any(|el| {
        !std::iter::once(el)
            .chain(el.ancestors().filter_map(scraper::ElementRef::wrap))
            .any(|e| {
                e.value().attr("hidden").is_some()
                    || e.value().attr("aria-hidden") == Some("true")
                    || matches!(e.value().name(), "template" | "dialog")
            })
    })
}

/// Says why a page is not an article, or `None` for an article. `html` is the decoded page,
/// `body` the text extracted from it.
pub(super) fn classify(
    html: &str,
    doc: &Html,
    meta: &Metadata,
    body: &str,
) -> Option<NotAnArticle> {
    let chars = body.chars().count();
    let thin = chars < THIN_PAGE_MAX_CHARS;
    if thin && crate::fetch::bot_wall(&Default::default(), html.as_bytes()).is_some() {
        return Some(NotAnArticle::BotWall);
    }
    let cut = ["...", "\u{2026}", "[...]", "[\u{2026}]"]
        .iter()
        .any(|e| body.trim_end().ends_with(e));
    if meta.paywalled && (chars < PAYWALL_TEASER_MAX_CHARS || cut && chars < CUT_TEASER_MAX_CHARS) {
        return Some(NotAnArticle::Paywall);
    }
    if !thin || meta.marked_article {
        return None;
    }
    let heads = headings(doc);
    if has_password_field(doc) && heads.iter().any(|h| is_login_heading(h)) {
        return Some(NotAnArticle::Login);
    }
    if heads.iter().any(|h| is_error_heading(h)) {
        return Some(NotAnArticle::ErrorPage);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_headings() {
        for h in [
            "page not found | daily",
            "404",
            "404 - daily news",
            "oops! that page can\u{2019}t be found.",
            "not found",
            "页面不存在 - 新闻网",
        ] {
            assert!(is_error_heading(h), "{h}");
        }
        for h in [
            "us adds 404 firms to the entity list",
            "chips not found in seized servers, customs says",
            "error-prone export rules draw criticism",
        ] {
            assert!(!is_error_heading(h), "{h}");
        }
    }

    #[test]
    fn login_headings() {
        assert!(is_login_heading("sign in | daily"));
        assert!(is_login_heading("用户登录"));
        assert!(!is_login_heading("bloginfo"));
    }
}
