//! Turning bytes of unknown encoding into UTF-8 text before any parser sees them.
//!
//! Order of trust: a byte-order mark (as the WHATWG encoding standard has it: a BOM cannot be
//! there by accident, and a declaration cannot even be read without knowing the code unit width),
//! then the HTTP `charset`, then the document's own declaration (`<?xml encoding=...?>` or
//! `<meta charset>`), then UTF-8 if the bytes are valid UTF-8, then a statistical guess
//! (chardetng, Firefox's detector), which reads GBK, Big5 and Shift_JIS pages that say nothing.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// Decodes a document to UTF-8 and drops an XML `encoding` declaration that would no longer be true.
pub fn decode_to_utf8(bytes: &[u8], content_type: Option<&str>) -> String {
    decode(bytes, content_type).into_owned()
}

/// [`decode_to_utf8`] without a copy when the document already is UTF-8.
pub fn decode<'a>(bytes: &'a [u8], content_type: Option<&str>) -> Cow<'a, str> {
    if let Some(text) = utf32(bytes) {
        return Cow::Owned(drop_xml_encoding_decl(text));
    }
    let (encoding, bom_len) = detect(bytes, content_type);
    if encoding == UTF_8
        && let Ok(text) = std::str::from_utf8(&bytes[bom_len..])
    {
        return Cow::Borrowed(text);
    }
    let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
    let text = text.into_owned();
    Cow::Owned(if encoding == UTF_8 {
        text
    } else {
        drop_xml_encoding_decl(text)
    })
}

/// UTF-32, which encoding_rs leaves out (no browser supports it) but a few feeds are written in:
/// recognised by its BOM or by `<` in a four-byte unit.
fn utf32(bytes: &[u8]) -> Option<String> {
    let (big_endian, skip) = match bytes.get(..4)? {
        [0, 0, 0xfe, 0xff] => (true, 4),
        [0xff, 0xfe, 0, 0] => (false, 4),
        [0, 0, 0, b'<'] => (true, 0),
        [b'<', 0, 0, 0] => (false, 0),
        _ => return None,
    };
    let text = bytes[skip..]
        .chunks_exact(4)
        .map(|unit| {
            let unit = [unit[0], unit[1], unit[2], unit[3]];
            let code = if big_endian {
                u32::from_be_bytes(unit)
            } else {
                u32::from_le_bytes(unit)
            };
            char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)
        })
        .collect();
    Some(text)
}

fn detect(bytes: &[u8], content_type: Option<&str>) -> (&'static Encoding, usize) {
    if let Some((enc, len)) = Encoding::for_bom(bytes) {
        return (enc, len);
    }
    // UTF-16 without a BOM still starts with `<` next to a zero byte.
    if bytes.len() >= 4 {
        match bytes[..4] {
            [0, b'<', 0, _] => return (UTF_16BE, 0),
            [b'<', 0, _, 0] => return (UTF_16LE, 0),
            _ => {}
        }
    }
    let declared = content_type
        .and_then(charset_param)
        .or_else(|| declared_in_document(bytes));
    if let Some(label) = declared
        && let Some(enc) = Encoding::for_label(label.as_bytes())
    {
        // A document declared as Latin-1 (or US-ASCII) that is valid UTF-8 was written as
        // UTF-8 (a common server misconfiguration); decoding it as Latin-1 would garble every
        // non-ASCII letter.
        if enc == WINDOWS_1252 && std::str::from_utf8(bytes).is_ok() {
            return (UTF_8, 0);
        }
        // UTF-16 declared in a document we could read as ASCII is a lie.
        if enc == UTF_16LE || enc == UTF_16BE {
            return (UTF_8, 0);
        }
        return (enc, 0);
    }
    if std::str::from_utf8(bytes).is_ok() {
        return (UTF_8, 0);
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    (detector.guess(None, true), 0)
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
    })
}

/// The encoding named in the first 1 KiB: an XML declaration or an HTML meta charset.
fn declared_in_document(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(1024)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    for key in ["encoding=", "charset="] {
        if let Some(pos) = head.find(key) {
            let rest = head[pos + key.len()..].trim_start_matches(['"', '\'', ' ']);
            let label: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
                .collect();
            if !label.is_empty() {
                return Some(label);
            }
        }
    }
    None
}

fn drop_xml_encoding_decl(text: String) -> String {
    let Some(rest) = text.strip_prefix("<?xml") else {
        return text;
    };
    let Some(end) = rest.find("?>") else {
        return text;
    };
    let decl = &rest[..end];
    let cleaned: String = match decl.find("encoding") {
        Some(pos) => {
            let after = &decl[pos..];
            let value_end = after
                .find(['"', '\''])
                .and_then(|q| {
                    let quote = after.as_bytes()[q] as char;
                    after[q + 1..].find(quote).map(|e| q + 1 + e + 1)
                })
                .unwrap_or(after.len());
            format!("{}{}", &decl[..pos], &after[value_end..])
        }
        None => decl.to_string(),
    };
    format!("<?xml{}?>{}", cleaned, &rest[end + 2..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_with_bom() {
        let mut bytes = vec![0xff, 0xfe];
        for u in "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss/>".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let text = decode_to_utf8(&bytes, None);
        assert_eq!(text, "<?xml version=\"1.0\" ?><rss/>");
    }

    #[test]
    fn header_charset_wins_over_sniffing() {
        let (bytes, _, _) = encoding_rs::GBK.encode("<rss><title>出口管制</title></rss>");
        assert_eq!(
            decode_to_utf8(&bytes, Some("application/rss+xml; charset=GBK")),
            "<rss><title>出口管制</title></rss>"
        );
    }

    #[test]
    fn declared_latin1_that_is_utf8() {
        let doc = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>café</t>";
        assert!(decode_to_utf8(doc.as_bytes(), None).contains("café"));
    }

    #[test]
    fn utf32_with_and_without_bom() {
        let doc = "<rss><title>出口</title></rss>";
        let be: Vec<u8> = doc.chars().flat_map(|c| (c as u32).to_be_bytes()).collect();
        assert_eq!(decode_to_utf8(&be, None), doc);
        let mut le = vec![0xff, 0xfe, 0, 0];
        le.extend(doc.chars().flat_map(|c| (c as u32).to_le_bytes()));
        assert_eq!(decode_to_utf8(&le, None), doc);
    }

    #[test]
    fn undeclared_gbk_is_sniffed() {
        let text = "<rss><channel><title>美国商务部将中国企业列入实体清单，限制芯片出口</title></channel></rss>";
        let (bytes, _, _) = encoding_rs::GBK.encode(text);
        assert_eq!(decode_to_utf8(&bytes, None), text);
    }

    #[test]
    fn real_latin1() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>caf\xe9</t>";
        let text = decode_to_utf8(bytes, None);
        assert!(text.contains("café"), "{text}");
        assert!(!text.contains("ISO-8859-1"));
    }
}
