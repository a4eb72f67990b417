//! Saved searches over HTTP: CRUD, matches, an Atom feed per alert, a dry run against the archive,
//! the delivery log with dead-letter replay, and the live SSE stream of matches.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::params::{DeliveryStatus, Id, Q, choice_param, number_param};
use super::{ApiError, ApiState, ErrorBody};
use crate::alert::store::{self, MatchRecord, OutboxRow, SaveError};
use crate::alert::{Alert, AlertConfig, Payload, feed, matcher};

/// Matches a slow stream listener may fall behind before it is told so and cut off: the
/// capacity of the broadcast channel that feeds every stream (one buffer for all listeners).
pub const MAX_STREAM_BACKLOG: usize = 256;

/// Alerting's parts the API needs.
#[derive(Clone)]
pub struct AlertApi {
    pub registry: crate::alert::Registry,
    pub stream: crate::alert::Stream,
    /// Bearer token for mutating routes and dry runs; `None` = no token configured (allowed on
    /// loopback, or beyond it with `allow_anonymous`; see [`crate::config::Config::api_token`]).
    pub token: Option<String>,
    /// Slots for open event streams (`[daemon] max_streams`); a stream holds one until it ends.
    pub streams: std::sync::Arc<tokio::sync::Semaphore>,
    /// Cancelled when the daemon stops: open event streams end, so that the server's graceful
    /// shutdown does not wait on listeners that never hang up.
    pub closing: tokio_util::sync::CancellationToken,
}

/// Compares in constant time, so response timing says nothing about how much of a guess was right,
/// nor about the token's length: both sides are hashed to 32 bytes first, and those compared
/// without an early exit.
fn same(a: &[u8], b: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    Sha256::digest(a).ct_eq(&Sha256::digest(b)).into()
}

/// Mutating routes and dry runs need `Authorization: Bearer <token>` when a token is configured.
fn authorize(s: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = &s.alerts.token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
        .ok_or_else(|| {
            ApiError::Unauthorized("this route needs `Authorization: Bearer <token>`".into())
        })?;
    if same(given.trim().as_bytes(), token.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("the bearer token is not valid".into()))
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

fn refresh(s: &ApiState) -> Result<(), ApiError> {
    let alerts = store::list(&s.state).map_err(internal)?;
    if let Ok(mut r) = s.alerts.registry.write() {
        *r = std::sync::Arc::new(alerts);
    }
    Ok(())
}

fn find(s: &ApiState, id: i64) -> Result<Alert, ApiError> {
    store::get(&s.state, id)
        .map_err(internal)?
        .ok_or_else(|| ApiError::NotFound(format!("no alert with id {id}")))
}

/// Checks an alert sent to the API the way `check-config` checks `[[alert]]`.
fn validate(s: &ApiState, spec: &AlertConfig) -> Result<(), ApiError> {
    // "Blank" as the document's pattern says it, so that the two agree on every name.
    let blank = |c: char| matches!(c, '\t' | '\n' | '\x0b' | '\x0c' | '\r' | ' ');
    if spec.name.chars().all(blank) || spec.name.chars().count() > 200 {
        return Err(ApiError::BadRequest(
            "`name`: must be 1 to 200 characters, not all blank".into(),
        ));
    }
    if spec.query.chars().count() > 4096 {
        return Err(ApiError::BadRequest(
            "`query`: longer than 4,096 characters".into(),
        ));
    }
    if let Some(t) = &spec.topic
        && !crate::analyze::TOPICS.contains(&t.as_str())
    {
        return Err(ApiError::BadRequest(format!(
            "`topic`: `{t}` is not one of {}",
            crate::analyze::TOPICS.join(", ")
        )));
    }
    if !(0.0..=1.0).contains(&spec.min_score) {
        return Err(ApiError::BadRequest(
            "`min_score`: must be between 0 and 1".into(),
        ));
    }
    let config = s
        .config
        .read()
        .map(|c| c.clone())
        .map_err(|_| internal("configuration lock poisoned"))?;
    for ch in &spec.channels {
        // Valid by the document, but not here: a conflict with the configuration.
        if !config.channels.iter().any(|c| &c.name == ch) {
            return Err(ApiError::Conflict(format!(
                "`channels`: no channel named `{ch}` is configured"
            )));
        }
    }
    Ok(())
}

fn saved(e: SaveError) -> ApiError {
    match e {
        SaveError::Duplicate(n) => {
            ApiError::Conflict(format!("an alert named `{n}` exists already"))
        }
        SaveError::State(e) => internal(e),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AlertList {
    pub alerts: Vec<Alert>,
}

/// All saved searches.
#[utoipa::path(get, path = "/api/v1/alerts", responses((status = 200, body = AlertList)))]
pub(super) async fn list(State(s): State<ApiState>) -> Result<Json<AlertList>, ApiError> {
    Ok(Json(AlertList {
        alerts: store::list(&s.state).map_err(internal)?,
    }))
}

type Body = Result<Json<AlertConfig>, axum::extract::rejection::JsonRejection>;

fn body(b: Body) -> Result<AlertConfig, ApiError> {
    b.map(|Json(b)| b).map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(format!(
                "the body is larger than {} KiB; an alert is far smaller",
                super::MAX_BODY / 1024
            ))
        } else {
            ApiError::BadRequest(format!("body: {}", e.body_text()))
        }
    })
}

