//! Polite HTTP: one shared client for feed polls and article fetches, with per-host limits,
//! conditional GET, Retry-After, body caps and robots.txt.

pub mod policy;
mod politeness;
mod robots;

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::Utc;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio_util::sync::CancellationToken;
use tracing::debug;
use url::Url;

use crate::config::FetchConfig;
pub use policy::{OutboundPolicy, Refusal};
pub use politeness::HostLimiter;
use robots::RobotsCache;

/// Redirect hops followed before a fetch gives up (each hop is checked by the policy).
const MAX_REDIRECTS: usize = 5;

/// Why a fetch produced no usable response.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("more than 5 redirects (a redirect loop?)")]
    TooManyRedirects,
    #[error("HTTP {status}{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    Http {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("response larger than the {0}-byte cap")]
    TooLarge(u64),
    #[error("blocked by a bot wall ({0} challenge page)")]
    Blocked(&'static str),
    #[error("robots.txt disallows {0}")]
    RobotsDisallowed(String),
    /// The outbound policy refused the destination (a special-purpose address, a scheme).
    #[error("{0}")]
    Refused(policy::Refusal),
    #[error("bad URL `{0}`")]
    BadUrl(String),
    #[error("stopped: the daemon is shutting down")]
    Cancelled,
    #[error("{0}")]
    Other(String),
}

impl FetchError {
    /// The delay a server asked for, when it asked for one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// What is being fetched: feeds are configured by the operator, article links come from the web.
/// Both go through the outbound policy (a feed's redirects and children are the web's choice);
/// robots.txt is honoured for article pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Source,
    Article,
    /// A site's robots.txt, read up to [`ROBOTS_MAX_BODY`].
    Robots,
    /// A restricted-party list file (configured by the operator), read up to
    /// [`WATCHLIST_MAX_BODY`]: the lists run to tens of megabytes.
    Watchlist,
}

/// A restricted-party list file read at most.
pub const WATCHLIST_MAX_BODY: u64 = 512 * 1024 * 1024;

/// robots.txt read at most (RFC 9309 asks crawlers to read at least 500 KiB).
pub const ROBOTS_MAX_BODY: u64 = 512 * 1024;

/// A request, with the validators of the last successful fetch.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub url: Url,
    pub purpose: Purpose,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// A response that arrived whole.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub url: Url,
    pub not_modified: bool,
    pub body: Bytes,
    pub content_type: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// `Cache-Control: max-age` or `Expires`, for adaptive scheduling.
    pub max_age: Option<Duration>,
    /// `Link` header values (WebSub hubs may be advertised there).
    pub links: Vec<String>,
}

/// The shared, polite client.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    config: Arc<FetchConfig>,
    policy: Arc<OutboundPolicy>,
    hosts: HostLimiter,
    robots: RobotsCache,
}

impl Fetcher {
    pub fn new(config: &FetchConfig) -> Result<Fetcher, FetchError> {
        let policy = Arc::new(config.outbound_policy());
        let client = policy::client_builder(policy.clone(), MAX_REDIRECTS)
            .user_agent(&config.user_agent)
            .timeout(config.timeout.0)
            .connect_timeout(config.connect_timeout.0)
            .gzip(true)
            .brotli(true)
            .deflate(true)
            .build()
            .map_err(|e| FetchError::Other(format!("cannot build the HTTP client: {e}")))?;
        Ok(Fetcher {
            client,
            hosts: HostLimiter::new(config.per_host_concurrency, config.per_host_interval.0),
            robots: RobotsCache::new(robots::agent_token(&config.user_agent)),
            config: Arc::new(config.clone()),
            policy,
        })
    }

    /// The outbound policy this client enforces (shared with the WebSub client).
    pub fn policy(&self) -> Arc<OutboundPolicy> {
        self.policy.clone()
    }

    pub fn hosts(&self) -> &HostLimiter {
        &self.hosts
    }

    /// Fetches one URL politely. Cancellation abandons the request. A refusal names the URL
    /// asked for, whatever hop, resolved name or robots.txt it came from.
    pub async fn fetch(
        &self,
        req: &FetchRequest,
        cancel: &CancellationToken,
    ) -> Result<Fetched, FetchError> {
        self.fetch_politely(req, cancel).await.map_err(|e| match e {
            FetchError::Refused(r) => FetchError::Refused(r.about(&req.url)),
            e => e,
        })
    }

    async fn fetch_politely(
        &self,
        req: &FetchRequest,
        cancel: &CancellationToken,
    ) -> Result<Fetched, FetchError> {
        // No robots.txt lookup for a destination the policy refuses anyway.
        self.policy
            .check_url(&req.url)
            .map_err(FetchError::Refused)?;
        if req.purpose == Purpose::Article && self.config.respect_robots {
            let allowed = self.robots.allowed(self, &req.url, cancel).await?;
            if !allowed {
                return Err(FetchError::RobotsDisallowed(req.url.to_string()));
            }
        }
        let mut waited_once = false;
        loop {
            let result = self.fetch_once(req, cancel).await;
            match result {
                Err(FetchError::Http {
                    status,
                    retry_after: Some(after),
                }) if !waited_once && after <= self.config.max_retry_after_wait.0 => {
                    // The host's next slot is already pushed back; the retry waits for it.
                    debug!(url = %req.url, status, secs = after.as_secs(), "waiting out Retry-After");
                    waited_once = true;
                }
                other => return other,
            }
        }
    }

