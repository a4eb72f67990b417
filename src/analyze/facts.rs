//! Structured facts read from single sentences: tariff changes, export-control actions (list
//! additions with their count and agency) and chip-smuggling cases (chips, quantity, value, route).

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

/// A structured fact, tagged by kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fact {
    TariffChange {
        measure: String,
        product: Option<String>,
        from_pct: Option<f64>,
        to_pct: f64,
        /// Who imposes it.
        actor: Option<String>,
        /// Whose goods it falls on.
        target: Option<String>,
        /// When it takes effect, as the sentence says it ("August 1", "next year").
        effective: Option<String>,
        sentence: String,
    },
    /// Entities put on a control list: the US Entity List, the Unverified List, OFAC's SDN list,
    /// China's Unreliable Entity List.
    ExportControlAction {
        action: String,
        list: String,
        agency: Option<String>,
        /// How many entities, where the sentence says.
        count: Option<u32>,
        /// Whose entities (country), where named.
        target: Option<String>,
        sentence: String,
    },
    /// Chips moved around export controls.
    SmugglingCase {
        /// Chip models or kinds named ("H100", "GPUs").
        chips: Vec<String>,
        quantity: Option<u64>,
        /// Value in US dollars, where given in dollars.
        value_usd: Option<f64>,
        /// Countries or places the chips went through or to.
        route: Vec<String>,
        sentence: String,
    },
}

static RAISE_FROM_TO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:tariffs?|dut(?:y|ies)|levies|levy)\b(?:\s+rates?)?\s+on\s+(?P<product>[^,.;]{3,80}?)\s+(?:(?:will|would|to)\s+)?(?:be\s+)?(?:raised|increased|hiked|lifted|rising|rise|jump(?:ing|ed)?|go(?:ing)?\s+up|doubled?|cut|lowered|reduced)?\s*from\s+(?P<from>\d+(?:\.\d+)?)\s*(?:%|per\s*cent|percent)\s+to\s+(?P<to>\d+(?:\.\d+)?)\s*(?:%|per\s*cent|percent)",
    )
    .expect("static regex")
});

static VERB_ON_FROM_TO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:raise[sd]?|raising|increase[sd]?|increasing|hike[sd]?|hiking|lift(?:s|ed)?|double[sd]?)\s+(?:the\s+)?(?:tariffs?|dut(?:y|ies))\s+on\s+(?P<product>[^,.;]{3,80}?)\s+from\s+(?P<from>\d+(?:\.\d+)?)\s*(?:%|per\s*cent|percent)\s+to\s+(?P<to>\d+(?:\.\d+)?)\s*(?:%|per\s*cent|percent)",
    )
    .expect("static regex")
});

static FLAT_RATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?P<to>\d+(?:\.\d+)?)\s*(?:%|per\s*cent|percent)\s+(?:additional\s+|extra\s+|new\s+)?(?:tariffs?|dut(?:y|ies)|levy)\s+on\s+(?P<product>[^,.;]{3,80}?)(?:\s+(?:from|imported|made|that|which|starting|effective|by|in|as|to)\b|[,.;]|$)",
    )
    .expect("static regex")
});

static ACTOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?P<actor>US|U\.S\.|United States|Washington|China|Beijing|EU|European Union|Japan|Canada|Mexico|India|Trump|Biden)\b")
        .expect("static regex")
});

fn clean_product(p: &str) -> String {
    let p = p.trim();
    let p = p
        .strip_prefix("imports of ")
        .or_else(|| p.strip_prefix("the "))
        .unwrap_or(p);
    p.trim().to_string()
}

/// Facts stated in one sentence. Each kind's patterns run only on sentences with the word they
/// cannot do without (a rate, a list, smuggling): most sentences have none, and analysis runs on
/// every sentence of every article.
pub fn facts_in(sentence: &str) -> Vec<Fact> {
    let mut out = Vec::new();
    let rate = sentence.contains('%') || sentence.contains("cent") || sentence.contains("CENT");
    if rate && let Some(change) = tariff_change(sentence) {
        let stated_as_change = matches!(
            &change,
            Fact::TariffChange {
                from_pct: Some(_),
                ..
            }
        );
        out.push(change);
        if stated_as_change {
            return out;
        }
    }
    if ["list", "List", "LIST", "清单"]
        .iter()
        .any(|w| sentence.contains(w))
    {
        out.extend(list_addition(sentence));
    }
    out.extend(smuggling_case(sentence));
    out
}

