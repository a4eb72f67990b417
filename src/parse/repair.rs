//! The repair layer: rewrites the XML publishers actually send into XML that feed-rs reads.
//!
//! feed-rs is strict where real feeds are not: it refuses `<rss>` without a version or a
//! `<channel>`, ignores elements in namespaces it does not know (RSS 2.0 in a default namespace,
//! RSS 0.90, Atom 0.3), drops RDF items without a `<link>`, fails a whole document on one empty
//! Atom `<title>` or an unknown `type`, and stops at the first unescaped `&` or mismatched end tag.
//! Rather than fork the parser, each of those is rewritten here, once, on an event stream from
//! quick-xml run in its most forgiving mode; what feed-rs then reads is well-formed and in the
//! dialect it expects. Every rewrite that loses or guesses something leaves a note.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

const ATOM10: &str = "http://www.w3.org/2005/Atom";
const ATOM03: &str = "http://purl.org/atom/ns#";
const RSS10: &str = "http://purl.org/rss/1.0/";
const RSS090: &str = "http://my.netscape.com/rdf/simple/0.9/";
const DC: &str = "http://purl.org/dc/elements/1.1/";
const DCTERMS: &str = "http://purl.org/dc/terms/";

/// Stands in for the `<link>` of an RDF item that has none (feed-rs drops such items); the
/// normalisation layer turns it back into "no link".
pub(super) const MISSING_LINK: &str = "urn:wirewatch:missing-link";

/// Entry-level date elements feed-rs does not read in RSS, mapped to `dc:date`, which it does.
const RSS_DATE_ALIASES: &[&str] = &[
    "issued",
    "created",
    "modified",
    "date",
    "available",
    "published",
    "updated",
];

/// Which feed dialect the root element announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// `<rss>`; `legacy` for versions 0.90 to 0.94.
    Rss {
        legacy: bool,
    },
    Rdf,
    Atom,
    /// Not a feed root: the document is handed on untouched for feed-rs to refuse.
    Unknown,
}

pub(super) struct Repaired {
    pub text: String,
    pub dialect: Dialect,
    /// What was rewritten in a way a reader of the source might care about.
    pub notes: Vec<String>,
    /// The document broke off inside an entry, which was dropped.
    pub cut_entry: bool,
}

/// Repairs an XML feed document (already decoded to UTF-8).
pub(super) fn repair_xml(text: &str) -> Repaired {
    let mut notes = Vec::new();
    let fixed = fix_references(text, &mut notes);
    let mut rewriter = Rewriter {
        out: String::with_capacity(fixed.len() + 256),
        notes,
        ..Rewriter::default()
    };
    let mut reader = Reader::from_str(&fixed);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.check_comments = false;
    config.allow_dangling_amp = true;
    let mut broken = None;
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                broken = Some(format!(
                    "{e} at line {}",
                    line_of(&fixed, reader.error_position() as usize)
                ));
                break;
            }
        };
        match event {
            Event::Start(e) => rewriter.start(&e, false),
            Event::Empty(e) => rewriter.start(&e, true),
            Event::End(e) => rewriter.end(e.name().as_ref()),
            Event::Text(t) => rewriter.text(&t),
            Event::CData(c) => rewriter.cdata(&c),
            Event::GeneralRef(r) => rewriter.raw_text(&format!("&{};", &*r), true),
            Event::Eof => break,
            // Declarations (the encoding one would now lie), comments, PIs and DOCTYPEs go.
            _ => {}
        }
        if rewriter.done || rewriter.dialect == Some(Dialect::Unknown) {
            break;
        }
    }
    if rewriter.dialect == Some(Dialect::Unknown) || rewriter.dialect.is_none() {
        return Repaired {
            text: fixed.into_owned(),
            dialect: Dialect::Unknown,
            notes: rewriter.notes,
            cut_entry: false,
        };
    }
    rewriter.finish(broken);
    Repaired {
        dialect: rewriter.dialect.unwrap_or(Dialect::Unknown),
        text: rewriter.out,
        notes: rewriter.notes,
        cut_entry: rewriter.cut_entry,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Root,
    Channel,
    /// An RSS item or Atom entry.
    Record,
    /// An Atom text construct (title, summary, content…), written out only at its end, once
    /// its content is known.
    Text,
    /// An Atom text construct already in a form feed-rs reads: written at once, dropped at its
    /// end only if it turned out empty.
    PlainText,
    /// An RSS element whose content is text (or escaped HTML) by the spec.
    RssText,
    /// Naked HTML inside an RSS text element, written back out escaped.
    Escaped,
    /// An element left out with everything in it.
    Skipped,
    Other,
}

/// RSS elements whose content is text; markup found inside them is HTML the publisher forgot to
/// escape, and feed-rs would drop everything after its first tag.
const RSS_TEXT: &[&str] = &[
    "title",
    "description",
    "author",
    "category",
    "comments",
    "copyright",
    "encoded",
];

