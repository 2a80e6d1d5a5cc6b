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
//! - `open_overdue`: open cases whose deadline has passed, answered or not, as the overdue list
//!   counts them.
//!
//! A rate with nothing to divide by is `null`, never 0.
//!
//! [`figures`] computes the published figures instead (`docs/figures.md`): a cohort without
//! merged and withdrawn cases, every rate with its numerator and denominator, lateness against
//! the first deadline, the latest evaluation on record (the summary's [`CaseHistory`], kept
//! beside its current state, which a reopen clears), times in working days. The fields above
//! keep their meaning for the clients that read them. Both are also kept pre-aggregated per day
//! in the outcome cells (`crate::outcome_cells`), checked against these definitions.

use std::collections::{BTreeMap, BTreeSet};

use chrono::FixedOffset;
use domain::{Extent, HandlingEvent, HandlingLevel, Kind, Outcome, Policy, Rating, Status, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{CaseFact, CaseSummary};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Kind,
    Category,
    Jurisdiction,
    Department,
    Month,
    /// The handling level now: `local` (the banner or district) or `city` (after 市旗联动).
    Level,
    /// The members who raised or carried the voice: a case counts once under each of them.
    Member,
}

/// Every grouping of the figures, and none (the totals) first.
pub const GROUPINGS: [Option<GroupBy>; GroupBy::ALL.len() + 1] = {
    let mut groupings = [None; GroupBy::ALL.len() + 1];
    let mut index = 0;
    while index < GroupBy::ALL.len() {
        groupings[index + 1] = Some(GroupBy::ALL[index]);
        index += 1;
    }
    groupings
};

/// The department group of the cases no department was assigned.
pub const UNASSIGNED: &str = "(unassigned)";

impl GroupBy {
    pub const ALL: [GroupBy; 7] = [
        GroupBy::Kind,
        GroupBy::Category,
        GroupBy::Jurisdiction,
        GroupBy::Department,
        GroupBy::Month,
        GroupBy::Level,
        GroupBy::Member,
    ];

    /// The groups `case` counts in, in the deployment's time zone `offset`: one, but for
    /// [`GroupBy::Member`], where it is every member who submitted, led or relayed it (none for
    /// a voice no member carried).
    pub fn keys(self, case: &CaseSummary, offset: FixedOffset) -> Vec<String> {
        match self {
            GroupBy::Kind => vec![case.kind.as_str().to_owned()],
            GroupBy::Category => vec![case.category.clone()],
            GroupBy::Jurisdiction => vec![case.jurisdiction.clone()],
            GroupBy::Department => vec![case.department.clone().unwrap_or_else(|| UNASSIGNED.to_owned())],
            GroupBy::Month => vec![local_month_of(case.submitted_at, offset)],
            GroupBy::Level => vec![level_name(case.level).to_owned()],
            GroupBy::Member => case.members().into_iter().map(str::to_owned).collect(),
        }
    }
}

/// A handling level as the API names it.
pub fn level_name(level: HandlingLevel) -> &'static str {
    match level {
        HandlingLevel::Local => "local",
        HandlingLevel::City => "city",
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
    /// closed A ÷ closed.
    pub resolution_rate: Rate,
    /// adopted ÷ (adopted + declined).
    pub adoption_rate: Rate,
    /// (satisfied + basically satisfied) ÷ rated.
    pub satisfaction_rate: Rate,
    /// closed by the deadline ÷ closed with a deadline.
    pub on_time_rate: Rate,
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
    place_ranks(&mut values, f64::total_cmp);
    durations_by_rank(values.len(), |rank| values[rank])
}

/// The rank of the p90 among `count` values (nearest rank, 0 the smallest).
fn p90_rank(count: usize) -> usize {
    ((0.9 * count as f64).ceil() as usize).max(1) - 1
}

