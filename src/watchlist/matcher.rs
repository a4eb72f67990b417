//! Every name form of every loaded list in one Aho-Corasick automaton, matched on token
//! boundaries against normalised article text and the article's gazetteer entities.
//!
//! Precision first. A name form is matched alone only when it identifies a party: two or more
//! words, not all of them common words. Weak aliases (the lists' own low-quality marks), one-word
//! names, common-word names and derived short names (`Huawei` for `HUAWEI TECHNOLOGIES CO.,
//! LTD.`, `Sberbank` for `SBERBANK OF RUSSIA`) need corroboration in the same article: the span is
//! an entity the gazetteer recognised, another of the entry's names is there too, or (for names
//! that are neither common words nor short acronyms) the entry's country is named. Without it they
//! are skipped. Each match has a score in 0..1 and a reason.

use std::collections::{HashMap, HashSet};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use serde::{Deserialize, Serialize};

use super::normalize::{self, company_words, person_words};
use super::words::{COMMON_WORDS, GENERIC_WORDS, country_terms, is_country_word};
use super::{Entry, EntryKind};

/// A listing attached to an article or hit (the API's `listed` items).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Listing {
    /// The configured name of the list (`[[watchlist]] name`).
    pub list: String,
    /// The entry's name as the list writes it.
    pub name: String,
    /// The list's own id of the entry.
    pub id: String,
    pub programs: Vec<String>,
    /// `YYYY-MM-DD` where the list says.
    pub listed_on: Option<String>,
}

/// One match of a listed party, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub list: String,
    pub id: String,
    pub name: String,
    pub kind: EntryKind,
    pub programs: Vec<String>,
    pub listed_on: Option<String>,
    /// The words that matched, as written.
    pub matched: String,
    pub score: f64,
    pub reason: String,
}

