//! What the three kinds of case share: their vocabulary, the command envelope, the core state
//! that the five shared events build, and the [`Case`] trait the service drives them through.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Action, ActionInput, Assigned, CaseError, Closed, Consulted, Policy, Refusal, Submit, Submitted};

/// Timestamps in commands and events: always UTC.
pub type Timestamp = DateTime<Utc>;

/// The kind of a case; also its aggregate type in the event store.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Suggestion,
    MicroConsultation,
    JointResearch,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Suggestion, Kind::MicroConsultation, Kind::JointResearch];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Suggestion => "suggestion",
            Kind::MicroConsultation => "micro_consultation",
            Kind::JointResearch => "joint_research",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// A name that matches no variant of a closed vocabulary (kind, action, status).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name `{0}`")]
pub struct UnknownName(pub String);

/// Where a case stands. Joint research adds the phases of its gated method.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Submitted,
    Assigned,
    /// Joint research: the team prepares; no field research yet.
    Preparing,
    /// Joint research: field research under way.
    Researching,
    Consulting,
    /// Joint research: the report is submitted and awaits adoption.
    Reporting,
    Adopted,
    Declined,
    Closed,
    Withdrawn,
    Merged,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::Assigned => "assigned",
            Status::Preparing => "preparing",
            Status::Researching => "researching",
            Status::Consulting => "consulting",
            Status::Reporting => "reporting",
            Status::Adopted => "adopted",
            Status::Declined => "declined",
            Status::Closed => "closed",
            Status::Withdrawn => "withdrawn",
            Status::Merged => "merged",
        }
    }

    /// No action moves a case out of a terminal status (a closed suggestion may still be
    /// rated and reopened, so `closed` is not terminal).
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Withdrawn | Status::Merged)
    }
}

impl Status {
    pub const ALL: [Status; 11] = [
        Status::Submitted,
        Status::Assigned,
        Status::Preparing,
        Status::Researching,
        Status::Consulting,
        Status::Reporting,
        Status::Adopted,
        Status::Declined,
        Status::Closed,
        Status::Withdrawn,
        Status::Merged,
    ];

    /// Still being worked on: neither closed nor gone.
    pub fn is_open(self) -> bool {
        !matches!(self, Status::Closed | Status::Withdrawn | Status::Merged)
    }
}

impl FromStr for Status {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The role a token carries. Who may do what is decided in the service; the domain only
/// needs roles where a rule names one (only a member relays a voice; only the lead unit
/// replies).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Citizen,
    Member,
    Staff,
    Auditor,
    Admin,
    /// A handling unit 承办单位; its actor id is the unit's id.
    Department,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Citizen,
        Role::Member,
        Role::Staff,
        Role::Auditor,
        Role::Admin,
        Role::Department,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Citizen => "citizen",
            Role::Member => "member",
            Role::Staff => "staff",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::Department => "department",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// Who acts: an id (a member id for members, a token's name otherwise) and a role.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub role: Role,
}

/// Every command: the case it is for, who sends it and when, the version the sender saw (if it
/// cares), and what it asks.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseCommand {
    pub case_id: Uuid,
    pub actor: Actor,
    pub at: Timestamp,
    /// The `If-Match` version: the decision refuses a stale one, and the store's optimistic
    /// lock refuses a writer that raced past it, so the check is atomic with the append.
    pub expected_version: Option<u64>,
    pub input: CommandInput,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CommandInput {
    Submit(Submit),
    Act(ActionInput),
}

