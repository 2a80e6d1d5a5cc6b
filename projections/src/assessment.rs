//! Members' yearly assessment against the duty quotas (the source's "六个一"), applied when read.
//!
//! The quota set is configuration: each item names the activities that count toward it and its
//! yearly minimum; the credits are kept per activity, so a new set changes the assessment
//! without a rebuild of the log.
//!
//! **Years assessed.** A registered member is assessed for each duty year its term touches, up
//! to the current one; a year with no activity is a year below quota. A member who left has a
//! term that ends on the day of leaving. A term covering part of a year (a member who started
//! on 1 July, or left on 20 March) is judged on that part: each minimum is scaled by the months
//! of the year the term covers (those whose first day lies in the term) and rounded up — 5
//! contacts over six months ask for 3; a year the term covers no month of is not assessed. A
//! member not (yet) in the registry is judged on whole calendar years, and a year before with
//! no activity counts as not assessed, as before the registry.
//!
//! **Standings.** Met: on track. Not met while the year runs: at risk. Not met when the year is
//! over: below quota; and when the year before was assessed and below too: below quota two
//! years running.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::activity;

/// One yearly quota item.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaItem {
    pub name: String,
    /// The activities whose credits count toward it.
    pub counts: Vec<String>,
    /// The yearly minimum, for a whole year in the term.
    pub minimum: u32,
}

/// The yearly quota set.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quotas {
    pub items: Vec<QuotaItem>,
}

impl Default for Quotas {
    /// Contact at least 5 constituents, join at least 2 grassroots consultations, submit at
    /// least 1 social-opinion report.
    fn default() -> Self {
        Quotas::three(5, 2, 1)
    }
}

/// Why a quota set's text does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quota item `{0}` is not NAME=ACTIVITY[+ACTIVITY…]:MINIMUM")]
pub struct QuotaSyntax(pub String);

impl Quotas {
    /// The three items the source names, with these minimums.
    pub fn three(contacts: u32, consultations: u32, reports: u32) -> Quotas {
        let item = |name: &str, counts: &str, minimum| QuotaItem {
            name: name.to_owned(),
            counts: vec![counts.to_owned()],
            minimum,
        };
        Quotas {
            items: vec![
                item("contacts", activity::CONSTITUENTS, contacts),
                item("consultations", activity::GRASSROOTS_CONSULTATIONS, consultations),
                item("reports", activity::SOCIAL_OPINION_REPORTS, reports),
            ],
        }
    }

    /// A set written `NAME=ACTIVITY[+ACTIVITY…]:MINIMUM`, items separated by commas, e.g.
    /// `contacts=constituents:5,research=research_reports+social_opinion_reports:1`.
    pub fn parse(text: &str) -> Result<Quotas, QuotaSyntax> {
        let item = |spec: &str| -> Option<QuotaItem> {
            let (name, rest) = spec.split_once('=')?;
            let (counts, minimum) = rest.rsplit_once(':')?;
            let counts: Vec<String> = counts.split('+').map(|name| name.trim().to_owned()).collect();
            let minimum = minimum.trim().parse().ok()?;
            let valid = !name.trim().is_empty() && counts.iter().all(|name| !name.is_empty());
            valid.then(|| QuotaItem {
                name: name.trim().to_owned(),
                counts,
                minimum,
            })
        };
        let items = text
            .split(',')
            .map(|spec| item(spec).ok_or_else(|| QuotaSyntax(spec.to_owned())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Quotas { items })
    }

    /// Each item's minimum for a year the term covers `months` of, against the counts.
    pub fn judge(&self, counts: &BTreeMap<String, u32>, months: u32) -> Vec<ItemResult> {
        self.items
            .iter()
            .map(|item| ItemResult {
                quota: item.name.clone(),
                required: (item.minimum * months).div_ceil(12),
                actual: item
                    .counts
                    .iter()
                    .map(|activity| counts.get(activity).copied().unwrap_or_default())
                    .sum(),
            })
            .collect()
    }
}

/// One quota item for one year: what it asks, what was done.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemResult {
    pub quota: String,
    pub required: u32,
    pub actual: u32,
}

