//! Canonical article URLs and the ids derived from them.
//!
//! One article reached through two feeds (one link tagged `?utm_source=rss`, one bare) must be stored
//! once, so the id is a hash of the URL with tracking noise removed.

use sha2::{Digest, Sha256};
use url::Url;

/// Query parameters that only say how a reader arrived, never which article it is.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gclsrc",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "igshid",
    "yclid",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "ref",
    "ref_src",
    "ref_url",
    "cmpid",
    "cmp",
    "ocid",
    "ito",
    "smid",
    "sref",
    "share",
    "xtor",
    "ns_mchannel",
    "ns_source",
    "ns_campaign",
    "ns_linkname",
    "ns_fee",
    "at_medium",
    "at_campaign",
    "CMP",
    "taid",
    "guccounter",
    "src",
    "module",
    "pgtype",
    "rss",
    "feed",
];
const TRACKING_PREFIXES: &[&str] = &["utm_", "at_", "pk_", "piwik_", "mtm_", "__twitter", "hsa_"];

fn is_tracking(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    TRACKING_PREFIXES.iter().any(|p| lower.starts_with(p))
        || TRACKING_PARAMS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(&lower))
}

/// The canonical form of an article URL: fragment dropped, tracking parameters removed, host
/// lower-cased (the `url` crate does that), default port dropped, remaining parameters kept in order.
pub fn canonicalize(url: &Url) -> Url {
    let mut u = url.clone();
    u.set_fragment(None);
    strip_tracking(&mut u);
    if u.path().is_empty() {
        u.set_path("/");
    }
    u
}

/// Parses and canonicalises; `None` for anything that is not an absolute http(s) URL.
pub fn canonical_str(raw: &str) -> Option<Url> {
    let u = Url::parse(raw.trim()).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| canonicalize(&u))
}

/// Removes tracking parameters; the others keep their order.
fn strip_tracking(u: &mut Url) {
    if u.query().is_none() {
        return;
    }
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| !is_tracking(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        u.set_query(None);
    } else {
        u.query_pairs_mut().clear().extend_pairs(kept);
    }
}

/// A link as shown and stored: tracking parameters removed, everything else (fragment included)
/// as given; text that is not an http(s) URL is returned unchanged.
pub fn without_tracking(raw: &str) -> String {
    match Url::parse(raw.trim()) {
        Ok(mut u) if matches!(u.scheme(), "http" | "https") && u.query().is_some() => {
            strip_tracking(&mut u);
            u.to_string()
        }
        _ => raw.to_string(),
    }
}

/// Stable article id: the first 16 bytes of SHA-256 over the canonical URL, in hex. The scheme is
/// left out so that an http and an https link to the same page agree.
pub fn article_id(canonical: &Url) -> String {
    let s = canonical.as_str();
    let without_scheme = s.split_once("://").map(|(_, rest)| rest).unwrap_or(s);
    let digest = Sha256::digest(without_scheme.as_bytes());
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_links_lose_tracking_but_keep_the_rest() {
        assert_eq!(
            without_tracking("https://news.example/a?id=7&utm_source=rss&fbclid=X&gclid=Y#part-2"),
            "https://news.example/a?id=7#part-2"
        );
        assert_eq!(
            without_tracking("https://news.example/a?mc_cid=1&utm_medium=email"),
            "https://news.example/a"
        );
        assert_eq!(without_tracking("urn:uuid:1234"), "urn:uuid:1234");
        assert_eq!(
            without_tracking("https://news.example/a"),
            "https://news.example/a"
        );
    }

    fn c(s: &str) -> String {
        canonical_str(s).unwrap().to_string()
    }

    #[test]
    fn strips_tracking_and_fragment() {
        assert_eq!(
            c("https://WWW.Example.com/a/b?utm_source=rss&utm_medium=feed&id=7#comments"),
            "https://www.example.com/a/b?id=7"
        );
        assert_eq!(
            c("https://example.com/x?fbclid=abc"),
            "https://example.com/x"
        );
        assert_eq!(c("https://example.com:443"), "https://example.com/");
    }

    #[test]
    fn same_article_same_id() {
        let a = canonical_str("https://news.example.com/story/1?utm_source=rss_feed").unwrap();
        let b = canonical_str("http://news.example.com/story/1#top").unwrap();
        assert_eq!(article_id(&a), article_id(&b));
        let other = canonical_str("https://news.example.com/story/2").unwrap();
        assert_ne!(article_id(&a), article_id(&other));
        assert_eq!(article_id(&a).len(), 32);
    }

    #[test]
    fn rejects_non_http() {
        assert!(canonical_str("mailto:a@b.c").is_none());
        assert!(canonical_str("/relative").is_none());
    }
}
