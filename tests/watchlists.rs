//! Restricted-party lists end to end: `wirewatch watchlist check/status/refresh` against small
//! lists in the official layouts, served on 127.0.0.1 (conditional GET) or read from disk.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// OFAC's layout: no header, `-0-` for empty, CRLF, the DOS end-of-file byte.
const CONS_PRIM: &str = "30947,\"HUAWEI TECHNOLOGIES CO., LTD.\",-0- ,\"CMIC-EO13959\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"Target Type Private Company; Listing Date (CMIC) 03 Jun 2021.\"\r\n\
30951,\"SEMICONDUCTOR MANUFACTURING INTERNATIONAL CORPORATION\",-0- ,\"CMIC-EO13959\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"Listing Date (CMIC) 03 Jun 2021; a.k.a. 'SMIC'.\"\r\n\
17018,\"PUBLIC JOINT STOCK COMPANY SBERBANK OF RUSSIA\",-0- ,\"UKRAINE-EO13662] [RUSSIA-EO14024\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n\x1a";
const CONS_ALT: &str = "30951,48676,\"aka\",\"SEMICONDUCTOR MFG INTL CORP\",-0- \r\n";
const CONS_ADD: &str = "30947,48459,\"Bantian, Longgang District\",\"Guangdong, Shenzhen 518129\",\"China\",-0- \r\n\
30951,48561,\"18, Zhangjiang Road\",\"Shanghai 201203\",\"China\",-0- \r\n\
17018,48600,\"19 Vavilova St.\",\"Moscow 117997\",\"Russia\",-0- \r\n";

const CSL_JSON: &str = r#"{"total": 1, "results": [{"id": "e1", "source": "Entity List (EL) - Bureau of Industry and Security", "entity_number": null, "type": null, "programs": [], "name": "Example Photonics Shenzhen Co., Ltd.", "alt_names": ["EPS Co"], "addresses": [{"address": "1 Keyuan Road", "city": "Shenzhen", "state": null, "postal_code": null, "country": "CN"}], "start_date": "2024-12-05"}]}"#;

const CSL_2019: &str = "source,entity_number,type,programs,name,title,addresses,federal_register_notice,start_date,end_date,standard_order,license_requirement,license_policy,call_sign,vessel_type,gross_tonnage,gross_registered_tonnage,vessel_flag,vessel_owner,remarks,source_list_url,alt_names,citizenships,dates_of_birth,nationalities,places_of_birth,source_information_url,ids\n\
Entity List (EL) - Bureau of Industry and Security,,,,\"Xi?an Example Avionics Institute\",,\"Xi'an, CN\",84 FR 22961,2019-05-21,,,,,,,,,,,,,,,,,,,\n";

const UN_XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CONSOLIDATED_LIST dateGenerated="2026-02-27T00:00:09.554Z">
  <INDIVIDUALS>
    <INDIVIDUAL>
      <DATAID>1</DATAID>
      <FIRST_NAME>RI</FIRST_NAME>
      <SECOND_NAME>EXAMPLE</SECOND_NAME>
      <THIRD_NAME>CHOLSAN</THIRD_NAME>
      <UN_LIST_TYPE>DPRK</UN_LIST_TYPE>
      <REFERENCE_NUMBER>KPi.900</REFERENCE_NUMBER>
      <LISTED_ON>2017-06-02</LISTED_ON>
      <NATIONALITY><VALUE>Democratic People's Republic of Korea</VALUE></NATIONALITY>
      <INDIVIDUAL_ALIAS><QUALITY>Low</QUALITY><ALIAS_NAME>Cholsan</ALIAS_NAME></INDIVIDUAL_ALIAS>
      <INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>Ri Chol San</ALIAS_NAME></INDIVIDUAL_ALIAS>
    </INDIVIDUAL>
  </INDIVIDUALS>
  <ENTITIES/>
</CONSOLIDATED_LIST>
"#;

/// Requests seen: path and the If-None-Match sent.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