/// A tariff change or a flat rate.
fn tariff_change(sentence: &str) -> Option<Fact> {
    // Who imposes it: the first country or leader named outside what the tariff is on ("a 100%
    // tariff on electric vehicles from China" names China as the target, not the actor).
    let on: Vec<std::ops::Range<usize>> = [&*TARIFF_TARGET, &*IMPORTS_FROM]
        .iter()
        .filter_map(|re| {
            re.captures(sentence)
                .and_then(|c| c.name("what"))
                .map(|m| m.range())
        })
        .collect();
    let actor = || {
        ACTOR
            .captures_iter(sentence)
            .filter_map(|c| c.name("actor"))
            .find(|m| !on.iter().any(|r| r.contains(&m.start())))
            .map(|m| match m.as_str() {
                "U.S." | "United States" | "Washington" | "Trump" | "Biden" => "US".to_string(),
                "Beijing" => "China".to_string(),
                "European Union" => "EU".to_string(),
                other => other.to_string(),
            })
    };
    let pct = |s: &str| s.parse::<f64>().ok();
    let change = VERB_ON_FROM_TO
        .captures(sentence)
        .or_else(|| RAISE_FROM_TO.captures(sentence));
    let (product, from, to) = match change {
        Some(c) => {
            let (Some(from), Some(to)) = (pct(&c["from"]), pct(&c["to"])) else {
                return None;
            };
            (clean_product(&c["product"]), Some(from), to)
        }
        None => {
            let c = FLAT_RATE.captures(sentence)?;
            (clean_product(&c["product"]), None, pct(&c["to"])?)
        }
    };
    let actor = actor();
    Some(Fact::TariffChange {
        measure: "tariff".into(),
        product: Some(product),
        from_pct: from,
        to_pct: to,
        target: target(sentence, actor.as_deref()),
        actor,
        effective: effective(sentence),
        sentence: sentence.to_string(),
    })
}

/// Countries and their adjectives, as news names them, to a short canonical name.
const COUNTRIES: &[(&str, &str)] = &[
    ("United States", "US"),
    ("U.S.", "US"),
    ("US", "US"),
    ("American", "US"),
    ("China", "China"),
    ("Chinese", "China"),
    ("Hong Kong", "Hong Kong"),
    ("Taiwan", "Taiwan"),
    ("Taiwanese", "Taiwan"),
    ("Japan", "Japan"),
    ("Japanese", "Japan"),
    ("South Korea", "South Korea"),
    ("Korean", "South Korea"),
    ("Singapore", "Singapore"),
    ("Malaysia", "Malaysia"),
    ("Thailand", "Thailand"),
    ("Vietnam", "Vietnam"),
    ("Indonesia", "Indonesia"),
    ("India", "India"),
    ("Indian", "India"),
    ("United Arab Emirates", "UAE"),
    ("UAE", "UAE"),
    ("Dubai", "UAE"),
    ("Russia", "Russia"),
    ("Russian", "Russia"),
    ("Iran", "Iran"),
    ("Iranian", "Iran"),
    ("Canada", "Canada"),
    ("Canadian", "Canada"),
    ("Mexico", "Mexico"),
    ("Mexican", "Mexico"),
    ("European Union", "EU"),
    ("EU", "EU"),
    ("European", "EU"),
    ("Germany", "Germany"),
    ("Netherlands", "Netherlands"),
    ("Dutch", "Netherlands"),
    ("Brazil", "Brazil"),
    ("Turkey", "Turkey"),
    ("Kazakhstan", "Kazakhstan"),
    ("Pakistan", "Pakistan"),
];

