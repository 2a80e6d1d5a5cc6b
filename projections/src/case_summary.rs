//! The case summary: one row per case with what lists, outcome figures, overdue lists and the
//! public tracking page need, kept up to date event by event.

use chrono::{DateTime, Utc};
use domain::{
    Adopted, Assigned, Channel, Classified, Closed, Consulted, Convened, Declined, Escalated, Extent, FeedbackGiven,
    HandlingEvent, HandlingLevel, Kind, Merged, Outcome, PhaseCompleted, PolicyRecorded, Rating, Reassigned, Relayed,
    Reopened, ReportSubmitted, Role, Status, Submitted, Timestamp, VisitRecorded, Windows, Withdrawn,
};
use serde::{Deserialize, Serialize};

use crate::{CaseHistory, Fact, Payload};

/// Any case event, whatever its kind: event types and payloads are shared across kinds, so one
/// reader serves all three.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CaseFact {
    Submitted(Submitted),
    Relayed(Relayed),
    Classified(Classified),
    Assigned(Assigned),
    Reassigned(Reassigned),
    Escalated(Escalated),
    Convened(Convened),
    PreparationCompleted(PhaseCompleted),
    VisitRecorded(VisitRecorded),
    ResearchCompleted(PhaseCompleted),
    Consulted(Consulted),
    ReportSubmitted(ReportSubmitted),
    Adopted(Adopted),
    PolicyRecorded(PolicyRecorded),
    Declined(Declined),
    Closed(Closed),
    FeedbackGiven(FeedbackGiven),
    Reopened(Reopened),
    Withdrawn(Withdrawn),
    Merged(Merged),
    /// A handling unit's step (签收, 异议, 延期, 协办意见, 答复) or staff's answer to one.
    #[serde(untagged)]
    Handled(HandlingEvent),
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub id: String,
    pub kind: Kind,
    pub status: Status,
    pub title: String,
    pub body: String,
    pub category: String,
    pub jurisdiction: String,
    pub channel: Channel,
    pub submitter_id: String,
    pub submitter_role: Role,
    pub lead_member: Option<String>,
    /// Members who carried the voice, in order.
    pub relayed_by: Vec<String>,
    pub submitted_at: DateTime<Utc>,
    /// The lead unit 主办.
    pub department: Option<String>,
    /// Every unit that has handled the case, lead or co-handling, first seen first.
    #[serde(default)]
    pub handlers: Vec<String>,
    #[serde(default)]
    pub level: HandlingLevel,
    pub first_assigned_at: Option<DateTime<Utc>>,
    /// The first (statutory) deadline, never moved.
    #[serde(default)]
    pub first_due_at: Option<DateTime<Utc>>,
    /// The effective deadline.
    pub due_at: Option<DateTime<Utc>>,
    /// The deadline first missed, once on record; never cleared.
    #[serde(default)]
    pub late_since: Option<DateTime<Utc>>,
    #[serde(default)]
    pub replied_at: Option<DateTime<Utc>>,
    /// The current co-handling units 协办.
    #[serde(default)]
    pub co_departments: Vec<String>,
    /// The end of the current lead unit's window to sign, when recorded.
    #[serde(default)]
    pub acknowledge_by: Option<DateTime<Utc>>,
    /// When the current lead unit signed, and whether after its window.
    #[serde(default)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub acknowledged_late: bool,
    /// The lead unit objected; staff have not yet reassigned or insisted.
    #[serde(default)]
    pub objection_pending: bool,
    /// The lead unit asked for time; staff have not yet answered.
    #[serde(default)]
    pub extension_pending: bool,
    #[serde(default)]
    pub extensions_granted: u32,
    pub consultations: u32,
    pub adoption: Option<Extent>,
    pub declined: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    /// Closed after its deadline.
    pub late: bool,
    /// The closing summary: the answer the public tracking page shows.
    pub public_answer: Option<String>,
    pub rating: Option<Rating>,
    pub escalated: bool,
    pub reopened: u32,
    pub merged_into: Option<String>,
    /// What the published figures need beyond the current state (first signing and answer,
    /// latest evaluation, recommendations). Summaries stored before it was kept are rebuilt from
    /// the log (migration `20261201000200`).
    #[serde(default)]
    pub history: CaseHistory,
    pub version: u64,
    pub position: i64,
}

impl CaseSummary {
    /// The member answering for the case: the first to relay it, or a topic's lead member.
    pub fn assignee(&self) -> Option<&str> {
        self.relayed_by
            .first()
            .or(self.lead_member.as_ref())
            .map(String::as_str)
    }

    /// The members who raised or carried the voice, each once: its submitter when a member, a
    /// topic's lead member, and those who relayed it, in that order.
    pub fn members(&self) -> Vec<&str> {
        let submitter = (self.submitter_role == Role::Member).then_some(self.submitter_id.as_str());
        let mut members: Vec<&str> = Vec::new();
        for member in submitter
            .into_iter()
            .chain(self.lead_member.as_deref())
            .chain(self.relayed_by.iter().map(String::as_str))
        {
            if !members.contains(&member) {
                members.push(member);
            }
        }
        members
    }

