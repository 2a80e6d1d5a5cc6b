//! Figure cells: the figures kept pre-aggregated per day of submission, so that the figures of
//! any period of whole days are a sum of a few rows instead of a pass over every case in it.
//!
//! A cell is keyed by a dimension (all cases, or by kind, category, jurisdiction, department,
//! handling level, member), a period of submission, either a day (`YYYY-MM-DD`) or, as a roll-up
//! of the same cases, a month (`YYYY-MM`), both in the deployment's time zone, and the group
//! within the dimension. It holds the counters of both the outcome funnel (`outcome_figures`)
//! and the published figures (`figures`, docs/figures.md); the samples of every time, ascending,
//! so medians and p90s stay exact (seconds for the funnel, whole working days for the published
//! times); and the moments that decide the figures that depend on the moment of reading, so
//! that they are a count of those before it: the open cases' deadlines (`open_overdue`), the
//! first and the effective deadlines of the assigned voices still unanswered (按时办复率's
//! denominators), and for each open voice the moment it is late from (`open_late`).
//!
//! A case counts once in each of its cells: one per dimension and span, but for members, where
//! it counts under each member who raised or carried it. When its summary changes, the
//! contribution of the summary before is removed and that of the summary after added; a batch's
//! changes are netted per cell first, so an event that moves no figure writes nothing.
//!
//! A period `[from, to)` is read as [`Coverage`]: the months it covers whole from the month
//! roll-ups, the other whole days from the day cells (at most about 2 × 31 a group), and the
//! parts of a day at its edges (a period given to the second) from the cases themselves.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::{Index, IndexMut};

use chrono::{Datelike, Days, FixedOffset, Months, NaiveDate, NaiveTime, TimeZone};
use domain::{Extent, Kind, Outcome, Policy, Rating, Timestamp};

use crate::outcomes::{durations_by_rank, place_ranks};
use crate::{
    Adoption, CaseSummary, ClosedByOutcome, Durations, Evaluation, Figures, GroupBy, OutcomeFigures, OutcomeShares,
    Rate, Ratings, Satisfaction, UNGROUPED,
};

/// What the cells of one kind are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    All,
    Kind,
    Category,
    Jurisdiction,
    Department,
    Level,
    Member,
}

impl Dimension {
    pub const ALL: [Dimension; 7] = [
        Dimension::All,
        Dimension::Kind,
        Dimension::Category,
        Dimension::Jurisdiction,
        Dimension::Department,
        Dimension::Level,
        Dimension::Member,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::All => "all",
            Dimension::Kind => "kind",
            Dimension::Category => "category",
            Dimension::Jurisdiction => "jurisdiction",
            Dimension::Department => "department",
            Dimension::Level => "level",
            Dimension::Member => "member",
        }
    }

    pub fn from_name(name: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|dimension| dimension.as_str() == name)
    }

    /// The cells a grouping reads; by month, those of all cases, period by period.
    pub fn of(group_by: Option<GroupBy>) -> Dimension {
        match group_by {
            None | Some(GroupBy::Month) => Dimension::All,
            Some(GroupBy::Kind) => Dimension::Kind,
            Some(GroupBy::Category) => Dimension::Category,
            Some(GroupBy::Jurisdiction) => Dimension::Jurisdiction,
            Some(GroupBy::Department) => Dimension::Department,
            Some(GroupBy::Level) => Dimension::Level,
            Some(GroupBy::Member) => Dimension::Member,
        }
    }

    fn groups(self, case: &CaseSummary, offset: FixedOffset) -> Vec<String> {
        let group_by = match self {
            Dimension::All => return vec![UNGROUPED.to_owned()],
            Dimension::Kind => GroupBy::Kind,
            Dimension::Category => GroupBy::Category,
            Dimension::Jurisdiction => GroupBy::Jurisdiction,
            Dimension::Department => GroupBy::Department,
            Dimension::Level => GroupBy::Level,
            Dimension::Member => GroupBy::Member,
        };
        group_by.keys(case, offset)
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long a cell's period is: a day, or a month rolling up its days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Span {
    Day,
    Month,
}

impl Span {
    pub const ALL: [Span; 2] = [Span::Day, Span::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Span::Day => "day",
            Span::Month => "month",
        }
    }

    pub fn from_name(name: &str) -> Option<Span> {
        Span::ALL.into_iter().find(|span| span.as_str() == name)
    }

    /// The period of this span holding `date`.
    pub fn period(self, date: NaiveDate) -> String {
        match self {
            Span::Day => date.format("%Y-%m-%d").to_string(),
            Span::Month => date.format("%Y-%m").to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CellKey {
    pub dimension: Dimension,
    pub span: Span,
    /// The day (`YYYY-MM-DD`) or month (`YYYY-MM`) of submission, in the deployment's time zone.
    pub period: String,
    pub group: String,
}

impl CellKey {
    fn of(case: &CaseSummary, dimension: Dimension, span: Span, offset: FixedOffset) -> Vec<CellKey> {
        let period = span.period(local_date(case.submitted_at, offset));
        dimension
            .groups(case, offset)
            .into_iter()
            .map(|group| CellKey {
                dimension,
                span,
                period: period.clone(),
                group,
            })
            .collect()
    }

    /// The month the cell's cases were submitted in, `YYYY-MM`.
    pub fn month(&self) -> &str {
        &self.period[..7]
    }
}

impl fmt::Display for CellKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} {}", self.dimension, self.span, self.period, self.group)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn local_date(at: Timestamp, offset: FixedOffset) -> NaiveDate {
    at.with_timezone(&offset).date_naive()
}

