//! Dates as feeds write them.
//!
//! RFC 822 and RFC 3339 are what the specs ask for; what arrives is RFC 822 without its comma or
//! with a two-digit year, month-first US forms with AM/PM, `2020/1/10 14:03:00`, W3C dates cut
//! short (`2004-05`), offsets cut short (`+05`, `-0800`, `+5:30`), and zone abbreviations RFC 822
//! never listed. Each is read here; anything ambiguous (`03/04/2020`: March or April?) is not
//! guessed — the caller reports it.

use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use regex::Regex;

/// Reads a feed date; `None` when it cannot be read without guessing.
pub fn parse_feed_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    crate::extract::dates::rfc(s)
        .or_else(|| iso(s))
        .or_else(|| textual(s))
        .or_else(|| crate::extract::dates::parse_date(s))
}

static ISO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^
        (\d{4}) (?: [-/.]? (\d{1,2}) (?: [-/.]? (\d{1,2}) )? )?
        (?: (?:[Tt]|\s+) (\d{1,2}) :? (\d{2}) (?: :? (\d{2}) (?: [.,]\d+ )? )? )?
        \s* (Z|z|UTC|GMT|[+-]\d{1,2}(?::?\d{0,2})?)?
        $",
    )
    .expect("static regex")
});

/// ISO 8601 / W3C-DTF, complete or cut short; also `2020/1/10 14:03:00` and `20200110T140300Z`.
fn iso(s: &str) -> Option<DateTime<Utc>> {
    let c = ISO.captures(s)?;
    let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let year = num(1)? as i32;
    let date = NaiveDate::from_ymd_opt(year, num(2).unwrap_or(1), num(3).unwrap_or(1))?;
    let time = NaiveTime::from_hms_opt(
        num(4).unwrap_or(0),
        num(5).unwrap_or(0),
        num(6).unwrap_or(0),
    )?;
    let offset = match c.get(7).map(|m| m.as_str()) {
        None | Some("Z" | "z" | "UTC" | "GMT") => 0,
        Some(o) => numeric_offset(o)?,
    };
    to_utc(date, time, offset)
}

/// `+05`, `+0530`, `-08:00`, `+5:30`, `-0800` as seconds east of UTC.
fn numeric_offset(o: &str) -> Option<i32> {
    let sign = if o.starts_with('-') { -1 } else { 1 };
    let digits = o[1..].replace(':', "");
    let (h, m) = match (o[1..].split_once(':'), digits.len()) {
        (Some((h, m)), _) => (h.parse::<i32>().ok()?, m.parse::<i32>().unwrap_or(0)),
        (None, 1 | 2) => (digits.parse().ok()?, 0),
        (None, 3) => (digits[..1].parse().ok()?, digits[1..].parse().ok()?),
        (None, 4) => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        _ => return None,
    };
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

fn to_utc(date: NaiveDate, time: NaiveTime, offset: i32) -> Option<DateTime<Utc>> {
    FixedOffset::east_opt(offset)?
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|d| d.with_timezone(&Utc))
}

/// Month names and abbreviations in the languages of the feeds we read (English, Portuguese,
/// Spanish, French, German, Italian, Dutch), lower-case; a token names a month when it is one of
/// these or a longer word starting with one of the three-letter forms.
const MONTHS: [&[&str]; 12] = [
    &["jan", "ene", "gen", "janv", "jän"],
    &["feb", "fev", "fév", "févr"],
    &["mar", "mär", "mrt", "mrz"],
    &["apr", "abr", "avr"],
    &["may", "mai", "mei", "mag"],
    &["jun", "juin", "giu"],
    &["jul", "juil", "lug"],
    &["aug", "ago", "août", "aoû"],
    &["sep", "set", "sept"],
    &["oct", "out", "okt", "ott"],
    &["nov"],
    &["dec", "dez", "dic", "déc"],
];
/// Weekday abbreviations in the same languages; a date's weekday is redundant and ignored.
const WEEKDAYS: &[&str] = &[
    "mon", "tue", "wed", "thu", "fri", "sat", "sun", "seg", "ter", "qua", "qui", "sex", "sáb",
    "sab", "dom", "lun", "mié", "mie", "jue", "vie", "mer", "jeu", "ven", "sam", "dim", "mo", "di",
    "mi", "do", "fr", "sa", "so", "gio", "ma", "wo", "vr", "za", "zo",
];

