use chrono::{Duration, TimeZone};
use domain::{Channel, Extent, HandlingLevel, Kind, Role, Status};

use super::*;
use crate::outcome_figures;

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

const GROUPINGS: [Option<GroupBy>; 6] = [
    None,
    Some(GroupBy::Kind),
    Some(GroupBy::Category),
    Some(GroupBy::Jurisdiction),
    Some(GroupBy::Department),
    Some(GroupBy::Month),
];

fn start() -> Timestamp {
    Utc.with_ymd_and_hms(2025, 11, 20, 8, 0, 0).unwrap()
}

fn new_case(dice: &mut Dice, id: usize) -> CaseSummary {
    CaseSummary {
        id: format!("case-{id}"),
        kind: dice.pick(&Kind::ALL),
        status: Status::Submitted,
        title: "标题".to_owned(),
        body: "内容".to_owned(),
        category: dice.pick(&["交通", "住房", "教育"]).to_owned(),
        jurisdiction: dice.pick(&["东胜区", "康巴什区"]).to_owned(),
        channel: Channel::Online,
        submitter_id: "c-1".to_owned(),
        submitter_role: Role::Citizen,
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
}

/// The case after one random change, as events would make it.
fn evolve(dice: &mut Dice, case: &CaseSummary, covered: &mut Covered) -> CaseSummary {
    let mut case = case.clone();
    let later = case.submitted_at + dice.seconds(60);
    match dice.below(9) {
        0 | 1 => {
            covered.reassigned += u32::from(case.department.is_some());
            case.department = Some(dice.pick(&["市住建局", "市交通局", "市教育局"]).to_owned());
            case.first_assigned_at.get_or_insert(later);
            case.due_at = Some(later + Duration::days(15));
            if case.closed_at.is_none() {
                case.status = Status::Assigned;
            }
        }
        2 => {
            covered.reclassified += 1;
            case.category = dice.pick(&["交通", "住房", "教育", "医疗"]).to_owned();
        }
        3 => case.consultations += 1,
        4 => case.relayed_by.push("m-0001".to_owned()),
        5 => {
            if dice.below(2) == 0 {
                case.adoption = Some(dice.pick(&[Extent::Full, Extent::Partial]));
            } else {
                case.declined = true;
            }
        }
        6 => {
            case.closed_at = Some(later);
            case.outcome = Some(dice.pick(&[Outcome::A, Outcome::B, Outcome::C]));
            case.late = case.due_at.is_some_and(|due| due < later);
            case.status = Status::Closed;
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
            case.status = Status::Assigned;
        }
        _ if case.closed_at.is_some() => {
            covered.rated += 1;
            case.rating = Some(dice.pick(&[Rating::Satisfied, Rating::BasicallySatisfied, Rating::Unsatisfied]));
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
    for _ in 0..80 {
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
        CellChanges::between(pairs).apply(&mut cells).unwrap();
    }
    (cases, cells, covered)
}

fn now() -> Timestamp {
    start() + Duration::days(70)
}

#[test]
fn cells_kept_through_a_random_history_give_the_figures_computed_over_the_cases() {
    let (cases, cells, covered) = random_history(0x6f75_7463_6f6d_6501);
    assert!(cases.len() > 100, "the history made cases");
    assert!(covered.reassigned > 5 && covered.reclassified > 5 && covered.reopened > 5 && covered.rated > 5);
    assert!(cases.iter().any(|case| case.is_overdue(now())));
    for group_by in GROUPINGS {
        let expected = outcome_figures(&cases, group_by, now());
        assert!(expected.iter().all(|figures| figures.submitted > 0));
        assert_eq!(figures_of_cells(&cells, group_by, now()), expected, "{group_by:?}");
    }
}

#[test]
fn cells_kept_through_a_random_history_equal_cells_built_from_the_final_summaries() {
    let (cases, cells, _) = random_history(0x6f75_7463_6f6d_6502);
    let mut rebuilt = BTreeMap::new();
    CellChanges::between(cases.iter().map(|case| (None, case)))
        .apply(&mut rebuilt)
        .unwrap();
    assert_eq!(rebuilt, cells);
}

/// A period's figures from the cells of the months it touches, its partial months either taken
/// from the cases they cover or from the month's cells less the cases they leave out.
#[test]
fn partial_months_come_from_their_cases_or_from_their_cells_less_the_rest() {
    let (cases, cells, _) = random_history(0x6f75_7463_6f6d_6503);
    let mut dice = Dice(7);
    for round in 0..40 {
        let from = start() + dice.seconds(100);
        let to = from + dice.seconds(80) + Duration::seconds(1);
        let in_range =
            |from: Timestamp, to: Timestamp| move |case: &&CaseSummary| (from..to).contains(&case.submitted_at);
        let span = month_span(from, to);
        for group_by in GROUPINGS {
            let dimension = Dimension::of(group_by);
            let mut period: BTreeMap<CellKey, Cell> = cells
                .iter()
                .filter(|(key, _)| key.dimension == dimension && span.first <= key.month && key.month <= span.last)
                .map(|(key, cell)| (key.clone(), cell.clone()))
                .collect();
            let mut changes = CellChanges::default();
            for (index, part) in span.partial.iter().enumerate() {
                if (round + index) % 2 == 0 {
                    period.retain(|key, _| key.month != part.month);
                    for case in cases.iter().filter(in_range(part.from, part.to)) {
                        changes.add(case, dimension);
                    }
                } else {
                    let left_out = cases
                        .iter()
                        .filter(|case| in_range(part.starts, part.from)(case) || in_range(part.to, part.ends)(case));
                    for case in left_out {
                        changes.remove(case, dimension);
                    }
                }
            }
            changes.apply(&mut period).unwrap();
            let covered: Vec<&CaseSummary> = cases.iter().filter(in_range(from, to)).collect();
            assert_eq!(
                figures_of_cells(&period, group_by, now()),
                outcome_figures(covered.iter().copied(), group_by, now()),
                "{group_by:?} over {from} to {to}"
            );
        }
    }
}

#[test]
fn a_period_is_split_at_month_starts() {
    let at = |month: u32, day: u32, hour: u32| Utc.with_ymd_and_hms(2026, month, day, hour, 0, 0).unwrap();
    let whole = month_span(at(1, 1, 0), at(4, 1, 0));
    assert_eq!((whole.first.as_str(), whole.last.as_str()), ("2026-01", "2026-03"));
    assert!(whole.partial.is_empty());

    let edges = month_span(at(1, 15, 0), at(3, 10, 0));
    assert_eq!((edges.first.as_str(), edges.last.as_str()), ("2026-01", "2026-03"));
    assert_eq!(
        edges.partial,
        [
            PartialMonth {
                month: "2026-01".to_owned(),
                starts: at(1, 1, 0),
                ends: at(2, 1, 0),
                from: at(1, 15, 0),
                to: at(2, 1, 0),
            },
            PartialMonth {
                month: "2026-03".to_owned(),
                starts: at(3, 1, 0),
                ends: at(4, 1, 0),
                from: at(3, 1, 0),
                to: at(3, 10, 0),
            },
        ]
    );

    let inside = month_span(at(12, 5, 0), at(12, 6, 12));
    assert_eq!((inside.first.as_str(), inside.last.as_str()), ("2026-12", "2026-12"));
    assert_eq!(inside.partial.len(), 1);
    assert_eq!(
        (inside.partial[0].from, inside.partial[0].to, inside.partial[0].ends),
        (
            at(12, 5, 0),
            at(12, 6, 12),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
        )
    );
}

#[test]
fn a_change_that_moves_no_figure_touches_no_cell() {
    let mut dice = Dice(3);
    let case = new_case(&mut dice, 1);
    let mut consulted = case.clone();
    consulted.consultations = 2;
    let mut again = consulted.clone();
    again.consultations = 3;
    again.version += 1;
    assert!(CellChanges::between([(Some(&consulted), &again)]).is_empty());
    let moved = CellChanges::between([(Some(&case), &consulted)]);
    assert_eq!(
        moved.keys().count(),
        Dimension::ALL.len(),
        "consulted: one cell per dimension"
    );
}

#[test]
fn taking_out_a_case_the_cells_do_not_hold_is_refused() {
    let mut dice = Dice(5);
    let mut held = new_case(&mut dice, 1);
    held.first_assigned_at = Some(held.submitted_at + Duration::hours(1));
    let mut cells = BTreeMap::new();
    CellChanges::between([(None, &held)]).apply(&mut cells).unwrap();

    let mut other = held.clone();
    other.first_assigned_at = Some(held.submitted_at + Duration::hours(2));
    let mut changes = CellChanges::default();
    changes.remove(&other, Dimension::All);
    assert!(matches!(
        changes.apply(&mut cells.clone()),
        Err(CellError::MissingSample(_))
    ));

    let mut changes = CellChanges::default();
    changes.remove(&held, Dimension::All);
    changes.remove(&held, Dimension::All);
    assert!(matches!(changes.apply(&mut cells), Err(CellError::BelowZero(_))));
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