/// The counters a cell keeps: the figures' counts and what their rates divide. The first
/// fourteen are the outcome funnel's, over every case; the rest the published figures', over
/// the voices (merged and withdrawn cases apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    Submitted,
    Relayed,
    Assigned,
    Consulted,
    Adopted,
    Declined,
    Closed,
    ClosedA,
    ClosedB,
    ClosedC,
    Rated,
    /// Rated satisfied or basically satisfied.
    Satisfied,
    ClosedWithDeadline,
    ClosedOnTime,
    Merged,
    Withdrawn,
    Voices,
    VoicesAssigned,
    SignedOnTime,
    Answered,
    /// Answered voices with a first deadline.
    AnsweredWithFirstDue,
    AnsweredByFirstDue,
    AnsweredOnTimeEffective,
    VoicesClosed,
    VoicesClosedA,
    VoicesClosedB,
    VoicesClosedC,
    ClosedLate,
    Open,
    SuggestionVoices,
    SuggestionsAdoptedFully,
    SuggestionsAdoptedPartly,
    SuggestionsDeclined,
    MicroConsultationVoices,
    MicroConsultationsAdoptedFully,
    MicroConsultationsAdoptedPartly,
    MicroConsultationsDeclined,
    JointResearchVoices,
    JointResearchAdoptedFully,
    JointResearchAdoptedPartly,
    JointResearchDeclined,
    RecommendationsMade,
    RecommendationsAdopted,
    ProposersSatisfied,
    ProposersBasicallySatisfied,
    ProposersUnsatisfied,
    StaffSatisfied,
    StaffBasicallySatisfied,
    StaffUnsatisfied,
    NoEvaluation,
    EverClosed,
    Reopened,
}

/// A kind's counters: its voices, adopted fully, adopted in part, declined.
fn kind_counters(kind: Kind) -> [Counter; 4] {
    match kind {
        Kind::Suggestion => [
            Counter::SuggestionVoices,
            Counter::SuggestionsAdoptedFully,
            Counter::SuggestionsAdoptedPartly,
            Counter::SuggestionsDeclined,
        ],
        Kind::MicroConsultation => [
            Counter::MicroConsultationVoices,
            Counter::MicroConsultationsAdoptedFully,
            Counter::MicroConsultationsAdoptedPartly,
            Counter::MicroConsultationsDeclined,
        ],
        Kind::JointResearch => [
            Counter::JointResearchVoices,
            Counter::JointResearchAdoptedFully,
            Counter::JointResearchAdoptedPartly,
            Counter::JointResearchDeclined,
        ],
    }
}

/// Ratings' counters: satisfied, basically satisfied, unsatisfied.
const PROPOSERS: [Counter; 3] = [
    Counter::ProposersSatisfied,
    Counter::ProposersBasicallySatisfied,
    Counter::ProposersUnsatisfied,
];
const STAFF: [Counter; 3] = [
    Counter::StaffSatisfied,
    Counter::StaffBasicallySatisfied,
    Counter::StaffUnsatisfied,
];

fn rating_index(rating: Rating) -> usize {
    match rating {
        Rating::Satisfied => 0,
        Rating::BasicallySatisfied => 1,
        Rating::Unsatisfied => 2,
    }
}

/// How many counters there are.
pub const COUNTERS: usize = Counter::Reopened as usize + 1;

/// One value per [`Counter`], in declaration order; signed, as changes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts(pub [i64; COUNTERS]);

impl Default for Counts {
    fn default() -> Self {
        Counts([0; COUNTERS])
    }
}

impl Index<Counter> for Counts {
    type Output = i64;

    fn index(&self, counter: Counter) -> &i64 {
        &self.0[counter as usize]
    }
}

impl IndexMut<Counter> for Counts {
    fn index_mut(&mut self, counter: Counter) -> &mut i64 {
        &mut self.0[counter as usize]
    }
}

impl Counts {
    fn add(&mut self, other: &Counts, times: i64) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine += theirs * times;
        }
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|count| *count == 0)
    }

    fn figure(&self, counter: Counter) -> u64 {
        u64::try_from(self[counter]).unwrap_or_default()
    }
}

/// The ascending samples a cell keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// Seconds from submission to first assignment.
    SecondsToAssign,
    /// Seconds from submission to closing.
    SecondsToClose,
    /// The deadlines of the open cases that have one, as [`nanoseconds`].
    OpenDeadlines,
    /// Working days from first assignment to first signing, to the first answer, to closing
    /// (voices only).
    WorkingDaysToSign,
    WorkingDaysToAnswer,
    WorkingDaysToClose,
    /// The first deadline of each assigned voice not yet answered.
    UnansweredFirstDeadlines,
    /// The deadline in force of each assigned voice not yet answered.
    UnansweredDeadlines,
    /// The moment each open voice is late from (`i64::MIN`: late on record already).
    OpenLateFrom,
}

impl Sample {
    pub const ALL: [Sample; 9] = [
        Sample::SecondsToAssign,
        Sample::SecondsToClose,
        Sample::OpenDeadlines,
        Sample::WorkingDaysToSign,
        Sample::WorkingDaysToAnswer,
        Sample::WorkingDaysToClose,
        Sample::UnansweredFirstDeadlines,
        Sample::UnansweredDeadlines,
        Sample::OpenLateFrom,
    ];
}

