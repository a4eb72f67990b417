//! Structured facts read from single sentences: tariff changes for now.

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
        actor: Option<String>,
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

/// Facts stated in one sentence.
pub fn facts_in(sentence: &str) -> Vec<Fact> {
    let mut out = Vec::new();
    let actor = ACTOR.captures(sentence).map(|c| match &c["actor"] {
        "U.S." | "United States" | "Washington" | "Trump" | "Biden" => "US".to_string(),
        "Beijing" => "China".to_string(),
        "European Union" => "EU".to_string(),
        other => other.to_string(),
    });
    let pct = |s: &str| s.parse::<f64>().ok();
    let change = VERB_ON_FROM_TO
        .captures(sentence)
        .or_else(|| RAISE_FROM_TO.captures(sentence));
    if let Some(c) = change {
        if let (Some(from), Some(to)) = (pct(&c["from"]), pct(&c["to"])) {
            out.push(Fact::TariffChange {
                measure: "tariff".into(),
                product: Some(clean_product(&c["product"])),
                from_pct: Some(from),
                to_pct: to,
                actor,
                sentence: sentence.to_string(),
            });
        }
        return out;
    }
    if let Some(c) = FLAT_RATE.captures(sentence)
        && let Some(to) = pct(&c["to"])
    {
        out.push(Fact::TariffChange {
            measure: "tariff".into(),
            product: Some(clean_product(&c["product"])),
            from_pct: None,
            to_pct: to,
            actor,
            sentence: sentence.to_string(),
        });
    }
    out
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
        } = &f[0];
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
}