    pub(super) async fn fetch_once(
        &self,
        req: &FetchRequest,
        cancel: &CancellationToken,
    ) -> Result<Fetched, FetchError> {
        // Literal addresses never reach the resolver: they are checked here and on each hop.
        self.policy
            .check_url(&req.url)
            .map_err(FetchError::Refused)?;
        let host = politeness::host_key(&req.url)
            .ok_or_else(|| FetchError::BadUrl(req.url.to_string()))?;
        let _permit = tokio::select! {
            p = self.hosts.acquire(&host) => p,
            _ = cancel.cancelled() => return Err(FetchError::Cancelled),
        };
        let mut headers = HeaderMap::new();
        if let Some(etag) = req
            .etag
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = req
            .last_modified
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::IF_MODIFIED_SINCE, lm);
        }
        let timeout = self.config.timeout.0;
        let work = async {
            let resp = self
                .client
                .get(req.url.clone())
                .headers(headers)
                .send()
                .await
                .map_err(|e| classify(e, timeout))?;
            let status = resp.status();
            let final_url = resp.url().clone();
            let h = resp.headers().clone();
            let text_header = |name: header::HeaderName| {
                h.get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            if status == StatusCode::NOT_MODIFIED {
                return Ok(Fetched {
                    url: final_url,
                    not_modified: true,
                    body: Bytes::new(),
                    content_type: None,
                    etag: text_header(header::ETAG).or_else(|| req.etag.clone()),
                    last_modified: text_header(header::LAST_MODIFIED)
                        .or_else(|| req.last_modified.clone()),
                    max_age: max_age(&h),
                    links: links(&h),
                });
            }
            let http_error = || {
                let retry_after = if matches!(status.as_u16(), 429 | 503) {
                    h.get(header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after)
                } else {
                    None
                };
                if let Some(after) = retry_after {
                    self.hosts.defer(&host, after);
                }
                FetchError::Http {
                    status: status.as_u16(),
                    retry_after,
                }
            };
            let fetched = |body: Bytes| Fetched {
                url: final_url.clone(),
                not_modified: false,
                body,
                content_type: text_header(header::CONTENT_TYPE),
                etag: text_header(header::ETAG),
                last_modified: text_header(header::LAST_MODIFIED),
                max_age: max_age(&h),
                links: links(&h),
            };
            let suspicious = matches!(status.as_u16(), 403 | 429 | 503)
                || h.contains_key("cf-mitigated")
                || h.contains_key("x-datadome");
            if !status.is_success() && !suspicious {
                return Err(http_error());
            }
            // Challenge pages come with these statuses or headers, and some walls answer 200 with
            // a small page: read the body (a little of it for errors) to tell a wall from the rest.
            let cap = match req.purpose {
                _ if !status.is_success() => 256 * 1024,
                Purpose::Source => self.config.max_body.0,
                Purpose::Article => self.config.max_page_body.0,
                Purpose::Robots => ROBOTS_MAX_BODY,
                Purpose::Watchlist => WATCHLIST_MAX_BODY.max(self.config.max_body.0),
            };
            let body = match read_capped(resp, cap, timeout).await {
                Ok(body) => body,
                Err(e) if status.is_success() => return Err(e),
                Err(_) => Bytes::new(),
            };
            if (suspicious || body.len() < 64 * 1024)
                && let Some(wall) = bot_wall(&h, &body)
            {
                return Err(FetchError::Blocked(wall));
            }
            if !status.is_success() {
                return Err(http_error());
            }
            Ok(fetched(body))
        };
        tokio::select! {
            r = work => r,
            _ = cancel.cancelled() => Err(FetchError::Cancelled),
        }
    }
}