/// What the figures of the cases of one period and group are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cell {
    pub counts: Counts,
    /// One ascending run per [`Sample`], in the order of [`Sample::ALL`].
    pub samples: [Vec<i64>; Sample::ALL.len()],
}

impl Cell {
    pub fn samples(&self, sample: Sample) -> &[i64] {
        &self.samples[sample as usize]
    }

    fn is_empty(&self) -> bool {
        self.counts.is_zero() && self.samples.iter().all(Vec::is_empty)
    }
}

/// A moment as nanoseconds since 1970, the resolution timestamps have (saturating after 2262).
pub fn nanoseconds(at: Timestamp) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellError {
    #[error("figure cell `{0}` would count below zero: it disagrees with the case summaries")]
    BelowZero(CellKey),
    #[error("figure cell `{0}` lacks a sample it should hold: it disagrees with the case summaries")]
    MissingSample(CellKey),
}

/// What one case adds to each of its cells.
struct Contribution {
    counts: Counts,
    samples: [Option<i64>; Sample::ALL.len()],
}

fn seconds(from: Timestamp, to: Timestamp) -> i64 {
    (to - from).num_seconds()
}

impl Contribution {
    fn of(case: &CaseSummary, policy: &Policy) -> Contribution {
        let mut contribution = Contribution {
            counts: Counts::default(),
            samples: [None; Sample::ALL.len()],
        };
        contribution.funnel(case);
        contribution.published(case, policy);
        contribution
    }

    fn count(&mut self, counter: Counter, yes: bool) {
        self.counts[counter] += i64::from(yes);
    }

    fn sample(&mut self, sample: Sample, value: Option<i64>) {
        self.samples[sample as usize] = value;
    }

    /// The outcome funnel's part, as `outcome_figures` counts a case.
    fn funnel(&mut self, case: &CaseSummary) {
        self.count(Counter::Submitted, true);
        self.count(Counter::Relayed, !case.relayed_by.is_empty());
        self.count(Counter::Assigned, case.first_assigned_at.is_some());
        self.count(Counter::Consulted, case.consultations > 0);
        self.count(Counter::Adopted, case.adoption.is_some());
        self.count(Counter::Declined, case.declined);
        let closed = case.closed_at.zip(case.outcome);
        if let Some((_, outcome)) = closed {
            self.count(Counter::Closed, true);
            self.count(Counter::ClosedA, outcome == Outcome::A);
            self.count(Counter::ClosedB, outcome == Outcome::B);
            self.count(Counter::ClosedC, outcome == Outcome::C);
            self.count(Counter::ClosedWithDeadline, case.due_at.is_some());
            self.count(Counter::ClosedOnTime, case.due_at.is_some() && !case.late);
        }
        if let Some(rating) = case.rating {
            self.count(Counter::Rated, true);
            self.count(
                Counter::Satisfied,
                matches!(rating, Rating::Satisfied | Rating::BasicallySatisfied),
            );
        }
        let to_assign = case.first_assigned_at.map(|at| seconds(case.submitted_at, at));
        self.sample(Sample::SecondsToAssign, to_assign);
        self.sample(
            Sample::SecondsToClose,
            closed.map(|(at, _)| seconds(case.submitted_at, at)),
        );
        let open_deadline = case.due_at.filter(|_| case.is_open()).map(nanoseconds);
        self.sample(Sample::OpenDeadlines, open_deadline);
    }

