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

/// chromedriver with a headless chromium session: the driver process, its profile directory and
/// the client (kept alive together).
async fn browser() -> (Driver, tempfile::TempDir, fantoccini::Client) {
    let port = free_port();
    let driver = Driver(
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

    (driver, profile, c)
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

    let (_driver, _profile, c) = browser().await;

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

/// Chinese and Japanese hits on the page: found by a word inside a sentence, in either script,
/// marked on whole characters, snippets as the article writes them (no spaces put in).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cjk_hits_on_the_analysts_page() {
    assert!(
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
        "{CHROMIUM} or {CHROMEDRIVER} is not installed: run `bash .ci/test` or `apt-get install chromium chromium-driver`"
    );
    let f = fixture();
    let hant = "美國商務部表示，中芯國際與華為的晶片採購將受到更嚴格的出口管制。";
    let hans = "美国商务部宣布，将中芯国际列入实体清单。";
    let ja = "経済産業省は先端半導体の製造装置を輸出規制の対象に加えると発表した。";
    {
        let mut w = f.state.index.writer().unwrap();
        for (n, title, body) in [
            (201, "晶片採購受限", hant),
            (202, "中芯国际被列入实体清单", hans),
            (203, "半導体の輸出規制を強化", ja),
        ] {
            w.upsert(&common::archive::article(
                n,
                title,
                body,
                "export_controls",
                22,
            ))
            .unwrap();
        }
        w.commit().unwrap();
        f.state.index.reload().unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = wirewatch::api::router(f.state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (_driver, _profile, c) = browser().await;
    c.goto(&format!("http://{addr}/")).await.unwrap();

    let search = |q: &'static str| {
        let c = c.clone();
        async move {
            let input = c.wait().for_element(Locator::Id("q")).await.unwrap();
            input.clear().await.unwrap();
            input.send_keys(q).await.unwrap();
            c.find(Locator::Id("go"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
        }
    };
    let texts = |css: &'static str| {
        let c = c.clone();
        async move {
            let mut out = Vec::new();
            for e in c.find_all(Locator::Css(css)).await.unwrap() {
                out.push(e.text().await.unwrap());
            }
            out
        }
    };

    // Traditional script finds both scripts.
    search("中芯國際").await;
    wait_for_text(&c, "#status", "2 results").await;
    let marks = texts("#results .snippet mark").await;
    assert!(!marks.is_empty(), "no highlighted terms");
    for m in &marks {
        assert!(m == "中芯國際" || m == "中芯国际", "mark {m:?}");
    }
    for snippet in texts("#results .snippet").await {
        // What the page shows is a stretch of an article as written: nothing inserted.
        assert!(
            hant.contains(&snippet) || hans.contains(&snippet),
            "snippet {snippet:?}"
        );
    }

    // Japanese, a word inside a sentence.
    search("輸出規制").await;
    wait_for_text(&c, "#status", "1 result").await;
    assert_eq!(texts("#results .hit h3 a mark").await, ["輸出規制"]);
    assert_eq!(texts("#results .snippet mark").await, ["輸出規制"]);
    let snippet = texts("#results .snippet").await;
    assert!(ja.contains(&snippet[0]), "{snippet:?}");

    // A word no article holds.
    search("光刻机").await;
    wait_for_text(&c, "#status", "0 results").await;
    assert_eq!(count(&c, "#results .hit").await, 0);

    c.close().await.unwrap();
}
