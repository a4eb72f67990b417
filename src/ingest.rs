//! One poll of one source, end to end: fetch the source, parse it, drop what is already stored,
//! fetch and extract the articles whose text the source does not carry, analyse them, and hand
//! them to the index writer, followed by the source's new state.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use url::Url;

use crate::analyze::Analyzer;
use crate::config::{Config, SourceConfig, SourceKind};
use crate::extract::{self, NotAnArticle};
use crate::fetch::{FetchError, FetchRequest, Fetched, Fetcher, Purpose};
use crate::parse::{self, Entry, ParsedFeed, listing::ListingSelectors};
use crate::scheduler::Schedule;
use crate::store::canonical::{article_id, canonical_str};
use crate::store::writer::{WriteOp, WriterTx};
use crate::store::{SourceStatus, SourceUpdate, State, StoredArticle};

/// Feed text shorter than this (in characters) is taken for a teaser and the page is fetched.
const FULL_TEXT_MIN_CHARS: usize = 600;
/// Child sitemaps read from one sitemap index per poll.
const MAX_CHILD_SITEMAPS: usize = 5;
/// How far back a sitemap source's first poll reaches (news sitemaps hold two days by Google's
/// rules; a whole-site sitemap would otherwise turn its archive into a fetch queue).
const SITEMAP_FIRST_POLL_DAYS: i64 = 2;

/// Article ids being processed right now, so that two feeds carrying one story fetch it once.
/// Ids come from content, so the set has a cap: past it an entry is not claimed and waits for a
/// later poll, exactly as when another poll holds it (nothing is marked seen, nothing is lost).
#[derive(Clone)]
pub struct Inflight {
    ids: Arc<Mutex<HashSet<String>>>,
    cap: usize,
}

/// Ids claimed at once: every poll's new entries (at most 50,000 a document) while they are
/// fetched and stored; a few MB at the cap.
const MAX_INFLIGHT: usize = 200_000;

impl Default for Inflight {
    fn default() -> Self {
        Inflight::with_cap(MAX_INFLIGHT)
    }
}

impl Inflight {
    fn with_cap(cap: usize) -> Inflight {
        Inflight {
            ids: Arc::default(),
            cap,
        }
    }

    fn claim(&self, id: &str) -> bool {
        let mut set = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        set.len() < self.cap && set.insert(id.to_string())
    }

    pub fn release(&self, ids: impl IntoIterator<Item = String>) {
        let mut set = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            set.remove(&id);
        }
    }
}

/// What every poll needs, shared.
#[derive(Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub fetcher: Fetcher,
    pub state: State,
    pub analyzer: Arc<Analyzer>,
    pub writer: WriterTx,
    pub inflight: Inflight,
    pub metrics: Arc<crate::telemetry::Metrics>,
    /// Where source trouble is reported, when configured.
    pub ops: Option<crate::alert::ops::OpsChannel>,
    /// WebSub subscriptions, when `[daemon] public_url` is set and the API listens.
    pub websub: Option<crate::websub::WebSub>,
}

/// A candidate article from a source entry.
struct Candidate {
    id: String,
    url: Option<Url>,
    entry: Entry,
}

/// Polls one source. Never fails: every outcome becomes the source's new state, sent to the writer
/// after the source's articles. Returns the number of articles sent.
pub async fn poll_source(
    ctx: &Context,
    source: &SourceConfig,
    cancel: &CancellationToken,
) -> DateTime<Utc> {
    let started = Utc::now();
    let prior = ctx
        .state
        .source(&source.name)
        .ok()
        .flatten()
        .unwrap_or_default();
    let bounds = ctx.config.bounds_of(source);
    let outcome = poll(ctx, source, &prior, cancel).await;
    if matches!(outcome, Err(PollError::Fetch(FetchError::Cancelled))) {
        debug!(source = %source.name, "poll abandoned at shutdown");
        return Utc::now();
    }
    let mut feed_url = None;
    let mut interval = None;
    let (status, error, etag, last_modified, sent, retry_after) = match outcome {
        Ok(mut done) => {
            if done.sent > 0 || done.failed > 0 {
                info!(source = %source.name, new = done.sent, failed = done.failed, "polled");
            } else {
                debug!(source = %source.name, status = done.status.as_str(), "polled, nothing new");
            }
            // While a hub pushes updates, polling is only the fallback.
            let pushed = ctx.websub.as_ref().is_some_and(|w| w.is_live(&source.name));
            interval = Some(if pushed {
                bounds.max
            } else {
                next_interval(bounds, &prior, &done)
            });
            feed_url = done.feed_url.take();
            // Keep the old validators when some articles failed, so the next poll sees them again.
            let keep = done.failed > 0;
            let error = done.page_report();
            let status = if done.walled() {
                SourceStatus::Blocked
            } else {
                done.status
            };
            (
                status,
                error,
                (!keep).then_some(done.etag),
                (!keep).then_some(done.last_modified),
                done.sent,
                None,
            )
        }
        Err(e) => {
            warn!(source = %source.name, url = %source.url, error = %e, "poll failed");
            let retry_after = match &e {
                PollError::Fetch(f) => f.retry_after(),
                _ => None,
            };
            (e.status(), Some(e.to_string()), None, None, 0, retry_after)
        }
    };
    ctx.metrics
        .poll_done(&source.name, status.as_str(), status.is_success());
    let failures = if status.is_success() {
        0
    } else {
        prior.consecutive_failures + 1
    };
    // Failures back off from the configured interval; successes wait the adapted one.
    let schedule = Schedule {
        interval: interval.unwrap_or(bounds.base),
        max_backoff: ctx.config.daemon.max_backoff.0,
        jitter: ctx.config.daemon.jitter,
    };
    if let Some(ops) = &ctx.ops
        && let Some((title, text)) = crate::alert::ops::poll_notice(
            &source.name,
            prior.consecutive_failures,
            failures,
            status.as_str(),
            error.as_deref(),
        )
    {
        ops.notify(title, text).await;
    }
    let update = SourceUpdate {
        name: source.name.clone(),
        url: source.url.clone(),
        kind: source.kind.to_string(),
        attempted_at: started,
        status,
        error,
        etag,
        last_modified,
        next_check_at: schedule.next_check(Utc::now(), failures, retry_after),
        consecutive_failures: failures,
        new_articles: sent,
        feed_url,
        interval,
    };
    let next = update.next_check_at;
    let _ = ctx.writer.send(WriteOp::SourceDone(Box::new(update))).await;
    next
}

