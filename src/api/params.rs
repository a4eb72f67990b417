//! Request parameters: how each is read, and how the OpenAPI document describes it.
//!
//! Values arrive as text and are checked by hand, so that every bad one gets a 400 that names the
//! parameter; the document states the same rules (types, ranges, enumerations, patterns), so that
//! a request valid by the document is accepted and one that is not is refused. Typed parameters
//! given empty (`limit=`) are refused like any other bad value; free-text filters given empty are
//! no filter.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};

use super::ApiError;
use crate::store::{SearchRequest, Sort};

/// The query and the filters that narrow it: shared by search, timeline and facets.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    /// Query: words (all must match), "phrases", "phrase"~N, AND/OR/NOT, prefix*, and
    /// field:value for title, body, source, topic, entity, lang, author; `listed:any`,
    /// `listed:<list name>`, `listed:<entry id>` for restricted-party listings. Empty: everything.
    /// Only the first 4,096 characters are read (the answer's `notes` says so).
    pub q: Option<String>,
    /// Only articles with this topic.
    #[param(value_type = Option<crate::analyze::TopicName>)]
    pub topic: Option<String>,
    /// Only articles naming this entity id (e.g. `nvidia`, `entity_list`). Empty: no filter.
    pub entity: Option<String>,
    /// Only articles from this source (its configured name). Empty: no filter.
    pub source: Option<String>,
    /// Only articles in this language (`en`, `zh`, ...). Empty: no filter.
    pub lang: Option<String>,
    /// Only articles at least this much *about* `topic` (its topic score, 0 to 1; about any
    /// topic when no `topic` is given): 0.5 leaves out articles that mention it in passing.
    #[param(value_type = Option<f64>, minimum = 0.0, maximum = 1.0)]
    pub min_score: Option<String>,
    /// Published on or after this day or instant (YYYY-MM-DD or RFC 3339; days are UTC).
    #[param(value_type = Option<DateParam>)]
    pub from: Option<String>,
    /// Published up to and including this day (or up to this instant).
    #[param(value_type = Option<DateParam>)]
    pub to: Option<String>,
}

/// Order and paging of a search.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// `relevance` (the default) or `newest`.
    #[param(value_type = Option<SortOrder>)]
    pub sort: Option<String>,
    /// Hits per page (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (paging ends 10,000 hits deep).
    #[param(value_type = Option<String>, pattern = r"^(?:10000|[0-9]{1,4})\.-?[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// All of a search's parameters, as `wirewatch search` also builds them.
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    #[serde(flatten)]
    pub filter: FilterParams,
    #[serde(flatten)]
    pub page: PageParams,
}

/// The timeline's bucket size.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IntervalParams {
    /// `day` (the default), `week` (ISO, from Monday) or `month`, in UTC.
    #[param(value_type = Option<IntervalName>)]
    pub interval: Option<String>,
}

/// Which facet to count.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FieldParams {
    /// One field (default: all).
    #[param(value_type = Option<FacetName>)]
    pub field: Option<String>,
}

#[allow(dead_code)] // a schema only
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum SortOrder {
    Relevance,
    Newest,
}

#[allow(dead_code)] // a schema only
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum IntervalName {
    Day,
    Week,
    Month,
}

#[allow(dead_code)] // a schema only
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum FacetName {
    Source,
    Topic,
    Entity,
    Lang,
    Listed,
    Program,
}

#[allow(dead_code)] // a schema only
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Dead,
}

/// A calendar day (`2026-11-20`) or an RFC 3339 instant (`2026-11-20T08:00:00Z`).
pub struct DateParam;

impl utoipa::PartialSchema for DateParam {
    fn schema() -> RefOr<Schema> {
        let of = |format| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        OneOfBuilder::new()
            .item(of(KnownFormat::Date))
            .item(of(KnownFormat::DateTime))
            .description(Some("A calendar day (UTC) or an RFC 3339 instant"))
            .into()
    }
}

impl utoipa::ToSchema for DateParam {}

/// A date parameter: RFC 3339 or a calendar day (UTC). `end_of_day` makes a day inclusive for `to`.
pub fn parse_date_param(
    name: &'static str,
    v: &str,
    end_of_day: bool,
) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Ok(d.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| if end_of_day { d.succ_opt() } else { Some(d) })
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`{name}`: `{v}` is not a date (YYYY-MM-DD or RFC 3339)"
            ))
        })
}

