//! Budget periods and their calendar windows. `hour`, `day` and `month` start
//! on calendar boundaries in the budget's time zone (UTC unless set); `total`
//! never resets; `run` is one run (its window is the run, not a time).

use chrono::{
    DateTime, Datelike, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    Run,
    Hour,
    Day,
    Month,
    Total,
}

impl Period {
    pub fn parse(text: &str) -> Result<Period> {
        match text.trim().to_ascii_lowercase().as_str() {
            "run" => Ok(Period::Run),
            "hour" => Ok(Period::Hour),
            "day" => Ok(Period::Day),
            "month" => Ok(Period::Month),
            "total" => Ok(Period::Total),
            other => Err(Error::Config(format!(
                "budget period must be one of run, hour, day, month, total, not {other:?}"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Run => "run",
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Month => "month",
            Period::Total => "total",
        }
    }
}

/// A budget's time zone: UTC, a fixed offset (`+02:00`, `-05:30`) or a named
/// IANA zone (`Europe/Paris`), whose offset follows daylight saving time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Fixed(FixedOffset),
    Named(Tz),
}

impl Zone {
    pub fn utc() -> Zone {
        Zone::Fixed(FixedOffset::east_opt(0).expect("zero offset"))
    }

    /// `UTC`, `Z`, an offset `+HH:MM` / `-HH:MM` / `+HH` (also after `UTC`),
    /// or an IANA name such as `America/New_York`.
    pub fn parse(text: &str) -> Result<Zone> {
        let t = text.trim();
        let bad = || {
            Error::Config(format!(
                "budget timezone must be UTC, a UTC offset such as +02:00 or -05:30, \
                 or an IANA zone name such as Europe/Paris, got {text:?}"
            ))
        };
        let rest = t.strip_prefix("UTC").or_else(|| t.strip_prefix("utc")).unwrap_or(t);
        if rest.is_empty() || rest == "Z" || rest == "z" {
            return Ok(Zone::utc());
        }
        let (sign, digits) = match rest.as_bytes()[0] {
            b'+' => (1, &rest[1..]),
            b'-' => (-1, &rest[1..]),
            _ => return t.parse::<Tz>().map(Zone::Named).map_err(|_| bad()),
        };
        let (h, m) = match digits.split_once(':') {
            Some((h, m)) => (h, m),
            None => (digits, "0"),
        };
        let h: i32 = h.parse().map_err(|_| bad())?;
        let m: i32 = m.parse().map_err(|_| bad())?;
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return Err(bad());
        }
        FixedOffset::east_opt(sign * (h * 3600 + m * 60)).map(Zone::Fixed).ok_or_else(bad)
    }

    pub fn label(&self) -> String {
        let secs = match self {
            Zone::Named(tz) => return tz.name().to_string(),
            Zone::Fixed(offset) => offset.local_minus_utc(),
        };
        if secs == 0 {
            return "UTC".to_string();
        }
        let sign = if secs < 0 { '-' } else { '+' };
        let secs = secs.abs();
        format!("{sign}{:02}:{:02}", secs / 3600, secs % 3600 / 60)
    }

    /// The local calendar date and hour of the instant `ms`.
    fn local(&self, ms: i64) -> (NaiveDate, u32) {
        let utc = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_else(Utc::now);
        let naive = match self {
            Zone::Fixed(offset) => utc.with_timezone(offset).naive_local(),
            Zone::Named(tz) => utc.with_timezone(tz).naive_local(),
        };
        (naive.date(), naive.hour())
    }

    /// The instant the local wall clock shows `hour`:00 on `date`. Where a
    /// daylight-saving change skips that time, the first instant after the
    /// gap; where it repeats it, the earlier one.
    fn instant(&self, date: NaiveDate, hour: u32) -> i64 {
        let naive = date.and_hms_opt(hour, 0, 0).expect("a valid hour");
        let ms = |mapped: LocalResult<i64>| match mapped {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
            LocalResult::None => None,
        };
        let at = |n: NaiveDateTime| match self {
            Zone::Fixed(offset) => ms(offset.from_local_datetime(&n).map(|t| t.timestamp_millis())),
            Zone::Named(tz) => ms(tz.from_local_datetime(&n).map(|t| t.timestamp_millis())),
        };
        // Gaps are at most a few hours; step forward a minute at a time past one.
        (0..=24 * 60)
            .find_map(|minutes| at(naive + chrono::Duration::minutes(minutes)))
            .unwrap_or_else(|| naive.and_utc().timestamp_millis())
    }
}

/// One period of a budget: a label (part of the counters' key), where it
/// starts and where the next begins (Unix ms; `None`: never).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub label: String,
    pub start_ms: i64,
    pub end_ms: Option<i64>,
}

