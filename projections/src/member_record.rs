//! Members' duty records 一人一档: what each event credits to a member, one credit per activity
//! and subject, so that nothing counts twice.
//!
//! | activity | credited by | subject (counted once) |
//! | --- | --- | --- |
//! | `constituents` | `contact_logged` | the constituent's key, per year of the contact |
//! | `voices_relayed` | `relayed` | the case |
//! | `social_opinion_reports` | a member's own suggestion on the member-report channel | the case |
//! | `grassroots_consultations` | a micro-consultation session held (`consulted`): the members it names, else those carrying the case (lead, team, convened) | the session (case, sequence) |
//! | `consultations` | a session of another kind held (suggestion, joint research) | the session |
//! | `problems_solved` | a case the member carried closed A; taken back when it reopens | the case |
//! | `research_reports` | a joint-research report submitted: its lead and team | the case |
//! | any other name | `activity_recorded` by staff | the event |
//!
//! Convening a session schedules it and credits nobody: attendance is credited when the
//! session is held. A credit's duty year ([`duty_year`]) is that of its date (contacts, recorded
//! activities) or of its time in the deployment's time zone (case events).

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use domain::member_record::{MemberEvent, STREAM_PREFIX};
use domain::{Channel, Kind, Outcome, Role, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{CaseFact, Fact, Payload};

/// The activities read from events; a deployment may count further ones staff record.
pub mod activity {
    pub const CONSTITUENTS: &str = "constituents";
    pub const VOICES_RELAYED: &str = "voices_relayed";
    pub const SOCIAL_OPINION_REPORTS: &str = "social_opinion_reports";
    pub const GRASSROOTS_CONSULTATIONS: &str = "grassroots_consultations";
    pub const CONSULTATIONS: &str = "consultations";
    pub const PROBLEMS_SOLVED: &str = "problems_solved";
    pub const RESEARCH_REPORTS: &str = "research_reports";
}

/// One activity credited to a member, with the event behind it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credit {
    pub member_id: String,
    pub activity: String,
    /// What is counted once: a case, a session, a constituent's key in a year.
    pub subject: String,
    /// The day the activity took place, where the event states one (in the deployment's zone).
    pub on_date: Option<NaiveDate>,
    pub at: DateTime<Utc>,
    /// The level of a consultation session: `grassroots` or the case kind's committee.
    pub level: Option<String>,
    /// The stream (case id or `member:<id>`) and log position of the event behind it.
    pub stream: String,
    pub position: i64,
}

/// The duty year an activity counts in: that of the day it took place, where the event states
/// one, else that of its time in the deployment's zone (`offset`).
pub fn duty_year(on_date: Option<NaiveDate>, at: DateTime<Utc>, offset: FixedOffset) -> i32 {
    on_date.unwrap_or_else(|| at.with_timezone(&offset).date_naive()).year()
}

impl Credit {
    /// The duty year it counts in.
    pub fn duty_year(&self, offset: FixedOffset) -> i32 {
        duty_year(self.on_date, self.at, offset)
    }
}

/// A change to the credits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditChange {
    /// Adds the credit unless one for its member, activity and subject is there.
    Grant(Credit),
    /// Takes back every member's credit of `activity` for `subject`.
    Revoke { activity: &'static str, subject: String },
}

/// What one event changes in the duty records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DutyEffects {
    pub changes: Vec<CreditChange>,
    /// Members who from now on answer for this case (credited when it is solved).
    pub carried_by: Vec<String>,
}

impl DutyEffects {
    fn grant(&mut self, fact: &Fact, member: &str, activity: &str, subject: String, at: Timestamp) {
        self.changes.push(CreditChange::Grant(Credit {
            member_id: member.to_owned(),
            activity: activity.to_owned(),
            subject,
            on_date: None,
            at,
            level: None,
            stream: fact.stream.clone(),
            position: fact.position,
        }));
    }

    fn grant_dated(
        &mut self,
        fact: &Fact,
        member: &str,
        activity: &str,
        subject: String,
        on: NaiveDate,
        at: Timestamp,
    ) {
        self.grant(fact, member, activity, subject, at);
        if let Some(CreditChange::Grant(credit)) = self.changes.last_mut() {
            credit.on_date = Some(on);
        }
    }
}