static COUNTRY: LazyLock<Regex> = LazyLock::new(|| {
    let names: Vec<String> = COUNTRIES.iter().map(|(n, _)| regex::escape(n)).collect();
    Regex::new(&format!(
        r"(?:^|[^\w.])(?P<c>{})(?:$|[^\w])",
        names.join("|")
    ))
    .expect("static regex")
});

fn country(name: &str) -> Option<&'static str> {
    COUNTRIES.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// Every country named in `text`, canonical, in order, once each.
fn countries(text: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    // Matches share their delimiters, so search again from each match's country name.
    let mut at = 0;
    while let Some(c) = COUNTRY.captures_at(text, at) {
        let m = c.name("c").expect("group");
        if let Some(name) = country(m.as_str())
            && !out.contains(&name)
        {
            out.push(name);
        }
        at = m.end();
    }
    out
}

static TARIFF_TARGET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:tariffs?|dut(?:y|ies)|levy|levies)\b[^.;]{0,40}?\b(?:on|against)\s+(?P<what>[^,.;]{2,60})")
        .expect("static regex")
});

static IMPORTS_FROM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:imports?|goods|products|shipments)\s+from\s+(?P<what>[^,.;]{2,40})")
        .expect("static regex")
});

/// Whose goods a tariff falls on: the country named in what it is "on", or "imports from X".
fn target(sentence: &str, actor: Option<&str>) -> Option<String> {
    let pick = |text: &str| {
        countries(text)
            .into_iter()
            .find(|c| Some(*c) != actor)
            .map(String::from)
    };
    TARIFF_TARGET
        .captures(sentence)
        .and_then(|c| pick(&c["what"]))
        .or_else(|| {
            IMPORTS_FROM
                .captures(sentence)
                .and_then(|c| pick(&c["what"]))
        })
}

static EFFECTIVE: LazyLock<Regex> = LazyLock::new(|| {
    let month = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?";
    Regex::new(&format!(
        r"\b(?:effective|starting|beginning|from|as of|on|by|in|taking effect|to take effect)\s+(?:on\s+)?(?P<when>{month}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?|\d{{1,2}}\s+{month}(?:\s+\d{{4}})?|{month}(?:\s+\d{{4}})?|(?:19|20)\d{{2}}|next (?:year|month|week)|today|tomorrow)\b"
    ))
    .expect("static regex")
});

/// When a measure takes effect, as the sentence puts it.
fn effective(sentence: &str) -> Option<String> {
    EFFECTIVE.captures(sentence).map(|c| c["when"].to_string())
}

static LIST_ADDITION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?P<verb>add(?:s|ed|ing)?|place[sd]?|placing|put(?:s|ting)?|blacklist(?:s|ed|ing)?|includ(?:e|es|ed|ing)|list(?:s|ed|ing)?)\b(?P<who>[^.;]{0,80}?)\b(?:to|on|in)\s+(?:its|the|their|an?)?\s*(?:US\s+|U\.S\.\s+|trade\s+|export\s+)?(?P<list>entity\s+list|unverified\s+list|military\s+end[- ]user\s+list|SDN\s+list|specially\s+designated\s+nationals\s+list|unreliable\s+entit(?:y|ies)\s+list|export\s+control\s+list)",
    )
    .expect("static regex")
});

static LIST_ADDITION_ZH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?P<count>\d+|[一二两三四五六七八九十百]+)\s*(?:家|个)[^。；]{0,30}?(?:列入|纳入|加入|添加至|添加到)[^。；]{0,8}?(?P<list>不可靠实体清单|实体清单|出口管制管控名单)",
    )
    .expect("static regex")
});

static COUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?P<n>\d{1,4}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|dozens? of|a dozen)\s+(?:more\s+|additional\s+|new\s+|other\s+)?(?:\w+\s+){0,3}?(?:entities|companies|firms|organi[sz]ations|individuals|people|persons|businesses|subsidiaries|affiliates|units|institutes|universities|addresses)\b")
        .expect("static regex")
});

const NUMBER_WORDS: &[(&str, u32)] = &[
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
    ("twenty", 20),
    ("thirty", 30),
    ("forty", 40),
    ("fifty", 50),
    ("a dozen", 12),
];