async fn read_capped(
    mut resp: reqwest::Response,
    cap: u64,
    timeout: Duration,
) -> Result<Bytes, FetchError> {
    if resp.content_length().is_some_and(|n| n > cap) {
        return Err(FetchError::TooLarge(cap));
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(e, timeout))? {
        if buf.len() as u64 + chunk.len() as u64 > cap {
            return Err(FetchError::TooLarge(cap));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn classify(e: reqwest::Error, timeout: Duration) -> FetchError {
    if let Some(refusal) = OutboundPolicy::refusal_in(&e) {
        FetchError::Refused(refusal)
    } else if e.is_timeout() {
        FetchError::Timeout(timeout)
    } else if e.is_redirect() {
        FetchError::TooManyRedirects
    } else if e.is_connect() {
        FetchError::Connect(root_cause(&e))
    } else {
        FetchError::Other(root_cause(&e))
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        msg = format!("{msg}: {s}");
        cur = s.source();
    }
    msg
}

/// Recognises anti-bot challenge pages (Cloudflare, DataDome, PerimeterX, Akamai), which must never
/// be taken for a feed or an article.
pub fn bot_wall(headers: &HeaderMap, body: &[u8]) -> Option<&'static str> {
    if headers.get("cf-mitigated").and_then(|v| v.to_str().ok()) == Some("challenge") {
        return Some("Cloudflare");
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]).to_ascii_lowercase();
    let has = |needle: &str| text.contains(needle);
    // Cloudflare also injects `/cdn-cgi/challenge-platform/scripts/jsd/main.js` into ordinary
    // pages it serves: only the challenge's own orchestrator (`/h/`) and options mark a wall.
    if has("cf-chl-")
        || has("/cdn-cgi/challenge-platform/h/")
        || has("window._cf_chl_opt")
        || has("<title>just a moment...</title>")
        || has("attention required! | cloudflare")
    {
        return Some("Cloudflare");
    }
    if headers.contains_key("x-datadome") && (has("captcha-delivery.com") || has("datadome"))
        || has("geo.captcha-delivery.com")
    {
        return Some("DataDome");
    }
    if has("px-captcha") || has("_pxcaptcha") || has("perimeterx") && has("captcha") {
        return Some("PerimeterX");
    }
    if has("errors.edgesuite.net") && has("access denied") {
        return Some("Akamai");
    }
    None
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = when.with_timezone(&Utc) - Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// How long the response says it stays fresh: `Cache-Control: max-age`, else `Expires` (measured
/// from the server's own `Date`, so a skewed clock on either side does not matter). `no-cache` and
/// `no-store` say nothing about when it changes, so they give no hint.
fn max_age(h: &HeaderMap) -> Option<Duration> {
    let text = |name| h.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(cc) = text(header::CACHE_CONTROL) {
        let mut max_age = None;
        for d in cc.split(',').map(str::trim) {
            let lower = d.to_ascii_lowercase();
            if lower == "no-cache" || lower == "no-store" {
                return None;
            }
            if let Some((k, v)) = lower.split_once('=')
                && k.trim() == "max-age"
            {
                max_age = v
                    .trim()
                    .trim_matches('"')
                    .parse()
                    .ok()
                    .map(Duration::from_secs);
            }
        }
        if max_age.is_some() {
            return max_age;
        }
    }
    let http_date = |v: &str| chrono::DateTime::parse_from_rfc2822(v.trim()).ok();
    // An invalid Expires ("0", "-1") means already expired: no hint.
    let expires = http_date(text(header::EXPIRES)?)?;
    let now = text(header::DATE)
        .and_then(http_date)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(Utc::now);
    (expires.with_timezone(&Utc) - now).to_std().ok()
}

fn links(h: &HeaderMap) -> Vec<String> {
    h.get_all(header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_walls() {
        let empty = HeaderMap::new();
        let cf = b"<html><head><title>Just a moment...</title></head><body><script src=\"/cdn-cgi/challenge-platform/h/b/orchestrate\"></script></body></html>";
        assert_eq!(bot_wall(&empty, cf), Some("Cloudflare"));
        let dd = b"<html><body><script src=\"https://ct.captcha-delivery.com/c.js\"></script><iframe src=\"https://geo.captcha-delivery.com/captcha/?x\"></iframe></body></html>";
        assert_eq!(bot_wall(&empty, dd), Some("DataDome"));
        let mut h = HeaderMap::new();
        h.insert("cf-mitigated", HeaderValue::from_static("challenge"));
        assert_eq!(bot_wall(&h, b""), Some("Cloudflare"));
        assert_eq!(
            bot_wall(
                &empty,
                b"<rss><channel><title>Cloudflare blog</title></channel></rss>"
            ),
            None
        );
    }

    #[test]
    fn an_article_served_through_cloudflare_is_not_a_wall() {
        let page = b"<html><head><title>Chip curbs widen</title></head><body><p>Story.</p><script>(function(){var a=document.createElement('script');a.src='/cdn-cgi/challenge-platform/scripts/jsd/main.js';document.head.appendChild(a);})();</script></body></html>";
        assert_eq!(bot_wall(&HeaderMap::new(), page), None);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn freshness_from_cache_control_or_expires() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            h
        };
        let s = |n| Some(Duration::from_secs(n));
        assert_eq!(
            max_age(&h(&[("cache-control", "public, max-age=600")])),
            s(600)
        );
        assert_eq!(
            max_age(&h(&[("cache-control", "no-cache, max-age=600")])),
            None
        );
        let dated = [
            ("date", "Wed, 25 Nov 2026 10:00:00 GMT"),
            ("expires", "Wed, 25 Nov 2026 10:30:00 GMT"),
        ];
        assert_eq!(max_age(&h(&dated)), s(1800));
        let both = [dated[0], dated[1], ("cache-control", "max-age=60")];
        assert_eq!(max_age(&h(&both)), s(60), "max-age outranks Expires");
        assert_eq!(max_age(&h(&[("expires", "0")])), None);
        assert_eq!(
            max_age(&h(&[("expires", "Wed, 21 Oct 2015 07:28:00 GMT")])),
            None,
            "expired in the past"
        );
    }
}