/// Puts the values [`durations_by_rank`] reads (the middle one or two, the p90) where sorting
/// would put them, leaving the rest unsorted: a selection per rank is linear, and the figures of
/// hundreds of groups read thousands of small sets of values.
pub(crate) fn place_ranks<T>(values: &mut [T], compare: impl Fn(&T, &T) -> std::cmp::Ordering + Copy) {
    let count = values.len();
    if count == 0 {
        return;
    }
    // Descending, each within the values below the one before: after a selection the values
    // before its rank are the smallest ones, so a rank among them is the same rank among all.
    let mut end = count;
    for rank in [p90_rank(count), count / 2, (count - 1) / 2] {
        if rank < end {
            values[..end].select_nth_unstable_by(rank, compare);
            end = rank;
        }
    }
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
    Durations {
        count: count as u64,
        median: Some(median),
        p90: Some(nth(p90_rank(count))),
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
        figures.open_overdue += u64::from(case.is_open() && case.due_at.is_some_and(|due| due < now));
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
        figures.resolution_rate = Rate::of(figures.closed_by_outcome.a, figures.closed);
        figures.adoption_rate = Rate::of(figures.adopted, figures.adopted + figures.declined);
        figures.satisfaction_rate = Rate::of(self.satisfied, figures.rated);
        figures.on_time_rate = Rate::of(self.closed_on_time, self.closed_with_deadline);
        figures.days_to_assign = durations(self.to_assign);
        figures.days_to_close = durations(self.to_close);
        figures
    }
}

/// The group of every case when the figures are not grouped.
pub const UNGROUPED: &str = "all";

/// The groups of `case` under `group_by` (`all` when not grouped).
fn groups_of(case: &CaseSummary, group_by: Option<GroupBy>, offset: FixedOffset) -> Vec<String> {
    group_by.map_or_else(|| vec![UNGROUPED.to_owned()], |group_by| group_by.keys(case, offset))
}

/// The figures over `cases`, one row per group (or one row, `all`), groups in key order; months
/// are those of the deployment's time zone `offset`.
pub fn outcome_figures<'a>(
    cases: impl IntoIterator<Item = &'a CaseSummary>,
    group_by: Option<GroupBy>,
    now: Timestamp,
    offset: FixedOffset,
) -> Vec<OutcomeFigures> {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    if group_by.is_none() {
        tallies.insert(UNGROUPED.to_owned(), Tally::default());
    }
    for case in cases {
        for group in groups_of(case, group_by, offset) {
            tallies.entry(group).or_default().add(case, now);
        }
    }
    tallies
        .into_iter()
        .map(|(group, tally)| OutcomeFigures {
            group,
            ..tally.finish()
        })
        .collect()
}

/// A ratio given with what it divides: `value` is `numerator ÷ denominator`, `null` when the
/// denominator is 0.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub numerator: u64,
    pub denominator: u64,
    pub value: Option<f64>,
}

impl Rate {
    pub fn of(numerator: u64, denominator: u64) -> Rate {
        Rate {
            numerator,
            denominator,
            value: ratio(numerator, denominator),
        }
    }
}

/// What the published figures need of a case beyond its current state, kept in its summary
/// (`CaseSummary::history`) as its events arrive: the first signing and the first answer (a
/// later hand-over starts the unit's work afresh in the summary), the latest evaluation (a
/// reopen clears the summary's rating, never the record), and a joint research's
/// recommendations.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseHistory {
    /// The first signing, and whether after the unit's window.
    pub first_signed: Option<Signed>,
    /// The first answer: the unit's reply, or a close without one.
    pub first_answer: Option<Answer>,
    /// The latest evaluation on record, whoever recorded it.
    pub latest_evaluation: Option<Evaluation>,
    /// Ever closed (now, or before a reopen).
    pub ever_closed: bool,
    /// Recommendations of the latest report.
    pub recommendations_made: u64,
    /// Recommendations the latest adoption took up (cleared by a reopen, as the adoption is).
    pub recommendations_adopted: u64,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Signed {
    pub at: chrono::DateTime<chrono::Utc>,
    /// After the window to sign had ended.
    pub late: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub at: chrono::DateTime<chrono::Utc>,
    /// After the deadline in force when answered.
    pub late_against_effective: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub rating: Rating,
    /// Recorded by staff on the proposer's behalf.
    pub by_staff: bool,
}

impl CaseHistory {
    /// The history after `fact`, one of the case's own facts in sequence order.
    pub fn record(&mut self, fact: &CaseFact) {
        match fact {
            CaseFact::Handled(HandlingEvent::Acknowledged(signed)) => {
                self.first_signed.get_or_insert(Signed {
                    at: signed.at,
                    late: signed.late,
                });
            }
            CaseFact::Handled(HandlingEvent::Replied(replied)) => {
                self.first_answer.get_or_insert(Answer {
                    at: replied.at,
                    late_against_effective: replied.late_against_effective,
                });
            }
            CaseFact::Closed(closed) => {
                self.ever_closed = true;
                self.first_answer.get_or_insert(Answer {
                    at: closed.at,
                    late_against_effective: closed.late,
                });
            }
            CaseFact::FeedbackGiven(feedback) => {
                self.latest_evaluation = Some(Evaluation {
                    rating: feedback.rating,
                    by_staff: feedback.on_behalf_reason.is_some(),
                });
            }
            CaseFact::ReportSubmitted(report) => self.recommendations_made = report.recommendations.len() as u64,
            CaseFact::Adopted(adopted) => {
                let distinct: BTreeSet<usize> = adopted.recommendations.iter().copied().collect();
                self.recommendations_adopted = distinct.len() as u64;
            }
            CaseFact::Reopened(_) => self.recommendations_adopted = 0,
            _ => {}
        }
    }
}