impl Match {
    pub fn listing(&self) -> Listing {
        Listing {
            list: self.list.clone(),
            name: self.name.clone(),
            id: self.id.clone(),
            programs: self.programs.clone(),
            listed_on: self.listed_on.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// The entry's name.
    Name,
    /// One of its aliases.
    Alias,
    /// The name in the other word order (surname first or last), or without initials.
    Order,
    /// A person's first and last name, middle names left out.
    Short,
    /// A company's short name: generic words and `of <country>` left off.
    Derived,
    /// A person's surname alone.
    Surname,
}

impl Class {
    fn score(self) -> f64 {
        match self {
            Class::Name => 0.95,
            Class::Alias => 0.9,
            Class::Order => 0.88,
            Class::Short => 0.8,
            Class::Derived => 0.8,
            Class::Surname => 0.75,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Class::Name => "its name",
            Class::Alias => "its alias",
            Class::Order => "its name in another word order",
            Class::Short => "its first and last name",
            Class::Derived => "its short name",
            Class::Surname => "its surname",
        }
    }
}

#[derive(Debug, Clone)]
struct Form {
    entry: u32,
    class: Class,
    weak: bool,
    /// Why it needs corroboration, if it does.
    needs: Option<&'static str>,
    /// Made of common words only: a country does not corroborate it.
    common: bool,
}

/// The compiled lists.
pub struct Matcher {
    lists: Vec<String>,
    entries: Vec<(u32, Entry)>,
    forms: Vec<Form>,
    /// Pattern id → forms with that text.
    patterns: Vec<Vec<u32>>,
    /// Pattern id → number of words.
    pattern_words: Vec<u32>,
    by_text: HashMap<String, u32>,
    ac: Option<AhoCorasick>,
    /// A list's country as written → the terms naming it, each between spaces.
    country_terms: HashMap<String, Vec<String>>,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("lists", &self.lists)
            .field("entries", &self.entries.len())
            .field("forms", &self.forms.len())
            .finish()
    }
}

/// The name forms of one entry: (words, class, weak).
fn forms_of(e: &Entry) -> Vec<(Vec<String>, Class, bool)> {
    let mut out: Vec<(Vec<String>, Class, bool)> = Vec::new();
    let mut push = |w: Vec<String>, class: Class, weak: bool| {
        if !w.is_empty() && !out.iter().any(|(x, _, _)| *x == w) {
            out.push((w, class, weak));
        }
    };
    if e.kind == EntryKind::Person {
        let person = |name: &str,
                      class: Class,
                      weak: bool,
                      push: &mut dyn FnMut(Vec<String>, Class, bool)| {
            let main = person_words(name);
            push(main.clone(), class, weak);
            if weak {
                return;
            }
            // The list's own order (`CRUZ Juan`) or, without a comma, surname first.
            if name.contains(',') {
                push(normalize::words(name), Class::Order, false);
            } else if main.len() >= 2 {
                let mut w = vec![main[main.len() - 1].clone()];
                w.extend_from_slice(&main[..main.len() - 1]);
                push(w, Class::Order, false);
            }
            // Spanish double surnames: `MADURO MOROS, Nicolas` is "Nicolas Maduro".
            if let Some((surname, given)) = name.split_once(',') {
                let surnames = normalize::words(surname);
                if surnames.len() == 2 && !given.trim().is_empty() {
                    let mut w = normalize::words(given);
                    w.push(surnames[0].clone());
                    push(w, Class::Short, false);
                }
            }
            // The surname alone ("Deripaska"), which needs corroboration as one word.
            let surname = match name.split_once(',') {
                Some((s, g)) if !g.trim().is_empty() => normalize::words(s).first().cloned(),
                _ => main.last().cloned(),
            };
            if let Some(s) = surname
                && main.len() >= 2
                && s.chars().count() >= 4
            {
                push(vec![s], Class::Surname, false);
            }
            let no_initials: Vec<String> = main
                .iter()
                .filter(|w| w.chars().count() > 1)
                .cloned()
                .collect();
            if no_initials.len() >= 2 && no_initials.len() < main.len() {
                push(no_initials.clone(), Class::Order, false);
            }
            if no_initials.len() >= 3 {
                push(
                    vec![
                        no_initials[0].clone(),
                        no_initials[no_initials.len() - 1].clone(),
                    ],
                    Class::Short,
                    false,
                );
            }
        };
        person(&e.name, Class::Name, false, &mut push);
        for a in &e.aliases {
            person(&a.name, Class::Alias, a.weak, &mut push);
        }
    } else {
        // `OCEAN MARITIME MANAGEMENT COMPANY, LIMITED (OMM)`: the name without its acronym, and
        // the acronym as a weak alias.
        if let Some((base, acronym)) = parenthetical(&e.name) {
            push(company_words(base), Class::Name, false);
            push(company_words(acronym), Class::Alias, true);
        }
        let main = company_words(&e.name);
        push(main.clone(), Class::Name, false);
        if let Some(d) = derived(&main) {
            push(d, Class::Derived, false);
        }
        for a in &e.aliases {
            let w = company_words(&a.name);
            if !a.weak
                && let Some(d) = derived(&w)
            {
                push(w, Class::Alias, false);
                push(d, Class::Derived, false);
            } else {
                push(w, Class::Alias, a.weak);
            }
        }
    }
    out
}

/// A name ending in a parenthesised acronym, split: (`DAEDONG CREDIT BANK`, `DCB`).
fn parenthetical(name: &str) -> Option<(&str, &str)> {
    let t = name.trim().strip_suffix(')')?;
    let open = t.rfind('(')?;
    let inner = t[open + 1..].trim();
    let base = t[..open].trim();
    let acronym = inner.len() <= 10
        && inner
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        && !normalize::starts_with_legal_form(&normalize::words(inner))
        && !COMMON_WORDS.contains(&inner.to_ascii_lowercase());
    (!base.is_empty() && acronym).then_some((base, inner))
}

/// A company's short name, when it has one: `of <country>` and generic words (Technologies,
/// Group, International, ...) left off the end.
fn derived(words: &[String]) -> Option<Vec<String>> {
    derived_with_cost(words).map(|(w, _)| w)
}

/// [`derived`], and how many generic words it left off (`of <country>` costs nothing): a short
/// name shared by entries goes to the one that lost least to become it.
fn derived_with_cost(words: &[String]) -> Option<(Vec<String>, usize)> {
    let mut w: Vec<String> = words.to_vec();
    if let Some(of) = w.iter().rposition(|x| x == "of")
        && of > 0
        && is_country_word(&w[of + 1..])
    {
        w.truncate(of);
    }
    let mut cost = 0;
    while w.len() > 1 && w.last().is_some_and(|x| GENERIC_WORDS.contains(x.as_str())) {
        w.pop();
        cost += 1;
    }
    // The city or province a Chinese company's registered name begins with (`HANGZHOU
    // HIKVISION`): the press leaves it off.
    if w.len() > 1 && PLACES.contains(&w[0].as_str()) {
        w.remove(0);
        cost += 1;
        while w.len() > 1 && w.last().is_some_and(|x| GENERIC_WORDS.contains(x.as_str())) {
            w.pop();
            cost += 1;
        }
    }
    (w.len() < words.len() && !w.is_empty()).then_some((w, cost))
}

/// Cities and provinces that begin Chinese companies' registered names.
const PLACES: &[&str] = &[
    "beijing",
    "shanghai",
    "shenzhen",
    "hangzhou",
    "guangzhou",
    "wuhan",
    "chengdu",
    "nanjing",
    "tianjin",
    "xian",
    "hefei",
    "suzhou",
    "zhuhai",
    "xiamen",
    "jiangsu",
    "zhejiang",
    "guangdong",
    "sichuan",
    "hubei",
    "anhui",
    "fujian",
    "shandong",
    "hunan",
    "henan",
    "jiangxi",
    "liaoning",
    "shaanxi",
    "chongqing",
    "dalian",
    "qingdao",
    "ningbo",
    "changsha",
    "harbin",
    "shenyang",
];

/// Words written in lower case inside capitalised names (`Bank of Russia`, `Juan de la Cruz`).
const CONNECTORS: &[&str] = &[
    "of", "and", "the", "for", "de", "del", "la", "las", "los", "da", "do", "dos", "du", "van",
    "von", "der", "den", "al", "el", "bin", "ibn", "y", "e", "et", "in", "on",
];

/// [`CONNECTORS`] as one `match`: asked of every lower-case word of every article.
fn is_connector(w: &str) -> bool {
    matches!(
        w,
        "of" | "and"
            | "the"
            | "for"
            | "de"
            | "del"
            | "la"
            | "las"
            | "los"
            | "da"
            | "do"
            | "dos"
            | "du"
            | "van"
            | "von"
            | "der"
            | "den"
            | "al"
            | "el"
            | "bin"
            | "ibn"
            | "y"
            | "e"
            | "et"
            | "in"
            | "on"
    )
}

/// Particles of personal names, not names themselves.
const PARTICLES: &[&str] = &[
    "de", "del", "della", "la", "las", "los", "da", "dos", "du", "van", "von", "der", "den", "al",
    "el", "bin", "ibn", "bint", "abu", "y", "e",
];

fn is_cjk_word(w: &str) -> bool {
    w.chars().next().is_some_and(crate::text::is_cjk)
}

/// Why a form needs corroboration (None: it identifies a party alone), and whether it is made of
/// common words only.
fn needs(words: &[String], class: Class, weak: bool, person: bool) -> (Option<&'static str>, bool) {
    let mut common = words
        .iter()
        .all(|w| COMMON_WORDS.contains(w) || w.chars().count() == 1 && !is_cjk_word(w));
    // A person's three names are distinctive even when each is frequent (Kim Jong Un); two,
    // with particles aside (Juan de la Cruz), are not.
    if person && common {
        let names = words
            .iter()
            .filter(|w| !PARTICLES.contains(&w.as_str()))
            .count();
        common = names < 3;
    }
    let cjk = words.iter().all(|w| is_cjk_word(w));
    let reason = if weak {
        Some("a weak alias")
    } else if class == Class::Derived {
        Some("a short name")
    } else if cjk && words.len() < 3 {
        Some("a name of one or two characters")
    } else if !cjk && words.len() == 1 {
        Some("one word")
    } else if common {
        Some("common words")
    } else {
        None
    };
    (reason, common)
}

/// Normalised text with each token between single spaces, and where each token is.
struct Prepared {
    toks: Vec<normalize::Span>,
    norm: String,
}

impl Prepared {
    fn word(&self, i: usize) -> &str {
        let t = &self.toks[i];
        &self.norm[t.norm_start..t.norm_end]
    }

