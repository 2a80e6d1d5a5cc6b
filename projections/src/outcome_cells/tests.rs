use chrono::{Duration, TimeZone, Utc};
use domain::{Channel, Extent, HandlingLevel, Kind, Role, Status};

use super::*;
use crate::{figures, outcome_figures, Answer, CaseHistory, FigureSettings, Signed, GROUPINGS};

/// A small, fixed-seed generator (xorshift64*): the same sequence on every run.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    fn seconds(&mut self, days: usize) -> Duration {
        Duration::seconds(self.below(days * 86_400) as i64)
    }
}

fn start() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 11, 20, 8, 0, 0).unwrap()
}

fn policy() -> Policy {
    Policy::default()
}

fn new_case(dice: &mut Dice, id: usize) -> CaseSummary {
    let by_member = dice.below(3) == 0;
    CaseSummary {
        id: format!("case-{id}"),
        kind: dice.pick(&Kind::ALL),
        status: Status::Submitted,
        title: "标题".to_owned(),
        body: "内容".to_owned(),
        category: dice.pick(&["交通", "住房", "教育"]).to_owned(),
        jurisdiction: dice.pick(&["东胜区", "康巴什区"]).to_owned(),
        channel: Channel::Online,
        submitter_id: if by_member { dice.pick(&["m-1", "m-2"]) } else { "c-1" }.to_owned(),
        submitter_role: if by_member { Role::Member } else { Role::Citizen },
        lead_member: None,
        relayed_by: Vec::new(),
        // Spans a year's end and four months.
        submitted_at: start() + dice.seconds(100),
        department: None,
        handlers: Vec::new(),
        level: HandlingLevel::Local,
        first_assigned_at: None,
        first_due_at: None,
        due_at: None,
        late_since: None,
        replied_at: None,
        co_departments: Vec::new(),
        acknowledge_by: None,
        acknowledged_at: None,
        acknowledged_late: false,
        objection_pending: false,
        extension_pending: false,
        extensions_granted: 0,
        consultations: 0,
        adoption: None,
        declined: false,
        closed_at: None,
        outcome: None,
        late: false,
        public_answer: None,
        rating: None,
        escalated: false,
        reopened: 0,
        merged_into: None,
        history: CaseHistory::default(),
        version: 1,
        position: 0,
    }
}

/// What [`evolve`] did to cases, to check the history covers it.
#[derive(Default)]
struct Covered {
    reassigned: u32,
    reclassified: u32,
    reopened: u32,
    rated: u32,
    escalated: u32,
    answered: u32,
    set_aside: u32,
}

/// The case after one random change, as events would make it.
fn evolve(dice: &mut Dice, case: &CaseSummary, covered: &mut Covered) -> CaseSummary {
    let mut case = case.clone();
    if !case.is_open() && case.closed_at.is_none() {
        // Merged and withdrawn cases take no more steps.
        return case;
    }
    let later = case.submitted_at + dice.seconds(60);
    match dice.below(13) {
        0 | 1 => {
            covered.reassigned += u32::from(case.department.is_some());
            case.department = Some(dice.pick(&["市住建局", "市交通局", "市教育局"]).to_owned());
            case.first_assigned_at.get_or_insert(later);
            case.first_due_at.get_or_insert(later + Duration::days(15));
            case.due_at = Some(later + Duration::days(15));
            case.replied_at = None;
            if case.closed_at.is_none() {
                case.status = Status::Assigned;
            }
        }
        2 => {
            covered.reclassified += 1;
            case.category = dice.pick(&["交通", "住房", "教育", "医疗"]).to_owned();
        }
        3 => case.consultations += 1,
        4 => case.relayed_by.push(dice.pick(&["m-1", "m-3"]).to_owned()),
        5 => {
            if dice.below(2) == 0 {
                case.adoption = Some(dice.pick(&[Extent::Full, Extent::Partial]));
                case.history.recommendations_adopted = dice.below(3) as u64;
            } else {
                case.declined = true;
            }
        }
        6 => {
            case.closed_at = Some(later);
            case.outcome = Some(dice.pick(&[Outcome::A, Outcome::B, Outcome::C]));
            case.late = case.due_at.is_some_and(|due| due < later);
            case.status = Status::Closed;
            case.history.ever_closed = true;
            case.history.first_answer.get_or_insert(Answer {
                at: later,
                late_against_effective: case.late,
            });
        }
        7 if case.closed_at.is_some() => {
            covered.reopened += 1;
            case.reopened += 1;
            case.due_at = Some(later + Duration::days(15));
            case.adoption = None;
            case.declined = false;
            case.closed_at = None;
            case.outcome = None;
            case.late = false;
            case.rating = None;
            case.replied_at = None;
            case.history.recommendations_adopted = 0;
            case.status = Status::Assigned;
        }
        8 if case.first_assigned_at.is_some() => {
            case.history.first_signed.get_or_insert(Signed {
                at: later,
                late: dice.below(3) == 0,
            });
        }
        9 if case.first_assigned_at.is_some() => {
            covered.answered += 1;
            case.replied_at = Some(later);
            case.history.first_answer.get_or_insert(Answer {
                at: later,
                late_against_effective: case.due_at.is_some_and(|due| due < later),
            });
            if case.kind == Kind::JointResearch {
                case.history.recommendations_made = 3;
            }
        }
        10 if case.due_at.is_some() => {
            covered.escalated += 1;
            if case.due_at.is_some_and(|due| due < later) && case.replied_at.is_none() {
                case.late_since.get_or_insert(later);
            }
            case.level = HandlingLevel::City;
            case.escalated = true;
            case.due_at = Some(later + Duration::days(10));
        }
        11 if case.closed_at.is_none() && dice.below(4) == 0 => {
            covered.set_aside += 1;
            if dice.below(2) == 0 {
                case.merged_into = Some("case-0".to_owned());
                case.status = Status::Merged;
            } else {
                case.status = Status::Withdrawn;
            }
        }
        _ if case.closed_at.is_some() => {
            covered.rated += 1;
            let rating = dice.pick(&[Rating::Satisfied, Rating::BasicallySatisfied, Rating::Unsatisfied]);
            case.rating = Some(rating);
            case.history.latest_evaluation = Some(Evaluation {
                rating,
                by_staff: dice.below(4) == 0,
            });
        }
        _ => {}
    }
    case.version += 1;
    case
}