/// The adapted interval after a successful poll, with the publisher's freshness hint honoured.
fn next_interval(
    bounds: crate::scheduler::Bounds,
    prior: &crate::store::SourceState,
    done: &PollDone,
) -> std::time::Duration {
    use crate::scheduler::{Turnover, adapt, honour_hint};
    let turnover = if done.fresh == 0 {
        Turnover::Nothing
    // A first poll (nothing stored yet) finds everything new; that says nothing of the pace.
    } else if done.fresh == done.listed && prior.article_count > 0 {
        Turnover::Full
    } else {
        Turnover::Some
    };
    honour_hint(bounds, adapt(bounds, prior.interval, turnover), done.hint)
}

#[derive(Debug, thiserror::Error)]
enum PollError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("cannot read the response: {0}")]
    Parse(#[from] parse::ParseError),
    #[error("bad source URL: {0}")]
    Url(#[from] url::ParseError),
}

impl PollError {
    fn status(&self) -> SourceStatus {
        match self {
            PollError::Fetch(FetchError::Http { .. }) => SourceStatus::HttpError,
            PollError::Fetch(FetchError::RobotsDisallowed(_)) => SourceStatus::RobotsDisallowed,
            PollError::Fetch(FetchError::Blocked(_)) => SourceStatus::Blocked,
            PollError::Fetch(FetchError::Refused(_)) => SourceStatus::Refused,
            PollError::Fetch(_) | PollError::Url(_) => SourceStatus::FetchError,
            PollError::Parse(_) => SourceStatus::ParseError,
        }
    }
}

struct PollDone {
    status: SourceStatus,
    /// Entries the source listed, and how many of them were not stored yet.
    listed: usize,
    fresh: usize,
    /// How long the publisher says the document stays fresh (`<ttl>`, `max-age`, `Expires`).
    hint: Option<std::time::Duration>,
    /// A feed newly found on (or forgotten for) the source's page.
    feed_url: Option<Option<String>>,
    etag: Option<String>,
    last_modified: Option<String>,
    sent: u64,
    failed: u64,
    first_error: Option<String>,
    /// Article pages that were not articles (paywall teasers, login and error pages, bot walls),
    /// with their URLs; their text was not stored.
    not_articles: Vec<(NotAnArticle, String)>,
    /// Article pages that were articles and were extracted.
    pages_extracted: u64,
}

impl PollDone {
    /// What the source's status shows about its article pages: `None` when all was well.
    fn page_report(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.failed > 0 {
            parts.push(format!(
                "{} article(s) could not be fetched: {}",
                self.failed,
                self.first_error.as_deref().unwrap_or_default()
            ));
        }
        if let Some((first, url)) = self.not_articles.first() {
            let mut counts: Vec<(NotAnArticle, usize)> = Vec::new();
            for (kind, _) in &self.not_articles {
                match counts.iter_mut().find(|(k, _)| k == kind) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((*kind, 1)),
                }
            }
            let counts = counts
                .iter()
                .map(|(k, n)| format!("{n} {}", k.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            parts.push(format!(
                "{} page(s) were not articles ({counts}); their text was not stored: {url} is {first}",
                self.not_articles.len()
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// Every article page this poll asked for was a bot wall: the site is blocking us, whatever
    /// the feed itself answered.
    fn walled(&self) -> bool {
        self.pages_extracted == 0
            && !self.not_articles.is_empty()
            && self
                .not_articles
                .iter()
                .all(|(k, _)| *k == NotAnArticle::BotWall)
    }
}

async fn poll(
    ctx: &Context,
    source: &SourceConfig,
    prior: &crate::store::SourceState,
    cancel: &CancellationToken,
) -> Result<PollDone, PollError> {
    let (fetched, feed_url) = fetch_feed(ctx, source, prior, cancel).await?;
    if fetched.not_modified {
        return Ok(PollDone {
            listed: 0,
            fresh: 0,
            hint: fetched.max_age,
            feed_url,
            status: SourceStatus::NotModified,
            etag: fetched.etag,
            last_modified: fetched.last_modified,
            sent: 0,
            failed: 0,
            first_error: None,
            not_articles: Vec::new(),
            pages_extracted: 0,
        });
    }
    let head = crate::discover::feed_head(&fetched.body);
    if source.kind == SourceKind::Feed
        && let Some(websub) = &ctx.websub
    {
        // Off the poll's path: a slow hub must not hold the source's poll.
        let (websub, name, fetched, head) = (
            websub.clone(),
            source.name.clone(),
            fetched.clone(),
            head.clone(),
        );
        tokio::spawn(async move { websub.consider(&name, &fetched, &head).await });
    }
    let since = (source.kind == SourceKind::Sitemap).then(|| {
        let last = prior
            .last_success
            .unwrap_or_else(|| Utc::now() - chrono::Duration::days(SITEMAP_FIRST_POLL_DAYS));
        // lastmod is often written a little after the fact, and clocks differ.
        last - chrono::Duration::hours(1)
    });
    let mut done = ingest_fetched(ctx, source, fetched, since, cancel).await?;
    done.hint = done.hint.max(head.ttl);
    done.feed_url = feed_url;
    Ok(done)
}

/// A document a hub pushed (WebSub) goes through the same path as a polled one. The source's
/// schedule stays as planned: polling is the fallback whatever hubs do.
pub async fn ingest_push(
    ctx: &Context,
    source: &SourceConfig,
    push: crate::websub::Push,
    cancel: &CancellationToken,
) {
    let started = Utc::now();
    let Ok(url) = Url::parse(&push.topic) else {
        return;
    };
    let fetched = Fetched {
        url,
        not_modified: false,
        body: push.body,
        content_type: push.content_type,
        etag: None,
        last_modified: None,
        max_age: None,
        links: Vec::new(),
    };
    let done = match ingest_fetched(ctx, source, fetched, None, cancel).await {
        Ok(done) => done,
        Err(e) => {
            warn!(source = %source.name, error = %e, "WebSub push unreadable; polling will pick the entries up");
            return;
        }
    };
    info!(source = %source.name, new = done.sent, "WebSub push ingested");
    ctx.metrics.poll_done(&source.name, "push", true);
    let next_check_at = ctx
        .state
        .source(&source.name)
        .ok()
        .flatten()
        .and_then(|st| st.next_check_at)
        .unwrap_or_else(|| {
            started + chrono::Duration::from_std(ctx.config.interval_of(source)).unwrap_or_default()
        });
    let update = SourceUpdate {
        name: source.name.clone(),
        url: source.url.clone(),
        kind: source.kind.to_string(),
        attempted_at: started,
        status: SourceStatus::Ok,
        error: None,
        etag: None,
        last_modified: None,
        next_check_at,
        consecutive_failures: 0,
        new_articles: done.sent,
        feed_url: None,
        interval: None,
    };
    let _ = ctx.writer.send(WriteOp::SourceDone(Box::new(update))).await;
}

/// Parses a fetched (or pushed) document and stores what is new in it.
async fn ingest_fetched(
    ctx: &Context,
    source: &SourceConfig,
    fetched: Fetched,
    since: Option<DateTime<Utc>>,
    cancel: &CancellationToken,
) -> Result<PollDone, PollError> {
    let mut parsed = parse_source(ctx, source, &fetched, cancel).await?;
    if let Some(since) = since {
        // A sitemap lists a site's whole archive: only what changed since the last poll is news.
        parsed
            .entries
            .retain(|e| e.updated.or(e.published).is_none_or(|d| d >= since));
    }
    let hint = fetched.max_age;
    let (candidates, listed, fresh) = candidates(ctx, source, parsed.entries);
    // Page fetches per poll are capped; entries past the cap are stored with their feed text now
    // and completed at a later poll.
    let budget = AtomicUsize::new(ctx.config.fetch.max_articles_per_poll);
    let results: Vec<(Outcome, Page)> = futures::stream::iter(candidates)
        .map(|c| process(ctx, source, c, &budget, cancel))
        .buffer_unordered(ctx.config.fetch.per_host_concurrency.max(1) * 2)
        .collect()
        .await;
    if cancel.is_cancelled() {
        return Err(FetchError::Cancelled.into());
    }
    let mut done = PollDone {
        listed,
        fresh,
        hint,
        feed_url: None,
        status: SourceStatus::Ok,
        etag: fetched.etag,
        last_modified: fetched.last_modified,
        sent: 0,
        failed: 0,
        first_error: None,
        not_articles: Vec::new(),
        pages_extracted: 0,
    };
    for (r, page) in results {
        match page {
            Page::NotFetched => {}
            Page::Article => done.pages_extracted += 1,
            Page::Not(kind, url) => done.not_articles.push((kind, url)),
        }
        match r {
            Outcome::Stored => done.sent += 1,
            Outcome::Provisional(err) => {
                done.sent += 1;
                done.failed += 1;
                done.first_error.get_or_insert(err);
            }
            Outcome::Skipped => {}
        }
    }
    Ok(done)
}

/// Fetches what a source polls: its URL, or for a feed source configured as a site page, the
/// feed that page advertises. The discovered feed is remembered in the state (returned here as
/// an update) and polled directly next time; it is looked for again only when it stops being a
/// feed (gone, or answering with a page).
async fn fetch_feed(
    ctx: &Context,
    source: &SourceConfig,
    prior: &crate::store::SourceState,
    cancel: &CancellationToken,
) -> Result<(Fetched, Option<Option<String>>), PollError> {
    let page_url = Url::parse(&source.url)?;
    let discovered = prior
        .feed_url
        .as_deref()
        .filter(|_| matches!(source.kind, SourceKind::Feed | SourceKind::Sitemap))
        .and_then(|u| Url::parse(u).ok());
    let req = FetchRequest {
        url: discovered.clone().unwrap_or_else(|| page_url.clone()),
        purpose: Purpose::Source,
        etag: prior.etag.clone(),
        last_modified: prior.last_modified.clone(),
    };
    let first = timed_fetch(ctx, source, "source", &req, cancel).await;
    let page = match (first, &discovered) {
        (Ok(f), _) if source.kind == SourceKind::Html || f.not_modified => return Ok((f, None)),
        (Ok(f), _) if !crate::discover::looks_like_html(f.content_type.as_deref(), &f.body) => {
            return Ok((f, None));
        }
        // The configured URL is a page: look for its feed below.
        (Ok(f), None) => f,
        // The discovered feed turned into a page or went away: back to the site's page.
        (Ok(_), Some(gone))
        | (
            Err(FetchError::Http {
                status: 404 | 410, ..
            }),
            Some(gone),
        ) => {
            info!(source = %source.name, feed = %gone, "the discovered feed is gone; looking again on the page");
            let req = source_request(page_url.clone());
            let f = timed_fetch(ctx, source, "source", &req, cancel).await?;
            if !crate::discover::looks_like_html(f.content_type.as_deref(), &f.body) {
                // The site's URL serves a feed itself now.
                return Ok((f, Some(None)));
            }
            f
        }
        (Err(e), _) => return Err(e.into()),
    };
    if source.kind == SourceKind::Sitemap {
        let sitemap = sitemap_from_robots(ctx, source, &page.url, cancel).await?;
        info!(source = %source.name, page = %page.url, sitemap = %sitemap, "found the site's sitemap in robots.txt");
        let fetched = timed_fetch(
            ctx,
            source,
            "source",
            &source_request(sitemap.clone()),
            cancel,
        )
        .await?;
        return Ok((fetched, Some(Some(sitemap.to_string()))));
    }
    let html = parse::decode_to_utf8(&page.body, page.content_type.as_deref());
    let Some(feed) = crate::discover::feed_links(&html, &page.url)
        .into_iter()
        .next()
    else {
        return Err(parse::ParseError::Unrecognised(format!(
            "{} is an HTML page that links to no feed (no <link rel=\"alternate\" type=\"application/rss+xml\"> or atom/json); give the feed's URL, or kind = \"html\" with a link_selector",
            page.url
        ))
        .into());
    };
    info!(source = %source.name, page = %page.url, feed = %feed, "discovered the feed of a site page");
    let req = source_request(feed.clone());
    let fetched = timed_fetch(ctx, source, "source", &req, cancel).await?;
    Ok((fetched, Some(Some(feed.to_string()))))
}

/// A sitemap source given as a site: the sitemaps its robots.txt lists (`Sitemap:` lines), a news
/// sitemap preferred since that is where new articles appear first.
async fn sitemap_from_robots(
    ctx: &Context,
    source: &SourceConfig,
    page: &Url,
    cancel: &CancellationToken,
) -> Result<Url, PollError> {
    let robots = page.join("/robots.txt")?;
    let fetched = timed_fetch(
        ctx,
        source,
        "source",
        &source_request(robots.clone()),
        cancel,
    )
    .await?;
    let text = String::from_utf8_lossy(&fetched.body);
    let listed: Vec<Url> = text
        .lines()
        .filter_map(|l| {
            let (key, value) = l.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case("sitemap")
                .then(|| robots.join(value.trim()).ok())
                .flatten()
        })
        .collect();
    listed
        .iter()
        .find(|u| u.as_str().to_ascii_lowercase().contains("news"))
        .or(listed.first())
        .cloned()
        .ok_or_else(|| {
            parse::ParseError::Unrecognised(format!(
                "{page} is an HTML page and {robots} lists no Sitemap: give the sitemap's URL"
            ))
            .into()
        })
}

/// An unconditional fetch for a source (a page, a discovered feed, a child sitemap).
fn source_request(url: Url) -> FetchRequest {
    FetchRequest {
        url,
        purpose: Purpose::Source,
        etag: None,
        last_modified: None,
    }
}

async fn parse_source(
    ctx: &Context,
    source: &SourceConfig,
    fetched: &Fetched,
    cancel: &CancellationToken,
) -> Result<ParsedFeed, PollError> {
    match source.kind {
        SourceKind::Html => {
            let selectors = ListingSelectors::new(
                source.link_selector.as_deref().unwrap_or("a[href]"),
                source.title_selector.as_deref(),
                source.date_selector.as_deref(),
            )
            .map_err(|e| parse::ParseError::Unrecognised(format!("bad selector {e}")))?;
            let (body, content_type, base) = owned_parts(fetched);
            crate::cpu::run("parse listing", move || {
                let html = parse::decode_to_utf8(&body, content_type.as_deref());
                parse::listing::parse_listing(&html, &base, &selectors)
            })
            .await
            .map_err(|e| parse::ParseError::Panicked(e.to_string()))?
            .map_err(PollError::from)
        }
        SourceKind::Feed | SourceKind::Sitemap => {
            let mut parsed = parse_on_pool(fetched).await?;
            if !parsed.warnings.is_empty() {
                // Repaired, not failed: worth a look by whoever runs the feed, not an alarm.
                info!(source = %source.name, repairs = %parsed.warnings.join("; "), "feed read with repairs");
            }
            // A sitemap index points at the sitemaps that hold the URLs.
            for child in std::mem::take(&mut parsed.sitemaps)
                .into_iter()
                .take(MAX_CHILD_SITEMAPS)
            {
                let Ok(url) = Url::parse(&child) else {
                    continue;
                };
                let req = source_request(url);
                match timed_fetch(ctx, source, "source", &req, cancel).await {
                    Ok(f) => match parse_on_pool(&f).await {
                        Ok(p) => {
                            let room = parse::MAX_ENTRIES.saturating_sub(parsed.entries.len());
                            parsed.entries.extend(p.entries.into_iter().take(room));
                        }
                        Err(e) => {
                            warn!(source = %source.name, sitemap = %child, error = %e, "child sitemap unreadable")
                        }
                    },
                    Err(FetchError::Cancelled) => return Err(FetchError::Cancelled.into()),
                    Err(e) => {
                        warn!(source = %source.name, sitemap = %child, error = %e, "child sitemap fetch failed")
                    }
                }
            }
            Ok(parsed)
        }
    }
}

/// What a CPU job needs of a response, owned (the body is reference-counted, not copied).
fn owned_parts(fetched: &Fetched) -> (bytes::Bytes, Option<String>, String) {
    (
        fetched.body.clone(),
        fetched.content_type.clone(),
        fetched.url.to_string(),
    )
}

/// A feed or sitemap parsed on the CPU pool (gzip unpacked first, within its cap).
async fn parse_on_pool(fetched: &Fetched) -> Result<ParsedFeed, parse::ParseError> {
    let (body, content_type, base) = owned_parts(fetched);
    crate::cpu::run("parse feed", move || {
        let body = maybe_gunzip(&body)?;
        parse::parse_document(&body, Some(&base), content_type.as_deref())
    })
    .await
    .map_err(|e| parse::ParseError::Panicked(e.to_string()))?
}

/// A fetch with its bytes and latency recorded.
async fn timed_fetch(
    ctx: &Context,
    source: &SourceConfig,
    purpose: &str,
    req: &FetchRequest,
    cancel: &CancellationToken,
) -> Result<Fetched, FetchError> {
    let started = std::time::Instant::now();
    let result = ctx.fetcher.fetch(req, cancel).await;
    if let Err(FetchError::Refused(refusal)) = &result {
        warn!(source = %source.name, purpose, url = %req.url, target = %refusal.target, rule = refusal.rule, "outbound policy refused a fetch");
        ctx.metrics.refused(&source.name, refusal);
    }
    let bytes = result.as_ref().map(|f| f.body.len()).unwrap_or(0);
    ctx.metrics
        .fetched(&source.name, purpose, bytes, started.elapsed());
    result
}

fn article_outcome(result: &Result<Fetched, FetchError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(FetchError::RobotsDisallowed(_)) => "robots-disallowed",
        Err(FetchError::Refused(_)) => "refused",
        Err(FetchError::Http { .. }) => "http-error",
        Err(FetchError::Timeout(_)) => "timeout",
        Err(FetchError::Blocked(_)) => "blocked",
        Err(FetchError::Cancelled) => "cancelled",
        Err(_) => "error",
    }
}

/// Gzipped sitemaps (`.xml.gz`) arrive as gzip bytes without a Content-Encoding. Unpacked up to
/// [`MAX_UNPACKED`]: a few KB of gzip can unpack to gigabytes.
fn maybe_gunzip(body: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, parse::ParseError> {
    gunzip_within(body, MAX_UNPACKED)
}

fn gunzip_within(body: &[u8], cap: u64) -> Result<std::borrow::Cow<'_, [u8]>, parse::ParseError> {
    use std::io::Read;
    if !body.starts_with(&[0x1f, 0x8b]) {
        return Ok(std::borrow::Cow::Borrowed(body));
    }
    let mut out = Vec::new();
    let mut dec = flate2::read::GzDecoder::new(body).take(cap + 1);
    match dec.read_to_end(&mut out) {
        Ok(_) if out.len() as u64 > cap => Err(parse::ParseError::Unrecognised(format!(
            "gzip content unpacks to more than {cap} bytes"
        ))),
        Ok(_) => Ok(std::borrow::Cow::Owned(out)),
        // Not gzip after all (or broken): read as it came.
        Err(_) => Ok(std::borrow::Cow::Borrowed(body)),
    }
}

/// The most a gzipped sitemap may unpack to (the sitemap protocol's own limit is 50 MB).
const MAX_UNPACKED: u64 = 64 * 1024 * 1024;

/// Entries that are new: canonical id not stored and not being processed by another poll.
/// An entry without a usable link is identified by its source and feed id instead.
/// Also returns how many distinct entries were listed and how many of them are not stored yet.
fn candidates(
    ctx: &Context,
    source: &SourceConfig,
    entries: Vec<Entry>,
) -> (Vec<Candidate>, usize, usize) {
    let mut out = Vec::new();
    let mut ids = HashSet::new();
    for entry in entries {
        let url = entry.link.as_deref().and_then(canonical_str);
        let id = match &url {
            Some(u) => article_id(u),
            None if !entry.id.trim().is_empty() => entry_id(&source.name, &entry.id),
            None => continue,
        };
        if ids.insert(id.clone()) {
            out.push(Candidate { id, url, entry });
        }
    }
    let listed = out.len();
    let all: Vec<String> = out.iter().map(|c| c.id.clone()).collect();
    let seen = ctx.state.seen_versions(&all).unwrap_or_default();
    // A stored article comes back when its entry says it was updated since.
    let updated = |c: &Candidate| match (seen.get(&c.id), c.entry.updated) {
        (Some(Some(before)), Some(now)) => now > *before,
        _ => false,
    };
    let updates = out.iter().filter(|c| updated(c)).count();
    let seen_here = out.iter().filter(|c| seen.contains_key(&c.id)).count();
    let fresh = listed - seen_here;
    // Some feeds stamp every entry with the time of the request: that is no news, and fetching
    // every page again at every poll would be anything but polite.
    let believable = updates <= MAX_UPDATES_PER_POLL.max(seen_here / 2);
    if updates > 0 && !believable {
        debug!(source = %source.name, updates, seen = seen_here, "ignoring updated dates that change on every entry");
    }
    let mut taken = 0;
    out.retain(|c| {
        let wanted = match seen.get(&c.id) {
            None => true,
            Some(_) if believable && updated(c) && taken < MAX_UPDATES_PER_POLL => {
                taken += 1;
                true
            }
            Some(_) => false,
        };
        wanted && ctx.inflight.claim(&c.id)
    });
    ctx.metrics.entries(&source.name, listed, out.len());
    (out, listed, fresh)
}

/// At most this many stored articles are fetched again in one poll of a source because their
/// entries say they were updated.
const MAX_UPDATES_PER_POLL: usize = 10;

fn entry_id(source: &str, feed_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("entry\u{0}{source}\u{0}{feed_id}").as_bytes());
    hex::encode(&digest[..16])
}

/// What became of one candidate.
enum Outcome {
    /// Stored complete; recorded as seen at the next commit.
    Stored,
    /// Stored with the feed's text because the page could not be had now; retried at a later poll.
    Provisional(String),
    /// Nothing to store.
    Skipped,
}

/// What the article page turned out to be.
enum Page {
    /// Not fetched: the entry carried the text, the budget was used up, or the fetch failed.
    NotFetched,
    Article,
    /// Not an article (a bot wall answered with an error status counts too); with its URL.
    Not(NotAnArticle, String),
}

async fn process(
    ctx: &Context,
    source: &SourceConfig,
    c: Candidate,
    budget: &AtomicUsize,
    cancel: &CancellationToken,
) -> (Outcome, Page) {
    let (article, complete, problem, page) = build_article(ctx, source, &c, budget, cancel).await;
    let Some(article) = article else {
        if complete {
            // Nothing to store, for good (a link to a sign-in or dead page): remember it, or
            // every poll would fetch it again.
            let seen = crate::store::SeenArticle {
                id: c.id.clone(),
                source: source.name.clone(),
                url: c.url.as_ref().map(|u| u.to_string()).unwrap_or_default(),
                updated: c.entry.updated,
            };
            let _ = ctx.writer.send(WriteOp::Seen(seen)).await;
        }
        ctx.inflight.release([c.id]);
        return (Outcome::Skipped, page);
    };
    let op = WriteOp::Article {
        article: Box::new(article),
        mark_seen: complete,
        updated: c.entry.updated,
    };
    if ctx.writer.send(op).await.is_err() {
        ctx.inflight.release([c.id]);
        return (Outcome::Skipped, page);
    }
    if !complete {
        // Not recorded as seen, so the claim must go now for the next poll to retry it.
        ctx.inflight.release([c.id]);
    }
    let outcome = match problem {
        Some(p) if !complete => Outcome::Provisional(p),
        _ => Outcome::Stored,
    };
    (outcome, page)
}

/// Builds one article: `(article, complete, problem, page)`. `complete` is false when the page
/// was needed but could not be fetched for a reason that may pass (timeouts, 5xx, bot walls, no
/// budget left).
///
/// A page that is not an article never gives the article its text. A paywall teaser is the
/// story's own page: its metadata (date, authors, canonical URL) is kept, and the entry is
/// stored with the feed's title and summary, as an analyst would see it in the feed. A login or
/// error page says nothing of the story: the entry is stored from its feed text when it has
/// some, and not at all when it has none (a listing or sitemap link to a dead or sign-in page),
/// so that no page title such as "Sign in" or "Page not found" reaches the archive. A bot wall
/// may lift: the entry is stored provisionally and the page fetched again at a later poll.
async fn build_article(
    ctx: &Context,
    source: &SourceConfig,
    c: &Candidate,
    budget: &AtomicUsize,
    cancel: &CancellationToken,
) -> (Option<StoredArticle>, bool, Option<String>, Page) {
    let e = &c.entry;
    let content_text = e
        .content
        .as_deref()
        .map(extract::html_to_text)
        .unwrap_or_default();
    let summary_text = e
        .summary
        .as_deref()
        .map(extract::html_to_text)
        .unwrap_or_default();
    let feed_text = if content_text.chars().count() >= summary_text.chars().count() {
        &content_text
    } else {
        &summary_text
    };
    let needs_page = c.url.is_some()
        && (source.fetch_articles || source.kind != SourceKind::Feed || is_teaser(feed_text));

    let mut title = e
        .title
        .as_deref()
        .map(extract::html_to_text)
        .unwrap_or_default();
    let mut body = feed_text.clone();
    let mut published = e.published.or(e.updated);
    let mut authors = e.authors.clone();
    let mut language = source.language.clone();
    let mut canonical = c.url.clone();
    let mut complete = true;
    let mut problem = None;
    let mut page_kind = Page::NotFetched;
    if let (true, Some(url)) = (needs_page, &c.url) {
        let take = budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !take {
            complete = false;
            problem = Some("page fetch budget of this poll used up".to_string());
        } else {
            let req = FetchRequest {
                url: url.clone(),
                purpose: Purpose::Article,
                etag: None,
                last_modified: None,
            };
            let result = timed_fetch(ctx, source, "article", &req, cancel).await;
            let extracted = match result.as_ref() {
                Ok(page) => {
                    let (body, content_type, page_url) = owned_parts(page);
                    crate::cpu::run("extract", move || {
                        extract::extract_bytes(&body, content_type.as_deref(), Some(&page_url))
                    })
                    .await
                    .inspect_err(|e| warn!(source = %source.name, url = %url, error = %e, "extraction failed; keeping the feed text"))
                    .ok()
                }
                Err(_) => None,
            };
            let not_article = extracted.as_ref().and_then(|a| a.not_article);
            let outcome = match not_article {
                // One label for walls, whether the fetch or the extraction recognised them.
                Some(NotAnArticle::BotWall) => "blocked",
                Some(kind) => kind.as_str(),
                None => article_outcome(&result),
            };
            ctx.metrics.article_fetch(&source.name, outcome);
            if let Some(kind) = not_article {
                info!(source = %source.name, url = %url, not_article = kind.as_str(), "the article page is {kind}; its text is not stored");
                page_kind = Page::Not(kind, url.to_string());
            }
            match (result, extracted) {
                (Ok(_), Some(a)) if a.not_article == Some(NotAnArticle::BotWall) => {
                    complete = false;
                    problem = Some(format!("{url}: {}", NotAnArticle::BotWall));
                }
                (Ok(_), Some(a))
                    if matches!(
                        a.not_article,
                        Some(NotAnArticle::Login | NotAnArticle::ErrorPage)
                    ) =>
                {
                    if body.is_empty() {
                        return (None, true, None, page_kind);
                    }
                }
                // An article, or a paywall teaser: the story's own page, right about its
                // metadata, but only an article gives its text.
                (Ok(_), Some(a)) => {
                    if a.not_article.is_none() {
                        page_kind = Page::Article;
                        if a.body.chars().count() > body.chars().count() {
                            body = a.body;
                        }
                    }
                    if title.is_empty() {
                        title = a.title.unwrap_or_default();
                    }
                    published = published.or(a.published);
                    if authors.is_empty() {
                        authors = a.authors;
                    }
                    language = language.or(a.language);
                    // The page's own canonical link only narrows within the same site; a canonical
                    // pointing elsewhere is not trusted to merge two different stories.
                    if let Some(pc) = a.canonical_url.as_deref().and_then(canonical_str)
                        && pc.host_str() == url.host_str()
                    {
                        canonical = Some(pc);
                    }
                }
                (Err(FetchError::Cancelled), _) => return (None, false, None, page_kind),
                (Err(err), _) => {
                    if matches!(err, FetchError::Blocked(_)) {
                        page_kind = Page::Not(NotAnArticle::BotWall, url.to_string());
                    }
                    let permanent = matches!(
                        err,
                        FetchError::RobotsDisallowed(_)
                            | FetchError::Refused(_)
                            | FetchError::TooLarge(_)
                            | FetchError::BadUrl(_)
                            | FetchError::TooManyRedirects
                    ) || matches!(err, FetchError::Http { status, .. } if (400..500).contains(&status) && status != 429 && status != 408);
                    debug!(source = %source.name, url = %url, error = %err, permanent, "article page not fetched; keeping the feed text");
                    complete = permanent;
                    problem = Some(format!("{url}: {err}"));
                }
                (Ok(_), None) => {}
            }
        }
    }
    if title.is_empty() && body.is_empty() {
        // An entry with nothing to show but its address or feed id (a sitemap URL whose page could
        // not be read yet, a bare guid) is still kept: the archive must not silently drop entries.
        title = match &c.url {
            Some(u) => u.to_string(),
            None => e.id.clone(),
        };
    }
    let analyzer = ctx.analyzer.clone();
    let (title, body, analysis) = match crate::cpu::run("analyze", move || {
        let analysis = analyzer.analyze(&title, &body);
        (title, body, analysis)
    })
    .await
    {
        Ok(done) => done,
        Err(e) => {
            warn!(source = %source.name, error = %e, "analysis failed; the entry waits for the next poll");
            return (None, false, None, page_kind);
        }
    };
    let url = c
        .url
        .as_ref()
        .map(|u| u.to_string())
        .or_else(|| e.link.clone())
        .unwrap_or_default();
    let article = StoredArticle {
        id: c.id.clone(),
        // The link as the feed gave it, less the tracking parameters (fragment kept).
        url: (e.link.as_deref())
            .map(crate::store::canonical::without_tracking)
            .unwrap_or_else(|| url.clone()),
        canonical_url: canonical.map(|u| u.to_string()).unwrap_or(url),
        source: source.name.clone(),
        title,
        body,
        summary: summary_text,
        published,
        fetched: Utc::now(),
        language,
        authors,
        analysis,
    };
    (Some(article), complete, problem, page_kind)
}

/// A feed text that is probably not the whole article.
fn is_teaser(text: &str) -> bool {
    let t = text.trim_end();
    t.chars().count() < FULL_TEXT_MIN_CHARS
        || t.ends_with("...")
        || t.ends_with('…')
        || t.ends_with("[…]")
        || t.ends_with("[...]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_past_the_cap_wait_for_a_release() {
        let inflight = Inflight::with_cap(3);
        for id in ["a", "b", "c"] {
            assert!(inflight.claim(id));
        }
        assert!(!inflight.claim("a"), "held by another poll");
        assert!(!inflight.claim("d"), "past the cap");
        inflight.release(["b".to_string()]);
        assert!(inflight.claim("d"));
        assert_eq!(inflight.ids.lock().unwrap().len(), 3);
    }

    #[test]
    fn gzip_bombs_stop_at_the_cap() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![b' '; 4 * 1024 * 1024])
            .expect("in memory");
        let bomb = enc.finish().expect("in memory");
        assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
        let err = gunzip_within(&bomb, 1024 * 1024).expect_err("over the cap");
        assert!(err.to_string().contains("more than 1048576 bytes"), "{err}");
        let fits = gunzip_within(&bomb, 8 * 1024 * 1024).expect("under the cap");
        assert_eq!(fits.len(), 4 * 1024 * 1024);
        assert_eq!(&*gunzip_within(b"<rss/>", 10).expect("plain"), b"<rss/>");
    }

    #[test]
    fn teasers() {
        assert!(is_teaser("Short summary."));
        assert!(is_teaser(&format!("{} and then...", "word ".repeat(200))));
        assert!(!is_teaser(&"A full paragraph of article text. ".repeat(30)));
    }
}