/// How the figures are taken: the deployment's calendar and time zone, and the weight a
/// "basically satisfied" evaluation carries in 满意率.
#[derive(Debug, Clone, Copy)]
pub struct FigureSettings<'a> {
    pub policy: &'a Policy,
    pub basically_satisfied_weight: f64,
}

/// 采纳率 of one kind: adopted (fully and partly apart) ÷ decided (adopted or declined).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Adoption {
    pub adopted_fully: u64,
    pub adopted_partly: u64,
    pub declined: u64,
    /// (fully + partly) ÷ decided.
    pub adopted: Rate,
    /// fully ÷ decided.
    pub fully: Rate,
}

impl Adoption {
    /// The rates of the decisions counted: adopted fully, partly, and declined.
    pub fn of(fully: u64, partly: u64, declined: u64) -> Self {
        let decided = fully + partly + declined;
        Adoption {
            adopted_fully: fully,
            adopted_partly: partly,
            declined,
            adopted: Rate::of(fully + partly, decided),
            fully: Rate::of(fully, decided),
        }
    }
}

/// Evaluations by rating.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Ratings {
    pub satisfied: u64,
    pub basically_satisfied: u64,
    pub unsatisfied: u64,
}

impl Ratings {
    fn add(&mut self, rating: Rating) {
        match rating {
            Rating::Satisfied => self.satisfied += 1,
            Rating::BasicallySatisfied => self.basically_satisfied += 1,
            Rating::Unsatisfied => self.unsatisfied += 1,
        }
    }

    /// Evaluations of every rating.
    pub fn total(&self) -> u64 {
        self.satisfied + self.basically_satisfied + self.unsatisfied
    }
}

/// 满意率 over the proposers' own latest evaluations, with those staff recorded on their
/// behalf and the answered voices with none shown apart.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Satisfaction {
    /// The proposers' own evaluations, the latest per case.
    pub proposers: Ratings,
    /// The weight of "basically satisfied" in the numerator.
    pub basically_satisfied_weight: f64,
    /// satisfied + basically satisfied × weight.
    pub numerator: f64,
    /// The proposers' own evaluations.
    pub denominator: u64,
    pub value: Option<f64>,
    /// Latest evaluations recorded by staff on a proposer's behalf (in no rate).
    pub staff_recorded: Ratings,
    /// Answered voices with no evaluation on record.
    pub no_evaluation: u64,
}

/// The A/B/C split of the closed voices, each ÷ closed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct OutcomeShares {
    #[serde(rename = "A")]
    pub a: Rate,
    #[serde(rename = "B")]
    pub b: Rate,
    #[serde(rename = "C")]
    pub c: Rate,
}

/// The published figures of one group, as `docs/figures.md` defines them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// The group's key; `all` when not grouped.
    pub group: String,
    /// Every case submitted in the period.
    pub submitted: u64,
    /// Duplicates merged into another case: counted at their target, not here.
    pub merged: u64,
    /// Withdrawn by or for the proposer: shown apart, in no rate.
    pub withdrawn: u64,
    /// The cohort: submitted, less merged and withdrawn.
    pub voices: u64,
    /// 交办率: assigned ÷ voices.
    pub assigned: Rate,
    /// 按时签收率: first signed within the window ÷ assigned.
    pub signed_on_time: Rate,
    /// 办复率: answered ÷ assigned.
    pub answered: Rate,
    /// 按时办复率: answered by the first deadline ÷ assigned whose first deadline has passed or
    /// that were answered.
    pub answered_on_time: Rate,
    /// The same against the deadline in force when answered (or now, unanswered).
    pub answered_on_time_effective: Rate,
    /// 解决率: closed A ÷ voices (the headline).
    pub resolved: Rate,
    /// closed A ÷ closed.
    pub resolved_of_closed: Rate,
    pub outcome_shares: OutcomeShares,
    /// 采纳率 per kind (`suggestion`, `micro_consultation`, `joint_research`).
    pub adoption: BTreeMap<String, Adoption>,
    /// Joint research: recommendations adopted ÷ made.
    pub recommendations_adopted: Rate,
    pub satisfaction: Satisfaction,
    /// 重办率: reopened ÷ ever closed.
    pub reopened: Rate,
    /// Open voices late against their first deadline ÷ open voices.
    pub open_late: Rate,
    /// Closed voices late against their first deadline ÷ closed.
    pub closed_late: Rate,
    /// Working days from first assignment to first signing.
    pub working_days_to_sign: Durations,
    /// Working days from first assignment to the first answer.
    pub working_days_to_answer: Durations,
    /// Working days from first assignment to closing.
    pub working_days_to_close: Durations,
}

