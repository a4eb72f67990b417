//! The analysts' workbench in a real browser (Debian's chromium driven through chromedriver), one
//! test per flow: search with facets, timeline and paging; permalinks with back/forward and the
//! keyboard; saving a search as an alert after a dry run; listing, editing, pausing and deleting
//! alerts; the delivery log with replay; source health; export links; the article view; a phone's
//! width. Hostile titles, alert names and errors are shown as text throughout.
//!
//! Without /usr/bin/chromium or /usr/bin/chromedriver these tests fail (a test that skipped itself
//! could never fail): `.ci/test` installs them (`apt-get install chromium chromium-driver`).
//!
//! With `WIREWATCH_SCREENSHOTS=1` they also write a screenshot of each view to
//! `docs/screenshots/*.png` (docs/WORKBENCH.md shows them); a normal run leaves the checkout alone.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::archive::{Fixture, fixture};
use common::free_port;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{ClientBuilder, Locator};
use wirewatch::alert::AlertConfig;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const TOKEN: &str = "s3cret"; // the fixture's API token
const ESCAPE: char = '\u{e00c}';
const ENTER: &str = "\u{e007}";

/// Browsers open at once: each test starts its own, and more than two on a small machine make
/// every wait slow.
static BROWSERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A headless chromium session: the client, with the driver process, its profile directory and
/// the browser slot kept alive as long as it.
struct Session {
    c: fantoccini::Client,
    _driver: Driver,
    _profile: tempfile::TempDir,
    _slot: tokio::sync::SemaphorePermit<'static>,
}

impl std::ops::Deref for Session {
    type Target = fantoccini::Client;
    fn deref(&self) -> &fantoccini::Client {
        &self.c
    }
}

fn require_browser() {
    assert!(
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
        "{CHROMIUM} or {CHROMEDRIVER} is not installed: run `bash .ci/test` (the README's test command), which installs them, or `apt-get install chromium chromium-driver`"
    );
}

async fn browser() -> Session {
    require_browser();
    let slot = BROWSERS.acquire().await.unwrap();
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
                     "--disable-dev-shm-usage", "--window-size=1280,900", "--hide-scrollbars",
                     "--force-device-scale-factor=1",
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
    Session {
        c,
        _driver: driver,
        _profile: profile,
        _slot: slot,
    }
}

