//! Issue 20, "works from any directory": a configuration written anywhere, with no rule files
//! beside it, runs with the rules built into the binary; every path in it is taken from its own
//! directory; `init` writes a starter; `check-config --effective` prints what takes effect.
//! Also the links and entities a hit shows: no tracking parameters, entities by name and kind.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

/// The binary started in `cwd`, with nothing from the caller's environment pointing at a config.
fn wirewatch_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wirewatch"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("WIREWATCH_CONFIG")
        .env_remove("WIREWATCH_DATA_DIR")
        .output()
        .unwrap()
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minimal_config_in_an_empty_directory_runs_from_elsewhere() {
    let server = serve(Site::default()).await;
    let body = "Malaysian customs seized servers packed with Nvidia H100 chips bound for China in a smuggling case that investigators say breached US export controls.";
    server.site.feeds.lock().unwrap().insert(
        "/feeds/beat.xml".into(),
        rss(
            "Beat",
            &[(
                "Customs seize smuggled Nvidia chips",
                &format!(
                    "{}?utm_source=rss&amp;utm_medium=feed&amp;fbclid=abc&amp;id=7",
                    server.url("/articles/1")
                ),
                body,
            )],
        ),
    );
    server.site.pages.lock().unwrap().insert(
        1,
        article_page(
            "Customs seize smuggled Nvidia chips",
            &[
                body,
                "The shipment was routed through a trading company in Kuala Lumpur, officials said.",
                "Prosecutors said the buyers knew the processors were subject to licence requirements.",
            ],
        ),
    );

    // Only [daemon], [fetch] and [[source]]: no [analysis], no rule files anywhere near.
    let home = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let config = home.path().join("desk.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = \"archive\"\nlisten = \"127.0.0.1:0\"\nlog_level = \"warn\"\n\n\
             [fetch]\nallow_private_addresses = true\nper_host_interval = \"0s\"\ntimeout = \"5s\"\n\n{}",
            source("Beat", "feed", &server.url("/feeds/beat.xml"))
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();

    let cwd = elsewhere.path().to_path_buf();
    let c = config.clone();
    let out =
        tokio::task::spawn_blocking(move || wirewatch_in(&cwd, &["run", "--once", "--config", &c]))
            .await
            .unwrap();
    ok(&out, "run --once");
    assert!(
        home.path().join("archive/articles").is_dir(),
        "data_dir is taken from the config file's directory"
    );
    assert!(
        std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none(),
        "nothing is written to the working directory"
    );

    let out = wirewatch_in(
        elsewhere.path(),
        &["search", "--config", &config, "customs", "--json"],
    );
    ok(&out, "search");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["total"], 1, "{v}");
    let hit = &v["hits"][0];
    assert_eq!(
        hit["url"],
        format!("{}?id=7", server.url("/articles/1")),
        "tracking parameters are gone, the article's own parameter stays"
    );
    // The built-in rules and gazetteer were used.
    let topics: Vec<&str> = (hit["topics"].as_array().unwrap().iter())
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(topics.contains(&"export_controls"), "{hit}");
    let nvidia = (hit["entities"].as_array().unwrap().iter())
        .find(|e| e["id"] == "nvidia")
        .unwrap_or_else(|| panic!("no nvidia entity: {hit}"));
    assert_eq!(nvidia["name"], "Nvidia");
    assert_eq!(nvidia["kind"], "company");
    assert!(
        (hit["entities"].as_array().unwrap().iter())
            .any(|e| e["id"] == "malaysia" && e["kind"] == "country" && e["name"] == "Malaysia"),
        "{hit}"
    );

    // `analyze` without any configuration uses the built-in rules too.
    let mut child = Command::new(env!("CARGO_BIN_EXE_wirewatch"))
        .arg("analyze")
        .current_dir(elsewhere.path())
        .env_remove("WIREWATCH_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let line = serde_json::json!({"id": 1, "text": body}).to_string();
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{line}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    ok(&out, "analyze");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["topics"].to_string().contains("export_controls"), "{v}");
}