#[derive(Default)]
struct FigureTally {
    figures: Figures,
    assigned: u64,
    signed_on_time: u64,
    answered: u64,
    due_or_answered: u64,
    answered_on_time: u64,
    due_or_answered_effective: u64,
    answered_on_time_effective: u64,
    closed: u64,
    closed_by_outcome: [u64; 3],
    adoption: BTreeMap<String, [u64; 3]>,
    recommendations: (u64, u64),
    ever_closed: u64,
    reopened: u64,
    open: u64,
    open_late: u64,
    closed_late: u64,
    to_sign: Vec<f64>,
    to_answer: Vec<f64>,
    to_close: Vec<f64>,
}

impl FigureTally {
    fn add(&mut self, case: &CaseSummary, now: Timestamp, settings: FigureSettings<'_>) {
        let history = &case.history;
        self.figures.submitted += 1;
        if case.merged_into.is_some() {
            self.figures.merged += 1;
            return;
        }
        if case.status == Status::Withdrawn {
            self.figures.withdrawn += 1;
            return;
        }
        self.figures.voices += 1;
        let working_days = |from: Timestamp, to: Timestamp| {
            let local = |at: Timestamp| at.with_timezone(&settings.policy.offset).date_naive();
            f64::from(settings.policy.calendar.working_days_between(local(from), local(to)))
        };
        let answered_at = history.first_answer.map(|answer| answer.at);
        if let Some(assigned_at) = case.first_assigned_at {
            self.assigned += 1;
            if let Some(signed) = history.first_signed {
                self.signed_on_time += u64::from(!signed.late);
                self.to_sign.push(working_days(assigned_at, signed.at));
            }
            if let Some(answer) = history.first_answer {
                self.answered += 1;
                self.to_answer.push(working_days(assigned_at, answer.at));
            }
            if let Some(first_due) = case.first_due_at {
                if answered_at.is_some() || first_due < now {
                    self.due_or_answered += 1;
                    self.answered_on_time += u64::from(answered_at.is_some_and(|at| at <= first_due));
                }
            }
            match history.first_answer {
                Some(answer) => {
                    self.due_or_answered_effective += 1;
                    self.answered_on_time_effective += u64::from(!answer.late_against_effective);
                }
                None if case.due_at.is_some_and(|due| due < now) => self.due_or_answered_effective += 1,
                None => {}
            }
            if let Some(closed_at) = case.closed_at {
                self.to_close.push(working_days(assigned_at, closed_at));
            }
        }
        let late_at = |at: Timestamp| {
            case.late_since.is_some()
                || case
                    .first_due_at
                    .is_some_and(|due| answered_at.map_or(due < at, |answered| answered > due))
        };
        if let (Some(closed_at), Some(outcome)) = (case.closed_at, case.outcome) {
            self.closed += 1;
            self.closed_by_outcome[outcome as usize] += 1;
            self.closed_late += u64::from(late_at(closed_at));
        } else if case.is_open() {
            // A reopened case owes a new answer: past the deadline it was given, it is late too.
            self.open += 1;
            self.open_late += u64::from(late_at(now) || case.is_overdue(now));
        }
        let decided = self.adoption.entry(case.kind.as_str().to_owned()).or_default();
        match case.adoption {
            Some(Extent::Full) => decided[0] += 1,
            Some(Extent::Partial) => decided[1] += 1,
            None => decided[2] += u64::from(case.declined),
        }
        if case.kind == Kind::JointResearch {
            self.recommendations.0 += history.recommendations_adopted;
            self.recommendations.1 += history.recommendations_made;
        }
        let satisfaction = &mut self.figures.satisfaction;
        match history.latest_evaluation {
            Some(Evaluation { rating, by_staff: true }) => satisfaction.staff_recorded.add(rating),
            Some(Evaluation {
                rating,
                by_staff: false,
            }) => satisfaction.proposers.add(rating),
            None if history.first_answer.is_some() => satisfaction.no_evaluation += 1,
            None => {}
        }
        self.ever_closed += u64::from(history.ever_closed);
        self.reopened += u64::from(case.reopened > 0);
    }