    /// Normalised words `first..last`, joined by single spaces.
    fn words(&self, first: usize, last: usize) -> &str {
        &self.norm[self.toks[first].norm_start..self.toks[last - 1].norm_end]
    }

    /// Up to six words from `first` on, for a legal form that may follow a name.
    fn next_words(&self, first: usize) -> Vec<&str> {
        (first..self.toks.len().min(first + 6))
            .map(|i| self.word(i))
            .collect()
    }
}

/// `text` prepared for matching; for an article (`article`), lower-case words other than
/// connectors are barriers (see [`normalize::scan`]): names are written capitalised.
fn prepare(text: &str, article: bool) -> Prepared {
    let mut norm = String::with_capacity(text.len() / 2 + 8);
    norm.push(' ');
    let mut toks = Vec::with_capacity(text.len() / 8);
    normalize::scan(text, &mut norm, &mut toks, !article, is_connector);
    Prepared { toks, norm }
}

struct Hit {
    pattern: u32,
    first: usize,
    /// One past the last token.
    last: usize,
}

impl Matcher {
    /// Compiles the lists: `(configured name, entries)`.
    pub fn new(lists: Vec<(String, Vec<Entry>)>) -> Matcher {
        let mut names = Vec::new();
        let mut entries = Vec::new();
        let mut forms: Vec<Form> = Vec::new();
        let mut patterns: Vec<Vec<u32>> = Vec::new();
        let mut pattern_words = Vec::new();
        let mut by_text: HashMap<String, u32> = HashMap::new();
        // (list, derived text) → (entry, words of its name): a short name shared by several
        // entries of a list goes to the one whose full name is shortest (Huawei Technologies,
        // not Huawei Investment & Holding).
        let mut derived_owner: HashMap<(u32, String), (u32, (usize, usize))> = HashMap::new();
        let mut derived_forms: Vec<(String, Form)> = Vec::new();
        let mut strong_texts: HashSet<(u32, String)> = HashSet::new();
        for (li, (list, list_entries)) in lists.into_iter().enumerate() {
            names.push(list);
            let li = li as u32;
            for e in list_entries {
                let ei = entries.len() as u32;
                let fs = forms_of(&e);
                let name_len = fs.first().map(|f| f.0.len()).unwrap_or(0);
                let rank = |words: &[String]| {
                    let cost = fs
                        .iter()
                        .filter(|(w, c, _)| *c != Class::Derived && w.len() > words.len())
                        .filter_map(|(w, _, _)| derived_with_cost(w).filter(|(d, _)| d == words))
                        .map(|(_, cost)| cost)
                        .min()
                        .unwrap_or(usize::MAX / 2);
                    (cost, name_len)
                };
                for (words, class, weak) in fs.clone() {
                    let text = words.join(" ");
                    let person = e.kind == EntryKind::Person;
                    let (needs, common) = needs(&words, class, weak, person);
                    // One everyday word ("youth", "base", "ali"): no name to look for.
                    if common && words.len() == 1 && !is_cjk_word(&words[0]) {
                        continue;
                    }
                    let form = Form {
                        entry: ei,
                        class,
                        weak,
                        needs,
                        common,
                    };
                    if class == Class::Derived {
                        let r = rank(&words);
                        let owner = derived_owner.entry((li, text.clone())).or_insert((ei, r));
                        if r < owner.1 {
                            *owner = (ei, r);
                        }
                        derived_forms.push((text, form));
                        continue;
                    }
                    if matches!(class, Class::Name | Class::Alias) && needs.is_none() {
                        strong_texts.insert((li, text.clone()));
                    }
                    add_form(
                        &mut forms,
                        &mut patterns,
                        &mut pattern_words,
                        &mut by_text,
                        text,
                        words.len(),
                        form,
                    );
                }
                entries.push((li, e));
            }
        }
        for (text, form) in derived_forms {
            let li = entries[form.entry as usize].0;
            let owner = derived_owner.get(&(li, text.clone())).map(|o| o.0);
            // A short name that is another entry's full name is that entry's, unless that name
            // needs corroboration as well (one word): then the article's context decides.
            if owner != Some(form.entry) || strong_texts.contains(&(li, text.clone())) {
                continue;
            }
            let n = text.split(' ').count();
            add_form(
                &mut forms,
                &mut patterns,
                &mut pattern_words,
                &mut by_text,
                text,
                n,
                form,
            );
        }
        let mut texts: Vec<(u32, String)> = by_text
            .iter()
            .map(|(t, &p)| (p, format!(" {t} ")))
            .collect();
        texts.sort_unstable_by_key(|(p, _)| *p);
        let ac = (!texts.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
                    .match_kind(MatchKind::Standard)
                    .build(texts.iter().map(|(_, t)| t.as_str()))
                    .ok()
            })
            .flatten();
        let mut country_cache: HashMap<String, Vec<String>> = HashMap::new();
        for (_, e) in &entries {
            for c in &e.countries {
                if !country_cache.contains_key(c) {
                    let terms = country_terms(c).iter().map(|t| format!(" {t} ")).collect();
                    country_cache.insert(c.clone(), terms);
                }
            }
        }
        Matcher {
            lists: names,
            entries,
            forms,
            patterns,
            pattern_words,
            by_text,
            ac,
            country_terms: country_cache,
        }
    }