/// A random history of cases, kept in cells batch by batch as the projector does.
fn random_history(seed: u64) -> (Vec<CaseSummary>, BTreeMap<CellKey, Cell>, Covered) {
    let mut dice = Dice(seed);
    let mut cases: Vec<CaseSummary> = Vec::new();
    let mut cells = BTreeMap::new();
    let mut covered = Covered::default();
    for _ in 0..100 {
        let mut before: BTreeMap<usize, Option<CaseSummary>> = BTreeMap::new();
        for _ in 0..dice.below(15) {
            if cases.is_empty() || dice.below(4) == 0 {
                before.insert(cases.len(), None);
                let case = new_case(&mut dice, cases.len());
                cases.push(case);
            } else {
                // A case may change several times in one batch.
                let index = dice.below(cases.len());
                before.entry(index).or_insert_with(|| Some(cases[index].clone()));
                cases[index] = evolve(&mut dice, &cases[index], &mut covered);
            }
        }
        let pairs = before.iter().map(|(index, before)| (before.as_ref(), &cases[*index]));
        CellChanges::between(pairs, &Span::ALL, &policy())
            .apply(&mut cells)
            .unwrap();
    }
    (cases, cells, covered)
}

/// Moments of reading: before, among and after the deadlines of the history.
fn moments() -> [Timestamp; 3] {
    [
        start() + Duration::days(40),
        start() + Duration::days(70),
        start() + Duration::days(200),
    ]
}

fn settings(policy: &Policy) -> FigureSettings<'_> {
    FigureSettings {
        policy,
        basically_satisfied_weight: 0.5,
    }
}

/// Both kinds of figures over `cases` and from `cells` agree, for every grouping and moment.
fn assert_cells_give_the_figures_of(cells: &BTreeMap<CellKey, Cell>, cases: &[&CaseSummary], context: &str) {
    let policy = policy();
    for now in moments() {
        for group_by in GROUPINGS {
            let cases = cases.iter().copied();
            let groups = [Groups::of(cells.clone(), group_by)];
            assert_eq!(
                outcome_figures_of_cells(&groups, now),
                outcome_figures(cases.clone(), group_by, now, policy.offset),
                "funnel {group_by:?} at {now} {context}"
            );
            // Read in two parts, as a large read is decoded.
            let (first, second): (BTreeMap<CellKey, Cell>, BTreeMap<CellKey, Cell>) = cells
                .clone()
                .into_iter()
                .enumerate()
                .map(|(index, cell)| (index % 2 == 0, cell))
                .fold(
                    (BTreeMap::new(), BTreeMap::new()),
                    |(mut first, mut second), (to_first, (key, cell))| {
                        if to_first {
                            first.insert(key, cell)
                        } else {
                            second.insert(key, cell)
                        };
                        (first, second)
                    },
                );
            let parts = [Groups::of(first, group_by), Groups::of(second, group_by)];
            assert_eq!(
                (
                    outcome_figures_of_cells(&parts, now),
                    figures_of_cells(&parts, now, 0.5)
                ),
                (
                    outcome_figures_of_cells(&groups, now),
                    figures_of_cells(&groups, now, 0.5)
                ),
                "in two parts {group_by:?} at {now} {context}"
            );
            assert_eq!(
                figures_of_cells(&groups, now, 0.5),
                figures(cases, group_by, now, settings(&policy)),
                "published {group_by:?} at {now} {context}"
            );
        }
    }
}

