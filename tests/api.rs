//! The HTTP API against a fixture index, through the router itself (no network): contracts,
//! escaping, paging, timeline, facets, the OpenAPI document, and malformed values on every
//! parameter never producing a 5xx. Then who may use it and how much (issue 16): the bearer
//! token, the Host allowlist, the origin check, CORS, the caps on bodies, queries and event
//! streams, and (with the binary, on loopback) the refusal to listen beyond loopback without a
//! token.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::archive::{Fixture, fixture};
use common::http_exchange as raw;
use http_body_util::BodyExt;
use tower::ServiceExt;
use wirewatch::api::{ROUTES, router};

async fn get(f: &Fixture, uri: &str) -> (StatusCode, serde_json::Value) {
    let resp = router(f.state.clone())
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, json)
}

#[tokio::test]
async fn search_contract_filters_and_escaping() {
    let f = fixture();
    let (status, v) = get(&f, "/api/v1/search?q=curbs&limit=5").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["total"], 26);
    assert_eq!(v["hits"].as_array().unwrap().len(), 5);
    assert!(v["took_ms"].is_number());
    let hit = &v["hits"][0];
    for key in [
        "id",
        "title",
        "url",
        "source",
        "published",
        "topics",
        "entities",
        "highlights",
        "score",
    ] {
        assert!(hit.get(key).is_some(), "hit lacks {key}: {hit}");
    }
    // A hostile title is escaped in highlights, with only <mark> left as markup.
    let (_, v) = get(&f, "/api/v1/search?q=onerror%20OR%20script&limit=100").await;
    let hostile = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == format!("{:032x}", 100))
        .expect("hostile article found");
    let title = hostile["highlights"]["title"].as_str().unwrap();
    assert!(!title.contains("<img"), "{title}");
    assert!(title.contains("&lt;img"), "{title}");
    let body = hostile["highlights"]["body"].as_str().unwrap();
    assert!(!body.contains("<script"), "{body}");
    // Filters restrict; they do not change what matches otherwise.
    let (_, v) = get(&f, "/api/v1/search?q=curbs&topic=tariffs&limit=100").await;
    assert_eq!(v["total"], 8);
    let (_, v) = get(
        &f,
        "/api/v1/search?q=curbs&source=Wire%20A&from=2026-11-10&to=2026-11-12",
    )
    .await;
    assert!(
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["source"] == "Wire A")
    );
    // Newest first, and a stray quote still answers with a note.
    let (_, v) = get(&f, "/api/v1/search?q=curbs&sort=newest&limit=3").await;
    let dates: Vec<&str> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["published"].as_str().unwrap())
        .collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
    let (status, _) = get(&f, "/api/v1/search?q=%22export%20AND%20(").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn cursor_pages_through_everything_once() {
    let f = fixture();
    let mut seen = std::collections::HashSet::new();
    let mut uri = "/api/v1/search?q=curbs&limit=7".to_string();
    loop {
        let (status, v) = get(&f, &uri).await;
        assert_eq!(status, StatusCode::OK);
        for h in v["hits"].as_array().unwrap() {
            assert!(
                seen.insert(h["id"].as_str().unwrap().to_string()),
                "repeated hit"
            );
        }
        match v["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/search?q=curbs&limit=7&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 26);
}

#[tokio::test]
async fn article_timeline_facets_sources() {
    let f = fixture();
    let id = format!("{:032x}", 3);
    let (status, v) = get(&f, &format!("/api/v1/articles/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["analysis"]["mentions"][0]["topic"], "tariffs");
    assert!(v["body"].as_str().unwrap().contains("Washington"));
    let (status, v) = get(&f, &format!("/api/v1/articles/{:032x}", 999)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "not_found");
    let (status, v) = get(&f, "/api/v1/articles/not-an-id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("`id`"));

    let (status, v) = get(
        &f,
        "/api/v1/timeline?q=curbs&interval=day&from=2026-11-01&to=2026-11-30",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let buckets = v["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 30);
    assert_eq!(
        buckets
            .iter()
            .map(|b| b["count"].as_u64().unwrap())
            .sum::<u64>(),
        26
    );
    let (status, v) = get(&f, "/api/v1/timeline?interval=fortnight").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v["error"]["message"].as_str().unwrap().contains("interval"));

    let (_, v) = get(&f, "/api/v1/facets?q=curbs").await;
    let topics = v["facets"]["topic"].as_array().unwrap();
    assert_eq!(topics[0]["value"], "export_controls");
    assert_eq!(topics[0]["count"], 17);
    assert_eq!(v["facets"]["source"].as_array().unwrap().len(), 2);
    let (_, v) = get(&f, "/api/v1/facets?q=curbs&field=entity").await;
    assert_eq!(v["facets"].as_object().unwrap().len(), 1);
    assert_eq!(v["facets"]["entity"][0]["value"], "nvidia");

    let (status, v) = get(&f, "/api/v1/sources").await;
    assert_eq!(status, StatusCode::OK);
    assert!(v["sources"].is_array());
    let (status, _) = get(&f, "/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let f = fixture();
    let (status, doc) = get(&f, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    // A mention's `model` (the topic model's probability and features) is described.
    let schemas = &doc["components"]["schemas"];
    assert!(
        schemas["Mention"]["properties"]["model"].is_object(),
        "{}",
        schemas["Mention"]
    );
    assert!(schemas["ModelEvidence"]["properties"]["features"].is_object());
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "the document lists a route the router does not serve"
    );
    let params: Vec<&str> = paths["/api/v1/search"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in [
        "q", "topic", "entity", "source", "lang", "from", "to", "sort", "limit", "cursor",
    ] {
        assert!(params.contains(&p), "search parameter {p} undocumented");
    }
    // Every documented route answers (without parameters or body) without a 5xx; mutating ones
    // want the bearer token.
    for (method, path) in ROUTES {
        let uri = path.replace(
            "{id}",
            if path.contains("articles") {
                "00000000000000000000000000000001"
            } else {
                "1"
            },
        );
        if *path == "/api/v1/stream" {
            continue; // an endless event stream; covered by the alert tests
        }
        let req = Request::builder()
            .method(method.to_uppercase().as_str())
            .uri(&uri)
            .body(Body::empty())
            .unwrap();
        let status = router(f.state.clone()).oneshot(req).await.unwrap().status();
        assert!(!status.is_server_error(), "{method} {uri}: {status}");
        assert!(
            paths[*path][*method]["responses"]
                .get(status.as_str())
                .is_some(),
            "{method} {path} answers {status}, which its document does not list"
        );
        // Dry runs too: their cost grows with the archive.
        if matches!(*method, "put" | "delete" | "post") {
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} without a token"
            );
        }
    }
}

#[tokio::test]
async fn malformed_values_never_give_a_server_error() {
    let f = fixture();
    let nasty = [
        "",
        "%",
        "%25",
        "%00",
        "'",
        "%22",
        "-1",
        "0",
        "101",
        "1e9",
        "99999999999999999999",
        "NaN",
        "2026-13-45",
        "2026-02-30",
        "yesterday",
        "NOT",
        "AND%20OR",
        "title%3A",
        "*",
        "(((",
        "%22unclosed",
        "topic%3A",
        "~",
        "%5E2",
        "a%3Ab%3Ac",
        "%F0%9F%92%A5",
        "%E5%87%BA%E5%8F%A3%E7%AE%A1%E5%88%B6",
        "%EF%BF%BF",
        "\\",
        "..%2F..%2Fetc",
        "zz",
        "7631",
        "76313a31",
        "%3Cscript%3E",
    ];
    let long = "x".repeat(5000);
    let params = [
        "q", "topic", "entity", "source", "lang", "from", "to", "sort", "limit", "cursor",
        "interval", "field",
    ];
    for route in ["/api/v1/search", "/api/v1/timeline", "/api/v1/facets"] {
        for p in params {
            for v in nasty.iter().copied().chain([long.as_str()]) {
                let uri = format!("{route}?{p}={v}");
                let (status, body) = get(&f, &uri).await;
                assert!(!status.is_server_error(), "{uri}: {status} {body}");
                if status == StatusCode::BAD_REQUEST {
                    assert!(body["error"]["message"].is_string(), "{uri}: {body}");
                }
            }
        }
        // Repeated and unknown parameters too.
        for uri in [
            format!("{route}?limit=1&limit=2"),
            format!("{route}?bogus=1"),
            format!("{route}?q"),
        ] {
            let (status, _) = get(&f, &uri).await;
            assert!(!status.is_server_error(), "{uri}: {status}");
        }
    }
    for id in ["%00", "..", "x".repeat(200).as_str(), "%F0%9F%92%A5"] {
        let (status, _) = get(&f, &format!("/api/v1/articles/{id}")).await;
        assert!(!status.is_server_error(), "{id}: {status}");
    }
}

// ---- Who may use the API, and how much of it (issue 16) ----

/// One request through the router: status, headers and the body (JSON when it is JSON).
async fn call(
    f: &Fixture,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let resp = router(f.state.clone()).oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    (parts.status, parts.headers, json)
}

fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Body::from(body.to_string())).unwrap()
}

const JSON: (&str, &str) = ("content-type", "application/json");
const AUTH: (&str, &str) = ("authorization", "Bearer s3cret");

fn assert_error(status: StatusCode, want: StatusCode, code: &str, body: &serde_json::Value) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn mutating_routes_and_dry_runs_need_the_token() {
    let f = fixture();
    let spec = r#"{"name":"curbs","query":"curbs"}"#;
    // Without a token: 401; with a wrong one (shorter, longer, same length): 403.
    let (status, headers, body) = call(&f, request("POST", "/api/v1/alerts", &[JSON], spec)).await;
    assert_error(status, StatusCode::UNAUTHORIZED, "unauthorized", &body);
    assert_eq!(headers["www-authenticate"], "Bearer");
    for wrong in [
        "Bearer s3cre",
        "Bearer s3cret-and-more",
        "Bearer S3cret",
        "Basic s3cret",
    ] {
        let auth = ("authorization", wrong);
        let (status, _, body) =
            call(&f, request("POST", "/api/v1/alerts", &[JSON, auth], spec)).await;
        let want = if wrong.starts_with("Basic") {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(status, want, "{wrong}: {body}");
    }
    // With the token: created; the scheme's case does not matter.
    let lower = ("authorization", "bearer s3cret");
    let (status, _, body) = call(&f, request("POST", "/api/v1/alerts", &[JSON, lower], spec)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_i64().unwrap();

    let update = r#"{"name":"curbs","query":"curbs","min_score":0.1}"#;
    let routes = [
        (
            "PUT",
            format!("/api/v1/alerts/{id}"),
            update,
            StatusCode::OK,
        ),
        (
            "POST",
            format!("/api/v1/alerts/{id}/test?days=3650"),
            "",
            StatusCode::OK,
        ),
        (
            "POST",
            "/api/v1/deliveries/1/replay".to_string(),
            "",
            StatusCode::NOT_FOUND,
        ),
        (
            "DELETE",
            format!("/api/v1/alerts/{id}"),
            "",
            StatusCode::NO_CONTENT,
        ),
    ];
    for (method, uri, body, ok) in &routes {
        let (status, _, v) = call(&f, request(method, uri, &[JSON], body)).await;
        assert_error(status, StatusCode::UNAUTHORIZED, "unauthorized", &v);
        let wrong = ("authorization", "Bearer nope");
        let (status, _, v) = call(&f, request(method, uri, &[JSON, wrong], body)).await;
        assert_error(status, StatusCode::FORBIDDEN, "forbidden", &v);
        let (status, _, v) = call(&f, request(method, uri, &[JSON, AUTH], body)).await;
        assert_eq!(status, *ok, "{method} {uri}: {v}");
        if uri.ends_with("days=3650") {
            assert_eq!(v["total"], 26, "the dry run searched the archive: {v}");
        }
    }
    // Reading needs no token.
    for uri in [
        "/api/v1/alerts",
        "/api/v1/deliveries",
        "/api/v1/search?q=curbs",
    ] {
        let (status, _, v) = call(&f, request("GET", uri, &[], "")).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {v}");
    }
}

#[tokio::test]
async fn a_host_that_is_not_ours_is_refused() {
    let f = fixture();
    for host in [
        "127.0.0.1:8088",
        "localhost:8088",
        "localhost",
        "[::1]:8088",
    ] {
        for uri in ["/api/v1/search?q=curbs", "/healthz", "/"] {
            let (status, _, v) = call(&f, request("GET", uri, &[("host", host)], "")).await;
            assert_eq!(status, StatusCode::OK, "{host} {uri}: {v}");
        }
    }
    // A rebinding page names its own host; so does any other misdirected request.
    for host in [
        "rebind.example:8088",
        "localhost.rebind.example",
        "10.0.0.5:8088",
    ] {
        for uri in ["/api/v1/search?q=curbs", "/healthz", "/", "/api/v1/alerts"] {
            let (status, _, v) = call(&f, request("GET", uri, &[("host", host)], "")).await;
            assert_error(
                status,
                StatusCode::MISDIRECTED_REQUEST,
                "misdirected_request",
                &v,
            );
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("allowed_hosts"),
                "{v}"
            );
        }
    }
    // Named by the operator, and public_url's host (WebSub hubs call back through it): allowed.
    *f.state.config.write().unwrap() = std::sync::Arc::new(
        wirewatch::config::Config::parse(
            "[daemon]\nallowed_hosts = [\"desk.example\"]\npublic_url = \"https://hub.example/ww\"",
            "t.toml",
        )
        .unwrap(),
    );
    for host in ["desk.example", "DESK.example.:443", "hub.example"] {
        let (status, _, v) = call(&f, request("GET", "/healthz", &[("host", host)], "")).await;
        assert_eq!(status, StatusCode::OK, "{host}: {v}");
    }
    let (status, _, _) = call(
        &f,
        request("GET", "/healthz", &[("host", "rebind.example")], ""),
    )
    .await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn a_page_from_another_site_cannot_change_anything() {
    let f = fixture();
    let spec = r#"{"name":"curbs","query":"curbs"}"#;
    let host = ("host", "127.0.0.1:8088");
    // Even with the token (a page cannot know it, but a form could still be posted).
    for origin in ["https://evil.example", "http://127.0.0.1:3000", "null"] {
        let headers = [JSON, AUTH, host, ("origin", origin)];
        let (status, _, v) = call(&f, request("POST", "/api/v1/alerts", &headers, spec)).await;
        assert_error(status, StatusCode::FORBIDDEN, "forbidden", &v);
        assert!(
            v["error"]["message"].as_str().unwrap().contains(origin),
            "{v}"
        );
    }
    // The API's own page: allowed.
    let headers = [JSON, AUTH, host, ("origin", "http://127.0.0.1:8088")];
    let (status, _, v) = call(&f, request("POST", "/api/v1/alerts", &headers, spec)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn no_cors_headers_unless_configured() {
    let f = fixture();
    let origin = ("origin", "https://desk.example");
    let preflight = [
        origin,
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "authorization, content-type",
        ),
    ];
    let (_, headers, _) = call(&f, request("GET", "/api/v1/search?q=curbs", &[origin], "")).await;
    assert!(
        !headers
            .keys()
            .any(|k| k.as_str().starts_with("access-control-")),
        "{headers:?}"
    );
    let (status, headers, _) = call(&f, request("OPTIONS", "/api/v1/alerts", &preflight, "")).await;
    assert!(
        !headers
            .keys()
            .any(|k| k.as_str().starts_with("access-control-")),
        "{status} {headers:?}"
    );
    // Configured: that exact origin, and no other.
    *f.state.config.write().unwrap() = std::sync::Arc::new(
        wirewatch::config::Config::parse(
            "[daemon]\ncors_origins = [\"https://desk.example\"]",
            "t.toml",
        )
        .unwrap(),
    );
    let (_, headers, _) = call(&f, request("GET", "/api/v1/search?q=curbs", &[origin], "")).await;
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://desk.example"
    );
    let (status, headers, _) = call(&f, request("OPTIONS", "/api/v1/alerts", &preflight, "")).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://desk.example"
    );
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed.contains("authorization"), "{allowed}");
    assert!(!headers.contains_key("access-control-allow-credentials"));
    let other = ("origin", "https://evil.example");
    let (_, headers, _) = call(&f, request("GET", "/api/v1/search?q=curbs", &[other], "")).await;
    assert!(
        !headers.contains_key("access-control-allow-origin"),
        "{headers:?}"
    );
    // A page of the configured origin may also change things (with the token).
    let spec = r#"{"name":"curbs","query":"curbs"}"#;
    let (status, _, v) = call(
        &f,
        request("POST", "/api/v1/alerts", &[JSON, AUTH, origin], spec),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn oversized_bodies_and_overlong_queries_are_refused() {
    let f = fixture();
    let name = "x".repeat(wirewatch::api::MAX_BODY);
    let big = format!(r#"{{"name":"{name}","query":"curbs"}}"#);
    let (status, _, v) = call(&f, request("POST", "/api/v1/alerts", &[JSON, AUTH], &big)).await;
    assert_error(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        &v,
    );
    let (status, _, v) = call(&f, request("PUT", "/api/v1/alerts/1", &[JSON, AUTH], &big)).await;
    assert_error(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        &v,
    );
    // Just under the cap, the same body is read (and refused for its name).
    let name = "x".repeat(wirewatch::api::MAX_BODY - 100);
    let fits = format!(r#"{{"name":"{name}","query":"curbs"}}"#);
    let (status, _, v) = call(&f, request("POST", "/api/v1/alerts", &[JSON, AUTH], &fits)).await;
    assert_error(status, StatusCode::BAD_REQUEST, "bad_request", &v);

    let q = "x".repeat(wirewatch::api::MAX_QUERY);
    for route in [
        "/api/v1/search",
        "/api/v1/timeline",
        "/api/v1/facets",
        "/api/v1/alerts",
    ] {
        let (status, _, v) = call(&f, request("GET", &format!("{route}?q={q}"), &[], "")).await;
        assert_error(status, StatusCode::URI_TOO_LONG, "uri_too_long", &v);
    }
    let fits = "x".repeat(wirewatch::api::MAX_QUERY - 10);
    let (status, _, v) = call(
        &f,
        request("GET", &format!("/api/v1/search?q={fits}"), &[], ""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    // Page sizes: the search caps at 100, the lists at 500.
    for uri in [
        "/api/v1/search?q=curbs&limit=101",
        "/api/v1/deliveries?limit=501",
        "/api/v1/alerts/1/matches?limit=501",
    ] {
        let (status, _, v) = call(&f, request("GET", uri, &[], "")).await;
        assert_error(status, StatusCode::BAD_REQUEST, "bad_request", &v);
        assert!(
            v["error"]["message"].as_str().unwrap().contains("limit"),
            "{v}"
        );
    }
}

#[tokio::test]
async fn event_streams_beyond_the_cap_are_refused() {
    let f = fixture();
    let open = || async {
        router(f.state.clone())
            .oneshot(request("GET", "/api/v1/stream", &[], ""))
            .await
            .unwrap()
    };
    let mut streams = Vec::new();
    for _ in 0..common::archive::STREAM_SLOTS {
        let resp = open().await;
        assert_eq!(resp.status(), StatusCode::OK);
        streams.push(resp);
    }
    let (status, headers, v) = call(&f, request("GET", "/api/v1/stream", &[], "")).await;
    assert_error(status, StatusCode::SERVICE_UNAVAILABLE, "busy", &v);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_streams"),
        "{v}"
    );
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            > 0
    );
    // A listener hangs up: its slot is free again.
    streams.pop();
    assert_eq!(open().await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_lagging_stream_is_told_and_ends() {
    let f = fixture();
    let resp = router(f.state.clone())
        .oneshot(request("GET", "/api/v1/stream", &[], ""))
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // The listener reads nothing while far more matches than the buffer holds go out.
    let tx = &f.state.alerts.stream;
    for n in 0..100 {
        let article = serde_json::json!({"article_id": format!("{n:032x}"), "title": format!("match {n}"),
            "url": "https://news.example/1", "source": "Wire A", "published": null,
            "topics": [], "entities": [], "evidence": []});
        tx.send(wirewatch::alert::LiveMatch {
            alert: wirewatch::alert::AlertRef {
                id: 1,
                name: "a".into(),
            },
            article: serde_json::from_value(article).unwrap(),
        })
        .unwrap();
        assert!(tx.len() <= 8, "the buffer grew to {}", tx.len());
    }
    // It is told how many it missed, and its stream ends (it reconnects).
    let body = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        resp.into_body().collect(),
    )
    .await
    .expect("the lagging stream did not end")
    .unwrap()
    .to_bytes();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("event: lagged\ndata: {\"missed\":"), "{text}");
    assert!(!text.contains("event: match"), "{text}");
}

#[tokio::test]
async fn the_page_sends_the_token_in_a_header() {
    let f = fixture();
    let (status, _, script) = call(&f, request("GET", "/ui/app.js", &[], "")).await;
    assert_eq!(status, StatusCode::OK);
    let script = script.as_str().unwrap();
    assert!(
        script.contains("Authorization") && script.contains("Bearer "),
        "no bearer header"
    );
    assert!(
        script.contains("sessionStorage"),
        "the token is not kept per tab"
    );
    assert!(
        !script.contains("cookie"),
        "the page must not keep the token in a cookie"
    );
    let (_, _, page) = call(&f, request("GET", "/", &[], "")).await;
    assert!(
        page.as_str().unwrap().contains("id=\"token\""),
        "no token field"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_beyond_loopback_needs_a_token() {
    let env = common::Env::new("", "");
    let port = common::free_port();
    env.edit_config(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"0.0.0.0:{port}\"\napi_token_env = \"WW_TEST_API_TOKEN\""),
    );
    let config = env.config.to_str().unwrap();
    let check = |token: Option<&str>| {
        let mut cmd = env.wirewatch(&["check-config", config]);
        cmd.env_remove("WW_TEST_API_TOKEN");
        if let Some(t) = token {
            cmd.env("WW_TEST_API_TOKEN", t);
        }
        cmd.output().unwrap()
    };
    let out = check(None);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for named in [
        config,
        "[daemon]",
        "`listen`",
        "WW_TEST_API_TOKEN",
        "api_token_file",
        "allow_anonymous",
    ] {
        assert!(
            err.contains(named),
            "check-config does not name {named}: {err}"
        );
    }
    // The daemon refuses the same way, before anything listens.
    let mut daemon = env.wirewatch(&["run", "--config", config]);
    daemon
        .env_remove("WW_TEST_API_TOKEN")
        .stderr(std::process::Stdio::piped());
    let daemon = common::Daemon::new(daemon.spawn().unwrap());
    let out = tokio::task::spawn_blocking(move || daemon.wait(std::time::Duration::from_secs(20)))
        .await
        .unwrap()
        .expect("the daemon started listening beyond loopback without a token");
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`listen`") && err.contains("allow_anonymous"),
        "{err}"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    // A token, or an explicit allow_anonymous, settles it; an unreadable token file does not.
    assert!(check(Some("t0ken")).status.success());
    env.edit_config("api_token_env", "allow_anonymous = true\napi_token_env");
    let out = check(None);
    assert!(out.status.success(), "{}", common::stderr(&out));
    env.edit_config(
        "allow_anonymous = true",
        "api_token_file = \"missing.token\"",
    );
    let out = check(Some("t0ken"));
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`api_token_file`") && err.contains("missing.token"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_answers_its_own_names_and_takes_the_token_from_a_file() {
    let env = common::Env::new("", "");
    env.use_small_rules();
    let port = common::free_port();
    std::fs::write(env.dir.path().join("api.token"), "from-the-file\n").unwrap();
    env.edit_config(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\"\napi_token_file = \"api.token\""),
    );
    let mut cmd = env.wirewatch(&["run", "--config", env.config.to_str().unwrap()]);
    cmd.env("WIREWATCH_API_TOKEN", "from-the-environment")
        .stderr(std::process::Stdio::piped());
    let daemon = common::Daemon::new(cmd.spawn().unwrap());
    common::wait_until("the API", 20, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    let ours = [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ];
    for host in &ours {
        let (status, head, body) = raw(port, "GET", "/api/v1/search?q=x", &[("Host", host)], "");
        assert_eq!(status, 200, "{host}: {body}");
        assert!(!head.contains("access-control-allow-origin"), "{head}");
    }
    let (status, _, body) = raw(
        port,
        "GET",
        "/healthz",
        &[("Host", &format!("rebind.example:{port}"))],
        "",
    );
    assert_eq!(status, 421, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "misdirected_request", "{v}");

    let host = ("Host", ours[0].as_str());
    let spec = r#"{"name":"weather","query":"rain"}"#;
    let json = ("Content-Type", "application/json");
    let post = |auth: &str, body: &str| {
        let auth = ("Authorization", auth);
        raw(port, "POST", "/api/v1/alerts", &[host, json, auth], body).0
    };
    assert_eq!(post("", spec), 401);
    assert_eq!(
        post("Bearer from-the-environment", spec),
        403,
        "the file's token, not the environment's, is in force"
    );
    assert_eq!(post("Bearer from-the-file", spec), 201);
    let big = format!(
        r#"{{"name":"{}","query":"rain"}}"#,
        "x".repeat(wirewatch::api::MAX_BODY)
    );
    assert_eq!(post("Bearer from-the-file", &big), 413);
    common::stop(daemon).await;
}

// ---- The workbench's routes (issue 20): dry run of an unsaved alert, export, source flags ----

#[tokio::test]
async fn a_dry_run_of_an_unsaved_alert() {
    let f = fixture();
    let spec = r#"{"name":"tariff curbs","query":"curbs","topic":"tariffs"}"#;
    let uri = "/api/v1/alerts/test?days=3650";
    let (status, _, v) = call(&f, request("POST", uri, &[JSON], spec)).await;
    assert_error(status, StatusCode::UNAUTHORIZED, "unauthorized", &v);
    let (status, _, v) = call(&f, request("POST", uri, &[JSON, AUTH], spec)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["total"], 8, "{v}");
    assert_eq!(v["matches"].as_array().unwrap().len(), 8, "{v}");
    assert!(v["matches"][0]["evidence"].is_array(), "{v}");
    // Nothing was saved.
    let (_, list) = get(&f, "/api/v1/alerts").await;
    assert_eq!(list["alerts"].as_array().unwrap().len(), 0, "{list}");
    // Checked as a new alert is.
    let (status, _, v) = call(
        &f,
        request(
            "POST",
            uri,
            &[JSON, AUTH],
            r#"{"name":"x","query":"","channels":["nope"]}"#,
        ),
    )
    .await;
    assert_error(status, StatusCode::CONFLICT, "conflict", &v);
    let (status, _, v) = call(
        &f,
        request("POST", uri, &[JSON, AUTH], r#"{"name":" ","query":""}"#),
    )
    .await;
    assert_error(status, StatusCode::BAD_REQUEST, "bad_request", &v);
    let (status, _, v) = call(
        &f,
        request("POST", "/api/v1/alerts/test?days=0", &[JSON, AUTH], spec),
    )
    .await;
    assert_error(status, StatusCode::BAD_REQUEST, "bad_request", &v);
}

async fn raw_get(f: &Fixture, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let resp = router(f.state.clone())
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

/// Splits CSV text into rows of fields (RFC 4180: quoted fields may hold commas, doubled quotes
/// and line breaks), so that the export is checked by reading it back.
fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = vec![];
    let mut row = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && row.is_empty(),
        "the last row has no line end"
    );
    rows
}

#[tokio::test]
async fn export_as_csv_and_json_lines() {
    let f = fixture();
    let (status, headers, text) = raw_get(&f, "/api/v1/export?q=curbs&format=csv").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"wirewatch-export-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    assert!(text.contains("\r\n"), "CSV lines end in CRLF");
    let rows = read_csv(&text);
    assert_eq!(
        rows[0],
        [
            "id",
            "published",
            "source",
            "title",
            "url",
            "topics",
            "entities"
        ]
    );
    assert_eq!(rows.len(), 27, "a header and the 26 hits");
    assert!(rows.iter().all(|r| r.len() == 7), "{rows:?}");
    let hostile = rows
        .iter()
        .find(|r| r[0] == format!("{:032x}", 100))
        .unwrap();
    assert_eq!(hostile[3], "<img src=x onerror=alert(1)> curbs");
    assert_eq!(hostile[5], "sanctions:0.70");
    assert_eq!(hostile[6], "Nvidia");
    // Newest first by default.
    let dates: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");

    // Paged through more than one index page, bounded by `limit`, filters applied.
    let (_, _, text) = raw_get(&f, "/api/v1/export?format=csv&limit=3&topic=tariffs").await;
    assert_eq!(read_csv(&text).len(), 4, "{text}");
    let (_, headers, text) = raw_get(&f, "/api/v1/export?format=jsonl&q=curbs&limit=25").await;
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 25);
    for key in [
        "id",
        "published",
        "source",
        "title",
        "url",
        "topics",
        "entities",
    ] {
        assert!(lines[0].get(key).is_some(), "{key} missing: {}", lines[0]);
    }
    let ids: std::collections::HashSet<&str> =
        lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 25, "a hit repeated across pages");

    for bad in [
        "format=xlsx",
        "limit=0",
        "limit=10001",
        "sort=oldest",
        "from=yesterday",
    ] {
        let (status, v) = get(&f, &format!("/api/v1/export?{bad}")).await;
        assert_error(status, StatusCode::BAD_REQUEST, "bad_request", &v);
    }
}

#[tokio::test]
async fn sources_carry_items_per_day_and_wall_flags() {
    let f = fixture();
    let toml = "[[source]]\nname = \"Wire A\"\nkind = \"feed\"\nurl = \"https://a.example/rss\"\n\n\
                [[source]]\nname = \"Walled\"\nkind = \"feed\"\nurl = \"https://w.example/rss\"\n";
    let config = wirewatch::config::Config::parse(toml, "test").unwrap();
    *f.state.config.write().unwrap() = std::sync::Arc::new(config);
    let now = chrono::Utc::now();
    let update = |name: &str, status, new: u64| wirewatch::store::SourceUpdate {
        name: name.into(),
        url: "https://x.example/rss".into(),
        kind: "feed".into(),
        attempted_at: now,
        status,
        error: None,
        etag: None,
        last_modified: None,
        next_check_at: now,
        consecutive_failures: 0,
        new_articles: new,
        feed_url: None,
        interval: None,
    };
    let seen: Vec<_> = (0..14)
        .map(|n| wirewatch::store::SeenArticle {
            id: format!("{n:032x}"),
            source: "Wire A".into(),
            url: format!("https://a.example/{n}"),
            updated: None,
        })
        .collect();
    f.state
        .state
        .record_commit(
            &seen,
            &[
                update("Wire A", wirewatch::store::SourceStatus::Ok, 14),
                update("Walled", wirewatch::store::SourceStatus::Blocked, 0),
            ],
        )
        .unwrap();
    f.state.metrics.article_fetch("Wire A", "paywall");
    let (status, v) = get(&f, "/api/v1/sources").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let a = &v["sources"][0];
    assert_eq!(a["name"], "Wire A");
    assert_eq!(a["items_per_day"], 2.0, "{a}");
    assert_eq!(a["paywall"], true, "{a}");
    assert_eq!(a["paywalled_pages"], 1, "{a}");
    assert_eq!(a["bot_wall"], false, "{a}");
    let w = &v["sources"][1];
    assert_eq!(w["bot_wall"], true, "{w}");
    assert_eq!(w["status"], "blocked", "{w}");
    assert_eq!(w["items_per_day"], 0.0, "{w}");
}
