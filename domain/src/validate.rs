//! Field checks shared by every command: lengths in characters, no blank text, no control
//! characters where a line is expected.

use crate::{CaseError, Timestamp};

/// Limits in characters.
pub const TITLE_MAX: usize = 200;
pub const BODY_MAX: usize = 20_000;
pub const NAME_MAX: usize = 100;
pub const TEXT_MAX: usize = 5_000;
pub const LIST_MAX: usize = 200;

/// A single line: no control characters at all.
pub fn line(field: &'static str, value: &str, max: usize) -> Result<(), CaseError> {
    text(field, value, max)?;
    if value.chars().any(char::is_control) {
        return Err(CaseError::invalid(
            field,
            "must be a single line without control characters",
        ));
    }
    Ok(())
}

/// Free text: line breaks and tabs are fine, other control characters are not.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<(), CaseError> {
    if value.trim().is_empty() {
        return Err(CaseError::invalid(field, "must not be empty"));
    }
    let chars = value.chars().count();
    if chars > max {
        return Err(CaseError::invalid(
            field,
            format!("must be at most {max} characters, not {chars}"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(CaseError::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

pub fn optional_text(field: &'static str, value: Option<&str>, max: usize) -> Result<(), CaseError> {
    value.map_or(Ok(()), |value| text(field, value, max))
}

/// A list of single-line names, each checked like [`line`].
pub fn lines(field: &'static str, values: &[String], max_each: usize) -> Result<(), CaseError> {
    if values.len() > LIST_MAX {
        return Err(CaseError::invalid(
            field,
            format!("must have at most {LIST_MAX} entries"),
        ));
    }
    values.iter().try_for_each(|value| line(field, value, max_each))
}

/// A deadline must lie after the moment it is set.
pub fn future(field: &'static str, value: Option<Timestamp>, now: Timestamp) -> Result<(), CaseError> {
    match value {
        Some(value) if value <= now => Err(CaseError::invalid(field, "must be later than now")),
        _ => Ok(()),
    }
}

pub fn optional_line(field: &'static str, value: Option<&str>, max: usize) -> Result<(), CaseError> {
    value.map_or(Ok(()), |value| line(field, value, max))
}

/// Days of an extension: at least one, at most a year's worth.
pub fn days(field: &'static str, value: u32) -> Result<(), CaseError> {
    if (1..=DAYS_MAX).contains(&value) {
        Ok(())
    } else {
        Err(CaseError::invalid(field, format!("must be from 1 to {DAYS_MAX}")))
    }
}

pub const DAYS_MAX: u32 = 365;
