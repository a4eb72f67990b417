//! Chinese (simplified and traditional), Japanese and Korean in the archive (issue 19): a word
//! inside a sentence is found, a word that does not occur is not, mixed English/CJK text works,
//! phrases work, traditional and simplified find each other, highlights cut on characters. The
//! articles are written here; the end-to-end test serves them from a local server.

mod common;

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use common::{Env, article_page, rss, serve, source};
use wirewatch::analyze::Analysis;
use wirewatch::store::{ArticleIndex, SearchRequest, StoredArticle};

const HANS: (&str, &str, &str) = (
    "hans",
    "美国商务部将中芯国际列入实体清单",
    "美国商务部工业与安全局周二宣布，将中芯国际等多家中国企业列入实体清单。新规定收紧了对先进芯片的出口管制！另外，警方破获一起H100芯片走私案。",
);
const HANT: (&str, &str, &str) = (
    "hant",
    "台積電：輸美晶片暫不受影響",
    "美國商務部表示，中芯國際與華為的晶片採購將受到更嚴格的出口管制。輝達的 A100 與 H100 不得出口。",
);
const JA: (&str, &str, &str) = (
    "ja",
    "経済産業省、半導体の輸出規制を強化",
    "経済産業省は23日、先端半導体の製造装置23品目を輸出規制の対象に加えると発表した。中国への技術流出を防ぐ狙いがある。",
);
const KO: (&str, &str, &str) = (
    "ko",
    "산업통상자원부, 반도체 수출 규제 발표",
    "산업통상자원부는 첨단 반도체 장비에 대한 수출 규제를 강화한다고 밝혔다.",
);
const MIXED: (&str, &str, &str) = (
    "mixed",
    "Nvidia H100 smuggling case in Singapore",
    "Prosecutors said the H100芯片走私案 involved shell companies. 新加坡 police arrested three men on Friday.",
);
const ENGLISH: (&str, &str, &str) = (
    "en",
    "Export controls tightened",
    "Washington tightened export controls on advanced chips sold to China.",
);

fn article((id, title, body): (&str, &str, &str), lang: &str) -> StoredArticle {
    StoredArticle {
        id: id.into(),
        url: format!("https://news.example/{id}"),
        canonical_url: format!("https://news.example/{id}"),
        source: "Wire".into(),
        title: title.into(),
        body: body.into(),
        summary: String::new(),
        published: Some(Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap()),
        fetched: Utc::now(),
        language: Some(lang.into()),
        authors: vec![],
        analysis: Analysis::default(),
    }
}

fn archive() -> (tempfile::TempDir, ArticleIndex) {
    let dir = tempfile::tempdir().unwrap();
    let index = ArticleIndex::open(&dir.path().join("articles")).unwrap();
    let mut w = index.writer().unwrap();
    for (a, lang) in [
        (HANS, "zh-Hans"),
        (HANT, "zh-Hant"),
        (JA, "ja"),
        (KO, "ko"),
        (MIXED, "en"),
        (ENGLISH, "en"),
    ] {
        w.upsert(&article(a, lang)).unwrap();
    }
    w.commit().unwrap();
    index.reload().unwrap();
    (dir, index)
}

