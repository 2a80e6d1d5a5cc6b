//! The case summary: one row per case with what lists, outcome figures, overdue lists and the
//! public tracking page need, kept up to date event by event.

use chrono::{DateTime, Utc};
use domain::{
    Adopted, Assigned, Channel, Classified, Closed, Consulted, Convened, Declined, Escalated, Extent, FeedbackGiven,
    HandlingEvent, HandlingLevel, Kind, Merged, Outcome, PhaseCompleted, PolicyRecorded, Rating, Reassigned, Relayed,
    Reopened, ReportSubmitted, Role, Status, Submitted, Timestamp, VisitRecorded, Withdrawn,
};
use serde::{Deserialize, Serialize};

use crate::{Fact, Payload};

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

    fn hand_over(&mut self, department: String, co_departments: Vec<String>) {
        for unit in std::iter::once(&department).chain(&co_departments) {
            if !self.handlers.contains(unit) {
                self.handlers.push(unit.clone());
            }
        }
        self.department = Some(department);
        self.replied_at = None;
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
            case.hand_over(assigned.department, assigned.co_departments);
            case.first_assigned_at.get_or_insert(assigned.at);
            case.first_due_at.get_or_insert(assigned.due_at);
            case.due_at = Some(assigned.due_at);
        }
        CaseFact::Reassigned(reassigned) => {
            case.record_lateness(reassigned.at);
            case.hand_over(reassigned.department, reassigned.co_departments);
            case.due_at = Some(reassigned.due_at);
        }
        CaseFact::Escalated(escalated) => {
            case.record_lateness(escalated.at);
            case.escalated = true;
            case.level = escalated.level;
            if let Some(department) = escalated.department {
                case.hand_over(department, escalated.co_departments);
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
            if let Some(department) = reopened.department {
                case.hand_over(department, reopened.co_departments);
            }
            case.replied_at = None;
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
        CaseFact::Handled(handled) => match handled {
            HandlingEvent::ExtensionGranted(granted) => case.due_at = Some(granted.due_at),
            HandlingEvent::Replied(replied) => {
                case.record_lateness(replied.at);
                case.replied_at = Some(replied.at);
            }
            _ => {}
        },
    }
}
