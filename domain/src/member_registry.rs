//! The member registry: who a member is on record — name, sector 界别, level (市/旗区),
//! jurisdiction and term — kept as events of the member's own stream (`member:<id>`), beside the
//! duty entries. Only the name is personal data in the log; anything more an office keeps about
//! a member stays outside it.
//!
//! The duty year closes on its assessment date, [`ASSESSMENT_DAY`] of the next year (in the
//! deployment's time zone): after it, entries dated in that year are refused unless staff
//! re-opened the year with a reason (`year_reopened`).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::validate::{self, NAME_MAX, TEXT_MAX};
use crate::CaseError;

/// The committee a member sits on.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberLevel {
    /// 市: the city committee.
    City,
    /// 旗区: a banner's or district's committee.
    District,
}

impl MemberLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberLevel::City => "city",
            MemberLevel::District => "district",
        }
    }
}

impl std::str::FromStr for MemberLevel {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "city" | "市" => Ok(MemberLevel::City),
            "district" | "旗区" => Ok(MemberLevel::District),
            other => Err(format!("`{other}` is not a level: city (市) or district (旗区)")),
        }
    }
}

/// A member's entry in the registry.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    pub name: String,
    /// 界别: economy, agriculture & pastoral, education, …
    pub sector: String,
    pub level: MemberLevel,
    /// The banner or district of record; absent for the city as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    pub term_start: NaiveDate,
    pub term_end: NaiveDate,
}

impl Register {
    pub fn validate(&self) -> Result<(), CaseError> {
        validate::line("name", &self.name, NAME_MAX)?;
        validate::line("sector", &self.sector, NAME_MAX)?;
        if let Some(jurisdiction) = &self.jurisdiction {
            validate::line("jurisdiction", jurisdiction, NAME_MAX)?;
        }
        if self.term_end < self.term_start {
            return Err(CaseError::invalid("term_end", "the term cannot end before it starts"));
        }
        Ok(())
    }
}

/// A change of sector, level or jurisdiction; what is absent stays.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeMember {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<MemberLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
}

impl ChangeMember {
    pub fn validate(&self) -> Result<(), CaseError> {
        if let Some(sector) = &self.sector {
            validate::line("sector", sector, NAME_MAX)?;
        }
        if let Some(jurisdiction) = &self.jurisdiction {
            validate::line("jurisdiction", jurisdiction, NAME_MAX)?;
        }
        if self.sector.is_none() && self.level.is_none() && self.jurisdiction.is_none() {
            return Err(CaseError::invalid(
                "sector",
                "a change names a sector, level or jurisdiction",
            ));
        }
        Ok(())
    }
}

/// Leaving the committee before the term ends (or at its end).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Leave {
    pub on: NaiveDate,
    pub reason: String,
}

/// A decision staff record about a member's duty year: the reminder talk 约谈提醒, the start
/// of the resignation procedure 启动请辞程序, or the re-opening of a closed year.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearDecision {
    pub year: i32,
    pub reason: String,
}

/// A duty activity a deployment counts beyond those read from cases (training, mediation, …),
/// recorded by staff.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordActivity {
    /// The activity's name, as the quota configuration names it.
    pub activity: String,
    pub date: NaiveDate,
    pub note: String,
}

impl YearDecision {
    pub fn validate(&self) -> Result<(), CaseError> {
        validate::text("reason", &self.reason, TEXT_MAX)?;
        if !(2000..=2200).contains(&self.year) {
            return Err(CaseError::invalid("year", "is from 2000 to 2200"));
        }
        Ok(())
    }
}

/// The day (month, day) of the next year on which a duty year is assessed and closes.
pub const ASSESSMENT_DAY: (u32, u32) = (1, 31);

/// The assessment date of duty year `year`: entries for it are taken up to and including it.
pub fn assessment_date(year: i32) -> NaiveDate {
    let (month, day) = ASSESSMENT_DAY;
    NaiveDate::from_ymd_opt(year + 1, month, day).unwrap_or(NaiveDate::MAX)
}

/// Whether duty year `year` is closed on `today` (the deployment's day).
pub fn year_closed(year: i32, today: NaiveDate) -> bool {
    today > assessment_date(year)
}

/// How many months of `year` the term `[start, end]` covers: the months whose first day lies
/// in it. A term starting 1 July covers six months of its first year; one starting 15 July
/// covers five. Quotas of a year the term covers in part are scaled by this (see the
/// assessment).
pub fn months_in_term(year: i32, start: NaiveDate, end: NaiveDate) -> u32 {
    (1..=12)
        .filter_map(|month| NaiveDate::from_ymd_opt(year, month, 1))
        .filter(|first| start <= *first && *first <= end)
        .count() as u32
}

/// The years a term touches, first to last.
pub fn term_years(start: NaiveDate, end: NaiveDate) -> std::ops::RangeInclusive<i32> {
    start.year()..=end.year()
}
