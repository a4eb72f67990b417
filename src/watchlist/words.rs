//! Word lists for matching: words too common to identify a party alone, words a company's short
//! name drops, and the names and adjectives of countries that corroborate a listed party's
//! country.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// Everyday English words, business vocabulary, name particles and the most frequent given names
/// and surnames of the lists: a name made of these only (`GOLDEN STAR`, `NEW LIFE`, `ALI HASSAN`)
/// identifies no one without corroboration.
const COMMON: &str = "a about after against air all also am an and any are as at back bank be been best big \
black blue bridge by can capital center central centre city come commercial company construction \
consulting corporation could day de del della den der des development di do du east eastern economic \
education electric electronics energy engineering enterprise enterprises equipment export exports \
express far finance financial first for foreign free from fund general global gold golden good great \
green group has have he her here his holding holdings home hope house i if import imports in industrial \
industries industry information institute international into invest investment investments is it its \
just la land las le les life light like line link logistics los machinery made management manufacturing \
marine maritime market media metal metals mining more most my national network new no north northern \
not now of office oil on one only or ordinary other our out over pacific petroleum plus power private \
products project public red research resources river road royal sea security semiconductor service \
services shipping silver so social solutions south southern star state steel supply system systems \
technical technologies technology tech telecom that the their them there they this time to trade \
trading transport travel trust union united up us very water way we west western what when which who \
will with world year you your \
al el bin ibn abu abd abdul abdel ben bint da dos van von y e \
mohammed muhammad mohammad mohamed ahmed ahmad ali hassan hasan hussein husayn hussain omar umar \
abdullah abdallah ibrahim ismail khalid khaled mahmoud mahmud mustafa yusuf youssef salem salim \
said saeed karim rahman aziz hamid hamed jamal nasser nasir rashid saleh salih sami tariq walid \
kim lee li wang zhang chen liu yang huang zhao wu zhou xu sun ma zhu hu guo lin he gao luo park choi \
jung kang cho yoon jang han song pak ri jong chol il un ho nam su hyok \
jose juan carlos luis jorge pedro antonio manuel francisco maria ana garcia rodriguez martinez \
lopez gonzalez hernandez perez sanchez ramirez torres flores rivera gomez diaz cruz morales \
john james michael david robert william richard thomas mark paul peter george smith johnson \
alexander aleksandr sergey sergei vladimir andrey andrei dmitry igor ivan nikolai oleg viktor yuri \
ivanov petrov smirnov popov";

/// Words a company's short name leaves off: `HUAWEI TECHNOLOGIES` is called "Huawei".
const GENERIC: &str = "technologies technology tech group holdings holding international investment \
investments industries industrial enterprises enterprise company corporation and trading global \
electronics communications telecommunications network networks systems solutions";

/// Country names (as lists write them and as the press does), adjectives, capitals, ISO codes.
const COUNTRIES: &[(&str, &str)] = &[
    ("china", "china|chinese|beijing|prc|cn|中国"),
    ("hong kong", "hong kong|hk|香港"),
    ("taiwan", "taiwan|taiwanese|tw"),
    (
        "russia",
        "russia|russian|moscow|kremlin|russian federation|ru|俄罗斯",
    ),
    ("iran", "iran|iranian|tehran|ir"),
    (
        "north korea",
        "north korea|north korean|dprk|pyongyang|korea north|kp|朝鲜",
    ),
    ("syria", "syria|syrian|damascus|sy"),
    ("cuba", "cuba|cuban|havana|cu"),
    ("venezuela", "venezuela|venezuelan|caracas|ve"),
    ("belarus", "belarus|belarusian|minsk|by"),
    (
        "united arab emirates",
        "united arab emirates|uae|emirati|dubai|abu dhabi|ae",
    ),
    ("turkey", "turkey|turkiye|turkish|ankara|istanbul|tr"),
    ("iraq", "iraq|iraqi|baghdad|iq"),
    ("lebanon", "lebanon|lebanese|beirut|lb"),
    ("afghanistan", "afghanistan|afghan|kabul|af"),
    ("pakistan", "pakistan|pakistani|islamabad|pk"),
    ("yemen", "yemen|yemeni|sanaa|ye"),
    ("libya", "libya|libyan|tripoli|ly"),
    ("somalia", "somalia|somali|mogadishu|so"),
    ("sudan", "sudan|sudanese|khartoum|sd"),
    ("mexico", "mexico|mexican|mx"),
    ("colombia", "colombia|colombian|bogota|co"),
    ("myanmar", "myanmar|burma|burmese|mm"),
    ("malaysia", "malaysia|malaysian|kuala lumpur|my"),
    ("singapore", "singapore|singaporean|sg"),
    ("india", "india|indian|new delhi|in"),
    ("armenia", "armenia|armenian|yerevan|am"),
    ("kazakhstan", "kazakhstan|kazakh|kz"),
    ("ukraine", "ukraine|ukrainian|kyiv|kiev|ua"),
    ("crimea", "crimea|crimean"),
    (
        "democratic republic of the congo",
        "democratic republic of the congo|drc|congolese|kinshasa|cd",
    ),
];

pub(super) static COMMON_WORDS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    COMMON
        .split_whitespace()
        .map(str::to_string)
        .chain(
            COUNTRIES
                .iter()
                .flat_map(|(_, t)| t.split('|'))
                .flat_map(super::normalize::words),
        )
        .collect()
});

pub(super) static GENERIC_WORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| GENERIC.split_whitespace().collect());

/// Normalised country name or code → the normalised terms that name it in text.
static COUNTRY_TERMS: LazyLock<HashMap<String, Vec<String>>> = LazyLock::new(|| {
    let mut m = HashMap::new();
    for (_, terms) in COUNTRIES {
        let all: Vec<String> = terms
            .split('|')
            .map(|t| super::normalize::words(t).join(" "))
            .collect();
        // Two-letter codes name the country in a list, never in text ("in", "co", "my").
        let text_terms: Vec<String> = all.iter().filter(|t| t.len() > 2).cloned().collect();
        for t in &all {
            m.entry(t.clone()).or_insert_with(|| text_terms.clone());
        }
    }
    m
});

/// The terms (normalised, words joined by single spaces) that name a list's country in text.
pub(super) fn country_terms(country: &str) -> Vec<String> {
    let key = super::normalize::words(country).join(" ");
    if key.is_empty() {
        return Vec::new();
    }
    match COUNTRY_TERMS.get(&key) {
        Some(t) => t.clone(),
        None if key.len() > 2 => vec![key],
        None => Vec::new(),
    }
}

/// Whether a country word names the country only (`russia` in `sberbank of russia`).
pub(super) fn is_country_word(words: &[String]) -> bool {
    COUNTRY_TERMS.contains_key(&words.join(" "))
}
