//! The HTTP API against a fixture index, through the router itself (no network): contracts,
//! escaping, paging, timeline, facets, the OpenAPI document, and malformed values on every
//! parameter never producing a 5xx.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::archive::{Fixture, fixture};
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
        if matches!(*method, "put" | "delete") || (*method == "post" && !path.ends_with("/test")) {
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
