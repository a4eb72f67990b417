//! WebSub (W3C recommendation) subscriber: feeds that advertise a hub push their updates here.
//!
//! - A successful poll of a feed that names a hub (`rel="hub"` in the document or its `Link`
//!   header) and a `[daemon] public_url` lead to a subscription request to the hub
//!   (`hub.callback` = `public_url` + `/websub/{id}`, with a per-subscription secret).
//! - The hub verifies with a GET on the callback: the challenge is echoed only for the topic we
//!   asked for at that callback; anything else is a 404.
//! - Content is POSTed to the callback, signed with `X-Hub-Signature: sha1=|sha256=|sha384=|
//!   sha512=` (HMAC of the body with our secret). A verified push goes through the normal ingest
//!   path of its source. A push with a missing or wrong signature is answered 202, as the spec
//!   asks (so a forger learns nothing), logged, and ignored.
//! - Leases are renewed when 80% of them has passed; polling goes on as the fallback, at the
//!   source's `max_interval` while the subscription is live.
//!
//! The callback id is random and unguessable; the bearer token of the API does not apply here
//! (hubs cannot send it), the signature does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use rusqlite::{OptionalExtension, params};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use url::Url;

use crate::discover::{FeedHead, link_header};
use crate::fetch::Fetched;
use crate::store::State;
use crate::store::state::{from_ts, ts};

/// The lease we ask for; hubs grant what they like and say so at verification.
const REQUESTED_LEASE: Duration = Duration::from_secs(10 * 24 * 3600);
/// A subscription request that the hub neither verified nor refused is sent again after this.
const RETRY_UNVERIFIED: Duration = Duration::from_secs(600);
/// A refused or failed subscription is tried again (at a poll) after this.
const RETRY_REFUSED: Duration = Duration::from_secs(6 * 3600);

/// Content a hub pushed for a source, verified, on its way to the ingest path.
#[derive(Debug)]
pub struct Push {
    pub source: String,
    pub topic: String,
    pub body: Bytes,
    pub content_type: Option<String>,
}

/// One subscription, as stored in `state.sqlite` (table `websub`).
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// The last path segment of the callback URL.
    pub id: String,
    pub source: String,
    pub hub: String,
    pub topic: String,
    pub secret: String,
    /// `pending` (asked, not verified), `active`, `denied` (the hub said no) or `failed`.
    pub status: String,
    pub requested_at: DateTime<Utc>,
    pub lease_seconds: Option<u64>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Subscription {
    fn live(&self, now: DateTime<Utc>) -> bool {
        self.status == "active" && self.expires_at.is_some_and(|e| e > now)
    }

    /// When 80% of the granted lease has passed.
    fn renew_at(&self) -> Option<DateTime<Utc>> {
        let expires = self.expires_at?;
        let lease = self.lease_seconds.unwrap_or(24 * 3600) as i64;
        Some(expires - chrono::Duration::milliseconds(lease * 200))
    }
}

/// The subscriber: the state, an HTTP client for the hubs, and the public base URL.
#[derive(Clone)]
pub struct WebSub {
    state: State,
    client: reqwest::Client,
    policy: Arc<crate::fetch::OutboundPolicy>,
    public_url: Url,
    wake: Arc<Notify>,
}

impl WebSub {
    pub fn new(
        state: State,
        public_url: &str,
        user_agent: &str,
        timeout: Duration,
        policy: std::sync::Arc<crate::fetch::OutboundPolicy>,
    ) -> Result<WebSub, String> {
        let public_url = Url::parse(public_url)
            .map_err(|e| format!("[daemon] public_url `{public_url}`: {e}"))?;
        // Hub URLs come from feeds: the same outbound policy as every other content fetch.
        let client = crate::fetch::policy::client_builder(policy.clone(), 5)
            .user_agent(user_agent)
            .timeout(timeout)
            .build()
            .map_err(|e| format!("cannot build the WebSub client: {e}"))?;
        Ok(WebSub {
            state,
            client,
            policy,
            public_url,
            wake: Arc::new(Notify::new()),
        })
    }