/// Zone abbreviations seen in feeds, in hours east of UTC. Where one name means several zones
/// (CST, IST) the reading most feeds mean is taken.
const ZONES: &[(&str, f32)] = &[
    ("ut", 0.0),
    ("utc", 0.0),
    ("gmt", 0.0),
    ("z", 0.0),
    ("wet", 0.0),
    ("west", 1.0),
    ("bst", 1.0),
    ("cet", 1.0),
    ("met", 1.0),
    ("cest", 2.0),
    ("mest", 2.0),
    ("eet", 2.0),
    ("eest", 3.0),
    ("msk", 3.0),
    ("ist", 5.5),
    ("sgt", 8.0),
    ("hkt", 8.0),
    ("awst", 8.0),
    ("jst", 9.0),
    ("kst", 9.0),
    ("acst", 9.5),
    ("aest", 10.0),
    ("aedt", 11.0),
    ("nzst", 12.0),
    ("nzdt", 13.0),
    ("adt", -3.0),
    ("ast", -4.0),
    ("edt", -4.0),
    ("est", -5.0),
    ("cdt", -5.0),
    ("cst", -6.0),
    ("mdt", -6.0),
    ("mst", -7.0),
    ("pdt", -7.0),
    ("pst", -8.0),
    ("akdt", -8.0),
    ("akst", -9.0),
    ("hst", -10.0),
    // US zones written without standard/daylight.
    ("et", -5.0),
    ("ct", -6.0),
    ("mt", -7.0),
    ("pt", -8.0),
];