    /// The published figures' part, as `figures` counts a case.
    fn published(&mut self, case: &CaseSummary, policy: &Policy) {
        if case.merged_into.is_some() {
            self.count(Counter::Merged, true);
            return;
        }
        if case.status == domain::Status::Withdrawn {
            self.count(Counter::Withdrawn, true);
            return;
        }
        self.count(Counter::Voices, true);
        let history = &case.history;
        let working_days = |from: Timestamp, to: Timestamp| {
            let days = policy
                .calendar
                .working_days_between(local_date(from, policy.offset), local_date(to, policy.offset));
            Some(i64::from(days))
        };
        let answered_at = history.first_answer.map(|answer| answer.at);
        if let Some(assigned_at) = case.first_assigned_at {
            self.count(Counter::VoicesAssigned, true);
            if let Some(signed) = history.first_signed {
                self.count(Counter::SignedOnTime, !signed.late);
                self.sample(Sample::WorkingDaysToSign, working_days(assigned_at, signed.at));
            }
            match history.first_answer {
                Some(answer) => {
                    self.count(Counter::Answered, true);
                    self.count(Counter::AnsweredOnTimeEffective, !answer.late_against_effective);
                    self.sample(Sample::WorkingDaysToAnswer, working_days(assigned_at, answer.at));
                    if let Some(first_due) = case.first_due_at {
                        self.count(Counter::AnsweredWithFirstDue, true);
                        self.count(Counter::AnsweredByFirstDue, answer.at <= first_due);
                    }
                }
                None => {
                    self.sample(Sample::UnansweredFirstDeadlines, case.first_due_at.map(nanoseconds));
                    self.sample(Sample::UnansweredDeadlines, case.due_at.map(nanoseconds));
                }
            }
            if let Some(closed_at) = case.closed_at {
                self.sample(Sample::WorkingDaysToClose, working_days(assigned_at, closed_at));
            }
        }
        let late_on_record = case.late_since.is_some()
            || case
                .first_due_at
                .zip(answered_at)
                .is_some_and(|(due, answered)| answered > due);
        if let (Some(closed_at), Some(outcome)) = (case.closed_at, case.outcome) {
            self.count(Counter::VoicesClosed, true);
            self.count(Counter::VoicesClosedA, outcome == Outcome::A);
            self.count(Counter::VoicesClosedB, outcome == Outcome::B);
            self.count(Counter::VoicesClosedC, outcome == Outcome::C);
            let unanswered_past_first = case
                .first_due_at
                .is_some_and(|due| answered_at.is_none() && due < closed_at);
            self.count(Counter::ClosedLate, late_on_record || unanswered_past_first);
        } else if case.is_open() {
            self.count(Counter::Open, true);
            // Late from the first deadline while unanswered, and from the deadline in force
            // while no reply is on record; late already when on record.
            let late_from = if late_on_record {
                Some(i64::MIN)
            } else {
                let first = case.first_due_at.filter(|_| answered_at.is_none());
                let effective = case.due_at.filter(|_| case.replied_at.is_none());
                first.into_iter().chain(effective).min().map(nanoseconds)
            };
            self.sample(Sample::OpenLateFrom, late_from);
        }
        let [voices, fully, partly, declined] = kind_counters(case.kind);
        self.count(voices, true);
        match case.adoption {
            Some(Extent::Full) => self.count(fully, true),
            Some(Extent::Partial) => self.count(partly, true),
            None => self.count(declined, case.declined),
        }
        if case.kind == Kind::JointResearch {
            self.counts[Counter::RecommendationsMade] += history.recommendations_made as i64;
            self.counts[Counter::RecommendationsAdopted] += history.recommendations_adopted as i64;
        }
        match history.latest_evaluation {
            Some(Evaluation { rating, by_staff }) => {
                let counters = if by_staff { STAFF } else { PROPOSERS };
                self.count(counters[rating_index(rating)], true);
            }
            None => self.count(Counter::NoEvaluation, history.first_answer.is_some()),
        }
        self.count(Counter::EverClosed, history.ever_closed);
        self.count(Counter::Reopened, case.reopened > 0);
    }
}

/// Duration samples added to and removed from a cell.
#[derive(Debug, Default)]
struct SampleChange {
    added: Vec<i64>,
    removed: Vec<i64>,
}

impl SampleChange {
    fn push(&mut self, sample: Option<i64>, times: i64) {
        if let Some(sample) = sample {
            let side = if times > 0 { &mut self.added } else { &mut self.removed };
            side.push(sample);
        }
    }

    /// Sorts both sides and cancels each sample removed and added again.
    fn net(&mut self) {
        self.added.sort_unstable();
        self.removed.sort_unstable();
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        let (mut adds, mut removes) = (
            self.added.iter().copied().peekable(),
            self.removed.iter().copied().peekable(),
        );
        loop {
            match (adds.peek().copied(), removes.peek().copied()) {
                (Some(add), Some(remove)) if add == remove => {
                    adds.next();
                    removes.next();
                }
                (Some(add), Some(remove)) if add < remove => added.extend(adds.next()),
                (_, Some(_)) => removed.extend(removes.next()),
                (Some(_), None) => added.extend(adds.next()),
                (None, None) => break,
            }
        }
        (self.added, self.removed) = (added, removed);
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    /// `samples` (ascending) less the removed plus the added, ascending; `None` when a removed
    /// sample is not among `samples`. The change must be netted (both sides sorted).
    fn applied_to(&self, samples: &[i64]) -> Option<Vec<i64>> {
        let mut result = Vec::with_capacity(samples.len() + self.added.len());
        let mut removed = self.removed.iter().peekable();
        for sample in samples {
            // Both ascending: a removed sample that is not there stays first in line to the end.
            if removed.next_if_eq(&sample).is_none() {
                result.push(*sample);
            }
        }
        if removed.peek().is_some() {
            return None;
        }
        result.extend_from_slice(&self.added);
        // Two ascending runs: the stable sort merges them in one pass.
        result.sort();
        Some(result)
    }
}

#[derive(Debug, Default)]
struct Change {
    counts: Counts,
    samples: [SampleChange; Sample::ALL.len()],
}

/// Changes to cells, per cell.
#[derive(Debug, Default)]
pub struct CellChanges(BTreeMap<CellKey, Change>);

impl CellChanges {
    /// The net change to the cells of every dimension and of `spans` when the summary of each
    /// case goes from `before` (`None` for a case new to the cells) to `after`.
    pub fn between<'a>(
        pairs: impl IntoIterator<Item = (Option<&'a CaseSummary>, &'a CaseSummary)>,
        spans: &[Span],
        policy: &Policy,
    ) -> Self {
        let mut changes = CellChanges::default();
        for (before, after) in pairs {
            if let Some(before) = before {
                changes.count(before, &Dimension::ALL, spans, -1, policy);
            }
            changes.count(after, &Dimension::ALL, spans, 1, policy);
        }
        changes.net();
        changes
    }

    /// Adds `case` to its cells of `dimension` and `span`.
    pub fn add(&mut self, case: &CaseSummary, dimension: Dimension, span: Span, policy: &Policy) {
        self.count(case, &[dimension], &[span], 1, policy);
    }