/// The part of a case's state that the five shared events build, alike for every kind.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseCore {
    /// The number of events applied: the case's version, and the sequence of its last event.
    pub version: u64,
    /// `None` until the case is submitted.
    pub status: Option<Status>,
    pub title: String,
    pub body: String,
    pub category: String,
    pub jurisdiction: String,
    pub channel: Option<crate::Channel>,
    pub submitter: Option<Actor>,
    pub submitted_at: Option<Timestamp>,
    /// The lead unit 主办.
    pub department: Option<String>,
    /// The co-handling units 协办.
    pub co_departments: Vec<String>,
    /// Every unit that has handled the case, lead or co-handling, first seen first.
    pub handlers: Vec<String>,
    pub level: crate::HandlingLevel,
    pub assigned_at: Option<Timestamp>,
    /// The first (statutory) deadline, set by the first assignment and never moved.
    pub first_due_at: Option<Timestamp>,
    /// The effective deadline: the current unit's, or the extended one.
    pub due_at: Option<Timestamp>,
    /// The deadline first missed, once it is on record; never cleared.
    pub late_since: Option<Timestamp>,
    pub windows: crate::Windows,
    pub acknowledged: Option<crate::Acknowledged>,
    /// An objection waiting for staff to reassign or insist.
    pub objection: Option<crate::Objected>,
    /// An extension request waiting for staff.
    pub extension_request: Option<crate::ExtensionRequested>,
    pub extensions: Vec<crate::ExtensionGranted>,
    pub contributions: Vec<crate::Contributed>,
    pub reply: Option<crate::Replied>,
    pub consultations: u32,
    pub adoption: Option<crate::Adopted>,
    pub closure: Option<Closed>,
    /// The latest rating of the answer since the case was last closed.
    pub feedback: Option<crate::FeedbackGiven>,
}

impl CaseCore {
    pub fn on_submitted(&mut self, event: Submitted, initial: Status) {
        self.status = Some(initial);
        self.title = event.title;
        self.body = event.body;
        self.category = event.category;
        self.jurisdiction = event.jurisdiction;
        self.channel = Some(event.channel);
        self.submitter = Some(event.submitter);
        self.submitted_at = Some(event.at);
    }

    pub fn on_assigned(&mut self, event: Assigned, next: Status) {
        self.status = Some(next);
        self.hand_over(Some(event.department), event.co_departments, event.windows);
        self.assigned_at = Some(event.at);
        self.first_due_at.get_or_insert(event.due_at);
        self.due_at = Some(event.due_at);
    }

    /// A reassignment: lateness on record stays, the new unit gets its own deadline.
    pub fn on_reassigned(&mut self, event: crate::Reassigned) {
        self.record_lateness(event.at);
        self.status = Some(Status::Assigned);
        self.hand_over(Some(event.department), event.co_departments, event.windows);
        self.assigned_at = Some(event.at);
        self.due_at = Some(event.due_at);
    }

    /// 市旗联动: handled at the higher level, by the unit named there if any.
    pub fn on_escalated(&mut self, event: crate::Escalated) {
        self.record_lateness(event.at);
        self.level = event.level;
        if event.department.is_some() {
            self.hand_over(event.department, event.co_departments, event.windows);
            self.assigned_at = Some(event.at);
        }
        self.due_at = Some(event.due_at);
    }

    /// 重办: handled again, by the unit named or the same one; the earlier reply, evaluation and
    /// close are left to the record.
    pub fn on_reopened(&mut self, event: crate::Reopened) {
        self.record_lateness(event.at);
        self.status = Some(Status::Assigned);
        self.hand_over(event.department, event.co_departments, event.windows);
        self.assigned_at = Some(event.at);
        self.due_at = Some(event.due_at);
        self.adoption = None;
        self.closure = None;
        self.feedback = None;
    }

    pub fn on_consulted(&mut self, _event: Consulted) {
        self.consultations += 1;
    }

    pub fn on_adopted(&mut self, event: crate::Adopted) {
        self.status = Some(Status::Adopted);
        self.adoption = Some(event);
    }

    pub fn on_closed(&mut self, event: Closed) {
        self.record_lateness(event.at);
        self.status = Some(Status::Closed);
        self.closure = Some(event);
    }

    /// The submitter, when a member submitted the case (a social-opinion report).
    pub fn reporting_member(&self) -> Vec<String> {
        self.submitter
            .iter()
            .filter(|submitter| submitter.role == Role::Member)
            .map(|submitter| submitter.id.clone())
            .collect()
    }

