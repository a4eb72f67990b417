//! The UN Security Council consolidated list (`consolidated.xml`), read as a stream.
//!
//! `INDIVIDUAL` and `ENTITY` records: `REFERENCE_NUMBER` (the id, `CDi.001`), `FIRST_NAME` to
//! `FOURTH_NAME` (for entities, `FIRST_NAME` is the whole name), `UN_LIST_TYPE` (the program),
//! `LISTED_ON`, `NAME_ORIGINAL_SCRIPT` (Arabic, Han, ...), `*_ALIAS` with `QUALITY` (`Good`,
//! `a.k.a.`, `f.k.a.` or `Low`: a low-quality alias is a weak one) and `ALIAS_NAME`,
//! `NATIONALITY/VALUE` and the `COUNTRY` of addresses.

use quick_xml::XmlVersion;
use quick_xml::events::Event;

use super::{Alias, Entry, EntryKind, ListError, ListFile, decode};

#[derive(Default)]
struct Record {
    kind: Option<EntryKind>,
    line: u64,
    id: String,
    names: [String; 4],
    program: String,
    listed_on: String,
    original: String,
    aliases: Vec<Alias>,
    alias_quality: String,
    alias_name: String,
    countries: Vec<String>,
}

fn line_of(text: &str, pos: usize) -> u64 {
    text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
        + 1
}

pub fn parse(file: &ListFile) -> Result<Vec<Entry>, ListError> {
    let text = decode(&file.bytes);
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut out = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut rec: Option<Record> = None;
    let mut value = String::new();
    let mut saw_root = false;
    loop {
        let event = reader.read_event().map_err(|e| {
            ListError::new(
                &file.name,
                Some(line_of(&text, reader.error_position() as usize)),
                path.last().map(String::as_str).unwrap_or_default(),
                format!("not well-formed XML: {e}"),
            )
        })?;
        match event {
            Event::Start(e) => {
                let name = AsRef::<str>::as_ref(&e.name()).to_string();
                if path.is_empty() {
                    if name != "CONSOLIDATED_LIST" {
                        return Err(ListError::new(
                            &file.name,
                            Some(line_of(&text, reader.buffer_position() as usize)),
                            &name,
                            "the root element of the UN list is CONSOLIDATED_LIST",
                        ));
                    }
                    saw_root = true;
                }
                let kind = match name.as_str() {
                    "INDIVIDUAL" => Some(EntryKind::Person),
                    "ENTITY" => Some(EntryKind::Entity),
                    _ => None,
                };
                if kind.is_some() && path.len() == 2 {
                    rec = Some(Record {
                        kind,
                        line: line_of(&text, reader.buffer_position() as usize),
                        ..Record::default()
                    });
                }
                path.push(name);
                value.clear();
            }
            Event::Text(t) => value.push_str(&t.xml_content(XmlVersion::Implicit1_0)),
            Event::CData(c) => value.push_str(&c),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    value.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    value.push_str(s);
                }
            }
            Event::End(_) => {
                let Some(name) = path.pop() else { break };
                let v = value.trim().to_string();
                value.clear();
                let parent = path.last().map(String::as_str).unwrap_or_default();
                let Some(r) = rec.as_mut() else { continue };
                match (name.as_str(), parent) {
                    ("REFERENCE_NUMBER", _) => r.id = v,
                    ("FIRST_NAME", _) => r.names[0] = v,
                    ("SECOND_NAME", _) => r.names[1] = v,
                    ("THIRD_NAME", _) => r.names[2] = v,
                    ("FOURTH_NAME", _) => r.names[3] = v,
                    ("UN_LIST_TYPE", _) => r.program = v,
                    ("LISTED_ON", _) => r.listed_on = v,
                    ("NAME_ORIGINAL_SCRIPT", _) => r.original = v,
                    ("QUALITY", _) => r.alias_quality = v,
                    ("ALIAS_NAME", _) => r.alias_name = v,
                    ("INDIVIDUAL_ALIAS" | "ENTITY_ALIAS", _) => {
                        let alias = std::mem::take(&mut r.alias_name);
                        let quality = std::mem::take(&mut r.alias_quality);
                        if !alias.is_empty() {
                            r.aliases.push(Alias {
                                name: alias,
                                weak: quality.eq_ignore_ascii_case("low"),
                            });
                        }
                    }
                    ("VALUE", "NATIONALITY")
                    | ("COUNTRY", "INDIVIDUAL_ADDRESS")
                    | ("COUNTRY", "ENTITY_ADDRESS")
                        if !v.is_empty() && !r.countries.contains(&v) =>
                    {
                        r.countries.push(v);
                    }
                    ("INDIVIDUAL" | "ENTITY", _) if path.len() == 2 => {
                        if let Some(r) = rec.take() {
                            out.push(finish(&file.name, r)?);
                        }
                    }
                    _ => {}
                }
            }
            Event::Empty(_) => {}
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(ListError::new(
            &file.name,
            None,
            "CONSOLIDATED_LIST",
            "no UN consolidated list in this file",
        ));
    }
    if !path.is_empty() {
        return Err(ListError::new(
            &file.name,
            Some(line_of(&text, text.len())),
            path.last().map(String::as_str).unwrap_or_default(),
            "the file ends inside this element (cut short?)",
        ));
    }
    Ok(out)
}

