//! Who may use the API, and how much of one request: the Host allowlist (against DNS rebinding),
//! the origin check on state-changing requests (against cross-site forms), CORS only for the
//! configured origins, and the caps on query strings and request bodies. The bearer token itself
//! is checked per route ([`super::alerts`]), since only some routes need it.

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::{ApiError, ApiState};
use crate::config::Config;
use crate::config::access::{is_loopback_listen, normal_host};

/// Largest request body (alert JSON is well under a kilobyte): larger ones get 413.
pub const MAX_BODY: usize = 64 * 1024;

/// Longest query string: larger ones get 414. Room for a long boolean query with every filter.
pub const MAX_QUERY: usize = 8 * 1024;

/// Runs before every route: query length, Host, and the origin of state-changing requests. It
/// reads the configuration in force, so `allowed_hosts` changes with a reload.
pub(super) async fn guard(State(s): State<ApiState>, req: Request, next: Next) -> Response {
    let config = match s.config.read() {
        Ok(c) => c.clone(),
        Err(_) => return ApiError::Internal("configuration lock poisoned".into()).into_response(),
    };
    match check(&config, req.method(), req.uri(), req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn check(config: &Config, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), ApiError> {
    let query = uri.query().map_or(0, str::len);
    if query > MAX_QUERY {
        return Err(ApiError::UriTooLong(format!(
            "the query string has {query} bytes, more than the {MAX_QUERY} this API reads; shorten the query"
        )));
    }
    // A request without a Host header (not one a browser sends) cannot be a rebinding attack.
    let host = match headers.get(header::HOST) {
        Some(h) => Some(h.to_str().ok().and_then(authority).ok_or_else(|| {
            ApiError::BadRequest("the Host header is not a host name with an optional port".into())
        })?),
        None => uri.authority().cloned(),
    };
    let name = host.as_ref().and_then(|a| normal_host(a.host()));
    if let Some(name) = &name
        && !allowed_host(config, name)
    {
        return Err(ApiError::Misdirected(format!(
            "this API does not answer to the host `{name}`; if that is this server's name, add it to `[daemon] allowed_hosts` (a check against DNS rebinding)"
        )));
    }
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        && let Some(origin) = headers.get(header::ORIGIN)
        && !allowed_origin(config, origin, host.as_ref())
    {
        return Err(ApiError::Forbidden(format!(
            "a page from `{}` may not change anything here; only this API's own page, `[daemon] allowed_hosts` and `[daemon] cors_origins` may",
            String::from_utf8_lossy(origin.as_bytes())
        )));
    }
    Ok(())
}

fn authority(host: &str) -> Option<Authority> {
    host.parse::<Authority>()
        .ok()
        .filter(|a| !a.as_str().contains('@'))
}

/// Loopback names and addresses; the configured names and `public_url`'s host; and, when the API
/// listens beyond loopback, any IP address (a rebinding page always names a host, never an
/// address: an address in Host means the page itself came from that address).
fn allowed_host(config: &Config, name: &str) -> bool {
    let d = &config.daemon;
    if name == "localhost" {
        return true;
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return ip.to_canonical().is_loopback() || !is_loopback_listen(&d.listen);
    }
    configured_host(config, name)
}

/// A name the operator gave: in `allowed_hosts`, or the host of `public_url`.
fn configured_host(config: &Config, name: &str) -> bool {
    let d = &config.daemon;
    let public = d
        .public_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().and_then(normal_host));
    d.allowed_hosts
        .iter()
        .filter_map(|h| normal_host(h))
        .chain(public)
        .any(|h| h == name)
}

/// The page that sent a state-changing request: this API's own (same host and port), an
/// operator-named host (behind a proxy that rewrites Host), or an exact CORS origin.
fn allowed_origin(config: &Config, origin: &HeaderValue, host: Option<&Authority>) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if config.daemon.cors_origins.iter().any(|o| o == origin) {
        return true;
    }
    let Some(url) = url::Url::parse(origin)
        .ok()
        .filter(|u| u.origin().is_tuple())
    else {
        return false; // `null`: a sandboxed frame, a file, a redirect across sites
    };
    let Some(name) = url.host_str().and_then(normal_host) else {
        return false;
    };
    let same = host.is_some_and(|h| {
        normal_host(h.host()).as_deref() == Some(name.as_str()) && h.port_u16() == url.port()
    });
    same || configured_host(config, &name)
}