/// The API over the fixture on a free loopback port.
async fn serve(f: &Fixture) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = wirewatch::api::router(f.state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
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

async fn wait_for(c: &fantoccini::Client, what: &str, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if c.execute(script, vec![]).await.ok() == Some(serde_json::Value::Bool(true)) {
            return;
        }
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_count(c: &fantoccini::Client, css: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = count(c, css).await;
        if found == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css}: {found} elements, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn count(c: &fantoccini::Client, css: &str) -> usize {
    c.find_all(Locator::Css(css))
        .await
        .map(|v| v.len())
        .unwrap_or(0)
}

async fn click(c: &fantoccini::Client, css: &str) {
    c.wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
}

async fn fill(c: &fantoccini::Client, css: &str, text: &str) {
    let e = c.wait().for_element(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn search(c: &fantoccini::Client, q: &str) {
    fill(c, "#q", q).await;
    click(c, "#go").await;
}

/// A key pressed wherever the focus is (not typed into one element).
async fn press(c: &fantoccini::Client, key: char) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key });
    c.perform_actions(keys).await.unwrap();
}

async fn js(c: &fantoccini::Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.unwrap()
}

async fn url(c: &fantoccini::Client) -> url::Url {
    c.current_url().await.unwrap()
}

fn param(u: &url::Url, key: &str) -> Option<String> {
    u.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The page's token field, filled as an analyst would (kept in the tab's sessionStorage).
async fn enter_token(c: &fantoccini::Client) {
    click(c, "#access summary").await;
    fill(c, "#token", TOKEN).await;
    // The field stores the token when it changes, which a blur makes final.
    click(c, "#access summary").await;
    wait_for(
        c,
        "the token is kept",
        "return sessionStorage.getItem('wirewatch.api-token') === 's3cret'",
    )
    .await;
}

/// Writes `docs/screenshots/NAME.png` when WIREWATCH_SCREENSHOTS is set.
async fn screenshot(c: &fantoccini::Client, name: &str) {
    if std::env::var_os("WIREWATCH_SCREENSHOTS").is_none() {
        return;
    }
    // Let the last paint finish (fonts, the timeline's bars).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = c.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

fn spec(name: &str, query: &str) -> AlertConfig {
    serde_json::from_value(serde_json::json!({"name": name, "query": query})).unwrap()
}

fn no_script_ran(alert: Result<String, fantoccini::error::CmdError>) {
    assert!(alert.is_err(), "a script from an article or alert ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysts_page_in_a_real_browser() {
    let f = fixture();
    let addr = serve(&f).await;
    let c = browser().await;

    c.goto(&format!("http://{addr}/")).await.unwrap();
    // Type a query and see results.
    search(&c, "curbs").await;
    wait_for_text(&c, "#status", "26 results").await;
    wait_for_text(&c, "#status", "showing 1–20").await;
    assert_eq!(count(&c, "#results .hit").await, 20);
    assert!(count(&c, "#results mark").await > 0, "no highlighted terms");
    // The timeline is drawn: one bar per day of the matches.
    wait_for(
        &c,
        "timeline bars",
        "return document.querySelectorAll('#timeline rect').length >= 20",
    )
    .await;
    // Facets list the topics.
    wait_for_text(&c, "#facets", "export controls").await;
    screenshot(&c, "search").await;
    // Paging.
    click(&c, "#next").await;
    wait_for_text(&c, "#status", "showing 21–26").await;
    assert_eq!(count(&c, "#results .hit").await, 6);
    click(&c, "#prev").await;
    wait_for_text(&c, "#status", "showing 1–20").await;

    // A hostile title is shown as text, never as markup.
    search(&c, "onerror").await;
    wait_for_text(&c, "#results", "<img src=x onerror=alert(1)>").await;
    assert_eq!(
        count(&c, "#results img").await,
        0,
        "the hostile title became an element"
    );
    no_script_ran(c.get_alert_text().await);

    // A facet narrows the search: the topic filter follows.
    search(&c, "curbs").await;
    wait_for_text(&c, "#status", "26 results").await;
    click(&c, "#facets li[data-value='tariffs'] button").await;
    wait_for_text(&c, "#status", "8 results").await;
    assert_eq!(count(&c, "#results .hit .badge.tariffs").await, 8);
    assert_eq!(
        c.find(Locator::Id("topic"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("tariffs")
    );
    // And the filter itself.
    click(&c, "#topic option[value='']").await;
    wait_for_text(&c, "#status", "26 results").await;
    click(&c, "#topic option[value='tariffs']").await;
    wait_for_text(&c, "#status", "8 results").await;
    assert_eq!(count(&c, "#results .hit").await, 8);

    c.c.clone().close().await.unwrap();
}

/// The article view: the body with its topic mentions marked, entities as name and type chips,
/// facts; a permalink opens it; Esc closes it; a chip searches for its entity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn article_view_marks_mentions_and_lists_entities() {
    let f = fixture();
    {
        let mut a = common::archive::article(
            300,
            "US raises tariffs on legacy chips <b>now</b>",
            "The US raised tariffs on legacy semiconductors from 25% to 50%. Nvidia shares fell.\n\nBeijing said it would respond.",
            "tariffs",
            20,
        );
        a.analysis.facts = vec![
            serde_json::from_value(serde_json::json!({"kind": "tariff_change", "measure": "tariff",
                "product": "legacy semiconductors", "from_pct": 25.0, "to_pct": 50.0, "actor": "US"}))
            .unwrap(),
        ];
        a.analysis.entities.push(wirewatch::analyze::Entity {
            id: "us".into(),
            kind: "country".into(),
            name: "United States".into(),
            count: 1,
        });
        let mut w = f.state.index.writer().unwrap();
        w.upsert(&a).unwrap();
        w.commit().unwrap();
        f.state.index.reload().unwrap();
    }
    let addr = serve(&f).await;
    let c = browser().await;
    let id = format!("{:032x}", 300);
    c.goto(&format!("http://{addr}/?q=legacy&article={id}"))
        .await
        .unwrap();
    wait_for_text(
        &c,
        "#a-title",
        "US raises tariffs on legacy chips <b>now</b>",
    )
    .await;
    assert_eq!(count(&c, "#a-title b").await, 0, "a title became markup");
    let mention = wait_for_text(&c, "#a-body mark.mention.tariffs", "raised tariffs").await;
    assert_eq!(
        mention,
        "The US raised tariffs on legacy semiconductors from 25% to 50%"
    );
    assert_eq!(count(&c, "#a-body p").await, 2, "paragraphs kept");
    wait_for_text(&c, "#a-entities", "Nvidia").await;
    wait_for_text(&c, "#a-entities", "United States").await;
    wait_for_text(&c, "#a-entities .entity.country", "country").await;
    wait_for_text(
        &c,
        "#a-facts .fact",
        "Tariff (US) on legacy semiconductors: from 25% to 50%",
    )
    .await;
    screenshot(&c, "article").await;

    // Esc closes it, and the URL forgets it; back opens it again.
    press(&c, ESCAPE).await;
    wait_for(
        &c,
        "the dialog closes",
        "return !document.getElementById('article').open",
    )
    .await;
    assert_eq!(param(&url(&c).await, "article"), None);
    c.back().await.unwrap();
    wait_for(
        &c,
        "the dialog opens again",
        "return document.getElementById('article').open",
    )
    .await;
    // An entity chip searches for the entity.
    click(&c, "#a-entities .entity.country").await;
    wait_for(
        &c,
        "the dialog closes",
        "return !document.getElementById('article').open",
    )
    .await;
    wait_for(
        &c,
        "the query names the entity",
        "return document.getElementById('q').value.includes('entity:\"us\"')",
    )
    .await;
    wait_for_text(&c, "#status", "1 result").await;
    c.c.clone().close().await.unwrap();
}

/// The URL holds the view: query, filters, sort, page and open article; back and forward replay
/// it; a permalink loaded afresh restores it; `/` focuses the search box and Enter searches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permalinks_back_forward_and_keyboard() {
    let f = fixture();
    let addr = serve(&f).await;
    let c = browser().await;
    c.goto(&format!("http://{addr}/")).await.unwrap();
    wait_for_text(&c, "#status", "results").await;

    // "/" from the page focuses the search box; Enter submits.
    press(&c, '/').await;
    wait_for(
        &c,
        "the search box has the focus",
        "return document.activeElement.id === 'q'",
    )
    .await;
    c.active_element()
        .await
        .unwrap()
        .send_keys(&format!("curbs{ENTER}"))
        .await
        .unwrap();
    wait_for_text(&c, "#status", "26 results").await;
    assert_eq!(param(&url(&c).await, "q").as_deref(), Some("curbs"));

    click(&c, "#sort option[value='newest']").await;
    wait_for(
        &c,
        "sort in the URL",
        "return location.search.includes('sort=newest')",
    )
    .await;
    click(&c, "#next").await;
    wait_for_text(&c, "#status", "showing 21–26").await;
    let page2 = url(&c).await;
    let cursor = param(&page2, "cursor").expect("the page's cursor in the URL");
    assert!(cursor.starts_with("20."), "{cursor}");

    // Open an article from page 2, then go back twice: the article closes, then page 1 returns.
    click(&c, "#results .hit h3 a").await;
    wait_for(
        &c,
        "the article opens",
        "return document.getElementById('article').open",
    )
    .await;
    assert!(param(&url(&c).await, "article").is_some());
    c.back().await.unwrap();
    wait_for(
        &c,
        "the article closes",
        "return !document.getElementById('article').open",
    )
    .await;
    assert_eq!(url(&c).await, page2);
    assert_eq!(count(&c, "#results .hit").await, 6);
    c.back().await.unwrap();
    wait_for_text(&c, "#status", "showing 1–20").await;
    c.forward().await.unwrap();
    wait_for_text(&c, "#status", "showing 21–26").await;

    // A filter in a fresh tab's permalink: controls and results restored.
    let link = format!("http://{addr}/?q=curbs&topic=tariffs&sort=newest&interval=week");
    c.goto(&link).await.unwrap();
    wait_for_text(&c, "#status", "8 results").await;
    let value = |id: &'static str| {
        let c = c.c.clone();
        async move {
            c.find(Locator::Id(id))
                .await
                .unwrap()
                .prop("value")
                .await
                .unwrap()
                .unwrap_or_default()
        }
    };
    assert_eq!(value("q").await, "curbs");
    assert_eq!(value("topic").await, "tariffs");
    assert_eq!(value("sort").await, "newest");
    assert_eq!(value("interval").await, "week");
    wait_for_text(&c, "#timeline-caption", "per week").await;
    // The page 2 permalink, loaded afresh.
    c.goto(page2.as_str()).await.unwrap();
    wait_for_text(&c, "#status", "showing 21–26").await;

    // Views are permalinks too, and back returns to the search as it was.
    click(&c, "#views a[data-view='sources']").await;
    wait_for(
        &c,
        "the sources view",
        "return !document.getElementById('view-sources').hidden",
    )
    .await;
    assert_eq!(param(&url(&c).await, "view").as_deref(), Some("sources"));
    c.back().await.unwrap();
    wait_for(
        &c,
        "the search view",
        "return !document.getElementById('view-search').hidden",
    )
    .await;
    wait_for_text(&c, "#status", "showing 21–26").await;
    // Every control is reachable: the focus is shown (a visible outline) as Tab moves on.
    press(&c, '\u{e004}').await; // Tab
    let outline = js(
        &c,
        "return getComputedStyle(document.activeElement).outlineStyle",
    )
    .await;
    assert_ne!(outline, "none", "no visible focus");
    c.c.clone().close().await.unwrap();
}

/// The current search saved as an alert: the editor is filled from it, a dry run over the last
/// N days shows what it would have matched, and it is saved (the token asked for first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_a_search_as_an_alert_after_a_dry_run() {
    let f = fixture();
    let addr = serve(&f).await;
    let c = browser().await;
    c.goto(&format!("http://{addr}/?q=curbs&topic=tariffs"))
        .await
        .unwrap();
    wait_for_text(&c, "#status", "8 results").await;
    click(&c, "#save-search").await;
    wait_for(
        &c,
        "the editor opens",
        "return document.getElementById('alert-editor').open",
    )
    .await;
    let value = |id: &'static str| {
        let c = c.c.clone();
        async move {
            c.find(Locator::Id(id))
                .await
                .unwrap()
                .prop("value")
                .await
                .unwrap()
                .unwrap_or_default()
        }
    };
    assert_eq!(value("ae-query").await, "curbs");
    assert_eq!(value("ae-topic").await, "tariffs");
    fill(&c, "#ae-name", "Tariff curbs").await;
    fill(&c, "#ae-days", "3650").await;

    // Without the token the API says no, and the editor says where to put it.
    click(&c, "#ae-dry").await;
    wait_for_text(&c, "#ae-error", "API token").await;
    press(&c, ESCAPE).await;
    wait_for(
        &c,
        "Esc closes the editor",
        "return !document.getElementById('alert-editor').open",
    )
    .await;
    enter_token(&c).await;

    click(&c, "#save-search").await;
    fill(&c, "#ae-name", "Tariff curbs").await;
    fill(&c, "#ae-days", "3650").await;
    click(&c, "#ae-dry").await;
    wait_for_text(
        &c,
        "#ae-dry-summary",
        "Would have matched 8 articles in the last 3650 days",
    )
    .await;
    assert_eq!(count(&c, "#ae-dry-result .dry-matches li").await, 8);
    wait_for_text(&c, "#ae-dry-result", "Chip export curbs, part").await;
    screenshot(&c, "alert-editor").await;
    // A narrower window: no article of the fixture is from the last day.
    fill(&c, "#ae-days", "1").await;
    click(&c, "#ae-dry").await;
    wait_for_text(
        &c,
        "#ae-dry-summary",
        "Would have matched 0 articles in the last 1 day",
    )
    .await;

    click(&c, "#ae-save").await;
    wait_for_text(&c, "#notice", "Saved alert “Tariff curbs”").await;
    let saved = wirewatch::alert::store::list(&f.state.state).unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].spec.query, "curbs");
    assert_eq!(saved[0].spec.topic.as_deref(), Some("tariffs"));
    assert!(saved[0].spec.enabled);
    // Listed in the alerts view.
    click(&c, "#views a[data-view='alerts']").await;
    wait_for_text(&c, "#alerts-table tbody", "Tariff curbs").await;
    c.c.clone().close().await.unwrap();
}