    /// Takes `case` out of its cells of `dimension` and `span`.
    pub fn remove(&mut self, case: &CaseSummary, dimension: Dimension, span: Span, policy: &Policy) {
        self.count(case, &[dimension], &[span], -1, policy);
    }

    fn count(&mut self, case: &CaseSummary, dimensions: &[Dimension], spans: &[Span], times: i64, policy: &Policy) {
        let contribution = Contribution::of(case, policy);
        for dimension in dimensions {
            for span in spans {
                for key in CellKey::of(case, *dimension, *span, policy.offset) {
                    let change = self.0.entry(key).or_default();
                    change.counts.add(&contribution.counts, times);
                    for (samples, sample) in change.samples.iter_mut().zip(contribution.samples) {
                        samples.push(sample, times);
                    }
                }
            }
        }
    }

    fn net(&mut self) {
        self.0.retain(|_, change| {
            let mut moves = !change.counts.is_zero();
            for samples in &mut change.samples {
                samples.net();
                moves |= !samples.is_empty();
            }
            moves
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The cells that change, once netted by [`CellChanges::between`].
    pub fn keys(&self) -> impl Iterator<Item = &CellKey> {
        self.0.keys()
    }

    /// Applies the changes to `cells`, where a cell missing is empty; a cell left empty is
    /// removed. Returns the keys of the cells changed.
    pub fn apply(mut self, cells: &mut BTreeMap<CellKey, Cell>) -> Result<Vec<CellKey>, CellError> {
        self.net();
        let mut changed = Vec::with_capacity(self.0.len());
        for (key, change) in self.0 {
            let cell = cells.entry(key.clone()).or_default();
            cell.counts.add(&change.counts, 1);
            if cell.counts.0.iter().any(|count| *count < 0) {
                return Err(CellError::BelowZero(key));
            }
            for (samples, change) in cell.samples.iter_mut().zip(&change.samples) {
                *samples = change
                    .applied_to(samples)
                    .ok_or_else(|| CellError::MissingSample(key.clone()))?;
            }
            if cell.is_empty() {
                cells.remove(&key);
            }
            changed.push(key);
        }
        Ok(changed)
    }
}

/// The month cells the day cells `days` roll up to: each month's cell of a dimension and group
/// sums that group's day cells of the month, counters added and samples merged. A case counts in
/// one day cell per dimension and group, so the roll-up holds exactly the cells the month's cases
/// make directly. Cells of other spans are left out.
pub fn roll_up<'a>(days: impl IntoIterator<Item = (&'a CellKey, &'a Cell)>) -> BTreeMap<CellKey, Cell> {
    let mut months: BTreeMap<CellKey, Cell> = BTreeMap::new();
    for (day, cell) in days.into_iter().filter(|(key, _)| key.span == Span::Day) {
        let month = CellKey {
            span: Span::Month,
            period: day.month().to_owned(),
            ..day.clone()
        };
        let sum = months.entry(month).or_default();
        sum.counts.add(&cell.counts, 1);
        for (samples, more) in sum.samples.iter_mut().zip(&cell.samples) {
            samples.extend_from_slice(more);
        }
    }
    for cell in months.values_mut() {
        cell.samples.iter_mut().for_each(|samples| samples.sort_unstable());
    }
    months
}

/// The cells read for a grouping, summed by group (always one, `all`, when not grouped). By
/// month, a cell's month of submission is its group.
#[derive(Debug, Clone)]
pub struct Groups {
    group_by: Option<GroupBy>,
    /// Each group's place in `sums`: a read of a year by member looks a group up for each of
    /// some 20,000 cells, and hashing a short name costs less than comparing along a tree.
    places: HashMap<String, usize>,
    sums: Vec<Sum>,
}

impl Groups {
    pub fn new(group_by: Option<GroupBy>) -> Self {
        let mut groups = Groups {
            group_by,
            places: HashMap::new(),
            sums: Vec::new(),
        };
        if group_by.is_none() {
            groups.sum("", UNGROUPED);
        }
        groups
    }

    pub fn group_by(&self) -> Option<GroupBy> {
        self.group_by
    }

    /// How many groups there are.
    pub fn len(&self) -> usize {
        self.sums.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sums.is_empty()
    }

    /// About how many bytes of memory the sums hold.
    pub fn footprint(&self) -> usize {
        let samples: usize = self
            .sums
            .iter()
            .flat_map(|sum| {
                let runs = sum.runs.iter().flatten().map(Vec::capacity);
                runs.chain(sum.pooled.iter().map(Vec::capacity))
            })
            .sum();
        samples * size_of::<i64>() + self.sums.len() * (size_of::<Sum>() + size_of::<(String, usize)>())
    }

    /// Gives back the room the sums grew into but do not use (for sums kept long).
    pub fn shrink_to_fit(&mut self) {
        for sum in &mut self.sums {
            sum.runs.iter_mut().flatten().for_each(Vec::shrink_to_fit);
            sum.pooled.iter_mut().for_each(Vec::shrink_to_fit);
        }
    }

    /// The cells of the grouping's dimension (see [`Dimension::of`]) among `cells`.
    pub fn of(cells: BTreeMap<CellKey, Cell>, group_by: Option<GroupBy>) -> Self {
        let mut groups = Groups::new(group_by);
        groups.extend(cells);
        groups
    }

    pub fn extend(&mut self, cells: BTreeMap<CellKey, Cell>) {
        let dimension = Dimension::of(self.group_by);
        for (key, cell) in cells.into_iter().filter(|(key, _)| key.dimension == dimension) {
            self.add(&key.period, &key.group, &cell);
        }
    }

    /// Adds the cell of `period` and `group` of the grouping's dimension.
    pub fn add(&mut self, period: &str, group: &str, cell: &Cell) {
        let sum = self.sum(period, group);
        sum.counts.add(&cell.counts, 1);
        for (sample, samples) in Sample::ALL.into_iter().zip(&cell.samples) {
            sum.add(sample, samples);
        }
    }

    /// Adds ascending `samples` of `sample` to the cell of `period` and `group`.
    pub fn add_samples(&mut self, period: &str, group: &str, sample: Sample, samples: &[i64]) {
        if !samples.is_empty() {
            self.sum(period, group).add(sample, samples);
        }
    }

    /// The sum a cell of `period` and `group` of the grouping's dimension adds to, for a reader
    /// that adds a stored cell to it piece by piece as it decodes it.
    pub fn sum(&mut self, period: &str, group: &str) -> &mut Sum {
        match self.group_by {
            Some(GroupBy::Month) => self.sum_of(period.get(..7).unwrap_or(period)),
            _ => self.sum_of(group),
        }
    }

    fn sum_of(&mut self, group: impl AsRef<str> + Into<String>) -> &mut Sum {
        // Most cells add to a group already there: its name is copied once.
        let place = match self.places.get(group.as_ref()) {
            Some(place) => *place,
            None => {
                self.sums.push(Sum::default());
                self.places.insert(group.into(), self.sums.len() - 1);
                self.sums.len() - 1
            }
        };
        &mut self.sums[place]
    }
}

/// What the cells of one group add up to: their counters summed, and each sample's ascending
/// runs, one per cell with many; the few samples of each small cell (a member's month holds a
/// few dozen cases) are pooled unordered instead, one allocation for them all.
#[derive(Debug, Clone, Default)]
pub struct Sum {
    counts: Counts,
    runs: [Vec<Vec<i64>>; Sample::ALL.len()],
    pooled: [Vec<i64>; Sample::ALL.len()],
}

/// Runs up to this long are pooled.
const POOLED_RUN: usize = 64;

impl Sum {
    /// The counters, to add a cell's to.
    pub fn counts_mut(&mut self) -> &mut Counts {
        &mut self.counts
    }

    /// Where a cell's `length` ascending samples of `sample` go, to be pushed in order: the pool
    /// of short runs, or a run of their own.
    pub fn samples_to_fill(&mut self, sample: Sample, length: usize) -> &mut Vec<i64> {
        if length <= POOLED_RUN {
            let pooled = &mut self.pooled[sample as usize];
            pooled.reserve(length);
            pooled
        } else {
            let runs = &mut self.runs[sample as usize];
            runs.push(Vec::with_capacity(length));
            runs.last_mut().expect("pushed above")
        }
    }

    fn add(&mut self, sample: Sample, samples: &[i64]) {
        if !samples.is_empty() {
            self.samples_to_fill(sample, samples.len()).extend_from_slice(samples);
        }
    }
}

/// A group's sums in the parts of a read (rows decoded on two threads, say), its counters
/// added up: the figures read the samples of every part where they are, so that no part is
/// copied into another first.
struct Total<'a> {
    counts: Counts,
    sums: Vec<&'a Sum>,
}

/// Each group of `parts` (in name order) with its sums in all of them.
fn totals<G: Borrow<Groups>>(parts: &[G]) -> Vec<(&str, Total<'_>)> {
    let mut totals: HashMap<&str, Total<'_>> = HashMap::new();
    for part in parts.iter().map(Borrow::borrow) {
        for (group, place) in &part.places {
            let sum = &part.sums[*place];
            let total = totals.entry(group.as_str()).or_insert_with(|| Total {
                counts: Counts::default(),
                sums: Vec::with_capacity(parts.len()),
            });
            total.counts.add(&sum.counts, 1);
            total.sums.push(sum);
        }
    }
    let mut totals: Vec<(&str, Total<'_>)> = totals.into_iter().collect();
    totals.sort_unstable_by_key(|(group, _)| *group);
    totals
}

impl Total<'_> {
    fn count(&self, counter: Counter) -> u64 {
        self.counts.figure(counter)
    }

    fn rate(&self, numerator: Counter, denominator: Counter) -> Rate {
        Rate::of(self.count(numerator), self.count(denominator))
    }

    fn runs(&self, sample: Sample) -> impl Iterator<Item = &[i64]> {
        self.sums
            .iter()
            .flat_map(move |sum| sum.runs[sample as usize].iter().map(Vec::as_slice))
    }

    fn pooled(&self, sample: Sample) -> impl Iterator<Item = &[i64]> {
        self.sums.iter().map(move |sum| sum.pooled[sample as usize].as_slice())
    }

    /// How many samples of `sample` are before `now`.
    fn before(&self, sample: Sample, now: i64) -> u64 {
        let in_runs: usize = self
            .runs(sample)
            .map(|run| run.partition_point(|moment| *moment < now))
            .sum();
        let pooled = self.pooled(sample).flatten().filter(|moment| **moment < now).count();
        (in_runs + pooled) as u64
    }

    /// Median and p90 of `sample`, each sample divided by `unit`; `scratch` is room to gather
    /// the samples in (one for all the groups of a read rather than one each).
    fn durations(&self, sample: Sample, unit: f64, scratch: &mut Vec<i64>) -> Durations {
        let mut runs: Vec<&[i64]> = self.runs(sample).collect();
        let pooled_count: usize = self.pooled(sample).map(<[i64]>::len).sum();
        let count = runs.iter().map(|run| run.len()).sum::<usize>() + pooled_count;
        scratch.clear();
        // Bisecting the values passes over every run a few dozen times per rank: cheap for a
        // year's samples in a few dozen runs, dear for a few samples in many, which are cheaper
        // gathered and selected by rank (linear in the samples).
        if runs.is_empty() || count <= (runs.len() + 1) * 64 {
            for run in runs.into_iter().chain(self.pooled(sample)) {
                scratch.extend_from_slice(run);
            }
            place_ranks(scratch, i64::cmp);
            return durations_by_rank(count, |rank| scratch[rank] as f64 / unit);
        }
        for part in self.pooled(sample) {
            scratch.extend_from_slice(part);
        }
        scratch.sort_unstable();
        runs.push(scratch);
        durations_by_rank(count, |rank| nth_smallest(&runs, rank) as f64 / unit)
    }
}

/// The outcome funnel of a grouping from the cells read (summed in one or more parts), one row
/// per group in key order (always one, `all`, when not grouped), as `outcome_figures` computes it
/// over their cases at `now`.
pub fn outcome_figures_of_cells<G: Borrow<Groups>>(parts: &[G], now: Timestamp) -> Vec<OutcomeFigures> {
    let now = nanoseconds(now);
    let mut scratch = Vec::new();
    totals(parts)
        .into_iter()
        .map(|(group, sum)| {
            let count = |counter| sum.count(counter);
            OutcomeFigures {
                group: group.to_owned(),
                submitted: count(Counter::Submitted),
                relayed: count(Counter::Relayed),
                assigned: count(Counter::Assigned),
                consulted: count(Counter::Consulted),
                adopted: count(Counter::Adopted),
                declined: count(Counter::Declined),
                closed: count(Counter::Closed),
                closed_by_outcome: ClosedByOutcome {
                    a: count(Counter::ClosedA),
                    b: count(Counter::ClosedB),
                    c: count(Counter::ClosedC),
                },
                rated: count(Counter::Rated),
                resolution_rate: sum.rate(Counter::ClosedA, Counter::Closed),
                adoption_rate: Rate::of(
                    count(Counter::Adopted),
                    count(Counter::Adopted) + count(Counter::Declined),
                ),
                satisfaction_rate: sum.rate(Counter::Satisfied, Counter::Rated),
                on_time_rate: sum.rate(Counter::ClosedOnTime, Counter::ClosedWithDeadline),
                days_to_assign: sum.durations(Sample::SecondsToAssign, 86_400.0, &mut scratch),
                days_to_close: sum.durations(Sample::SecondsToClose, 86_400.0, &mut scratch),
                open_overdue: sum.before(Sample::OpenDeadlines, now),
            }
        })
        .collect()
}

/// The published figures of a grouping from the cells read (summed in one or more parts), one
/// row per group in key order (always one, `all`, when not grouped), as `figures` computes them
/// over their cases at `now` with `basically_satisfied_weight`.
pub fn figures_of_cells<G: Borrow<Groups>>(
    parts: &[G],
    now: Timestamp,
    basically_satisfied_weight: f64,
) -> Vec<Figures> {
    let now = nanoseconds(now);
    let mut scratch = Vec::new();
    totals(parts)
        .into_iter()
        .map(|(group, sum)| published(group, &sum, now, basically_satisfied_weight, &mut scratch))
        .collect()
}

fn published(group: &str, sum: &Total<'_>, now: i64, weight: f64, scratch: &mut Vec<i64>) -> Figures {
    let count = |counter| sum.count(counter);
    let voices = count(Counter::Voices);
    let closed = count(Counter::VoicesClosed);
    let adoption = Kind::ALL
        .into_iter()
        .filter(|kind| count(kind_counters(*kind)[0]) > 0)
        .map(|kind| {
            let [_, fully, partly, declined] = kind_counters(kind).map(count);
            (kind.as_str().to_owned(), Adoption::of(fully, partly, declined))
        })
        .collect();
    let ratings = |[satisfied, basically_satisfied, unsatisfied]: [Counter; 3]| Ratings {
        satisfied: count(satisfied),
        basically_satisfied: count(basically_satisfied),
        unsatisfied: count(unsatisfied),
    };
    let proposers = ratings(PROPOSERS);
    let numerator = proposers.satisfied as f64 + proposers.basically_satisfied as f64 * weight;
    let denominator = proposers.total();
    Figures {
        group: group.to_owned(),
        submitted: count(Counter::Submitted),
        merged: count(Counter::Merged),
        withdrawn: count(Counter::Withdrawn),
        voices,
        assigned: Rate::of(count(Counter::VoicesAssigned), voices),
        signed_on_time: sum.rate(Counter::SignedOnTime, Counter::VoicesAssigned),
        answered: sum.rate(Counter::Answered, Counter::VoicesAssigned),
        answered_on_time: Rate::of(
            count(Counter::AnsweredByFirstDue),
            count(Counter::AnsweredWithFirstDue) + sum.before(Sample::UnansweredFirstDeadlines, now),
        ),
        answered_on_time_effective: Rate::of(
            count(Counter::AnsweredOnTimeEffective),
            count(Counter::Answered) + sum.before(Sample::UnansweredDeadlines, now),
        ),
        resolved: Rate::of(count(Counter::VoicesClosedA), voices),
        resolved_of_closed: Rate::of(count(Counter::VoicesClosedA), closed),
        outcome_shares: OutcomeShares {
            a: Rate::of(count(Counter::VoicesClosedA), closed),
            b: Rate::of(count(Counter::VoicesClosedB), closed),
            c: Rate::of(count(Counter::VoicesClosedC), closed),
        },
        adoption,
        recommendations_adopted: sum.rate(Counter::RecommendationsAdopted, Counter::RecommendationsMade),
        satisfaction: Satisfaction {
            proposers,
            basically_satisfied_weight: weight,
            numerator,
            denominator,
            value: (denominator > 0).then(|| numerator / denominator as f64),
            staff_recorded: ratings(STAFF),
            no_evaluation: count(Counter::NoEvaluation),
        },
        reopened: sum.rate(Counter::Reopened, Counter::EverClosed),
        open_late: Rate::of(sum.before(Sample::OpenLateFrom, now), count(Counter::Open)),
        closed_late: Rate::of(count(Counter::ClosedLate), closed),
        working_days_to_sign: sum.durations(Sample::WorkingDaysToSign, 1.0, scratch),
        working_days_to_answer: sum.durations(Sample::WorkingDaysToAnswer, 1.0, scratch),
        working_days_to_close: sum.durations(Sample::WorkingDaysToClose, 1.0, scratch),
    }
}

/// The sample of rank `rank` (0 the smallest) among ascending `runs`, which hold more than
/// `rank` samples: the smallest value that more than `rank` samples do not exceed, found by
/// bisecting the values, so that no run is merged or copied.
fn nth_smallest(runs: &[&[i64]], rank: usize) -> i64 {
    let (mut low, mut high) = (i64::MAX, i64::MIN);
    for run in runs {
        if let (Some(first), Some(last)) = (run.first(), run.last()) {
            (low, high) = (low.min(*first), high.max(*last));
        }
    }
    while low < high {
        // Rounded down, so that `low <= middle < high` for negative values too.
        let middle = (i128::from(low) + i128::from(high)).div_euclid(2) as i64;
        let at_most: usize = runs
            .iter()
            .map(|run| run.partition_point(|sample| *sample <= middle))
            .sum();
        if at_most > rank {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    low
}

/// A period `[from, to)` laid over the cells: the months it covers whole (read from the month
/// roll-ups), the whole days it covers outside them (from the day cells), and the parts of days
/// at its edges (from the cases submitted in them). Periods are inclusive, first to last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    pub months: Option<(String, String)>,
    pub days: Vec<(String, String)>,
    pub parts: Vec<(Timestamp, Timestamp)>,
}

/// The first moment of `date` in the time zone `offset`.
fn day_start(date: NaiveDate, offset: FixedOffset) -> Timestamp {
    offset
        .from_local_datetime(&date.and_time(NaiveTime::MIN))
        .single()
        .map(|start| start.to_utc())
        .unwrap_or(Timestamp::MAX_UTC)
}

/// How the cells cover `[from, to)` (`from` before `to`) read at `now` in the time zone
/// `offset`. No case is submitted after the moment of reading, so a period ending after `now`
/// (the default ends now) is read as ending with `now`'s day: that day from its cell, not its
/// cases.
pub fn coverage(from: Timestamp, to: Timestamp, now: Timestamp, offset: FixedOffset) -> Coverage {
    let to = if to > now {
        to.max(day_start(local_date(now, offset) + Days::new(1), offset))
    } else {
        to
    };
    let mut coverage = Coverage::default();
    let (first_day, end_day) = (local_date(from, offset), local_date(to, offset));
    if first_day == end_day {
        coverage.parts.push((from, to));
        return coverage;
    }
    // Whole days `[first, end)`.
    let mut first = first_day;
    if day_start(first_day, offset) < from {
        first = first_day + Days::new(1);
        coverage.parts.push((from, day_start(first, offset)));
    }
    let end = end_day;
    if day_start(end_day, offset) < to {
        coverage.parts.push((day_start(end_day, offset), to));
    }
    if first >= end {
        return coverage;
    }
    let month_start = |date: NaiveDate| date.with_day(1).unwrap_or(date);
    let first_month = if first.day() == 1 {
        first
    } else {
        month_start(first) + Months::new(1)
    };
    let end_month = month_start(end);
    let day_range = |from: NaiveDate, to: NaiveDate| (Span::Day.period(from), Span::Day.period(to - Days::new(1)));
    if first_month < end_month {
        let last_month = end_month - Months::new(1);
        coverage.months = Some((Span::Month.period(first_month), Span::Month.period(last_month)));
        if first < first_month {
            coverage.days.push(day_range(first, first_month));
        }
        if end_month < end {
            coverage.days.push(day_range(end_month, end));
        }
    } else {
        coverage.days.push(day_range(first, end));
    }
    coverage
}

#[cfg(test)]
mod tests;
