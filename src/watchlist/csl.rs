//! The US Consolidated Screening List (trade.gov): CSV in the current layout (first column `_id`)
//! or the 2019 one (first column `source`), or JSON with a top-level `results` array.
//!
//! Columns used: `source`, `entity_number`, `_id`, `type`, `programs`, `name`, `addresses`,
//! `start_date`, `alt_names`, `citizenships`, `nationalities`. BIS writes `?` for apostrophes;
//! aliases, programs and addresses are joined with `; `.

use sha2::{Digest, Sha256};

use super::{Alias, Entry, EntryKind, ListError, ListFile, decode};

/// CSV or JSON, told by the file name or, failing that, by the first character.
pub fn parse(file: &ListFile) -> Result<Vec<Entry>, ListError> {
    let text = decode(&file.bytes);
    let json = file.name.to_ascii_lowercase().ends_with(".json")
        || text.trim_start().starts_with(['{', '[']);
    if json {
        parse_json(&file.name, &text)
    } else {
        parse_csv(&file.name, &text)
    }
}

/// One row, as either format gives it.
#[derive(Default)]
struct Row {
    id: Option<String>,
    entity_number: Option<String>,
    source: String,
    kind: Option<String>,
    programs: Vec<String>,
    name: String,
    addresses: Vec<String>,
    countries: Vec<String>,
    start_date: Option<String>,
    alt_names: Vec<String>,
}

fn entry(file: &str, line: Option<u64>, r: Row) -> Result<Entry, ListError> {
    let name = bis_apostrophes(r.name.trim());
    if name.is_empty() {
        return Err(ListError::new(file, line, "name", "the name is empty"));
    }
    if r.source.trim().is_empty() {
        return Err(ListError::new(
            file,
            line,
            "source",
            "the source list is empty",
        ));
    }
    let kind = match r.kind.as_deref().map(|k| k.trim().to_ascii_lowercase()) {
        None => EntryKind::Entity,
        Some(k) if k.is_empty() || k == "entity" => EntryKind::Entity,
        Some(k) if k == "individual" => EntryKind::Person,
        Some(k) if k == "vessel" => EntryKind::Vessel,
        Some(k) if k == "aircraft" => EntryKind::Aircraft,
        Some(k) => {
            return Err(ListError::new(
                file,
                line,
                "type",
                format!("`{k}` is none of Individual, Entity, Vessel, Aircraft"),
            ));
        }
    };
    // The entry number where the list has one (SDN rows), else the row's `_id`, else (2019
    // rows of BIS lists have neither) a digest of source and name, stable across versions.
    let id = r
        .entity_number
        .filter(|s| !s.trim().is_empty())
        .or(r.id.filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| {
            let d = Sha256::digest(format!("{}\n{}", r.source.trim(), name).as_bytes());
            format!("csl-{}", &hex::encode(d)[..16])
        });
    let mut programs: Vec<String> = r.programs;
    // The short name of the source list (`EL` from `Entity List (EL) - Bureau of ...`) is the
    // program analysts know BIS lists by.
    if let Some(open) = r.source.find('(')
        && let Some(close) = r.source[open..].find(')')
    {
        let short = r.source[open + 1..open + close].trim().to_string();
        if !short.is_empty() && !programs.contains(&short) {
            programs.push(short);
        }
    }
    let mut countries = r.countries;
    for a in &r.addresses {
        // Addresses end in the ISO country code: `Komitas 26/114, Yerevan, Armenia, AM`.
        if let Some(last) = a.rsplit(',').next().map(str::trim)
            && last.len() == 2
            && last.bytes().all(|b| b.is_ascii_uppercase())
            && !countries.iter().any(|c| c == last)
        {
            countries.push(last.to_string());
        }
    }
    let aliases = r
        .alt_names
        .into_iter()
        .map(|a| bis_apostrophes(a.trim()))
        .filter(|a| !a.is_empty() && *a != name)
        .map(|name| Alias { name, weak: false })
        .collect();
    let listed_on = r
        .start_date
        .map(|d| d.trim().to_string())
        .filter(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok());
    Ok(Entry {
        id,
        name,
        kind,
        aliases,
        programs,
        listed_on,
        countries,
    })
}

