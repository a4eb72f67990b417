//! OFAC's CSV layout (the SDN list and the consolidated non-SDN lists alike): no header row, `-0-`
//! for an empty value, the file ending in a DOS end-of-file byte.
//!
//! - primary (`SDN.CSV`, `CONS_PRIM.CSV`): ent_num, name, type, program, title, call sign, vessel
//!   type, tonnage, GRT, vessel flag, vessel owner, remarks;
//! - aliases (`ALT.CSV`): ent_num, alt_num, alt_type (aka/fka/nka), alt_name, alt_remarks;
//! - addresses (`ADD.CSV`): ent_num, add_num, address, city/state/postal code, country, remarks;
//! - comments (`SDN_COMMENTS.CSV`): ent_num, the rest of the remarks that did not fit.
//!
//! Nicknames that remarks quote (`a.k.a. 'SMIC'`) are kept as weak aliases: OFAC calls those
//! "weak AKAs".

use std::collections::HashMap;

use super::{Alias, Entry, EntryKind, ListError, ListFile, decode};

const PRIMARY_FIELDS: [&str; 12] = [
    "ent_num",
    "SDN_Name",
    "SDN_Type",
    "Program",
    "Title",
    "Call_Sign",
    "Vess_type",
    "Tonnage",
    "GRT",
    "Vess_flag",
    "Vess_owner",
    "Remarks",
];
const ALT_FIELDS: [&str; 5] = ["ent_num", "alt_num", "alt_type", "alt_name", "alt_remarks"];
const ADD_FIELDS: [&str; 6] = [
    "ent_num",
    "add_num",
    "address",
    "city_state_postal",
    "country",
    "add_remarks",
];