/// A whole number from `range`, or the default when the parameter is absent.
pub fn number_param<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    name: &str,
    v: Option<&str>,
    range: std::ops::RangeInclusive<T>,
    default: T,
) -> Result<T, ApiError> {
    let Some(v) = v else { return Ok(default) };
    v.parse::<T>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "`{name}`: `{v}` is not a number from {} to {}",
                range.start(),
                range.end()
            ))
        })
}

/// One of `allowed`, or `None` when the parameter is absent.
pub fn choice_param<'a>(
    name: &str,
    v: Option<&'a str>,
    allowed: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    match v {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v)),
        Some(v) => Err(ApiError::BadRequest(format!(
            "`{name}`: `{v}` is not one of {}",
            allowed.join(", ")
        ))),
    }
}

impl FilterParams {
    /// The filters as the index takes them (paging left at its defaults).
    pub fn into_request(self) -> Result<SearchRequest, ApiError> {
        choice_param("topic", self.topic.as_deref(), crate::analyze::TOPICS)?;
        let min_score = self
            .min_score
            .as_deref()
            .map(|v| match v.parse::<f64>() {
                Ok(n) if (0.0..=1.0).contains(&n) => Ok(n),
                _ => Err(ApiError::BadRequest(format!(
                    "`min_score`: `{v}` is not a number from 0 to 1"
                ))),
            })
            .transpose()?;
        let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
        Ok(SearchRequest {
            min_score,
            q: self.q.unwrap_or_default(),
            topic: self.topic,
            entity: nonempty(self.entity),
            source: nonempty(self.source),
            lang: nonempty(self.lang),
            from: (self.from.as_deref())
                .map(|v| parse_date_param("from", v, false))
                .transpose()?,
            to: (self.to.as_deref())
                .map(|v| parse_date_param("to", v, true))
                .transpose()?,
            ..SearchRequest::default()
        })
    }
}

impl SearchParams {
    pub fn into_request(self) -> Result<SearchRequest, ApiError> {
        let limit = number_param("limit", self.page.limit.as_deref(), 1..=100, 20)?;
        let sort = match choice_param("sort", self.page.sort.as_deref(), &["relevance", "newest"])?
        {
            Some("newest") => Sort::Newest,
            _ => Sort::Relevance,
        };
        Ok(SearchRequest {
            sort,
            limit,
            cursor: self.page.cursor,
            ..self.filter.into_request()?
        })
    }
}

/// A numeric id in a path (`/api/v1/alerts/{id}`): a bad one is a JSON 400 naming it, as every
/// other bad parameter is, never the framework's plain-text rejection.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct Id {
    /// The alert's or delivery's id.
    #[param(minimum = 1, maximum = 9223372036854775807_i64, format = Int64)]
    pub id: i64,
}

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::BadRequest(e.body_text()))?;
        raw.parse::<i64>()
            .ok()
            .filter(|id| *id >= 1)
            .map(|id| Id { id })
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "`id`: `{}` is not an id (a whole number from 1)",
                    raw.chars().take(40).collect::<String>()
                ))
            })
    }
}

/// Query parameters of type `T`; a query string that does not fit is a JSON 400 naming the problem.
pub struct Q<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Q(v))
            .map_err(|e| ApiError::BadRequest(e.body_text()))
    }
}

/// The answers every route may give besides its own, added to each operation of the document:
/// the guards in front of every route (query-string cap, Host allowlist) and a 400 wherever
/// there is a parameter or a body to get wrong.
pub struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::ResponseBuilder;
        use utoipa::openapi::content::ContentBuilder;
        let error = |what: &str| {
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            "ErrorBody",
                        ))))
                        .build(),
                )
                .build()
        };
        for item in doc.paths.paths.values_mut() {
            for op in [
                item.get.as_mut(),
                item.put.as_mut(),
                item.post.as_mut(),
                item.delete.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                let responses = &mut op.responses.responses;
                let mut add = |code: &str, what: &str| {
                    responses
                        .entry(code.to_string())
                        .or_insert_with(|| RefOr::T(error(what)));
                };
                if op.parameters.as_ref().is_some_and(|p| !p.is_empty())
                    || op.request_body.is_some()
                {
                    add(
                        "400",
                        "a parameter or the body is not valid; the message names it",
                    );
                }
                add("414", "the query string is longer than 8 KiB");
                add(
                    "421",
                    "the Host header names a host this API does not answer to",
                );
            }
        }
    }
}