    /// The configured names of the lists, in order.
    pub fn lists(&self) -> &[String] {
        &self.lists
    }

    /// Entries loaded, over all lists.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The matches in `p`, a name inside a longer matched name left out, and the patterns found
    /// at all (inside longer names too).
    fn hits(&self, p: &Prepared) -> (Vec<Hit>, HashSet<u32>) {
        let Some(ac) = &self.ac else {
            return (Vec::new(), HashSet::new());
        };
        let mut hits: Vec<Hit> = ac
            .find_overlapping_iter(&p.norm)
            .filter_map(|m| {
                let first = p
                    .toks
                    .binary_search_by_key(&(m.start() + 1), |t| t.norm_start)
                    .ok()?;
                let pattern = m.pattern().as_u32();
                let last = first + self.pattern_words[pattern as usize] as usize;
                Some(Hit {
                    pattern,
                    first,
                    last,
                })
            })
            .collect();
        let seen = hits.iter().map(|h| h.pattern).collect();
        // A name inside a longer matched name is part of that name.
        let spans: Vec<(usize, usize)> = hits.iter().map(|h| (h.first, h.last)).collect();
        hits.retain(|h| {
            !spans
                .iter()
                .any(|&(f, l)| f <= h.first && l >= h.last && l - f > h.last - h.first)
        });
        (hits, seen)
    }