#[derive(Clone, Default)]
struct Lists {
    files: Arc<Mutex<HashMap<String, String>>>,
    /// (path, If-None-Match sent) per request.
    seen: Seen,
}

async fn file(State(s): State<Lists>, UrlPath(name): UrlPath<String>, h: HeaderMap) -> Response {
    let inm = h
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    s.seen.lock().unwrap().push((name.clone(), inm.clone()));
    let Some(body) = s.files.lock().unwrap().get(&name).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!(
        "\"{:x}-{}\"",
        body.len(),
        body.bytes().map(u64::from).sum::<u64>()
    );
    if inm.as_deref() == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    ([(header::ETAG, etag)], body).into_response()
}

async fn serve(lists: Lists) -> String {
    let app = Router::new()
        .route("/lists/{name}", get(file))
        .with_state(lists);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/lists")
}

fn write_config(dir: &Path, lists: &str) -> std::path::PathBuf {
    let path = dir.join("wirewatch.toml");
    std::fs::write(
        &path,
        format!("[daemon]\ndata_dir = \"data\"\n[fetch]\nallow_private_addresses = true\nper_host_interval = \"0s\"\n{lists}"),
    )
    .unwrap();
    path
}

fn wirewatch(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wirewatch"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("WIREWATCH_CONFIG")
        .env_remove("WIREWATCH_DATA_DIR")
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ofac_lists_are_fetched_conditionally_and_a_malformed_version_is_not_activated() {
    let lists = Lists::default();
    {
        let mut f = lists.files.lock().unwrap();
        f.insert("CONS_PRIM.CSV".into(), CONS_PRIM.into());
        f.insert("CONS_ALT.CSV".into(), CONS_ALT.into());
        f.insert("CONS_ADD.CSV".into(), CONS_ADD.into());
    }
    let base = serve(lists.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[[watchlist]]\nname = \"ofac-non-sdn\"\nkind = \"ofac_csv\"\nurl = \"{base}/CONS_PRIM.CSV\"\n"
        ),
    );

    // No version stored: `check` fetches the list first.
    let config2 = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        wirewatch(
            &config2,
            &[
                "watchlist",
                "check",
                "Huawei Technologies Co., Ltd.",
                "--json",
            ],
        )
    })
    .await
    .unwrap();
    let v = json(&out);
    assert_eq!(ids(&v), ["30947"], "{v}");
    let m = &v["matches"][0];
    assert_eq!(m["list"], "ofac-non-sdn");
    assert_eq!(m["programs"][0], "CMIC-EO13959");
    assert_eq!(m["listed_on"], "2021-06-03");
    assert!(m["score"].as_f64().unwrap() >= 0.9);
    assert!(m["reason"].as_str().unwrap().contains("name"));
    // The alias file is read; the quoted nickname is a weak alias, scored lower alone.
    let config2 = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        wirewatch(
            &config2,
            &[
                "watchlist",
                "check",
                "Semiconductor Mfg Intl Corp",
                "--json",
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(ids(&json(&out)), ["30951"]);
    let config2 = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        wirewatch(&config2, &["watchlist", "check", "SMIC", "--json"])
    })
    .await
    .unwrap();
    let v = json(&out);
    assert_eq!(ids(&v), ["30951"]);
    assert!(v["matches"][0]["score"].as_f64().unwrap() < 0.7);
    assert!(
        v["matches"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("weak alias")
    );

    // A refresh asks with the validators and keeps no new version for 304s.
    let config2 = config.clone();
    let out = tokio::task::spawn_blocking(move || wirewatch(&config2, &["watchlist", "refresh"]))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = lists.seen.lock().unwrap().clone();
    let prim: Vec<_> = seen.iter().filter(|(p, _)| p == "CONS_PRIM.CSV").collect();
    assert_eq!(prim.len(), 2, "{seen:?}");
    assert!(prim[0].1.is_none() && prim[1].1.is_some(), "{seen:?}");
    // The optional comments file is asked for and may be missing.
    assert!(seen.iter().any(|(p, _)| p == "CONS_COMMENTS.CSV"));

    // A malformed new version: reported with line and field, the last good one stays active.
    lists.files.lock().unwrap().insert(
        "CONS_PRIM.CSV".into(),
        CONS_PRIM.replace("17018,", "17O18,"),
    );
    let config2 = config.clone();
    let out = tokio::task::spawn_blocking(move || wirewatch(&config2, &["watchlist", "refresh"]))
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CONS_PRIM.CSV:3: field `ent_num`"), "{err}");
    let config2 = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        wirewatch(&config2, &["watchlist", "status", "--json"])
    })
    .await
    .unwrap();
    let v = json(&out);
    let list = &v["lists"][0];
    assert_eq!(list["active"], 1, "{v}");
    assert_eq!(list["entries"], 3);
    assert_eq!(list["versions"].as_array().unwrap().len(), 2);
    assert_eq!(list["versions"][0]["sha256"].as_str().unwrap().len(), 64);
    assert!(
        list["versions"][1]["error"]
            .as_str()
            .unwrap()
            .contains("ent_num")
    );
    assert!(
        list["last_error"].as_str().unwrap().contains("line")
            || list["last_error"].as_str().unwrap().contains(":3:")
    );
    let config2 = config.clone();
    let out = tokio::task::spawn_blocking(move || {
        wirewatch(
            &config2,
            &["watchlist", "check", "Sberbank of Russia", "--json"],
        )
    })
    .await
    .unwrap();
    assert_eq!(ids(&json(&out)), ["17018"]);
    // The plain status names the versions.
    let config2 = config.clone();
    let out = tokio::task::spawn_blocking(move || wirewatch(&config2, &["watchlist", "status"]))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("version 1 active, 3 entries"), "{text}");
    assert!(text.contains("v2") && text.contains("malformed"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csl_json_over_http_csl_csv_and_un_xml_from_disk() {
    let lists = Lists::default();
    lists
        .files
        .lock()
        .unwrap()
        .insert("consolidated.json".into(), CSL_JSON.into());
    let base = serve(lists.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lists")).unwrap();
    std::fs::write(dir.path().join("lists/csl.csv"), CSL_2019).unwrap();
    let un = dir.path().join("lists/consolidated.xml");
    std::fs::write(&un, UN_XML).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[[watchlist]]\nname = \"csl\"\nkind = \"csl\"\nurl = \"{base}/consolidated.json\"\nrefresh = \"6h\"\n\
             [[watchlist]]\nname = \"csl-2019\"\nkind = \"csl\"\nurl = \"lists/csl.csv\"\n\
             [[watchlist]]\nname = \"un\"\nkind = \"un_xml\"\nurl = \"file://{}\"\n",
            un.display()
        ),
    );
    let check = |name: &'static str| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            json(&wirewatch(&config, &["watchlist", "check", name, "--json"]))
        })
    };
    let v = check("Example Photonics Shenzhen Co Ltd").await.unwrap();
    assert_eq!(ids(&v), ["e1"], "{v}");
    assert_eq!(v["matches"][0]["programs"][0], "EL");
    assert_eq!(v["matches"][0]["listed_on"], "2024-12-05");
    // BIS's `?` for an apostrophe.
    let v = check("Xi'an Example Avionics Institute").await.unwrap();
    assert_eq!(v["matches"][0]["list"], "csl-2019", "{v}");
    // Word order of personal names; a weak alias alone is scored low.
    for name in ["Ri Example Cholsan", "Cholsan Ri Example", "Ri Chol San"] {
        let v = check(name).await.unwrap();
        assert_eq!(ids(&v), ["KPi.900"], "{name}: {v}");
    }
    // One word alone (a weak alias, the surname) is scored low and needs context in articles.
    let v = check("Cholsan").await.unwrap();
    assert!(v["matches"][0]["score"].as_f64().unwrap() <= 0.7, "{v}");
    assert!(
        v["matches"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("corroborating"),
        "{v}"
    );
    let v = check("Acme Widgets Inc").await.unwrap();
    assert!(ids(&v).is_empty(), "{v}");
}