#[test]
fn cells_kept_through_a_random_history_give_the_figures_computed_over_the_cases() {
    let (cases, cells, covered) = random_history(0x6f75_7463_6f6d_6501);
    assert!(cases.len() > 100, "the history made cases");
    assert!(covered.reassigned > 5 && covered.reclassified > 5 && covered.reopened > 5 && covered.rated > 5);
    assert!(covered.escalated > 5 && covered.answered > 5 && covered.set_aside > 5);
    let [_, now, _] = moments();
    assert!(cases.iter().any(|case| case.is_overdue(now)));
    let expected = figures(&cases, None, now, settings(&policy()));
    assert!(expected[0].open_late.numerator > 0 && expected[0].answered_on_time.denominator > 0);
    assert!(figures(&cases, Some(GroupBy::Member), now, settings(&policy())).len() >= 3);
    // Every period's cells: a day's and a month's hold the same cases.
    for span in Span::ALL {
        let of_span: BTreeMap<CellKey, Cell> = cells
            .iter()
            .filter(|(key, _)| key.span == span)
            .map(|(key, cell)| (key.clone(), cell.clone()))
            .collect();
        let all: Vec<&CaseSummary> = cases.iter().collect();
        assert_cells_give_the_figures_of(&of_span, &all, span.as_str());
    }
}

#[test]
fn cells_kept_through_a_random_history_equal_cells_built_from_the_final_summaries() {
    let (cases, cells, _) = random_history(0x6f75_7463_6f6d_6502);
    let mut rebuilt = BTreeMap::new();
    CellChanges::between(cases.iter().map(|case| (None, case)), &Span::ALL, &policy())
        .apply(&mut rebuilt)
        .unwrap();
    assert_eq!(rebuilt, cells);
}

#[test]
fn the_day_cells_kept_through_a_random_history_roll_up_to_the_month_cells_kept_beside_them() {
    let (_, cells, _) = random_history(0x6f75_7463_6f6d_6504);
    let months: BTreeMap<CellKey, Cell> = cells
        .iter()
        .filter(|(key, _)| key.span == Span::Month)
        .map(|(key, cell)| (key.clone(), cell.clone()))
        .collect();
    assert!(months.len() > 20 && months.keys().any(|key| key.dimension == Dimension::Member));
    assert!(
        months
            .values()
            .any(|cell| cell.samples(Sample::SecondsToClose).len() > 3),
        "months hold samples of several days to merge"
    );
    assert_eq!(roll_up(&cells), months);
}

/// A period's figures from the month roll-ups and day cells it covers whole and the cases of
/// the parts of days at its edges equal the figures over the cases submitted in it.
#[test]
fn any_period_is_read_from_whole_months_whole_days_and_the_cases_of_its_edges() {
    let (cases, cells, _) = random_history(0x6f75_7463_6f6d_6503);
    let policy = policy();
    let mut dice = Dice(7);
    for round in 0..60 {
        // Every other period is of whole days in the deployment's time zone.
        let mut from = start() + dice.seconds(100);
        let mut to = from + dice.seconds(80) + Duration::seconds(1);
        if round % 2 == 0 {
            let day = |at: Timestamp| day_start(local_date(at, policy.offset), policy.offset);
            (from, to) = (day(from), day(to) + Duration::days(1));
        }
        // Read after every submission of the history, as the service reads.
        let coverage = coverage(from, to, moments()[2], policy.offset);
        assert!(coverage.days.len() <= 2 && coverage.parts.len() <= 2);
        if round % 2 == 0 {
            assert!(coverage.parts.is_empty(), "{from} to {to}");
        }
        for group_by in GROUPINGS {
            let dimension = Dimension::of(group_by);
            let mut period = covered(&cells, dimension, &coverage);
            let mut changes = CellChanges::default();
            for (part_from, part_to) in &coverage.parts {
                for case in cases
                    .iter()
                    .filter(|case| (*part_from..*part_to).contains(&case.submitted_at))
                {
                    changes.add(case, dimension, Span::Day, &policy);
                }
            }
            changes.apply(&mut period).unwrap();
            let in_period: Vec<&CaseSummary> = cases
                .iter()
                .filter(|case| (from..to).contains(&case.submitted_at))
                .collect();
            let now = moments()[1];
            let groups = [Groups::of(period, group_by)];
            assert_eq!(
                outcome_figures_of_cells(&groups, now),
                outcome_figures(in_period.iter().copied(), group_by, now, policy.offset),
                "funnel {group_by:?} over {from} to {to}"
            );
            assert_eq!(
                figures_of_cells(&groups, now, 0.5),
                figures(in_period.iter().copied(), group_by, now, settings(&policy)),
                "published {group_by:?} over {from} to {to}"
            );
        }
    }
}