    /// The entries a matched pattern goes to (see [`Self::match_article`]).
    fn place(&self, pattern: u32, norm: &str) -> Vec<u32> {
        let forms = &self.patterns[pattern as usize];
        if let [only] = forms[..] {
            return vec![self.forms[only as usize].entry];
        }
        let mut out: Vec<u32> = Vec::new();
        let mut lists: Vec<u32> = forms
            .iter()
            .map(|&f| self.entries[self.forms[f as usize].entry as usize].0)
            .collect();
        lists.dedup();
        for list in lists {
            let mut bearers: Vec<(u32, Class)> = forms
                .iter()
                .map(|&f| &self.forms[f as usize])
                .filter(|f| self.entries[f.entry as usize].0 == list)
                .map(|f| (f.entry, f.class))
                .collect();
            bearers.dedup_by_key(|b| b.0);
            if bearers.len() > 1 {
                let named: Vec<(u32, Class)> = bearers
                    .iter()
                    .copied()
                    .filter(|b| self.country_named(b.0, norm).is_some())
                    .collect();
                if !named.is_empty() {
                    bearers = named;
                }
            }
            if bearers.len() > 1 && bearers.iter().any(|b| b.1 == Class::Name) {
                bearers.retain(|b| b.1 == Class::Name);
            }
            out.extend(bearers.iter().map(|b| b.0));
        }
        out
    }

    /// The entry's country that normalised text `norm` names, if any.
    fn country_named(&self, entry: u32, norm: &str) -> Option<&str> {
        let (_, e) = &self.entries[entry as usize];
        e.countries
            .iter()
            .find(|c| {
                self.country_terms
                    .get(c.as_str())
                    .is_some_and(|terms| terms.iter().any(|t| norm.contains(t.as_str())))
            })
            .map(String::as_str)
    }

    fn make(&self, form: &Form, written: &str, score: f64, reason: String) -> Match {
        let (li, e) = &self.entries[form.entry as usize];
        Match {
            list: self.lists[*li as usize].clone(),
            id: e.id.clone(),
            name: e.name.clone(),
            kind: e.kind,
            programs: e.programs.clone(),
            listed_on: e.listed_on.clone(),
            matched: written.to_string(),
            score,
            reason,
        }
    }

