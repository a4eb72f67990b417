//! The archive's tokenizer: Latin runs as tantivy's default tokenizer cuts them, CJK runs
//! segmented by language (see the module above), everything NFKC-normalised.

use std::sync::LazyLock;

use tantivy::tokenizer::{
    LowerCaser, RemoveLongFilter, TextAnalyzer, Token, TokenStream, Tokenizer, TokenizerManager,
};
use unicode_normalization::UnicodeNormalization;

use super::{Lang, Script, detect, fold, is_cjk, script};

/// The name the text fields' analyzer is registered under. It is also the archive's text-analysis
/// version: the schema stores it, so an archive tokenised another way is recognised when opened.
pub const TOKENIZER: &str = "text_v2";

/// A query text starting with this character has its CJK runs cut into dictionary words
/// (Chinese), whatever its script mix; see [`super::query`].
pub const AS_WORDS: char = '\u{E001}';
/// A query text starting with this character has its CJK runs cut into bigrams.
pub const AS_BIGRAMS: char = '\u{E000}';

/// jieba's dictionary (5 MB, embedded in the binary) is loaded on the first Chinese text: an
/// English-only archive never pays for it.
static JIEBA: LazyLock<jieba_rs::Jieba> = LazyLock::new(|| {
    let mut jieba = jieba_rs::Jieba::new();
    for word in BEAT_WORDS {
        jieba.add_word(word, None, None);
    }
    jieba
});

/// Names of the beat that jieba's general dictionary lacks (it cuts 中芯国际 into 中 / 芯 /
/// 国际). Part of the text analysis: changing this list changes how archived text was cut, so it
/// goes with a new [`TOKENIZER`] name and a reindex. Simplified forms: text is folded first.
const BEAT_WORDS: &[&str] = &[
    "中芯国际",
    "中芯",
    "华虹半导体",
    "长江存储",
    "长鑫存储",
    "台积电",
    "英伟达",
    "辉达",
    "海思",
    "寒武纪",
    "实体清单",
    "出口管制",
    "工业与安全局",
    "经济产业省",
    "光刻机",
    "阿斯麦",
];

/// The text fields' analyzer: segmentation, then tantivy's default filters (words of 40 bytes or
/// more dropped, lower case).
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(TextTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .build()
}

/// Registers the analyzer with an index's tokenizers.
pub fn register(manager: &TokenizerManager) {
    manager.register(TOKENIZER, analyzer());
}

/// The words of `text` as the archive indexes them: byte range in `text`, and the term.
pub fn words(text: &str) -> Vec<(usize, usize, String)> {
    let mut analyzer = analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        let t = stream.token();
        out.push((t.offset_from, t.offset_to, t.text.clone()));
    }
    out
}

#[derive(Clone, Default)]
pub struct TextTokenizer {
    token: Token,
    pending: Vec<Piece>,
}

/// A CJK word waiting to be handed out: its bytes in the text, its term, and whether it shares the
/// position of the word before it (a shorter word inside a longer one).
#[derive(Clone)]
struct Piece {
    from: usize,
    to: usize,
    text: String,
    inside: bool,
}

impl Tokenizer for TextTokenizer {
    type TokenStream<'a> = TextStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> TextStream<'a> {
        self.token.reset();
        self.pending.clear();
        let lang = match text.chars().next() {
            Some(AS_WORDS) => Some(Some(Lang::Chinese)),
            Some(AS_BIGRAMS) => Some(Some(Lang::Unknown)),
            _ => None,
        };
        TextStream {
            text,
            at: 0,
            lang,
            pending: &mut self.pending,
            next: 0,
            token: &mut self.token,
            position: 0,
        }
    }
}

pub struct TextStream<'a> {
    text: &'a str,
    /// Where scanning goes on.
    at: usize,
    /// The language of the text's CJK runs, detected on the first run (`None` until then).
    lang: Option<Option<Lang>>,
    pending: &'a mut Vec<Piece>,
    next: usize,
    token: &'a mut Token,
    position: usize,
}

impl TextStream<'_> {
    fn emit(&mut self, from: usize, to: usize, inside: bool) {
        self.token.offset_from = from;
        self.token.offset_to = to;
        if inside && self.position > 0 {
            self.token.position = self.position - 1;
        } else {
            self.token.position = self.position;
            self.position += 1;
        }
    }

    /// Segments the CJK run at `from..to` into `pending`.
    fn segment(&mut self, from: usize, to: usize) {
        let lang = *self.lang.get_or_insert_with(|| detect(self.text));
        let chars = normalised(&self.text[from..to], from, to);
        let pending = &mut *self.pending;
        if lang == Some(Lang::Chinese) {
            // Han stretches by dictionary; kana or Hangul inside Chinese text (a name) by bigrams.
            let mut i = 0;
            while i < chars.len() {
                let han = script(chars[i].0) == Script::Han;
                let j = (i..chars.len())
                    .find(|&k| (script(chars[k].0) == Script::Han) != han)
                    .unwrap_or(chars.len());
                if han {
                    words_into(&chars[i..j], pending);
                } else {
                    bigrams_into(&chars[i..j], pending);
                }
                i = j;
            }
        } else {
            bigrams_into(&chars, pending);
        }
    }
}