#[test]
fn a_period_is_read_from_whole_months_then_whole_days_then_parts_of_days() {
    let offset = policy().offset;
    // Midnight in Beijing is 16:00 UTC the day before.
    let beijing =
        |month: u32, day: u32, hour: u32| offset.with_ymd_and_hms(2026, month, day, hour, 0, 0).unwrap().to_utc();
    // Read long after every day below.
    let later = beijing(12, 31, 23) + Duration::days(30);
    let year = coverage(
        beijing(1, 1, 0),
        Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap() - Duration::hours(8),
        later,
        offset,
    );
    assert_eq!(year.months, Some(("2026-01".to_owned(), "2026-12".to_owned())));
    assert!(year.days.is_empty() && year.parts.is_empty());

    let edges = coverage(beijing(1, 15, 0), beijing(3, 10, 0), later, offset);
    assert_eq!(edges.months, Some(("2026-02".to_owned(), "2026-02".to_owned())));
    assert_eq!(
        edges.days,
        [
            ("2026-01-15".to_owned(), "2026-01-31".to_owned()),
            ("2026-03-01".to_owned(), "2026-03-09".to_owned())
        ]
    );
    assert!(edges.parts.is_empty());

    let within = coverage(beijing(1, 15, 0), beijing(2, 10, 0), later, offset);
    assert_eq!(within.months, None);
    assert_eq!(within.days, [("2026-01-15".to_owned(), "2026-02-09".to_owned())]);

    let hours = coverage(beijing(12, 5, 12), beijing(12, 8, 6), later, offset);
    assert_eq!(hours.days, [("2026-12-06".to_owned(), "2026-12-07".to_owned())]);
    assert_eq!(
        hours.parts,
        [
            (beijing(12, 5, 12), beijing(12, 6, 0)),
            (beijing(12, 8, 0), beijing(12, 8, 6))
        ]
    );

    let inside = coverage(beijing(12, 5, 1), beijing(12, 5, 2), later, offset);
    assert_eq!(inside.parts, [(beijing(12, 5, 1), beijing(12, 5, 2))]);
    assert!(inside.days.is_empty() && inside.months.is_none());

    // Ending after the moment of reading: its day is read whole, from its cell.
    let so_far = coverage(
        beijing(11, 1, 0),
        beijing(12, 5, 14) + Duration::seconds(1),
        beijing(12, 5, 14),
        offset,
    );
    assert_eq!(so_far.months, Some(("2026-11".to_owned(), "2026-11".to_owned())));
    assert_eq!(so_far.days, [("2026-12-01".to_owned(), "2026-12-05".to_owned())]);
    assert!(so_far.parts.is_empty());
}

#[test]
fn a_change_that_moves_no_figure_touches_no_cell() {
    let mut dice = Dice(3);
    let mut case = new_case(&mut dice, 1);
    case.submitter_role = Role::Citizen;
    let mut consulted = case.clone();
    consulted.consultations = 2;
    let mut again = consulted.clone();
    again.consultations = 3;
    again.version += 1;
    assert!(CellChanges::between([(Some(&consulted), &again)], &Span::ALL, &policy()).is_empty());
    let moved = CellChanges::between([(Some(&case), &consulted)], &Span::ALL, &policy());
    assert_eq!(
        moved.keys().count(),
        (Dimension::ALL.len() - 1) * Span::ALL.len(),
        "consulted: one cell per dimension and span, none by member for a voice no member carried"
    );
    let mut relayed = consulted.clone();
    relayed.relayed_by = vec!["m-1".to_owned(), "m-2".to_owned()];
    let members: Vec<CellKey> = CellChanges::between([(None, &relayed)], &Span::ALL, &policy())
        .keys()
        .filter(|key| key.dimension == Dimension::Member)
        .cloned()
        .collect();
    assert_eq!(members.len(), 2 * Span::ALL.len(), "once under each member");
}

