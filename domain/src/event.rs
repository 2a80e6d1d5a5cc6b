//! Event payloads. Their JSON is the stored schema: a field may be added (with a default) but
//! never renamed, and each kind's `event_type` strings never change; a change of meaning is a
//! new `event_version` with an upcaster.
//!
//! The five shared events (submitted, assigned, consulted, adopted, closed) have one payload
//! for every kind, so one outcome projection reads them all alike; so do the handling unit's
//! steps ([`crate::HandlingEvent`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Actor, Channel, Extent, HandlingLevel, Outcome, Rating, Timestamp};

/// The version of every event schema not listed below; bumped per event when its payload
/// changes meaning or gains a required field, with an upcaster in [`crate::upcast`].
pub const EVENT_VERSION: &str = "1";
/// `escalated` v2 names the level the case is escalated to (v1 escalations went to the city).
pub const ESCALATED_VERSION: &str = "2";

pub(crate) fn is_false(value: &bool) -> bool {
    !value
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    pub title: String,
    pub body: String,
    pub category: String,
    pub jurisdiction: String,
    pub channel: Channel,
    pub submitter: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_member: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub team: Vec<String>,
    pub at: Timestamp,
}

/// The windows a lead unit is given when a case is handed to it, recorded with the hand-over so
/// that reads judge "on time" without the calendar. Absent in events written before units
/// signed for cases.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Windows {
    /// The end of the window to sign for the case (签收).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledge_by: Option<Timestamp>,
    /// The end of the window to object to the assignment (退回/异议).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_by: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assigned {
    /// The lead unit 主办.
    pub department: String,
    /// Co-handling units 协办.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub co_departments: Vec<String>,
    pub due_at: Timestamp,
    #[serde(flatten)]
    pub windows: Windows,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consulted {
    pub note: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    pub at: Timestamp,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adopted {
    pub by: String,
    pub extent: Extent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recommendations: Vec<usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub responsible_parties: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closed {
    pub outcome: Outcome,
    pub summary: String,
    /// Closed after the deadline in force at the close had passed. A deadline set later
    /// (reassignment, escalation, reopening) can hide earlier lateness from this flag, so
    /// "late" is judged by `late_since` (and against the first deadline), never by this.
    #[serde(default, skip_serializing_if = "is_false")]
    pub late: bool,
    /// The deadline first missed while the case was in hand, if any: the lateness on record,
    /// which no later deadline clears. Absent in events written before it was recorded (the
    /// read models recompute it from the events themselves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_since: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relayed {
    pub member: String,
    pub note: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classified {
    pub category: String,
    pub previous: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reassigned {
    pub department: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub co_departments: Vec<String>,
    pub previous: String,
    /// The new unit's working deadline; the first deadline and lateness already recorded stay.
    pub due_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(flatten)]
    pub windows: Windows,
    pub at: Timestamp,
}

/// Version 2: the level the case is now handled at, and the unit of that level it is handed
/// to (if staff named one). The case keeps its jurisdiction: it is handled higher up, not moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalated {
    pub reason: String,
    pub level: HandlingLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub co_departments: Vec<String>,
    /// The deadline that had passed.
    pub overdue_since: Timestamp,
    /// The working deadline at the higher level; the first deadline and the lateness stay.
    pub due_at: Timestamp,
    #[serde(flatten)]
    pub windows: Windows,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Declined {
    pub reason: String,
    pub at: Timestamp,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackGiven {
    pub rating: Rating,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Set when staff recorded the rating for the proposer, with their reason; absent for the
    /// proposer's own (and in events written before staff had to say so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reopened {
    pub reason: String,
    /// The unit that re-handles the case (重办) when staff name another; the same one if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub co_departments: Vec<String>,
    pub due_at: Timestamp,
    #[serde(flatten)]
    pub windows: Windows,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Withdrawn {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Merged {
    pub into: Uuid,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Convened {
    pub venue: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    pub at: Timestamp,
}

/// A phase of joint research declared complete, with what was done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseCompleted {
    pub note: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitRecorded {
    pub place: String,
    pub findings: String,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSubmitted {
    pub title: String,
    pub recommendations: Vec<String>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRecorded {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub at: Timestamp,
}
