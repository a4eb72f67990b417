//! Names and text into comparable tokens: lower case, diacritics stripped (NFKD, marks dropped),
//! apostrophes and dots removed inside words (`O'Neil` = `ONeil`, `U.S.` = `US`), other
//! punctuation a word break, `&` = `and`, each Han/kana/hangul character a token of its own (in
//! its simplified form, as the analyzer folds it). Names additionally lose company legal forms
//! (`Co., Ltd.`, `Corporation`, `LLC`, `GmbH`, `JSC`, `OOO`, `有限公司`, ...) at either end.

use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

/// One normalised word and where it was in the text (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

impl AsRef<str> for Token {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

/// Characters deleted without breaking a word.
fn joiner(c: char) -> bool {
    matches!(c, '\'' | '’' | '‘' | 'ʼ' | '`' | '´' | '.' | '\u{AD}')
}

fn special(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "ss",
        'æ' | 'Æ' => "ae",
        'œ' | 'Œ' => "oe",
        'ø' | 'Ø' => "o",
        'đ' | 'Đ' => "d",
        'ł' | 'Ł' => "l",
        'ı' => "i",
        'þ' | 'Þ' => "th",
        _ => return None,
    })
}

/// One token of [`scan`]: where it is in the text and in the normalised buffer (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub norm_start: usize,
    pub norm_end: usize,
}

/// Normalises `text` into `norm` (each token followed by one space; `norm` should start with a
/// space for token-boundary matching) and records each token's [`Span`]. No allocation per
/// token: this runs over every article.
///
/// With `keep_lowercase` false (articles), a word written in lower case that is not one of
/// `connectors` is no part of a name: it becomes a barrier token `|` (runs of them one), which no
/// name contains, so the automaton reads much less and never matches across such words.
pub fn scan(
    text: &str,
    norm: &mut String,
    spans: &mut Vec<Span>,
    keep_lowercase: bool,
    connector: fn(&str) -> bool,
) {
    // The token being written: its start in `text` and in `norm`, and its end in `text`.
    let mut open: Option<(usize, usize)> = None;
    let mut end = 0usize;
    let flush = |open: &mut Option<(usize, usize)>,
                 end: usize,
                 norm: &mut String,
                 spans: &mut Vec<Span>| {
        if let Some((start, norm_start)) = open.take() {
            let lower = !keep_lowercase
                && text[start..].chars().next().is_some_and(char::is_lowercase)
                && !connector(&norm[norm_start..]);
            if lower {
                norm.truncate(norm_start);
                if spans
                    .last()
                    .is_some_and(|s| &norm[s.norm_start..s.norm_end] == "|")
                {
                    return;
                }
                norm.push('|');
            }
            spans.push(Span {
                start,
                end,
                norm_start,
                norm_end: norm.len(),
            });
            norm.push(' ');
        }
    };
    let begin = |open: &mut Option<(usize, usize)>, at: usize, norm: &String| {
        if open.is_none() {
            *open = Some((at, norm.len()));
        }
    };
    let mut skip_to = 0usize;
    for (i, c) in text.char_indices() {
        if i < skip_to {
            continue;
        }
        let next = i + c.len_utf8();
        // The possessive `'s` is not part of the name: `Russia's` is `Russia`.
        if matches!(c, '\'' | '’') && open.is_some() {
            let rest = &text.as_bytes()[next..];
            if matches!(rest.first(), Some(b's' | b'S'))
                && !rest
                    .get(1)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b >= 0x80)
            {
                skip_to = next + 1;
                continue;
            }
        }
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                begin(&mut open, i, norm);
                norm.push(c.to_ascii_lowercase());
                end = next;
            } else if joiner(c) {
                continue;
            } else if c == '+' && open.is_some() {
                // `EN+`, `C++`: part of the name.
                norm.push('+');
                end = next;
            } else {
                flush(&mut open, end, norm, spans);
                if c == '&' {
                    begin(&mut open, i, norm);
                    norm.push_str("and");
                    flush(&mut open, next, norm, spans);
                }
            }
            continue;
        }
        if crate::text::is_cjk(c) {
            flush(&mut open, end, norm, spans);
            begin(&mut open, i, norm);
            norm.push(crate::text::fold(c));
            flush(&mut open, next, norm, spans);
            continue;
        }
        if joiner(c) {
            continue;
        }
        if let Some(s) = special(c) {
            begin(&mut open, i, norm);
            norm.push_str(s);
            end = next;
            continue;
        }
        let mut any = false;
        for d in std::iter::once(c).nfkd() {
            if unicode_normalization::char::is_combining_mark(d) {
                continue;
            }
            if d.is_alphanumeric() {
                begin(&mut open, i, norm);
                norm.extend(d.to_lowercase());
                any = true;
            } else if !joiner(d) {
                flush(&mut open, end, norm, spans);
            }
        }
        if any {
            end = next;
        } else if !unicode_normalization::char::is_combining_mark(c) && !c.is_alphanumeric() {
            flush(&mut open, end, norm, spans);
        }
    }
    flush(&mut open, end, norm, spans);
}

/// The tokens of `text`.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut norm = String::with_capacity(text.len() + 8);
    let mut spans = Vec::new();
    scan(text, &mut norm, &mut spans, true, |_| false);
    spans
        .iter()
        .map(|s| Token {
            text: norm[s.norm_start..s.norm_end].to_string(),
            start: s.start,
            end: s.end,
        })
        .collect()
}

/// The words of `text`, normalised, without positions.
pub fn words(text: &str) -> Vec<String> {
    tokens(text).into_iter().map(|t| t.text).collect()
}

