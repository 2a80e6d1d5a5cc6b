//! What callers ask of a case: the submission and every action, with the fields each takes.
//! These are the request bodies of the API as well: a separate copy in the service would only
//! repeat them field for field. Unknown fields are refused so that a typo is never ignored.

use chrono::{DateTime, Utc};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::validate::{self, BODY_MAX, NAME_MAX, TEXT_MAX, TITLE_MAX};
use crate::{CaseError, HandlingLevel, Kind, Timestamp, UnknownName};

/// Every action a case may take after submission, across all kinds.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Relay,
    Classify,
    Assign,
    Reassign,
    Escalate,
    Convene,
    CompletePreparation,
    RecordVisit,
    CompleteResearch,
    Consult,
    SubmitReport,
    Adopt,
    RecordPolicy,
    Decline,
    Close,
    Feedback,
    Reopen,
    Withdraw,
    Merge,
    Acknowledge,
    Object,
    Insist,
    RequestExtension,
    GrantExtension,
    RefuseExtension,
    Contribute,
    Reply,
    Evaluate,
}

impl Action {
    pub const ALL: [Action; 28] = [
        Action::Relay,
        Action::Classify,
        Action::Assign,
        Action::Reassign,
        Action::Escalate,
        Action::Convene,
        Action::CompletePreparation,
        Action::RecordVisit,
        Action::CompleteResearch,
        Action::Consult,
        Action::SubmitReport,
        Action::Adopt,
        Action::RecordPolicy,
        Action::Decline,
        Action::Close,
        Action::Feedback,
        Action::Reopen,
        Action::Withdraw,
        Action::Merge,
        Action::Acknowledge,
        Action::Object,
        Action::Insist,
        Action::RequestExtension,
        Action::GrantExtension,
        Action::RefuseExtension,
        Action::Contribute,
        Action::Reply,
        Action::Evaluate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Relay => "relay",
            Action::Classify => "classify",
            Action::Assign => "assign",
            Action::Reassign => "reassign",
            Action::Escalate => "escalate",
            Action::Convene => "convene",
            Action::CompletePreparation => "complete_preparation",
            Action::RecordVisit => "record_visit",
            Action::CompleteResearch => "complete_research",
            Action::Consult => "consult",
            Action::SubmitReport => "submit_report",
            Action::Adopt => "adopt",
            Action::RecordPolicy => "record_policy",
            Action::Decline => "decline",
            Action::Close => "close",
            Action::Feedback => "feedback",
            Action::Reopen => "reopen",
            Action::Withdraw => "withdraw",
            Action::Merge => "merge",
            Action::Acknowledge => "acknowledge",
            Action::Object => "object",
            Action::Insist => "insist",
            Action::RequestExtension => "request_extension",
            Action::GrantExtension => "grant_extension",
            Action::RefuseExtension => "refuse_extension",
            Action::Contribute => "contribute",
            Action::Reply => "reply",
            Action::Evaluate => "evaluate",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_owned()))
    }
}

/// How a voice reached the conference.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// 我要建言, the online channel.
    Online,
    /// A grassroots contact point.
    ContactPoint,
    /// A member's social-opinion report 社情民意信息.
    MemberReport,
}

/// How much of a proposal the adopting body took up.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extent {
    Full,
    Partial,
}

/// The outcome category at close, as in proposal handling practice.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// 已解决或基本解决: solved or basically solved.
    A,
    /// 列入计划拟解决: included in a plan to solve.
    B,
    /// 因条件限制暂不能解决，已作说明: cannot be solved for now, reason explained.
    C,
}

/// The submitter's rating of the answer.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    Satisfied,
    BasicallySatisfied,
    Unsatisfied,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submit {
    pub kind: Kind,
    pub title: String,
    pub body: String,
    pub category: String,
    pub jurisdiction: String,
    /// Defaults from the submitter's role: a member's report, else the online channel.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// Joint research: the member who leads the topic; a member submitting one leads it unless
    /// another is named.
    #[serde(default)]
    pub lead_member: Option<String>,
    /// Joint research: the team's members, possibly from several sectors and levels.
    #[serde(default)]
    pub team: Vec<String>,
}

