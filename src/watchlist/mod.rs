//! Restricted-party lists (OFAC SDN and non-SDN, the US Consolidated Screening List, the UN
//! Security Council list): parsed into one entry model, normalised, and matched against articles.
//!
//! - [`ofac`], [`csl`], [`un`]: the official layouts into [`Entry`]s; a malformed file is an error
//!   naming the line and the field, never a panic;
//! - [`normalize`]: case, diacritics, punctuation, company suffixes, personal-name word order;
//! - [`matcher`]: one Aho-Corasick automaton over every name form of every loaded list, matched
//!   on token boundaries, with corroboration for weak, one-word and common-word names;
//! - [`store`]: every fetched version kept in the data directory with its fetch time and hash; the
//!   last good version stays active when a new one is malformed.

pub mod csl;
pub mod matcher;
pub mod normalize;
pub mod ofac;
pub mod store;
pub mod un;
mod words;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use matcher::{Listing, Match, Matcher};

/// What a list entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Person,
    Entity,
    Vessel,
    Aircraft,
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntryKind::Person => "person",
            EntryKind::Entity => "entity",
            EntryKind::Vessel => "vessel",
            EntryKind::Aircraft => "aircraft",
        })
    }
}

/// Another name of an entry. `weak` is the list's own mark of a low-quality alias (UN `QUALITY`
/// Low, OFAC's quoted nicknames in remarks): such a name is matched only with corroboration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    pub name: String,
    pub weak: bool,
}

/// One listed party, whatever list it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The list's own id (OFAC `ent_num`, UN reference number, CSL entity number or `_id`).
    pub id: String,
    pub name: String,
    pub kind: EntryKind,
    pub aliases: Vec<Alias>,
    pub programs: Vec<String>,
    /// `YYYY-MM-DD` where the list says.
    pub listed_on: Option<String>,
    /// Countries of addresses, nationality, citizenship, as the list writes them.
    pub countries: Vec<String>,
}

/// The layouts a `[[watchlist]]` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListKind {
    /// OFAC's CSV files: `SDN.CSV` (or `CONS_PRIM.CSV`) with `ALT.CSV`/`ADD.CSV` beside it.
    OfacCsv,
    /// The US Consolidated Screening List, CSV (current or 2019 layout) or JSON.
    Csl,
    /// The UN Security Council consolidated list (XML).
    UnXml,
}

impl fmt::Display for ListKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ListKind::OfacCsv => "ofac_csv",
            ListKind::Csl => "csl",
            ListKind::UnXml => "un_xml",
        })
    }
}

/// A list file that could not be read: where (file, line when known, field) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ListError {
    pub file: String,
    pub line: Option<u64>,
    /// The column or element at fault; empty when the whole file is.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl ListError {
    pub(crate) fn new(
        file: &str,
        line: Option<u64>,
        field: &str,
        message: impl Into<String>,
    ) -> ListError {
        ListError {
            file: file.to_string(),
            line,
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// One file of a list version, as fetched.
#[derive(Debug, Clone)]
pub struct ListFile {
    /// The file's standard name (`SDN.CSV`, `consolidated.json`, ...), used to report errors and to
    /// tell the CSL's CSV from its JSON.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The files a list of `kind` is read from, given the primary URL or path: for `ofac_csv`, the
/// primary file and the standard names beside it (`ALT.CSV`, `ADD.CSV`, and the optional comments
/// file), in the primary's letter case. `(file name, required)`.
pub fn file_names(kind: ListKind, primary: &str) -> Result<Vec<(String, bool)>, String> {
    let base = primary
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(primary)
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_string();
    match kind {
        ListKind::OfacCsv => {
            let upper = base.to_ascii_uppercase();
            let lower = base == base.to_ascii_lowercase();
            let case = |s: &str| {
                if lower {
                    s.to_ascii_lowercase()
                } else {
                    s.to_string()
                }
            };
            let (alt, add, comments) = match upper.as_str() {
                "SDN.CSV" => ("ALT.CSV", "ADD.CSV", "SDN_COMMENTS.CSV"),
                "CONS_PRIM.CSV" => ("CONS_ALT.CSV", "CONS_ADD.CSV", "CONS_COMMENTS.CSV"),
                _ => {
                    return Err(format!(
                        "`{base}`: an ofac_csv list names its primary file, SDN.CSV or CONS_PRIM.CSV"
                    ));
                }
            };
            Ok(vec![
                (base.clone(), true),
                (case(alt), true),
                (case(add), true),
                (case(comments), false),
            ])
        }
        ListKind::Csl | ListKind::UnXml => {
            if base.is_empty() {
                Err("the URL names no file".into())
            } else {
                Ok(vec![(base, true)])
            }
        }
    }
}

/// Parses the files of one list version (as [`file_names`] names them; optional files may be
/// missing).
pub fn parse(kind: ListKind, files: &[ListFile]) -> Result<Vec<Entry>, ListError> {
    let first = files
        .first()
        .ok_or_else(|| ListError::new("(none)", None, "", "no file to read"))?;
    match kind {
        ListKind::OfacCsv => {
            let find = |i: usize| files.get(i).filter(|f| !f.bytes.is_empty() || i < 3);
            ofac::parse(first, find(1), find(2), find(3))
        }
        ListKind::Csl => csl::parse(first),
        ListKind::UnXml => un::parse(first),
    }
}

/// 1-based line numbers of byte offsets, counted forward (offsets asked in increasing order).
/// The csv crate's own record line lags by one after a CRLF, so lines are counted here.
pub(crate) struct Lines<'a> {
    text: &'a [u8],
    off: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(text: &'a str) -> Lines<'a> {
        Lines {
            text: text.as_bytes(),
            off: 0,
            line: 1,
        }
    }

    /// The line of the first character at or after `byte` that is not a line break.
    pub(crate) fn at(&mut self, byte: u64) -> u64 {
        let mut at = (byte as usize).min(self.text.len());
        while at < self.text.len() && matches!(self.text[at], b'\r' | b'\n') {
            at += 1;
        }
        if at < self.off {
            self.off = 0;
            self.line = 1;
        }
        self.line += self.text[self.off..at]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        self.off = at;
        self.line
    }
}

/// Text of a file: UTF-8 (a byte-order mark dropped), or Windows-1252 when it is not UTF-8, as
/// older OFAC files are.
pub(crate) fn decode(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0,
    }
}