#[test]
fn taking_out_a_case_the_cells_do_not_hold_is_refused() {
    let mut dice = Dice(5);
    let policy = policy();
    let mut held = new_case(&mut dice, 1);
    held.first_assigned_at = Some(held.submitted_at + Duration::hours(1));
    let mut cells = BTreeMap::new();
    CellChanges::between([(None, &held)], &Span::ALL, &policy)
        .apply(&mut cells)
        .unwrap();

    let mut other = held.clone();
    other.first_assigned_at = Some(held.submitted_at + Duration::hours(2));
    let mut changes = CellChanges::default();
    changes.remove(&other, Dimension::All, Span::Day, &policy);
    assert!(matches!(
        changes.apply(&mut cells.clone()),
        Err(CellError::MissingSample(_))
    ));

    let mut changes = CellChanges::default();
    changes.remove(&held, Dimension::All, Span::Month, &policy);
    changes.remove(&held, Dimension::All, Span::Month, &policy);
    assert!(matches!(changes.apply(&mut cells), Err(CellError::BelowZero(_))));
}

#[test]
fn durations_are_the_same_bisected_over_long_runs_or_selected_from_a_pool() {
    let mut dice = Dice(7);
    let mut run = |length: usize| {
        let mut run: Vec<i64> = (0..length).map(|_| dice.below(10_000) as i64 - 5_000).collect();
        run.sort_unstable();
        run
    };
    let (mut first, mut second) = (Sum::default(), Sum::default());
    let mut all = Vec::new();
    for (index, length) in [300, 300, 300, 3, 1, POOLED_RUN, 2, 0].into_iter().enumerate() {
        let run = run(length);
        all.extend_from_slice(&run);
        let sum = if index % 2 == 0 { &mut first } else { &mut second };
        sum.add(Sample::SecondsToClose, &run);
    }
    let kept = |sum: &Sum| {
        (
            sum.runs[Sample::SecondsToClose as usize].len(),
            sum.pooled[Sample::SecondsToClose as usize].len(),
        )
    };
    assert_eq!(
        (kept(&first), kept(&second)),
        ((2, 1 + 2), (1, 3 + POOLED_RUN)),
        "long runs kept, short ones pooled"
    );
    all.sort_unstable();
    assert!(all.len() > 4 * 64, "enough samples in few enough runs to be bisected");
    let expected = durations_by_rank(all.len(), |rank| all[rank] as f64 / 2.0);
    fn total(sums: Vec<&Sum>) -> Total<'_> {
        Total {
            counts: Counts::default(),
            sums,
        }
    }
    assert_eq!(
        total(vec![&first, &second]).durations(Sample::SecondsToClose, 2.0, &mut Vec::new()),
        expected
    );
    // Pooled only, more than a run could hold: selected, never bisected.
    let mut pooled = Sum::default();
    for value in all.iter().rev() {
        pooled.add(Sample::SecondsToClose, &[*value]);
    }
    assert_eq!(
        total(vec![&pooled]).durations(Sample::SecondsToClose, 2.0, &mut vec![7]),
        expected
    );
}

#[test]
fn the_sample_of_each_rank_is_found_across_runs_without_merging_them() {
    let runs: [&[i64]; 3] = [&[-7, -7, 0, 5], &[], &[i64::MIN, -8, 5, 5, i64::MAX]];
    let mut all = runs.concat();
    all.sort_unstable();
    for (rank, sample) in all.iter().enumerate() {
        assert_eq!(nth_smallest(&runs, rank), *sample, "rank {rank}");
    }
}

/// The cells of `cells` (one dimension's, of both spans) a [`Coverage`] reads.
pub fn covered(cells: &BTreeMap<CellKey, Cell>, dimension: Dimension, coverage: &Coverage) -> BTreeMap<CellKey, Cell> {
    let within = |key: &CellKey| match key.span {
        Span::Month => coverage
            .months
            .as_ref()
            .is_some_and(|(first, last)| first <= &key.period && &key.period <= last),
        Span::Day => coverage
            .days
            .iter()
            .any(|(first, last)| first <= &key.period && &key.period <= last),
    };
    cells
        .iter()
        .filter(|(key, _)| key.dimension == dimension && within(key))
        .map(|(key, cell)| (key.clone(), cell.clone()))
        .collect()
}
