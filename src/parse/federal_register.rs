//! The Federal Register API's document lists (`/api/v1/documents.json`), the most direct source
//! for BIS, OFAC and USTR rules and notices. Not a feed format, so feed-rs cannot read it.

use chrono::{NaiveDate, TimeZone, Utc};
use serde::Deserialize;

use super::{Entry, Format, ParseError, ParsedFeed};

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    description: Option<String>,
    results: Vec<Document>,
}

#[derive(Deserialize)]
struct Document {
    title: Option<String>,
    document_number: Option<String>,
    publication_date: Option<String>,
    html_url: Option<String>,
    #[serde(rename = "abstract")]
    summary: Option<String>,
    #[serde(default)]
    agencies: Vec<Agency>,
}

#[derive(Deserialize)]
struct Agency {
    name: Option<String>,
}

pub(super) fn looks_like(text: &str) -> bool {
    text.contains("\"results\"") && text.contains("\"html_url\"")
}

pub(super) fn parse(text: &str) -> Result<ParsedFeed, ParseError> {
    let page: Page = serde_json::from_str(text).map_err(|e| ParseError::Malformed {
        format: "Federal Register document list",
        message: e.to_string(),
    })?;
    let entries = page
        .results
        .into_iter()
        .filter_map(|d| {
            let link = d.html_url?;
            let published = d
                .publication_date
                .as_deref()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|dt| Utc.from_utc_datetime(&dt));
            Some(Entry {
                id: d.document_number.unwrap_or_else(|| link.clone()),
                title: d.title,
                link: Some(link),
                published,
                updated: None,
                authors: d.agencies.into_iter().filter_map(|a| a.name).collect(),
                summary: d.summary,
                content: None,
            })
        })
        .collect();
    Ok(ParsedFeed {
        format: Format::FederalRegister,
        title: page.description,
        entries,
        sitemaps: Vec::new(),
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::parse_document;
    use super::*;

    #[test]
    fn reads_document_list() {
        let doc = r#"{"count":1,"results":[{"title":"Additions to the Entity List","document_number":"2026-1","publication_date":"2026-09-30","html_url":"https://www.federalregister.gov/documents/2026/09/30/2026-1/x","abstract":"BIS adds 12 entities.","agencies":[{"name":"Industry and Security Bureau"}]}]}"#;
        let f = parse_document(doc.as_bytes(), None, None).unwrap();
        assert_eq!(f.format, Format::FederalRegister);
        let e = &f.entries[0];
        assert_eq!(e.title.as_deref(), Some("Additions to the Entity List"));
        assert_eq!(
            e.published.unwrap().to_rfc3339(),
            "2026-09-30T00:00:00+00:00"
        );
        assert_eq!(e.authors, vec!["Industry and Security Bureau"]);
    }
}