/// The characters of a CJK run, NFKC-normalised and folded, each with its bytes in the text.
fn normalised(run: &str, base: usize, end: usize) -> Vec<(char, usize, usize)> {
    let mut out: Vec<(char, usize, usize)> = Vec::with_capacity(run.len() / 3 + 1);
    for (i, c) in run.char_indices() {
        let from = base + i;
        let to = from + c.len_utf8();
        // Half-width katakana, compatibility ideographs and spacing voicing marks change under
        // NFKC; nothing else in a CJK run does.
        let needs = matches!(c as u32, 0xFF66..=0xFF9F | 0xF900..=0xFAFF | 0x309B..=0x309C);
        if !needs {
            out.push((fold(c), from, to));
            continue;
        }
        for n in std::iter::once(c).nfkc() {
            // A voicing mark joins the kana before it (ｶﾞ is ガ).
            if let Some(last) = out.last_mut()
                && let Some(joined) = unicode_normalization::char::compose(last.0, n)
            {
                last.0 = joined;
                last.2 = to;
                continue;
            }
            if unicode_normalization::char::is_combining_mark(n) {
                continue;
            }
            out.push((fold(n), from, to));
        }
    }
    debug_assert!(out.last().is_none_or(|l| l.2 <= end));
    out
}

fn bigrams_into(chars: &[(char, usize, usize)], out: &mut Vec<Piece>) {
    if let [(c, from, to)] = chars {
        out.push(Piece {
            from: *from,
            to: *to,
            text: c.to_string(),
            inside: false,
        });
        return;
    }
    for pair in chars.windows(2) {
        let (a, from, _) = pair[0];
        let (b, _, to) = pair[1];
        let mut text = String::with_capacity(8);
        text.push(a);
        text.push(b);
        out.push(Piece {
            from,
            to,
            text,
            inside: false,
        });
    }
}

fn words_into(chars: &[(char, usize, usize)], out: &mut Vec<Piece>) {
    let text: String = chars.iter().map(|c| c.0).collect();
    // Without the HMM: it guesses unknown words from context, so a word alone (a query) and the
    // same word in a sentence could be cut differently and never meet.
    for w in JIEBA.cut(&text, false) {
        let word = &chars[w.start.min(chars.len())..w.end.min(chars.len())];
        let (Some(first), Some(last)) = (word.first(), word.last()) else {
            continue;
        };
        out.push(Piece {
            from: first.1,
            to: last.2,
            text: w.word.to_string(),
            inside: false,
        });
        // The dictionary words of two and three characters inside a longer word, at its position
        // (as jieba's search mode finds them): 走私 is found in 走私案, 出口 in 出口管制.
        if word.len() <= 2 {
            continue;
        }
        let mut gram = String::with_capacity(12);
        for n in 2..=3.min(word.len() - 1) {
            for window in word.windows(n) {
                gram.clear();
                gram.extend(window.iter().map(|c| c.0));
                if JIEBA.has_word(&gram) {
                    out.push(Piece {
                        from: window[0].1,
                        to: window[n - 1].2,
                        text: gram.clone(),
                        inside: true,
                    });
                }
            }
        }
    }
}

