//! The HTTP API (axum): search, articles, timeline, facets, sources, health, metrics, and the
//! OpenAPI document generated from the handlers' annotations.

mod access;
mod alerts;
mod error;
mod export;
mod params;
mod ui;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::OpenApi;

use params::{CommonResponses, FieldParams, IntervalParams, Q};
pub use params::{FilterParams, PageParams, SearchParams, parse_date_param};

use crate::app::{Health, SharedConfig};
use crate::store::index::{FacetCount, FacetField, Interval, Timeline};
use crate::store::{self, ArticleIndex, SearchResponse, StoredArticle};
use crate::telemetry::Metrics;
pub use access::{MAX_BODY, MAX_QUERY};
pub use alerts::{AlertApi, MAX_STREAM_BACKLOG};
pub use error::{ApiError, ErrorBody};

/// What every handler can reach.
#[derive(Clone)]
pub struct ApiState {
    pub index: ArticleIndex,
    pub state: store::State,
    pub config: SharedConfig,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub alerts: AlertApi,
}

/// The OpenAPI document: every route below is listed here, and a test checks that the router and
/// the document agree.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "wirewatch API",
        description = "Search the archive of sanctions, tariffs, export-control and chip-smuggling news.\n\nEvery route answers 414 `uri_too_long` to a query string over 8 KiB and 421 `misdirected_request` to a Host header that is neither loopback nor configured (`[daemon] allowed_hosts`, `public_url`). State-changing routes and dry runs need `Authorization: Bearer <token>` when the daemon has a token (401 without, 403 when wrong), answer 403 to a request from another site's page (its `Origin`), and 413 to a body over 64 KiB."
    ),
    paths(
        search,
        article,
        timeline,
        facets,
        sources,
        export::export,
        healthz,
        readyz,
        metrics,
        openapi_json,
        ui::index,
        alerts::list,
        alerts::create,
        alerts::get,
        alerts::update,
        alerts::delete,
        alerts::matches,
        alerts::atom,
        alerts::dry_run,
        alerts::dry_run_spec,
        alerts::deliveries,
        alerts::replay,
        alerts::stream
    ),
    components(schemas(
        ErrorBody,
        SourceHealth,
        SourcesResponse,
        FacetsResponse,
        crate::analyze::TopicName,
        crate::analyze::ModelEvidence,
        crate::analyze::FeatureWeight,
        params::SortOrder,
        params::IntervalName,
        params::FacetName,
        params::DeliveryStatus,
        params::DateParam,
        export::ExportFormat,
        export::ExportRow
    )),
    modifiers(&CommonResponses)
)]
pub struct ApiDoc;

/// Every route the router serves, as (method, path) in OpenAPI form.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/search"),
    ("get", "/api/v1/articles/{id}"),
    ("get", "/api/v1/timeline"),
    ("get", "/api/v1/facets"),
    ("get", "/api/v1/sources"),
    ("get", "/api/v1/export"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/"),
    ("get", "/api/v1/alerts"),
    ("post", "/api/v1/alerts"),
    ("get", "/api/v1/alerts/{id}"),
    ("put", "/api/v1/alerts/{id}"),
    ("delete", "/api/v1/alerts/{id}"),
    ("get", "/api/v1/alerts/{id}/matches"),
    ("get", "/api/v1/alerts/{id}/feed.atom"),
    ("post", "/api/v1/alerts/{id}/test"),
    ("post", "/api/v1/alerts/test"),
    ("get", "/api/v1/deliveries"),
    ("post", "/api/v1/deliveries/{id}/replay"),
    ("get", "/api/v1/stream"),
];

/// The API with its guards: the Host allowlist, the origin check and the query-length cap on every
/// route, the body cap and CORS (when configured) on the API's own routes.
pub fn router(state: ApiState) -> Router {
    router_with(state, None)
}

/// [`router`] plus `extra` routes (the WebSub callbacks) behind the same Host and query guards;
/// `extra` keeps its own body limit (pushed feeds are larger than any API request).
pub fn router_with(state: ApiState, extra: Option<Router>) -> Router {
    let config = state.config.read().map(|c| c.clone()).ok();
    let mut app = routes(state.clone()).layer(axum::extract::DefaultBodyLimit::max(MAX_BODY));
    if let Some(cors) = config.as_deref().and_then(access::cors) {
        app = app.layer(cors);
    }
    if let Some(extra) = extra {
        app = app.merge(extra);
    }
    app.layer(axum::middleware::from_fn_with_state(state, access::guard))
}