fn count_of(text: &str) -> Option<u32> {
    let c = COUNT.captures(text)?;
    let n = c["n"].to_lowercase();
    n.parse()
        .ok()
        .or_else(|| NUMBER_WORDS.iter().find(|(w, _)| *w == n).map(|(_, v)| *v))
}

fn chinese_number(s: &str) -> Option<u32> {
    if let Ok(n) = s.parse() {
        return Some(n);
    }
    let digit = |c: char| {
        "零一二三四五六七八九"
            .find(c)
            .map(|i| (i / 3) as u32)
            .or((c == '两').then_some(2))
    };
    let mut total = 0;
    let mut current = 0;
    for c in s.chars() {
        match c {
            '十' => {
                total += current.max(1) * 10;
                current = 0;
            }
            '百' => {
                total += current.max(1) * 100;
                current = 0;
            }
            c => current = digit(c)?,
        }
    }
    Some(total + current)
}

static AGENCY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?P<a>Bureau of Industry and Security|BIS|Commerce Department|Department of Commerce|Commerce|OFAC|Office of Foreign Assets Control|Treasury|State Department|MOFCOM|Ministry of Commerce|美国商务部|商务部|财政部)")
        .expect("static regex")
});

fn agency(sentence: &str) -> Option<String> {
    let a = AGENCY.captures(sentence)?;
    Some(
        match &a["a"] {
            "Bureau of Industry and Security"
            | "Commerce Department"
            | "Department of Commerce"
            | "Commerce"
            | "美国商务部" => "BIS",
            "Office of Foreign Assets Control" | "Treasury" | "财政部" => "OFAC",
            "Ministry of Commerce" | "商务部" => {
                // China's Ministry of Commerce, unless the sentence says whose.
                if sentence.contains("US ") || sentence.contains("U.S.") {
                    "BIS"
                } else {
                    "MOFCOM"
                }
            }
            other => other,
        }
        .to_string(),
    )
}

/// Entities put on a control list.
fn list_addition(sentence: &str) -> Option<Fact> {
    if let Some(c) = LIST_ADDITION.captures(sentence) {
        let list = c["list"].to_lowercase();
        let list = if list.contains("unreliable") {
            "unreliable_entity_list"
        } else if list.contains("unverified") {
            "unverified_list"
        } else if list.contains("military") {
            "military_end_user_list"
        } else if list.contains("sdn") || list.contains("specially") {
            "sdn_list"
        } else if list.contains("entity") {
            "entity_list"
        } else {
            "export_control_list"
        };
        let agency = agency(sentence).or_else(|| match list {
            "entity_list" | "unverified_list" | "military_end_user_list" => Some("BIS".into()),
            "sdn_list" => Some("OFAC".into()),
            "unreliable_entity_list" => Some("MOFCOM".into()),
            _ => None,
        });
        let target = countries(&c["who"])
            .into_iter()
            .find(|c| *c != "US" || list == "unreliable_entity_list")
            .map(String::from);
        return Some(Fact::ExportControlAction {
            action: "list_addition".into(),
            list: list.into(),
            agency,
            count: count_of(&c["who"]).or_else(|| count_of(sentence)),
            target,
            sentence: sentence.to_string(),
        });
    }
    let c = LIST_ADDITION_ZH.captures(sentence)?;
    let list = if c["list"].starts_with("不可靠") {
        "unreliable_entity_list"
    } else if c["list"].starts_with("出口管制") {
        "export_control_list"
    } else {
        "entity_list"
    };
    let target = if sentence.contains("美国实体") || sentence.contains("美国企业") {
        Some("US".to_string())
    } else if sentence.contains("中国") {
        Some("China".to_string())
    } else {
        None
    };
    Some(Fact::ExportControlAction {
        action: "list_addition".into(),
        list: list.into(),
        agency: agency(sentence).or_else(|| (list == "entity_list").then(|| "BIS".into())),
        count: chinese_number(&c["count"]),
        target,
        sentence: sentence.to_string(),
    })
}

static SMUGGLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:smuggl\w*|divert\w*|diversion|transship\w*|trans-ship\w*|illegally (?:export|ship|sent|sell|sold)\w*|evad\w* export controls)|走私")
        .expect("static regex")
});