/// The alerts view: lists saved searches (a hostile name as text; configuration alerts locked),
/// edits one, pauses and resumes it, deletes one after confirming (Esc cancels).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_list_edit_pause_and_delete() {
    let f = fixture();
    let st = &f.state.state;
    let curbs = wirewatch::alert::store::create(st, &spec("Curbs", "curbs"), "api").unwrap();
    let hostile = wirewatch::alert::store::create(
        st,
        &spec("<img src=x onerror=alert(1)>", "smuggl*"),
        "api",
    )
    .unwrap();
    wirewatch::alert::store::create(st, &spec("From the file", "topic:sanctions"), "config")
        .unwrap();
    let addr = serve(&f).await;
    let c = browser().await;
    c.goto(&format!("http://{addr}/?view=alerts"))
        .await
        .unwrap();
    wait_count(&c, "#alerts-table tbody tr", 3).await;
    wait_for_text(&c, "#alerts-table", "<img src=x onerror=alert(1)>").await;
    assert_eq!(count(&c, "#alerts-table img").await, 0);
    no_script_ran(c.get_alert_text().await);
    // Configuration alerts are changed in the file.
    let locked = "#alerts-table tr:nth-child(3) button.edit";
    let e = c.find(Locator::Css(locked)).await.unwrap();
    assert!(
        !e.is_enabled().await.unwrap(),
        "a configuration alert is editable"
    );
    enter_token(&c).await;

    // Edit.
    let row = |id: i64, rest: &str| format!("#alerts-table tr[data-id='{id}'] {rest}");
    click(&c, &row(curbs.id, "button.edit")).await;
    wait_for(
        &c,
        "the editor opens",
        "return document.getElementById('alert-editor').open",
    )
    .await;
    fill(&c, "#ae-query", "curbs AND nvidia").await;
    click(&c, "#ae-topic option[value='export_controls']").await;
    click(&c, "#ae-save").await;
    wait_for_text(
        &c,
        &row(curbs.id, ""),
        "curbs AND nvidia · topic: export controls",
    )
    .await;
    let stored = wirewatch::alert::store::get(st, curbs.id).unwrap().unwrap();
    assert_eq!(stored.spec.query, "curbs AND nvidia");

    // Pause, then resume.
    click(&c, &row(curbs.id, "button.pause")).await;
    wait_for_text(&c, &row(curbs.id, ""), "paused").await;
    assert!(
        !wirewatch::alert::store::get(st, curbs.id)
            .unwrap()
            .unwrap()
            .spec
            .enabled
    );
    screenshot(&c, "alerts").await;
    click(&c, &row(curbs.id, "button.pause")).await;
    wait_for_text(&c, &row(curbs.id, ""), "active").await;
    assert!(
        wirewatch::alert::store::get(st, curbs.id)
            .unwrap()
            .unwrap()
            .spec
            .enabled
    );

    // Delete: Esc cancels the confirmation, Delete confirms.
    click(&c, &row(hostile.id, "button.delete")).await;
    wait_for(
        &c,
        "the confirmation",
        "return document.getElementById('confirm').open",
    )
    .await;
    press(&c, ESCAPE).await;
    wait_for(
        &c,
        "Esc cancels",
        "return !document.getElementById('confirm').open",
    )
    .await;
    assert_eq!(count(&c, "#alerts-table tbody tr").await, 3);
    click(&c, &row(hostile.id, "button.delete")).await;
    click(&c, "#confirm-yes").await;
    wait_count(&c, "#alerts-table tbody tr", 2).await;
    assert!(
        wirewatch::alert::store::get(st, hostile.id)
            .unwrap()
            .is_none()
    );
    c.c.clone().close().await.unwrap();
}