    fn callback(&self, id: &str) -> String {
        format!(
            "{}/websub/{id}",
            self.public_url.as_str().trim_end_matches('/')
        )
    }

    /// Whether a hub pushes this source's updates right now (polling may then slow down).
    pub fn is_live(&self, source: &str) -> bool {
        matches!(by_source(&self.state, source), Ok(Some(s)) if s.live(Utc::now()))
    }

    /// After a successful poll: subscribes when the feed names a hub and no subscription for
    /// this hub and topic is live or under way.
    pub async fn consider(&self, source: &str, fetched: &Fetched, head: &FeedHead) {
        let Some((hub, topic)) = advertised(fetched, head) else {
            return;
        };
        let now = Utc::now();
        let existing = match by_source(&self.state, source) {
            Ok(s) => s.filter(|s| s.hub == hub && s.topic == topic),
            Err(e) => {
                warn!(source, error = %e, "WebSub: cannot read the subscriptions");
                return;
            }
        };
        let since = |s: &Subscription| (now - s.requested_at).to_std().unwrap_or_default();
        let wanted = match &existing {
            None => true,
            Some(s) if s.status == "active" => {
                !s.live(now)
                    || s.renew_at().is_some_and(|r| r <= now) && since(s) > RETRY_UNVERIFIED
            }
            Some(s) if s.status == "pending" => since(s) > RETRY_UNVERIFIED,
            Some(s) => since(s) > RETRY_REFUSED,
        };
        if !wanted {
            return;
        }
        // A renewal keeps its callback and secret; a new hub or topic gets new ones.
        let sub = existing.unwrap_or_else(|| Subscription {
            id: random_hex(16),
            source: source.to_string(),
            hub,
            topic,
            secret: random_hex(24),
            status: "pending".into(),
            requested_at: now,
            lease_seconds: None,
            expires_at: None,
        });
        self.subscribe(sub).await;
    }

    /// Records the request (before sending it: some hubs verify before they answer), then asks.
    async fn subscribe(&self, mut sub: Subscription) {
        sub.requested_at = Utc::now();
        if sub.status != "active" {
            sub.status = "pending".into();
        }
        if let Err(e) = save(&self.state, &sub) {
            warn!(source = %sub.source, error = %e, "WebSub: cannot store the subscription");
            return;
        }
        let callback = self.callback(&sub.id);
        let lease = REQUESTED_LEASE.as_secs().to_string();
        let form = [
            ("hub.mode", "subscribe"),
            ("hub.topic", sub.topic.as_str()),
            ("hub.callback", callback.as_str()),
            ("hub.secret", sub.secret.as_str()),
            ("hub.lease_seconds", lease.as_str()),
        ];
        let result = match Url::parse(&sub.hub) {
            Ok(hub) => match self.policy.check_url(&hub) {
                Ok(()) => self.client.post(hub).form(&form).send().await.map_err(|e| {
                    match crate::fetch::OutboundPolicy::refusal_in(&e) {
                        Some(refusal) => refusal.to_string(),
                        None => e.to_string(),
                    }
                }),
                Err(refusal) => Err(refusal.to_string()),
            },
            Err(e) => Err(format!("bad hub URL: {e}")),
        };
        match result {
            Ok(r) if r.status().is_success() => {
                info!(source = %sub.source, hub = %sub.hub, topic = %sub.topic, "WebSub: subscription requested");
            }
            outcome => {
                let why = match outcome {
                    Ok(r) => format!("HTTP {}", r.status().as_u16()),
                    Err(e) => e,
                };
                warn!(source = %sub.source, hub = %sub.hub, error = %why, "WebSub: the hub refused the subscription; polling goes on");
                if sub.status != "active" {
                    let _ = set_status(&self.state, &sub.id, "failed");
                }
            }
        }
        self.wake.notify_one();
    }