    pub fn is_open(&self) -> bool {
        self.status.is_open()
    }

    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.is_open() && self.replied_at.is_none() && self.due_at.is_some_and(|due| due < now)
    }

    /// Puts on record a deadline missed by `at`, as the case's own state does: once the
    /// deadline in force has passed with the case open and unanswered, it stays late.
    fn record_lateness(&mut self, at: Timestamp) {
        if self.late_since.is_none() && self.is_open() && self.replied_at.is_none() {
            self.late_since = self.due_at.filter(|due| *due < at);
        }
    }

    /// The case handed to a unit (the one named, else the same): its work starts afresh, as
    /// in the case's own state.
    fn hand_over(&mut self, department: Option<String>, co_departments: Vec<String>, windows: Windows) {
        if let Some(department) = department {
            self.department = Some(department);
            self.co_departments = co_departments;
        }
        for unit in self.department.iter().chain(&self.co_departments) {
            if !self.handlers.contains(unit) {
                self.handlers.push(unit.clone());
            }
        }
        self.acknowledge_by = windows.acknowledge_by;
        self.acknowledged_at = None;
        self.acknowledged_late = false;
        self.objection_pending = false;
        self.extension_pending = false;
        self.replied_at = None;
    }

    fn handled(&mut self, event: HandlingEvent) {
        match event {
            HandlingEvent::Acknowledged(acknowledged) => {
                self.acknowledged_at = Some(acknowledged.at);
                self.acknowledged_late = acknowledged.late;
            }
            HandlingEvent::Objected(_) => self.objection_pending = true,
            HandlingEvent::Insisted(insisted) => {
                self.objection_pending = false;
                self.acknowledged_at = None;
                self.acknowledge_by = insisted.windows.acknowledge_by;
            }
            HandlingEvent::ExtensionRequested(_) => self.extension_pending = true,
            HandlingEvent::ExtensionGranted(granted) => {
                self.extension_pending = false;
                self.extensions_granted += 1;
                self.due_at = Some(granted.due_at);
            }
            HandlingEvent::ExtensionRefused(_) => self.extension_pending = false,
            HandlingEvent::Contributed(_) => {}
            HandlingEvent::Replied(replied) => {
                self.record_lateness(replied.at);
                self.extension_pending = false;
                self.replied_at = Some(replied.at);
            }
        }
    }

    fn submitted(stream: String, at: (u64, i64), kind: Kind, status: Option<Status>, submitted: Submitted) -> Self {
        CaseSummary {
            id: stream,
            kind,
            status: status.unwrap_or(Status::Submitted),
            title: submitted.title,
            body: submitted.body,
            category: submitted.category,
            jurisdiction: submitted.jurisdiction,
            channel: submitted.channel,
            submitter_id: submitted.submitter.id,
            submitter_role: submitted.submitter.role,
            lead_member: submitted.lead_member,
            relayed_by: Vec::new(),
            submitted_at: submitted.at,
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
            version: at.0,
            position: at.1,
        }
    }
}

/// The summary after `fact`, from the summary before it (`None` before submission). Facts of
/// other streams, and payloads that are not of a case, leave it as it was.
pub fn summarize(before: Option<CaseSummary>, fact: Fact) -> Option<CaseSummary> {
    let (Some(kind), Payload::Case(payload)) = (fact.kind, fact.payload) else {
        return before;
    };
    let at = (fact.sequence, fact.position);
    let mut case = match (before, payload) {
        (None, CaseFact::Submitted(submitted)) => {
            return Some(CaseSummary::submitted(
                fact.stream,
                at,
                kind,
                fact.status_after,
                submitted,
            ))
        }
        (None, _) => return None,
        (Some(case), payload) => {
            let mut case = case;
            case.history.record(&payload);
            apply(&mut case, payload);
            case
        }
    };
    if let Some(status) = fact.status_after {
        case.status = status;
    }
    (case.version, case.position) = at;
    Some(case)
}