/// `Xi?an` is `Xi'an`: BIS writes `?` for apostrophes.
fn bis_apostrophes(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        let between_letters = i > 0
            && chars[i - 1].is_alphabetic()
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic());
        out.push(if c == '?' && between_letters { '\'' } else { c });
    }
    out
}

fn split_list(s: &str) -> Vec<String> {
    s.split(';')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn parse_csv(file: &str, text: &str) -> Result<Vec<Entry>, ListError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ListError::new(file, Some(1), "", format!("not CSV: {e}")))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let (Some(source), Some(name)) = (col("source"), col("name")) else {
        return Err(ListError::new(
            file,
            Some(1),
            if col("source").is_none() {
                "source"
            } else {
                "name"
            },
            "the header row lacks this column of the Consolidated Screening List",
        ));
    };
    let [id, number, kind, programs, addresses, start, alts, cit, nat] = [
        "_id",
        "entity_number",
        "type",
        "programs",
        "addresses",
        "start_date",
        "alt_names",
        "citizenships",
        "nationalities",
    ]
    .map(col);
    let mut out = Vec::new();
    let mut lines = super::Lines::new(text);
    loop {
        let at = reader.position().byte();
        let mut record = csv::StringRecord::new();
        let more = reader.read_record(&mut record).map_err(|e| {
            let line = Some(lines.at(e.position().map(|p| p.byte()).unwrap_or(at)));
            let field = match e.kind() {
                csv::ErrorKind::UnequalLengths { len, .. } => {
                    headers.get(*len as usize).unwrap_or("(extra)").to_string()
                }
                _ => String::new(),
            };
            ListError::new(file, line, &field, format!("not CSV: {e}"))
        })?;
        if !more {
            break;
        }
        let line = Some(lines.at(at));
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).map(str::to_string);
        let list = |c: Option<usize>| get(c).map(|s| split_list(&s)).unwrap_or_default();
        let mut countries = list(cit);
        countries.extend(list(nat));
        let row = Row {
            id: get(id),
            entity_number: get(number),
            source: get(Some(source)).unwrap_or_default(),
            kind: get(kind),
            programs: list(programs),
            name: get(Some(name)).unwrap_or_default(),
            addresses: list(addresses),
            countries,
            start_date: get(start).filter(|s| !s.is_empty()),
            alt_names: list(alts),
        };
        out.push(entry(file, line, row)?);
    }
    Ok(out)
}