    /// Listed parties an article names. `entities` are the gazetteer's entities of the article.
    pub fn match_article(
        &self,
        title: &str,
        body: &str,
        entities: &[crate::analyze::Entity],
    ) -> Vec<Match> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        let text = format!("{title}\n{body}");
        let p = prepare(&text, true);
        let (hits, seen) = self.hits(&p);
        // Headlines in title case capitalise every word: there, capitals tell no name.
        let title_case = {
            let words = p
                .toks
                .iter()
                .take_while(|t| t.end <= title.len())
                .filter(|t| {
                    text[t.start..]
                        .chars()
                        .next()
                        .is_some_and(char::is_alphabetic)
                });
            let (mut n, mut caps) = (0usize, 0usize);
            for t in words {
                n += 1;
                caps += usize::from(
                    text[t.start..]
                        .chars()
                        .next()
                        .is_some_and(char::is_uppercase),
                );
            }
            n >= 4 && caps * 10 >= n * 8
        };
        // Normalised names of the entities the gazetteer recognised (countries aside).
        let recognised: HashMap<String, &str> = entities
            .iter()
            .filter(|e| e.kind != "country")
            .map(|e| (normalize::words(&e.name).join(" "), e.name.as_str()))
            .collect();
        let mut found_patterns: HashMap<u32, HashSet<u32>> = HashMap::new();
        // Most candidate words are everyday words some list uses as a name: a word that is
        // not written capitalised is no name here, and is dropped before any other check.
        let capitalised_word = |i: usize| {
            CONNECTORS.contains(&p.word(i))
                || text[p.toks[i].start..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_uppercase() || !c.is_lowercase())
        };
        let hits: Vec<&Hit> = hits
            .iter()
            .filter(|h| {
                (h.first..h.last).all(capitalised_word)
                    || !(h.first..h.last).any(|i| COMMON_WORDS.contains(p.word(i)))
                        && self.patterns[h.pattern as usize]
                            .iter()
                            .any(|&f| self.forms[f as usize].needs.is_none())
            })
            .collect();
        if hits.is_empty() && entities.is_empty() {
            return Vec::new();
        }
        for h in &hits {
            for &f in &self.patterns[h.pattern as usize] {
                found_patterns
                    .entry(self.forms[f as usize].entry)
                    .or_default()
                    .insert(h.pattern);
            }
        }
        let mut best: HashMap<u32, Match> = HashMap::new();
        // Patterns found at least once not as part of a longer name.
        let mut alone: HashSet<u32> = HashSet::new();
        let mut offer = |entry: u32, m: Match| {
            let slot = best.entry(entry).or_insert_with(|| m.clone());
            if m.score > slot.score {
                *slot = m;
            }
        };
        for h in &hits {
            let written = &text[p.toks[h.first].start..p.toks[h.last - 1].end];
            let span_text = p.words(h.first, h.last);
            // A name with everyday words in it is a name only where it is written as one
            // (`China Mobile`, not "China mobile phone shipments"); one that goes on from a
            // capitalised word is part of another name ("American Semiconductor Manufacturing
            // Corp." is not SMIC).
            let has_common = (h.first..h.last).any(|i| COMMON_WORDS.contains(p.word(i)));
            let titled = (h.first..h.last).all(|i| {
                CONNECTORS.contains(&p.word(i))
                    || text[p.toks[i].start..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_uppercase() || !c.is_lowercase())
            });
            let capitalised = |t: &normalize::Span| {
                text[t.start..]
                    .chars()
                    .next()
                    .is_some_and(char::is_uppercase)
            };
            let joined = |a: &normalize::Span, b: &normalize::Span| {
                !text[a.end..b.start]
                    .contains(['.', '!', '?', ':', ',', ';', '\n', '(', '"', '\'', '’'])
            };
            // Part of a longer name: a capitalised word runs into it, or (for names that need
            // corroboration, outside headlines in title case) it runs on into one.
            let after_name = h.first > 0 && {
                let prev = &p.toks[h.first - 1];
                joined(prev, &p.toks[h.first])
                    && capitalised(prev)
                    && !CONNECTORS.contains(&p.word(h.first - 1))
            };
            let in_title = p.toks[h.first].end <= title.len();
            let before_name = !(title_case && in_title) && h.last < p.toks.len() && {
                let next = &p.toks[h.last];
                joined(&p.toks[h.last - 1], next)
                    && capitalised(next)
                    && !normalize::starts_with_legal_form(&p.next_words(h.last))
            };
            let placed = self.place(h.pattern, &p.norm);
            for &fi in &self.patterns[h.pattern as usize] {
                let form = &self.forms[fi as usize];
                if !placed.contains(&form.entry) {
                    continue;
                }
                // A name that needs corroboration is at least written as a name: capitalised
                // ("Somalia's youth team" does not name THE YOUTH, an alias of al-Shabaab).
                if form.needs.is_some() && (after_name || before_name || !titled) {
                    continue;
                }
                alone.insert(h.pattern);
                if has_common && !titled {
                    continue;
                }
                let what = form.class.describe();
                let Some(need) = form.needs else {
                    let reason = format!("`{written}` is {what}");
                    offer(
                        form.entry,
                        self.make(form, written, form.class.score(), reason),
                    );
                    continue;
                };
                if let Some(entity) = recognised.get(span_text) {
                    let reason = format!(
                        "`{written}` is {what} ({need}), and the gazetteer recognised it as {entity}"
                    );
                    offer(form.entry, self.make(form, written, 0.85, reason));
                    continue;
                }
                let kind = self.entries[form.entry as usize].1.kind;
                if kind != EntryKind::Person
                    && !form.weak
                    && !after_name
                    && normalize::starts_with_legal_form(&p.next_words(h.last))
                {
                    let reason = format!(
                        "`{written}` is {what} ({need}), written with a company's legal form after it"
                    );
                    offer(form.entry, self.make(form, written, 0.85, reason));
                    continue;
                }
                if found_patterns.get(&form.entry).is_some_and(|s| s.len() > 1) {
                    let reason = format!(
                        "`{written}` is {what} ({need}), and another of its names is in the article"
                    );
                    offer(form.entry, self.make(form, written, 0.85, reason));
                    continue;
                }
                if form.common || span_text.chars().count() < 4 {
                    continue;
                }
                if let Some(c) = self.country_named(form.entry, &p.norm) {
                    let reason = format!(
                        "`{written}` is {what} ({need}), and the article names its country ({c})"
                    );
                    offer(form.entry, self.make(form, written, 0.75, reason));
                }
            }
        }
        // The gazetteer's entities by name: 中芯国际 in the text is SMIC, which the list has.
        for (norm, entity) in &recognised {
            let Some(&pattern) = self.by_text.get(norm) else {
                continue;
            };
            // Written only inside longer names ("SMIC Global Logistics"): not this party.
            if seen.contains(&pattern) && !alone.contains(&pattern) {
                continue;
            }
            for &fi in &self.patterns[pattern as usize] {
                let form = &self.forms[fi as usize];
                let reason = format!(
                    "the gazetteer recognised {entity}, which is {}",
                    form.class.describe()
                );
                let score = if form.needs.is_some() {
                    0.85
                } else {
                    form.class.score()
                };
                offer(form.entry, self.make(form, entity, score, reason));
            }
        }
        let mut out: Vec<Match> = best.into_values().collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// Entries a name given alone (`wirewatch watchlist check NAME`) may be: any of its name forms
    /// in the name on word boundaries; a form that needs corroboration in an article only when it
    /// is the whole name, with a lower score.
    pub fn check(&self, name: &str) -> Vec<Match> {
        let p = prepare(name, false);
        let (hits, _) = self.hits(&p);
        // The name without its legal form (`Co., Ltd.`) is what a form must cover to be the
        // whole name.
        let words: Vec<String> = (0..p.toks.len()).map(|i| p.word(i).to_string()).collect();
        let core = normalize::strip_legal_forms(words.clone());
        let core_start = (0..=words.len().saturating_sub(core.len()))
            .find(|&i| words[i..i + core.len()] == core[..])
            .unwrap_or(0);
        let core_end = core_start + core.len();
        let mut best: HashMap<u32, Match> = HashMap::new();
        for h in &hits {
            let written = &name[p.toks[h.first].start..p.toks[h.last - 1].end];
            let whole = h.first <= core_start && h.last >= core_end;
            for &fi in &self.patterns[h.pattern as usize] {
                let form = &self.forms[fi as usize];
                let what = form.class.describe();
                let (score, reason) = match (form.needs, whole) {
                    (None, true) => (form.class.score(), format!("`{written}` is {what}")),
                    (None, false) => (
                        form.class.score() - 0.05,
                        format!("`{written}`, within the name, is {what}"),
                    ),
                    (Some(need), true) => (
                        if form.weak { 0.6 } else { 0.7 },
                        format!(
                            "`{written}` is {what} ({need}): in an article it needs corroborating context"
                        ),
                    ),
                    (Some(_), false) => continue,
                };
                let m = self.make(form, written, score, reason);
                let slot = best.entry(form.entry).or_insert_with(|| m.clone());
                if m.score > slot.score {
                    *slot = m;
                }
            }
        }
        let mut out: Vec<Match> = best.into_values().collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        out
    }
}

