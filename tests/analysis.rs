//! Analysis (issue 5) with the shipped rule pack and gazetteer: every rule kind, every hard-negative
//! kind next to the positives it must not swallow, mentions and their offsets, entities, Chinese
//! text, the seed-style passage and tariff facts. Every passage here is written for this file.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::LazyLock;

use wirewatch::analyze::{Analysis, Analyzer, Gazetteer, Mention, RulePack, TopicModel};

static ANALYZER: LazyLock<Analyzer> = LazyLock::new(|| {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Analyzer::load(
        &root.join("config/topics.toml"),
        &root.join("config/gazetteer.tsv"),
    )
    .expect("the shipped rule pack and gazetteer load")
});

const BEAT: [&str; 4] = ["sanctions", "tariffs", "export_controls", "chip_smuggling"];

fn analyze(title: &str, body: &str) -> Analysis {
    ANALYZER.analyze(title, body)
}

fn topics(a: &Analysis) -> Vec<String> {
    a.topic_names()
}

fn entity_ids(a: &Analysis) -> Vec<String> {
    a.entities.iter().map(|e| e.id.clone()).collect()
}

fn score(a: &Analysis, topic: &str) -> f64 {
    a.topics
        .iter()
        .find(|t| t.name == topic)
        .map(|t| t.score)
        .unwrap_or(0.0)
}

fn mention<'a>(a: &'a Analysis, topic: &str) -> &'a Mention {
    a.mentions
        .iter()
        .find(|m| m.topic == topic)
        .unwrap_or_else(|| panic!("no {topic} mention in {:#?}", a.mentions))
}

/// Why a passage got the topics it got, for assertion messages.
fn explain(a: &Analysis) -> String {
    a.mentions
        .iter()
        .map(|m| format!("{} by {} on {:?}: {}", m.topic, m.rule, m.terms, m.sentence))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The passage gets exactly these topics (order-insensitive).
fn assert_topics(body: &str, expected: &[&str]) {
    let a = analyze("", body);
    let mut got = topics(&a);
    got.sort();
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "{body}\n{}", explain(&a));
}

fn assert_no_beat(body: &str) {
    assert_topics(body, &[]);
}

/// The characters `start..end` of `text` (mention offsets count characters, not bytes).
fn chars(text: &str, start: usize, end: usize) -> String {
    text.chars().skip(start).take(end - start).collect()
}

fn has_term(m: &Mention, term: &str) -> bool {
    m.terms.iter().any(|t| t == term)
}

// ---------------------------------------------------------------------------------------------
// Rule kinds
// ---------------------------------------------------------------------------------------------

#[test]
fn plain_term_fires_and_capitals_are_case_sensitive() {
    let a = analyze(
        "",
        "The arms embargo on the junta stays in force until the elections.",
    );
    assert_eq!(topics(&a), vec!["sanctions"], "{}", explain(&a));
    assert!(has_term(mention(&a, "sanctions"), "arms embargo"));

    // `OFAC` is written in capitals in the rules: the acronym fires, the word "ofac" does not.
    let a = analyze("", "OFAC named three tanker operators on Tuesday.");
    assert_eq!(topics(&a), vec!["sanctions"], "{}", explain(&a));
    assert_no_beat("The word ofac is not an acronym in this sentence.");
}

#[test]
fn stems_and_wildcards_match_any_ending() {
    // `tariff*`: tariffs, tariffed, Tariff.
    for (text, word) in [
        ("Officials tariffed imported steel last year.", "tariffed"),
        ("Tariffs on imported steel went up again.", "Tariffs"),
        ("The steel tariff went up again.", "tariff"),
    ] {
        let a = analyze("", text);
        assert_eq!(topics(&a), vec!["tariffs"], "{text}\n{}", explain(&a));
        assert!(has_term(mention(&a, "tariffs"), word), "{:?}", a.mentions);
    }
    // `smuggl*` with a chip word in the sentence: smuggled, smugglers, smuggling.
    for (text, word) in [
        (
            "Investigators say the GPUs were smuggled out of a warehouse in Penang.",
            "smuggled",
        ),
        (
            "The smugglers packed the Nvidia boards as network switches.",
            "smugglers",
        ),
        (
            "A smuggling network sold the accelerator chips for cash.",
            "smuggling",
        ),
    ] {
        let a = analyze("", text);
        assert_eq!(
            topics(&a),
            vec!["chip_smuggling"],
            "{text}\n{}",
            explain(&a)
        );
        assert!(
            has_term(mention(&a, "chip_smuggling"), word),
            "{:?}",
            a.mentions
        );
    }
}

#[test]
fn phrases_match_with_spaces_or_hyphens() {
    for (text, phrase) in [
        (
            "Lawmakers want tighter export controls on lithography machines.",
            "export controls",
        ),
        (
            "Lawmakers want tighter export-controls on lithography machines.",
            "export-controls",
        ),
        (
            "Analysts expect a new export control regime for quantum sensors.",
            "export control regime",
        ),
    ] {
        let a = analyze("", text);
        assert_eq!(
            topics(&a),
            vec!["export_controls"],
            "{text}\n{}",
            explain(&a)
        );
        let m = mention(&a, "export_controls");
        assert!(
            m.terms
                .iter()
                .any(|t| t.starts_with(phrase.split(' ').next().unwrap())),
            "{phrase}: {:?}",
            m.terms
        );
    }
    // The words of a phrase apart are not the phrase.
    assert_no_beat("The firm's export figures are under control after a chaotic year.");
}

#[test]
fn smuggling_counts_only_near_chip_words() {
    // No chip word in the sentence: the rule's context requirement fails.
    assert_no_beat("The smuggling ring was broken up after a two-year investigation.");
    // A chip word in another sentence does not help.
    assert_no_beat(
        "The smuggling ring was broken up after a two-year investigation. \
         Separately, memory chip prices fell for a third month.",
    );
    // In the same sentence it does, and both the term and its context are reported.
    let a = analyze(
        "",
        "The smuggling ring moved thousands of GPUs to buyers in Shenzhen.",
    );
    assert_eq!(topics(&a), vec!["chip_smuggling"], "{}", explain(&a));
    let m = mention(&a, "chip_smuggling");
    assert!(
        has_term(m, "smuggling") && has_term(m, "GPUs"),
        "{:?}",
        m.terms
    );
}

#[test]
fn context_within_n_words() {
    // `froze`/`frozen` counts as a sanctions measure only within three words of assets or reserves.
    let a = analyze(
        "",
        "Authorities froze the oligarch's assets after the invasion.",
    );
    assert_eq!(topics(&a), vec!["sanctions"], "{}", explain(&a));
    assert_no_beat(
        "The lake froze over in January, and the company later sold some of its assets to a rival.",
    );
}

#[test]
fn exclusions_veto_the_sporting_sense_of_sanctions() {
    for text in [
        "FIFA imposed sanctions on the national federation for crowd trouble.",
        "The league announced sanctions against three clubs for breaching spending rules.",
        "Sanctions for doping offences were doubled by the cycling authority.",
    ] {
        assert_no_beat(text);
    }
    // The same grammar without the sporting context is the beat.
    assert_topics(
        "The EU imposed sanctions on the regime's interior minister for his role in the crackdown.",
        &["sanctions"],
    );
}

#[test]
fn exclusions_within_n_words_only_veto_nearby() {
    // `tariff*` is vetoed by "electricity" only within four words.
    assert_no_beat("Electricity tariffs went up again this winter.");
    let a = analyze(
        "",
        "Electricity prices went up again this winter, and separately the government said that new \
         tariffs on imported steel will take effect next month.",
    );
    assert_eq!(topics(&a), vec!["tariffs"], "{}", explain(&a));
}

#[test]
fn rule_weight_and_topic_threshold() {
    // A weak rule (weight 0.5) needs two sentences to reach the threshold; a full one needs one.
    let pack = RulePack::parse(
        r#"
[[topic]]
name = "tariffs"
threshold = 1.0
[[rule]]
name = "weak-levy"
topic = "tariffs"
terms = ["levy"]
weight = 0.5
[[rule]]
name = "tariff-word"
topic = "tariffs"
terms = ["tariff*"]
"#,
        "inline",
    )
    .unwrap();
    let a = Analyzer::new(pack, Gazetteer::default());
    let filler = FILLER[..3].join(" ");
    assert!(
        a.analyze("", &format!("{filler} A levy was set."))
            .topics
            .is_empty()
    );
    let twice = a.analyze("", &format!("{filler} A levy was set. The levy stays."));
    assert_eq!(twice.topic_names(), vec!["tariffs"]);
    let full = a.analyze("", &format!("{filler} A tariff was set."));
    assert_eq!(full.topic_names(), vec!["tariffs"]);
    assert_eq!(full.mentions[0].rule, "tariff-word");
}