fn routes(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .route("/", get(ui::index))
        .route("/ui/app.js", get(ui::script))
        .route("/ui/app.css", get(ui::style))
        .route("/api/v1/search", get(search))
        .route("/api/v1/articles/{id}", get(article))
        .route("/api/v1/timeline", get(timeline))
        .route("/api/v1/facets", get(facets))
        .route("/api/v1/sources", get(sources))
        .route("/api/v1/export", get(export::export))
        .route("/api/v1/alerts", get(alerts::list).post(alerts::create))
        .route(
            "/api/v1/alerts/{id}",
            get(alerts::get).put(alerts::update).delete(alerts::delete),
        )
        .route(
            "/api/v1/alerts/test",
            axum::routing::post(alerts::dry_run_spec),
        )
        .route("/api/v1/alerts/{id}/matches", get(alerts::matches))
        .route("/api/v1/alerts/{id}/feed.atom", get(alerts::atom))
        .route(
            "/api/v1/alerts/{id}/test",
            axum::routing::post(alerts::dry_run),
        )
        .route("/api/v1/deliveries", get(alerts::deliveries))
        .route(
            "/api/v1/deliveries/{id}/replay",
            axum::routing::post(alerts::replay),
        )
        .route("/api/v1/stream", get(alerts::stream))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .with_state(state)
}

/// The turns index queries take: one more at a time than there are cores (see [`blocking`]).
/// Public so that a benchmark's peer engine can be held to the same bound.
pub fn query_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores + 1)
    })
}

/// Runs index work off the async threads, one more at a time than there are cores. Searches are
/// CPU-bound: sixteen of them time-sliced over two cores all finish late, and starve the async
/// threads that read requests and write responses; queued, each runs at full speed in turn (the
/// one extra keeps a core busy while a finished search hands its slot on).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, store::IndexError> + Send + 'static,
) -> Result<T, ApiError> {
    let _slot = query_slots()
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::from)
}

/// Search the archive.
#[utoipa::path(get, path = "/api/v1/search", params(FilterParams, PageParams),
    responses((status = 200, body = SearchResponse), (status = 400, body = ErrorBody)))]
async fn search(
    State(s): State<ApiState>,
    Q(p): Q<SearchParams>,
) -> Result<Json<SearchResponse>, ApiError> {
    let req = p.into_request()?;
    let index = s.index.clone();
    Ok(Json(blocking(move || index.search(&req)).await?))
}

/// One article with its body, mentions (sentences with offsets), entities and facts.
#[utoipa::path(get, path = "/api/v1/articles/{id}", params(("id" = String, Path, description = "Article id (32 hex digits)", pattern = r"^[0-9A-Fa-f]{1,64}$")),
    responses((status = 200, body = StoredArticle), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn article(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<StoredArticle>, ApiError> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::BadRequest(format!(
            "`id`: `{}` is not an article id",
            id.chars().take(80).collect::<String>()
        )));
    }
    let index = s.index.clone();
    blocking(move || index.get(&id))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no article with this id".into()))
}

/// Matches per calendar day, ISO week or month (UTC), empty buckets included.
#[utoipa::path(get, path = "/api/v1/timeline", params(FilterParams, IntervalParams),
    responses((status = 200, body = Timeline), (status = 400, body = ErrorBody)))]
async fn timeline(
    State(s): State<ApiState>,
    Q(p): Q<FilterParams>,
    Q(i): Q<IntervalParams>,
) -> Result<Json<Timeline>, ApiError> {
    let interval =
        match params::choice_param("interval", i.interval.as_deref(), &["day", "week", "month"])? {
            Some("week") => Interval::Week,
            Some("month") => Interval::Month,
            _ => Interval::Day,
        };
    let req = p.into_request()?;
    let index = s.index.clone();
    Ok(Json(
        blocking(move || index.timeline(&req, interval)).await?,
    ))
}

/// Facet counts per field value.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FacetsResponse {
    /// Field name → values with counts, most frequent first (at most 50 per field).
    pub facets: std::collections::BTreeMap<String, Vec<FacetCount>>,
}

/// Counts per source, topic, entity, language, restricted-party list and sanctions program for a
/// query and its filters.
#[utoipa::path(get, path = "/api/v1/facets", params(FilterParams, FieldParams),
    responses((status = 200, body = FacetsResponse), (status = 400, body = ErrorBody)))]
async fn facets(
    State(s): State<ApiState>,
    Q(p): Q<FilterParams>,
    Q(f): Q<FieldParams>,
) -> Result<Json<FacetsResponse>, ApiError> {
    let fields: Vec<FacetField> = match f.field.as_deref() {
        None => FacetField::ALL.to_vec(),
        Some(f) => vec![FacetField::parse(f).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`field`: `{f}` is not source, topic, entity, lang, listed or program"
            ))
        })?],
    };
    let req = p.into_request()?;
    let index = s.index.clone();
    let facets = blocking(move || {
        fields
            .into_iter()
            .map(|f| {
                index
                    .facets(&req, f, 50)
                    .map(|counts| (f.as_str().to_string(), counts))
            })
            .collect::<Result<_, _>>()
    })
    .await?;
    Ok(Json(FacetsResponse { facets }))
}