#[derive(Debug)]
struct Open {
    /// The name as the document spelled it, to match end tags against.
    raw: String,
    /// The name written out (differs when renamed).
    emitted: String,
    role: Role,
    /// Where this element's start tag begins in the output.
    out_pos: usize,
    /// Where its content begins in the output.
    content_pos: usize,
    /// For text constructs: the attributes to write once the content is known.
    attrs: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct Record {
    has_link: bool,
    has_date: bool,
    about: Option<String>,
}

#[derive(Default)]
struct Rewriter {
    out: String,
    notes: Vec<String>,
    dialect: Option<Dialect>,
    atom03: bool,
    stack: Vec<Open>,
    /// Namespace prefixes declared anywhere so far (feeds do not rebind prefixes in practice).
    prefixes: HashMap<String, String>,
    /// Default namespaces removed from the root, removed again wherever they are redeclared.
    dropped_defaults: Vec<String>,
    record: Option<Record>,
    /// RSS 2.0 written with a prefix for its own namespace (`<r:rss xmlns:r=...>`): feed-rs only
    /// reads unprefixed RSS, so the prefix goes.
    rss_prefix: Option<String>,
    seen_root_child: bool,
    done: bool,
    unmatched_ends: usize,
    /// The current start tag as written, when it can be copied through unchanged (its
    /// attributes were not even parsed: most elements need nothing rewritten).
    verbatim: Option<String>,
    cut_entry: bool,
}

/// Elements whose attributes the rewrite reads; any other element's attributes are parsed only
/// when they declare namespaces or an xml:base.
const ATTRIBUTES_READ: &[&str] = &[
    "rss",
    "RDF",
    "feed",
    "entry",
    "item",
    "channel",
    "title",
    "subtitle",
    "summary",
    "rights",
    "content",
    "tagline",
    "copyright",
];

impl Rewriter {
    fn in_text_construct(&self) -> bool {
        self.stack
            .iter()
            .any(|o| matches!(o.role, Role::Text | Role::PlainText | Role::Skipped))
    }

    fn start(&mut self, e: &BytesStart, empty: bool) {
        let raw = e.name().as_ref().to_string();
        let raw_attrs = e.attributes_raw();
        let read_attrs = !raw_attrs.trim().is_empty()
            && (self.dialect.is_none()
                || raw_attrs.contains("xml")
                || ATTRIBUTES_READ.contains(&split_name(&raw).1));
        let mut attrs = if read_attrs {
            self.verbatim = None;
            attributes(e)
        } else {
            let mut tag = self.verbatim.take().unwrap_or_default();
            tag.clear();
            tag.push_str(e);
            self.verbatim = Some(tag);
            Vec::new()
        };
        for (k, v) in &attrs {
            if let Some(prefix) = k.strip_prefix("xmlns:") {
                self.prefixes.insert(prefix.to_string(), v.clone());
            }
        }
        // feed-rs refuses the whole document over one unparseable xml:base; without it, links
        // resolve against the enclosing base instead.
        let bad_base = attrs.iter().any(|(k, v)| {
            k == "xml:base"
                && matches!(
                    url::Url::parse(v.trim()),
                    Err(e) if e != url::ParseError::RelativeUrlWithoutBase
                )
        });
        if bad_base {
            attrs.retain(|(k, _)| k != "xml:base");
            self.notes
                .push(format!("invalid xml:base on <{raw}> ignored"));
        }
        if self
            .stack
            .last()
            .is_some_and(|o| matches!(o.role, Role::RssText | Role::Escaped))
        {
            let out_pos = self.out.len();
            self.out.push_str("&lt;");
            self.out.push_str(&escape_text(e));
            self.out.push_str(if empty { "/&gt;" } else { "&gt;" });
            if !empty {
                self.stack.push(Open {
                    raw: raw.clone(),
                    emitted: raw.clone(),
                    role: Role::Escaped,
                    out_pos,
                    content_pos: self.out.len(),
                    attrs: Vec::new(),
                });
            }
            return;
        }
        if self.in_text_construct() {
            // Inline XHTML and the like: kept as written.
            if bad_base {
                self.push_tag(&raw, &raw, attrs, empty, Role::Other);
            } else {
                self.push_raw(e, &raw, empty, Role::Other);
            }
            return;
        }
        let (mut prefix, local) = split_name(&raw);
        if prefix.is_some() && prefix == self.rss_prefix.as_deref() {
            prefix = None;
        }
        let ns = prefix.and_then(|p| self.prefixes.get(p)).cloned();
        let ns = ns.as_deref();
        let Some(dialect) = self.dialect else {
            self.root(&raw, local, attrs, empty);
            return;
        };
        for (k, v) in attrs.iter_mut() {
            if k == "xmlns" && self.dropped_defaults.contains(v) {
                k.clear();
            } else if k.starts_with("xmlns") && v == ATOM03 {
                *v = ATOM10.into();
            }
        }
        attrs.retain(|(k, _)| !k.is_empty());
        let depth = self.stack.len();
        match dialect {
            Dialect::Rss { .. } => {
                if depth == 1 && !self.seen_root_child {
                    self.seen_root_child = true;
                    if local != "channel" {
                        // Items straight under <rss> (RSS 0.9x style): give them a channel.
                        self.open_synthetic("channel", Role::Channel);
                    }
                }
                if prefix.is_none() && local == "channel" && depth == 1 {
                    self.push_tag(&raw, local, attrs, empty, Role::Channel);
                    return;
                }
                let out = if prefix.is_none() { local } else { &raw };
                self.rss_element(&raw, out, prefix, local, ns, attrs, empty);
            }
            Dialect::Rdf => self.rss_element(&raw, &raw, prefix, local, ns, attrs, empty),
            Dialect::Atom => self.atom_element(&raw, prefix, local, ns, attrs, empty),
            Dialect::Unknown => {}
        }
    }