#[test]
fn a_rule_error_names_the_rule_and_the_problem() {
    let err = RulePack::parse(
        r#"
[[rule]]
name = "bad-wildcard"
topic = "tariffs"
terms = ["*tariff"]
[[rule]]
name = "lonely-within"
topic = "sanctions"
terms = ["sanctions"]
within = 3
[[rule]]
name = "no-such-topic"
topic = "trade_war"
terms = ["trade war"]
"#,
        "topics.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("topics.toml"), "{err}");
    assert!(
        err.contains("bad-wildcard") && err.contains("wildcard"),
        "{err}"
    );
    assert!(
        err.contains("lonely-within") && err.contains("near"),
        "{err}"
    );
    assert!(
        err.contains("no-such-topic") && err.contains("trade_war"),
        "{err}"
    );
}

/// Filler that is no evidence for any topic.
const FILLER: [&str; 4] = [
    "Markets in the region were calm on Monday morning.",
    "Shipping rates through the canal eased for a second week.",
    "Analysts expect the central bank to hold rates steady.",
    "Retail sales rose modestly in the holiday season.",
];

#[test]
fn title_and_lead_weigh_more_than_the_body() {
    let line = "Canada announced tariffs on imported steel.";
    let deep = format!("{} {} {} {line}", FILLER[0], FILLER[1], FILLER[2]);
    let lead = format!("{line} {} {} {}", FILLER[0], FILLER[1], FILLER[2]);
    let filler = FILLER[..3].join(" ");

    let in_title = score(&analyze(line, &filler), "tariffs");
    let in_lead = score(&analyze("Markets today", &lead), "tariffs");
    let in_body = score(&analyze("Markets today", &deep), "tariffs");
    assert!(in_body > 0.0, "a body mention still tags the article");
    assert!(in_title > in_lead, "title {in_title} vs lead {in_lead}");
    assert!(
        in_lead > in_body,
        "lead {in_lead} vs deep in the body {in_body}"
    );
}

#[test]
fn an_article_about_a_topic_outscores_a_passing_mention() {
    let about = analyze(
        "US adds chipmakers to trade blacklist",
        "The Commerce Department added 14 Chinese chip firms to the Entity List on Thursday. \
         The export controls bar American suppliers from shipping tools to them without a licence. \
         Officials said the restrictions on chipmaking equipment would be reviewed next year. \
         Beijing said it would respond to the new export curbs.",
    );
    let passing = analyze(
        "Chipmaker opens research centre",
        "The company opened a research centre in Dresden on Thursday. \
         It will hire 300 engineers over three years. \
         The chief executive said the site would focus on packaging. \
         Export controls were not discussed at the opening, she added.",
    );
    let (a, p) = (
        score(&about, "export_controls"),
        score(&passing, "export_controls"),
    );
    assert!(p > 0.0, "the passing mention is still tagged");
    assert!(a >= 0.8, "about: {a}");
    assert!(p <= 0.4, "passing: {p}");
    assert!(a > p + 0.3, "about {a} vs passing {p}");
}

// ---------------------------------------------------------------------------------------------
// Hard negatives, each next to the positives they must not swallow
// ---------------------------------------------------------------------------------------------

#[test]
fn sport_bodies_sanctioning_clubs_are_not_sanctions() {
    assert_no_beat("The club was sanctioned by the league for fielding an ineligible player.");
    assert_no_beat("UEFA sanctioned the club over racist chanting by its supporters.");
    assert_no_beat(
        "The football federation imposed sanctions on the club after fans threw flares onto the pitch.",
    );
    // Other sports: the disciplined are coaches and players, not states.
    assert_no_beat(
        "The rugby union sanctioned the coach with a six-match ban for abusing officials.",
    );
    assert_no_beat("The tennis federation lifted sanctions on the player after an appeal.");
    assert_no_beat("The cricket board sanctioned two bowlers for ball tampering.");
    // A state's sanctions are still sanctions.
    assert_topics(
        "Western sanctions on Russia tightened after the invasion.",
        &["sanctions"],
    );
}

#[test]
fn welfare_benefit_sanctions_are_not_sanctions() {
    assert_no_beat(
        "Claimants who miss an appointment at the jobcentre face benefit sanctions lasting months.",
    );
    assert_no_beat(
        "Welfare sanctions pushed thousands of families into rent arrears, a charity said.",
    );
}

#[test]
fn sanctioned_meaning_approved_is_not_sanctions() {
    assert_no_beat("The city council sanctioned the new bus lane after a public consultation.");
    assert_no_beat("The school board sanctioned the purchase of new laptops for every classroom.");
    assert_no_beat("Ministers sanctioned a £2bn budget for the new hospital wing.");
    assert_no_beat("Japan's cabinet sanctioned spending of 3 trillion yen on flood defences.");
    // The penal sense next to a state still counts.
    assert_topics(
        "The US sanctioned three Iranian officials on Friday.",
        &["sanctions"],
    );
}

#[test]
fn electricity_and_telecom_tariffs_are_not_tariffs() {
    assert_no_beat(
        "Households will pay more from April after the regulator approved higher electricity tariffs.",
    );
    assert_no_beat(
        "The regulator will raise electricity tariffs for households from 10% to 15% in April.",
    );
    assert_no_beat("The mobile operator raised its broadband and phone tariffs by 8% this spring.");
    assert_no_beat("Telecom operators plan to raise mobile tariffs by a fifth next month.");
    // Utilities and telecom providers charging their users.
    assert_no_beat(
        "The water utility asked the regulator to approve a 12% increase in tariffs for industrial users.",
    );
    assert_no_beat(
        "The telecoms regulator capped the tariffs that operators may charge for calls to emergency numbers.",
    );
    // Customs tariffs on telecom equipment, or hurting the users of steel, are still tariffs.
    assert_topics(
        "The US raised tariffs on Chinese telecom equipment and solar panels.",
        &["tariffs"],
    );
    assert_topics(
        "Tariffs on imported steel hurt industrial users across the Midwest, economists said.",
        &["tariffs"],
    );
    assert_topics(
        "Canada imposed tariffs on Chinese sport utility vehicles.",
        &["tariffs"],
    );
}

#[test]
fn drug_people_and_goods_smuggling_are_not_chip_smuggling() {
    // drugs
    assert_no_beat(
        "Police arrested four men suspected of smuggling cocaine hidden in banana crates.",
    );
    assert_no_beat("Officers seized 300 kilograms of heroin smuggled in a shipment of furniture.");
    // people
    assert_no_beat(
        "Coast guards intercepted a dinghy as people smugglers tried to land forty migrants.",
    );
    assert_no_beat("The gang smuggled migrants in refrigerated lorries across the border.");
    // goods: cigarettes, fuel
    assert_no_beat(
        "Customs officers seized two million contraband cigarettes smuggled in a lorry.",
    );
    assert_no_beat("Border police broke up a gang smuggling diesel fuel across the frontier.");
}

#[test]
fn chip_industry_news_without_controls_is_not_the_beat() {
    assert_no_beat(
        "Nvidia reported record quarterly earnings as demand for its data-centre GPUs kept growing.",
    );
    assert_no_beat(
        "TSMC broke ground on a new chip fab in Arizona that will make 3-nanometre semiconductors.",
    );
    assert_no_beat(
        "SMIC posted a 20% rise in quarterly revenue, helped by demand for mature-node chips.",
    );
    assert_no_beat(
        "Nvidia unveiled its next-generation Blackwell GPUs at its annual developer conference.",
    );
}

#[test]
fn export_statistics_are_not_export_controls() {
    assert_no_beat(
        "The country's exports rose 5% in October from a year earlier, customs data showed.",
    );
    assert_no_beat(
        "Semiconductor exports climbed 12% to a record as memory chip prices recovered.",
    );
    assert_no_beat(
        "Exports of chips from South Korea rose 5% year on year, the trade ministry said.",
    );
}

#[test]
fn positives_next_to_the_hard_negatives_fire() {
    // OFAC sanctions on a shipping firm
    assert_topics(
        "The Treasury's Office of Foreign Assets Control imposed sanctions on a Dubai shipping firm \
         that moved Iranian crude to refineries in Asia.",
        &["sanctions"],
    );
    // tariffs on Chinese EVs
    assert_topics(
        "The European Commission confirmed tariffs of up to 35% on electric vehicles imported from China.",
        &["tariffs"],
    );
    assert_topics(
        "Brussels imposed extra duties on Chinese EVs after an anti-subsidy investigation.",
        &["tariffs"],
    );
    // BIS adds entities to the Entity List (by convention both sanctions and export controls)
    assert_topics(
        "The Bureau of Industry and Security added 27 Chinese entities to the Entity List on Monday.",
        &["sanctions", "export_controls"],
    );
    // H100 GPUs smuggled via Singapore
    assert_topics(
        "Prosecutors said the men smuggled H100 GPUs into China via Singapore using a shell company.",
        &["chip_smuggling"],
    );
}

#[test]
fn the_beat_in_other_words() {
    for (text, want) in [
        (
            "Washington barred Nvidia from selling its most advanced AI accelerators to Chinese customers.",
            &["export_controls"][..],
        ),
        (
            "The Netherlands will require ASML to obtain a licence before shipping its immersion \
             lithography machines to China.",
            &["export_controls"],
        ),
        (
            "The new rules cut Huawei off from the chips it needs for its phones.",
            &["export_controls"],
        ),
        (
            "Beijing restricted exports of gallium and germanium, two metals used in chipmaking.",
            &["export_controls"],
        ),
        (
            "Chinese buyers are renting Nvidia GPUs in overseas data centres to get around the US restrictions.",
            &["export_controls", "chip_smuggling"],
        ),
        (
            "Resellers in Shenzhen openly advertise banned Nvidia H100 servers.",
            &["export_controls", "chip_smuggling"],
        ),
        (
            "A Chinese company bought A100 processors on the black market.",
            &["chip_smuggling"],
        ),
        (
            "Trump threatened a 60% levy on all Chinese goods.",
            &["tariffs"],
        ),
        (
            "China retaliated with tariffs of 15% on American coal and LNG.",
            &["tariffs"],
        ),
        (
            "The UK froze the assets of two Russian businessmen.",
            &["sanctions"],
        ),
        (
            "The Commerce Department blacklisted dozens of Chinese companies.",
            &["sanctions", "export_controls"],
        ),
    ] {
        assert_topics(text, want);
    }
    // Licences for other things are no export control.
    assert_no_beat("You need a licence to drive a taxi in the city.");
    assert_no_beat("Anglers must obtain a licence before fishing in the reservoir.");
    assert_no_beat("The club needs a licence to sell alcohol at the stadium.");
}

// ---------------------------------------------------------------------------------------------
// Mentions and sentences
// ---------------------------------------------------------------------------------------------

#[test]
fn mentions_carry_the_sentence_its_char_offsets_and_the_terms() {
    // Non-ASCII letters before the sentence make character and byte offsets differ.
    let body = "Jürgen Müller, a trader in Zürich, said little. \
                The U.S. Treasury imposed sanctions on Nanhai Shipping Corp. and two of its tankers. \
                Prices were steady.";
    let a = analyze("", body);
    assert_eq!(topics(&a), vec!["sanctions"], "{}", explain(&a));
    let m = mention(&a, "sanctions");
    assert_eq!(m.field, "body");
    assert_eq!(
        m.sentence,
        "The U.S. Treasury imposed sanctions on Nanhai Shipping Corp. and two of its tankers."
    );
    assert_eq!(
        m.start,
        "Jürgen Müller, a trader in Zürich, said little. "
            .chars()
            .count()
    );
    assert_eq!(m.end, m.start + m.sentence.chars().count());
    assert_eq!(chars(body, m.start, m.end), m.sentence);
    assert!(has_term(m, "sanctions"), "{:?}", m.terms);
    assert!(!m.rule.is_empty());
    // Every mention's offsets point at its sentence.
    for m in &a.mentions {
        assert_eq!(chars(body, m.start, m.end), m.sentence);
    }
}

#[test]
fn a_title_mention_points_into_the_title() {
    let title = "Canada slaps tariffs on Chinese steel";
    let a = analyze(title, &FILLER.join(" "));
    let m = mention(&a, "tariffs");
    assert_eq!(m.field, "title");
    assert_eq!((m.start, m.end), (0, title.chars().count()));
    assert_eq!(m.sentence, title);
}

#[test]
fn abbreviations_do_not_split_sentences() {
    let body = "Acme Corp. said the U.S. Commerce Dept. had added it to the Entity List on Friday. \
                Its shares fell.";
    let a = analyze("", body);
    for m in &a.mentions {
        assert_eq!(
            m.sentence,
            "Acme Corp. said the U.S. Commerce Dept. had added it to the Entity List on Friday."
        );
        assert_eq!(m.start, 0);
        assert_eq!(chars(body, m.start, m.end), m.sentence);
    }
    assert!(
        topics(&a).contains(&"export_controls".to_string()),
        "{}",
        explain(&a)
    );
}

#[test]
fn chinese_punctuation_ends_sentences() {
    let body = "外交部发言人表示坚决反对。美国宣布对中国电动汽车加征关税！这会影响出口吗？";
    let a = analyze("", body);
    assert_eq!(topics(&a), vec!["tariffs"], "{}", explain(&a));
    let m = mention(&a, "tariffs");
    assert_eq!(m.sentence, "美国宣布对中国电动汽车加征关税！");
    assert_eq!(m.start, "外交部发言人表示坚决反对。".chars().count());
    assert_eq!(m.end, m.start + m.sentence.chars().count());
    assert_eq!(chars(body, m.start, m.end), m.sentence);

    let body = "商务部回应了记者提问。芯片走私案涉及英伟达显卡？警方正在调查。";
    let a = analyze("", body);
    let m = mention(&a, "chip_smuggling");
    assert_eq!(m.sentence, "芯片走私案涉及英伟达显卡？");
    assert_eq!(chars(body, m.start, m.end), m.sentence);
    assert!(has_term(m, "走私"), "{:?}", m.terms);
}

// ---------------------------------------------------------------------------------------------
// Entities
// ---------------------------------------------------------------------------------------------

#[test]
fn aliases_in_english_and_chinese_map_to_one_id() {
    for (text, id) in [
        ("NVIDIA shares fell.", "nvidia"),
        ("英伟达股价下跌。", "nvidia"),
        (
            "Semiconductor Manufacturing International reported results.",
            "smic",
        ),
        ("中芯国际发布财报。", "smic"),
        ("The firm was added to the Entity List.", "entity_list"),
        ("该公司被列入实体清单。", "entity_list"),
        ("Advanced Micro Devices reported results.", "amd"),
        ("The South China Morning Post reported the deal.", "scmp"),
        ("南华早报报道了此事。", "scmp"),
        ("Washington said talks would continue.", "us"),
        ("美国表示谈判将继续。", "us"),
        ("The Bureau of Industry and Security issued a rule.", "bis"),
        ("台积电在美国建厂。", "tsmc"),
        ("The firm sells HBM3E stacks to Nvidia.", "hbm"),
        (
            "Samsung's gate-all-around process entered production.",
            "gaa",
        ),
        ("英伟达H20芯片在中国市场销量下滑。", "h20"),
    ] {
        let a = analyze("", text);
        assert!(
            entity_ids(&a).contains(&id.to_string()),
            "{text}: {:?}",
            entity_ids(&a)
        );
    }
    // Two aliases of one entity count as one entity named twice.
    let a = analyze("", "Nvidia, known in China as 英伟达, said nothing.");
    let nvidia: Vec<_> = a.entities.iter().filter(|e| e.id == "nvidia").collect();
    assert_eq!(nvidia.len(), 1);
    assert_eq!(nvidia[0].count, 2);
    assert_eq!(nvidia[0].kind, "company");
}

#[test]
fn short_names_need_word_boundaries() {
    for text in [
        "Military intelligence officials briefed lawmakers on the budget.",
        "The agency's artificial intelligence unit published a weather report.",
    ] {
        assert!(
            !entity_ids(&analyze("", text)).contains(&"intel".to_string()),
            "{text}"
        );
    }
    assert!(
        entity_ids(&analyze("", "Intel said its new processors would ship."))
            .contains(&"intel".to_string())
    );

    for text in [
        "The CAMDEN COUNTY council met on Tuesday.",
        "Shares of DIAMDEX and LAMDA rose.",
        "The pyramid's damp chambers were surveyed.",
    ] {
        assert!(
            !entity_ids(&analyze("", text)).contains(&"amd".to_string()),
            "{text}"
        );
    }
    assert!(entity_ids(&analyze("", "AMD shares rose on Tuesday.")).contains(&"amd".to_string()));

    // "US" is case-sensitive: the pronoun is not the country.
    assert!(!entity_ids(&analyze("", "Let us know what you think.")).contains(&"us".to_string()));
    assert!(
        entity_ids(&analyze("", "The US said talks would continue.")).contains(&"us".to_string())
    );
}

#[test]
fn skus_need_chip_context_in_the_sentence() {
    let a = analyze(
        "",
        "The H20 motorway was closed after an accident near the village.",
    );
    assert!(
        !entity_ids(&a).contains(&"h20".to_string()),
        "{:?}",
        entity_ids(&a)
    );
    let a = analyze("", "Nvidia H20 chips sold out in China within weeks.");
    assert!(
        entity_ids(&a).contains(&"h20".to_string()),
        "{:?}",
        entity_ids(&a)
    );
    // Context in another sentence does not count.
    let a = analyze(
        "",
        "The H20 motorway was closed after an accident. Nvidia chips were in the lorry.",
    );
    assert!(
        !entity_ids(&a).contains(&"h20".to_string()),
        "{:?}",
        entity_ids(&a)
    );
}

#[test]
fn us_commerce_in_chinese_is_not_mofcom() {
    let a = analyze("", "美国商务部宣布新的出口管制措施。");
    let ids = entity_ids(&a);
    assert!(ids.contains(&"commerce".to_string()), "{ids:?}");
    assert!(!ids.contains(&"mofcom".to_string()), "{ids:?}");
    // The country is still named, and MOFCOM on its own is still MOFCOM.
    assert!(ids.contains(&"us".to_string()), "{ids:?}");
    let a = analyze("", "商务部新闻发言人表示，中方将采取必要措施。");
    assert!(entity_ids(&a).contains(&"mofcom".to_string()));
}

// ---------------------------------------------------------------------------------------------
// Chinese text
// ---------------------------------------------------------------------------------------------

#[test]
fn chinese_passages_get_their_topics() {
    assert_topics(
        "美国宣布对中国半导体实施新一轮出口管制措施。",
        &["export_controls"],
    );
    // Entity List: by convention both sanctions and export controls.
    assert_topics(
        "美方将二十多家中国企业列入实体清单，其中包括多家芯片设计公司。",
        &["sanctions", "export_controls"],
    );
    assert_topics(
        "警方破获一起芯片走私案，涉案的英伟达显卡价值数亿元。",
        &["chip_smuggling"],
    );
    assert_topics("中方宣布对原产于美国的部分商品加征关税。", &["tariffs"]);
    assert_no_beat("英伟达表示将继续为中国客户提供服务。");
    assert_topics("美国财政部宣布制裁多家伊朗石油公司。", &["sanctions"]);
    assert_topics("中方决定对美国军工企业采取反制措施。", &["sanctions"]);
    // Hard negatives in Chinese: sport discipline, goods, drug and people smuggling, statistics.
    assert_no_beat("国际足联宣布对该俱乐部实施制裁，禁止其引进新球员。");
    assert_no_beat("中国足协对违规球员作出停赛制裁。");
    assert_no_beat("警方查获一批走私香烟，价值数百万元。");
    assert_no_beat("广东警方破获毒品走私案，缴获冰毒100公斤。");
    assert_no_beat("边防部门抓获多名偷渡人员和蛇头。");
    assert_no_beat("国家电网宣布下调工商业电价。");
    assert_no_beat("中国上月出口同比增长5%。");
    assert_no_beat("中芯国际第三季度营收增长20%。");
}

// ---------------------------------------------------------------------------------------------
// The seed article's vein
// ---------------------------------------------------------------------------------------------

/// Written for this test in the vein of the article that started the project: US pressure on
/// China's chip industry (export controls, a tariff rise on legacy chips, sanctions weighed on GAA
/// and HBM), and A100/H100 chips reaching China anyway, as SCMP reported.
const SEED_STYLE: &str = "Washington's chip curbs may be backfiring. For three years the US has \
tightened export controls on advanced semiconductors bound for China, and this spring it said it \
would raise tariffs on legacy semiconductors from 25% to 50% while weighing fresh sanctions on \
gate-all-around (GAA) transistor technology and high-bandwidth memory (HBM). Analysts argue the \
pressure is pushing Beijing to build its own supply chain faster. Chinese fabs that stalled when \
American engineers left have since restarted, and output of mature-node chips is climbing. \
Meanwhile banned processors keep arriving: Nvidia's A100 and H100 accelerators are being smuggled \
into China through third countries, the South China Morning Post (SCMP) reported, citing traders \
who resell them at a steep markup. Critics say the tariff increase will not bite before 2025.";

#[test]
fn seed_style_passage_yields_topics_entities_and_the_tariff_fact() {
    let a = analyze("", SEED_STYLE);
    for t in BEAT {
        assert!(
            topics(&a).contains(&t.to_string()),
            "{t} missing\n{}",
            explain(&a)
        );
    }
    let ids = entity_ids(&a);
    for id in [
        "us", "china", "nvidia", "a100", "h100", "hbm", "gaa", "scmp",
    ] {
        assert!(ids.contains(&id.to_string()), "{id} missing: {ids:?}");
    }
    let tariff = a
        .facts
        .iter()
        .find(|f| f["kind"] == "tariff_change")
        .unwrap_or_else(|| panic!("no tariff fact: {:#?}", a.facts));
    assert_eq!(tariff["from_pct"], 25.0);
    assert_eq!(tariff["to_pct"], 50.0);
    assert_eq!(tariff["product"], "legacy semiconductors");
    assert_eq!(tariff["actor"], "US");
}

#[test]
fn seed_style_passage_through_the_cli() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wirewatch"))
        .arg("analyze")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = [
        serde_json::json!({"id": "seed", "title": "The paradox of chip curbs", "text": SEED_STYLE}),
        serde_json::json!({"id": "fifa", "text": "FIFA imposed sanctions on the national federation for crowd trouble."}),
    ]
    .iter()
    .map(|v| v.to_string() + "\n")
    .collect::<String>();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["topics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().or(t["name"].as_str()).unwrap().to_string())
            .collect()
    };
    let seed = rows.iter().find(|r| r["id"] == "seed").unwrap();
    for t in BEAT {
        assert!(names(seed).contains(&t.to_string()), "{t}: {seed}");
    }
    assert!(
        seed["facts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "tariff_change" && f["from_pct"] == 25.0 && f["to_pct"] == 50.0),
        "{seed}"
    );
    let fifa = rows.iter().find(|r| r["id"] == "fifa").unwrap();
    assert!(names(fifa).is_empty(), "{fifa}");
}

// ---------------------------------------------------------------------------------------------
// Facts: tariff changes
// ---------------------------------------------------------------------------------------------

fn tariff_facts(a: &Analysis) -> Vec<&serde_json::Value> {
    a.facts
        .iter()
        .filter(|f| f["kind"] == "tariff_change")
        .collect()
}

#[test]
fn tariff_change_from_to() {
    let a = analyze(
        "",
        "The administration will raise tariffs on legacy semiconductors from 25% to 50% next year.",
    );
    let f = tariff_facts(&a);
    assert_eq!(f.len(), 1, "{:#?}", a.facts);
    assert_eq!(f[0]["measure"], "tariff");
    assert_eq!(f[0]["product"], "legacy semiconductors");
    assert_eq!(f[0]["from_pct"], 25.0);
    assert_eq!(f[0]["to_pct"], 50.0);

    let a = analyze(
        "",
        "The EU raised duties on Chinese bicycles from 30% to 48%.",
    );
    let f = tariff_facts(&a);
    assert_eq!(f.len(), 1, "{:#?}", a.facts);
    assert_eq!(f[0]["from_pct"], 30.0);
    assert_eq!(f[0]["to_pct"], 48.0);
    assert_eq!(f[0]["actor"], "EU");
    assert_eq!(f[0]["target"], "China");
}

#[test]
fn tariff_flat_rate() {
    let a = analyze(
        "",
        "Washington will impose a 100% tariff on electric vehicles from China starting August 1.",
    );
    let f = tariff_facts(&a);
    assert_eq!(f.len(), 1, "{:#?}", a.facts);
    assert_eq!(f[0]["product"], "electric vehicles");
    assert_eq!(f[0]["to_pct"], 100.0);
    assert!(f[0]["from_pct"].is_null(), "{}", f[0]);
    assert_eq!(f[0]["actor"], "US");
    assert_eq!(f[0]["target"], "China");
    assert_eq!(f[0]["effective"], "August 1");
}

#[test]
fn no_tariff_fact_off_the_beat() {
    // The same grammar on electricity is no tariff news.
    let a = analyze(
        "",
        "The regulator will raise electricity tariffs for households from 10% to 15% in April.",
    );
    assert!(tariff_facts(&a).is_empty(), "{:#?}", a.facts);
    // Nor is a percentage without a tariff.
    let a = analyze(
        "",
        "Exports rose from 25% to 50% of output over the decade.",
    );
    assert!(tariff_facts(&a).is_empty(), "{:#?}", a.facts);
}

// ---------------------------------------------------------------------------------------------
// Word senses and paraphrase families (issue 18): each kind the rule pack decides from context,
// with positives and hard negatives written for this file.
// ---------------------------------------------------------------------------------------------

/// Every passage gets exactly these topics.
fn assert_each(texts: &[&str], expected: &[&str]) {
    for text in texts {
        assert_topics(text, expected);
    }
}

#[test]
fn tariff_senses_are_decided_by_trade_context() {
    // price plans, prison terms, scoring, hotel rates, domestic taxes, duty-free shops, tasks
    assert_each(
        &[
            "Households on the standard variable tariff will pay more for gas from April.",
            "Energy regulator approves new electricity tariffs for industrial customers.",
            "The telecom raised its mobile data tariffs by 15%.",
            "Water tariffs will rise 6% in Karachi.",
            "The killer must serve a minimum tariff of 20 years before he can apply for release.",
            "Her final dive carried the highest tariff of the competition.",
            "The union wants a 10% tariff on the profits of the biggest landlords to fund social housing.",
            "The resort raised its room tariff for the festival week.",
            "Travellers queued at the airport duty-free shops for cut-price perfume.",
            "Nurses said the extra duties left no time for breaks.",
        ],
        &[],
    );
    // customs duties in their own words and in paraphrase (levies, duties, import fees, dumping cases)
    assert_each(
        &[
            "Ottawa slapped a 25% tariff on imported steel from China.",
            "Tariffs on electric vans threaten the plant under the new rules of origin.",
            "Retaliatory tariffs hit bourbon and motorcycles.",
            "Levies on Chinese solar panels will double next year.",
            "The president threatened 100% levies on cars made in Mexico.",
            "Exporters of olive oil face new duties in the American market.",
            "Duties on Canadian lumber rose to 14%.",
            "The bloc may open a dumping investigation into Chinese electric bikes.",
            "Importers owe unpaid tax on shipments of footwear, the customs office said.",
            "The senator wants a carbon import fee on steel from heavy polluters.",
        ],
        &["tariffs"],
    );
}

#[test]
fn sanction_senses_are_decided_by_who_sanctions_whom() {
    // courts, tours, parties, platforms, games, schools, regulators; "sanctioned" = approved
    assert_each(
        &[
            "A judge sanctioned the lawyers for filing fabricated citations.",
            "The court imposed sanctions on the attorney for misleading filings in the lawsuit.",
            "The tour sanctioned members who joined the rival circuit without permission.",
            "The club faces sanctions from UEFA over crowd trouble.",
            "The party whip threatened sanctions against colleagues who defy the leadership.",
            "The streamer was sanctioned for posting abusive content on the platform.",
            "Players who used the exploit to gain experience points will face sanctions.",
            "The school sanctioned pupils for vaping.",
            "Claimants who miss appointments face benefit sanctions.",
            "A state-sanctioned festival drew large crowds to the capital.",
        ],
        &[],
    );
    assert_each(
        &[
            "Washington sanctioned a Hong Kong firm for shipping oil from Iran.",
            "The sanctioned tanker slipped out of port at night.",
            "Brussels will penalise companies supplying Russia's war machine with components.",
            "Ministers imposed new measures to punish the Kremlin for the invasion.",
            "Sanctions-hit Russia turned to Chinese banks.",
            "Venezuela sanctions relief lets Chevron pump more oil.",
            "The UK imposed an asset freeze on five Russian bankers.",
        ],
        &["sanctions"],
    );
}

#[test]
fn chip_smuggling_needs_controlled_chips_not_other_contraband() {
    // bargaining chips, potato chips, wildlife, people, drugs, arms, gold
    assert_each(
        &[
            "The hostages became a bargaining chip as the smugglers pressed for ransom.",
            "Customs found cigarettes smuggled inside boxes of potato chips.",
            "Rangers seized ivory and pangolin scales smuggled through the port.",
            "Gangs smuggled migrants across the border in refrigerated lorries.",
            "Police intercepted cocaine hidden among crates of computer chips at the docks.",
            "The cartel smuggled fentanyl precursors from China.",
            "Iran has been accused of smuggling rifles to militias in the region.",
            "Gold smuggling through Dubai has boomed.",
            "Poker players chip in for charity.",
            "Intel posted record revenue on strong chip demand.",
        ],
        &[],
    );
    // routes, front companies, onward shipment, chips found in weapons
    assert_each(
        &[
            "Investigators say the network routed Nvidia accelerators through shell companies in Malaysia to buyers in China.",
            "Russian arms makers still obtain Western microchips through middlemen in Central Asia.",
            "Authorities say the GPUs were shipped to Singapore and then quietly forwarded to Chinese buyers.",
            "Researchers found US-made chips inside Russian cruise missiles.",
        ],
        &["chip_smuggling"],
    );
    // A policy to stop chips reaching Russia is a control, not smuggling; chips a sanctioned country
    // makes itself are sanctions news, not smuggling.
    assert_each(
        &["Kyiv urged allies to stop the sale of microchips to Russia."],
        &["export_controls"],
    );
    assert_each(
        &["Huawei phones use chips made despite US sanctions, analysts say."],
        &["sanctions"],
    );
}

#[test]
fn export_controls_in_other_words() {
    assert_each(
        &[
            "The government limited shipments of drone parts to Russia.",
            "Washington tightened curbs on sales of advanced processors to Chinese firms.",
            "The administration is weighing curbs on sales of AI processors to the Middle East.",
            "The Dutch cabinet blocked the sale of lithography machines to Beijing.",
            "Prosecutors charged a trader with scheming to send aircraft parts to Russia.",
            "The firm was accused of illegally selling military-grade sensors to Iran.",
            "Seoul won a waiver from the export rules for its chip plants in China.",
            "Tokyo will require permits for shipments of 23 types of chipmaking gear.",
            "Nvidia designed a slower chip for China to comply with the rules.",
            "A new bill would keep sensitive American technology out of the hands of China's army.",
            "New restrictions cut the foundry off from the tools it needs for advanced nodes.",
            "Officials believe dual-use goods were diverted to Russia through a third country.",
            "Beijing slapped export licence requirements on graphite.",
        ],
        &["export_controls"],
    );
    // company decisions, food bans, trade figures, "controls" and "blacklists" in other senses
    assert_each(
        &[
            "The distillery halted exports to Russia after a consumer boycott.",
            "India banned exports of wheat to cool domestic prices.",
            "Germany is the world's third-largest exporter of machinery.",
            "China's exports of electric cars surged 70% last year.",
            "Capital controls stopped exporters from moving cash abroad.",
            "The new app gives parents controls over their children's tech use.",
            "The FCA fined the bank for failings in its anti-money-laundering controls.",
            "He denies exporting anything to the company.",
            "Hollywood studios blacklisted the screenwriter in the 1950s.",
        ],
        &[],
    );
    // the US trade blacklist is both topics by convention; an EU list of persons is sanctions only
    assert_each(
        &[
            "The Commerce Department blacklisted a Chinese drone maker.",
            "Washington added two dozen Chinese chip designers to its trade blacklist.",
        ],
        &["sanctions", "export_controls"],
    );
    assert_each(
        &["The EU blacklisted three Iranian drone makers."],
        &["sanctions"],
    );
}

#[test]
fn guideline_kinds_in_own_words() {
    // One or more passages per kind the labelling guidelines name, none using the topic's keyword
    // where a paraphrase is the point.
    assert_each(
        &[
            "Japan barred entry to 12 Russian officials as part of its latest package.",
            "The G7 agreed to lower the price cap on Russian seaborne oil.",
            "Moscow retaliated with counter-measures against European think tanks.",
            "Washington eased restrictions on Venezuelan oil after the election deal.",
            "A shipping broker admitted helping tankers dodge the embargo on Iranian crude.",
            "The bank breached restrictions on dealings with designated Russian entities, regulators said.",
            "Senators threatened to punish Chinese banks that help Moscow.",
            "Years under Western restrictions have hollowed out Iran's airline fleet.",
            "Treasury designated four Hezbollah financiers on Tuesday.",
            "Beijing put two American defence contractors on its unreliable entity list.",
        ],
        &["sanctions"],
    );
    assert_each(
        &[
            "The White House paused the planned duties on European wine for 90 days.",
            "Canada exempted some steel products from its surtax on Chinese metals.",
            "Indonesia imposed an export tax on raw nickel ore.",
            "The trade deal gives Kenyan flowers tariff-free access to the British market.",
            "A federal court struck down the levies imposed under emergency powers.",
            "Beijing cut import duties on American farm goods to ease trade tensions.",
            "Automakers warned that the 25% tax on imported cars will raise prices.",
            "The EU imposed provisional countervailing measures on Chinese biodiesel.",
        ],
        &["tariffs"],
    );
    assert_each(
        &[
            "BIS issued new rules restricting shipments of high-bandwidth memory to China.",
            "Tokyo Electron will need government approval to sell some etching tools abroad.",
            "China now requires licences for exports of some rare-earth magnets.",
            "Berlin approved the delivery of Leopard tanks after weeks of pressure.",
            "Lawmakers urged Commerce to close gaps that let Chinese firms buy advanced chipmaking gear.",
            "Nvidia is preparing a downgraded accelerator for Chinese customers that meets the new thresholds.",
            "A former engineer was convicted of shipping controlled night-vision equipment to Russia.",
            "The Netherlands will expand licensing for ASML's older immersion machines.",
            "Seoul and Washington agreed to align their restrictions on sending technology to Moscow.",
        ],
        &["export_controls"],
    );
    assert_each(
        &[
            "Traders in Shenzhen say H100 servers arrive via Vietnam and Thailand.",
            "An Estonian procurement network supplied microelectronics to Russian missile makers.",
            "Smuggled Nvidia chips are sold openly in electronics markets in Shenzhen.",
            "Investigators traced the processors to a front company in Dubai that sent them to Iran.",
        ],
        &["chip_smuggling"],
    );
    assert_each(
        &["Chinese labs rent access to banned GPUs from data centres in Malaysia."],
        &["export_controls", "chip_smuggling"],
    );
    assert_each(
        &[
            "The league docked the club six points for breaking spending rules.",
            "Councils can sanction landlords who fail to repair homes.",
            "The festival is sanctioned by the city council.",
            "Britain's exports to the EU fell 3% in March.",
            "China is the largest exporter of solar panels.",
            "Customs officers seized 200kg of heroin hidden in a container of bananas.",
            "The chancellor froze fuel duty for another year.",
            "Energy firms must offer a social tariff to low-income customers.",
            "The company chipped away at its debt pile.",
            "Samsung plans a new chip plant in Texas.",
            "Demand for AI chips lifted TSMC's quarterly profit.",
            "The film was blacklisted by state broadcasters for its politics.",
            "Parents want tighter controls on children's screen time.",
            "Interpol broke up a wildlife smuggling ring trafficking rhino horn.",
            "Police arrested a man smuggling cigarettes from Belarus.",
            "He was sentenced to a minimum tariff of 15 years.",
            "The regulator lifted controls on bread prices.",
            "Ofgem will cap standing charges on electricity tariffs.",
            "The minister said the levy on sugary drinks had cut consumption.",
            "Teachers face sanctions for missing training.",
        ],
        &[],
    );
    assert_each(
        &["The US raised tariffs on Russian aluminium and added sanctions on its producers."],
        &["tariffs", "sanctions"],
    );
    assert_each(
        &["The Commerce Department added 14 Chinese entities to the Entity List."],
        &["export_controls", "sanctions"],
    );
}

#[test]
fn hard_negatives_in_own_words() {
    // Look-alikes of every hard-negative category of the guidelines, with a positive of each topic.
    assert_each(
        &[
            "The governing body handed the sprinter a two-year sanction for missed tests.",
            "World Rugby will sanction the union after the brawl.",
            "The Jobcentre sanctioned him for arriving late to an appointment.",
            "The bar council sanctioned the barrister for misleading the tribunal.",
            "The financial regulator sanctioned the trading firm over reporting failures.",
            "The church sanctioned the priest after the inquiry.",
            "The hospital sanctioned two surgeons over the botched operation.",
            "The mayor sanctioned overtime for the snow crews.",
            "The bout was sanctioned by the British Boxing Board of Control.",
            "Unsanctioned street races have plagued the suburb.",
            "Protesters staged an unsanctioned rally in Moscow.",
            "The UN-sanctioned peace talks resumed in Geneva.",
            "Prepayment meters lock poor families into the dearest tariffs.",
            "The operator cut roaming tariffs for customers travelling in Europe.",
            "Rail fares and parking tariffs will rise in January.",
            "The judge set a minimum tariff of 18 years.",
            "Her routine's tariff was the highest of the gymnasts in the final.",
            "The council raised waste collection tariffs for businesses.",
            "Heathrow wants higher landing tariffs to pay for the terminal.",
            "The police smuggled a camera into the meeting.",
            "Fans smuggled flares into the stadium.",
            "Smugglers ferried migrants across the Channel in small boats.",
            "Customs seized smuggled whisky worth £2m.",
            "The eels were smuggled to Hong Kong in suitcases.",
            "Counterfeit cigarettes were smuggled from Poland.",
            "Hackers use HTML smuggling to slip malware past filters.",
            "The prisoner smuggled letters out of his cell.",
            "Crisps and chips sales rose at the supermarket.",
            "The midfielder chipped the goalkeeper from 30 yards.",
            "Vets urged owners to microchip their dogs.",
            "The pact could be a bargaining chip in talks with Tehran.",
            "Blue-chip stocks rallied on Wall Street.",
            "Intel will cut 15,000 jobs as chip sales slump.",
            "TSMC opened its first fab in Japan.",
            "Chip shortages idled car plants in Mexico.",
            "Nvidia's new AI chip doubles training speed.",
            "South Korea's chip exports jumped 40% in March.",
            "Germany posted a record trade surplus.",
            "The country is the world's largest exporter of coffee.",
            "The British Library placed an export bar on the medieval manuscript.",
            "The bank blacklisted customers who missed payments.",
            "The EU updated its blacklist of tax havens.",
            "Studios blacklisted the actor after the scandal.",
            "China suspended imports of Japanese seafood over the water release.",
            "Australia will ban live sheep exports by sea from 2028.",
            "India restricted sugar exports to curb domestic prices.",
            "Engineers added flow controls to the pipeline.",
            "The government introduced rent controls in Berlin.",
            "The court ordered the release of the frozen bank accounts of the charity.",
            "The duty officer logged the complaint.",
            "Heavy-duty trucks will need new brakes.",
            "Excise duties on alcohol rise in August.",
        ],
        &[],
    );
    assert_each(
        &[
            "Mexico raised tariffs on steel from countries without trade deals.",
            "Trump's levies on Canadian goods took effect at midnight.",
        ],
        &["tariffs"],
    );
    assert_each(
        &[
            "The EU's 12th package bans imports of Russian diamonds.",
            "Russia's sanctions-hit economy is running out of workers.",
        ],
        &["sanctions"],
    );
    assert_each(
        &["China banned exports of rare-earth processing technology."],
        &["export_controls"],
    );
    assert_each(
        &[
            "Singapore charged three men over servers that may have contained Nvidia chips bound for China via Malaysia.",
        ],
        &["chip_smuggling"],
    );
}

#[test]
fn paraphrases_without_the_keyword() {
    // Each topic said in other words: concealment and onward sale of chips, chips found in weapons,
    // licences, end users, servicing bans, arms transfer refusals, violations, frozen holdings, entry bans.
    assert_each(
        &[
            "A Taiwanese broker relabelled GPU boards as graphics cards for gaming to slip them past inspectors bound for China.",
            "Russian weapons makers keep getting American microelectronics through resellers in Turkey and the Emirates.",
            "US officials are probing whether Nvidia chips reached China through distributors in Singapore.",
            "A grey market for Nvidia's top processors has sprung up in Shenzhen.",
            "Components from Texas Instruments were found in Iranian drones shot down over Ukraine.",
        ],
        &["chip_smuggling"],
    );
    assert_each(
        &[
            "Shell firms in Hong Kong bought the accelerators and passed them to a sanctioned Chinese lab.",
        ],
        &["sanctions", "chip_smuggling"],
    );
    assert_each(
        &[
            "The indictment says the defendants exported semiconductors to Russia without the required licences.",
        ],
        &["export_controls", "chip_smuggling"],
    );
    assert_each(
        &[
            "The Commerce Department told Nvidia it needs a licence to sell the H20 to China.",
            "Beijing will require exporters of gallium to report end users.",
            "Washington pressed Tokyo to stop servicing chipmaking machines already in China.",
            "The rules bar US citizens from supporting advanced chip production in China.",
            "AMD said the new curbs would cost it $800 million in lost China sales.",
            "Germany refused to let Ukraine receive its Taurus cruise missiles.",
            "Britain outlawed the sale of dual-use machine tools to Russia.",
            "Applied Materials is under investigation for shipments to SMIC that may have violated the rules.",
        ],
        &["export_controls"],
    );
    assert_each(
        &[
            "Beijing slapped duties of up to 218% on French brandy.",
            "Washington doubled the levy on Chinese-made electric cars to 100%.",
            "The tariff truce between the two countries expires next week.",
            "Importers rushed to beat the new duties before they took effect.",
            "India cut the customs duty on gold to curb smuggling.",
        ],
        &["tariffs"],
    );
    assert_each(
        &[
            "Britain froze the London mansion of a Kremlin-linked tycoon.",
            "Washington blocked the property of three Iranian shipping firms.",
            "The penalties on Russia's central bank have locked up $300bn in reserves.",
            "Moscow banned 500 Americans from entering Russia in retaliation.",
            "Cuba blames the decades-old US embargo for its fuel shortages.",
            "North Korea uses crypto theft to dodge UN penalties.",
        ],
        &["sanctions"],
    );
}

#[test]
fn more_paraphrases_and_look_alikes() {
    // Regimes, permits, permission before selling, lost access, agencies and blocs acting, duty rates;
    // and look-alikes of each (gas cut off, gold smuggling, blocked land sales, grain exports).
    assert_each(
        &[
            "The Biden administration widened its curbs on advanced semiconductors to include dozens more countries.",
            "Chinese firms can no longer buy Nvidia's most powerful processors under the new regime.",
            "The Dutch government revoked ASML's permit to ship some machines to China.",
            "Japan added 23 chipmaking items to its list of goods needing approval before export.",
            "US suppliers must now seek permission before selling to the Chinese memory maker.",
            "Beijing hit back by restricting overseas sales of graphite.",
            "The rule tightens limits on which AI models can be sent abroad.",
            "Russia's access to Western machine tools has been cut since 2022.",
            "Lawmakers want to stop Nvidia selling any AI chips to China.",
            "The Pentagon wants allies to stop supplying parts for Chinese fighter jets.",
        ],
        &["export_controls"],
    );
    assert_each(
        &[
            "Chinese buyers are getting Nvidia's banned H100s through a web of intermediaries in Southeast Asia.",
            "Federal agents arrested two men accused of illegally shipping AI servers to China.",
            "Thousands of restricted GPUs were sold through a Singapore firm to Chinese cloud providers.",
        ],
        &["export_controls", "chip_smuggling"],
    );
    assert_each(
        &[
            "Russian front companies in Kazakhstan imported millions of dollars of microchips last year.",
            "The Kremlin relies on Chinese distributors to obtain Western semiconductors for its missiles.",
        ],
        &["chip_smuggling"],
    );
    assert_each(
        &[
            "The Treasury targeted a network of front companies helping Iran sell oil.",
            "The EU listed 30 more Russian individuals under its human-rights regime.",
            "Washington lifted penalties on Venezuela's state oil company.",
            "Switzerland froze $8 billion of Russian assets.",
            "Canada imposed travel bans and asset freezes on Iranian officials.",
        ],
        &["sanctions"],
    );
    assert_each(
        &[
            "China will impose a 15% duty on US liquefied natural gas.",
            "Washington raised the rate on Chinese syringes to 100%.",
            "Tariff exemptions for Vietnamese shrimp will end in June.",
            "The WTO said Washington's duties on Spanish olives broke trade rules.",
        ],
        &["tariffs"],
    );
    assert_each(
        &[
            "The firm cut off gas supplies to customers who did not pay.",
            "Smugglers moved gold from Sudan through Egypt.",
            "Nvidia's shares rose after it sold more chips to cloud providers.",
            "The council blocked the sale of the playing fields to developers.",
            "The charity sent medical supplies to Gaza.",
            "Engineers found mould inside the school's ventilation.",
            "The app restricts access to explicit content for minors.",
            "Grain exports from Ukraine resumed after the deal.",
            "The coach was suspended and the club sanctioned by the federation.",
            "Customers on fixed tariffs will not see a rise until next year.",
        ],
        &[],
    );
}

#[test]
fn state_sanctions_next_to_sport_court_and_arbitration_words() {
    // The words that rule out the disciplinary senses must not rule out state sanctions that sit next
    // to them: loopholes, judges upholding, lawsuits against sanctions, the Russian Federation.
    assert_each(
        &[
            "Russia exploits loopholes in Western sanctions to import cars.",
            "EU judges upheld sanctions on the steel magnate.",
            "The oligarch's lawsuit against the sanctions was dismissed.",
            "New sanctions against the Russian Federation took effect on Friday.",
            "Key players in the oil trade are shifting to avoid sanctions on Iran.",
            "Iranian students abroad say sanctions block their tuition payments.",
            "Arbitration claims pile up as sanctions stall Russian gas contracts.",
        ],
        &["sanctions"],
    );
    assert_each(
        &["A federal judge sanctioned the company for destroying evidence."],
        &[],
    );
}

#[test]
fn context_lists_and_vetoes_decide_a_trigger() {
    let rules = RulePack::parse(
        r#"
[[rule]]
name = "flows"
topic = "export_controls"
terms = ["ban*"]
near = ["exports"]
within = 3
context = [["drones", "chips"], ["Russia", "Iran"]]
veto = ["wheat"]
"#,
        "t.toml",
    )
    .unwrap();
    let a = Analyzer::new(rules, Gazetteer::parse("", "g").unwrap());
    let r = a.analyze("", "Oslo banned exports of drones to Russia.");
    assert_eq!(topics(&r), vec!["export_controls"]);
    let m = mention(&r, "export_controls");
    for t in ["banned", "exports", "drones", "Russia"] {
        assert!(has_term(m, t), "{t} missing from {:?}", m.terms);
    }
    // each context list must be met; a veto anywhere in the sentence wins
    assert!(
        a.analyze("", "Oslo banned exports of drones.")
            .topics
            .is_empty()
    );
    assert!(
        a.analyze("", "Oslo banned exports of chips to Iran and of wheat.")
            .topics
            .is_empty()
    );
    let e = RulePack::parse(
        "[[rule]]\nname = \"x\"\ntopic = \"tariffs\"\nterms = [\"a\"]\ncontext = [[]]\n",
        "t.toml",
    )
    .unwrap_err();
    assert!(e.problems[0].contains("`context` has an empty list"), "{e}");
}

// ---- the learned layer (issue 18) ----

/// An analyzer with the shipped rules, gazetteer and the topic model built into the binary, as a
/// configuration that names none of them gets it.
static WITH_MODEL: LazyLock<Analyzer> = LazyLock::new(|| {
    wirewatch::config::AnalysisConfig::default()
        .analyzer()
        .expect("the built-in rules, gazetteer and model load")
});

/// Trains a model on sentences written here, over the shipped rules' and gazetteer's features.
fn train_on(units: &[(&str, Option<&str>)]) -> wirewatch::analyze::model::ModelFile {
    use wirewatch::analyze::model::{Example, ModelSettings, TrainOptions, train};
    let examples: Vec<Example> = units
        .iter()
        .enumerate()
        .map(|(i, (text, topic))| Example {
            id: format!("t{i:02}"),
            features: ANALYZER.model_features(text),
            labels: std::array::from_fn(|t| *topic == Some(BEAT[t])),
        })
        .collect();
    train(
        &examples,
        &TrainOptions {
            l2: 0.001,
            epochs: 300,
            learning_rate: 0.5,
            min_df: 2,
            settings: ModelSettings::default(),
            command: "test".into(),
            units_sha256: String::new(),
        },
    )
}

#[test]
fn the_model_adds_a_paraphrase_the_rules_miss_and_names_its_features() {
    // A paraphrase family with no keyword (no "export", "control", "ban", "curb"): suppliers made
    // to keep top processors from a restricted buyer. Plain business news about the same nouns
    // is the other side.
    let units = [
        (
            "Suppliers must withhold their top processors from buyers in Moscow.",
            Some("export_controls"),
        ),
        (
            "Dealers were told to withhold advanced accelerators from customers in Tehran.",
            Some("export_controls"),
        ),
        (
            "Firms now have to withhold the fastest processors from clients in Beijing.",
            Some("export_controls"),
        ),
        (
            "Makers will withhold their best accelerators from buyers in Pyongyang.",
            Some("export_controls"),
        ),
        (
            "Suppliers reported strong demand for processors from buyers in Europe.",
            None,
        ),
        (
            "Dealers said customers in Texas bought more accelerators this quarter.",
            None,
        ),
        (
            "Firms expect clients in Brazil to upgrade their processors next year.",
            None,
        ),
        (
            "Makers of accelerators posted record sales to buyers in Japan.",
            None,
        ),
    ];
    let model = TopicModel::from_file(train_on(&units));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let a = Analyzer::load(
        &root.join("config/topics.toml"),
        &root.join("config/gazetteer.tsv"),
    )
    .unwrap()
    .with_model(model);
    let unseen = "Vendors must now withhold their fastest processors from buyers in Beijing.";
    assert!(
        topics(&analyze("", unseen)).is_empty(),
        "the rules alone should miss this paraphrase: {}",
        explain(&analyze("", unseen))
    );
    let r = a.analyze("", unseen);
    assert_eq!(topics(&r), vec!["export_controls"], "{}", explain(&r));
    let m = mention(&r, "export_controls");
    assert_eq!(m.rule, "model");
    assert_eq!((m.start, m.end), (0, unseen.chars().count()));
    let why = m.model.as_ref().expect("a model mention says why");
    assert!(why.probability >= 0.9, "{why:?}");
    let named: Vec<&str> = why.features.iter().map(|f| f.feature.as_str()).collect();
    assert!(named.contains(&"w:withhold"), "{named:?}");
    assert!(why.features.iter().all(|f| f.weight > 0.0), "{why:?}");
    // The words of the features are the mention's terms.
    assert!(m.terms.iter().any(|t| t == "withhold"), "{:?}", m.terms);
    // The same nouns in ordinary business news stay untagged.
    let plain = "Vendors said buyers in Beijing ordered more processors this year.";
    assert!(
        topics(&a.analyze("", plain)).is_empty(),
        "{}",
        explain(&a.analyze("", plain))
    );
}

#[test]
fn the_shipped_model_leaves_hard_negatives_alone() {
    for body in [
        "The league sanctioned the club for fielding an ineligible player.",
        "The judge sanctioned the lawyer for filing a frivolous motion.",
        "Electricity tariffs for households will rise by 6 per cent in April.",
        "Police seized cocaine smuggled through the port in banana crates.",
        "Customs officers seized smuggled ivory at the airport.",
        "The union used the pension deal as a bargaining chip in wage talks.",
        "A bag of potato chips costs more than it did last year.",
        "Shares of the chipmaker rose after strong quarterly sales in Asia.",
    ] {
        let r = WITH_MODEL.analyze("", body);
        assert!(topics(&r).is_empty(), "{body}\n{}", explain(&r));
    }
}

#[test]
fn the_model_is_on_by_default_and_a_config_key_turns_it_off() {
    let passage = "The Commerce Department added a dozen Chinese firms to the Entity List. \
                   Officials said the new export controls cover advanced AI accelerators. \
                   Electricity tariffs will rise by 8 per cent in April.";
    // On by default: every mention carries the model's probability.
    let on = WITH_MODEL.analyze("Chip curbs", passage);
    assert!(!on.mentions.is_empty());
    assert!(
        on.mentions.iter().all(|m| m.model.is_some()),
        "{:#?}",
        on.mentions
    );
    // `use_topic_model = false`: exactly the rules' output.
    let config =
        wirewatch::config::Config::parse("[analysis]\nuse_topic_model = false\n", "test.toml")
            .expect("a configuration without the model");
    let off = config.analysis.analyzer().unwrap();
    assert!(off.model().is_none());
    for (title, body) in [
        ("Chip curbs", passage),
        (
            "",
            "Vendors must now withhold their fastest processors from buyers in Beijing.",
        ),
        (
            "Sanctions",
            "The EU froze the assets of three banks over the war.",
        ),
    ] {
        assert_eq!(off.analyze(title, body), analyze(title, body), "{body}");
    }
    // And a JSON without a model says nothing about one.
    let json = serde_json::to_string(&off.analyze("Chip curbs", passage).mentions).unwrap();
    assert!(!json.contains("\"model\""), "{json}");
}

#[test]
fn train_topics_is_reproducible_and_its_file_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let units = dir.path().join("units.jsonl");
    let lines = [
        (r#"{"id":"b","text":"Suppliers must withhold top processors from buyers in Moscow.","topics":["export_controls"]}"#),
        (r#"{"id":"a","text":"Dealers were told to withhold accelerators from customers in Tehran.","topics":["export_controls"]}"#),
        (r#"{"id":"c","text":"Suppliers reported strong demand for processors in Europe.","topics":[]}"#),
        (r#"{"id":"d","text":"Dealers said customers bought more accelerators.","topics":[]}"#),
    ];
    std::fs::write(&units, lines.join("\n") + "\n").unwrap();
    let train = |out: &Path| {
        let s = Command::new(env!("CARGO_BIN_EXE_wirewatch"))
            .args(["train-topics", "--units"])
            .arg(&units)
            .arg("--out")
            .arg(out)
            .args(["--config", "/nonexistent/wirewatch.toml"])
            .output()
            .unwrap();
        assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
        std::fs::read(out).unwrap()
    };
    let first = train(&dir.path().join("m1.json"));
    // The same units in another order give the same bytes.
    let mut reversed = lines;
    reversed.reverse();
    std::fs::write(&units, reversed.join("\n") + "\n").unwrap();
    assert_eq!(first, train(&dir.path().join("m2.json")));
    let file: serde_json::Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(file["training"]["units"], 4);
    assert!(file["features"]["w:withhold"][2].as_f64().unwrap() > 0.0);
    // analyze --topic-model reads it (every mention then carries its probability).
    let mut child = Command::new(env!("CARGO_BIN_EXE_wirewatch"))
        .args([
            "analyze",
            "--config",
            "/nonexistent/wirewatch.toml",
            "--topic-model",
        ])
        .arg(dir.path().join("m1.json"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\"id\":\"x\",\"text\":\"The US imposed sanctions on three banks.\"}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["topics"], serde_json::json!(["sanctions"]));
    assert!(v["mentions"][0]["model"]["probability"].is_number(), "{v}");
}