    /// Renews leases at 80% of their length until `stop`.
    pub async fn run_renewals(self, stop: CancellationToken) {
        loop {
            let now = Utc::now();
            let subs = all(&self.state).unwrap_or_default();
            let mut next = now + chrono::Duration::seconds(60);
            for s in subs.into_iter().filter(|s| s.status == "active") {
                let Some(at) = s.renew_at() else { continue };
                let asked_since = s.requested_at >= at;
                let retry =
                    (now - s.requested_at).to_std().unwrap_or_default() > Duration::from_secs(60);
                if at <= now && (!asked_since || retry) {
                    debug!(source = %s.source, hub = %s.hub, "WebSub: renewing the lease");
                    self.subscribe(s).await;
                } else if at > now {
                    next = next.min(at);
                }
            }
            let wait = (next - Utc::now())
                .to_std()
                .unwrap_or_default()
                .max(Duration::from_millis(100));
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
            }
        }
    }
}

/// The hub and topic a fetched feed advertises: `Link` headers first (they apply to any content
/// type and the spec puts them first), then the document; the topic is the `self` link, else the
/// URL fetched.
fn advertised(fetched: &Fetched, head: &FeedHead) -> Option<(String, String)> {
    let links = link_header(&fetched.links);
    let rel = |want: &str| {
        links
            .iter()
            .find(|(r, _)| r == want)
            .map(|(_, u)| u.clone())
    };
    let resolve = |u: String| {
        fetched
            .url
            .join(&u)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(String::from)
    };
    let hub = rel("hub")
        .or_else(|| head.hubs.first().cloned())
        .and_then(resolve)?;
    let topic = rel("self")
        .or_else(|| head.self_url.clone())
        .and_then(resolve)
        .unwrap_or_else(|| fetched.url.to_string());
    Some((hub, topic))
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    hex::encode((0..bytes).map(|_| rng.random::<u8>()).collect::<Vec<u8>>())
}

/// Whether `X-Hub-Signature` (`method=hex`) is the HMAC of `body` with `secret`.
pub fn signature_ok(secret: &str, signature: Option<&str>, body: &[u8]) -> bool {
    fn check<M: Mac + hmac::digest::KeyInit>(secret: &str, body: &[u8], sig: &[u8]) -> bool {
        let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(body);
        // Constant-time comparison.
        mac.verify_slice(sig).is_ok()
    }
    let Some((method, hex_sig)) = signature.and_then(|s| s.trim().split_once('=')) else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig.trim()) else {
        return false;
    };
    match method.trim().to_ascii_lowercase().as_str() {
        "sha1" => check::<Hmac<sha1::Sha1>>(secret, body, &sig),
        "sha256" => check::<Hmac<sha2::Sha256>>(secret, body, &sig),
        "sha384" => check::<Hmac<sha2::Sha384>>(secret, body, &sig),
        "sha512" => check::<Hmac<sha2::Sha512>>(secret, body, &sig),
        _ => false,
    }
}

// --- storage -----------------------------------------------------------------------------------

const COLUMNS: &str =
    "id, source, hub, topic, secret, status, requested_at, lease_seconds, expires_at";

fn row(r: &rusqlite::Row) -> Result<Subscription, rusqlite::Error> {
    Ok(Subscription {
        id: r.get(0)?,
        source: r.get(1)?,
        hub: r.get(2)?,
        topic: r.get(3)?,
        secret: r.get(4)?,
        status: r.get(5)?,
        requested_at: from_ts(r.get(6)?).unwrap_or_default(),
        lease_seconds: r.get::<_, Option<i64>>(7)?.map(|l| l.max(0) as u64),
        expires_at: from_ts(r.get(8)?),
    })
}

fn by_source(
    state: &State,
    source: &str,
) -> Result<Option<Subscription>, crate::store::StateError> {
    state.with(|c| {
        c.query_row(
            &format!("SELECT {COLUMNS} FROM websub WHERE source = ?1"),
            [source],
            row,
        )
        .optional()
    })
}