impl ItemResult {
    pub fn met(&self) -> bool {
        self.actual >= self.required
    }
}

/// The shortfall's shape is an item result not met.
pub type Shortfall = ItemResult;

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
    /// No month of the year lies in the member's term: nothing is asked, nothing judged (a
    /// member's record can be read for such a year; the assessment lists no one for it).
    NotInTerm,
}

/// One duty year of a member, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearJudged {
    pub year: i32,
    pub months: u32,
    pub items: Vec<ItemResult>,
    pub standing: Standing,
}

/// A member's years to judge: each with the months of it in the term and its counts.
#[derive(Debug, Clone, Default)]
pub struct DutyYears {
    /// Year → activity → count.
    pub counts: BTreeMap<i32, BTreeMap<String, u32>>,
    /// The term, when the member is in the registry.
    pub term: Option<(NaiveDate, NaiveDate)>,
}

impl DutyYears {
    /// The months of `year` assessed: those in the term, or the whole year without one.
    pub fn months(&self, year: i32) -> u32 {
        match self.term {
            Some((start, end)) => domain::member_registry::months_in_term(year, start, end),
            None => 12,
        }
    }

    /// Whether `year` is assessed at all: in the term; without a term, the year asked for or a
    /// year with activity.
    fn assessed(&self, year: i32, asked: i32) -> bool {
        match self.term {
            Some(_) => self.months(year) > 0,
            None => year == asked || self.counts.contains_key(&year),
        }
    }

    /// `year` judged on `today` (the deployment's day); `None` when it is not assessed.
    pub fn judge(&self, quotas: &Quotas, year: i32, today: NaiveDate) -> Option<YearJudged> {
        self.assessed(year, year).then(|| self.judged(quotas, year, today))
    }