/// Liveness: the same checks as the systemd watchdog.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "alive"), (status = 503, body = ErrorBody)))]
async fn healthz(State(s): State<ApiState>) -> Result<&'static str, ApiError> {
    s.health
        .heartbeats
        .check()
        .map(|()| "ok")
        .map_err(|part| ApiError::Unavailable(format!("the {part} is not alive")))
}

/// Readiness: the index is open and the daemon is not stopping.
#[utoipa::path(get, path = "/readyz", responses((status = 200, description = "ready"), (status = 503, body = ErrorBody)))]
async fn readyz(State(s): State<ApiState>) -> Result<&'static str, ApiError> {
    if s.health.ready.load(std::sync::atomic::Ordering::SeqCst) {
        Ok("ready")
    } else {
        Err(ApiError::Unavailable(
            "not ready: starting or stopping".into(),
        ))
    }
}

/// Metrics in OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text")))]
async fn metrics(State(s): State<ApiState>) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "OpenAPI 3 document")))]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// One source's health.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SourceHealth {
    pub name: String,
    pub kind: String,
    pub url: String,
    pub enabled: bool,
    /// ok, not-modified, http-error, fetch-error, parse-error, blocked, robots-disallowed, disabled.
    pub status: Option<String>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub next_check: Option<DateTime<Utc>>,
    pub consecutive_failures: u32,
    pub article_count: u64,
    pub last_new_article: Option<DateTime<Utc>>,
    /// Answers, but has brought nothing new for 20 times its interval (at least 6 hours).
    pub stale: bool,
    /// Fetches for this source (its feed, redirects, children, article pages) that the outbound
    /// policy refused since the daemon started: a link to a private address, say.
    pub refused_fetches: u64,
    /// The last such refusal: the URL and the rule.
    pub last_refusal: Option<String>,
    pub last_refusal_at: Option<DateTime<Utc>>,
    /// Articles first stored from this source per day, over the last 7 days.
    pub items_per_day: f64,
    /// The last poll met a bot wall: the source, or every article page it asked for, answered
    /// with an anti-bot challenge (status `blocked`).
    pub bot_wall: bool,
    /// Article pages of this source that were bot-wall challenges since the daemon started.
    pub bot_wall_pages: u64,
    /// Article pages of this source that were paywall teasers since the daemon started (their
    /// text was not stored; the feed's was).
    pub paywalled_pages: u64,
    /// Some of this source's article pages are paywalled (`paywalled_pages` > 0).
    pub paywall: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SourcesResponse {
    pub sources: Vec<SourceHealth>,
}

/// Each configured source's health.
#[utoipa::path(get, path = "/api/v1/sources", responses((status = 200, body = SourcesResponse)))]
async fn sources(State(s): State<ApiState>) -> Result<Json<SourcesResponse>, ApiError> {
    let stored = s
        .state
        .sources()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let config = s
        .config
        .read()
        .map(|c| c.clone())
        .map_err(|_| ApiError::Internal("configuration lock poisoned".into()))?;
    let now = Utc::now();
    const WEEK: i64 = 7;
    let recent = s
        .state
        .stored_per_source_since(now - chrono::Duration::days(WEEK))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let sources = config
        .sources
        .iter()
        .map(|c| {
            let st = stored.iter().find(|x| x.name == c.name);
            let refusals = s.metrics.refusals_of(&c.name);
            let paywalled_pages = s.metrics.article_fetches_of(&c.name, "paywall");
            let status = st.and_then(|x| x.status.clone());
            SourceHealth {
                name: c.name.clone(),
                kind: c.kind.to_string(),
                url: c.url.clone(),
                enabled: c.enabled,
                bot_wall: status.as_deref() == Some("blocked"),
                status,
                last_attempt: st.and_then(|x| x.last_attempt),
                last_success: st.and_then(|x| x.last_success),
                last_error: st.and_then(|x| x.last_error.clone()),
                next_check: st.and_then(|x| x.next_check_at),
                consecutive_failures: st.map(|x| x.consecutive_failures).unwrap_or(0),
                article_count: st.map(|x| x.article_count).unwrap_or(0),
                last_new_article: st.and_then(|x| x.last_new_at),
                stale: st.is_some_and(|x| x.is_stale(config.interval_of(c), now)),
                refused_fetches: refusals.as_ref().map_or(0, |r| r.count),
                last_refusal: refusals.as_ref().map(|r| r.last.clone()),
                last_refusal_at: refusals.and_then(|r| r.at),
                items_per_day: recent.get(&c.name).copied().unwrap_or(0) as f64 / WEEK as f64,
                bot_wall_pages: s.metrics.article_fetches_of(&c.name, "blocked"),
                paywalled_pages,
                paywall: paywalled_pages > 0,
            }
        })
        .collect();
    Ok(Json(SourcesResponse { sources }))
}