fn by_id(state: &State, id: &str) -> Result<Option<Subscription>, crate::store::StateError> {
    state.with(|c| {
        c.query_row(
            &format!("SELECT {COLUMNS} FROM websub WHERE id = ?1"),
            [id],
            row,
        )
        .optional()
    })
}

/// Every stored subscription.
pub fn all(state: &State) -> Result<Vec<Subscription>, crate::store::StateError> {
    state.with(|c| {
        let mut stmt = c.prepare(&format!("SELECT {COLUMNS} FROM websub ORDER BY source"))?;
        let rows = stmt.query_map([], row)?;
        rows.collect()
    })
}

/// One subscription per source: a new hub or topic replaces the old one.
fn save(state: &State, s: &Subscription) -> Result<(), crate::store::StateError> {
    state.with(|c| {
        c.execute(
            "INSERT INTO websub (id, source, hub, topic, secret, status, requested_at, lease_seconds, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (source) DO UPDATE SET id = excluded.id, hub = excluded.hub,
                 topic = excluded.topic, secret = excluded.secret, status = excluded.status,
                 requested_at = excluded.requested_at, lease_seconds = excluded.lease_seconds,
                 expires_at = excluded.expires_at",
            params![
                s.id,
                s.source,
                s.hub,
                s.topic,
                s.secret,
                s.status,
                ts(s.requested_at),
                s.lease_seconds.map(|l| l as i64),
                s.expires_at.map(ts)
            ],
        )
        .map(|_| ())
    })
}

fn set_status(state: &State, id: &str, status: &str) -> Result<(), crate::store::StateError> {
    state.with(|c| {
        c.execute(
            "UPDATE websub SET status = ?2 WHERE id = ?1",
            params![id, status],
        )
        .map(|_| ())
    })
}

fn activate(state: &State, id: &str, lease: u64) -> Result<(), crate::store::StateError> {
    let expires = Utc::now() + chrono::Duration::seconds(lease.min(i64::MAX as u64 / 1000) as i64);
    state.with(|c| {
        c.execute(
            "UPDATE websub SET status = 'active', lease_seconds = ?2, expires_at = ?3 WHERE id = ?1",
            params![id, lease as i64, ts(expires)],
        )
        .map(|_| ())
    })
}

// --- the callback routes -------------------------------------------------------------------------

/// What the callback handlers need.
#[derive(Clone)]
pub struct Callback {
    pub websub: WebSub,
    pub pushes: mpsc::Sender<Push>,
}

/// `GET` (verification) and `POST` (content) on `/websub/{id}`, served by the API listener.
pub fn routes(callback: Callback) -> Router {
    Router::new()
        .route("/websub/{id}", axum::routing::get(verify).post(deliver))
        .with_state(callback)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such subscription").into_response()
}