/// Dates written with a month name, in any order: `Sat, Dec 16 2023 02:02:33 PM`,
/// `16 Dec 2023 14:02 +0100`, `Sat 16 Dec 23 14:02:33 EST`, `December 16, 2023`.
fn textual(s: &str) -> Option<DateTime<Utc>> {
    let (mut year, mut month, mut day) = (None::<i32>, None::<u32>, None::<u32>);
    let (mut time, mut offset, mut pm) = (None::<NaiveTime>, 0i32, None::<bool>);
    let spaced = s.replace([',', '/'], " ");
    let mut tokens: Vec<String> = Vec::new();
    for raw in spaced.split_whitespace() {
        // `GMT+8`, `UTC-05:00`, `02:02:33PM`, `16th`: split letters from what follows.
        let lower = raw.to_lowercase();
        // `2004-05-25` beside other words (`2004-05-25 오후 11:23:17`): three numbers.
        if lower.len() >= 8
            && lower.starts_with(|c: char| c.is_ascii_digit())
            && lower.split('-').count() == 3
            && lower
                .split('-')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        {
            tokens.extend(lower.split('-').map(str::to_string));
            continue;
        }
        match lower.find(['+', '-']) {
            Some(i) if i > 0 && lower[..i].chars().all(|c| c.is_ascii_alphabetic()) => {
                tokens.push(lower[..i].to_string());
                tokens.push(lower[i..].to_string());
            }
            _ => tokens.push(lower),
        }
    }
    // Year first and numeric (`2006/09/15 08:19:53 EDT`, `2004-05-25 오후 11:23:17`): Y M D.
    let is_number = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
    let numeric: Vec<usize> = (0..tokens.len())
        .filter(|&i| is_number(&tokens[i]))
        .take(3)
        .collect();
    let first_word = tokens
        .iter()
        .position(|t| !is_weekday(t.trim_end_matches('.')));
    let mut year_first = None;
    if numeric.len() == 3
        && tokens[numeric[0]].len() == 4
        && first_word == Some(numeric[0])
        && !tokens
            .iter()
            .any(|t| month_of(t.trim_end_matches('.')).is_some())
    {
        year_first = Some((
            tokens[numeric[0]].parse::<i32>().ok()?,
            tokens[numeric[1]].parse::<u32>().ok()?,
            tokens[numeric[2]].parse::<u32>().ok()?,
        ));
    }
    for (i, token) in tokens.iter().enumerate() {
        if year_first.is_some() && numeric.contains(&i) {
            continue;
        }
        let t = token.trim_end_matches('.');
        if t.contains(':') && t.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            let (clock, suffix) =
                t.split_at(t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len()));
            let mut parts = clock
                .split(':')
                .map(|p| p.split('.').next().unwrap_or("").parse::<u32>());
            let h = parts.next()?.ok()?;
            let m = parts.next()?.ok()?;
            let sec = parts.next().and_then(|p| p.ok()).unwrap_or(0);
            time = Some(NaiveTime::from_hms_opt(h, m, sec)?);
            match suffix {
                "pm" => pm = Some(true),
                "am" => pm = Some(false),
                _ => {}
            }
        } else if t.starts_with(['+', '-']) && t.len() > 1 {
            offset = numeric_offset(t)?;
        } else if matches!(t, "am" | "pm" | "a.m" | "p.m" | "오전" | "오후") {
            pm = Some(matches!(t, "pm" | "p.m" | "오후"));
        } else if is_weekday(t) && day.is_none() && month.is_none() && year.is_none() {
            // Leading weekday ("mar, 24 sep 2018": Spanish Tuesday, not March).
        } else if let Some(m) = month_of(t) {
            month = Some(m);
        } else if t.chars().all(|c| c.is_ascii_digit()) && !t.is_empty() {
            let n: u32 = t.parse().ok()?;
            if t.len() == 4 {
                year = Some(n as i32);
            } else if day.is_none() && (1..=31).contains(&n) {
                day = Some(n);
            } else if year.is_none() && t.len() == 2 {
                year = Some(if n < 50 {
                    2000 + n as i32
                } else {
                    1900 + n as i32
                });
            } else {
                return None;
            }
        } else if let Some(day_number) = t
            .strip_suffix("st")
            .or_else(|| t.strip_suffix("nd"))
            .or_else(|| t.strip_suffix("rd"))
            .or_else(|| t.strip_suffix("th"))
            .and_then(|d| d.parse::<u32>().ok())
        {
            day = Some(day_number);
        } else if let Some(&(_, hours)) = ZONES.iter().find(|(z, _)| *z == t) {
            offset = (hours * 3600.0) as i32;
        } else if is_weekday(t) || matches!(t, "at" | "of" | "de" | "à" | "um") {
        } else {
            return None;
        }
    }
    let mut time = time.unwrap_or(NaiveTime::MIN);
    if let Some(pm) = pm {
        use chrono::Timelike;
        let h = time.hour() % 12 + if pm { 12 } else { 0 };
        time = time.with_hour(h)?;
    }
    if let Some((y, m, d)) = year_first {
        (year, month, day) = (Some(y), Some(m), Some(d));
    }
    let date = NaiveDate::from_ymd_opt(year?, month?, day?)?;
    to_utc(date, time, offset)
}

fn month_of(t: &str) -> Option<u32> {
    if t.chars().count() < 3 || !t.chars().all(char::is_alphabetic) {
        return None;
    }
    let head: String = t.chars().take(3).collect();
    (0..12)
        .find(|&m| {
            MONTHS[m].contains(&t)
                || (MONTHS[m].contains(&head.as_str())
                    && FULL_MONTHS[m].split(' ').any(|full| full.starts_with(t)))
        })
        .map(|m| m as u32 + 1)
}