static CHIP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?P<chip>[ABH]\d{2,3}[A-Z]?|B200|GB200|H20|Blackwell|Hopper|Ascend\s?910[BC]?|HBM\d?[A-Z]?|GPUs?|graphics processing units|chips?|semiconductors?|processors?|accelerators?|AI servers?)\b|(?P<zh>芯片|半导体|显卡|GPU)")
        .expect("static regex")
});

static VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:US\s?)?\$\s?(?P<n>\d+(?:[.,]\d+)*)\s*(?P<unit>million|billion|bn|mn|m|b|k)?\b",
    )
    .expect("static regex")
});

static QUANTITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?P<n>\d{1,3}(?:,\d{3})+|\d+)\s+(?:\w+\s+){0,2}?(?:[ABH]\d{2,3}[A-Z]?\s+)?(?:GPUs|chips|processors|servers|graphics cards|cards|units|accelerators)\b")
        .expect("static regex")
});

static ROUTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:via|through|to|into|from|in|and)\s+(?P<rest>[^,.;]{2,40})")
        .expect("static regex")
});

/// Chips moved around controls: the sentence must say both (smuggling, diversion) and (chips).
fn smuggling_case(sentence: &str) -> Option<Fact> {
    SMUGGLE.find(sentence)?;
    let mut chips: Vec<String> = Vec::new();
    for c in CHIP.captures_iter(sentence) {
        let m = c.name("chip").or_else(|| c.name("zh")).expect("group");
        let name = m.as_str().to_string();
        if !chips.iter().any(|x| x.eq_ignore_ascii_case(&name)) {
            chips.push(name);
        }
    }
    if chips.is_empty() {
        return None;
    }
    let value_usd = VALUE.captures(sentence).and_then(|c| {
        let n: f64 = c["n"].replace(',', "").parse().ok()?;
        let scale = match c.name("unit").map(|u| u.as_str().to_lowercase()).as_deref() {
            Some("million" | "mn" | "m") => 1e6,
            Some("billion" | "bn" | "b") => 1e9,
            Some("k") => 1e3,
            _ => 1.0,
        };
        Some(n * scale)
    });
    let quantity = QUANTITY
        .captures(sentence)
        .and_then(|c| c["n"].replace(',', "").parse().ok());
    let mut route: Vec<String> = Vec::new();
    for c in ROUTE.captures_iter(sentence) {
        for place in countries(&c["rest"]) {
            if place != "US" && !route.iter().any(|r| r == place) {
                route.push(place.to_string());
            }
        }
    }
    for (zh, place) in [
        ("新加坡", "Singapore"),
        ("马来西亚", "Malaysia"),
        ("泰国", "Thailand"),
        ("越南", "Vietnam"),
        ("香港", "Hong Kong"),
        ("中国", "China"),
        ("阿联酋", "UAE"),
    ] {
        if sentence.contains(zh) && !route.iter().any(|r| r == place) {
            route.push(place.to_string());
        }
    }
    Some(Fact::SmugglingCase {
        chips,
        quantity,
        value_usd,
        route,
        sentence: sentence.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raise_from_to() {
        let f = facts_in(
            "The US will raise tariffs on legacy semiconductors from 25% to 50% next year.",
        );
        let Fact::TariffChange {
            product,
            from_pct,
            to_pct,
            actor,
            ..
        } = &f[0]
        else {
            panic!("{f:?}");
        };
        assert_eq!(product.as_deref(), Some("legacy semiconductors"));
        assert_eq!((*from_pct, *to_pct), (Some(25.0), 50.0));
        assert_eq!(actor.as_deref(), Some("US"));
    }

    #[test]
    fn passive_and_flat() {
        let f =
            facts_in("Tariffs on Chinese chips will be raised from 25 per cent to 50 per cent.");
        assert!(
            matches!(&f[0], Fact::TariffChange { from_pct: Some(p), to_pct, .. } if *p == 25.0 && *to_pct == 50.0)
        );
        let f =
            facts_in("Trump announced a 100% tariff on imported semiconductors, officials said.");
        assert!(
            matches!(&f[0], Fact::TariffChange { from_pct: None, to_pct, product: Some(p), .. } if *to_pct == 100.0 && p == "imported semiconductors")
        );
        assert!(facts_in("Electricity prices rose 50% this winter.").is_empty());
    }

    #[test]
    fn tariff_target_and_effective_date() {
        let f = facts_in(
            "Washington will raise tariffs on Chinese legacy chips from 25% to 50% effective January 1, 2026.",
        );
        assert!(
            matches!(&f[0], Fact::TariffChange { actor: Some(a), target: Some(t), effective: Some(e), .. }
                if a == "US" && t == "China" && e == "January 1, 2026"),
            "{f:?}"
        );
        let f = facts_in(
            "Beijing imposed a 15% tariff on imports from the United States starting next month.",
        );
        assert!(
            matches!(&f[0], Fact::TariffChange { actor: Some(a), target: Some(t), effective: Some(e), to_pct, .. }
                if a == "China" && t == "US" && e == "next month" && *to_pct == 15.0),
            "{f:?}"
        );
    }

    #[test]
    fn the_country_a_tariff_is_on_is_not_its_actor() {
        let f = facts_in("The President announced a 100% tariff on electric vehicles from China.");
        assert!(
            matches!(&f[0], Fact::TariffChange { actor: None, target: Some(t), .. } if t == "China"),
            "{f:?}"
        );
    }

    #[test]
    fn list_additions_with_count_agency_and_target() {
        let f = facts_in(
            "The Commerce Department added 140 Chinese entities to the Entity List on Monday.",
        );
        assert_eq!(
            f,
            vec![Fact::ExportControlAction {
                action: "list_addition".into(),
                list: "entity_list".into(),
                agency: Some("BIS".into()),
                count: Some(140),
                target: Some("China".into()),
                sentence: "The Commerce Department added 140 Chinese entities to the Entity List on Monday.".into(),
            }]
        );
        let f = facts_in("Treasury placed eleven shipping companies on the SDN list.");
        assert!(
            matches!(&f[0], Fact::ExportControlAction { list, agency: Some(a), count: Some(11), .. }
                if list == "sdn_list" && a == "OFAC"),
            "{f:?}"
        );
        let f = facts_in(
            "China's commerce ministry put two US defence firms on its unreliable entity list.",
        );
        assert!(
            matches!(&f[0], Fact::ExportControlAction { list, agency: Some(a), count: Some(2), target: Some(t), .. }
                if list == "unreliable_entity_list" && a == "MOFCOM" && t == "US"),
            "{f:?}"
        );
        let f = facts_in("美国商务部将二十三家中国实体列入实体清单。");
        assert!(
            matches!(&f[0], Fact::ExportControlAction { list, agency: Some(a), count: Some(23), target: Some(t), .. }
                if list == "entity_list" && a == "BIS" && t == "China"),
            "{f:?}"
        );
        assert!(facts_in("The entity list is long and the rules are complex.").is_empty());
    }

    #[test]
    fn smuggling_cases_with_chips_quantity_value_and_route() {
        let f = facts_in(
            "Prosecutors said the ring smuggled 2,400 Nvidia H100 GPUs worth $160 million to China through Singapore and Malaysia.",
        );
        let Fact::SmugglingCase {
            chips,
            quantity,
            value_usd,
            route,
            ..
        } = &f[0]
        else {
            panic!("{f:?}");
        };
        assert_eq!(chips, &vec!["H100".to_string(), "GPUs".to_string()]);
        assert_eq!(*quantity, Some(2400));
        assert_eq!(*value_usd, Some(160e6));
        assert_eq!(route, &vec!["China", "Singapore", "Malaysia"]);
        let f = facts_in("警方查获一批经香港走私的英伟达芯片。");
        assert!(
            matches!(&f[0], Fact::SmugglingCase { route, .. } if route == &vec!["Hong Kong".to_string()]),
            "{f:?}"
        );
        // Smuggling without chips is somebody else's beat.
        assert!(
            facts_in("Police seized cigarettes smuggled through Malaysia worth $2 million.")
                .is_empty()
        );
    }
}
