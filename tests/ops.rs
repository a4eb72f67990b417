//! Operating the daemon: readiness and watchdog over a fake NOTIFY_SOCKET, reload on SIGHUP
//! (sources and rules change, a broken config is refused), health and metrics endpoints, clean stop.

#![cfg(unix)]

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;

fn site() -> Site {
    Site {
        seen: Default::default(),
        feeds: Default::default(),
        pages: Default::default(),
        page_delay: Duration::ZERO,
    }
}

/// Every sd_notify message received so far, read by a thread that never stops draining the
/// socket (a full socket queue would make the daemon drop notifications).
type Inbox = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

fn drain(sock: UnixDatagram) -> Inbox {
    let inbox: Inbox = Default::default();
    let out = inbox.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match sock.recv(&mut buf) {
                Ok(n) => out
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return,
            }
        }
    });
    inbox
}

/// Waits until the messages received since `from` satisfy `until`.
async fn wait_for_message(inbox: &Inbox, from: usize, until: impl Fn(&[String]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got: Vec<String> = inbox.lock().unwrap()[from..].to_vec();
        if until(&got) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no such notification; got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn mark(inbox: &Inbox) -> usize {
    inbox.lock().unwrap().len()
}

async fn wait_until(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_watchdog_reload_metrics_and_stop() {
    let server = serve(site()).await;
    let base = format!("http://{}", server.addr);
    let full = "The city council said on Friday that the new zebracorn programme would start next month, \
with a pilot in two districts. Officials expect the scheme to cut waiting times at libraries and clinics, \
while residents' groups asked for more consultation before it is extended. The council will review the \
programme every six months and publish the results on its website, a spokeswoman said in a statement";
    server.site.feeds.lock().unwrap().insert(
        "/feeds/a.xml".into(),
        rss(
            "A",
            &[("First story", &format!("{base}/articles/1.html"), full)],
        ),
    );
    server.site.feeds.lock().unwrap().insert(
        "/feeds/b.xml".into(),
        rss(
            "B",
            &[("Second story", &format!("{base}/articles/2.html"), full)],
        ),
    );

    // Rules the test can change: a copy of the shipped pack.
    let env = Env::new(
        &(source("A", "feed", &server.url("/feeds/a.xml")) + "interval = \"1s\"\n"),
        "",
    );
    let topics = env.dir.path().join("topics.toml");
    std::fs::copy(repo_file("config/topics.toml"), &topics).unwrap();
    env.edit_config(
        &repo_file("config/topics.toml").display().to_string(),
        &topics.display().to_string(),
    );
    let port = free_port();
    env.edit_config(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );

    let sock_path = env.dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let daemon = Daemon::new(
        env.wirewatch(&["run", "--config", env.config.to_str().unwrap()])
            .env("NOTIFY_SOCKET", &sock_path)
            .env("WATCHDOG_USEC", "600000")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let pid = daemon.id();
    let inbox = drain(sock);

    // READY once the API listens; watchdog pings and a status line follow.
    wait_for_message(&inbox, 0, |m| m.iter().any(|x| x == "READY=1")).await;
    assert_eq!(http_get(port, "/readyz").0, 200);
    assert_eq!(http_get(port, "/healthz").0, 200);
    wait_for_message(&inbox, 0, |m| {
        m.iter().any(|x| x == "WATCHDOG=1") && m.iter().any(|x| x.starts_with("STATUS=1 sources"))
    })
    .await;

    // The zebracorn word is not in any rule yet.
    wait_until("source A polled", || {
        !server.site.seen.headers_for("/feeds/a.xml").is_empty()
    })
    .await;
    wait_until("first article searchable", || env.total("zebracorn") == 1).await;
    assert_eq!(env.total("topic:tariffs"), 0);

    // Reload: a new source and a new rule.
    env.append_config(&(source("B", "feed", &server.url("/feeds/b.xml")) + "interval = \"1s\"\n"));
    let mut rules = std::fs::read_to_string(&topics).unwrap();
    rules.push_str("\n[[rule]]\nname = \"test-zebracorn\"\ntopic = \"tariffs\"\nterms = [\"zebracorn programme\"]\n");
    std::fs::write(&topics, rules).unwrap();
    let since = mark(&inbox);
    signal(pid, "HUP");
    wait_for_message(&inbox, since, |m| {
        m.iter().any(|x| x == "RELOADING=1") && m.iter().any(|x| x == "READY=1")
    })
    .await;
    wait_until("source B polled", || {
        !server.site.seen.headers_for("/feeds/b.xml").is_empty()
    })
    .await;
    // The new rule applies to the new source's article.
    wait_until("new rule applied", || env.total("topic:tariffs") == 1).await;
    let hit = env.search("topic:tariffs", &[]);
    assert_eq!(hit["hits"][0]["title"], "Second story");

    // A broken config is refused and everything keeps running.
    let good = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        good.replace(
            "[fetch]",
            "[fetch]\nper_host_concurrency = 0\nbogus_key = 1",
        ),
    )
    .unwrap();
    let since = mark(&inbox);
    signal(pid, "HUP");
    wait_for_message(&inbox, since, |m| m.iter().any(|x| x == "READY=1")).await;
    let polls_before = server.site.seen.headers_for("/feeds/b.xml").len();
    wait_until("B still polled after a refused reload", || {
        server.site.seen.headers_for("/feeds/b.xml").len() > polls_before
    })
    .await;
    assert_eq!(http_get(port, "/healthz").0, 200);

    let (status, metrics) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("wirewatch_polls_total{source=\"B\",outcome="),
        "{metrics}"
    );
    assert!(
        metrics.contains("wirewatch_articles_indexed_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wirewatch_source_last_success_timestamp_seconds{source=\"A\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wirewatch_fetch_duration_seconds_bucket"),
        "{metrics}"
    );

    let since = mark(&inbox);
    let out = tokio::task::spawn_blocking(move || daemon.stop("TERM"))
        .await
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(log.contains("reload refused"), "{log}");
    assert!(log.contains("bogus_key"), "{log}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got: Vec<String> = inbox.lock().unwrap()[since..].to_vec();
    assert!(got.iter().any(|x| x == "STOPPING=1"), "{got:?}");
    assert!(server.site.seen.not_modified.load(Ordering::SeqCst) > 0);
}