impl TokenStream for TextStream<'_> {
    fn advance(&mut self) -> bool {
        loop {
            if self.next < self.pending.len() {
                let piece = &self.pending[self.next];
                let (from, to, inside) = (piece.from, piece.to, piece.inside);
                self.token.text.clear();
                self.token.text.push_str(&piece.text);
                self.next += 1;
                self.emit(from, to, inside);
                return true;
            }
            self.pending.clear();
            self.next = 0;
            // Scanned bytewise: ASCII bytes are classified as they are, other characters decoded
            // (English text, most of the archive, costs no more than tantivy's own tokenizer).
            let text = self.text;
            let bytes = text.as_bytes();
            let decode = |i: usize| {
                text[i..]
                    .chars()
                    .next()
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            };
            let mut i = self.at;
            let (start, cjk) = loop {
                let Some(&b) = bytes.get(i) else {
                    self.at = text.len();
                    return false;
                };
                if b < 0x80 {
                    if b.is_ascii_alphanumeric() {
                        break (i, false);
                    }
                    i += 1;
                    continue;
                }
                let c = decode(i);
                if is_cjk(c) {
                    break (i, true);
                }
                if c.is_alphanumeric() {
                    break (i, false);
                }
                i += c.len_utf8();
            };
            let mut end = start;
            let mut ascii = true;
            while let Some(&b) = bytes.get(end) {
                if b < 0x80 {
                    if cjk || !b.is_ascii_alphanumeric() {
                        break;
                    }
                    end += 1;
                    continue;
                }
                let c = decode(end);
                let inside = if cjk {
                    is_cjk(c)
                } else {
                    c.is_alphanumeric() && !is_cjk(c)
                };
                if !inside {
                    break;
                }
                ascii = false;
                end += c.len_utf8();
            }
            self.at = end;
            if cjk {
                self.segment(start, end);
                continue;
            }
            let word = &self.text[start..end];
            self.token.text.clear();
            if ascii
                || unicode_normalization::is_nfkc_quick(word.chars())
                    == unicode_normalization::IsNormalized::Yes
            {
                self.token.text.push_str(word);
            } else {
                // Full-width letters and digits (ＨＵＡＷＥＩ, １００) are the ASCII ones.
                self.token.text.extend(word.nfkc());
            }
            self.emit(start, end, false);
            return true;
        }
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        words(text).into_iter().map(|w| w.2).collect()
    }

    #[test]
    fn latin_text_is_cut_as_tantivys_default_tokenizer_cuts_it() {
        let text = "U.S. export-controls on Nvidia's H100 chips, 5nm-class ÉLAN; naïve";
        let mut ours = analyzer();
        let mut theirs = TextAnalyzer::builder(tantivy::tokenizer::SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .build();
        let collect = |a: &mut TextAnalyzer| {
            let mut s = a.token_stream(text);
            let mut out = Vec::new();
            while s.advance() {
                let t = s.token();
                out.push((t.text.clone(), t.position, t.offset_from, t.offset_to));
            }
            out
        };
        assert_eq!(collect(&mut ours), collect(&mut theirs));
    }

    #[test]
    fn chinese_is_cut_into_words_with_offsets_into_the_text() {
        let text = "美国商务部称，H100芯片走私案涉及中芯国际。";
        let got = words(text);
        let terms: Vec<&str> = got.iter().map(|w| w.2.as_str()).collect();
        for want in ["h100", "芯片", "走私案", "走私", "中芯国际", "中芯"] {
            assert!(terms.contains(&want), "{want} in {terms:?}");
        }
        // The run is not one word any more.
        assert!(!terms.contains(&"芯片走私案涉及中芯国际"));
        for (from, to, term) in &got {
            assert_eq!(
                crate::text::fold_str(&text[*from..*to]).to_lowercase(),
                *term
            );
        }
        // Positions are consecutive (the shorter words inside a word share its position), so
        // phrases work.
        let mut a = analyzer();
        let mut s = a.token_stream(text);
        let mut positions = Vec::new();
        while s.advance() {
            positions.push(s.token().position);
        }
        assert!(
            positions
                .windows(2)
                .all(|w| w[1] == w[0] || w[1] == w[0] + 1)
        );
        assert_eq!(positions.first(), Some(&0));
    }

    #[test]
    fn traditional_and_simplified_give_the_same_terms() {
        assert_eq!(
            terms("中芯國際遭美國出口管制"),
            terms("中芯国际遭美国出口管制")
        );
        assert_eq!(terms("台積電"), terms("台积电"));
    }

    #[test]
    fn japanese_and_korean_are_cut_into_bigrams() {
        assert_eq!(
            terms("半導体の輸出規制"),
            ["半导", "导体", "体の", "の输", "输出", "出规", "规制"]
        );
        assert_eq!(terms("반도체 수출"), ["반도", "도체", "수출"]);
        // A lone character is a word of its own.
        assert_eq!(terms("은 a"), ["은", "a"]);
    }

    #[test]
    fn nfkc_folds_full_and_half_width_forms() {
        assert_eq!(terms("ＨＵＡＷＥＩ　Ｈ１００"), ["huawei", "h100"]);
        assert_eq!(terms("ｶﾞｲﾄﾞﾗｲﾝ"), terms("ガイドライン"));
        let w = words("ｶﾞｲ");
        assert_eq!(w[0].0, 0);
        assert_eq!(w[0].1, "ｶﾞｲ".len());
    }

    #[test]
    fn directives_force_a_segmentation() {
        let words_mode = terms(&format!("{AS_WORDS}中芯国际"));
        let bigram_mode = terms(&format!("{AS_BIGRAMS}中芯国际"));
        assert_eq!(bigram_mode, ["中芯", "芯国", "国际"]);
        assert_ne!(words_mode, bigram_mode);
        assert_eq!(terms(&format!("{AS_WORDS}中芯国际")), terms("中芯国际"));
    }
}