    fn finish(self, weight: f64) -> Figures {
        let mut figures = self.figures;
        figures.assigned = Rate::of(self.assigned, figures.voices);
        figures.signed_on_time = Rate::of(self.signed_on_time, self.assigned);
        figures.answered = Rate::of(self.answered, self.assigned);
        figures.answered_on_time = Rate::of(self.answered_on_time, self.due_or_answered);
        figures.answered_on_time_effective = Rate::of(self.answered_on_time_effective, self.due_or_answered_effective);
        let [a, b, c] = self.closed_by_outcome;
        figures.resolved = Rate::of(a, figures.voices);
        figures.resolved_of_closed = Rate::of(a, self.closed);
        figures.outcome_shares = OutcomeShares {
            a: Rate::of(a, self.closed),
            b: Rate::of(b, self.closed),
            c: Rate::of(c, self.closed),
        };
        figures.adoption = self
            .adoption
            .into_iter()
            .map(|(kind, [fully, partly, declined])| (kind, Adoption::of(fully, partly, declined)))
            .collect();
        figures.recommendations_adopted = Rate::of(self.recommendations.0, self.recommendations.1);
        let satisfaction = &mut figures.satisfaction;
        satisfaction.basically_satisfied_weight = weight;
        satisfaction.numerator =
            satisfaction.proposers.satisfied as f64 + satisfaction.proposers.basically_satisfied as f64 * weight;
        satisfaction.denominator = satisfaction.proposers.total();
        satisfaction.value =
            (satisfaction.denominator > 0).then(|| satisfaction.numerator / satisfaction.denominator as f64);
        figures.reopened = Rate::of(self.reopened, self.ever_closed);
        figures.open_late = Rate::of(self.open_late, self.open);
        figures.closed_late = Rate::of(self.closed_late, self.closed);
        figures.working_days_to_sign = durations(self.to_sign);
        figures.working_days_to_answer = durations(self.to_answer);
        figures.working_days_to_close = durations(self.to_close);
        figures
    }
}

/// The month a case is counted in when figures are grouped by month: `YYYY-MM` in the
/// deployment's time zone.
pub fn local_month_of(at: Timestamp, offset: FixedOffset) -> String {
    at.with_timezone(&offset).format("%Y-%m").to_string()
}

/// The figures (`docs/figures.md`) of the cases submitted in a period as of `now`: one row per
/// group in key order (or one row, `all`).
pub fn figures<'a>(
    cases: impl IntoIterator<Item = &'a CaseSummary>,
    group_by: Option<GroupBy>,
    now: Timestamp,
    settings: FigureSettings<'_>,
) -> Vec<Figures> {
    let mut tallies: BTreeMap<String, FigureTally> = BTreeMap::new();
    if group_by.is_none() {
        tallies.insert(UNGROUPED.to_owned(), FigureTally::default());
    }
    for case in cases {
        for group in groups_of(case, group_by, settings.policy.offset) {
            tallies.entry(group).or_default().add(case, now, settings);
        }
    }
    tallies
        .into_iter()
        .map(|(group, tally)| Figures {
            group,
            ..tally.finish(settings.basically_satisfied_weight)
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

    #[test]
    fn the_ranks_read_are_placed_as_a_sort_would_place_them() {
        // Every count up to 40, values with repeats in a scrambled order.
        for count in 1..=40usize {
            let values: Vec<i64> = (0..count).map(|index| ((index * 7919) % 13) as i64 - 4).collect();
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let mut placed = values.clone();
            place_ranks(&mut placed, i64::cmp);
            for rank in [p90_rank(count), count / 2, (count - 1) / 2] {
                assert_eq!(placed[rank], sorted[rank], "rank {rank} of {count}");
            }
            let by_rank = |values: &[i64]| durations_by_rank(count, |rank| values[rank] as f64);
            assert_eq!(by_rank(&placed), by_rank(&sorted), "{count} values");
        }
    }
}
