//! The analysts' page in a real browser (Debian's chromium driven through chromedriver): type a
//! query, see results, page on, see a hostile title shown as text, open an article with its
//! mentions marked, apply a topic filter, see the timeline drawn.
//!
//! CI installs chromium and chromium-driver; elsewhere, without them, the test says so and passes.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::archive::fixture;
use common::free_port;
use fantoccini::{ClientBuilder, Locator};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_for_text(c: &fantoccini::Client, css: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(text) = e.text().await
            && text.contains(want)
        {
            return text;
        }
        assert!(Instant::now() < deadline, "{css} never showed `{want}`");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn count(c: &fantoccini::Client, css: &str) -> usize {
    c.find_all(Locator::Css(css))
        .await
        .map(|v| v.len())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysts_page_in_a_real_browser() {
    // A test that skipped itself when its tool is missing could never fail: it fails instead.
    assert!(
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
        "{CHROMIUM} or {CHROMEDRIVER} is not installed: run `bash .ci/test` (the README's test command), which installs them, or `apt-get install chromium chromium-driver`"
    );
    let f = fixture();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = wirewatch::api::router(f.state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let port = free_port();
    let _driver = Driver(
        Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1280,900",
                     format!("--user-data-dir={}", profile.path().display())]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let c = loop {
        match ClientBuilder::new(connector.clone())
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => break c,
            Err(e) => {
                assert!(Instant::now() < deadline, "chromedriver did not start: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };

    c.goto(&format!("http://{addr}/")).await.unwrap();
    // Type a query and see results.
    let q = c.wait().for_element(Locator::Id("q")).await.unwrap();
    q.send_keys("curbs").await.unwrap();
    c.find(Locator::Id("go"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&c, "#status", "26 results").await;
    assert_eq!(count(&c, "#results .hit").await, 20);
    assert!(count(&c, "#results mark").await > 0, "no highlighted terms");
    // Paging.
    c.find(Locator::Id("more"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&c, "#results .hit").await < 26 {
        assert!(Instant::now() < deadline, "the second page never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The timeline is drawn: one bar per day of the matches.
    assert!(count(&c, "#timeline rect").await >= 20, "no timeline bars");
    // Facets list the topics.
    wait_for_text(&c, "#facets", "export_controls").await;

    // A hostile title is shown as text, never as markup.
    let q = c.find(Locator::Id("q")).await.unwrap();
    q.clear().await.unwrap();
    q.send_keys("onerror").await.unwrap();
    c.find(Locator::Id("go"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&c, "#results", "<img src=x onerror=alert(1)>").await;
    assert_eq!(
        count(&c, "#results img").await,
        0,
        "the hostile title became an element"
    );
    assert!(
        c.get_alert_text().await.is_err(),
        "a script from an article ran"
    );

    // Open an article: its mentions are marked.
    let q = c.find(Locator::Id("q")).await.unwrap();
    q.clear().await.unwrap();
    q.send_keys("curbs").await.unwrap();
    c.find(Locator::Id("go"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&c, "#status", "26 results").await;
    // Any hit but the hostile one (ties in relevance make the order among the rest arbitrary).
    let first = format!("#results .hit:not([data-id='{:032x}']) h3 a", 100);
    c.find(Locator::Css(&first))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&c, "#a-title", "Chip export curbs, part").await;
    assert!(
        count(&c, "#a-body mark.mention").await >= 1,
        "no mention marked in the article view"
    );
    let mention = c
        .find(Locator::Css("#a-body mark.mention"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        mention.starts_with("Washington tightened export controls"),
        "{mention}"
    );
    c.find(Locator::Id("close"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // Apply a topic filter.
    c.find(Locator::Css("#topic option[value='tariffs']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&c, "#status", "8 results").await;
    assert_eq!(count(&c, "#results .hit").await, 8);
    assert_eq!(count(&c, "#results .hit .badge.tariffs").await, 8);

    c.close().await.unwrap();
}