/// The delivery log: delivered, pending and failed deliveries with their errors (as text); a
/// failed one replayed goes back in the queue; the status filter is in the URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_log_and_replay_of_a_failed_one() {
    use wirewatch::alert::store as alerts;
    let f = fixture();
    let st = &f.state.state;
    let alert = alerts::create(st, &spec("Curbs", "curbs"), "api").unwrap();
    let matched = |n: u32| {
        let id = format!("{n:032x}");
        let payload = serde_json::json!({"article_id": id, "title": format!("Chip export curbs, part {n}"),
            "url": format!("https://news.example/{n}"), "source": "Wire A", "published": null,
            "topics": [], "entities": [], "evidence": []});
        wirewatch::store::state::NewMatch {
            alert_id: alert.id,
            article_id: id,
            payload: payload.to_string(),
            channels: vec!["desk".into()],
            deliver_at: chrono::Utc::now(),
            fingerprint: format!("f{n}"),
            on_update: false,
        }
    };
    st.record_commit_with_matches(&[], &[], &[matched(1), matched(2), matched(3)])
        .unwrap();
    let rows = alerts::deliveries(st, None, 10).unwrap();
    let id_of = |article: u32| {
        rows.iter()
            .find(|r| r.article_id == format!("{article:032x}"))
            .unwrap()
            .id
    };
    let (dead, delivered) = (id_of(1), id_of(2));
    alerts::mark_failed(
        st,
        &[(dead, 0)],
        "HTTP 502 from the receiver: <b>bad gateway</b>",
        None,
    )
    .unwrap();
    alerts::mark_delivered(st, &[(delivered, 0)]).unwrap();
    assert_eq!(alerts::deliveries(st, Some("dead"), 10).unwrap().len(), 1);

    let addr = serve(&f).await;
    let c = browser().await;
    c.goto(&format!("http://{addr}/?view=deliveries"))
        .await
        .unwrap();
    wait_count(&c, "#deliveries-table tbody tr", 3).await;
    let row = |id: i64| format!("#deliveries-table tr[data-id='{id}']");
    wait_for_text(&c, &row(dead), "failed").await;
    wait_for_text(
        &c,
        &row(dead),
        "HTTP 502 from the receiver: <b>bad gateway</b>",
    )
    .await;
    assert_eq!(count(&c, "#deliveries-table b").await, 0);
    wait_for_text(&c, &row(dead), "Curbs").await;
    wait_for_text(&c, &row(delivered), "delivered").await;
    assert_eq!(count(&c, "#deliveries-table button.replay").await, 1);
    screenshot(&c, "deliveries").await;

    // Only the failed ones, by the filter, in the URL.
    click(&c, "#d-status option[value='dead']").await;
    wait_count(&c, "#deliveries-table tbody tr", 1).await;
    assert_eq!(param(&url(&c).await, "status").as_deref(), Some("dead"));

    // Replay needs the token; then the delivery is pending again.
    click(&c, &format!("{} button.replay", row(dead))).await;
    wait_for_text(&c, "#notice", "API token").await;
    enter_token(&c).await;
    click(&c, &format!("{} button.replay", row(dead))).await;
    wait_for_text(&c, "#notice", &format!("Delivery {dead} queued again")).await;
    wait_for_text(&c, "#deliveries-table tbody", "No deliveries").await;
    let now = alerts::deliveries(st, None, 10).unwrap();
    let replayed = now.iter().find(|r| r.id == dead).unwrap();
    assert_eq!(replayed.status, "pending");
    assert_eq!(replayed.attempts, 0);

    // The article of a delivery opens from the log.
    click(&c, "#d-status option[value='']").await;
    wait_count(&c, "#deliveries-table tbody tr", 3).await;
    click(&c, &format!("{} a", row(delivered))).await;
    wait_for_text(&c, "#a-title", "Chip export curbs, part 2").await;
    c.c.clone().close().await.unwrap();
}

