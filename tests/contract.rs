//! The OpenAPI document is the contract (issue 20): Schemathesis generates requests from
//! `/openapi.json` and runs all its checks against the daemon over a fixture archive, with the
//! API token; a Python client generated from the same document searches, reads an article and
//! manages an alert. Both tools come from PyPI (`.ci/test` installs the pinned versions); without
//! them these tests fail and say what to install.

mod common;

use std::process::{Command, Stdio};

use common::archive::fixture;
use common::*;

/// Pinned in `.ci/test`; named here so that a failure says what to install.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";
const CLIENT_GENERATOR: &str = "openapi-python-client==0.29.1";
const TOKEN: &str = "contract-token";

/// The daemon over the fixture archive (25 articles, a hostile one among them), with one webhook
/// channel so alerts can name it, listening on a free loopback port.
struct Running {
    _dir: tempfile::TempDir,
    port: u16,
    _daemon: Daemon,
}

async fn daemon() -> Running {
    let f = fixture();
    // The fixture's archive is a data directory as the daemon lays it out; the daemon takes it
    // over (the fixture's own handles only read).
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_dir(f._dir.path(), &data);
    drop(f);
    let port = free_port();
    let config = dir.path().join("wirewatch.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = \"data\"\nlisten = \"127.0.0.1:{port}\"\nlog_level = \"warn\"\n\
             api_token_env = \"WW_CONTRACT_TOKEN\"\n\n\
             [[channel]]\nname = \"desk\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_wirewatch"))
        .args(["run", "--config", config.to_str().unwrap()])
        .env("WW_CONTRACT_TOKEN", TOKEN)
        .env_remove("RUST_LOG")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon::new(child);
    wait_until("the API listens", 60, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    wait_until("the API is ready", 30, || {
        http_get(port, "/readyz").0 == 200
    })
    .await;
    Running {
        _dir: dir,
        port,
        _daemon: daemon,
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn tool(program: &str, package: &str) -> Command {
    let found = Command::new(program).arg("--version").output();
    assert!(
        matches!(&found, Ok(o) if o.status.success()),
        "`{program}` is needed by this test and was not found: pip install {package} (or run .ci/test)"
    );
    Command::new(program)
}

async fn output(mut cmd: Command) -> (bool, String) {
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure() {
    let d = daemon().await;
    let examples = std::env::var("WIREWATCH_CONTRACT_EXAMPLES").unwrap_or_else(|_| "100".into());
    let mut cmd = tool("schemathesis", SCHEMATHESIS);
    cmd.args([
        "run",
        &format!("http://127.0.0.1:{}/openapi.json", d.port),
        "--checks",
        "all",
        "--header",
        &format!("Authorization: Bearer {TOKEN}"),
        "--max-examples",
        &examples,
        "--seed",
        "20261203",
        "--request-timeout",
        "10",
        "--no-color",
        "--generation-database",
        "none",
        "--workers",
        "2",
    ]);
    let (ok, report) = output(cmd).await;
    assert!(ok, "schemathesis failed:\n{report}");
    assert!(
        report.contains(" passed") && !report.contains("unique failure"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_generated_from_the_document_works() {
    let d = daemon().await;
    let work = tempfile::tempdir().unwrap();
    let (status, doc) = http_get(d.port, "/openapi.json");
    assert_eq!(status, 200);
    let spec = work.path().join("openapi.json");
    std::fs::write(&spec, doc).unwrap();
    let mut generate = tool("openapi-python-client", CLIENT_GENERATOR);
    generate.current_dir(work.path()).args([
        "generate",
        "--path",
        spec.to_str().unwrap(),
        "--meta",
        "none",
        "--output-path",
        "wirewatch_client",
    ]);
    let (ok, log) = output(generate).await;
    assert!(ok, "the client could not be generated:\n{log}");
    // Its only complaints may be the two bodies that are not JSON (an Atom feed, OpenMetrics
    // text), which it leaves to the caller: everything else must map to types.
    assert_eq!(
        log.matches("WARNING parsing").count(),
        log.matches("Unsupported content_type").count(),
        "the generator warned:\n{log}"
    );

    // The generated package, used as a client developer would.
    let script = format!(
        r#"
import sys
from wirewatch_client import AuthenticatedClient
from wirewatch_client.api.default import search, article
from wirewatch_client.api.alerts import create, list_, delete
from wirewatch_client.models import AlertConfig

client = AuthenticatedClient(base_url="http://127.0.0.1:{port}", token="{TOKEN}", raise_on_unexpected_status=True)
found = search.sync(client=client, q="curbs", limit=5)
assert found.total == 26, found.total
assert len(found.hits) == 5
first = found.hits[0]
assert first.entities and first.entities[0].name, first.entities
one = article.sync(client=client, id=first.id)
assert one.title == first.title
page2 = search.sync(client=client, q="curbs", limit=5, cursor=found.next_cursor)
assert page2.hits[0].id not in [h.id for h in found.hits]
made = create.sync(client=client, body=AlertConfig(name="curbs", query="curbs", channels=["desk"]))
assert made.id >= 1 and made.origin == "api", made
names = [a.name for a in list_.sync(client=client).alerts]
assert "curbs" in names, names
delete.sync_detailed(client=client, id=made.id)
assert "curbs" not in [a.name for a in list_.sync(client=client).alerts]
print("client ok")
"#,
        port = d.port
    );
    let mut run = Command::new("python3");
    run.current_dir(work.path())
        .env("PYTHONPATH", work.path())
        .args(["-c", &script]);
    let (ok, log) = output(run).await;
    assert!(
        ok && log.contains("client ok"),
        "the generated client failed:\n{log}"
    );
}