/// Reads the primary file and the files beside it (aliases and addresses are required by the
/// layout but an empty file is allowed; comments are optional).
pub fn parse(
    primary: &ListFile,
    alt: Option<&ListFile>,
    add: Option<&ListFile>,
    comments: Option<&ListFile>,
) -> Result<Vec<Entry>, ListError> {
    let mut entries = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut remarks: Vec<String> = Vec::new();
    rows(primary, &PRIMARY_FIELDS, PRIMARY_FIELDS.len(), |line, f| {
        let id = ent_num(primary, line, f[0])?;
        let name = value(f[1]).ok_or_else(|| {
            ListError::new(&primary.name, Some(line), "SDN_Name", "the name is empty")
        })?;
        let kind = match value(f[2]).map(|t| t.to_ascii_lowercase()) {
            None => EntryKind::Entity,
            Some(t) if t == "individual" => EntryKind::Person,
            Some(t) if t == "vessel" => EntryKind::Vessel,
            Some(t) if t == "aircraft" => EntryKind::Aircraft,
            Some(t) if t == "entity" => EntryKind::Entity,
            Some(t) => {
                return Err(ListError::new(
                    &primary.name,
                    Some(line),
                    "SDN_Type",
                    format!("`{t}` is none of individual, vessel, aircraft or -0- (an entity)"),
                ));
            }
        };
        let programs = value(f[3])
            .map(|p| {
                p.split("] [")
                    .map(|s| s.trim_matches(['[', ']', ' ']).to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut countries = Vec::new();
        if kind == EntryKind::Vessel
            && let Some(flag) = value(f[9])
        {
            countries.push(flag.to_string());
        }
        if index.insert(id.clone(), entries.len()).is_some() {
            return Err(ListError::new(
                &primary.name,
                Some(line),
                "ent_num",
                format!("{id} is listed twice"),
            ));
        }
        remarks.push(value(f[11]).unwrap_or_default().to_string());
        entries.push(Entry {
            id,
            name: name.to_string(),
            kind,
            aliases: Vec::new(),
            programs,
            listed_on: None,
            countries,
        });
        Ok(())
    })?;
    if let Some(file) = comments {
        rows(file, &["ent_num", "remarks"], 2, |line, f| {
            let id = ent_num(file, line, f[0])?;
            if let (Some(&i), Some(text)) = (index.get(&id), value(f[1])) {
                remarks[i].push(' ');
                remarks[i].push_str(text);
            }
            Ok(())
        })?;
    }
    for (e, r) in entries.iter_mut().zip(&remarks) {
        for nick in quoted_akas(r) {
            if !e.aliases.iter().any(|a| a.name == nick) {
                e.aliases.push(Alias {
                    name: nick,
                    weak: true,
                });
            }
        }
        e.listed_on = listing_date(r);
    }
    if let Some(file) = alt {
        rows(file, &ALT_FIELDS, ALT_FIELDS.len(), |line, f| {
            let id = ent_num(file, line, f[0])?;
            let Some(&i) = index.get(&id) else {
                return Ok(());
            };
            let name = value(f[3]).ok_or_else(|| {
                ListError::new(&file.name, Some(line), "alt_name", "the alias is empty")
            })?;
            let alias = Alias {
                name: name.to_string(),
                weak: false,
            };
            let aliases = &mut entries[i].aliases;
            // A name quoted in the remarks and listed as an alias is a full alias.
            aliases.retain(|a| a.name != alias.name);
            aliases.push(alias);
            Ok(())
        })?;
    }
    if let Some(file) = add {
        rows(file, &ADD_FIELDS, ADD_FIELDS.len(), |line, f| {
            let id = ent_num(file, line, f[0])?;
            if let (Some(&i), Some(country)) = (index.get(&id), value(f[4])) {
                let countries = &mut entries[i].countries;
                if !countries.iter().any(|c| c == country) {
                    countries.push(country.to_string());
                }
            }
            Ok(())
        })?;
    }
    Ok(entries)
}

/// Calls `row` with the 1-based line and the fields of every record; a record with the wrong
/// number of fields is an error naming the first missing (or the extra) field.
fn rows(
    file: &ListFile,
    fields: &[&str],
    want: usize,
    mut row: impl FnMut(u64, &[&str]) -> Result<(), ListError>,
) -> Result<(), ListError> {
    let text = decode(&file.bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut lines = super::Lines::new(&text);
    loop {
        let start = reader.position().byte();
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                let line = lines.at(e.position().map(|p| p.byte()).unwrap_or(start));
                return Err(ListError::new(
                    &file.name,
                    Some(line),
                    "",
                    format!("not CSV: {e}"),
                ));
            }
        }
        let line = lines.at(start);
        // The DOS end-of-file byte OFAC ends its files with, and blank lines.
        if record.len() == 1 && record[0].trim_matches(['\u{1a}', ' ', '\r']).is_empty() {
            continue;
        }
        if record.len() != want {
            let field = fields
                .get(record.len().min(want))
                .copied()
                .unwrap_or("(extra)");
            return Err(ListError::new(
                &file.name,
                Some(line),
                field,
                format!(
                    "{} fields where the layout has {want} ({})",
                    record.len(),
                    fields.join(", ")
                ),
            ));
        }
        let f: Vec<&str> = record.iter().collect();
        row(line, &f)?;
    }
}

fn value(raw: &str) -> Option<&str> {
    let v = raw.trim();
    (v != "-0-" && !v.is_empty()).then_some(v)
}

fn ent_num(file: &ListFile, line: u64, raw: &str) -> Result<String, ListError> {
    let v = raw.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ListError::new(
            &file.name,
            Some(line),
            "ent_num",
            format!("`{v}` is not an entry number"),
        ));
    }
    Ok(v.to_string())
}