    /// The rating `actor` gives. A rating is the proposer's own; staff may record one only on
    /// the proposer's behalf, saying why, and the event says so.
    pub fn feedback(
        &self,
        input: crate::Feedback,
        actor: &Actor,
        at: Timestamp,
    ) -> Result<crate::FeedbackGiven, CaseError> {
        let by_proposer = self.submitter.as_ref() == Some(actor);
        match (by_proposer, &input.on_behalf_reason) {
            (true, Some(_)) => Err(CaseError::invalid(
                "on_behalf_reason",
                "the proposer rates for themselves; only staff record a rating on their behalf",
            )),
            (false, None) if actor.role == Role::Staff => Err(CaseError::invalid(
                "on_behalf_reason",
                "staff record a rating only on the proposer's behalf, and must say why",
            )),
            _ => Ok(crate::FeedbackGiven {
                rating: input.rating,
                comment: input.comment,
                on_behalf_reason: input.on_behalf_reason,
                at,
            }),
        }
    }

    pub fn on_feedback(&mut self, event: crate::FeedbackGiven) {
        self.feedback = Some(event);
    }

    /// Whether the response deadline has passed at `at` on an open case the unit has not
    /// answered.
    pub fn is_overdue(&self, at: Timestamp) -> bool {
        self.status.is_some_and(Status::is_open) && self.reply.is_none() && self.due_at.is_some_and(|due| due < at)
    }
}

/// A kind of case: an aggregate whose decisions are pure functions of its state and a command.
pub trait Case: Aggregate<Command = CaseCommand, Error = CaseError, Services = Policy> + Clone + fmt::Debug {
    const KIND: Kind;

    fn core(&self) -> &CaseCore;

    /// Whether `action` may run now, by `actor`, at `at`; the reason when it may not.
    fn precondition(&self, action: Action, actor: &Actor, at: Timestamp) -> Result<(), Refusal>;

    /// The events a command leads to, or why it is refused. Nothing is applied here.
    fn decide(&self, command: CaseCommand, policy: &Policy) -> Result<Vec<Self::Event>, CaseError>;

    fn status(&self) -> Option<Status> {
        self.core().status
    }

    /// Members who carry the case (委员有反映): who reported it, and what each kind adds.
    fn carriers(&self) -> Vec<String>;

    fn version(&self) -> u64 {
        self.core().version
    }

    /// The actions `actor` could run now: exactly those whose precondition holds.
    fn allowed_actions(&self, actor: &Actor, at: Timestamp) -> Vec<Action> {
        Action::ALL
            .into_iter()
            .filter(|action| self.precondition(*action, actor, at).is_ok())
            .collect()
    }

    /// The checks every command passes before its kind looks at it: the case exists (or, for
    /// a submission, does not), the sender's version is current, and the action may run now.
    fn admit(&self, command: &CaseCommand) -> Result<(), CaseError> {
        let Some(status) = self.status() else {
            return match command.input {
                CommandInput::Submit(_) => Ok(()),
                CommandInput::Act(_) => Err(CaseError::NotFound),
            };
        };
        if let Some(expected) = command.expected_version {
            if expected != self.version() {
                return Err(CaseError::VersionMismatch {
                    expected,
                    actual: self.version(),
                });
            }
        }
        let CommandInput::Act(input) = &command.input else {
            return Err(CaseError::AlreadyExists);
        };
        match self.precondition(input.action(), &command.actor, command.at) {
            Ok(()) => Ok(()),
            Err(refusal) => Err(self.refused(refusal, input.action(), status, &command.actor, command.at)),
        }
    }

    /// The error for an action refused in `status`, with the actions the caller could take.
    fn refused(&self, refusal: Refusal, action: Action, status: Status, actor: &Actor, at: Timestamp) -> CaseError {
        refusal.into_error(action, status, self.allowed_actions(actor, at))
    }

    /// The error for an action this kind has no use for at all.
    fn refusal_of(&self, action: Action, actor: &Actor, at: Timestamp) -> CaseError {
        match self.status() {
            Some(status) => self.refused(Refusal::Status, action, status, actor, at),
            None => CaseError::NotFound,
        }
    }
}