#[test]
fn watchlist_config_problems_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.toml");
    std::fs::write(
        &path,
        "[[watchlist]]\nname = \"sdn\"\nkind = \"ofac_csv\"\nurl = \"https://example.org/sdn.xml\"\nrefresh = \"5s\"\n\
         [[watchlist]]\nname = \"eu\"\nkind = \"eu_xml\"\nurl = \"https://example.org/eu.xml\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wirewatch"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("eu_xml") || err.contains("kind"), "{err}");
    std::fs::write(
        &path,
        "[[watchlist]]\nname = \"sdn\"\nkind = \"ofac_csv\"\nurl = \"https://example.org/sdn.xml\"\nrefresh = \"5s\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wirewatch"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("watchlist \"sdn\", field `url`"), "{err}");
    assert!(err.contains("watchlist \"sdn\", field `refresh`"), "{err}");
}

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archived_articles_carry_listings_and_listed_queries_find_them() {
    let site = common::Site::default();
    let server = common::serve(site.clone()).await;
    {
        let mut pages = site.pages.lock().unwrap();
        pages.insert(
            1,
            common::article_page(
                "US adds Huawei Technologies affiliates to trade blacklist",
                &[
                    "Washington added affiliates of Huawei Technologies Co., Ltd. to a trade blacklist on Friday, the Commerce Department said.",
                    "The Chinese company has been the target of export controls since 2019, when it was first added to the Entity List.",
                ],
            ),
        );
        pages.insert(
            2,
            common::article_page(
                "Arizona chip plant expands semiconductor manufacturing",
                &[
                    "An American firm said its semiconductor manufacturing plant in Arizona will double its output next year.",
                    "International Business Machines Corp. and others plan similar investments in the United States.",
                ],
            ),
        );
    }
    let feed = common::rss(
        "Fixture",
        &[
            (
                "Huawei",
                &server.url("/articles/1"),
                "Huawei affiliates added",
            ),
            ("Arizona", &server.url("/articles/2"), "Chip plant expands"),
        ],
    );
    site.feeds
        .lock()
        .unwrap()
        .insert("/feeds/rss.xml".into(), feed);
    let env = common::Env::new(
        &common::source("Fixture", "feed", &server.url("/feeds/rss.xml")),
        "",
    );
    let lists = env.dir.path().join("ofac");
    std::fs::create_dir(&lists).unwrap();
    std::fs::write(lists.join("cons_prim.csv"), CONS_PRIM).unwrap();
    std::fs::write(lists.join("cons_alt.csv"), CONS_ALT).unwrap();
    std::fs::write(lists.join("cons_add.csv"), CONS_ADD).unwrap();
    env.append_config(&format!(
        "\n[[watchlist]]\nname = \"ofac-non-sdn\"\nkind = \"ofac_csv\"\nurl = \"{}\"\n",
        lists.join("cons_prim.csv").display()
    ));
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    assert_eq!(env.total("*"), 2, "{}", common::stderr(&out));
    let v = env.search("listed:any", &[]);
    assert_eq!(v["total"], 1, "{v}");
    let listed = &v["hits"][0]["listed"][0];
    assert_eq!(listed["list"], "ofac-non-sdn");
    assert_eq!(listed["id"], "30947");
    assert_eq!(listed["name"], "HUAWEI TECHNOLOGIES CO., LTD.");
    assert_eq!(listed["programs"][0], "CMIC-EO13959");
    assert_eq!(listed["listed_on"], "2021-06-03");
    assert_eq!(env.total("listed:ofac-non-sdn"), 1);
    assert_eq!(env.total("listed:30947"), 1);
    assert_eq!(env.total("listed:\"30947\" AND blacklist"), 1);
    assert_eq!(env.total("listed:17018"), 0);
    assert_eq!(env.total("semiconductor AND NOT listed:any"), 1);
    // The look-alike article carries no listing.
    let v = env.search("arizona", &[]);
    assert_eq!(v["hits"][0]["listed"], serde_json::json!([]), "{v}");
}