fn parse_json(file: &str, text: &str) -> Result<Vec<Entry>, ListError> {
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ListError::new(file, Some(e.line() as u64), "", format!("not JSON: {e}")))?;
    let results = match &doc {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(o) => match o.get("results") {
            Some(serde_json::Value::Array(a)) => a,
            _ => {
                return Err(ListError::new(
                    file,
                    None,
                    "results",
                    "a Consolidated Screening List JSON document has a `results` array",
                ));
            }
        },
        _ => {
            return Err(ListError::new(
                file,
                None,
                "results",
                "neither an object with `results` nor an array",
            ));
        }
    };
    let mut out = Vec::new();
    for (i, r) in results.iter().enumerate() {
        let place = |field: &str| format!("results[{i}].{field}");
        let Some(obj) = r.as_object() else {
            return Err(ListError::new(
                file,
                None,
                &format!("results[{i}]"),
                "not an object",
            ));
        };
        let text = |field: &str| -> Result<Option<String>, ListError> {
            match obj.get(field) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
                Some(_) => Err(ListError::new(
                    file,
                    None,
                    &place(field),
                    "expected a string",
                )),
            }
        };
        // Lists are arrays in JSON (strings `; `-joined in older exports); addresses are objects.
        let list = |field: &str| -> Result<Vec<String>, ListError> {
            match obj.get(field) {
                None | Some(serde_json::Value::Null) => Ok(Vec::new()),
                Some(serde_json::Value::String(s)) => Ok(split_list(s)),
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .map(|v| match v {
                        serde_json::Value::String(s) => Ok(s.trim().to_string()),
                        serde_json::Value::Object(o) => Ok(["address", "city", "state", "country"]
                            .iter()
                            .filter_map(|k| o.get(*k).and_then(|v| v.as_str()))
                            .filter(|s| !s.trim().is_empty())
                            .collect::<Vec<_>>()
                            .join(", ")),
                        _ => Err(ListError::new(
                            file,
                            None,
                            &place(field),
                            "expected strings",
                        )),
                    })
                    .filter(|r| r.as_ref().map(|s| !s.is_empty()).unwrap_or(true))
                    .collect(),
                Some(_) => Err(ListError::new(file, None, &place(field), "expected a list")),
            }
        };
        let mut countries = list("citizenships")?;
        countries.extend(list("nationalities")?);
        let row = Row {
            id: text("id")?.or(text("_id")?),
            entity_number: text("entity_number")?,
            source: text("source")?.unwrap_or_default(),
            kind: text("type")?,
            programs: list("programs")?,
            name: text("name")?.unwrap_or_default(),
            addresses: list("addresses")?,
            countries,
            start_date: text("start_date")?.filter(|s| !s.is_empty()),
            alt_names: list("alt_names")?,
        };
        out.push(entry(file, None, row).map_err(|mut e| {
            e.field = place(&e.field);
            e
        })?);
    }
    Ok(out)
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
    fn both_csv_layouts_and_json() {
        let current = file(
            "consolidated.csv",
            "_id,source,entity_number,type,programs,name,addresses,start_date,alt_names\n\
             abc,Entity List (EL) - Bureau of Industry and Security,,,,Xi?an Co,\"1 Road, Xi'an, CN\",2020-01-02,X Co; Y Co\n",
        );
        let e = parse(&current).unwrap();
        assert_eq!(e[0].id, "abc");
        assert_eq!(e[0].name, "Xi'an Co");
        assert_eq!(e[0].programs, vec!["EL"]);
        assert_eq!(e[0].countries, vec!["CN"]);
        assert_eq!(e[0].aliases.len(), 2);
        assert_eq!(e[0].listed_on.as_deref(), Some("2020-01-02"));
        let old = file(
            "csl.csv",
            "source,entity_number,type,programs,name,addresses\n\
             Specially Designated Nationals (SDN) - Treasury Department,20264,Entity,SDNTK,200G PSA HOLDINGS LLC,\n\
             Entity List (EL) - Bureau of Industry and Security,,,,Huawei Co,\n",
        );
        let e = parse(&old).unwrap();
        assert_eq!(e[0].id, "20264");
        assert_eq!(e[0].programs, vec!["SDNTK", "SDN"]);
        assert!(e[1].id.starts_with("csl-"));
        let json = file(
            "consolidated.json",
            r#"{"results":[{"id":"j1","source":"Entity List (EL) - Bureau of Industry and Security","name":"A Co","type":null,"alt_names":["B Co"],"addresses":[{"address":"1 Rd","city":"Shenzhen","country":"CN"}],"programs":[]}]}"#,
        );
        let e = parse(&json).unwrap();
        assert_eq!(e[0].id, "j1");
        assert_eq!(e[0].countries, vec!["CN"]);
        assert_eq!(e[0].aliases[0].name, "B Co");
    }

    #[test]
    fn malformed_rows_name_line_and_field() {
        let f = file(
            "csl.csv",
            "source,name,type\nEL (EL),A Co,Entity\nEL (EL),,Entity\n",
        );
        let err = parse(&f).unwrap_err();
        assert_eq!((err.line, err.field.as_str()), (Some(3), "name"), "{err}");
        let f = file("csl.csv", "source,name,type\nEL (EL),A Co\n");
        let err = parse(&f).unwrap_err();
        assert_eq!((err.line, err.field.as_str()), (Some(2), "type"), "{err}");
        let f = file(
            "c.json",
            "{\"results\": [{\"source\": \"x\", \"name\": 5, \"type\": \"robot\"}]}",
        );
        let err = parse(&f).unwrap_err();
        assert_eq!(err.field, "results[0].type", "{err}");
    }
}