/// Legal forms stripped from the end of a company name (longest first).
const SUFFIXES: &[&str] = &[
    "public joint stock company",
    "closed joint stock company",
    "open joint stock company",
    "joint stock company",
    "limited liability company",
    "limited liability partnership",
    "company limited",
    "co limited",
    "private limited",
    "pvt ltd",
    "pte ltd",
    "co ltd",
    "co inc",
    "sa de cv",
    "s de rl de cv",
    "s de rl",
    "de cv",
    "sp z oo",
    "fz llc",
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "公司",
    "株式会社",
    "limited",
    "ltd",
    "corporation",
    "corp",
    "incorporated",
    "inc",
    "llc",
    "gmbh",
    "ag",
    "jsc",
    "pjsc",
    "ojsc",
    "cjsc",
    "ooo",
    "oao",
    "zao",
    "pao",
    "ao",
    "tov",
    "llp",
    "lp",
    "plc",
    "pte",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "bv",
    "nv",
    "kk",
    "fze",
    "fzco",
    "fzc",
    "company",
    "co",
];

/// Legal forms stripped from the start of a company name.
const PREFIXES: &[&str] = &[
    "public joint stock company",
    "closed joint stock company",
    "open joint stock company",
    "joint stock company",
    "limited liability company",
    "federal state unitary enterprise",
    "株式会社",
    "the",
    "ooo",
    "oao",
    "zao",
    "pao",
    "ao",
    "jsc",
    "pjsc",
    "ojsc",
    "cjsc",
    "tov",
    "llc",
    "pt",
];

fn compile(list: &[&str]) -> Vec<Vec<String>> {
    list.iter().map(|s| words(s)).collect()
}

static SUFFIX_WORDS: LazyLock<Vec<Vec<String>>> = LazyLock::new(|| compile(SUFFIXES));
static PREFIX_WORDS: LazyLock<Vec<Vec<String>>> = LazyLock::new(|| compile(PREFIXES));

/// `words` without legal forms at either end (never down to nothing).
pub fn strip_legal_forms(mut words: Vec<String>) -> Vec<String> {
    loop {
        let before = words.len();
        for s in SUFFIX_WORDS.iter() {
            if words.len() > s.len() && words.ends_with(s) {
                words.truncate(words.len() - s.len());
                break;
            }
        }
        for p in PREFIX_WORDS.iter() {
            if words.len() > p.len() && words.starts_with(p) {
                words.drain(..p.len());
                break;
            }
        }
        if words.len() == before {
            return words;
        }
    }
}

/// Whether `words` begin with a company legal form (`Corp`, `Co Ltd`, `有限公司`, ...).
pub fn starts_with_legal_form<S: AsRef<str>>(words: &[S]) -> bool {
    SUFFIX_WORDS
        .iter()
        .any(|s| s.len() <= words.len() && s.iter().zip(words).all(|(a, b)| a == b.as_ref()))
}

/// A company name's words as compared: legal forms gone.
pub fn company_words(name: &str) -> Vec<String> {
    strip_legal_forms(words(name))
}

/// A person's name in given-name order: OFAC writes `CRUZ, Juan M. de la` (surname, comma, given
/// names), the UN writes given names first.
pub fn person_words(name: &str) -> Vec<String> {
    match name.split_once(',') {
        Some((surname, given)) if !given.trim().is_empty() => {
            let mut w = words(given);
            w.extend(words(surname));
            w
        }
        _ => words(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_diacritics_punctuation() {
        assert_eq!(
            words("Škoda Müller-Lüdenscheidt"),
            ["skoda", "muller", "ludenscheidt"]
        );
        assert_eq!(words("O'Neil & Sons, U.S."), ["oneil", "and", "sons", "us"]);
        assert_eq!(words("ABU-'UMAR"), ["abu", "umar"]);
        assert_eq!(words("Straße"), ["strasse"]);
        assert_eq!(words("華為技術"), ["华", "为", "技", "术"]);
        assert_eq!(words("ＳＭＩＣ"), ["smic"]);
        assert_eq!(words("Сбербанк России"), ["сбербанк", "россии"]);
    }

    #[test]
    fn offsets_point_into_the_text() {
        let t = "Sanctions on Ümit's firm";
        let toks = tokens(t);
        assert_eq!(&t[toks[2].start..toks[2].end], "Ümit");
        assert_eq!(toks[2].text, "umit");
        assert_eq!(words("Russia’s O'Shea"), ["russia", "oshea"]);
    }

    #[test]
    fn company_suffixes() {
        assert_eq!(
            company_words("HUAWEI TECHNOLOGIES CO., LTD."),
            ["huawei", "technologies"]
        );
        assert_eq!(
            company_words("PUBLIC JOINT STOCK COMPANY SBERBANK OF RUSSIA"),
            ["sberbank", "of", "russia"]
        );
        assert_eq!(
            company_words("GAZPROMBANK JOINT STOCK COMPANY"),
            ["gazprombank"]
        );
        assert_eq!(company_words("Acme GmbH"), ["acme"]);
        assert_eq!(company_words("OOO Stroygazmontazh"), ["stroygazmontazh"]);
        assert_eq!(company_words("华为技术有限公司"), ["华", "为", "技", "术"]);
        assert_eq!(company_words("中芯国际集成电路制造股份有限公司").len(), 10);
        // Never stripped down to nothing.
        assert_eq!(company_words("Limited"), ["limited"]);
    }

    #[test]
    fn person_word_order() {
        assert_eq!(
            person_words("CRUZ, Juan M. de la"),
            ["juan", "m", "de", "la", "cruz"]
        );
        assert_eq!(person_words("ERIC BADEGE"), ["eric", "badege"]);
    }
}