fn ids(index: &ArticleIndex, q: &str) -> BTreeSet<String> {
    let r = index
        .search(&SearchRequest {
            q: q.into(),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(r.total, r.hits.len(), "{q}");
    r.hits.into_iter().map(|h| h.id).collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn words_inside_cjk_sentences_are_found_and_absent_words_are_not() {
    let (_dir, index) = archive();
    let cases: &[(&str, &[&str])] = &[
        // zh-Hans and zh-Hant: the one company, either script finds both.
        ("中芯国际", &["hans", "hant"]),
        ("中芯國際", &["hans", "hant"]),
        ("芯片", &["hans", "mixed"]),
        ("走私", &["hans", "mixed"]),
        ("出口管制", &["hans", "hant"]),
        ("实体清单", &["hans"]),
        ("實體清單", &["hans"]),
        ("华为", &["hant"]),
        ("輝達", &["hant"]),
        ("台积电", &["hant"]),
        // Japanese.
        ("半導体", &["ja"]),
        ("輸出規制", &["ja"]),
        ("経済産業省", &["ja"]),
        ("技術流出", &["ja"]),
        // Korean.
        ("반도체", &["ko"]),
        ("수출 규제", &["ko"]),
        // Words that occur nowhere.
        ("光刻机", &[]),
        ("稀土", &[]),
        ("量子計算", &[]),
        ("배터리", &[]),
        // Mixed English and CJK.
        ("H100", &["hans", "hant", "mixed"]),
        ("smuggling AND 走私", &["mixed"]),
        ("新加坡 police", &["mixed"]),
        ("export controls", &["en"]),
        ("chips OR 晶片", &["en", "hant"]),
        ("-中芯国际 出口管制", &[]),
        ("title:半導体", &["ja"]),
        ("body:中芯国际", &["hans", "hant"]),
    ];
    for (q, want) in cases {
        assert_eq!(ids(&index, q), set(want), "query {q}");
    }
}

#[test]
fn cjk_phrases_match_only_adjacent_words() {
    let (_dir, index) = archive();
    assert_eq!(ids(&index, "\"先进芯片的出口管制\""), set(&["hans"]));
    assert_eq!(ids(&index, "\"芯片走私\""), set(&["hans", "mixed"]));
    assert_eq!(ids(&index, "\"半導体の輸出規制\""), set(&["ja"]));
    assert_eq!(ids(&index, "\"반도체 수출\""), set(&["ko"]));
    // Both words occur in the article, not next to each other.
    assert_eq!(ids(&index, "中芯国际 走私"), set(&["hans"]));
    assert!(ids(&index, "\"中芯国际 走私\"").is_empty());
    assert!(ids(&index, "\"輸出規制 半導体\"").is_empty());
}

#[test]
fn cjk_highlights_mark_whole_characters_and_insert_nothing() {
    let (_dir, index) = archive();
    let hit = |q: &str, id: &str| {
        let r = index
            .search(&SearchRequest {
                q: q.into(),
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        r.hits.into_iter().find(|h| h.id == id).unwrap()
    };
    let strip = |s: &str| s.replace("<mark>", "").replace("</mark>", "");
    let h = hit("中芯国际", "hant");
    assert!(
        h.highlights.body.contains("<mark>中芯國際</mark>"),
        "{}",
        h.highlights.body
    );
    assert!(HANT.2.contains(&strip(&h.highlights.body)));
    let h = hit("半導体", "ja");
    assert!(
        h.highlights.title.contains("<mark>半導体</mark>の"),
        "{}",
        h.highlights.title
    );
    assert!(JA.2.contains(&strip(&h.highlights.body)));
    let h = hit("走私", "mixed");
    assert!(
        h.highlights.body.contains("H100芯片<mark>走私</mark>案"),
        "{}",
        h.highlights.body
    );
    let h = hit("반도체", "ko");
    assert!(h.highlights.body.contains("첨단 <mark>반도체</mark> 장비"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_ingests_cjk_pages_and_the_shell_search_finds_words_inside_them() {
    let server = serve(Default::default()).await;
    let base = format!("http://{}", server.addr);
    let pages = [HANS, HANT, JA, KO, MIXED];
    let mut items = Vec::new();
    for (n, (_, title, body)) in pages.iter().enumerate() {
        // Two paragraphs, as a page has them (the extractor wants a body of some length).
        let (first, second) =
            body.split_at(body.char_indices().nth(body.chars().count() / 2).unwrap().0);
        server
            .site
            .pages
            .lock()
            .unwrap()
            .insert(n + 1, article_page(title, &[first, second, body]));
        items.push((
            title.to_string(),
            format!("{base}/articles/{}.html", n + 1),
            String::from("…"),
        ));
    }
    let refs = common::item_refs(&items);
    server
        .site
        .feeds
        .lock()
        .unwrap()
        .insert("/feeds/rss.xml".into(), rss("CJK Wire", &refs));
    let env = Env::new(&source("CJK", "feed", &server.url("/feeds/rss.xml")), "");
    let out = env.run_once().await;
    assert!(out.status.success(), "{}", common::stderr(&out));
    let titles = |q: &str| -> BTreeSet<String> {
        let v = env.search(q, &[]);
        (v["hits"].as_array().unwrap().iter())
            .map(|h| h["title"].as_str().unwrap().to_string())
            .collect()
    };
    let t = |a: &[(&str, &str, &str)]| a.iter().map(|x| x.1.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(titles("中芯國際"), t(&[HANS, HANT]));
    assert_eq!(titles("走私"), t(&[HANS, MIXED]));
    assert_eq!(titles("輸出規制"), t(&[JA]));
    assert_eq!(titles("반도체"), t(&[KO]));
    assert_eq!(titles("光刻机"), t(&[]));
    assert_eq!(titles("smuggling 芯片"), t(&[MIXED]));
}

/// Writes an archive as wirewatch made it before CJK segmentation: the same fields, text fields
/// tokenised by tantivy's default tokenizer.
fn write_old_archive(dir: &std::path::Path, articles: &[StoredArticle]) {
    use tantivy::schema::{DateOptions, STORED, STRING, Schema, TEXT, TextOptions};
    let mut b = Schema::builder();
    let id = b.add_text_field("id", STRING | STORED);
    let url = b.add_text_field("url", STRING | STORED);
    let canonical = b.add_text_field("canonical_url", STRING | STORED);
    let source = b.add_text_field("source", STRING | STORED | tantivy::schema::FAST);
    let title = b.add_text_field("title", TEXT | STORED);
    let body = b.add_text_field("body", TEXT | STORED);
    let summary = b.add_text_field("summary", TEXT | STORED);
    let date = DateOptions::default().set_indexed().set_fast().set_stored();
    let published = b.add_date_field("published", date.clone());
    let fetched = b.add_date_field("fetched", date);
    let lang = b.add_text_field("lang", STRING | STORED | tantivy::schema::FAST);
    b.add_text_field("author", TEXT | STORED);
    b.add_text_field("topic", STRING | STORED | tantivy::schema::FAST);
    b.add_text_field("entity", STRING | STORED | tantivy::schema::FAST);
    let analysis = b.add_text_field("analysis", TextOptions::default() | STORED);
    std::fs::create_dir_all(dir).unwrap();
    let index = tantivy::Index::create_in_dir(dir, b.build()).unwrap();
    let mut w: tantivy::IndexWriter = index.writer(15_000_000).unwrap();
    let t = |d: chrono::DateTime<Utc>| tantivy::DateTime::from_timestamp_secs(d.timestamp());
    for a in articles {
        let mut doc = tantivy::TantivyDocument::default();
        doc.add_text(id, &a.id);
        doc.add_text(url, &a.url);
        doc.add_text(canonical, &a.canonical_url);
        doc.add_text(source, &a.source);
        doc.add_text(title, &a.title);
        doc.add_text(body, &a.body);
        doc.add_text(summary, &a.summary);
        doc.add_date(published, t(a.published.unwrap()));
        doc.add_date(fetched, t(a.fetched));
        doc.add_text(lang, a.language.as_deref().unwrap_or(""));
        doc.add_text(analysis, serde_json::to_string(&a.analysis).unwrap());
        w.add_document(doc).unwrap();
    }
    w.commit().unwrap();
}

#[test]
fn an_old_archive_is_refused_naming_reindex_which_retokenises_it_losing_nothing() {
    let env = Env::new("", "");
    let data = env.dir.path().join("data");
    let articles: Vec<StoredArticle> = [HANS, HANT, JA, KO, MIXED, ENGLISH]
        .into_iter()
        .map(|a| article(a, "und"))
        .collect();
    write_old_archive(&data.join("articles"), &articles);
    let config = env.config.to_str().unwrap();

    // Search and the daemon refuse it, naming the command that fixes it.
    let out = env
        .wirewatch(&["search", "--config", config, "芯片"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert!(err.contains("wirewatch reindex"), "{err}");
    let out = env
        .wirewatch(&["run", "--once", "--config", config])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(common::stderr(&out).contains("wirewatch reindex"));

    let out = env
        .wirewatch(&["reindex", "--config", config])
        .output()
        .unwrap();
    let err = common::stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("re-tokenised 6 articles"), "{err}");

    // Nothing lost: every article, with every stored field, and CJK words now found.
    let index = ArticleIndex::open(&data.join("articles")).unwrap();
    assert_eq!(index.num_docs(), 6);
    for a in &articles {
        let got = index.get(&a.id).unwrap().unwrap();
        assert_eq!(
            (&got.title, &got.body, &got.url, got.published),
            (&a.title, &a.body, &a.url, a.published)
        );
    }
    drop(index);
    assert_eq!(env.total("芯片"), 2);
    assert_eq!(env.total("半導体"), 1);
    assert_eq!(env.total("export controls"), 1);
    // The old archive is kept beside the new one until the operator removes it.
    assert!(
        data.join("articles.before-text_v2")
            .join("meta.json")
            .exists()
    );
    // A second run has nothing to re-tokenise.
    let out = env
        .wirewatch(&["reindex", "--config", config])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!common::stderr(&out).contains("re-tokenised"));
}

fn analyzer() -> wirewatch::analyze::Analyzer {
    wirewatch::analyze::Analyzer::load(
        &common::repo_file("config/topics.toml"),
        &common::repo_file("config/gazetteer.tsv"),
    )
    .unwrap()
}

/// Topics and entity ids of a one-sentence article (the sentence as title and body).
fn analysed(sentence: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let a = analyzer().analyze(sentence, sentence);
    (
        a.topic_names().into_iter().collect(),
        a.entities.into_iter().map(|e| e.id).collect(),
    )
}

#[test]
fn chinese_and_japanese_sentences_get_topics_and_entities() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "美国商务部工业与安全局周二宣布，将中芯国际等多家中国企业列入实体清单。",
            &["export_controls", "sanctions"],
            &["bis", "smic", "entity_list", "china"],
        ),
        (
            "美國商務部工業與安全局宣布，將中芯國際列入實體清單。",
            &["export_controls", "sanctions"],
            &["bis", "smic", "entity_list"],
        ),
        (
            "檢方指控該集團將輝達H100晶片走私至中國。",
            &["chip_smuggling"],
            &["nvidia", "china"],
        ),
        (
            "台積電表示，輸美晶片不受出口管制影響。",
            &["export_controls"],
            &["tsmc"],
        ),
        (
            "経済産業省は23日、先端半導体の製造装置を輸出規制の対象に加えると発表した。",
            &["export_controls"],
            &["meti"],
        ),
        (
            "エヌビディア製の画像処理半導体を中国に密輸したとして、男が逮捕された。",
            &["chip_smuggling"],
            &["nvidia", "china"],
        ),
        (
            "米政府は中国製の電気自動車に対する追加関税を発表した。",
            &["tariffs"],
            &["china"],
        ),
        (
            "日本政府はロシアに対する追加制裁として資産凍結の対象を拡大した。",
            &["sanctions"],
            &["japan", "russia"],
        ),
        (
            "長江存儲與華為均被列入實體清單。",
            &["export_controls", "sanctions"],
            &["ymtc", "huawei", "entity_list"],
        ),
        // Hard negatives: other contraband, sport.
        ("警方破获一起香烟走私案，查获芯片包装盒。", &[], &[]),
        ("覚醒剤を密輸した疑いで男が逮捕された。", &[], &[]),
        ("サッカー選手に出場停止の制裁が科された。", &[], &[]),
    ];
    for (text, topics, entities) in cases {
        let (got_topics, got_entities) = analysed(text);
        assert_eq!(got_topics, set(topics), "topics of {text}");
        for e in *entities {
            assert!(got_entities.contains(*e), "{e} in {text}: {got_entities:?}");
        }
    }
    // A name inside a longer one is the longer one: 美国商务部工业与安全局 is BIS, not also the
    // Commerce Department or China's commerce ministry (商务部).
    let (_, e) = analysed(cases[0].0);
    assert!(!e.contains("commerce") && !e.contains("mofcom"), "{e:?}");
}

#[test]
fn cjk_mentions_are_sentences_split_at_cjk_stops_as_written() {
    let body = "今日は晴れ。美國商務部將中芯國際列入實體清單！市場反應平淡？";
    let a = analyzer().analyze("", body);
    let m = (a.mentions.iter())
        .find(|m| m.topic == "export_controls")
        .unwrap();
    assert_eq!(m.sentence, "美國商務部將中芯國際列入實體清單！");
    let chars: Vec<char> = body.chars().collect();
    assert_eq!(chars[m.start..m.end].iter().collect::<String>(), m.sentence);
    // The term as the article writes it, not as it was folded to match.
    assert!(m.terms.contains(&"實體清單".to_string()), "{:?}", m.terms);
}