/// Full month names, to tell "sept." or "Dezember" from a word that merely starts like a month.
const FULL_MONTHS: [&str; 12] = [
    "january janeiro enero janvier januar gennaio januari jänner",
    "february fevereiro febrero février februar febbraio februari",
    "march março marzo mars märz maart",
    "april abril avril aprile",
    "may maio mayo mai maggio mei",
    "june junho junio juin juni giugno",
    "july julho julio juillet juli luglio",
    "august agosto août augustus",
    "september setembro septiembre septembre settembre",
    "october outubro octubre octobre oktober ottobre",
    "november novembro noviembre novembre",
    "december dezembro diciembre décembre dezember dicembre",
];

fn is_weekday(t: &str) -> bool {
    let head: String = t.chars().take(3).collect();
    WEEKDAYS.contains(&t) || (t.chars().count() > 3 && WEEKDAYS.contains(&head.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> String {
        parse_feed_date(s)
            .unwrap_or_else(|| panic!("unread: {s}"))
            .to_rfc3339()
    }

    #[test]
    fn the_forms_feeds_write() {
        let cases = [
            ("Sat, 16 Dec 2023 14:02:33 GMT", "2023-12-16T14:02:33+00:00"),
            ("Sat 16 Dec 2023 14:02:33 GMT", "2023-12-16T14:02:33+00:00"),
            ("16 Dec 2023 14:02:33 +0100", "2023-12-16T13:02:33+00:00"),
            ("Sat, 16 Dec 23 14:02:33 EST", "2023-12-16T19:02:33+00:00"),
            ("Sat, Dec 16 2023 02:02:33 PM", "2023-12-16T14:02:33+00:00"),
            ("Dec 16, 2023 2:02 am", "2023-12-16T02:02:00+00:00"),
            ("December 16, 2023", "2023-12-16T00:00:00+00:00"),
            (
                "Saturday, 16th December 2023 09:00 CET",
                "2023-12-16T08:00:00+00:00",
            ),
            ("2020/1/10 14:03:00", "2020-01-10T14:03:00+00:00"),
            ("2003-12-31T10:14:55-08", "2003-12-31T18:14:55+00:00"),
            ("2003-12-31T10:14:55+0530", "2003-12-31T04:44:55+00:00"),
            ("2003-12-31T10:14Z", "2003-12-31T10:14:00+00:00"),
            ("2003-12-31T10:14:55.123Z", "2003-12-31T10:14:55.123+00:00"),
            ("2003-12", "2003-12-01T00:00:00+00:00"),
            ("2003", "2003-01-01T00:00:00+00:00"),
            ("20031231T101455Z", "2003-12-31T10:14:55+00:00"),
            (
                "Wed, 31 Dec 2003 10:14:55 GMT+8",
                "2003-12-31T02:14:55+00:00",
            ),
            (
                "Seg, 24 Set 2018 19:42:40 -0300",
                "2018-09-24T22:42:40+00:00",
            ),
            (
                "mar, 24 sep 2018 19:42:40 +0200",
                "2018-09-24T17:42:40+00:00",
            ),
            ("Mo, 3 Mär 2025 10:00:00 +0100", "2025-03-03T09:00:00+00:00"),
            (
                "jeu., 5 déc. 2024 08:00:00 +0100",
                "2024-12-05T07:00:00+00:00",
            ),
            ("Fri, 2006/09/15 08:19:53 EDT", "2006-09-15T12:19:53+00:00"),
            ("2004-05-25 오후 11:23:17", "2004-05-25T23:23:17+00:00"),
            ("Mon, 26 Jan 2004 16:31:00 ET", "2004-01-26T21:31:00+00:00"),
            ("2004-07-08 23:56:58.7", "2004-07-08T23:56:58+00:00"),
        ];
        for (s, want) in cases {
            assert_eq!(read(s), want, "{s}");
        }
    }

    #[test]
    fn no_guessing() {
        for s in [
            "03/04/2020",
            "soon",
            "32 Dec 2023",
            "2023-13-01",
            "Marshal 3 2020",
        ] {
            assert!(parse_feed_date(s).is_none(), "{s}");
        }
    }
}