/// CORS for `[daemon] cors_origins` (exact origins; no credentials: the token travels in a
/// header). `None` without configured origins: then no response carries a CORS header.
pub(super) fn cors(config: &Config) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = config
        .daemon
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    (!origins.is_empty()).then(|| {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(Duration::from_secs(600))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(daemon: &str) -> Config {
        Config::parse(&format!("[daemon]\n{daemon}\n"), "t.toml").unwrap()
    }

    fn post(config: &Config, host: &str, origin: Option<&str>) -> Result<(), ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            headers.insert(header::ORIGIN, o.parse().unwrap());
        }
        check(
            config,
            &Method::POST,
            &"/api/v1/alerts".parse().unwrap(),
            &headers,
        )
    }

    #[test]
    fn hosts_on_loopback() {
        let c = config(
            "public_url = \"https://ww.example.org/hub\"\nallowed_hosts = [\"desk.example\"]",
        );
        for ok in [
            "127.0.0.1:8088",
            "localhost:8088",
            "LOCALHOST",
            "[::1]:8088",
            "127.0.0.2",
            "ww.example.org",
            "desk.example.:443",
        ] {
            assert!(post(&c, ok, None).is_ok(), "{ok}");
        }
        for bad in [
            "evil.example",
            "localhost.evil.example",
            "10.0.0.5:8088",
            "0.0.0.0",
        ] {
            assert!(
                matches!(post(&c, bad, None), Err(ApiError::Misdirected(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            post(&c, "a@b", None),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn addresses_beyond_loopback() {
        let c = config("listen = \"0.0.0.0:8088\"\nallow_anonymous = true");
        assert!(post(&c, "10.0.0.5:8088", None).is_ok());
        assert!(post(&c, "[fd00::5]:8088", None).is_ok());
        assert!(matches!(
            post(&c, "rebind.example:8088", None),
            Err(ApiError::Misdirected(_))
        ));
    }

    #[test]
    fn origins_of_state_changes() {
        let c = config(
            "allowed_hosts = [\"ww.example.org\"]\ncors_origins = [\"https://desk.example\"]",
        );
        let host = "127.0.0.1:8088";
        for ok in [
            "http://127.0.0.1:8088",
            "https://ww.example.org",
            "https://desk.example",
        ] {
            assert!(post(&c, host, Some(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:3000",
            "http://localhost:8088",
            "https://evil.example",
            "null",
            "https://desk.example:8443",
        ] {
            assert!(
                matches!(post(&c, host, Some(bad)), Err(ApiError::Forbidden(_))),
                "{bad}"
            );
        }
        // Reading is never refused for its origin.
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(
            check(
                &c,
                &Method::GET,
                &"/api/v1/search".parse().unwrap(),
                &headers
            )
            .is_ok()
        );
    }

    #[test]
    fn query_length() {
        let c = config("");
        let long: Uri = format!("/api/v1/search?q={}", "x".repeat(MAX_QUERY))
            .parse()
            .unwrap();
        let r = check(&c, &Method::GET, &long, &HeaderMap::new());
        assert!(matches!(r, Err(ApiError::UriTooLong(_))));
        let fits: Uri = format!("/api/v1/search?q={}", "x".repeat(MAX_QUERY - 2))
            .parse()
            .unwrap();
        assert!(check(&c, &Method::GET, &fits, &HeaderMap::new()).is_ok());
    }
}
