//! What a handling unit has to do and how it has done: its queue ([`unit_queue`], `GET
//! /api/v1/departments/{id}/queue`) and the units' scorecards ([`scorecards`], `GET
//! /api/v1/departments/scorecards`).
//!
//! **The queue** reads the case summaries of the open cases the unit handles (lead or
//! co-handling; the same JSON condition as a unit's case list) and sorts them into buckets by
//! [`Queue::of`], a pure function of the summaries, the time and the "due soon" horizon: a case
//! may sit in more than one bucket (to reply and due soon; to sign and overdue).
//!
//! **The scorecards** count the units' own steps, read from the log's events (each step names
//! its unit; staff's answer to an extension request goes to the unit that asked, an evaluation
//! to the unit whose reply it judges), folded case by case in log order by [`Scorecards::fold`].
//! A step counts in the period its time lies in. The summaries could not serve: they keep the
//! present lead unit only, and an objection answered by reassignment leaves no trace there. The
//! read walks the case events of the handling steps once per request, which a city's log of a
//! few years holds in well under a second; a projection of unit steps is the way on if it grows.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use domain::{HandlingLevel, Kind, Policy, Rating, Status, Timestamp};
use projections::CaseSummary;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::QueryBuilder;

use crate::read::queries::cases::{handled_by, HANDLED_BY_END};
use crate::read::rows::Document;
use crate::store::{on_pool, Store, StoreError};

/// A case as a unit's queue shows it.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct QueueCase {
    pub id: String,
    pub kind: Kind,
    pub status: Status,
    pub title: String,
    pub category: String,
    pub jurisdiction: String,
    pub level: HandlingLevel,
    /// The lead unit.
    pub department: Option<String>,
    /// The end of the lead unit's window to sign.
    pub acknowledge_by: Option<DateTime<Utc>>,
    /// The first (statutory) deadline.
    pub first_due_at: Option<DateTime<Utc>>,
    /// The effective deadline.
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    pub count: usize,
    /// Soonest deadline first.
    pub cases: Vec<QueueCase>,
}

/// A unit's work in hand. Definitions, for an open case:
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Serialize)]
pub struct Queue {
    pub department: String,
    /// The end of the "due soon" horizon: `due_within` working days from now.
    pub due_soon_by: DateTime<Utc>,
    /// The unit leads it, has not signed for it and has no objection pending.
    pub to_sign: Bucket,
    /// The unit leads it, has signed, has not replied and has no objection pending.
    pub to_reply: Bucket,
    /// The unit co-handles it and the lead unit has not yet replied: its opinion 协办意见 is
    /// awaited.
    pub opinions_to_send: Bucket,
    /// To reply, with the effective deadline between now and `due_soon_by`.
    pub due_soon: Bucket,
    /// The unit leads it, it is unanswered and its effective deadline has passed.
    pub overdue: Bucket,
    /// The unit leads it and staff owe an answer: an objection or an extension request pending.
    pub waiting_on_staff: Bucket,
}

impl QueueCase {
    fn of(summary: &CaseSummary) -> Self {
        QueueCase {
            id: summary.id.clone(),
            kind: summary.kind,
            status: summary.status,
            title: summary.title.clone(),
            category: summary.category.clone(),
            jurisdiction: summary.jurisdiction.clone(),
            level: summary.level,
            department: summary.department.clone(),
            acknowledge_by: summary.acknowledge_by,
            first_due_at: summary.first_due_at,
            due_at: summary.due_at,
        }
    }
}

impl Bucket {
    fn of<'a>(summaries: impl Iterator<Item = &'a CaseSummary>) -> Self {
        let mut cases: Vec<QueueCase> = summaries.map(QueueCase::of).collect();
        cases.sort_by(|a, b| (a.due_at, &a.id).cmp(&(b.due_at, &b.id)));
        Bucket {
            count: cases.len(),
            cases,
        }
    }
}