/// The duty-record effects of `fact`; `carriers` are the members already answering for its
/// case (from earlier effects).
pub fn duty_effects(fact: &Fact, carriers: &[String]) -> DutyEffects {
    let mut effects = DutyEffects::default();
    let case = fact.stream.clone();
    match &fact.payload {
        Payload::Member(event) => {
            let Some(member) = fact.stream.strip_prefix(STREAM_PREFIX) else {
                return effects;
            };
            match event {
                MemberEvent::ContactLogged(contact) => {
                    let subject = format!("{}/{}", contact.date.year(), contact.constituent);
                    effects.grant_dated(fact, member, activity::CONSTITUENTS, subject, contact.date, contact.at);
                }
                MemberEvent::ActivityRecorded(recorded) => {
                    let subject = format!("{}#{}", fact.stream, fact.sequence);
                    effects.grant_dated(fact, member, &recorded.activity, subject, recorded.date, recorded.at);
                }
                _ => {}
            }
        }
        Payload::Case(CaseFact::Submitted(submitted)) => {
            let report = fact.kind == Some(Kind::Suggestion)
                && submitted.channel == Channel::MemberReport
                && submitted.submitter.role == Role::Member;
            if report {
                let member = &submitted.submitter.id;
                effects.grant(fact, member, activity::SOCIAL_OPINION_REPORTS, case, submitted.at);
                effects.carried_by.push(member.clone());
            }
            effects
                .carried_by
                .extend(submitted.lead_member.iter().chain(&submitted.team).cloned());
        }
        Payload::Case(CaseFact::Relayed(relayed)) => {
            effects.grant(fact, &relayed.member, activity::VOICES_RELAYED, case, relayed.at);
            effects.carried_by.push(relayed.member.clone());
        }
        Payload::Case(CaseFact::Convened(convened)) => effects.carried_by.extend(convened.members.iter().cloned()),
        Payload::Case(CaseFact::Consulted(consulted)) => {
            let (activity, level) = match fact.kind {
                Some(Kind::MicroConsultation) => (activity::GRASSROOTS_CONSULTATIONS, "grassroots"),
                Some(Kind::JointResearch) => (activity::CONSULTATIONS, "joint_research"),
                _ => (activity::CONSULTATIONS, "suggestion"),
            };
            // A session held with no members named was attended by those convened for it.
            let attended = if consulted.members.is_empty() {
                carriers
            } else {
                &consulted.members[..]
            };
            let session = format!("{}#{}", fact.stream, fact.sequence);
            for member in attended {
                effects.grant(fact, member, activity, session.clone(), consulted.at);
                if let Some(CreditChange::Grant(credit)) = effects.changes.last_mut() {
                    credit.level = Some(level.to_owned());
                }
            }
            effects.carried_by.extend(consulted.members.iter().cloned());
        }
        Payload::Case(CaseFact::ReportSubmitted(report)) => {
            for member in carriers {
                effects.grant(fact, member, activity::RESEARCH_REPORTS, case.clone(), report.at);
            }
        }
        Payload::Case(CaseFact::Closed(closed)) if closed.outcome == Outcome::A => {
            for member in carriers {
                effects.grant(fact, member, activity::PROBLEMS_SOLVED, case.clone(), closed.at);
            }
        }
        Payload::Case(CaseFact::Reopened(_)) => effects.changes.push(CreditChange::Revoke {
            activity: activity::PROBLEMS_SOLVED,
            subject: case,
        }),
        _ => {}
    }
    effects
}

/// The credits of one stream as its changes leave them.
#[derive(Debug, Default)]
pub struct StreamCredits(Vec<Credit>);

impl StreamCredits {
    pub fn change(&mut self, change: CreditChange) {
        match change {
            CreditChange::Grant(credit) => {
                let known = self.0.iter().any(|held| {
                    (&held.member_id, &held.activity, &held.subject)
                        == (&credit.member_id, &credit.activity, &credit.subject)
                });
                if !known {
                    self.0.push(credit);
                }
            }
            CreditChange::Revoke { activity, subject } => self
                .0
                .retain(|held| !(held.activity == activity && held.subject == subject)),
        }
    }

    pub fn into_credits(self) -> Vec<Credit> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_moment_counts_in_the_year_of_the_deployments_day_and_a_stated_date_in_its_own() {
        let beijing = FixedOffset::east_opt(8 * 3600).unwrap();
        let new_years_night = Utc.with_ymd_and_hms(2025, 12, 31, 17, 0, 0).unwrap();
        assert_eq!(duty_year(None, new_years_night, beijing), 2026);
        assert_eq!(
            duty_year(None, new_years_night, FixedOffset::east_opt(0).unwrap()),
            2025
        );
        let last_day = NaiveDate::from_ymd_opt(2025, 12, 31);
        assert_eq!(duty_year(last_day, new_years_night, beijing), 2025);
    }
}