/// Names quoted after `a.k.a.` in remarks: `a.k.a. 'SMIC'`, `a.k.a. 'ABU-'UMAR'`.
fn quoted_akas(remarks: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in remarks.split(';') {
        let p = part.trim();
        let Some(rest) = p
            .strip_prefix("a.k.a. ")
            .or_else(|| p.strip_prefix("f.k.a. "))
            .or_else(|| p.strip_prefix("n.k.a. "))
        else {
            continue;
        };
        let rest = rest.trim_end_matches('.').trim();
        if let Some(inner) = rest.strip_prefix('\'')
            && let Some(end) = inner.rfind('\'')
        {
            let name = inner[..end].trim();
            if !name.is_empty() {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// The listing date OFAC writes in remarks for some programs: `Listing Date (CMIC) 03 Jun 2021`.
fn listing_date(remarks: &str) -> Option<String> {
    let at = remarks.find("Listing Date")?;
    let rest = &remarks[at..];
    let close = rest.find(')')?;
    let date: String = rest[close + 1..]
        .trim_start()
        .chars()
        .take_while(|c| *c != ';' && *c != '.')
        .collect();
    chrono::NaiveDate::parse_from_str(date.trim(), "%d %b %Y")
        .ok()
        .map(|d| d.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> ListFile {
        ListFile {
            name: name.into(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn reads_the_layout_with_aliases_addresses_and_nicknames() {
        let sdn = file(
            "SDN.CSV",
            "306,\"BANCO NACIONAL DE CUBA\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,\"a.k.a. 'BNC'.\"\r\n\
             587,\"CRUZ, Juan M. de la\",\"individual\",\"CUBA] [SDGT\",\"Director\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n\x1a",
        );
        let alt = file(
            "ALT.CSV",
            "306,220,\"aka\",\"NATIONAL BANK OF CUBA\",-0- \r\n",
        );
        let add = file(
            "ADD.CSV",
            "306,199,\"Zweierstrasse 35\",\"Zurich CH-8022\",\"Switzerland\",-0- \r\n",
        );
        let e = parse(&sdn, Some(&alt), Some(&add), None).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].id, "306");
        assert_eq!(e[0].kind, EntryKind::Entity);
        assert_eq!(
            e[0].aliases,
            vec![
                Alias {
                    name: "BNC".into(),
                    weak: true
                },
                Alias {
                    name: "NATIONAL BANK OF CUBA".into(),
                    weak: false
                }
            ]
        );
        assert_eq!(e[0].countries, vec!["Switzerland"]);
        assert_eq!(e[1].kind, EntryKind::Person);
        assert_eq!(e[1].programs, vec!["CUBA", "SDGT"]);
    }

    #[test]
    fn malformed_rows_name_line_and_field() {
        let sdn = file(
            "SDN.CSV",
            "1,\"A CO\",-0- ,\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n\
             x2,\"B CO\",-0- ,\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n",
        );
        let err = parse(&sdn, None, None, None).unwrap_err();
        assert_eq!(
            (err.line, err.field.as_str()),
            (Some(2), "ent_num"),
            "{err}"
        );
        let sdn = file(
            "SDN.CSV",
            "1,\"A CO\",\"robot\",\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n",
        );
        let err = parse(&sdn, None, None, None).unwrap_err();
        assert_eq!(
            (err.line, err.field.as_str()),
            (Some(1), "SDN_Type"),
            "{err}"
        );
        let alt = file("ALT.CSV", "1,2,\"aka\"\n");
        let sdn = file(
            "SDN.CSV",
            "1,\"A CO\",-0- ,\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n",
        );
        let err = parse(&sdn, Some(&alt), None, None).unwrap_err();
        assert_eq!(
            (err.line, err.field.as_str()),
            (Some(1), "alt_name"),
            "{err}"
        );
        assert!(
            err.to_string().starts_with("ALT.CSV:1: field `alt_name`"),
            "{err}"
        );
    }

    #[test]
    fn listing_date_from_remarks() {
        assert_eq!(
            listing_date("Target Type Private Company; Listing Date (CMIC) 03 Jun 2021; x"),
            Some("2021-06-03".into())
        );
    }
}