impl Queue {
    /// The buckets of `unit` from the summaries of the open cases it handles.
    pub fn of(unit: &str, open: &[CaseSummary], now: Timestamp, due_soon_by: Timestamp) -> Self {
        let leads = |case: &&CaseSummary| case.is_open() && case.department.as_deref() == Some(unit);
        let to_sign = |case: &&CaseSummary| leads(case) && case.acknowledged_at.is_none() && !case.objection_pending;
        let to_reply = |case: &&CaseSummary| {
            leads(case) && case.acknowledged_at.is_some() && case.replied_at.is_none() && !case.objection_pending
        };
        Queue {
            department: unit.to_owned(),
            due_soon_by,
            to_sign: Bucket::of(open.iter().filter(to_sign)),
            to_reply: Bucket::of(open.iter().filter(to_reply)),
            opinions_to_send: Bucket::of(open.iter().filter(|case| {
                case.is_open() && case.replied_at.is_none() && case.co_departments.iter().any(|co| co == unit)
            })),
            due_soon: Bucket::of(
                open.iter()
                    .filter(to_reply)
                    .filter(|case| case.due_at.is_some_and(|due| now <= due && due <= due_soon_by)),
            ),
            overdue: Bucket::of(open.iter().filter(leads).filter(|case| case.is_overdue(now))),
            waiting_on_staff: Bucket::of(
                open.iter()
                    .filter(leads)
                    .filter(|case| case.objection_pending || case.extension_pending),
            ),
        }
    }
}

/// The queue of `unit`: its open cases (only those of `jurisdiction` for a reader limited to
/// one), due soon within `due_within` working days of `now`.
pub async fn unit_queue(
    store: &Store,
    policy: &Policy,
    unit: &str,
    jurisdiction: Option<&str>,
    due_within: u32,
    now: Timestamp,
) -> Result<Queue, StoreError> {
    let condition = handled_by(store);
    let rows: Vec<Document<CaseSummary>> = on_pool!(store, |pool| {
        let mut query = QueryBuilder::new("SELECT summary FROM case_summaries WHERE is_open AND ");
        query.push(condition).push_bind(unit.to_owned()).push(HANDLED_BY_END);
        if let Some(jurisdiction) = jurisdiction {
            query.push(" AND jurisdiction = ").push_bind(jurisdiction.to_owned());
        }
        query.build_query_scalar().fetch_all(pool).await?
    });
    let open: Vec<CaseSummary> = rows.into_iter().map(|row| row.0).collect();
    Ok(Queue::of(unit, &open, now, policy.working_days_after(now, due_within)))
}

/// Evaluations of a unit's replies, by grade.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evaluations {
    pub satisfied: u64,
    pub basically_satisfied: u64,
    pub unsatisfied: u64,
}

/// One unit's steps in a period; every count is of steps whose time lies in the period.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Scorecard {
    pub department: String,
    /// Hand-overs of a case to the unit as lead: assignment, reassignment, escalation or
    /// reopening naming it (a reopening naming no unit hands the case back to its lead).
    pub assigned: u64,
    /// Signatures 签收 by the unit.
    pub signed: u64,
    /// Of those, signed within the window to sign.
    pub signed_on_time: u64,
    /// Objections 异议 the unit raised.
    pub objected: u64,
    pub extensions_requested: u64,
    /// Staff's answers to the unit's extension requests.
    pub extensions_granted: u64,
    pub extensions_refused: u64,
    /// Replies 答复 by the unit as lead.
    pub replied: u64,
    /// Of those, replied by the case's first (statutory) deadline.
    pub replied_on_time_first: u64,
    /// Of those, replied by the effective deadline then in force (the first, or an extended one).
    pub replied_on_time_effective: u64,
    /// The proposers' evaluations of the unit's replies.
    pub evaluations: Evaluations,
}

/// What the fold reads of a case event: the fields the handling steps share.
#[derive(Debug, Deserialize)]
struct Step {
    department: Option<String>,
    jurisdiction: Option<String>,
    #[serde(default)]
    late: bool,
    #[serde(default)]
    late_against_effective: bool,
    rating: Option<Rating>,
    at: Timestamp,
}

/// The events the scorecards fold: submission (for the jurisdiction) and every step that hands a
/// case to a unit, is a unit's, or answers one.
const STEP_TYPES: [&str; 12] = [
    "submitted",
    "assigned",
    "reassigned",
    "escalated",
    "reopened",
    "acknowledged",
    "objected",
    "extension_requested",
    "extension_granted",
    "extension_refused",
    "replied",
    "feedback_given",
];

