//! `run --role fetch|index` over a 3-server NATS JetStream cluster on loopback (issue 21): one
//! index node and two fetch nodes share a fixture site's sources; every article is indexed once
//! and searchable through the index node's API, and alerts are delivered once, through a
//! `kill -9` of a fetch node, of a NATS server and of the index node.
//!
//! Needs `nats-server` (Debian package `nats-server`; `.ci/test` installs it). Without it the
//! tests fail: a test that skips itself cannot fail.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use common::{Daemon, Env, Site, free_port, http_get, serve, wait_until};

/// Sources on the fixture site (feeds), and articles in each at the start.
const SOURCES: usize = 6;
const FIRST: usize = 5;

/// The `nats-server` binary, from `PATH` or where Debian puts it.
fn nats_server() -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join("nats-server");
        if p.is_file() {
            return p;
        }
    }
    for p in ["/usr/sbin/nats-server", "/usr/bin/nats-server"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    panic!("nats-server is not installed (apt-get install nats-server; .ci/test does it)");
}

/// One nats-server of the test's cluster; killed when dropped.
struct Nats {
    child: Option<Child>,
    port: u16,
    monitor: u16,
}

impl Nats {
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Three JetStream servers routed to each other, each with its own store directory under `dir`.
async fn nats_cluster(dir: &Path) -> Vec<Nats> {
    let bin = nats_server();
    let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let route_list = routes
        .iter()
        .map(|p| format!("nats://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut servers = Vec::new();
    for (i, route) in routes.iter().enumerate() {
        let (port, monitor) = (free_port(), free_port());
        let store = dir.join(format!("nats-{i}"));
        std::fs::create_dir_all(&store).unwrap();
        let log = std::fs::File::create(dir.join(format!("nats-{i}.log"))).unwrap();
        let child = Command::new(&bin)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-m",
                &monitor.to_string(),
                "-n",
                &format!("ww-{i}"),
                "-js",
                "-sd",
                store.to_str().unwrap(),
                "--cluster_name",
                "wirewatch-test",
                "--cluster",
                &format!("nats://127.0.0.1:{route}"),
                "--routes",
                &route_list,
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        servers.push(Nats {
            child: Some(child),
            port,
            monitor,
        });
    }
    for s in &servers {
        let monitor = s.monitor;
        wait_until("nats-server is healthy", 30, move || {
            std::net::TcpStream::connect(("127.0.0.1", monitor)).is_ok()
                && http_get(monitor, "/healthz").0 == 200
        })
        .await;
    }
    servers
}

/// The fixture: `SOURCES` feeds, articles numbered across them; the text of every article holds
/// "fixturecorpus", and even-numbered ones "quokkagpu" (the alert's query).
struct Fixture {
    site: Site,
    base: String,
    /// Article numbers per source.
    items: Mutex<Vec<Vec<usize>>>,
}

impl Fixture {
    fn add(&self, source: usize, n: usize) {
        let words = if n.is_multiple_of(2) {
            "quokkagpu boards were shipped"
        } else {
            "weather stays mild"
        };
        let paragraphs: Vec<String> = (0..4)
            .map(|p| {
                format!(
                    "Paragraph {p} of story {n}: fixturecorpus reporting says {words}, and officials in the region \
                     described the case in some detail to reporters on Friday, adding that more would follow."
                )
            })
            .collect();
        let refs: Vec<&str> = paragraphs.iter().map(|s| s.as_str()).collect();
        self.site.pages.lock().unwrap().insert(
            n,
            common::article_page(&format!("Story number {n} from source {source}"), &refs),
        );
        let mut items = self.items.lock().unwrap();
        items[source].push(n);
        let feed_items: Vec<(String, String, String)> = items[source]
            .iter()
            .map(|n| {
                (
                    format!("Story number {n}"),
                    format!("{}/articles/{n}.html", self.base),
                    "A teaser.".to_string(),
                )
            })
            .collect();
        self.site.feeds.lock().unwrap().insert(
            format!("/feeds/s{source}.xml"),
            common::rss(&format!("Source {source}"), &common::item_refs(&feed_items)),
        );
    }

    fn total(&self) -> usize {
        self.items.lock().unwrap().iter().map(|v| v.len()).sum()
    }

    fn matching(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .items
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .copied()
            .filter(|n| n.is_multiple_of(2))
            .collect();
        v.sort();
        v
    }
}

/// A webhook receiver that can be down (503); counts successful deliveries per article URL.
#[derive(Clone, Default)]
struct Hook {
    delivered: Arc<Mutex<HashMap<String, usize>>>,
    down: Arc<Mutex<bool>>,
}

async fn serve_hook(hook: Hook) -> String {
    async fn receive(State(h): State<Hook>, body: String) -> StatusCode {
        if *h.down.lock().unwrap() {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let url = v["article"]["url"].as_str().unwrap_or_default().to_string();
        *h.delivered.lock().unwrap().entry(url).or_default() += 1;
        StatusCode::OK
    }
    let app = Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(hook);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

/// One node's configuration: the shared sources, alert and `[cluster]`, its own data directory.
fn node_env(fixture: &Fixture, hook: &str, nats: &[Nats]) -> Env {
    let mut sources = String::new();
    for s in 0..SOURCES {
        sources += &common::source(
            &format!("Source {s}"),
            "feed",
            &format!("{}/feeds/s{s}.xml", fixture.base),
        );
        sources += "interval = \"2s\"\nmin_interval = \"1s\"\nmax_interval = \"2s\"\n\n";
    }
    let urls = nats
        .iter()
        .map(|n| format!("\"nats://127.0.0.1:{}\"", n.port))
        .collect::<Vec<_>>()
        .join(", ");
    sources += &format!(
        r#"[[channel]]
name = "desk"
kind = "webhook"
url = "{hook}"
secret_env = "WW_TEST_WEBHOOK_SECRET"

[[alert]]
name = "quokka boards"
query = "quokkagpu"
channels = ["desk"]

[delivery]
initial_backoff = "200ms"
max_backoff = "1s"
max_attempts = 1000
max_per_minute = 1000

[cluster]
nats_urls = [{urls}]
stream = "ww-test"
consumer = "ww-test-index"
lease_bucket = "ww-test-leases"
lease_ttl = "3s"
ack_wait = "5s"
replicas = 3
"#
    );
    let env = Env::new(&sources, "");
    env.use_small_rules();
    env.edit_config(
        "log_level = \"info,wirewatch=debug\"",
        "log_level = \"info\"",
    );
    env
}

/// Starts `run --role ROLE` with its log in the node's directory.
fn start(env: &Env, role: &str, log: &str) -> Daemon {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(env.dir.path().join(log))
        .unwrap();
    Daemon::new(
        env.wirewatch(&[
            "run",
            "--role",
            role,
            "--config",
            env.config.to_str().unwrap(),
        ])
        .env("WW_TEST_WEBHOOK_SECRET", "s3cret")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap(),
    )
}

/// Search through the index node's API: (total, article URLs of the hits).
fn search(port: u16, q: &str) -> (u64, Vec<String>) {
    let (status, body) = http_get(port, &format!("/api/v1/search?q={q}&limit=100"));
    if status != 200 {
        return (0, Vec::new());
    }
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let urls = v["hits"]
        .as_array()
        .map(|hits| {
            hits.iter()
                .filter_map(|h| h["url"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    (v["total"].as_u64().unwrap_or(0), urls)
}

fn log_of(env: &Env, name: &str) -> String {
    std::fs::read_to_string(env.dir.path().join(name)).unwrap_or_default()
}

/// Every article once in the archive, every matching one delivered once.
async fn assert_exactly_once(
    fixture: &Fixture,
    hook: &Hook,
    port: u16,
    what: &str,
    nodes: &[(&Env, &str)],
) {
    let logs = || {
        nodes
            .iter()
            .map(|(env, log)| format!("--- {log}:\n{}", log_of(env, log)))
            .collect::<String>()
    };
    let want = fixture.total();
    let ok = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if search(port, "fixturecorpus").0 as usize >= want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(
        ok.is_ok(),
        "{what}: {} of {want} articles indexed\n{}",
        search(port, "fixturecorpus").0,
        logs()
    );
    let (total, urls) = search(port, "fixturecorpus");
    assert_eq!(total as usize, want, "{what}: an article is indexed twice");
    let mut unique = urls.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), urls.len(), "{what}: duplicate hits {urls:?}");

    let matching = fixture.matching();
    wait_until(&format!("{what}: every alert delivered"), 60, || {
        hook.delivered.lock().unwrap().len() >= matching.len()
    })
    .await;
    // Give a duplicate the time to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let delivered = hook.delivered.lock().unwrap().clone();
    assert_eq!(
        delivered.len(),
        matching.len(),
        "{what}: deliveries {delivered:?}"
    );
    for n in matching {
        let url = format!("{}/articles/{n}.html", fixture.base);
        assert_eq!(
            delivered.get(&url),
            Some(&1),
            "{what}: article {n} delivered {:?} times",
            delivered.get(&url)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fetch_nodes_one_index_node_every_article_once_through_kills() {
    let tmp = tempfile::tempdir().unwrap();
    let mut nats = nats_cluster(tmp.path()).await;

    let site = Site {
        page_delay: Duration::from_millis(20),
        ..Site::default()
    };
    let server = serve(site.clone()).await;
    let fixture = Fixture {
        site,
        base: format!("http://{}", server.addr),
        items: Mutex::new(vec![Vec::new(); SOURCES]),
    };
    let mut n = 0;
    for s in 0..SOURCES {
        for _ in 0..FIRST {
            n += 1;
            fixture.add(s, n);
        }
    }
    let hook = Hook::default();
    let hook_url = serve_hook(hook.clone()).await;

    let index = node_env(&fixture, &hook_url, &nats);
    let port = free_port();
    index.edit_config(
        "listen = \"127.0.0.1:0\"",
        &format!("listen = \"127.0.0.1:{port}\""),
    );
    let fetch_a = node_env(&fixture, &hook_url, &nats);
    let fetch_b = node_env(&fixture, &hook_url, &nats);

    let index_node = start(&index, "index", "index.log");
    wait_until("the index node's API listens", 60, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    let nodes = [
        (&index, "index.log"),
        (&fetch_a, "fetch.log"),
        (&fetch_b, "fetch.log"),
    ];
    let node_a = start(&fetch_a, "fetch", "fetch.log");
    let node_b = start(&fetch_b, "fetch", "fetch.log");

    // 1. Everything once, through the index node's API.
    assert_exactly_once(&fixture, &hook, port, "two fetch nodes", &nodes).await;
    // Both fetch nodes took part: each polled some sources.
    let polled = |env: &Env| log_of(env, "fetch.log").contains("source leases taken");
    wait_until("both fetch nodes hold leases", 20, || {
        polled(&fetch_a) && polled(&fetch_b)
    })
    .await;

    // 2. kill -9 of a fetch node: its sources are taken over after the lease TTL.
    drop(node_a);
    for s in 0..SOURCES {
        n += 1;
        fixture.add(s, n);
    }
    assert_exactly_once(
        &fixture,
        &hook,
        port,
        "after kill -9 of a fetch node",
        &nodes,
    )
    .await;

    // 3. kill -9 of one NATS server (not the one listed first, which every client prefers).
    nats[2].kill9();
    for s in 0..SOURCES {
        n += 1;
        fixture.add(s, n);
    }
    assert_exactly_once(
        &fixture,
        &hook,
        port,
        "after kill -9 of a NATS server",
        &nodes,
    )
    .await;

    // 4. kill -9 of the index node while articles flow, and a restart: the stream kept them.
    // The receiver is down meanwhile, so no delivery can be cut in half by the kill (a sent but
    // unrecorded delivery is sent again by design: at least once).
    *hook.down.lock().unwrap() = true;
    for s in 0..SOURCES {
        n += 1;
        fixture.add(s, n);
    }
    let before = search(port, "fixturecorpus").0;
    wait_until("the index node takes new articles", 30, || {
        search(port, "fixturecorpus").0 > before
    })
    .await;
    drop(index_node);
    for s in 0..SOURCES {
        n += 1;
        fixture.add(s, n);
    }
    let index_node = start(&index, "index", "index.log");
    wait_until("the restarted index node's API listens", 60, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    *hook.down.lock().unwrap() = false;
    assert_exactly_once(
        &fixture,
        &hook,
        port,
        "after kill -9 of the index node",
        &nodes,
    )
    .await;

    // A clean stop of the survivors.
    for (node, env, log) in [
        (node_b, &fetch_b, "fetch.log"),
        (index_node, &index, "index.log"),
    ] {
        let out = tokio::task::spawn_blocking(move || node.stop("TERM"))
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{log} exited with {:?}:\n{}",
            out.status,
            log_of(env, log)
        );
    }
    assert!(
        log_of(&fetch_b, "fetch.log").contains("source leases released"),
        "{}",
        log_of(&fetch_b, "fetch.log")
    );
}

#[tokio::test]
async fn fetch_and_index_roles_need_a_cluster_section() {
    let env = Env::new("", "");
    for role in ["fetch", "index"] {
        let out = env
            .wirewatch(&[
                "run",
                "--role",
                role,
                "--config",
                env.config.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
        assert!(common::stderr(&out).contains("[cluster]"));
    }
    // A cluster's halves are daemons: `--once` is for the single process.
    env.append_config("\n[cluster]\nnats_urls = [\"nats://127.0.0.1:4222\"]\n");
    let out = env
        .wirewatch(&[
            "run",
            "--once",
            "--role",
            "fetch",
            "--config",
            env.config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", common::stderr(&out));
    assert!(common::stderr(&out).contains("--once"));
}

/// Throughput with 1 and 2 fetch nodes (docs/BENCHMARKS.md): `SOURCES_BENCH` feeds spread over 4
/// loopback hosts, every article page answered after a latency (500 ms), one JetStream server, one index
/// node; the time from the fetch nodes' start until the index node's API finds every article.
/// Ignored by default (it measures, it checks nothing new); run it with
/// `cargo test --release --test cluster -- --ignored --nocapture throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throughput_with_one_and_two_fetch_nodes() {
    const SOURCES_BENCH: usize = 8;
    const PER_SOURCE: usize = 40;
    // WIREWATCH_BENCH_LATENCY_MS overrides the per-page latency (500 ms).
    let latency = Duration::from_millis(
        std::env::var("WIREWATCH_BENCH_LATENCY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(500),
    );
    const HOSTS: usize = 8;

    // The site: the same pages on 127.0.0.1 to 127.0.0.8, one host per source, so that no host
    // sees more than one node (per-host politeness is per node).
    let site = Site {
        page_delay: latency,
        ..Site::default()
    };
    let server = serve(site.clone()).await;
    let port = server.addr.port();
    let mut extra = Vec::new();
    for h in 2..=HOSTS {
        let listener = tokio::net::TcpListener::bind(("127.0.0.".to_string() + &h.to_string(), 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        extra.push(addr);
        // The fixture's router on one more address (its handlers read the same `Site`).
        let proxy_to = server.addr;
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(proxy_to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
    }
    let host_of = |i: usize| match i % HOSTS {
        0 => format!("127.0.0.1:{port}"),
        k => extra[k - 1].to_string(),
    };
    let mut n = 0;
    for s in 0..SOURCES_BENCH {
        let host = host_of(s);
        let mut items = Vec::new();
        for _ in 0..PER_SOURCE {
            n += 1;
            let text = format!(
                "fixturecorpus story {n}: officials described the shipment in detail to reporters on Friday, \
                 adding that the investigation would continue for some weeks and more charges could follow."
            );
            site.pages.lock().unwrap().insert(
                n,
                common::article_page(&format!("Story {n}"), &[&text, &text, &text]),
            );
            items.push((
                format!("Story {n}"),
                format!("http://{host}/articles/{n}.html"),
                "A teaser.".to_string(),
            ));
        }
        site.feeds.lock().unwrap().insert(
            format!("/feeds/b{s}.xml"),
            common::rss(&format!("Bench {s}"), &common::item_refs(&items)),
        );
    }
    let total = n;

    let tmp = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for fetchers in [1usize, 2] {
        let nats_dir = tmp.path().join(format!("run-{fetchers}"));
        std::fs::create_dir_all(&nats_dir).unwrap();
        let nats = nats_single(&nats_dir).await;
        let mut sources = String::new();
        for s in 0..SOURCES_BENCH {
            sources += &common::source(
                &format!("Bench {s}"),
                "feed",
                &format!("http://{}/feeds/b{s}.xml", host_of(s)),
            );
        }
        sources += &format!(
            "[cluster]\nnats_urls = [\"nats://127.0.0.1:{}\"]\nlease_ttl = \"3s\"\n",
            nats.port
        );
        let env = || {
            let e = Env::new(&sources, "");
            e.use_small_rules();
            e.edit_config(
                "log_level = \"info,wirewatch=debug\"",
                "log_level = \"info\"",
            );
            // Pages slower than the fetch timeout would be stored with their teaser only.
            e.edit_config("timeout = \"2s\"", "timeout = \"20s\"");
            e
        };
        let index = env();
        let api = free_port();
        index.edit_config(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"127.0.0.1:{api}\""),
        );
        let index_node = start(&index, "index", "index.log");
        wait_until("the index node's API listens", 60, || {
            std::net::TcpStream::connect(("127.0.0.1", api)).is_ok()
        })
        .await;
        let envs: Vec<Env> = (0..fetchers).map(|_| env()).collect();
        let started = std::time::Instant::now();
        let nodes: Vec<Daemon> = envs
            .iter()
            .map(|e| start(e, "fetch", "fetch.log"))
            .collect();
        wait_until("every article indexed", 300, || {
            search(api, "fixturecorpus").0 as usize >= total
        })
        .await;
        let took = started.elapsed().as_secs_f64();
        assert_eq!(search(api, "fixturecorpus").0 as usize, total);
        results.push((fetchers, took, total as f64 / took));
        drop(nodes);
        drop(index_node);
        drop(nats);
    }
    for (fetchers, took, rate) in &results {
        eprintln!(
            "{fetchers} fetch node(s): {total} articles from {SOURCES_BENCH} sources on {HOSTS} hosts, \
             {} ms per page: {took:.1} s, {rate:.1} articles/s",
            latency.as_millis()
        );
    }
    eprintln!("ratio 2/1: {:.2}", results[1].2 / results[0].2);
}

/// One JetStream server (no cluster) for the throughput runs.
async fn nats_single(dir: &Path) -> Nats {
    let (port, monitor) = (free_port(), free_port());
    let log = std::fs::File::create(dir.join("nats.log")).unwrap();
    let child = Command::new(nats_server())
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-m",
            &monitor.to_string(),
            "-js",
            "-sd",
            dir.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let server = Nats {
        child: Some(child),
        port,
        monitor,
    };
    wait_until("nats-server is healthy", 30, move || {
        std::net::TcpStream::connect(("127.0.0.1", monitor)).is_ok()
            && http_get(monitor, "/healthz").0 == 200
    })
    .await;
    server
}
