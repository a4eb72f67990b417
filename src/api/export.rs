//! A search's hits as a download: CSV for spreadsheets, JSON lines for scripts. The response is
//! streamed a page of hits at a time (never the whole export in memory) and bounded: paging ends
//! 10,000 hits deep, so an export does too.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::params::{FilterParams, Q, choice_param, number_param};
use super::{ApiError, ApiState, ErrorBody, blocking};
use crate::analyze::TopicScore;
use crate::store::index::HitEntity;
use crate::store::{SearchRequest, SearchResponse, Sort};

/// Rows an export holds at most: as deep as search pages go.
pub const MAX_ROWS: usize = 10_000;
/// Hits fetched per step of the stream (the index's page size).
const PAGE: usize = 100;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` (the default) or `jsonl` (one JSON object per line).
    #[param(value_type = Option<ExportFormat>)]
    pub format: Option<String>,
    /// `newest` (the default) or `relevance`.
    #[param(value_type = Option<super::params::SortOrder>)]
    pub sort: Option<String>,
    /// At most this many rows (default 1,000).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 10000)]
    pub limit: Option<String>,
}

#[allow(dead_code)] // a schema only
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

/// One exported hit: a line of the `jsonl` export; the `csv` export has the same columns, with
/// topics as `name:score` and entities as names, each list joined by `; `.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExportRow {
    pub id: String,
    pub published: Option<DateTime<Utc>>,
    pub source: String,
    pub title: String,
    pub url: String,
    pub topics: Vec<TopicScore>,
    pub entities: Vec<HitEntity>,
}

const CSV_HEADER: &str = "id,published,source,title,url,topics,entities\r\n";

/// Exports a search's hits (the filters of `/search`) as CSV or JSON lines, as an attachment.
#[utoipa::path(get, path = "/api/v1/export", params(FilterParams, ExportParams), responses(
    (status = 200, description = "The hits, streamed: CSV (RFC 4180, a header row, CRLF line ends) or JSON lines of ExportRow; `Content-Disposition: attachment`",
        content((String = "text/csv"), (ExportRow = "application/x-ndjson"))),
    (status = 400, body = ErrorBody)))]
pub(super) async fn export(
    axum::extract::State(s): axum::extract::State<ApiState>,
    Q(p): Q<FilterParams>,
    Q(e): Q<ExportParams>,
) -> Result<Response, ApiError> {
    let csv = choice_param("format", e.format.as_deref(), &["csv", "jsonl"])? != Some("jsonl");
    let sort = match choice_param("sort", e.sort.as_deref(), &["relevance", "newest"])? {
        Some("relevance") => Sort::Relevance,
        _ => Sort::Newest,
    };
    let limit = number_param("limit", e.limit.as_deref(), 1..=MAX_ROWS, 1000)?;
    let req = SearchRequest {
        sort,
        ..p.into_request()?
    };
    // The first page before the answer starts: a query the index refuses is still a 400.
    let first = page(&s, &req, None, limit).await?;
    let mut chunk = String::new();
    if csv {
        chunk.push_str(CSV_HEADER);
    }
    let left = limit - first.hits.len().min(limit);
    let next = first.next_cursor.clone().filter(|_| left > 0);
    write_rows(&mut chunk, first, csv);

    let body = futures::stream::unfold(
        Step {
            head: Some(chunk),
            cursor: next,
            left,
            s,
            req,
        },
        move |mut step| async move {
            if let Some(head) = step.head.take() {
                return Some((Ok(Bytes::from(head)), step));
            }
            let cursor = step.cursor.take()?;
            match page(&step.s, &step.req, Some(cursor), step.left).await {
                Ok(r) => {
                    step.left -= r.hits.len().min(step.left);
                    step.cursor = r.next_cursor.clone().filter(|_| step.left > 0);
                    let mut out = String::new();
                    write_rows(&mut out, r, csv);
                    Some((Ok(Bytes::from(out)), step))
                }
                // The status is sent already: cutting the stream short is how the client learns
                // that the download is incomplete.
                Err(e) => {
                    tracing::warn!(error = %e, "export stopped part way");
                    Some((Err(std::io::Error::other(e.to_string())), step))
                }
            }
        },
    );
    let (content_type, ext) = if csv {
        ("text/csv; charset=utf-8", "csv")
    } else {
        ("application/x-ndjson", "jsonl")
    };
    let name = format!(
        "attachment; filename=\"wirewatch-export-{}.{ext}\"",
        Utc::now().format("%Y%m%dT%H%MZ")
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// Where the stream of an export is: rows written but not sent, where the next page starts, and
/// how many rows may still come.
struct Step {
    head: Option<String>,
    cursor: Option<String>,
    left: usize,
    s: ApiState,
    req: SearchRequest,
}

async fn page(
    s: &ApiState,
    req: &SearchRequest,
    cursor: Option<String>,
    left: usize,
) -> Result<SearchResponse, ApiError> {
    let req = SearchRequest {
        cursor,
        limit: left.clamp(1, PAGE),
        ..req.clone()
    };
    let index = s.index.clone();
    blocking(move || index.search(&req)).await
}

fn write_rows(out: &mut String, r: SearchResponse, csv: bool) {
    for h in r.hits {
        let row = ExportRow {
            id: h.id,
            published: h.published,
            source: h.source,
            title: h.title,
            url: h.url,
            topics: h.topics,
            entities: h.entities,
        };
        if csv {
            csv_row(out, &row);
        } else if let Ok(line) = serde_json::to_string(&row) {
            out.push_str(&line);
            out.push('\n');
        }
    }
}

fn csv_row(out: &mut String, r: &ExportRow) {
    let topics = (r.topics.iter())
        .map(|t| format!("{}:{:.2}", t.name, t.score))
        .collect::<Vec<_>>()
        .join("; ");
    let entities = (r.entities.iter())
        .map(|e| e.name.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let published = r.published.map(|d| d.to_rfc3339()).unwrap_or_default();
    let cells = [
        r.id.as_str(),
        &published,
        &r.source,
        &r.title,
        &r.url,
        &topics,
        &entities,
    ];
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_cell(out, cell);
    }
    out.push_str("\r\n");
}

/// One field as RFC 4180 has it: quoted when it holds a comma, a quote or a line break, quotes
/// doubled. A field that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a tab or
/// carriage return first: titles come from the web) gets a `'` in front, as OWASP advises, so
/// that opening an export never runs what a feed wrote.
pub fn csv_cell(out: &mut String, cell: &str) {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = formula || cell.contains([',', '"', '\n', '\r']);
    if quoted {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in cell.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quoted {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    fn cell(s: &str) -> String {
        let mut out = String::new();
        csv_cell(&mut out, s);
        out
    }

    #[test]
    fn quoting() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell(""), "");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"no\""), "\"say \"\"no\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("cr\rhere"), "\"cr\rhere\"");
        assert_eq!(cell("芯片出口管制"), "芯片出口管制");
    }

    #[test]
    fn formulas_are_defused() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+1"), "\"'+1\"");
        assert_eq!(cell("-2"), "\"'-2\"");
        assert_eq!(cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(cell("a=b"), "a=b");
    }
}