/// Where a case stands for the fold.
#[derive(Debug, Default)]
struct CaseUnits {
    jurisdiction: Option<String>,
    lead: Option<String>,
    asked_for_time: Option<String>,
    replied: Option<String>,
}

/// The scorecards of a period, folded from case events in log order.
#[derive(Debug, Default)]
pub struct Scorecards {
    cases: HashMap<String, CaseUnits>,
    units: BTreeMap<String, Scorecard>,
}

impl Scorecards {
    /// Folds one event of `case`; `counted` says whether its time lies in the period (and the
    /// case in the reader's jurisdiction, known from its submission, which comes first).
    fn fold(&mut self, case: &str, event_type: &str, step: Step, counted: impl Fn(&Step, Option<&str>) -> bool) {
        let units = self.cases.entry(case.to_owned()).or_default();
        if event_type == "submitted" {
            units.jurisdiction = step.jurisdiction.clone();
            return;
        }
        let hand_over = matches!(event_type, "assigned" | "reassigned" | "escalated" | "reopened");
        if hand_over {
            if let Some(department) = &step.department {
                units.lead = Some(department.clone());
            } else if event_type != "reopened" {
                return;
            }
        }
        let unit = match event_type {
            "extension_granted" | "extension_refused" => units.asked_for_time.clone(),
            "feedback_given" => units.replied.clone(),
            _ if hand_over => units.lead.clone(),
            _ => step.department.clone(),
        };
        match event_type {
            "extension_requested" => units.asked_for_time = step.department.clone(),
            "replied" => units.replied = step.department.clone(),
            _ => {}
        }
        let Some(unit) = unit else { return };
        if !counted(&step, units.jurisdiction.as_deref()) {
            return;
        }
        let card = self.units.entry(unit.clone()).or_insert_with(|| Scorecard {
            department: unit,
            ..Scorecard::default()
        });
        let count = |yes: bool| u64::from(yes);
        match event_type {
            "acknowledged" => {
                card.signed += 1;
                card.signed_on_time += count(!step.late);
            }
            "objected" => card.objected += 1,
            "extension_requested" => card.extensions_requested += 1,
            "extension_granted" => card.extensions_granted += 1,
            "extension_refused" => card.extensions_refused += 1,
            "replied" => {
                card.replied += 1;
                card.replied_on_time_first += count(!step.late);
                card.replied_on_time_effective += count(!step.late_against_effective);
            }
            "feedback_given" => match step.rating {
                Some(Rating::Satisfied) => card.evaluations.satisfied += 1,
                Some(Rating::BasicallySatisfied) => card.evaluations.basically_satisfied += 1,
                Some(Rating::Unsatisfied) => card.evaluations.unsatisfied += 1,
                None => {}
            },
            _ => card.assigned += 1,
        }
    }
}

/// Every unit's scorecard for the steps taken in `[from, to)`, in unit order; only the cases of
/// `jurisdiction` for a reader limited to one. Units with no step in the period are absent.
pub async fn scorecards(
    store: &Store,
    from: Timestamp,
    to: Timestamp,
    jurisdiction: Option<&str>,
) -> Result<Vec<Scorecard>, StoreError> {
    let rows: Vec<(String, String, Json<serde_json::Value>)> = on_pool!(store, |pool| {
        let mut query = QueryBuilder::new(
            "SELECT aggregate_id, event_type, payload FROM events WHERE aggregate_type <> 'member_record' \
             AND event_type IN (",
        );
        let mut types = query.separated(", ");
        for event_type in STEP_TYPES {
            types.push_bind(event_type);
        }
        query.push(") ORDER BY position");
        query.build_query_as().fetch_all(pool).await?
    });
    let mut cards = Scorecards::default();
    let counted = |step: &Step, case_jurisdiction: Option<&str>| {
        from <= step.at && step.at < to && jurisdiction.is_none_or(|wanted| case_jurisdiction == Some(wanted))
    };
    for (case, event_type, Json(payload)) in rows {
        let step: Step = serde_json::from_value(payload)
            .map_err(|error| StoreError::Corrupt(format!("case {case}: {event_type}: {error}")))?;
        cards.fold(&case, &event_type, step, counted);
    }
    Ok(cards.units.into_values().collect())
}