#[test]
fn init_writes_a_starter_that_checks_and_runs_from_anywhere() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let desk = root.path().join("desk");

    let out = wirewatch_in(elsewhere.path(), &["init", desk.to_str().unwrap()]);
    ok(&out, "init");
    let config = desk.join("wirewatch.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("[[source]]") && text.contains("# [analysis]"),
        "{text}"
    );
    assert!(
        !desk.join("topics.toml").exists(),
        "rules only with --rules"
    );

    // It never overwrites by accident, and says which file is in the way.
    let again = wirewatch_in(elsewhere.path(), &["init", desk.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("wirewatch.toml exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text);

    let out = wirewatch_in(
        elsewhere.path(),
        &["check-config", config.to_str().unwrap(), "--effective"],
    );
    ok(&out, "check-config --effective");
    let effective = String::from_utf8(out.stdout).unwrap();
    let parsed: toml::Table =
        toml::from_str(&effective).unwrap_or_else(|e| panic!("{e}\n{effective}"));
    let data_dir = parsed["daemon"]["data_dir"].as_str().unwrap();
    assert_eq!(Path::new(data_dir), desk.join("index"), "{effective}");
    // Defaults the starter does not write are filled in.
    assert_eq!(parsed["fetch"]["max_body"].as_str(), Some("8MiB"));
    assert_eq!(parsed["delivery"]["max_attempts"].as_integer(), Some(8));
    assert!(!parsed.contains_key("channel"));

    // What it prints is itself a configuration that means the same, read from anywhere.
    let copy = root.path().join("copy/effective.toml");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::write(&copy, &effective).unwrap();
    let out = wirewatch_in(
        elsewhere.path(),
        &["check-config", copy.to_str().unwrap(), "--effective"],
    );
    ok(&out, "check-config of the effective configuration");
    let twice: toml::Table = toml::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(twice["daemon"], parsed["daemon"]);
    assert_eq!(twice["source"], parsed["source"]);

    // --rules writes the built-in rules for editing and names them.
    let edit = root.path().join("edit");
    let out = wirewatch_in(
        elsewhere.path(),
        &["init", "--rules", edit.to_str().unwrap()],
    );
    ok(&out, "init --rules");
    let text = std::fs::read_to_string(edit.join("wirewatch.toml")).unwrap();
    assert!(
        text.contains("\n[analysis]\ntopics = \"topics.toml\""),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(edit.join("topics.toml")).unwrap(),
        std::fs::read_to_string(repo_file("config/topics.toml")).unwrap()
    );
    let out = wirewatch_in(
        elsewhere.path(),
        &[
            "check-config",
            edit.join("wirewatch.toml").to_str().unwrap(),
            "--effective",
        ],
    );
    ok(&out, "check-config of init --rules");
    let parsed: toml::Table = toml::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(
        Path::new(parsed["analysis"]["topics"].as_str().unwrap()),
        edit.join("topics.toml")
    );
    // A broken rule file named by the configuration is a configuration problem, with its name.
    std::fs::write(edit.join("topics.toml"), "[[rule]\n").unwrap();
    let out = wirewatch_in(
        elsewhere.path(),
        &[
            "check-config",
            edit.join("wirewatch.toml").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("topics.toml"), "{}", stderr(&out));
}

#[test]
fn no_configuration_here_says_what_to_do() {
    let empty = tempfile::tempdir().unwrap();
    for args in [
        &["run"][..],
        &["search", "x"],
        &["reindex"],
        &["check-config"],
    ] {
        let out = wirewatch_in(empty.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("config/wirewatch.toml") && err.contains("wirewatch init"),
            "{args:?}: {err}"
        );
    }
    // WIREWATCH_CONFIG names the configuration when --config is not given.
    let written = wirewatch_in(empty.path(), &["init", "."]);
    ok(&written, "init .");
    let out = Command::new(env!("CARGO_BIN_EXE_wirewatch"))
        .arg("check-config")
        .current_dir(std::env::temp_dir())
        .env("WIREWATCH_CONFIG", empty.path().join("wirewatch.toml"))
        .output()
        .unwrap();
    ok(&out, "check-config with WIREWATCH_CONFIG");
}