async fn verify(
    AxumState(cb): AxumState<Callback>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Ok(Some(sub)) = by_id(&cb.websub.state, &id) else {
        return not_found();
    };
    let param = |k: &str| q.get(k).map(String::as_str);
    // Only the topic asked for at this callback is confirmed: a hub (or anyone) asking about
    // another topic learns nothing and subscribes us to nothing.
    if param("hub.topic") != Some(sub.topic.as_str()) {
        warn!(source = %sub.source, topic = ?param("hub.topic"), "WebSub: verification for a topic we did not ask for");
        return not_found();
    }
    match param("hub.mode") {
        Some("subscribe") => {
            let Some(challenge) = param("hub.challenge") else {
                return (StatusCode::BAD_REQUEST, "hub.challenge missing").into_response();
            };
            let lease = param("hub.lease_seconds")
                .and_then(|l| l.trim().parse::<u64>().ok())
                .unwrap_or(REQUESTED_LEASE.as_secs());
            if let Err(e) = activate(&cb.websub.state, &id, lease) {
                warn!(source = %sub.source, error = %e, "WebSub: cannot record the verification");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            info!(source = %sub.source, hub = %sub.hub, lease, "WebSub: subscription verified");
            cb.websub.wake.notify_one();
            (
                [(header::CONTENT_TYPE, "text/plain")],
                challenge.to_string(),
            )
                .into_response()
        }
        Some("denied") => {
            warn!(source = %sub.source, hub = %sub.hub, reason = ?param("hub.reason"), "WebSub: the hub denied the subscription; polling goes on");
            let _ = set_status(&cb.websub.state, &id, "denied");
            StatusCode::OK.into_response()
        }
        // We never ask to unsubscribe, so an unsubscribe verification is not ours to confirm.
        _ => not_found(),
    }
}

async fn deliver(
    AxumState(cb): AxumState<Callback>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(Some(sub)) = by_id(&cb.websub.state, &id) else {
        return not_found();
    };
    let signature = headers.get("x-hub-signature").and_then(|v| v.to_str().ok());
    if !signature_ok(&sub.secret, signature, &body) {
        // The spec: acknowledge with a 2xx, but ignore the content.
        warn!(source = %sub.source, signed = signature.is_some(), "WebSub: push with a bad or missing signature ignored");
        return StatusCode::ACCEPTED.into_response();
    }
    let push = Push {
        source: sub.source.clone(),
        topic: sub.topic.clone(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body,
    };
    match cb.pushes.try_send(push) {
        Ok(()) => {
            debug!(source = %sub.source, "WebSub: push accepted");
            StatusCode::ACCEPTED.into_response()
        }
        // Busy or stopping: the hub retries later, and polling would find it anyway.
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let body = b"<feed/>";
        let sign = |method: &str| {
            let tag = match method {
                "sha1" => {
                    let mut m = Hmac::<sha1::Sha1>::new_from_slice(b"s3cret").unwrap();
                    m.update(body);
                    m.finalize().into_bytes().to_vec()
                }
                _ => {
                    let mut m = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
                    m.update(body);
                    m.finalize().into_bytes().to_vec()
                }
            };
            format!("{method}={}", hex::encode(tag))
        };
        assert!(signature_ok("s3cret", Some(&sign("sha1")), body));
        assert!(signature_ok("s3cret", Some(&sign("sha256")), body));
        assert!(!signature_ok("other", Some(&sign("sha256")), body));
        assert!(!signature_ok(
            "s3cret",
            Some(&sign("sha256")),
            b"<feed>tampered</feed>"
        ));
        assert!(!signature_ok("s3cret", None, body));
        assert!(!signature_ok("s3cret", Some("md5=abcd"), body));
        assert!(!signature_ok("s3cret", Some("sha256=not-hex"), body));
    }

    #[test]
    fn hub_and_topic_from_headers_then_document() {
        let mut fetched = Fetched {
            url: Url::parse("https://e.example/feeds/a.xml").unwrap(),
            not_modified: false,
            body: Default::default(),
            content_type: None,
            etag: None,
            last_modified: None,
            max_age: None,
            links: vec![],
        };
        let head = FeedHead {
            ttl: None,
            hubs: vec!["/hub".into()],
            self_url: None,
        };
        assert_eq!(
            advertised(&fetched, &head),
            Some((
                "https://e.example/hub".into(),
                "https://e.example/feeds/a.xml".into()
            ))
        );
        fetched.links = vec![
            "<https://hub.example/>; rel=\"hub\", <https://e.example/self>; rel=\"self\"".into(),
        ];
        assert_eq!(
            advertised(&fetched, &head),
            Some((
                "https://hub.example/".into(),
                "https://e.example/self".into()
            ))
        );
        assert_eq!(
            advertised(&fetched, &FeedHead::default()).map(|h| h.0),
            Some("https://hub.example/".into())
        );
        fetched.links.clear();
        assert_eq!(advertised(&fetched, &FeedHead::default()), None);
    }
}