/// The sources view: last fetch, status, error, items per day, and the bot wall, paywall and
/// stale flags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_view_shows_health_and_flags() {
    use wirewatch::store::{SeenArticle, SourceStatus, SourceUpdate};
    let f = fixture();
    let toml = [
        ("Wire A", "https://a.example/rss"),
        ("Walled", "https://walled.example/rss"),
        ("Paywalled", "https://paid.example/rss"),
        ("Frozen", "https://frozen.example/rss"),
    ]
    .iter()
    .map(|(name, url)| format!("[[source]]\nname = \"{name}\"\nkind = \"feed\"\nurl = \"{url}\"\n"))
    .collect::<Vec<_>>()
    .join("\n");
    let config = wirewatch::config::Config::parse(&toml, "test").unwrap();
    *f.state.config.write().unwrap() = std::sync::Arc::new(config);
    let now = chrono::Utc::now();
    let update = |name: &str, status, new: u64, at: chrono::DateTime<chrono::Utc>| SourceUpdate {
        name: name.into(),
        url: "https://x.example/rss".into(),
        kind: "feed".into(),
        attempted_at: at,
        status,
        error: None,
        etag: None,
        last_modified: None,
        next_check_at: now + chrono::Duration::minutes(10),
        consecutive_failures: 0,
        new_articles: new,
        feed_url: None,
        interval: None,
    };
    let seen: Vec<_> = (0..21)
        .map(|n| SeenArticle {
            id: format!("{n:032x}"),
            source: "Wire A".into(),
            url: format!("https://a.example/{n}"),
            updated: None,
        })
        .collect();
    let mut walled = update("Walled", SourceStatus::Blocked, 0, now);
    walled.error = Some("blocked by a bot wall (cloudflare challenge page) <script>".into());
    walled.consecutive_failures = 3;
    f.state
        .state
        .record_commit(
            &seen,
            &[
                update("Wire A", SourceStatus::Ok, 21, now),
                walled,
                update("Paywalled", SourceStatus::Ok, 1, now),
                update(
                    "Frozen",
                    SourceStatus::Ok,
                    5,
                    now - chrono::Duration::days(3),
                ),
            ],
        )
        .unwrap();
    f.state
        .state
        .record_commit(&[], &[update("Frozen", SourceStatus::NotModified, 0, now)])
        .unwrap();
    f.state.metrics.article_fetch("Paywalled", "paywall");

    let addr = serve(&f).await;
    let c = browser().await;
    c.goto(&format!("http://{addr}/?view=sources"))
        .await
        .unwrap();
    wait_count(&c, "#sources-table tbody tr", 4).await;
    let row = |name: &str| format!("#sources-table tr[data-name='{name}']");
    let wire = wait_for_text(&c, &row("Wire A"), "ok").await;
    assert!(wire.contains("3.0"), "items per day: {wire}");
    assert!(
        wire.contains(&now.format("%Y-%m-%d").to_string()),
        "last fetch: {wire}"
    );
    wait_for_text(&c, &format!("{} .flags", row("Walled")), "bot wall").await;
    wait_for_text(
        &c,
        &row("Walled"),
        "blocked by a bot wall (cloudflare challenge page) <script>",
    )
    .await;
    wait_for_text(&c, &row("Walled"), "3 failures in a row").await;
    wait_for_text(&c, &format!("{} .flags", row("Paywalled")), "paywall").await;
    wait_for_text(&c, &format!("{} .flags", row("Frozen")), "stale").await;
    let plain = c
        .find(Locator::Css(&format!("{} .flags", row("Wire A"))))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(plain, "—");
    screenshot(&c, "sources").await;
    c.c.clone().close().await.unwrap();
}