/// Saves a new search (needs the bearer token when one is configured).
#[utoipa::path(post, path = "/api/v1/alerts", request_body = AlertConfig, responses(
    (status = 201, body = Alert), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub(super) async fn create(
    State(s): State<ApiState>,
    headers: HeaderMap,
    b: Body,
) -> Result<(StatusCode, Json<Alert>), ApiError> {
    authorize(&s, &headers)?;
    let spec = body(b)?;
    validate(&s, &spec)?;
    let alert = store::create(&s.state, &spec, "api").map_err(saved)?;
    refresh(&s)?;
    Ok((StatusCode::CREATED, Json(alert)))
}

/// One saved search.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", params(Id), responses((status = 200, body = Alert), (status = 404, body = ErrorBody)))]
pub(super) async fn get(State(s): State<ApiState>, Id { id }: Id) -> Result<Json<Alert>, ApiError> {
    Ok(Json(find(&s, id)?))
}

fn editable(a: &Alert) -> Result<(), ApiError> {
    if a.origin == "config" {
        return Err(ApiError::Conflict(format!(
            "alert `{}` is defined in the configuration file; change it there",
            a.spec.name
        )));
    }
    Ok(())
}

/// Replaces a saved search made through the API.
#[utoipa::path(put, path = "/api/v1/alerts/{id}", params(Id), request_body = AlertConfig, responses(
    (status = 200, body = Alert), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    (status = 413, body = ErrorBody)))]
pub(super) async fn update(
    State(s): State<ApiState>,
    Id { id }: Id,
    headers: HeaderMap,
    b: Body,
) -> Result<Json<Alert>, ApiError> {
    authorize(&s, &headers)?;
    let spec = body(b)?;
    editable(&find(&s, id)?)?;
    validate(&s, &spec)?;
    store::update(&s.state, id, &spec).map_err(saved)?;
    refresh(&s)?;
    Ok(Json(find(&s, id)?))
}