    fn root(&mut self, raw: &str, local: &str, mut attrs: Vec<(String, String)>, empty: bool) {
        let dialect = match local {
            "rss" => {
                let version = attrs
                    .iter()
                    .find(|(k, _)| k == "version")
                    .map(|(_, v)| v.trim().to_string());
                let legacy = version.as_deref().is_some_and(|v| v.starts_with("0."));
                let keep = matches!(version.as_deref(), Some("0.91" | "0.92" | "2.0"));
                attrs.retain(|(k, v)| {
                    if k == "xmlns" {
                        self.dropped_defaults.push(v.clone());
                        return false;
                    }
                    k != "version" || keep
                });
                if !keep {
                    attrs.push(("version".into(), "2.0".into()));
                }
                if let (Some(prefix), _) = split_name(raw) {
                    self.rss_prefix = Some(prefix.to_string());
                    self.dialect = Some(Dialect::Rss { legacy });
                    self.push_tag(raw, "rss", attrs, empty, Role::Root);
                    return;
                }
                Dialect::Rss { legacy }
            }
            "RDF" => {
                for (k, v) in attrs.iter_mut() {
                    if k == "xmlns" && v == RSS090 {
                        *v = RSS10.into();
                    }
                }
                Dialect::Rdf
            }
            "feed" | "entry" => {
                let mut has_default = false;
                for (k, v) in attrs.iter_mut() {
                    if v == ATOM03 || (k == "version" && v.starts_with("0.")) {
                        self.atom03 = true;
                    }
                    if k == "xmlns" {
                        has_default = true;
                        *v = ATOM10.into();
                    } else if k.starts_with("xmlns:") && v == ATOM03 {
                        *v = ATOM10.into();
                    }
                }
                if !has_default && !raw.contains(':') {
                    attrs.push(("xmlns".into(), ATOM10.into()));
                }
                if local == "entry" {
                    self.dialect = Some(Dialect::Atom);
                    self.push_tag(raw, raw, attrs, empty, Role::Root);
                    if let Some(open) = self.stack.last_mut() {
                        open.role = Role::Record;
                    }
                    self.record = Some(Record::default());
                    return;
                }
                Dialect::Atom
            }
            "channel" => {
                // A bare <channel> document: RSS without its <rss>.
                self.dialect = Some(Dialect::Rss { legacy: false });
                self.open_synthetic_with("rss", vec![("version".into(), "2.0".into())]);
                self.seen_root_child = true;
                self.push_tag(raw, raw, attrs, empty, Role::Channel);
                return;
            }
            _ => {
                self.dialect = Some(Dialect::Unknown);
                return;
            }
        };
        self.dialect = Some(dialect);
        self.push_tag(raw, raw, attrs, empty, Role::Root);
        if empty {
            self.done = true;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn rss_element(
        &mut self,
        raw: &str,
        out: &str,
        prefix: Option<&str>,
        local: &str,
        ns: Option<&str>,
        attrs: Vec<(String, String)>,
        empty: bool,
    ) {
        let native = prefix.is_none() || matches!(ns, Some(RSS10 | RSS090));
        if native && local == "item" && self.record.is_none() {
            if empty {
                return;
            }
            let about = attrs
                .iter()
                .find(|(k, _)| k == "rdf:about" || k == "about")
                .map(|(_, v)| v.clone());
            self.record = Some(Record {
                about,
                ..Record::default()
            });
            self.push_tag(raw, out, attrs, empty, Role::Record);
            return;
        }
        if let Some(record) = self.record.as_mut()
            && self.stack.last().is_some_and(|o| o.role == Role::Record)
        {
            if native && local == "link" {
                record.has_link = true;
            }
            let dated = (native && local == "pubDate") || (ns == Some(DC) && local == "date");
            let alias =
                matches!(ns, Some(DCTERMS | ATOM10 | ATOM03)) && RSS_DATE_ALIASES.contains(&local);
            if dated {
                record.has_date = true;
            } else if alias && !record.has_date && !empty {
                record.has_date = true;
                let mut attrs = attrs;
                attrs.retain(|(k, _)| !k.starts_with("xmlns"));
                attrs.push(("xmlns:dc".into(), DC.into()));
                self.push_tag(raw, "dc:date", attrs, empty, Role::Other);
                return;
            }
        }
        let text = RSS_TEXT.contains(&local) && (native || (local == "encoded"));
        let role = if text { Role::RssText } else { Role::Other };
        self.push_tag(raw, out, attrs, empty, role);
    }

    fn atom_element(
        &mut self,
        raw: &str,
        prefix: Option<&str>,
        local: &str,
        ns: Option<&str>,
        mut attrs: Vec<(String, String)>,
        empty: bool,
    ) {
        let native = prefix.is_none() || matches!(ns, Some(ATOM10 | ATOM03));
        if !native {
            self.push_tag(raw, raw, attrs, empty, Role::Other);
            return;
        }
        // `<item>` in an Atom feed (a publisher mixing dialects) is an entry all the same.
        let local = if local == "item" && self.stack.len() == 1 {
            "entry"
        } else {
            local
        };
        if local == "entry" && self.record.is_none() {
            if !empty {
                self.record = Some(Record::default());
                let emitted = if raw == "item" { "entry" } else { raw };
                self.push_tag(raw, emitted, attrs, empty, Role::Record);
            }
            return;
        }
        let parent = self.stack.last().map(|o| split_name(&o.raw).1.to_string());
        let renamed = match local {
            "issued" => Some("published"),
            "modified" => Some("updated"),
            "created" if self.record.as_ref().is_some_and(|r| !r.has_date) => Some("published"),
            "created" => {
                // An entry with `issued` already has its publication date.
                self.skip_element(raw, empty);
                return;
            }
            "tagline" => Some("subtitle"),
            "copyright" => Some("rights"),
            "url" if matches!(parent.as_deref(), Some("author" | "contributor")) => Some("uri"),
            _ => None,
        }
        .filter(|_| self.atom03 || local == "issued" || local == "modified");
        let name = renamed.unwrap_or(local);
        if matches!(name, "published" | "updated")
            && let Some(record) = self.record.as_mut()
        {
            record.has_date |= name == "published";
        }
        let emitted = match prefix {
            Some(p) if renamed.is_some() => format!("{p}:{name}"),
            _ if renamed.is_some() => name.to_string(),
            _ => raw.to_string(),
        };
        if matches!(
            name,
            "title" | "subtitle" | "summary" | "rights" | "content"
        ) && !matches!(parent.as_deref(), Some("author" | "contributor" | "source"))
        {
            if empty {
                // An empty text construct carries nothing and makes feed-rs fail the document,
                // unless it is content pointing elsewhere.
                if name == "content" && attrs.iter().any(|(k, _)| k == "src") {
                    attrs.retain(|(k, _)| k != "mode");
                    self.push_tag(raw, &emitted, attrs, true, Role::Other);
                }
                return;
            }
            let plain = attrs.iter().all(|(k, v)| match k.as_str() {
                "mode" | "src" => false,
                "type" => matches!(v.as_str(), "text" | "html" | "xhtml"),
                _ => true,
            });
            if plain && !self.atom03 {
                self.push_tag(raw, &emitted, attrs, false, Role::PlainText);
                return;
            }
            self.stack.push(Open {
                raw: raw.to_string(),
                emitted,
                role: Role::Text,
                out_pos: self.out.len(),
                content_pos: self.out.len(),
                attrs,
            });
            return;
        }
        self.push_tag(raw, &emitted, attrs, empty, Role::Other);
    }

    /// Drops an element and everything in it.
    fn skip_element(&mut self, raw: &str, empty: bool) {
        if !empty {
            self.stack.push(Open {
                raw: raw.to_string(),
                emitted: String::new(),
                role: Role::Skipped,
                out_pos: self.out.len(),
                content_pos: self.out.len(),
                attrs: Vec::new(),
            });
        }
    }

    fn push_raw(&mut self, e: &BytesStart, raw: &str, empty: bool, role: Role) {
        let out_pos = self.out.len();
        self.out.push('<');
        self.out.push_str(e);
        self.out.push_str(if empty { "/>" } else { ">" });
        if !empty {
            self.stack.push(Open {
                raw: raw.to_string(),
                emitted: raw.to_string(),
                role,
                out_pos,
                content_pos: self.out.len(),
                attrs: Vec::new(),
            });
        }
    }

    fn push_tag(
        &mut self,
        raw: &str,
        emitted: &str,
        attrs: Vec<(String, String)>,
        empty: bool,
        role: Role,
    ) {
        let out_pos = self.out.len();
        match self.verbatim.as_deref() {
            Some(tag) if !raw.is_empty() && attrs.is_empty() && tag.starts_with(raw) => {
                self.out.push('<');
                self.out.push_str(emitted);
                self.out.push_str(&tag[raw.len()..]);
                self.out.push_str(if empty { "/>" } else { ">" });
            }
            _ => write_start(&mut self.out, emitted, &attrs, empty),
        }
        if !empty {
            self.stack.push(Open {
                raw: raw.to_string(),
                emitted: emitted.to_string(),
                role,
                out_pos,
                content_pos: self.out.len(),
                attrs: Vec::new(),
            });
        }
    }

    fn open_synthetic(&mut self, name: &str, role: Role) {
        self.push_tag("", name, Vec::new(), false, role);
    }

    fn open_synthetic_with(&mut self, name: &str, attrs: Vec<(String, String)>) {
        self.push_tag("", name, attrs, false, Role::Root);
    }

    fn text(&mut self, raw: &str) {
        let meaningful = !raw.trim().is_empty();
        self.raw_text(raw, meaningful);
    }

    fn cdata(&mut self, inner: &str) {
        if self.stack.is_empty() {
            return;
        }
        self.raw_text("<![CDATA[", !inner.trim().is_empty());
        self.out.push_str(inner);
        self.out.push_str("]]>");
    }

    fn raw_text(&mut self, raw: &str, meaningful: bool) {
        if self.stack.is_empty() {
            return;
        }
        if meaningful
            && let Some(Dialect::Rss { .. }) = self.dialect
            && self.stack.len() == 1
            && !self.seen_root_child
        {
            self.seen_root_child = true;
            self.open_synthetic("channel", Role::Channel);
        }
        self.out.push_str(raw);
    }

    fn end(&mut self, name: &str) {
        let at = self.stack.iter().rposition(|o| o.raw == name).or_else(|| {
            self.stack
                .iter()
                .rposition(|o| o.raw.eq_ignore_ascii_case(name))
        });
        let Some(at) = at else {
            self.unmatched_ends += 1;
            // `<title>x</titel>`: a misspelt end tag right after text closes that text element;
            // ignoring it would let the title swallow the rest of the item.
            if let Some(top) = self.stack.last()
                && matches!(top.role, Role::RssText | Role::PlainText | Role::Other)
                && self.stack.len() > 2
                && !self.out[top.content_pos..].contains('<')
            {
                self.close_top();
            }
            return;
        };
        // RSS feeds that close <channel> before their items: the channel stays open until </rss>.
        let keep_open = self.stack[at].role == Role::Channel
            && matches!(self.dialect, Some(Dialect::Rss { .. }));
        let until = if keep_open { at + 1 } else { at };
        while self.stack.len() > until {
            self.close_top();
        }
        if self.stack.is_empty() {
            self.done = true;
        }
    }

    fn close_top(&mut self) {
        let Some(open) = self.stack.pop() else {
            return;
        };
        match open.role {
            Role::Text => self.close_text_construct(open),
            Role::Skipped => self.out.truncate(open.out_pos),
            Role::Root
                if matches!(self.dialect, Some(Dialect::Rss { .. })) && !self.seen_root_child =>
            {
                // `<rss></rss>`: an empty feed is still a feed.
                self.out.push_str("<channel></channel>");
                write_end(&mut self.out, &open.emitted);
            }
            Role::Record => {
                if let Some(record) = self.record.take()
                    && self.dialect == Some(Dialect::Rdf)
                    && !record.has_link
                {
                    let link = record.about.as_deref().unwrap_or(MISSING_LINK);
                    self.out.push_str("<link>");
                    self.out.push_str(link);
                    self.out.push_str("</link>");
                }
                write_end(&mut self.out, &open.emitted);
            }
            Role::PlainText => {
                if self.out[open.content_pos..].trim().is_empty() {
                    self.out.truncate(open.out_pos);
                } else {
                    write_end(&mut self.out, &open.emitted);
                }
            }
            Role::Escaped => {
                self.out.push_str("&lt;/");
                self.out.push_str(&open.emitted);
                self.out.push_str("&gt;");
            }
            _ => write_end(&mut self.out, &open.emitted),
        }
    }

    /// Writes an Atom text construct now that its content is known: empty ones go, base64 is
    /// decoded, and `type` becomes one feed-rs accepts.
    fn close_text_construct(&mut self, open: Open) {
        let content = self.out.split_off(open.out_pos);
        let get = |name: &str| {
            open.attrs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_ascii_lowercase())
        };
        let mode = get("mode");
        let declared = get("type");
        let has_src = open.attrs.iter().any(|(k, _)| k == "src");
        let is_content = split_name(&open.emitted).1 == "content";
        let mut attrs: Vec<(String, String)> = open
            .attrs
            .iter()
            .filter(|(k, _)| k != "mode" && k != "type")
            .cloned()
            .collect();
        if content.trim().is_empty() {
            if has_src {
                write_start(&mut self.out, &open.emitted, &open.attrs, true);
            }
            return;
        }
        if has_src {
            // Content both inline and by reference: the inline copy is what we can read.
            attrs.retain(|(k, _)| k != "src");
        }
        let mime = declared
            .as_deref()
            .unwrap_or(if self.atom03 { "text/plain" } else { "text" });
        let textual = matches!(mime, "text" | "html" | "xhtml")
            || mime.starts_with("text/")
            || mime.ends_with("xml");
        let declared_base64 = mode.as_deref() == Some("base64");
        // Atom 1.0: content of a non-text media type is base64; a title never is unless 0.3 says so.
        let implied_base64 = is_content && !textual && mime.contains('/');
        let decoded = (declared_base64 || implied_base64)
            .then(|| decode_base64(&content))
            .flatten();
        if declared_base64 && decoded.is_none() {
            self.notes.push(format!(
                "<{}> is not readable base64 {mime}; dropped",
                open.emitted
            ));
            return;
        }
        let (body, kind) = if let Some(decoded) = decoded {
            let kind = if mime.contains("html") {
                "html"
            } else {
                "text"
            };
            (Cow::Owned(escape_text(&decoded)), kind)
        } else {
            let escaped = mode.as_deref() == Some("escaped");
            let kind = match mime {
                "text" | "html" | "xhtml" => mime,
                "text/html" => "html",
                m if (m.contains("xhtml") || (m.ends_with("xml") && !escaped))
                    && content.trim_start().starts_with('<') =>
                {
                    "xhtml"
                }
                _ => "text",
            };
            // Atom 0.3 "text/html" in XML mode is inline markup.
            let kind = if kind == "html" && self.atom03 && !escaped && content.contains("</") {
                "xhtml"
            } else {
                kind
            };
            (Cow::Borrowed(content.as_str()), kind)
        };
        if is_content || kind != "text" {
            attrs.push(("type".into(), kind.into()));
        }
        write_start(&mut self.out, &open.emitted, &attrs, false);
        self.out.push_str(&body);
        write_end(&mut self.out, &open.emitted);
    }

    /// Closes whatever the document left open. When the document broke off, an entry it was in
    /// the middle of is dropped: only complete entries are kept.
    fn finish(&mut self, broken: Option<String>) {
        if self.unmatched_ends > 0 {
            self.notes.push(format!(
                "{} end tag(s) without a matching start tag ignored",
                self.unmatched_ends
            ));
        }
        match broken {
            Some(why) => self.notes.push(format!(
                "document breaks off ({why}); kept what came before"
            )),
            None if !self.stack.is_empty() => self
                .notes
                .push("document ends with elements still open; closed them".into()),
            None => {}
        }
        // An entry whose end never came may be cut anywhere, even mid-word: only complete
        // entries are kept.
        if let Some(at) = self.stack.iter().position(|o| o.role == Role::Record) {
            self.out.truncate(self.stack[at].out_pos);
            self.stack.truncate(at);
            self.record = None;
            self.cut_entry = true;
            self.notes
                .push("the incomplete last entry was dropped".into());
        }
        while !self.stack.is_empty() {
            self.close_top();
        }
    }
}

fn attributes(e: &BytesStart) -> Vec<(String, String)> {
    if e.attributes_raw().trim().is_empty() {
        return Vec::new();
    }
    let mut attrs = e.html_attributes();
    attrs.with_checks(false);
    attrs
        .flatten()
        .map(|a| (a.key.as_ref().to_string(), a.value.into_owned()))
        .collect()
}

fn split_name(raw: &str) -> (Option<&str>, &str) {
    match raw.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, raw),
    }
}

