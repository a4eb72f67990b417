//! The HTTP API (axum): search, articles, sources, health.

mod error;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::app::{Health, SharedConfig};
use crate::store::{self, ArticleIndex, SearchRequest, SearchResponse, Sort, StoredArticle};
use crate::telemetry::Metrics;
pub use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct ApiState {
    pub index: ArticleIndex,
    pub state: store::State,
    pub config: SharedConfig,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
}

pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/search", get(search))
        .route("/api/v1/articles/{id}", get(article))
        .route("/api/v1/sources", get(sources))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .with_state(state)
}

/// Query parameters of `/api/v1/search`, all optional and validated by hand so that every bad
/// value gets a 400 naming the parameter.
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    pub q: Option<String>,
    pub topic: Option<String>,
    pub entity: Option<String>,
    pub source: Option<String>,
    pub lang: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// A date parameter: RFC 3339 or a calendar day (UTC). `end_of_day` makes a day inclusive for `to`.
pub fn parse_date_param(
    name: &'static str,
    v: &str,
    end_of_day: bool,
) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Ok(d.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| if end_of_day { d.succ_opt() } else { Some(d) })
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`{name}`: `{v}` is not a date (YYYY-MM-DD or RFC 3339)"
            ))
        })
}

impl SearchParams {
    pub fn into_request(self) -> Result<SearchRequest, ApiError> {
        let limit = match self.limit.as_deref() {
            None | Some("") => 20,
            Some(l) => match l.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    return Err(ApiError::BadRequest(format!(
                        "`limit`: `{l}` is not a number from 1 to 100"
                    )));
                }
            },
        };
        let sort = match self.sort.as_deref() {
            None | Some("") | Some("relevance") => Sort::Relevance,
            Some("newest") => Sort::Newest,
            Some(s) => {
                return Err(ApiError::BadRequest(format!(
                    "`sort`: `{s}` is neither `relevance` nor `newest`"
                )));
            }
        };
        if let Some(t) = self.topic.as_deref().filter(|t| !t.is_empty())
            && !crate::analyze::TOPICS.contains(&t)
        {
            return Err(ApiError::BadRequest(format!(
                "`topic`: `{t}` is not one of {}",
                crate::analyze::TOPICS.join(", ")
            )));
        }
        let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
        Ok(SearchRequest {
            q: self.q.unwrap_or_default(),
            topic: nonempty(self.topic),
            entity: nonempty(self.entity),
            source: nonempty(self.source),
            lang: nonempty(self.lang),
            from: nonempty(self.from)
                .map(|v| parse_date_param("from", &v, false))
                .transpose()?,
            to: nonempty(self.to)
                .map(|v| parse_date_param("to", &v, true))
                .transpose()?,
            sort,
            limit,
            cursor: nonempty(self.cursor),
        })
    }
}

async fn search(
    State(s): State<ApiState>,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let req = params.into_request()?;
    let index = s.index.clone();
    let resp = tokio::task::spawn_blocking(move || index.search(&req))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok(Json(resp))
}

async fn article(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<StoredArticle>, ApiError> {
    if id.len() > 64 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::BadRequest(format!(
            "`id`: `{id}` is not an article id"
        )));
    }
    let index = s.index.clone();
    let found = tokio::task::spawn_blocking(move || index.get(&id))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    found
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no article with this id".into()))
}

/// Liveness: the same checks as the systemd watchdog.
async fn healthz(State(s): State<ApiState>) -> Result<&'static str, ApiError> {
    s.health
        .heartbeats
        .check()
        .map(|()| "ok")
        .map_err(|part| ApiError::Unavailable(format!("the {part} is not alive")))
}

/// Readiness: the index is open and the daemon is not stopping.
async fn readyz(State(s): State<ApiState>) -> Result<&'static str, ApiError> {
    if s.health.ready.load(std::sync::atomic::Ordering::SeqCst) {
        Ok("ready")
    } else {
        Err(ApiError::Unavailable(
            "not ready: starting or stopping".into(),
        ))
    }
}

async fn metrics(State(s): State<ApiState>) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
}

async fn sources(State(s): State<ApiState>) -> Result<Json<serde_json::Value>, ApiError> {
    let stored = s
        .state
        .sources()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let config = s
        .config
        .read()
        .map(|c| c.clone())
        .map_err(|_| ApiError::Internal("configuration lock poisoned".into()))?;
    let configured = &config.sources;
    let list: Vec<serde_json::Value> = configured
        .iter()
        .map(|c| {
            let st = stored.iter().find(|x| x.name == c.name);
            serde_json::json!({
                "name": c.name,
                "kind": c.kind,
                "url": c.url,
                "enabled": c.enabled,
                "status": st.and_then(|x| x.status.clone()),
                "last_attempt": st.and_then(|x| x.last_attempt),
                "last_success": st.and_then(|x| x.last_success),
                "last_error": st.and_then(|x| x.last_error.clone()),
                "next_check": st.and_then(|x| x.next_check_at),
                "consecutive_failures": st.map(|x| x.consecutive_failures).unwrap_or(0),
                "article_count": st.map(|x| x.article_count).unwrap_or(0),
                "last_new_article": st.and_then(|x| x.last_new_at),
                "stale": st.is_some_and(|x| x.is_stale(config.interval_of(c), chrono::Utc::now())),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "sources": list })))
}