fn add_form(
    forms: &mut Vec<Form>,
    patterns: &mut Vec<Vec<u32>>,
    pattern_words: &mut Vec<u32>,
    by_text: &mut HashMap<String, u32>,
    text: String,
    words: usize,
    form: Form,
) {
    let fi = forms.len() as u32;
    forms.push(form);
    let next = patterns.len() as u32;
    let p = *by_text.entry(text).or_insert(next);
    if p == next {
        patterns.push(Vec::new());
        pattern_words.push(words as u32);
    }
    patterns[p as usize].push(fi);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watchlist::Alias;

    fn entry(
        id: &str,
        name: &str,
        kind: EntryKind,
        aliases: &[(&str, bool)],
        countries: &[&str],
    ) -> Entry {
        Entry {
            id: id.into(),
            name: name.into(),
            kind,
            aliases: aliases
                .iter()
                .map(|(n, weak)| Alias {
                    name: n.to_string(),
                    weak: *weak,
                })
                .collect(),
            programs: vec!["CMIC-EO13959".into()],
            listed_on: None,
            countries: countries.iter().map(|c| c.to_string()).collect(),
        }
    }

    fn matcher() -> Matcher {
        Matcher::new(vec![(
            "ofac-non-sdn".into(),
            vec![
                entry(
                    "30947",
                    "HUAWEI TECHNOLOGIES CO., LTD.",
                    EntryKind::Entity,
                    &[],
                    &["China"],
                ),
                entry(
                    "32087",
                    "HUAWEI INVESTMENT & HOLDING CO., LTD.",
                    EntryKind::Entity,
                    &[],
                    &["China"],
                ),
                entry(
                    "30951",
                    "SEMICONDUCTOR MANUFACTURING INTERNATIONAL CORPORATION",
                    EntryKind::Entity,
                    &[("SMIC", true), ("SEMICONDUCTOR MFG INTL CORP", false)],
                    &["China"],
                ),
                entry(
                    "17018",
                    "PUBLIC JOINT STOCK COMPANY SBERBANK OF RUSSIA",
                    EntryKind::Entity,
                    &[],
                    &["Russia"],
                ),
                entry(
                    "587",
                    "CRUZ, Juan M. de la",
                    EntryKind::Person,
                    &[("Juanito", true)],
                    &["Cuba"],
                ),
                entry("9", "GOLDEN STAR CO", EntryKind::Entity, &[], &["Iran"]),
                entry(
                    "26235",
                    "MALKEVICH, Alexander Aleksandrovich",
                    EntryKind::Person,
                    &[],
                    &["Russia"],
                ),
            ],
        )])
    }

    fn ids(m: &[Match]) -> Vec<&str> {
        m.iter().map(|m| m.id.as_str()).collect()
    }

    #[test]
    fn full_names_match_alone() {
        let m = matcher();
        let r = m.match_article(
            "Semiconductor Manufacturing International Corp. shares fall",
            "",
            &[],
        );
        assert_eq!(ids(&r), ["30951"]);
        assert!(r[0].score >= 0.85, "{r:?}");
        for text in [
            "Treasury named Alexander Malkevich",
            "Malkevich Alexander Aleksandrovich was named",
            "Alexander Aleksandrovich Malkevich",
        ] {
            let r = m.match_article("", text, &[]);
            assert_eq!(ids(&r), ["26235"], "{text}: {r:?}");
        }
        // Every word of this name is a common one: it needs corroboration.
        assert!(m.match_article("", "Juan de la Cruz", &[]).is_empty());
    }

    #[test]
    fn short_and_weak_names_need_corroboration() {
        let m = matcher();
        assert!(
            m.match_article("SMIC results beat forecasts", "", &[])
                .is_empty()
        );
        let r = m.match_article(
            "SMIC results beat forecasts",
            "The Chinese chipmaker said.",
            &[],
        );
        assert_eq!(ids(&r), ["30951"], "{r:?}");
        assert!(r[0].reason.contains("country"), "{}", r[0].reason);
        let smic = crate::analyze::Entity {
            id: "smic".into(),
            kind: "company".into(),
            name: "SMIC".into(),
            count: 1,
        };
        let r = m.match_article("SMIC results beat forecasts", "", &[smic]);
        assert_eq!(ids(&r), ["30951"]);
        assert!(r[0].reason.contains("gazetteer"), "{}", r[0].reason);
        // Huawei is Huawei Technologies, not every Huawei company.
        let r = m.match_article("Huawei unveils a phone", "Shenzhen, China", &[]);
        assert_eq!(ids(&r), ["30947"], "{r:?}");
        assert!(
            m.match_article("Huawei unveils a phone", "", &[])
                .is_empty()
        );
        let r = m.match_article("Sberbank profit rises", "Russia's largest lender", &[]);
        assert_eq!(ids(&r), ["17018"]);
        // Common words never stand alone, and a country does not make them a name.
        assert_eq!(
            ids(&m.match_article("Golden Star Co wins contract", "", &[])),
            ["9"]
        );
        assert!(
            m.match_article("A golden star for Iran's team", "", &[])
                .is_empty()
        );
        // A weak alias with the entry's country named.
        assert_eq!(
            ids(&m.match_article("Juanito went to Cuba", "", &[])),
            ["587"]
        );
        assert!(m.match_article("Juanito went home", "", &[]).is_empty());
    }

    #[test]
    fn look_alikes_do_not_match() {
        let m = matcher();
        assert!(
            m.match_article(
                "International Business Machines Corp",
                "Semiconductor manufacturing in the US",
                &[]
            )
            .is_empty()
        );
        assert!(m.match_article("Huaweis", "", &[]).is_empty());
    }

    #[test]
    fn check_a_name() {
        let m = matcher();
        assert_eq!(ids(&m.check("Huawei Technologies Co Ltd")), ["30947"]);
        assert_eq!(ids(&m.check("SMIC")), ["30951"]);
        assert!(
            m.check("Huawei Technologies")
                .first()
                .is_some_and(|x| x.score > 0.9)
        );
        assert!(m.check("Acme").is_empty());
    }
}
