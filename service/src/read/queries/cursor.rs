//! Where a page of a list ends, for the case list and the overdue list alike.

use chrono::{TimeZone, Utc};
use domain::Timestamp;
use projections::nanoseconds;

/// Where a page ends: the last case's time (its submission in the case list, its deadline in the
/// overdue list) and id. Written as `<nanoseconds since 1970>_<id>`, which needs no escaping in
/// a URL: the whole resolution SQLite keeps (cut to microseconds, the next page skipped a case
/// of the same microsecond whose id sorts lower, or showed its own case again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at: Timestamp,
    pub id: String,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        let (since_1970, id) = text.split_once('_')?;
        let since_1970: i64 = since_1970.parse().ok()?;
        // Cursors handed out before they carried nanoseconds carry microseconds: below 10^17 a
        // count of nanoseconds would be before 1974, of microseconds before 5138.
        let at = if since_1970 < 100_000_000_000_000_000 {
            Utc.timestamp_micros(since_1970).single()?
        } else {
            Utc.timestamp_nanos(since_1970)
        };
        (!id.is_empty()).then(|| Cursor { at, id: id.to_owned() })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", nanoseconds(self.at), self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_written_and_an_older_microsecond_one_still_reads() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap() + chrono::Duration::nanoseconds(1_234_567);
        let cursor = Cursor {
            at,
            id: "case-1".to_owned(),
        };
        assert_eq!(Cursor::parse(&cursor.to_string()), Some(cursor));
        let micros = format!("{}_case-1", at.timestamp_micros());
        assert_eq!(
            Cursor::parse(&micros).map(|cursor| cursor.at),
            Some(at - chrono::Duration::nanoseconds(567))
        );
        assert_eq!(Cursor::parse("12_"), None);
        assert_eq!(Cursor::parse("x_case-1"), None);
    }
}