/// Attribute values stay in their escaped form; only the quote needs choosing.
fn write_start(out: &mut String, name: &str, attrs: &[(String, String)], empty: bool) {
    out.push('<');
    out.push_str(name);
    for (k, v) in attrs {
        let v = v.replace('<', "&lt;");
        let quote = if v.contains('"') { '\'' } else { '"' };
        out.push(' ');
        out.push_str(k);
        out.push('=');
        out.push(quote);
        out.push_str(&v.replace(quote, if quote == '"' { "&quot;" } else { "&apos;" }));
        out.push(quote);
    }
    out.push_str(if empty { "/>" } else { ">" });
}

fn write_end(out: &mut String, name: &str) {
    if !name.is_empty() {
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Base64 text, tolerating line breaks and a CDATA wrapper; `None` unless it decodes to UTF-8.
fn decode_base64(content: &str) -> Option<String> {
    let inner = content
        .trim()
        .strip_prefix("<![CDATA[")
        .and_then(|c| c.strip_suffix("]]>"))
        .unwrap_or(content);
    let compact: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(compact.trim_end_matches('='))
        })
        .ok()?;
    String::from_utf8(bytes).ok()
}

fn line_of(text: &str, pos: usize) -> usize {
    text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Makes every `&` in the document a reference XML knows: HTML named entities become numeric
/// references, numeric references to characters XML forbids are mapped (C1 controls the way
/// browsers read them, as Windows-1252) or dropped, and a bare `&` is escaped. CDATA sections
/// and comments are left alone.
pub(super) fn fix_references<'a>(text: &'a str, notes: &mut Vec<String>) -> Cow<'a, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let (mut copied, mut i) = (0, 0);
    let (mut bare, mut html) = (0usize, 0usize);
    while i < bytes.len() {
        match memchr::memchr2(b'&', b'<', &bytes[i..]) {
            Some(at) => i += at,
            None => break,
        }
        match bytes[i] {
            b'<' if text[i..].starts_with("<![CDATA[") => {
                i = text[i..].find("]]>").map_or(bytes.len(), |e| i + e + 3);
            }
            b'<' if text[i..].starts_with("<!--") => {
                i = text[i..].find("-->").map_or(bytes.len(), |e| i + e + 3);
            }
            // A `<` that cannot start markup ("x < y") is text that was never escaped.
            b'<' if !bytes.get(i + 1).is_some_and(|&c| {
                c.is_ascii_alphabetic()
                    || c >= 0x80
                    || matches!(c, b'_' | b':' | b'/' | b'!' | b'?')
            }) =>
            {
                let buf = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
                buf.push_str(&text[copied..i]);
                buf.push_str("&lt;");
                bare += 1;
                copied = i + 1;
                i += 1;
            }
            b'&' => {
                let (replacement, len) = reference(&text[i..]);
                match replacement {
                    Reference::Keep => {}
                    other => {
                        let buf = out.get_or_insert_with(|| String::with_capacity(text.len() + 64));
                        buf.push_str(&text[copied..i]);
                        match other {
                            Reference::Bare => {
                                bare += 1;
                                buf.push_str("&amp;");
                            }
                            Reference::Chars(a, b) => {
                                html += 1;
                                for c in [Some(a), b].into_iter().flatten() {
                                    buf.push_str(&format!("&#{};", c as u32));
                                }
                            }
                            Reference::Drop | Reference::Keep => {}
                        }
                        copied = i + len;
                    }
                }
                i += len.max(1);
            }
            _ => i += 1,
        }
    }
    if bare > 0 {
        notes.push(format!("{bare} unescaped '&' or '<' escaped"));
    }
    if html > 0 {
        notes.push(format!("{html} HTML entity reference(s) decoded"));
    }
    match out {
        Some(mut buf) => {
            buf.push_str(&text[copied..]);
            Cow::Owned(buf)
        }
        None => Cow::Borrowed(text),
    }
}

