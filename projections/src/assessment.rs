//! Members' yearly assessment against the duty quotas (the source's "六个一", configurable).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::DutyRecord;

/// Yearly minimums.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quotas {
    pub contacts: u32,
    pub consultations: u32,
    pub reports: u32,
}

impl Default for Quotas {
    /// Contact at least 5 constituents, join at least 2 grassroots consultations, submit at
    /// least 1 social-opinion report.
    fn default() -> Self {
        Quotas {
            contacts: 5,
            consultations: 2,
            reports: 1,
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Every quota met.
    OnTrack,
    /// The year is not over and a quota is not yet met: a reminder talk 约谈提醒 is due.
    AtRisk,
    /// The year ended with a quota unmet.
    BelowQuota,
    /// Two years in a row ended with a quota unmet: the resignation procedure 主动请辞 starts.
    BelowTwoYearsRunning,
}

/// A quota not (yet) met.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortfall {
    pub quota: &'static str,
    pub required: u32,
    pub actual: u32,
}

impl Quotas {
    pub fn shortfalls(&self, record: &DutyRecord) -> Vec<Shortfall> {
        [
            ("contacts", self.contacts, record.contacts),
            ("consultations", self.consultations, record.consultations),
            ("reports", self.reports, record.reports),
        ]
        .into_iter()
        .filter(|(_, required, actual)| actual < required)
        .map(|(quota, required, actual)| Shortfall {
            quota,
            required,
            actual,
        })
        .collect()
    }

    /// Where a member stands for `record`'s year, on `today`. `previous` is the member's record
    /// of the year before, if the member had one (a member with none was not yet assessed).
    pub fn standing(&self, record: &DutyRecord, previous: Option<&DutyRecord>, today: NaiveDate) -> Standing {
        let met = self.shortfalls(record).is_empty();
        let year_over = record.year < today.year();
        match (met, year_over) {
            (true, _) => Standing::OnTrack,
            (false, false) => Standing::AtRisk,
            (false, true) => {
                let previous_below = previous.is_some_and(|previous| !self.shortfalls(previous).is_empty());
                if previous_below {
                    Standing::BelowTwoYearsRunning
                } else {
                    Standing::BelowQuota
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(year: i32, contacts: u32, consultations: u32, reports: u32) -> DutyRecord {
        DutyRecord {
            member_id: "m-1".to_owned(),
            year,
            contacts,
            consultations,
            reports,
            ..DutyRecord::default()
        }
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn meeting_every_quota_is_on_track_in_any_year() {
        let quotas = Quotas::default();
        assert_eq!(
            quotas.standing(&record(2025, 5, 2, 1), None, day("2025-06-01")),
            Standing::OnTrack
        );
        assert_eq!(
            quotas.standing(&record(2025, 5, 2, 1), Some(&record(2024, 0, 0, 0)), day("2026-01-01")),
            Standing::OnTrack
        );
    }

    #[test]
    fn short_of_a_quota_is_at_risk_until_the_year_ends_then_below() {
        let quotas = Quotas::default();
        let short = record(2025, 5, 1, 1);
        assert_eq!(quotas.standing(&short, None, day("2025-12-31")), Standing::AtRisk);
        assert_eq!(quotas.standing(&short, None, day("2026-01-01")), Standing::BelowQuota);
        assert_eq!(
            quotas.shortfalls(&short),
            vec![Shortfall {
                quota: "consultations",
                required: 2,
                actual: 1
            }]
        );
    }

    #[test]
    fn below_two_years_running_starts_at_the_second_years_end() {
        let quotas = Quotas::default();
        let first = record(2025, 1, 0, 0);
        let second = record(2026, 4, 2, 1);
        assert_eq!(
            quotas.standing(&second, Some(&first), day("2026-12-31")),
            Standing::AtRisk
        );
        assert_eq!(
            quotas.standing(&second, Some(&first), day("2027-01-01")),
            Standing::BelowTwoYearsRunning
        );
        let recovered = record(2026, 5, 2, 1);
        assert_eq!(
            quotas.standing(&recovered, Some(&first), day("2027-01-01")),
            Standing::OnTrack
        );
        let met_before = record(2025, 5, 2, 1);
        assert_eq!(
            quotas.standing(&second, Some(&met_before), day("2027-01-01")),
            Standing::BelowQuota
        );
    }
}
