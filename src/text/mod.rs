//! How text becomes indexed words, for archived articles and for queries alike.
//!
//! Latin-script (and any other space-separated) text is cut into runs of letters and digits, as
//! tantivy's default tokenizer does. Chinese, Japanese and Korean are written without spaces, so a
//! run of Han characters would otherwise be one "word" and nothing inside a sentence could be
//! found. CJK runs are therefore segmented:
//!
//! - the language of a text is detected from its script mix ([`detect`]): Hangul → Korean, enough
//!   kana → Japanese, Han alone → Chinese, a little kana among Han → unknown;
//! - Chinese is cut into dictionary words by jieba;
//! - Japanese, Korean and text of unknown language are cut into overlapping character bigrams
//!   (the registry ships no Japanese or Korean dictionary that builds without a download from
//!   elsewhere; see `docs/CJK.md`);
//! - every CJK character is NFKC-normalised (half-width katakana, full-width forms) and folded to
//!   its simplified Chinese form ([`fold`], from OpenCC's tables), so 中芯國際, 中芯国际 and the
//!   Japanese shinjitai forms meet in one term.
//!
//! A query is segmented by the same code. Because a query does not tell which language the
//! articles holding it are in, a query word with Han characters is asked in both ways the archive
//! may have cut it (dictionary words and bigrams): see [`query`].

mod fold;
pub mod query;
pub mod segment;

pub use segment::{TOKENIZER, analyzer, register};

/// The writing systems that matter to segmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Han,
    Kana,
    Hangul,
    /// Anything else (Latin, digits, Cyrillic, punctuation...).
    Other,
}

/// The script of `c`. Marks that live inside CJK words (the iteration mark 々, the prolonged
/// sound mark ー, the kana voicing marks) count as the script they sit in.
pub fn script(c: char) -> Script {
    match c as u32 {
        0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x323AF
        | 0x3005..=0x3007
        | 0x3021..=0x3029 => Script::Han,
        // The katakana middle dot separates words, like a space.
        0x30FB => Script::Other,
        0x3041..=0x309F | 0x30A0..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => Script::Kana,
        0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xD7B0..=0xD7FF => {
            Script::Hangul
        }
        _ => Script::Other,
    }
}

/// Whether `c` is written in a CJK script (and so segmented rather than split at spaces).
#[inline]
pub fn is_cjk(c: char) -> bool {
    // Everything below U+1100 is neither: ASCII and Latin text never pays for the lookup.
    (c as u32) >= 0x1100 && script(c) != Script::Other
}

/// Whether `text` holds any CJK character.
pub fn has_cjk(text: &str) -> bool {
    // CJK characters are three or four bytes long in UTF-8, with lead bytes from 0xE1.
    text.bytes().any(|b| b >= 0xE1) && text.chars().any(is_cjk)
}

/// The language a text's CJK runs are segmented as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Chinese,
    Japanese,
    Korean,
    /// CJK text whose language the script mix does not tell (a little kana among Han).
    Unknown,
}

/// The language of `text`'s CJK runs, told by its script mix; `None` without CJK characters.
///
/// Script statistics rather than a statistical language model: they are decisive for CJK (kana is
/// only Japanese, Hangul only Korean), cost one pass, and need no model data.
pub fn detect(text: &str) -> Option<Lang> {
    let (mut han, mut kana, mut hangul) = (0usize, 0usize, 0usize);
    for c in text.chars() {
        match script(c) {
            Script::Han => han += 1,
            Script::Kana => kana += 1,
            Script::Hangul => hangul += 1,
            Script::Other => {}
        }
    }
    if han + kana + hangul == 0 {
        return None;
    }
    Some(if hangul >= han + kana {
        Lang::Korean
    } else if kana == 0 {
        Lang::Chinese
    } else if kana * 5 >= han + kana {
        // Running Japanese text is a third to a half kana; a fifth is already unmistakable.
        Lang::Japanese
    } else {
        Lang::Unknown
    })
}

/// `c` folded to its simplified Chinese form (traditional, Japanese shinjitai and regional
/// variants alike); other characters are returned as they are.
pub fn fold(c: char) -> char {
    if (c as u32) < 0x3400 {
        return c;
    }
    match fold::FOLD.binary_search_by_key(&c, |&(from, _)| from) {
        Ok(i) => fold::FOLD[i].1,
        Err(_) => c,
    }
}

/// `text` with every character folded as [`fold`] does.
pub fn fold_str(text: &str) -> String {
    text.chars().map(fold).collect()
}

/// `text` folded as [`fold`] does where that keeps each character's UTF-8 length (all but a few
/// rare characters outside the Basic Multilingual Plane): byte offsets found in the result are
/// offsets in `text`. Text without CJK characters is returned as it is, uncopied.
pub fn fold_keep_len(text: &str) -> std::borrow::Cow<'_, str> {
    if !has_cjk(text) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                let f = fold(c);
                if f.len_utf8() == c.len_utf8() { f } else { c }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_languages() {
        assert_eq!(script('中'), Script::Han);
        assert_eq!(script('々'), Script::Han);
        assert_eq!(script('の'), Script::Kana);
        assert_eq!(script('ー'), Script::Kana);
        assert_eq!(script('ｶ'), Script::Kana);
        assert_eq!(script('한'), Script::Hangul);
        assert_eq!(script('a'), Script::Other);
        assert_eq!(script('。'), Script::Other);
        assert_eq!(detect("Export controls"), None);
        assert_eq!(
            detect("美国商务部宣布新的出口管制措施。"),
            Some(Lang::Chinese)
        );
        assert_eq!(
            detect("経済産業省は半導体の輸出規制を強化した。"),
            Some(Lang::Japanese)
        );
        assert_eq!(
            detect("산업통상자원부는 반도체 수출 규제를 발표했다."),
            Some(Lang::Korean)
        );
        // One katakana name in a long Chinese sentence: neither clearly.
        assert_eq!(
            detect("美国商务部宣布对中国芯片企业实施新的出口管制措施ソニー"),
            Some(Lang::Unknown)
        );
    }

    #[test]
    fn folding_meets_traditional_simplified_and_japanese_forms() {
        assert_eq!(fold_str("中芯國際"), "中芯国际");
        assert_eq!(fold_str("中芯国际"), "中芯国际");
        assert_eq!(fold_str("台積電"), "台积电");
        assert_eq!(fold_str("華為"), "华为");
        assert_eq!(fold_str("経済産業省"), "经济产业省");
        assert_eq!(fold_str("經濟產業省"), "经济产业省");
        assert_eq!(fold_str("半導体"), fold_str("半導體"));
        assert_eq!(fold_str("Nvidia H100"), "Nvidia H100");
        let text = "美國商務部：中芯國際 H100";
        assert_eq!(fold_keep_len(text), "美国商务部：中芯国际 H100");
        assert_eq!(fold_keep_len(text).len(), text.len());
        assert!(matches!(
            fold_keep_len("Export"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