fn apply(case: &mut CaseSummary, fact: CaseFact) {
    match fact {
        CaseFact::Submitted(_)
        | CaseFact::Convened(_)
        | CaseFact::PreparationCompleted(_)
        | CaseFact::VisitRecorded(_)
        | CaseFact::ResearchCompleted(_)
        | CaseFact::ReportSubmitted(_)
        | CaseFact::PolicyRecorded(_) => {}
        CaseFact::Withdrawn(withdrawn) => case.record_lateness(withdrawn.at),
        CaseFact::Relayed(relayed) => case.relayed_by.push(relayed.member),
        CaseFact::Classified(classified) => case.category = classified.category,
        CaseFact::Assigned(assigned) => {
            case.hand_over(Some(assigned.department), assigned.co_departments, assigned.windows);
            case.first_assigned_at.get_or_insert(assigned.at);
            case.first_due_at.get_or_insert(assigned.due_at);
            case.due_at = Some(assigned.due_at);
        }
        CaseFact::Reassigned(reassigned) => {
            case.record_lateness(reassigned.at);
            case.hand_over(
                Some(reassigned.department),
                reassigned.co_departments,
                reassigned.windows,
            );
            case.due_at = Some(reassigned.due_at);
        }
        CaseFact::Escalated(escalated) => {
            case.record_lateness(escalated.at);
            case.escalated = true;
            case.level = escalated.level;
            if escalated.department.is_some() {
                case.hand_over(escalated.department, escalated.co_departments, escalated.windows);
            }
            case.due_at = Some(escalated.due_at);
        }
        CaseFact::Consulted(_) => case.consultations += 1,
        CaseFact::Adopted(adopted) => case.adoption = Some(adopted.extent),
        CaseFact::Declined(_) => case.declined = true,
        CaseFact::Closed(closed) => {
            case.record_lateness(closed.at);
            case.closed_at = Some(closed.at);
            case.outcome = Some(closed.outcome);
            case.late = closed.late;
            case.public_answer = Some(closed.summary);
        }
        CaseFact::FeedbackGiven(feedback) => case.rating = Some(feedback.rating),
        CaseFact::Reopened(reopened) => {
            case.hand_over(reopened.department, reopened.co_departments, reopened.windows);
            case.reopened += 1;
            case.due_at = Some(reopened.due_at);
            case.adoption = None;
            case.declined = false;
            case.closed_at = None;
            case.outcome = None;
            case.late = false;
            case.public_answer = None;
            case.rating = None;
        }
        CaseFact::Merged(merged) => {
            case.record_lateness(merged.at);
            case.merged_into = Some(merged.into.to_string());
        }
        CaseFact::Handled(handled) => case.handled(handled),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use domain::{Acknowledged, Actor, ExtensionGranted, Objected};

    use super::*;

    fn day(n: i64) -> Timestamp {
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap() + Duration::days(n)
    }

    fn fact(sequence: u64, payload: CaseFact) -> Fact {
        Fact {
            stream: "case-1".to_owned(),
            sequence,
            position: sequence as i64,
            kind: Some(Kind::Suggestion),
            status_after: None,
            payload: Payload::Case(payload),
        }
    }

    fn windows(acknowledge_by: Timestamp) -> Windows {
        Windows {
            acknowledge_by: Some(acknowledge_by),
            object_by: None,
        }
    }

    #[test]
    fn a_summary_follows_the_units_work_and_keeps_the_first_deadline_and_lateness() {
        let submitted = Submitted {
            title: "t".to_owned(),
            body: "b".to_owned(),
            category: "交通".to_owned(),
            jurisdiction: "东胜区".to_owned(),
            channel: Channel::Online,
            submitter: Actor {
                id: "c-1".to_owned(),
                role: Role::Citizen,
            },
            lead_member: None,
            team: Vec::new(),
            at: day(0),
        };
        let events = [
            CaseFact::Submitted(submitted),
            CaseFact::Assigned(Assigned {
                department: "市交通局".to_owned(),
                co_departments: vec!["市公安局".to_owned()],
                due_at: day(16),
                windows: windows(day(2)),
                at: day(1),
            }),
            CaseFact::Handled(HandlingEvent::Acknowledged(Acknowledged {
                department: "市交通局".to_owned(),
                late: true,
                at: day(3),
            })),
            CaseFact::Handled(HandlingEvent::ExtensionGranted(ExtensionGranted {
                days: 4,
                previous_due_at: day(16),
                due_at: day(20),
                at: day(15),
            })),
            CaseFact::Handled(HandlingEvent::Objected(Objected {
                department: "市交通局".to_owned(),
                reason: "不归我局".to_owned(),
                at: day(4),
            })),
            // Reassigned after the extended deadline had passed: late stays on record.
            CaseFact::Reassigned(Reassigned {
                department: "市教育局".to_owned(),
                co_departments: Vec::new(),
                previous: "市交通局".to_owned(),
                due_at: day(40),
                reason: None,
                windows: windows(day(26)),
                at: day(25),
            }),
        ];
        let summary = events
            .into_iter()
            .enumerate()
            .fold(None, |summary, (index, event)| {
                summarize(summary, fact(index as u64 + 1, event))
            })
            .unwrap();
        assert_eq!(summary.department.as_deref(), Some("市教育局"));
        assert_eq!(summary.handlers, ["市交通局", "市公安局", "市教育局"]);
        assert!(summary.co_departments.is_empty());
        assert_eq!((summary.first_due_at, summary.due_at), (Some(day(16)), Some(day(40))));
        assert_eq!(summary.late_since, Some(day(20)));
        assert_eq!(summary.extensions_granted, 1);
        assert_eq!((summary.acknowledged_at, summary.acknowledge_by), (None, Some(day(26))));
        assert!(!summary.objection_pending, "the reassignment answered the objection");
        assert!(!summary.is_overdue(day(30)));
    }
}