/// The shared events, built alike for every kind once a command is admitted.
impl CaseCore {
    pub fn submitted(kind: Kind, actor: &Actor, at: Timestamp, input: Submit) -> Result<Submitted, CaseError> {
        if input.kind != kind {
            return Err(CaseError::invalid("kind", format!("this case is a {kind}")));
        }
        input.validate()?;
        let channel = input.channel.unwrap_or(match actor.role {
            Role::Member => crate::Channel::MemberReport,
            _ => crate::Channel::Online,
        });
        let lead_member = match (kind, input.lead_member, actor.role) {
            (Kind::JointResearch, None, Role::Member) => Some(actor.id.clone()),
            (_, lead_member, _) => lead_member,
        };
        Ok(Submitted {
            title: input.title,
            body: input.body,
            category: input.category,
            jurisdiction: input.jurisdiction,
            channel,
            submitter: actor.clone(),
            lead_member,
            team: input.team,
            at,
        })
    }

    pub fn assigned(kind: Kind, input: crate::Assign, at: Timestamp, policy: &Policy) -> Assigned {
        Assigned {
            department: input.department,
            co_departments: input.co_departments,
            due_at: input.due_at.unwrap_or_else(|| policy.response_deadline(kind, at)),
            windows: CaseCore::windows(policy, at),
            at,
        }
    }

    pub fn reassigned(&self, kind: Kind, input: crate::Reassign, at: Timestamp, policy: &Policy) -> crate::Reassigned {
        crate::Reassigned {
            department: input.department,
            co_departments: input.co_departments,
            previous: self.department.clone().unwrap_or_default(),
            due_at: input.due_at.unwrap_or_else(|| policy.response_deadline(kind, at)),
            reason: input.reason,
            windows: CaseCore::windows(policy, at),
            at,
        }
    }

    pub fn escalated(&self, kind: Kind, input: crate::Escalate, at: Timestamp, policy: &Policy) -> crate::Escalated {
        let handed_over = input.department.is_some();
        crate::Escalated {
            reason: input.reason,
            level: input.level.unwrap_or(crate::HandlingLevel::City),
            department: input.department,
            co_departments: input.co_departments,
            overdue_since: self.due_at.unwrap_or(at),
            due_at: policy.response_deadline(kind, at),
            // The unit in charge keeps its windows unless another unit takes the case on.
            windows: if handed_over {
                CaseCore::windows(policy, at)
            } else {
                crate::Windows::default()
            },
            at,
        }
    }

    pub fn reopened(kind: Kind, input: crate::Reopen, at: Timestamp, policy: &Policy) -> crate::Reopened {
        crate::Reopened {
            reason: input.reason,
            department: input.department,
            co_departments: input.co_departments,
            due_at: policy.response_deadline(kind, at),
            windows: CaseCore::windows(policy, at),
            at,
        }
    }

    pub fn consulted(input: crate::Consult, at: Timestamp) -> Consulted {
        Consulted {
            note: input.note,
            participants: input.participants,
            members: input.members,
            at,
        }
    }

    pub fn adopted(input: crate::Adopt, at: Timestamp) -> crate::Adopted {
        crate::Adopted {
            by: input.by,
            extent: input.extent,
            note: input.note,
            recommendations: input.recommendations,
            responsible_parties: input.responsible_parties,
            due_at: input.due_at,
            at,
        }
    }

    pub fn closed(&self, input: crate::Close, at: Timestamp) -> Closed {
        Closed {
            outcome: input.outcome,
            summary: input.summary,
            late: self.due_at.is_some_and(|due| due < at),
            late_since: self.lateness_at(at),
            at,
        }
    }
}

/// Field rules that only some kinds allow, checked before a kind builds its event.
pub(crate) fn refuse_kind_specific_adoption(input: &crate::Adopt, kind: Kind) -> Result<(), CaseError> {
    if kind != Kind::JointResearch && !input.recommendations.is_empty() {
        return Err(CaseError::invalid(
            "recommendations",
            "only a joint research topic adopts report recommendations",
        ));
    }
    if kind != Kind::MicroConsultation {
        if !input.responsible_parties.is_empty() {
            return Err(CaseError::invalid(
                "responsible_parties",
                "only a micro-consultation names responsible parties",
            ));
        }
        if input.due_at.is_some() {
            return Err(CaseError::invalid(
                "due_at",
                "only a micro-consultation sets a due date at adoption",
            ));
        }
    }
    Ok(())
}