    /// `year` judged whether it is assessed or not: a year outside the term asks nothing.
    pub fn judged(&self, quotas: &Quotas, year: i32, today: NaiveDate) -> YearJudged {
        let empty = BTreeMap::new();
        let below = |year: i32| {
            let counts = self.counts.get(&year).unwrap_or(&empty);
            quotas.judge(counts, self.months(year)).iter().any(|item| !item.met())
        };
        let months = self.months(year);
        let items = quotas.judge(self.counts.get(&year).unwrap_or(&empty), months);
        let met = items.iter().all(ItemResult::met);
        let standing = match (met, year < today.year()) {
            _ if months == 0 => Standing::NotInTerm,
            (true, _) => Standing::OnTrack,
            (false, false) => Standing::AtRisk,
            (false, true) if self.assessed(year - 1, year) && below(year - 1) => Standing::BelowTwoYearsRunning,
            (false, true) => Standing::BelowQuota,
        };
        YearJudged {
            year,
            months,
            items,
            standing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn years(term: Option<(&str, &str)>, counts: &[(i32, &str, u32)]) -> DutyYears {
        let mut years = DutyYears {
            term: term.map(|(start, end)| (start.parse().unwrap(), end.parse().unwrap())),
            ..DutyYears::default()
        };
        for (year, activity, count) in counts {
            years
                .counts
                .entry(*year)
                .or_default()
                .insert((*activity).to_owned(), *count);
        }
        years
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn all_met(year: i32) -> Vec<(i32, &'static str, u32)> {
        vec![
            (year, activity::CONSTITUENTS, 5),
            (year, activity::GRASSROOTS_CONSULTATIONS, 2),
            (year, activity::SOCIAL_OPINION_REPORTS, 1),
        ]
    }

    #[test]
    fn short_of_a_quota_is_at_risk_until_the_year_ends_then_below() {
        let quotas = Quotas::default();
        let short = years(None, &[(2025, activity::CONSTITUENTS, 5)]);
        let judged = |today| short.judge(&quotas, 2025, day(today)).unwrap().standing;
        assert_eq!(judged("2025-12-31"), Standing::AtRisk);
        assert_eq!(judged("2026-01-01"), Standing::BelowQuota);
        let met = years(None, &all_met(2025));
        assert_eq!(
            met.judge(&quotas, 2025, day("2026-01-01")).unwrap().standing,
            Standing::OnTrack
        );
    }

    #[test]
    fn two_silent_years_in_the_term_are_below_two_years_running() {
        let quotas = Quotas::default();
        let silent = years(Some(("2023-01-01", "2027-12-31")), &[]);
        assert_eq!(
            silent.judge(&quotas, 2025, day("2026-03-01")).unwrap().standing,
            Standing::BelowTwoYearsRunning
        );
        // Without a term, a silent year before is not assessed.
        let unregistered = years(None, &[]);
        assert_eq!(
            unregistered.judge(&quotas, 2025, day("2026-03-01")).unwrap().standing,
            Standing::BelowQuota
        );
    }

    #[test]
    fn a_term_started_in_july_is_judged_on_half_the_year() {
        let quotas = Quotas::default();
        let half = years(
            Some(("2025-07-01", "2030-06-30")),
            &[
                (2025, activity::CONSTITUENTS, 3),
                (2025, activity::GRASSROOTS_CONSULTATIONS, 1),
                (2025, activity::SOCIAL_OPINION_REPORTS, 1),
            ],
        );
        let judged = half.judge(&quotas, 2025, day("2026-03-01")).unwrap();
        assert_eq!(judged.months, 6);
        assert_eq!(judged.standing, Standing::OnTrack, "{judged:?}");
        assert_eq!(judged.items[0].required, 3);
        assert!(
            half.judge(&quotas, 2024, day("2026-03-01")).is_none(),
            "before the term"
        );
    }

    #[test]
    fn a_member_who_left_is_judged_on_the_months_before_leaving_and_not_after() {
        let quotas = Quotas::default();
        // Left on 20 March 2025: January to March of 2025 are in the term, 2026 is not.
        let mut counts = all_met(2024);
        counts.extend([
            (2025, activity::CONSTITUENTS, 2),
            (2025, activity::GRASSROOTS_CONSULTATIONS, 1),
        ]);
        let left = years(Some(("2023-01-01", "2025-03-20")), &counts);
        let judged = left.judge(&quotas, 2025, day("2026-03-01")).unwrap();
        assert_eq!(judged.months, 3);
        let required: Vec<u32> = judged.items.iter().map(|item| item.required).collect();
        // 5 × 3 / 12, 2 × 3 / 12, 1 × 3 / 12, each rounded up.
        assert_eq!(required, [2, 1, 1]);
        assert_eq!(judged.standing, Standing::BelowQuota, "no report: {judged:?}");
        assert!(left.judge(&quotas, 2026, day("2026-03-01")).is_none(), "after leaving");
        let outside = left.judged(&quotas, 2026, day("2026-03-01"));
        assert_eq!(
            (outside.months, outside.standing),
            (0, Standing::NotInTerm),
            "nothing asked, nothing judged"
        );
    }

    #[test]
    fn a_six_item_set_reads_and_changes_the_judgement() {
        let six = Quotas::parse(
            "contacts=constituents:5,consultations=grassroots_consultations:2,reports=social_opinion_reports:1,\
             voices=voices_relayed:1,research=research_reports:1,training=training:1",
        )
        .unwrap();
        assert_eq!(six.items.len(), 6);
        let three_met = years(None, &all_met(2025));
        assert_eq!(
            three_met.judge(&six, 2025, day("2026-01-01")).unwrap().standing,
            Standing::BelowQuota
        );
        assert!(Quotas::parse("contacts=constituents").is_err());
    }
}
