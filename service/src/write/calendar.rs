//! The working-day calendar the deadlines are counted on, as the service starts with it: the
//! official calendars compiled into the domain, with a deployment's own file merged over them
//! (the years announced after this release, or local changes), read once at start.

use std::path::{Path, PathBuf};

use domain::{CalendarError, WorkCalendar};

#[derive(Debug, thiserror::Error)]
pub enum CalendarFileError {
    #[error("cannot read the calendar file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the calendar file {path} is malformed")]
    Malformed {
        path: PathBuf,
        #[source]
        source: CalendarError,
    },
}

/// The official calendars, with the days of `extra` (if given) merged over them.
pub fn load(extra: Option<&Path>) -> Result<WorkCalendar, CalendarFileError> {
    let mut calendar = WorkCalendar::official();
    if let Some(path) = extra {
        let text = std::fs::read_to_string(path).map_err(|source| CalendarFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        calendar.merge(&text).map_err(|source| CalendarFileError::Malformed {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(calendar)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A calendar file of `text`, unique to this test run.
    fn file(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("lianxin-calendar-{}-{name}.txt", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_deployments_file_adds_a_year_to_the_official_calendars() {
        let path = file("2027", "2027-01-01 rest 元旦\n");
        let calendar = load(Some(&path)).unwrap();
        assert!(!calendar.is_working_day("2027-01-01".parse().unwrap()));
        assert!(
            !calendar.is_working_day("2026-10-01".parse().unwrap()),
            "the official days stay"
        );
    }

    #[test]
    fn a_missing_or_malformed_file_is_an_error_naming_it() {
        let missing = load(Some(Path::new("/nonexistent/calendar.txt")));
        assert!(matches!(missing, Err(CalendarFileError::Read { .. })));
        let path = file("malformed", "2027-01-01 holiday\n");
        assert!(matches!(load(Some(&path)), Err(CalendarFileError::Malformed { .. })));
    }
}