/// Decodes HTML character references in plain text (`&hearts;`, `&#8217;`, `&amp;`), leaving a
/// bare `&` as it is.
pub(super) fn decode_references(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let (reference, len) = reference(rest);
        match reference {
            Reference::Chars(a, b) => {
                out.push(a);
                out.extend(b);
            }
            Reference::Keep if len > 1 => {
                let name = &rest[1..len - 1];
                let decoded = match name {
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "amp" => Some('&'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ => name.strip_prefix('#').and_then(|n| {
                        match n.strip_prefix(['x', 'X']) {
                            Some(hex) => u32::from_str_radix(hex, 16).ok(),
                            None => n.parse().ok(),
                        }
                        .and_then(char::from_u32)
                    }),
                };
                match decoded {
                    Some(c) => out.push(c),
                    None => out.push_str(&rest[..len]),
                }
            }
            Reference::Drop => {}
            _ => out.push_str(&rest[..len.max(1)]),
        }
        rest = &rest[len.max(1)..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

enum Reference {
    Keep,
    Bare,
    Drop,
    Chars(char, Option<char>),
}

/// Classifies the reference starting at `s` (which starts with `&`); returns how many bytes it
/// spans when it is replaced.
fn reference(s: &str) -> (Reference, usize) {
    let body = &s[1..];
    let end = body
        .char_indices()
        .take(40)
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '#'))
        .map(|(i, _)| i);
    let Some(end) = end.filter(|&e| e > 0 && body[e..].starts_with(';')) else {
        return (Reference::Bare, 1);
    };
    let name = &body[..end];
    let len = end + 2;
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => num.parse::<u32>().ok(),
        };
        return match code.and_then(char::from_u32) {
            // XML knows only `&#x`; HTML and browsers read `&#X41;` the same as `&#x41;`.
            Some(c) if is_xml_char(c) && !(0x80..=0x9f).contains(&(c as u32)) => {
                if num.starts_with('X') {
                    (Reference::Chars(c, None), len)
                } else {
                    (Reference::Keep, len)
                }
            }
            Some(c) if (0x80..=0x9f).contains(&(c as u32)) => {
                let byte = [c as u32 as u8];
                let (decoded, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
                match decoded.chars().next() {
                    Some(d) if is_xml_char(d) => (Reference::Chars(d, None), len),
                    _ => (Reference::Drop, len),
                }
            }
            _ => (Reference::Drop, len),
        };
    }
    if matches!(name, "lt" | "gt" | "amp" | "quot" | "apos") {
        return (Reference::Keep, len);
    }
    let key = format!("{name};");
    match markup5ever::data::NAMED_ENTITIES.get(key.as_str()) {
        Some(&(a, b)) if a != 0 => match char::from_u32(a) {
            Some(first) => (
                Reference::Chars(first, (b != 0).then(|| char::from_u32(b)).flatten()),
                len,
            ),
            None => (Reference::Bare, 1),
        },
        _ => (Reference::Bare, 1),
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repaired(doc: &str) -> String {
        repair_xml(doc).text
    }

    #[test]
    fn references_become_xml() {
        let mut notes = Vec::new();
        let fixed = fix_references(
            "<t a='x&y'>AT&T &hearts; &amp; &#38; &#150; &#0; &bogus; <![CDATA[a&b]]> 1 < 2</t>",
            &mut notes,
        );
        assert_eq!(
            fixed,
            "<t a='x&amp;y'>AT&amp;T &#9829; &amp; &#38; &#8211;  &amp;bogus; <![CDATA[a&b]]> 1 &lt; 2</t>"
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(matches!(
            fix_references("<a>plain</a>", &mut notes),
            Cow::Borrowed(_)
        ));
    }

    /// `&#X41;` is HTML's and browsers' spelling of `&#x41;`; XML parsers refuse the capital X.
    #[test]
    fn upper_case_hex_references_read_as_lower_case_ones() {
        let mut notes = Vec::new();
        assert_eq!(
            fix_references("<t>&#X41;&#x41;&#65;&#X2019;</t>", &mut notes),
            "<t>&#65;&#x41;&#65;&#8217;</t>"
        );
        assert_eq!(decode_references("&#X41;&#x41;"), "AA");
    }

    #[test]
    fn references_in_text_are_decoded() {
        assert_eq!(
            decode_references("A &hearts; B &amp; C &#8217; &x & y"),
            "A \u{2665} B & C \u{2019} &x & y"
        );
    }

    #[test]
    fn rss_without_version_or_channel_gets_both() {
        let out = repaired("<rss><item><title>A</title></item></rss>");
        assert_eq!(
            out,
            "<rss version=\"2.0\"><channel><item><title>A</title></item></channel></rss>"
        );
    }

    #[test]
    fn rss_default_namespace_is_dropped() {
        let out = repaired(
            "<rss version=\"2.0\" xmlns=\"http://backend.userland.com/rss2\"><channel><title>T</title></channel></rss>",
        );
        assert_eq!(
            out,
            "<rss version=\"2.0\"><channel><title>T</title></channel></rss>"
        );
    }

    #[test]
    fn prefixed_rss_loses_its_prefix() {
        let out = repaired(
            "<r:rss version=\"2.0\" xmlns:r=\"http://backend.userland.com/rss2\"><r:channel><r:item><r:title>A</r:title></r:item></r:channel></r:rss>",
        );
        assert_eq!(
            out,
            "<rss version=\"2.0\" xmlns:r=\"http://backend.userland.com/rss2\"><channel><item><title>A</title></item></channel></rss>"
        );
    }

    #[test]
    fn empty_rss_is_an_empty_feed() {
        assert_eq!(
            repaired("<rss version=\"0.92\">\n</rss>"),
            "<rss version=\"0.92\">\n<channel></channel></rss>"
        );
    }

    #[test]
    fn naked_html_in_rss_text_is_escaped() {
        let out = repaired(
            "<rss version=\"2.0\"><channel><item><title>B <i>it</i><br/></title><description><p>x</p></description></item></channel></rss>",
        );
        assert_eq!(
            out,
            "<rss version=\"2.0\"><channel><item><title>B &lt;i&gt;it&lt;/i&gt;&lt;br/&gt;</title><description>&lt;p&gt;x&lt;/p&gt;</description></item></channel></rss>"
        );
    }

    #[test]
    fn items_after_a_closed_channel_stay_in_it() {
        let out = repaired(
            "<rss version=\"0.91\"><channel><title>T</title></channel><item><title>A</title></item></rss>",
        );
        assert_eq!(
            out,
            "<rss version=\"0.91\"><channel><title>T</title><item><title>A</title></item></channel></rss>"
        );
    }

    #[test]
    fn mismatched_and_stray_end_tags() {
        let out = repaired(
            "<rss version=\"2.0\"><channel><item><title>A</titel></b></item></channel></rss>",
        );
        assert_eq!(
            out,
            "<rss version=\"2.0\"><channel><item><title>A</title></item></channel></rss>"
        );
    }

    #[test]
    fn truncated_document_keeps_complete_entries() {
        let r = repair_xml(
            "<rss version=\"2.0\"><channel><item><title>A</title></item><item><title>B</ti",
        );
        assert_eq!(
            r.text,
            "<rss version=\"2.0\"><channel><item><title>A</title></item></channel></rss>"
        );
        assert!(
            r.notes.iter().any(|n| n.contains("incomplete")),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn rdf_items_get_links_and_dcterms_dates() {
        let out = repaired(concat!(
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://my.netscape.com/rdf/simple/0.9/\" xmlns:dcterms=\"http://purl.org/dc/terms/\">",
            "<item rdf:about=\"http://e.com/1\"><title>A</title><dcterms:issued>2024-01-02</dcterms:issued></item>",
            "<item><title>B</title></item></rdf:RDF>"
        ));
        assert!(out.contains("xmlns=\"http://purl.org/rss/1.0/\""), "{out}");
        assert!(out.contains("<link>http://e.com/1</link></item>"), "{out}");
        assert!(
            out.contains(&format!("<link>{MISSING_LINK}</link>")),
            "{out}"
        );
        assert!(
            out.contains(
                "<dc:date xmlns:dc=\"http://purl.org/dc/elements/1.1/\">2024-01-02</dc:date>"
            ),
            "{out}"
        );
    }

    #[test]
    fn atom03_becomes_atom10() {
        let out = repaired(concat!(
            "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><tagline>T</tagline>",
            "<entry><title type=\"text/html\" mode=\"escaped\">&lt;b&gt;x&lt;/b&gt;</title>",
            "<issued>2004-01-01T00:00:00Z</issued><modified>2004-01-02T00:00:00Z</modified>",
            "<created>2003-12-31T00:00:00Z</created>",
            "<summary type=\"text/plain\" mode=\"base64\">SGVsbG8=</summary><content type=\"text/plain\"></content></entry></feed>"
        ));
        assert_eq!(
            out,
            concat!(
                "<feed version=\"0.3\" xmlns=\"http://www.w3.org/2005/Atom\"><subtitle>T</subtitle>",
                "<entry><title type=\"html\">&lt;b&gt;x&lt;/b&gt;</title>",
                "<published>2004-01-01T00:00:00Z</published><updated>2004-01-02T00:00:00Z</updated>",
                "<summary>Hello</summary></entry></feed>"
            )
        );
    }

    #[test]
    fn atom_text_types_feed_rs_refuses_are_mapped() {
        let out = repaired(concat!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title type=\"application/x-custom\">T</title>",
            "<content type=\"application/octet-stream\">SGk=</content></entry></feed>"
        ));
        assert_eq!(
            out,
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title>T</title><content type=\"text\">Hi</content></entry></feed>"
        );
    }

    #[test]
    fn an_unparseable_xml_base_is_dropped() {
        let r = repair_xml(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:base=\"http://[bad/\"><entry><link href=\"a\"/></entry></feed>",
        );
        assert_eq!(
            r.text,
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><link href=\"a\"/></entry></feed>"
        );
        assert_eq!(r.notes.len(), 1);
    }

    #[test]
    fn unknown_roots_pass_through() {
        let r = repair_xml("<html><body>x</body></html>");
        assert_eq!(r.dialect, Dialect::Unknown);
        assert_eq!(r.text, "<html><body>x</body></html>");
    }
}