/// The export links carry the search's filters; what they fetch is the CSV or JSON lines of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_links_follow_the_search() {
    let f = fixture();
    let addr = serve(&f).await;
    let c = browser().await;
    c.goto(&format!("http://{addr}/?q=curbs&topic=tariffs&sort=newest"))
        .await
        .unwrap();
    wait_for_text(&c, "#status", "8 results").await;
    let href = |css: &'static str| {
        let c = c.c.clone();
        async move {
            c.find(Locator::Css(css))
                .await
                .unwrap()
                .attr("href")
                .await
                .unwrap()
                .unwrap()
        }
    };
    let csv = href("#export-csv").await;
    assert_eq!(
        csv,
        "/api/v1/export?q=curbs&topic=tariffs&format=csv&sort=newest"
    );
    let jsonl = href("#export-jsonl").await;
    assert!(jsonl.contains("format=jsonl"), "{jsonl}");
    // What the browser would download.
    let got = js(
        &c,
        "const r = await fetch(document.getElementById('export-csv').href); \
         return [r.headers.get('content-disposition'), await r.text()];",
    )
    .await;
    assert!(
        got[0]
            .as_str()
            .unwrap()
            .starts_with("attachment; filename="),
        "{got}"
    );
    let text = got[1].as_str().unwrap();
    assert!(
        text.starts_with("id,published,source,title,url,topics,entities\r\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 9, "{text}");
    // Narrowing the search moves the links along.
    click(&c, "#source option[value='Wire A']").await;
    wait_for(
        &c,
        "the link follows the filter",
        "return document.getElementById('export-csv').href.includes('source=Wire+A')",
    )
    .await;
    c.c.clone().close().await.unwrap();
}

/// At a phone's width: one column, tables as labelled cards, nothing wider than the screen, and
/// the dialogs fit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readable_at_a_phone_width() {
    let f = fixture();
    wirewatch::alert::store::create(&f.state.state, &spec("Curbs", "curbs"), "api").unwrap();
    let addr = serve(&f).await;
    let c = browser().await;
    c.set_window_size(390, 844).await.unwrap();
    let fits = "return document.documentElement.scrollWidth <= window.innerWidth + 1";
    c.goto(&format!("http://{addr}/?q=curbs")).await.unwrap();
    wait_for_text(&c, "#status", "26 results").await;
    wait_for(&c, "the search fits the width", fits).await;
    // Facets go under the results, not beside them.
    let beside = js(
        &c,
        "return document.getElementById('facets').getBoundingClientRect().top < \
                document.getElementById('results').getBoundingClientRect().top",
    )
    .await;
    assert_eq!(beside, false, "facets beside the results on a phone");
    screenshot(&c, "phone-search").await;
    for view in ["alerts", "deliveries", "sources"] {
        c.goto(&format!("http://{addr}/?view={view}"))
            .await
            .unwrap();
        wait_for(
            &c,
            &format!("the {view} view"),
            &format!("return !document.getElementById('view-{view}').hidden"),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        wait_for(&c, &format!("{view} fits the width"), fits).await;
    }
    c.goto(&format!("http://{addr}/?view=alerts"))
        .await
        .unwrap();
    wait_for_text(&c, "#alerts-table tbody", "Curbs").await;
    // Rows are cards with each cell labelled.
    let label = js(
        &c,
        "return getComputedStyle(document.querySelector('#alerts-table td'), '::before').content",
    )
    .await;
    assert_eq!(label, "\"Name\"");
    screenshot(&c, "phone-alerts").await;
    click(&c, "#new-alert").await;
    wait_for(
        &c,
        "the editor opens",
        "return document.getElementById('alert-editor').open",
    )
    .await;
    let wide = js(
        &c,
        "return document.getElementById('alert-editor').getBoundingClientRect().width <= window.innerWidth",
    )
    .await;
    assert_eq!(wide, true, "the editor is wider than the phone");
    c.c.clone().close().await.unwrap();
}

/// Chinese and Japanese hits on the page: found by a word inside a sentence, in either script,
/// marked on whole characters, snippets as the article writes them (no spaces put in).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cjk_hits_on_the_analysts_page() {
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
    let addr = serve(&f).await;
    let c = browser().await;
    c.goto(&format!("http://{addr}/")).await.unwrap();

    let texts = |css: &'static str| {
        let c = c.c.clone();
        async move {
            let mut out = Vec::new();
            for e in c.find_all(Locator::Css(css)).await.unwrap() {
                out.push(e.text().await.unwrap());
            }
            out
        }
    };

    // Traditional script finds both scripts.
    search(&c, "中芯國際").await;
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
    search(&c, "輸出規制").await;
    wait_for_text(&c, "#status", "1 result ").await;
    assert_eq!(texts("#results .hit h3 a mark").await, ["輸出規制"]);
    assert_eq!(texts("#results .snippet mark").await, ["輸出規制"]);
    let snippet = texts("#results .snippet").await;
    assert!(ja.contains(&snippet[0]), "{snippet:?}");

    // A word no article holds.
    search(&c, "光刻机").await;
    wait_for_text(&c, "#status", "0 results").await;
    assert_eq!(count(&c, "#results .hit").await, 0);

    c.c.clone().close().await.unwrap();
}