fn finish(file: &str, r: Record) -> Result<Entry, ListError> {
    if r.id.is_empty() {
        return Err(ListError::new(
            file,
            Some(r.line),
            "REFERENCE_NUMBER",
            "the record has no reference number",
        ));
    }
    let name = r
        .names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        return Err(ListError::new(
            file,
            Some(r.line),
            "FIRST_NAME",
            format!("record {} has no name", r.id),
        ));
    }
    let mut aliases = r.aliases;
    if !r.original.is_empty() {
        aliases.push(Alias {
            name: r.original,
            weak: false,
        });
    }
    let listed_on = chrono::NaiveDate::parse_from_str(&r.listed_on, "%Y-%m-%d")
        .ok()
        .map(|d| d.to_string());
    Ok(Entry {
        id: r.id,
        name,
        kind: r.kind.unwrap_or(EntryKind::Entity),
        aliases,
        programs: if r.program.is_empty() {
            Vec::new()
        } else {
            vec![r.program]
        },
        listed_on,
        countries: r.countries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CONSOLIDATED_LIST dateGenerated="2026-02-27T00:00:09.554Z">
  <INDIVIDUALS>
    <INDIVIDUAL>
      <DATAID>1</DATAID>
      <FIRST_NAME>ERIC</FIRST_NAME>
      <SECOND_NAME>BADEGE</SECOND_NAME>
      <UN_LIST_TYPE>DRC</UN_LIST_TYPE>
      <REFERENCE_NUMBER>CDi.001</REFERENCE_NUMBER>
      <LISTED_ON>2012-12-31</LISTED_ON>
      <NAME_ORIGINAL_SCRIPT>埃里克</NAME_ORIGINAL_SCRIPT>
      <NATIONALITY><VALUE>Democratic Republic of the Congo</VALUE></NATIONALITY>
      <INDIVIDUAL_ALIAS><QUALITY>Low</QUALITY><ALIAS_NAME>Rick</ALIAS_NAME></INDIVIDUAL_ALIAS>
      <INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>Eric B&amp;adege</ALIAS_NAME></INDIVIDUAL_ALIAS>
      <INDIVIDUAL_ALIAS><QUALITY/><ALIAS_NAME/></INDIVIDUAL_ALIAS>
      <INDIVIDUAL_ADDRESS><COUNTRY>Rwanda</COUNTRY></INDIVIDUAL_ADDRESS>
    </INDIVIDUAL>
  </INDIVIDUALS>
  <ENTITIES>
    <ENTITY>
      <FIRST_NAME>KOREA MINING DEVELOPMENT TRADING CORPORATION</FIRST_NAME>
      <UN_LIST_TYPE>DPRK</UN_LIST_TYPE>
      <REFERENCE_NUMBER>KPe.001</REFERENCE_NUMBER>
      <LISTED_ON>2009-04-24</LISTED_ON>
      <ENTITY_ALIAS><QUALITY>a.k.a.</QUALITY><ALIAS_NAME>KOMID</ALIAS_NAME></ENTITY_ALIAS>
    </ENTITY>
  </ENTITIES>
</CONSOLIDATED_LIST>
"#;

    #[test]
    fn individuals_and_entities_with_alias_quality() {
        let f = ListFile {
            name: "consolidated.xml".into(),
            bytes: SAMPLE.as_bytes().to_vec(),
        };
        let e = parse(&f).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].id, "CDi.001");
        assert_eq!(e[0].name, "ERIC BADEGE");
        assert_eq!(e[0].kind, EntryKind::Person);
        assert_eq!(e[0].listed_on.as_deref(), Some("2012-12-31"));
        assert_eq!(e[0].programs, vec!["DRC"]);
        assert_eq!(
            e[0].aliases,
            vec![
                Alias {
                    name: "Rick".into(),
                    weak: true
                },
                Alias {
                    name: "Eric B&adege".into(),
                    weak: false
                },
                Alias {
                    name: "埃里克".into(),
                    weak: false
                }
            ]
        );
        assert_eq!(
            e[0].countries,
            vec!["Democratic Republic of the Congo", "Rwanda"]
        );
        assert_eq!(e[1].kind, EntryKind::Entity);
        assert_eq!(e[1].aliases[0].name, "KOMID");
    }

    #[test]
    fn malformed_names_line_and_field() {
        let broken = SAMPLE.replace("<REFERENCE_NUMBER>KPe.001</REFERENCE_NUMBER>", "");
        let f = ListFile {
            name: "consolidated.xml".into(),
            bytes: broken.into_bytes(),
        };
        let err = parse(&f).unwrap_err();
        assert_eq!(err.field, "REFERENCE_NUMBER", "{err}");
        assert_eq!(err.line, Some(20), "{err}");
        let cut = &SAMPLE[..SAMPLE.find("</ENTITY>").unwrap()];
        let f = ListFile {
            name: "consolidated.xml".into(),
            bytes: cut.as_bytes().to_vec(),
        };
        let err = parse(&f).unwrap_err();
        assert_eq!(err.field, "ENTITY", "{err}");
    }
}