/// The window of `period` in `zone` holding the instant `now_ms`. `Run` has
/// no time window: its label is the run's id and it starts at 0.
pub fn window(period: Period, zone: Zone, now_ms: i64, run_id: Option<&str>) -> Window {
    let (date, hour) = zone.local(now_ms);
    let at = |date: NaiveDate, hour: u32| zone.instant(date, hour);
    match period {
        Period::Total => Window { label: "total".into(), start_ms: i64::MIN, end_ms: None },
        Period::Run => {
            Window { label: format!("run:{}", run_id.unwrap_or("-")), start_ms: i64::MIN, end_ms: None }
        }
        Period::Hour => {
            let start = at(date, hour);
            Window {
                label: format!("{}T{hour:02}", date.format("%Y-%m-%d")),
                start_ms: start,
                end_ms: Some(start + 3_600_000),
            }
        }
        Period::Day => {
            let next = date.succ_opt().unwrap_or(date);
            Window {
                label: date.format("%Y-%m-%d").to_string(),
                start_ms: at(date, 0),
                end_ms: Some(at(next, 0)),
            }
        }
        Period::Month => {
            let first = NaiveDate::from_ymd_opt(date.year(), date.month(), 1).expect("the first of a month");
            let next = if date.month() == 12 {
                NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
            }
            .expect("the first of the next month");
            Window {
                label: first.format("%Y-%m").to_string(),
                start_ms: at(first, 0),
                end_ms: Some(at(next, 0)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
    }

    #[test]
    fn a_month_starts_on_the_first_at_midnight_in_the_budget_zone() {
        let w = window(Period::Month, Zone::utc(), ms("2026-11-30T23:30:00Z"), None);
        assert_eq!(w.label, "2026-11");
        assert_eq!(w.start_ms, ms("2026-11-01T00:00:00Z"));
        assert_eq!(w.end_ms, Some(ms("2026-12-01T00:00:00Z")));
        // 23:30 UTC is already December 1st at +02:00.
        let w = window(Period::Month, Zone::parse("+02:00").unwrap(), ms("2026-11-30T23:30:00Z"), None);
        assert_eq!(w.label, "2026-12");
        assert_eq!(w.start_ms, ms("2026-12-01T00:00:00+02:00"));
        assert_eq!(w.end_ms, Some(ms("2027-01-01T00:00:00+02:00")));
    }

    #[test]
    fn days_and_hours_follow_the_zone() {
        let zone = Zone::parse("UTC-05:30").unwrap();
        let w = window(Period::Day, zone, ms("2026-03-02T03:00:00Z"), None);
        assert_eq!(w.label, "2026-03-01");
        assert_eq!(w.start_ms, ms("2026-03-01T00:00:00-05:30"));
        assert_eq!(w.end_ms, Some(ms("2026-03-02T00:00:00-05:30")));
        let w = window(Period::Hour, Zone::utc(), ms("2026-03-02T03:59:59Z"), None);
        assert_eq!((w.label.as_str(), w.start_ms), ("2026-03-02T03", ms("2026-03-02T03:00:00Z")));
    }

    #[test]
    fn total_never_ends_and_run_is_keyed_by_the_run() {
        assert_eq!(window(Period::Total, Zone::utc(), 0, None).end_ms, None);
        assert_eq!(window(Period::Run, Zone::utc(), 0, Some("r1")).label, "run:r1");
    }

    #[test]
    fn zones_parse_offsets_and_refuse_names() {
        assert_eq!(Zone::parse("UTC").unwrap(), Zone::utc());
        assert_eq!(Zone::parse("+05:30").unwrap().label(), "+05:30");
        assert_eq!(Zone::parse("-3").unwrap().label(), "-03:00");
        assert!(Zone::parse("+25:00").is_err());
        let err = Zone::parse("Mars/Olympus").unwrap_err().to_string();
        assert!(err.contains("IANA zone name"), "{err}");
    }

    #[test]
    fn named_zones_follow_daylight_saving_time() {
        let paris = Zone::parse("Europe/Paris").unwrap();
        assert_eq!(paris.label(), "Europe/Paris");
        // Winter: Paris is UTC+1; summer: UTC+2.
        let w = window(Period::Day, paris, ms("2026-01-15T23:30:00Z"), None);
        assert_eq!(w.label, "2026-01-16");
        assert_eq!(w.start_ms, ms("2026-01-16T00:00:00+01:00"));
        let w = window(Period::Day, paris, ms("2026-07-15T22:30:00Z"), None);
        assert_eq!(w.label, "2026-07-16");
        assert_eq!(w.start_ms, ms("2026-07-16T00:00:00+02:00"));
        // The day clocks go forward has 23 hours; the month spans the change.
        let w = window(Period::Day, paris, ms("2026-03-29T12:00:00Z"), None);
        assert_eq!(w.end_ms.unwrap() - w.start_ms, 23 * 3_600_000);
        let w = window(Period::Month, paris, ms("2026-03-15T12:00:00Z"), None);
        assert_eq!(w.start_ms, ms("2026-03-01T00:00:00+01:00"));
        assert_eq!(w.end_ms, Some(ms("2026-04-01T00:00:00+02:00")));
    }

    #[test]
    fn a_midnight_skipped_by_daylight_saving_starts_the_day_after_the_gap() {
        // Santiago moved its clocks from 00:00 to 01:00 on 2026-09-06.
        let santiago = Zone::parse("America/Santiago").unwrap();
        let w = window(Period::Day, santiago, ms("2026-09-06T12:00:00Z"), None);
        assert_eq!(w.label, "2026-09-06");
        assert_eq!(w.start_ms, ms("2026-09-06T01:00:00-03:00"));
    }
}
