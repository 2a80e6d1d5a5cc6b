//! Members' duty records 一人一档: per member and year, what their events add up to.

use std::collections::BTreeMap;

use chrono::Datelike;
use domain::member_record::{MemberEvent, STREAM_PREFIX};
use domain::{Channel, Outcome, Role};
use serde::{Deserialize, Serialize};

use crate::{CaseFact, Fact, Payload};

/// One member's counts for one year.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DutyRecord {
    pub member_id: String,
    pub year: i32,
    /// Constituents contacted 联系群众次数.
    pub contacts: u32,
    /// Voices carried 反映诉求数量: citizens' suggestions relayed.
    pub relays: u32,
    /// Social-opinion reports submitted.
    pub reports: u32,
    /// Consultations joined (sessions of micro-consultations, consultations of any case).
    pub consultations: u32,
    /// Cases the member carried or reported that closed solved (outcome A) 解决问题成效.
    pub solved: u32,
}

impl DutyRecord {
    fn add(&mut self, other: &DutyRecord) {
        self.contacts += other.contacts;
        self.relays += other.relays;
        self.reports += other.reports;
        self.consultations += other.consultations;
        self.solved += other.solved;
    }
}

/// What one event changes in the duty records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DutyEffects {
    /// Counts to add, per (member, year).
    pub increments: Vec<DutyRecord>,
    /// Members who from now on answer for this case (their solved count grows when it is solved).
    pub carried_by: Vec<String>,
}

impl DutyEffects {
    fn count(&mut self, member_id: &str, year: i32, change: impl FnOnce(&mut DutyRecord)) {
        let mut increment = DutyRecord {
            member_id: member_id.to_owned(),
            year,
            ..DutyRecord::default()
        };
        change(&mut increment);
        self.increments.push(increment);
    }
}

/// The duty-record effects of `fact`; `carriers` are the members already answering for its
/// case (from earlier effects).
pub fn duty_effects(fact: &Fact, carriers: &[String]) -> DutyEffects {
    let mut effects = DutyEffects::default();
    match &fact.payload {
        Payload::Member(MemberEvent::ContactLogged(contact)) => {
            if let Some(member_id) = fact.stream.strip_prefix(STREAM_PREFIX) {
                effects.count(member_id, contact.date.year(), |record| record.contacts += 1);
            }
        }
        Payload::Case(CaseFact::Submitted(submitted)) => {
            if submitted.channel == Channel::MemberReport && submitted.submitter.role == Role::Member {
                effects.count(&submitted.submitter.id, submitted.at.year(), |record| {
                    record.reports += 1
                });
                effects.carried_by.push(submitted.submitter.id.clone());
            }
            effects
                .carried_by
                .extend(submitted.lead_member.iter().chain(&submitted.team).cloned());
        }
        Payload::Case(CaseFact::Relayed(relayed)) => {
            effects.count(&relayed.member, relayed.at.year(), |record| record.relays += 1);
            effects.carried_by.push(relayed.member.clone());
        }
        Payload::Case(CaseFact::Consulted(consulted)) => joined(&mut effects, &consulted.members, consulted.at.year()),
        Payload::Case(CaseFact::Convened(convened)) => {
            joined(&mut effects, &convened.members, convened.at.year());
            effects.carried_by.extend(convened.members.iter().cloned());
        }
        Payload::Case(CaseFact::Closed(closed)) if closed.outcome == Outcome::A => {
            for member in carriers {
                effects.count(member, closed.at.year(), |record| record.solved += 1);
            }
        }
        _ => {}
    }
    effects
}

fn joined(effects: &mut DutyEffects, members: &[String], year: i32) {
    let mut seen: Vec<&String> = Vec::new();
    for member in members {
        if !seen.contains(&member) {
            seen.push(member);
            effects.count(member, year, |record| record.consultations += 1);
        }
    }
}

/// Increments summed per (member, year), so that each record is written once.
#[derive(Debug, Default)]
pub struct DutyTotals(BTreeMap<(String, i32), DutyRecord>);

impl DutyTotals {
    pub fn add(&mut self, increments: impl IntoIterator<Item = DutyRecord>) {
        for increment in increments {
            self.0
                .entry((increment.member_id.clone(), increment.year))
                .or_insert_with(|| DutyRecord {
                    member_id: increment.member_id.clone(),
                    year: increment.year,
                    ..DutyRecord::default()
                })
                .add(&increment);
        }
    }

    /// The records, by member and year.
    pub fn into_records(self) -> Vec<DutyRecord> {
        self.0.into_values().collect()
    }
}
