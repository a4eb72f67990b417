//! Lenient date parsing for dates found in pages and listings.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// RFC 3339 or RFC 2822: what the specs ask for, tried first by every date reader.
pub(crate) fn rfc(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_rfc2822(s))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Reads the date formats publishers actually write; `None` rather than a guess.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(d) = rfc(s) {
        return Some(d);
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y/%m/%d %H:%M:%S",
        "%Y/%m/%d %H:%M",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d.and_utc());
        }
    }
    for fmt in [
        "%Y-%m-%d",
        "%Y/%m/%d",
        "%B %d, %Y",
        "%b %d, %Y",
        "%d %B %Y",
        "%d %b %Y",
    ] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return d.and_hms_opt(0, 0, 0).map(|dt| dt.and_utc());
        }
    }
    // A timestamp in milliseconds or seconds since the epoch (Next.js data carries these).
    if let Ok(n) = s.parse::<i64>() {
        let secs = if n > 100_000_000_000 { n / 1000 } else { n };
        return DateTime::from_timestamp(secs, 0);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_forms() {
        for s in [
            "2026-11-20T09:00:00Z",
            "2026-11-20T17:00:00+08:00",
            "Fri, 20 Nov 2026 09:00:00 GMT",
            "2026-11-20 09:00:00",
            "2026/11/20 09:00:00",
            "1795165200000",
        ] {
            let d = parse_date(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(d.date_naive().to_string(), "2026-11-20", "{s}");
        }
        assert_eq!(
            parse_date("November 20, 2026")
                .unwrap()
                .date_naive()
                .to_string(),
            "2026-11-20"
        );
        assert!(parse_date("yesterday").is_none());
    }
}
