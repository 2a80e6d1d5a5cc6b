//! Outcome tracking 问题有解决: the funnel from a voice raised to a problem solved, its rates and
//! times, over the case summaries of a period.
//!
//! Definitions (also in the OpenAPI description and ARCHITECTURE.md):
//! - `submitted`: cases submitted in the period; the other counts are among those cases.
//! - `relayed`: carried by at least one member (委员有反映). `assigned`, `consulted`, `adopted`:
//!   ever assigned, consulted at least once, currently adopted (fully or partly).
//! - `closed`: currently closed, split by outcome A, B, C.
//! - `resolution_rate` = closed A ÷ closed. `adoption_rate` = adopted ÷ (adopted + declined).
//! - `satisfaction_rate` = (satisfied + basically satisfied) ÷ rated.
//! - `on_time_rate` = closed by the deadline ÷ closed with a deadline.
//! - `days_to_assign`, `days_to_close`: from submission to first assignment, and to closing;
//!   median (the mean of the middle two for an even count) and p90 (nearest rank).
//! - `open_overdue`: open cases whose deadline has passed.
//!
//! A rate with nothing to divide by is `null`, never 0.

use std::collections::BTreeMap;

use domain::{Outcome, Rating, Timestamp};
use serde::{Deserialize, Serialize};

use crate::CaseSummary;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Kind,
    Category,
    Jurisdiction,
    Department,
    Month,
}

/// The month of submission a case is counted in, `YYYY-MM` in UTC.
pub fn month_of(at: Timestamp) -> String {
    at.format("%Y-%m").to_string()
}

/// The department group of the cases no department was assigned.
pub const UNASSIGNED: &str = "(unassigned)";

impl GroupBy {
    pub(crate) fn key(self, case: &CaseSummary) -> String {
        match self {
            GroupBy::Kind => case.kind.as_str().to_owned(),
            GroupBy::Category => case.category.clone(),
            GroupBy::Jurisdiction => case.jurisdiction.clone(),
            GroupBy::Department => case.department.clone().unwrap_or_else(|| UNASSIGNED.to_owned()),
            GroupBy::Month => month_of(case.submitted_at),
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClosedByOutcome {
    #[serde(rename = "A")]
    pub a: u64,
    #[serde(rename = "B")]
    pub b: u64,
    #[serde(rename = "C")]
    pub c: u64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Durations {
    pub count: u64,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutcomeFigures {
    /// The group's key; `all` when not grouped.
    pub group: String,
    pub submitted: u64,
    pub relayed: u64,
    pub assigned: u64,
    pub consulted: u64,
    pub adopted: u64,
    pub declined: u64,
    pub closed: u64,
    pub closed_by_outcome: ClosedByOutcome,
    pub rated: u64,
    pub resolution_rate: Option<f64>,
    pub adoption_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
    pub on_time_rate: Option<f64>,
    pub days_to_assign: Durations,
    pub days_to_close: Durations,
    pub open_overdue: u64,
}

#[derive(Default)]
struct Tally {
    figures: OutcomeFigures,
    satisfied: u64,
    closed_with_deadline: u64,
    closed_on_time: u64,
    to_assign: Vec<f64>,
    to_close: Vec<f64>,
}

fn days(from: Timestamp, to: Timestamp) -> f64 {
    (to - from).num_seconds() as f64 / 86_400.0
}

pub(crate) fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Median (mean of the middle two for an even count) and p90 (nearest rank).
pub fn durations(mut values: Vec<f64>) -> Durations {
    values.sort_by(f64::total_cmp);
    durations_by_rank(values.len(), |rank| values[rank])
}

/// [`durations`] of `count` values, the one of rank `rank` (0 the smallest) being `nth(rank)`.
pub(crate) fn durations_by_rank(count: usize, nth: impl Fn(usize) -> f64) -> Durations {
    if count == 0 {
        return Durations::default();
    }
    let median = if count % 2 == 1 {
        nth(count / 2)
    } else {
        (nth(count / 2 - 1) + nth(count / 2)) / 2.0
    };
    let rank = (0.9 * count as f64).ceil() as usize;
    Durations {
        count: count as u64,
        median: Some(median),
        p90: Some(nth(rank.max(1) - 1)),
    }
}

impl Tally {
    fn add(&mut self, case: &CaseSummary, now: Timestamp) {
        let figures = &mut self.figures;
        figures.submitted += 1;
        figures.relayed += u64::from(!case.relayed_by.is_empty());
        figures.consulted += u64::from(case.consultations > 0);
        figures.adopted += u64::from(case.adoption.is_some());
        figures.declined += u64::from(case.declined);
        figures.open_overdue += u64::from(case.is_overdue(now));
        if let Some(assigned_at) = case.first_assigned_at {
            figures.assigned += 1;
            self.to_assign.push(days(case.submitted_at, assigned_at));
        }
        if let (Some(closed_at), Some(outcome)) = (case.closed_at, case.outcome) {
            figures.closed += 1;
            match outcome {
                Outcome::A => figures.closed_by_outcome.a += 1,
                Outcome::B => figures.closed_by_outcome.b += 1,
                Outcome::C => figures.closed_by_outcome.c += 1,
            }
            self.to_close.push(days(case.submitted_at, closed_at));
            if case.due_at.is_some() {
                self.closed_with_deadline += 1;
                self.closed_on_time += u64::from(!case.late);
            }
        }
        if let Some(rating) = case.rating {
            figures.rated += 1;
            self.satisfied += u64::from(matches!(rating, Rating::Satisfied | Rating::BasicallySatisfied));
        }
    }

    fn finish(self) -> OutcomeFigures {
        let mut figures = self.figures;
        figures.resolution_rate = ratio(figures.closed_by_outcome.a, figures.closed);
        figures.adoption_rate = ratio(figures.adopted, figures.adopted + figures.declined);
        figures.satisfaction_rate = ratio(self.satisfied, figures.rated);
        figures.on_time_rate = ratio(self.closed_on_time, self.closed_with_deadline);
        figures.days_to_assign = durations(self.to_assign);
        figures.days_to_close = durations(self.to_close);
        figures
    }
}

/// The group of every case when the figures are not grouped.
pub const UNGROUPED: &str = "all";

/// The figures over `cases`, one row per group (or one row, `all`), groups in key order.
pub fn outcome_figures<'a>(
    cases: impl IntoIterator<Item = &'a CaseSummary>,
    group_by: Option<GroupBy>,
    now: Timestamp,
) -> Vec<OutcomeFigures> {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    if group_by.is_none() {
        tallies.insert(UNGROUPED.to_owned(), Tally::default());
    }
    for case in cases {
        let group = group_by.map_or_else(|| UNGROUPED.to_owned(), |group_by| group_by.key(case));
        tallies.entry(group).or_default().add(case, now);
    }
    tallies
        .into_iter()
        .map(|(group, tally)| OutcomeFigures {
            group,
            ..tally.finish()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90_follow_their_definitions() {
        let odd = durations(vec![5.0, 1.0, 3.0]);
        assert_eq!((odd.median, odd.p90), (Some(3.0), Some(5.0)));
        let even = durations((1..=10).map(f64::from).collect());
        assert_eq!((even.median, even.p90), (Some(5.5), Some(9.0)));
        assert_eq!(durations(Vec::new()), Durations::default());
    }
}
