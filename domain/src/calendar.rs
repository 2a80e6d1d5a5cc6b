//! The working-day calendar deadlines are counted on, and the deployment's time zone.
//!
//! Public holidays and make-up working days (调休) are data, not code: the official calendars
//! this release knows are compiled in ([`WorkCalendar::official`]), and a deployment merges
//! later years from a file of the same format without a rebuild (the service reads it; this
//! module only parses text, so it stays pure). A day the data does not mention is a working day
//! from Monday to Friday and a rest day on Saturday and Sunday, so a year not yet announced
//! still counts, only without its holidays.
//!
//! The time zone is a fixed UTC offset: China keeps one offset all year (no daylight saving),
//! so a fixed offset is exact there and needs no time-zone database.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, FixedOffset, NaiveDate, TimeZone, Weekday};

use crate::Timestamp;

/// The official calendars shipped with this release (2025 and 2026).
const OFFICIAL: &str = include_str!("../data/calendar-cn.txt");

/// Whether a day the data names is off or worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayKind {
    Rest,
    Work,
}

/// A line of calendar data that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("calendar line {line}: {reason}")]
pub struct CalendarError {
    pub line: usize,
    pub reason: String,
}

/// Days that differ from the weekly rule: public holidays on weekdays, make-up days on weekends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    exceptions: BTreeMap<NaiveDate, DayKind>,
}

impl Default for WorkCalendar {
    fn default() -> Self {
        WorkCalendar::official()
    }
}

impl WorkCalendar {
    /// The calendars compiled into this release.
    pub fn official() -> Self {
        let mut calendar = WorkCalendar {
            exceptions: BTreeMap::new(),
        };
        calendar
            .merge(OFFICIAL)
            .expect("the compiled-in calendar is well formed (checked by its tests)");
        calendar
    }

    /// Adds the days of `text` (one `DATE[..DATE] rest|work [name]` a line, `#` comments); a
    /// day already known takes the new kind.
    pub fn merge(&mut self, text: &str) -> Result<(), CalendarError> {
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |reason: &str| CalendarError {
                line: index + 1,
                reason: reason.to_owned(),
            };
            let mut fields = line.split_whitespace();
            let days = fields.next().ok_or_else(|| error("no date"))?;
            let kind = match fields.next() {
                Some("rest") => DayKind::Rest,
                Some("work") => DayKind::Work,
                _ => return Err(error("the second field is `rest` or `work`")),
            };
            let (first, last) = days.split_once("..").unwrap_or((days, days));
            let date =
                |text: &str| NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| error("dates are YYYY-MM-DD"));
            let (first, last) = (date(first)?, date(last)?);
            if last < first {
                return Err(error("a range ends after it starts"));
            }
            for day in first.iter_days().take_while(|day| *day <= last) {
                self.exceptions.insert(day, kind);
            }
        }
        Ok(())
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.exceptions.get(&date) {
            Some(DayKind::Rest) => false,
            Some(DayKind::Work) => true,
            None => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
        }
    }

    /// The `count`th working day after `date` (`date` itself not counted; `date` when 0).
    pub fn add_working_days(&self, date: NaiveDate, count: u32) -> NaiveDate {
        let mut day = date;
        let mut left = count;
        while left > 0 {
            day = day + Days::new(1);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// Working days from `start` (exclusive) to `end` (inclusive); 0 when `end` is not later.
    pub fn working_days_between(&self, start: NaiveDate, end: NaiveDate) -> u32 {
        start
            .iter_days()
            .skip(1)
            .take_while(|day| *day <= end)
            .filter(|day| self.is_working_day(*day))
            .fold(0, |count, _| count + 1)
    }
}

/// The deployment's time zone: China Standard Time unless configured.
pub fn china_standard_time() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// The end of the local day `date` (the first instant of the next), in UTC: a deadline "within
/// N days" runs to the end of the Nth day where the case is handled.
pub fn end_of_local_day(date: NaiveDate, offset: FixedOffset) -> Timestamp {
    let next = date + Days::new(1);
    offset
        .from_local_datetime(&next.and_time(chrono::NaiveTime::MIN))
        .single()
        .expect("a fixed offset maps every local time to one instant")
        .to_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_official_data_is_well_formed_and_covers_2025_and_2026() {
        let calendar = WorkCalendar::official();
        assert!(!calendar.is_working_day(date("2025-01-01")));
        assert!(!calendar.is_working_day(date("2026-10-07")));
        assert!(calendar.is_working_day(date("2026-10-10")), "a Saturday worked (调休)");
    }

    #[test]
    fn given_a_make_up_weekend_when_counting_then_the_worked_sunday_counts() {
        // 2025-01-24 is a Friday; Sunday 26 is worked before the Spring Festival, Saturday 25 not.
        let calendar = WorkCalendar::official();
        assert!(!calendar.is_working_day(date("2025-01-25")));
        assert!(calendar.is_working_day(date("2025-01-26")));
        assert_eq!(calendar.add_working_days(date("2025-01-24"), 1), date("2025-01-26"));
        assert_eq!(calendar.add_working_days(date("2025-01-24"), 2), date("2025-01-27"));
    }

    #[test]
    fn given_the_spring_festival_when_counting_then_its_rest_days_are_skipped() {
        // 2026: Feb 14 (Sat) worked, Feb 15–23 off, Feb 28 (Sat) worked.
        let calendar = WorkCalendar::official();
        assert_eq!(calendar.add_working_days(date("2026-02-13"), 1), date("2026-02-14"));
        assert_eq!(calendar.add_working_days(date("2026-02-13"), 2), date("2026-02-24"));
        assert_eq!(calendar.add_working_days(date("2026-02-13"), 5), date("2026-02-27"));
        assert_eq!(calendar.add_working_days(date("2026-02-13"), 6), date("2026-02-28"));
        assert_eq!(calendar.working_days_between(date("2026-02-13"), date("2026-02-28")), 6);
    }

    #[test]
    fn given_a_year_not_in_the_data_when_counting_then_weekends_are_off() {
        let calendar = WorkCalendar::official();
        // 2027-01-01 is a Friday: with no data, a working day; the next is Monday the 4th.
        assert_eq!(calendar.add_working_days(date("2027-01-01"), 1), date("2027-01-04"));
    }

    #[test]
    fn given_a_later_year_as_data_when_merged_then_its_days_count() {
        let mut calendar = WorkCalendar::official();
        calendar
            .merge("# 2027\n2027-01-01 rest 元旦\n2027-01-09 work\n")
            .unwrap();
        assert!(!calendar.is_working_day(date("2027-01-01")));
        assert!(calendar.is_working_day(date("2027-01-09")));
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        let mut calendar = WorkCalendar::official();
        for (text, line) in [
            ("2027-01-01 off", 1),
            ("\n2027-13-01 rest", 2),
            ("2027-01-05..2027-01-01 rest", 1),
        ] {
            assert_eq!(calendar.merge(text).unwrap_err().line, line, "{text}");
        }
    }

    #[test]
    fn a_local_day_ends_at_midnight_in_the_deployments_zone() {
        let end = end_of_local_day(date("2026-03-02"), china_standard_time());
        assert_eq!(end.to_rfc3339(), "2026-03-02T16:00:00+00:00");
    }
}