impl Submit {
    pub fn validate(&self) -> Result<(), CaseError> {
        validate::line("title", &self.title, TITLE_MAX)?;
        validate::text("body", &self.body, BODY_MAX)?;
        validate::line("category", &self.category, NAME_MAX)?;
        validate::line("jurisdiction", &self.jurisdiction, NAME_MAX)?;
        if let Some(lead) = &self.lead_member {
            validate::line("lead_member", lead, NAME_MAX)?;
        }
        validate::lines("team", &self.team, NAME_MAX)?;
        match (self.kind, &self.lead_member) {
            (Kind::JointResearch, _) => {}
            (_, Some(_)) => {
                return Err(CaseError::invalid(
                    "lead_member",
                    "only a joint research topic has a lead member",
                ))
            }
            (_, None) if !self.team.is_empty() => {
                return Err(CaseError::invalid("team", "only a joint research topic has a team"))
            }
            (_, None) => {}
        }
        Ok(())
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub note: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    pub reason: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Classify {
    pub category: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    /// The lead unit 主办.
    pub department: String,
    /// Co-handling units 协办, which send their opinions to the lead.
    #[serde(default)]
    pub co_departments: Vec<String>,
    /// Defaults to the kind's configured response deadline.
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reassign {
    pub department: String,
    #[serde(default)]
    pub co_departments: Vec<String>,
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// 市旗联动: an overdue case handled at a higher level.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalate {
    pub reason: String,
    /// The level the case goes to; the city when absent (the only level above a banner's).
    #[serde(default)]
    pub level: Option<HandlingLevel>,
    /// The unit of that level that takes the case on; the current unit keeps it when absent.
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub co_departments: Vec<String>,
}

/// Today's body of `escalate`, a reason alone: to the city, by the unit in charge.
impl From<Reason> for Escalate {
    fn from(Reason { reason }: Reason) -> Self {
        Escalate {
            reason,
            level: None,
            department: None,
            co_departments: Vec::new(),
        }
    }
}

/// 重办: the case handled again, by the same unit or by the one named.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reopen {
    pub reason: String,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub co_departments: Vec<String>,
}

/// Today's body of `reopen`, a reason alone: handled again by the same unit.
impl From<Reason> for Reopen {
    fn from(Reason { reason }: Reason) -> Self {
        Reopen {
            reason,
            department: None,
            co_departments: Vec::new(),
        }
    }
}

/// A unit signs for a case 签收.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acknowledge {}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestExtension {
    /// Days asked for, counted as the kind's deadline is.
    pub days: u32,
    pub reason: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantExtension {
    /// Days granted; the days asked for when absent.
    #[serde(default)]
    pub days: Option<u32>,
}

/// A co-handling unit's opinion to the lead 协办意见.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contribute {
    pub opinion: String,
}

/// The lead unit's answer to the proposer 答复.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// The answer to the proposer (also accepted as `text`, the name before API.md fixed it).
    #[serde(alias = "text")]
    pub content: String,
    /// The grade the unit proposes; staff close with the grade they decide (also accepted as
    /// `proposed_grade`).
    #[serde(alias = "proposed_grade")]
    pub proposed_outcome: Outcome,
    /// What was done, or is planned and by when.
    #[serde(default)]
    pub measures: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consult {
    pub note: String,
    #[serde(default)]
    pub participants: Vec<String>,
    /// Member ids of the committee members who took part; counted in their duty records.
    #[serde(default)]
    pub members: Vec<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adopt {
    /// The adopting body.
    pub by: String,
    pub extent: Extent,
    #[serde(default)]
    pub note: Option<String>,
    /// Joint research: indices of the report's recommendations adopted.
    #[serde(default)]
    pub recommendations: Vec<usize>,
    /// Micro-consultation: who carries out the agreed solution.
    #[serde(default)]
    pub responsible_parties: Vec<String>,
    /// Micro-consultation: when the agreed solution is due.
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Close {
    pub outcome: Outcome,
    pub summary: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    pub rating: Rating,
    #[serde(default)]
    pub comment: Option<String>,
    /// Staff only, and then required: why staff record the proposer's rating for them (a rating
    /// belongs to the proposer; staff may only pass one on, e.g. given by telephone).
    #[serde(default)]
    pub on_behalf_reason: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withdraw {
    /// Optional for the proposer; staff withdrawing a proposer's case must give one.
    #[serde(default)]
    pub reason: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    /// The case this duplicate is merged into.
    pub into: Uuid,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Convene {
    /// 协商议事室, a contact point, "凳凳议事会", …
    pub venue: String,
    #[serde(default)]
    pub scheduled_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub participants: Vec<String>,
    /// Member ids of the committee members convened.
    #[serde(default)]
    pub members: Vec<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordVisit {
    pub place: String,
    pub findings: String,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitReport {
    pub title: String,
    pub recommendations: Vec<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordPolicy {
    pub title: String,
    /// The issuing body.
    #[serde(default)]
    pub by: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// One action with its fields.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionInput {
    Relay(Note),
    Classify(Classify),
    Assign(Assign),
    Reassign(Reassign),
    Escalate(Escalate),
    Convene(Convene),
    CompletePreparation(Note),
    RecordVisit(RecordVisit),
    CompleteResearch(Note),
    Consult(Consult),
    SubmitReport(SubmitReport),
    Adopt(Adopt),
    RecordPolicy(RecordPolicy),
    Decline(Reason),
    Close(Close),
    Feedback(Feedback),
    Reopen(Reopen),
    Withdraw(Withdraw),
    Merge(Merge),
    Acknowledge(Acknowledge),
    Object(Reason),
    Insist(Reason),
    RequestExtension(RequestExtension),
    GrantExtension(GrantExtension),
    RefuseExtension(Reason),
    Contribute(Contribute),
    Reply(Reply),
    /// The proposer's evaluation of the reply: the body of `feedback`.
    Evaluate(Feedback),
}

impl ActionInput {
    /// Reads the body of `action` from JSON; a wrong or missing field is a data error.
    pub fn from_json(action: Action, body: serde_json::Value) -> Result<Self, serde_json::Error> {
        use serde_json::from_value as read;
        Ok(match action {
            Action::Relay => ActionInput::Relay(read(body)?),
            Action::Classify => ActionInput::Classify(read(body)?),
            Action::Assign => ActionInput::Assign(read(body)?),
            Action::Reassign => ActionInput::Reassign(read(body)?),
            Action::Escalate => ActionInput::Escalate(read(body)?),
            Action::Convene => ActionInput::Convene(read(body)?),
            Action::CompletePreparation => ActionInput::CompletePreparation(read(body)?),
            Action::RecordVisit => ActionInput::RecordVisit(read(body)?),
            Action::CompleteResearch => ActionInput::CompleteResearch(read(body)?),
            Action::Consult => ActionInput::Consult(read(body)?),
            Action::SubmitReport => ActionInput::SubmitReport(read(body)?),
            Action::Adopt => ActionInput::Adopt(read(body)?),
            Action::RecordPolicy => ActionInput::RecordPolicy(read(body)?),
            Action::Decline => ActionInput::Decline(read(body)?),
            Action::Close => ActionInput::Close(read(body)?),
            Action::Feedback => ActionInput::Feedback(read(body)?),
            Action::Reopen => ActionInput::Reopen(read(body)?),
            Action::Withdraw => ActionInput::Withdraw(read(body)?),
            Action::Merge => ActionInput::Merge(read(body)?),
            Action::Acknowledge => ActionInput::Acknowledge(read(body)?),
            Action::Object => ActionInput::Object(read(body)?),
            Action::Insist => ActionInput::Insist(read(body)?),
            Action::RequestExtension => ActionInput::RequestExtension(read(body)?),
            Action::GrantExtension => ActionInput::GrantExtension(read(body)?),
            Action::RefuseExtension => ActionInput::RefuseExtension(read(body)?),
            Action::Contribute => ActionInput::Contribute(read(body)?),
            Action::Reply => ActionInput::Reply(read(body)?),
            Action::Evaluate => ActionInput::Evaluate(read(body)?),
        })
    }

    pub fn action(&self) -> Action {
        match self {
            ActionInput::Relay(_) => Action::Relay,
            ActionInput::Classify(_) => Action::Classify,
            ActionInput::Assign(_) => Action::Assign,
            ActionInput::Reassign(_) => Action::Reassign,
            ActionInput::Escalate(_) => Action::Escalate,
            ActionInput::Convene(_) => Action::Convene,
            ActionInput::CompletePreparation(_) => Action::CompletePreparation,
            ActionInput::RecordVisit(_) => Action::RecordVisit,
            ActionInput::CompleteResearch(_) => Action::CompleteResearch,
            ActionInput::Consult(_) => Action::Consult,
            ActionInput::SubmitReport(_) => Action::SubmitReport,
            ActionInput::Adopt(_) => Action::Adopt,
            ActionInput::RecordPolicy(_) => Action::RecordPolicy,
            ActionInput::Decline(_) => Action::Decline,
            ActionInput::Close(_) => Action::Close,
            ActionInput::Feedback(_) => Action::Feedback,
            ActionInput::Reopen(_) => Action::Reopen,
            ActionInput::Withdraw(_) => Action::Withdraw,
            ActionInput::Merge(_) => Action::Merge,
            ActionInput::Acknowledge(_) => Action::Acknowledge,
            ActionInput::Object(_) => Action::Object,
            ActionInput::Insist(_) => Action::Insist,
            ActionInput::RequestExtension(_) => Action::RequestExtension,
            ActionInput::GrantExtension(_) => Action::GrantExtension,
            ActionInput::RefuseExtension(_) => Action::RefuseExtension,
            ActionInput::Contribute(_) => Action::Contribute,
            ActionInput::Reply(_) => Action::Reply,
            ActionInput::Evaluate(_) => Action::Evaluate,
        }
    }

    /// The checks that need no state: presence, lengths, characters, deadlines in the future.
    pub fn validate(&self, now: Timestamp) -> Result<(), CaseError> {
        match self {
            ActionInput::Relay(input)
            | ActionInput::CompletePreparation(input)
            | ActionInput::CompleteResearch(input) => validate::text("note", &input.note, TEXT_MAX),
            ActionInput::Decline(input)
            | ActionInput::Object(input)
            | ActionInput::Insist(input)
            | ActionInput::RefuseExtension(input) => validate::text("reason", &input.reason, TEXT_MAX),
            ActionInput::Escalate(input) => {
                validate::text("reason", &input.reason, TEXT_MAX)?;
                if input.level == Some(HandlingLevel::Local) {
                    return Err(CaseError::invalid("level", "a case is escalated to the city"));
                }
                validate::optional_line("department", input.department.as_deref(), NAME_MAX)?;
                validate::lines("co_departments", &input.co_departments, NAME_MAX)
            }
            ActionInput::Reopen(input) => {
                validate::text("reason", &input.reason, TEXT_MAX)?;
                validate::optional_line("department", input.department.as_deref(), NAME_MAX)?;
                validate::lines("co_departments", &input.co_departments, NAME_MAX)
            }
            ActionInput::Acknowledge(_) => Ok(()),
            ActionInput::RequestExtension(input) => {
                validate::days("days", input.days)?;
                validate::text("reason", &input.reason, TEXT_MAX)
            }
            ActionInput::GrantExtension(input) => input.days.map_or(Ok(()), |days| validate::days("days", days)),
            ActionInput::Contribute(input) => validate::text("opinion", &input.opinion, TEXT_MAX),
            ActionInput::Reply(input) => {
                validate::text("content", &input.content, TEXT_MAX)?;
                validate::optional_text("measures", input.measures.as_deref(), TEXT_MAX)
            }
            ActionInput::Classify(input) => validate::line("category", &input.category, NAME_MAX),
            ActionInput::Assign(input) => {
                validate::line("department", &input.department, NAME_MAX)?;
                validate::lines("co_departments", &input.co_departments, NAME_MAX)?;
                validate::future("due_at", input.due_at, now)
            }
            ActionInput::Reassign(input) => {
                validate::line("department", &input.department, NAME_MAX)?;
                validate::lines("co_departments", &input.co_departments, NAME_MAX)?;
                validate::future("due_at", input.due_at, now)?;
                validate::optional_text("reason", input.reason.as_deref(), TEXT_MAX)
            }
            ActionInput::Convene(input) => {
                validate::line("venue", &input.venue, TITLE_MAX)?;
                validate::lines("participants", &input.participants, NAME_MAX)?;
                validate::lines("members", &input.members, NAME_MAX)
            }
            ActionInput::RecordVisit(input) => {
                validate::line("place", &input.place, TITLE_MAX)?;
                validate::text("findings", &input.findings, TEXT_MAX)
            }
            ActionInput::Consult(input) => {
                validate::text("note", &input.note, TEXT_MAX)?;
                validate::lines("participants", &input.participants, NAME_MAX)?;
                validate::lines("members", &input.members, NAME_MAX)
            }
            ActionInput::SubmitReport(input) => {
                validate::line("title", &input.title, TITLE_MAX)?;
                if input.recommendations.is_empty() {
                    return Err(CaseError::invalid(
                        "recommendations",
                        "must list at least one recommendation",
                    ));
                }
                if input.recommendations.len() > validate::LIST_MAX {
                    return Err(CaseError::invalid("recommendations", "must have at most 200 entries"));
                }
                input
                    .recommendations
                    .iter()
                    .try_for_each(|text| validate::text("recommendations", text, TEXT_MAX))
            }
            ActionInput::Adopt(input) => {
                validate::line("by", &input.by, NAME_MAX)?;
                validate::optional_text("note", input.note.as_deref(), TEXT_MAX)?;
                validate::lines("responsible_parties", &input.responsible_parties, NAME_MAX)?;
                validate::future("due_at", input.due_at, now)
            }
            ActionInput::RecordPolicy(input) => {
                validate::line("title", &input.title, TITLE_MAX)?;
                if let Some(by) = &input.by {
                    validate::line("by", by, NAME_MAX)?;
                }
                validate::optional_text("note", input.note.as_deref(), TEXT_MAX)
            }
            ActionInput::Close(input) => validate::text("summary", &input.summary, TEXT_MAX),
            ActionInput::Feedback(input) | ActionInput::Evaluate(input) => {
                validate::optional_text("comment", input.comment.as_deref(), TEXT_MAX)?;
                validate::optional_text("on_behalf_reason", input.on_behalf_reason.as_deref(), TEXT_MAX)
            }
            ActionInput::Withdraw(input) => validate::optional_text("reason", input.reason.as_deref(), TEXT_MAX),
            ActionInput::Merge(_) => Ok(()),
        }
    }
}