/// Deletes a saved search made through the API, with its delivery log.
#[utoipa::path(delete, path = "/api/v1/alerts/{id}", params(Id), responses(
    (status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(super) async fn delete(
    State(s): State<ApiState>,
    Id { id }: Id,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    authorize(&s, &headers)?;
    editable(&find(&s, id)?)?;
    store::delete(&s.state, id).map_err(internal)?;
    refresh(&s)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitParams {
    /// At most this many (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

fn limit(p: &Option<String>) -> Result<usize, ApiError> {
    number_param("limit", p.as_deref(), 1..=500, 50)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MatchList {
    pub matches: Vec<MatchRecord>,
}

/// The articles an alert matched, newest first.
#[utoipa::path(get, path = "/api/v1/alerts/{id}/matches", params(Id, LimitParams), responses((status = 200, body = MatchList), (status = 404, body = ErrorBody)))]
pub(super) async fn matches(
    State(s): State<ApiState>,
    Id { id }: Id,
    Q(q): Q<LimitParams>,
) -> Result<Json<MatchList>, ApiError> {
    let limit = limit(&q.limit)?;
    find(&s, id)?;
    Ok(Json(MatchList {
        matches: store::matches(&s.state, id, limit).map_err(internal)?,
    }))
}

/// The alert's matches as an Atom feed, for feed readers.
#[utoipa::path(get, path = "/api/v1/alerts/{id}/feed.atom", params(Id), responses((status = 200, description = "Atom 1.0 feed", content_type = "application/atom+xml"), (status = 404, body = ErrorBody)))]
pub(super) async fn atom(
    State(s): State<ApiState>,
    Id { id }: Id,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let alert = find(&s, id)?;
    let matches = store::matches(&s.state, id, 100).map_err(internal)?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let xml = feed::render(
        &alert,
        &matches,
        &format!("http://{host}/api/v1/alerts/{id}/feed.atom"),
    );
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        xml,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DryRunParams {
    /// How far back to look, in days (default 7).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 3650)]
    pub days: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DryRun {
    /// Articles of the period the search matches (before `min_score`).
    pub total: usize,
    /// The best matches that also pass `min_score` (at most 50), as the alert would send them.
    pub matches: Vec<Payload>,
}

/// Dry run: what the alert would have matched in the archive over the last N days. Its cost grows
/// with the archive, so it needs the bearer token when one is configured, and it takes its turn
/// with the searches (one more at a time than there are cores).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/test", params(Id, DryRunParams), responses(
    (status = 200, body = DryRun), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn dry_run(
    State(s): State<ApiState>,
    Id { id }: Id,
    headers: HeaderMap,
    Q(q): Q<DryRunParams>,
) -> Result<Json<DryRun>, ApiError> {
    authorize(&s, &headers)?;
    let days = days(&q)?;
    let alert = find(&s, id)?;
    Ok(Json(run_dry(&s, alert, days).await?))
}

/// Dry run of a search not saved yet (the page's alert editor, before "Save"): the same answer as
/// `POST /alerts/{id}/test` for the alert this body would make. The body is checked as a new
/// alert is, channels included, so a spec that passes here can be saved.
#[utoipa::path(post, path = "/api/v1/alerts/test", params(DryRunParams), request_body = AlertConfig, responses(
    (status = 200, body = DryRun), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
    (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub(super) async fn dry_run_spec(
    State(s): State<ApiState>,
    headers: HeaderMap,
    Q(q): Q<DryRunParams>,
    b: Body,
) -> Result<Json<DryRun>, ApiError> {
    authorize(&s, &headers)?;
    let days = days(&q)?;
    let spec = body(b)?;
    validate(&s, &spec)?;
    // Never stored: the id only keys idempotency, which a dry run does not use.
    let alert = Alert {
        id: 0,
        origin: "api".into(),
        spec,
    };
    Ok(Json(run_dry(&s, alert, days).await?))
}

fn days(q: &DryRunParams) -> Result<i64, ApiError> {
    number_param("days", q.days.as_deref(), 1..=3650, 7)
}

async fn run_dry(s: &ApiState, alert: Alert, days: i64) -> Result<DryRun, ApiError> {
    let mut req = matcher::request(&alert);
    req.from = Some(Utc::now() - chrono::Duration::days(days));
    req.limit = 100;
    req.sort = crate::store::Sort::Newest;
    let index = s.index.clone();
    super::blocking(move || -> Result<DryRun, crate::store::IndexError> {
        let words = index
            .saved_query(&matcher::request(&alert))
            .words()
            .to_vec();
        let found = index.search(&req)?;
        let mut matches = Vec::new();
        for hit in found.hits {
            if let Some(a) = index.get(&hit.id)?
                && matcher::passes_min_score(&alert, &a)
            {
                matches.push(matcher::payload(
                    &alert,
                    &a,
                    &matcher::Sentences::of(&a.body),
                    &words,
                ));
            }
            if matches.len() >= 50 {
                break;
            }
        }
        Ok(DryRun {
            total: found.total,
            matches,
        })
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// Only deliveries in this state (default: all).
    #[param(value_type = Option<DeliveryStatus>)]
    pub status: Option<String>,
    /// At most this many (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<OutboxRow>,
}

/// The delivery log: pending, delivered and dead-lettered deliveries, newest first.
#[utoipa::path(get, path = "/api/v1/deliveries", params(DeliveryParams), responses((status = 200, body = DeliveryList), (status = 400, body = ErrorBody)))]
pub(super) async fn deliveries(
    State(s): State<ApiState>,
    Q(q): Q<DeliveryParams>,
) -> Result<Json<DeliveryList>, ApiError> {
    let status = choice_param(
        "status",
        q.status.as_deref(),
        &["pending", "delivered", "dead"],
    )?;
    Ok(Json(DeliveryList {
        deliveries: store::deliveries(&s.state, status, limit(&q.limit)?).map_err(internal)?,
    }))
}

/// Sends a dead-lettered delivery again.
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/replay", params(Id), responses(
    (status = 202, description = "queued again"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn replay(
    State(s): State<ApiState>,
    Id { id }: Id,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    authorize(&s, &headers)?;
    if store::replay(&s.state, id).map_err(internal)? {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(ApiError::NotFound(format!("no dead delivery with id {id}")))
    }
}

/// Server-sent events: every new alert match as it is committed (`event: match`). At most
/// `[daemon] max_streams` are open at once (503 with `Retry-After` beyond). A listener that falls
/// more than [`MAX_STREAM_BACKLOG`] matches behind gets `event: lagged` (data: `{"missed": n}`)
/// and the stream ends; it reconnects (an `EventSource` does so by itself) and carries on.
#[utoipa::path(get, path = "/api/v1/stream", responses(
    (status = 200, description = "text/event-stream of matches", content_type = "text/event-stream"),
    (status = 503, body = ErrorBody, description = "too many streams open; retry after `Retry-After` seconds")))]
pub(super) async fn stream(
    State(s): State<ApiState>,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let slot = s.alerts.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::Busy(
            "as many event streams are open as this daemon serves (`[daemon] max_streams`); retry later"
                .into(),
        )
    })?;
    let events = events(s.alerts.stream.subscribe(), s.alerts.closing.clone(), slot);
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// The events of one listener. `slot` is held until the stream is dropped (the client hung up,
/// lagged, or the daemon stops).
fn events(
    rx: tokio::sync::broadcast::Receiver<crate::alert::LiveMatch>,
    closing: tokio_util::sync::CancellationToken,
    slot: tokio::sync::OwnedSemaphorePermit,
) -> impl futures::Stream<Item = Result<Event, Infallible>> {
    use tokio::sync::broadcast::error::RecvError;
    futures::stream::unfold(Some((rx, slot)), move |state| {
        let closing = closing.clone();
        async move {
            let (mut rx, slot) = state?;
            let received = tokio::select! {
                r = rx.recv() => r,
                _ = closing.cancelled() => return None,
            };
            match received {
                Ok(m) => {
                    let event = Event::default()
                        .event("match")
                        .json_data(&m)
                        .unwrap_or_else(|_| Event::default().comment("unserialisable match"));
                    Some((Ok(event), Some((rx, slot))))
                }
                // The channel kept only the newest matches: say how many this listener missed,
                // then end, rather than hold anything back for it.
                Err(RecvError::Lagged(missed)) => {
                    let event = Event::default()
                        .event("lagged")
                        .data(format!("{{\"missed\":{missed}}}"));
                    Some((Ok(event), None))
                }
                Err(RecvError::Closed) => None,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::StreamExt;

    use super::*;

    fn live(n: usize) -> crate::alert::LiveMatch {
        let article = serde_json::json!({"article_id": format!("{n:032x}"), "title": "t", "url": "u",
            "source": "s", "published": null, "topics": [], "entities": [], "evidence": []});
        crate::alert::LiveMatch {
            alert: crate::alert::AlertRef {
                id: 1,
                name: "a".into(),
            },
            article: serde_json::from_value(article).unwrap(),
        }
    }

    /// A listener that does not read while 10x the backlog is sent: the channel holds no more
    /// than its capacity, and the listener gets one notice, then its stream ends and its slot
    /// is free again.
    #[tokio::test]
    async fn a_lagging_listener_is_told_and_cut_off() {
        let (tx, rx) = tokio::sync::broadcast::channel(MAX_STREAM_BACKLOG);
        let slots = Arc::new(tokio::sync::Semaphore::new(1));
        let slot = slots.clone().try_acquire_owned().unwrap();
        let mut events = Box::pin(events(rx, Default::default(), slot));
        for n in 0..10 * MAX_STREAM_BACKLOG {
            tx.send(live(n)).unwrap();
            assert!(tx.len() <= MAX_STREAM_BACKLOG);
        }
        assert_eq!(slots.available_permits(), 0);
        assert!(events.next().await.is_some(), "the lag notice");
        assert!(
            events.next().await.is_none(),
            "the stream goes on after lagging"
        );
        drop(events);
        assert_eq!(slots.available_permits(), 1, "the slot was not given back");
    }

    #[tokio::test]
    async fn a_listener_that_keeps_up_gets_every_match() {
        let (tx, rx) = tokio::sync::broadcast::channel(MAX_STREAM_BACKLOG);
        let slot = Arc::new(tokio::sync::Semaphore::new(1))
            .try_acquire_owned()
            .unwrap();
        let mut events = Box::pin(events(rx, Default::default(), slot));
        for n in 0..3 * MAX_STREAM_BACKLOG {
            tx.send(live(n)).unwrap();
            assert!(events.next().await.is_some());
        }
        drop(tx);
        assert!(events.next().await.is_none());
    }

    #[test]
    fn constant_time_compare() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secret", b"secret2"));
    }
}
