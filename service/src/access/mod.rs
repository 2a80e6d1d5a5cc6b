//! Who may do what: the one place roles are enforced. Handlers and the engine ask
//! [`check`] before they read or write anything; the domain adds only the rules it owns
//! (only a member relays; a rating is the proposer's, staff pass one on with a reason).
//!
//! **The scoping rule.** A token may carry a jurisdiction (staff, members): everything it reads
//! or writes about cases lies inside it — submissions, actions, merge targets, reads, lists and
//! the figures it is shown — and a token without one acts at the city level, everywhere.
//! A member's record is read by staff of the member's jurisdiction of record (the registry's;
//! city staff for every member, district staff for their district's registered members), and
//! the assessment by city staff whole and by district staff cut to their district's members.
//!
//! | operation | citizen | member | staff | auditor | admin | department |
//! | --- | --- | --- | --- | --- | --- | --- |
//! | submit a suggestion | yes | yes | in its jurisdiction | no | no | no |
//! | submit a micro-consultation or joint research | no | yes | in its jurisdiction | no | no | no |
//! | act on a case | own case: feedback, evaluate, reopen, withdraw | relay an open citizen's suggestion it may read; own case: feedback, evaluate, reopen, withdraw | every action, in its jurisdiction | no | no | a case it handles: acknowledge, object, request_extension, contribute, reply |
//! | read a case, its state as of a time | own cases | cases it carries or submitted, and open citizens' suggestions of its jurisdiction | in its jurisdiction | all | no | cases it handles or handled |
//! | read a case's history | no | no | in its jurisdiction | all | no | no |
//! | list cases | own cases | cases it carries | in its jurisdiction | all | no | cases it handles or handled |
//! | a unit's queue | no | no | in its jurisdiction | yes | no | its own |
//! | outcomes, overdue, unit scorecards | no | no | its jurisdiction's | yes | no | no |
//! | assessment | no | no | city staff; district staff: their district's members | yes | no | no |
//! | any member's duty record and archive | no | its own | city staff; district staff: their district's members | yes | no | no |
//! | log a member's contact | no | its own | city staff | no | no | no |
//! | manage the registry | no | no | city staff | no | yes | no |
//! | record a reminder talk, a resignation started, a re-opened year | no | no | city staff | no | no | no |
//! | audit log export, verify | no | no | no | yes | no | no |
//! | projection status | no | no | yes | yes | yes | no |
//!
//! A department's subject is its unit id: "its" cases are those whose lead or co-handling
//! units include it now or did before (a unit keeps sight of a case it handed on). Which of
//! the unit's actions it may take on a case (only the lead replies, only a co-unit
//! contributes) the domain decides.
//!
//! A case the caller may not read is "not found" (404), answered exactly as a case that does
//! not exist, so its existence is not revealed; an operation the caller's role may not do is
//! "forbidden" (403), decided before any case is looked up.

pub mod names;
pub mod public;
pub mod tokens;
pub mod units;

use domain::{Action, Actor, Kind, Role};

use crate::access::tokens::Principal;

/// What a rule needs to know about a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseAccess {
    pub kind: Kind,
    pub jurisdiction: String,
    pub submitter: Option<Actor>,
    /// Members who carry the case: relayed or reported it, lead or sit on its team.
    pub carriers: Vec<String>,
    /// Not yet closed, withdrawn or merged.
    pub open: bool,
    /// Units that handle or handled the case, lead or co-handling.
    pub handlers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation<'a> {
    /// A new case of a kind, in a jurisdiction.
    Submit(Kind, &'a str),
    Act(Action, &'a CaseAccess),
    ReadCase(&'a CaseAccess),
    ReadHistory(&'a CaseAccess),
    /// Reading histories at all, asked before the case is looked up: a role that may never
    /// read one is refused alike for a case that exists and one that does not.
    ReadHistories,
    ListCases,
    /// A handling unit's queue (to sign, to reply, due soon, overdue) and scorecard, by the
    /// unit's id.
    ReadUnit(&'a str),
    /// Adding or renaming a handling unit: a city unit (no jurisdiction) or a banner's or
    /// district's (its jurisdiction).
    ManageUnits {
        jurisdiction: Option<&'a str>,
    },
    ReadDashboards,
    /// A member's record; `jurisdiction` is the member's of record, if registered.
    ReadMemberRecord {
        member: &'a str,
        jurisdiction: Option<&'a str>,
    },
    ReadAssessment,
    /// The registry and staff's decisions on duty years (the domain tells them apart).
    ManageMembers,
    LogContact(&'a str),
    ReadAuditLog,
    ReadProjections,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("a {0} may not do this")]
    Forbidden(Role),
    /// The caller may not know the case exists.
    #[error("no such case")]
    Hidden,
}

/// How far a case list reaches for this caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    All,
    SubmittedBy(String),
    CarriedBy(String),
    Jurisdiction(String),
    /// The cases a unit handles or handled, lead or co-handling.
    HandledBy(String),
}

fn own(principal: &Principal, case: &CaseAccess) -> bool {
    case.submitter.as_ref() == Some(&principal.actor)
}

fn carries(principal: &Principal, case: &CaseAccess) -> bool {
    case.carriers.contains(&principal.actor.id)
}

/// Whether `jurisdiction` lies within the caller's: everywhere for a token without one.
fn within(principal: &Principal, jurisdiction: &str) -> bool {
    principal.jurisdiction.as_deref().is_none_or(|own| own == jurisdiction)
}

fn handles(principal: &Principal, case: &CaseAccess) -> bool {
    case.handlers.contains(&principal.actor.id)
}

/// The steps a handling unit takes on a case; everything else is staff's or the proposer's.
fn unit_action(action: Action) -> bool {
    matches!(
        action,
        Action::Acknowledge | Action::Object | Action::RequestExtension | Action::Contribute | Action::Reply
    )
}

fn in_jurisdiction(principal: &Principal, case: &CaseAccess) -> bool {
    within(principal, &case.jurisdiction)
}

/// A voice a member may take up: a citizen's suggestion, still open, in the member's
/// jurisdiction (any, for a member of the city level, whose token names none).
fn open_voice_nearby(principal: &Principal, case: &CaseAccess) -> bool {
    let by_citizen = case
        .submitter
        .as_ref()
        .is_some_and(|submitter| submitter.role == Role::Citizen);
    case.kind == Kind::Suggestion && by_citizen && case.open && in_jurisdiction(principal, case)
}

/// May this caller read the case at all?
fn may_read(principal: &Principal, case: &CaseAccess) -> bool {
    match principal.actor.role {
        Role::Citizen => own(principal, case),
        Role::Member => own(principal, case) || carries(principal, case) || open_voice_nearby(principal, case),
        Role::Staff => in_jurisdiction(principal, case),
        Role::Auditor => true,
        Role::Admin => false,
        Role::Department => handles(principal, case),
    }
}

pub fn check(principal: &Principal, operation: Operation<'_>) -> Result<(), Denied> {
    let role = principal.actor.role;
    let forbidden = Err(Denied::Forbidden(role));
    let submitters_own = |action: Action| {
        matches!(
            action,
            Action::Feedback | Action::Evaluate | Action::Reopen | Action::Withdraw
        )
    };
    match operation {
        Operation::Submit(kind, jurisdiction) => match (role, kind) {
            (Role::Staff, _) if !within(principal, jurisdiction) => forbidden,
            (Role::Member | Role::Staff, _) | (Role::Citizen, Kind::Suggestion) => Ok(()),
            _ => forbidden,
        },
        Operation::Act(action, case) => {
            // Relaying takes nothing the member may not already read.
            if !may_read(principal, case) {
                return Err(Denied::Hidden);
            }
            let relay = role == Role::Member && action == Action::Relay;
            let allowed = match role {
                Role::Staff => true,
                Role::Member => relay || (own(principal, case) && submitters_own(action)),
                Role::Citizen => own(principal, case) && submitters_own(action),
                Role::Department => unit_action(action),
                Role::Auditor | Role::Admin => false,
            };
            if allowed {
                Ok(())
            } else {
                forbidden
            }
        }
        Operation::ReadCase(case) => {
            if may_read(principal, case) {
                Ok(())
            } else if matches!(role, Role::Admin) {
                forbidden
            } else {
                Err(Denied::Hidden)
            }
        }
        Operation::ReadHistory(case) => match role {
            Role::Staff | Role::Auditor if may_read(principal, case) => Ok(()),
            Role::Staff => Err(Denied::Hidden),
            _ => forbidden,
        },
        Operation::ReadHistories => match role {
            Role::Staff | Role::Auditor => Ok(()),
            _ => forbidden,
        },
        Operation::ListCases => match role {
            Role::Admin => forbidden,
            _ => Ok(()),
        },
        Operation::ReadUnit(unit) => match role {
            Role::Staff | Role::Auditor => Ok(()),
            Role::Department if principal.actor.id == unit => Ok(()),
            _ => forbidden,
        },
        Operation::ReadDashboards => match role {
            Role::Staff | Role::Auditor => Ok(()),
            _ => forbidden,
        },
        // A member not in the registry has no jurisdiction of record: city staff read it.
        Operation::ReadMemberRecord { member, jurisdiction } => match role {
            Role::Staff if principal.jurisdiction.is_none() => Ok(()),
            Role::Staff if jurisdiction.is_some_and(|own| within(principal, own)) => Ok(()),
            Role::Auditor => Ok(()),
            Role::Member if principal.actor.id == member => Ok(()),
            _ => forbidden,
        },
        // District staff's assessment is cut to their district (`jurisdiction_scope`).
        Operation::ReadAssessment => match role {
            Role::Staff | Role::Auditor => Ok(()),
            _ => forbidden,
        },
        // City staff keep every unit; a banner's or district's staff, their own local units.
        Operation::ManageUnits { jurisdiction } => match (role, jurisdiction) {
            (Role::Staff, None) if principal.jurisdiction.is_none() => Ok(()),
            (Role::Staff, Some(unit_jurisdiction)) if within(principal, unit_jurisdiction) => Ok(()),
            (Role::Admin, _) => Ok(()),
            _ => forbidden,
        },
        Operation::ManageMembers => match role {
            Role::Staff if principal.jurisdiction.is_none() => Ok(()),
            Role::Admin => Ok(()),
            _ => forbidden,
        },
        Operation::LogContact(member) => match role {
            Role::Staff if principal.jurisdiction.is_none() => Ok(()),
            Role::Member if principal.actor.id == member => Ok(()),
            _ => forbidden,
        },
        Operation::ReadAuditLog => match role {
            Role::Auditor => Ok(()),
            _ => forbidden,
        },
        Operation::ReadProjections => match role {
            Role::Staff | Role::Auditor | Role::Admin => Ok(()),
            _ => forbidden,
        },
    }
}

/// The cases a caller's list may show (after [`check`] allowed listing at all).
pub fn list_scope(principal: &Principal) -> ListScope {
    match principal.actor.role {
        Role::Citizen => ListScope::SubmittedBy(principal.actor.id.clone()),
        Role::Member => ListScope::CarriedBy(principal.actor.id.clone()),
        Role::Staff => principal
            .jurisdiction
            .clone()
            .map_or(ListScope::All, ListScope::Jurisdiction),
        Role::Auditor | Role::Admin => ListScope::All,
        Role::Department => ListScope::HandledBy(principal.actor.id.clone()),
    }
}

/// The one jurisdiction a caller's figures and lists are cut to; `None` at the city level.
pub fn jurisdiction_scope(principal: &Principal) -> Option<&str> {
    principal.jurisdiction.as_deref()
}

/// Whether the caller may see submitters' personal data (name, phone).
pub fn sees_personal_data(principal: &Principal) -> bool {
    matches!(principal.actor.role, Role::Staff | Role::Auditor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(id: &str) -> Principal {
        Principal {
            actor: Actor {
                id: id.to_owned(),
                role: Role::Department,
            },
            jurisdiction: None,
            department: Some(id.to_owned()),
        }
    }

    /// A case the Transport Bureau handed on to the Education Bureau.
    fn case() -> CaseAccess {
        CaseAccess {
            kind: Kind::Suggestion,
            jurisdiction: "东胜区".to_owned(),
            submitter: Some(Actor {
                id: "citizen-1".to_owned(),
                role: Role::Citizen,
            }),
            carriers: Vec::new(),
            handlers: vec!["市交通局".to_owned(), "市教育局".to_owned()],
            open: true,
        }
    }

    #[test]
    fn a_unit_reads_the_cases_it_handles_or_handled_and_no_other() {
        let case = case();
        for handler in ["市交通局", "市教育局"] {
            assert_eq!(check(&unit(handler), Operation::ReadCase(&case)), Ok(()), "{handler}");
        }
        assert_eq!(
            check(&unit("市卫健委"), Operation::ReadCase(&case)),
            Err(Denied::Hidden)
        );
        let acting_elsewhere = check(&unit("市卫健委"), Operation::Act(Action::Reply, &case));
        assert_eq!(acting_elsewhere, Err(Denied::Hidden), "its existence is not revealed");
    }

    #[test]
    fn a_unit_acts_only_through_its_own_steps() {
        let case = case();
        let unit = unit("市教育局");
        for action in Action::ALL {
            let allowed = check(&unit, Operation::Act(action, &case)).is_ok();
            assert_eq!(allowed, unit_action(action), "{action}");
        }
        assert!(unit_action(Action::Reply) && !unit_action(Action::GrantExtension) && !unit_action(Action::Close));
    }

    #[test]
    fn a_unit_lists_and_reads_its_own_queue_but_no_history_figures_or_other_queue() {
        let case = case();
        let unit = unit("市教育局");
        assert_eq!(check(&unit, Operation::ListCases), Ok(()));
        assert_eq!(list_scope(&unit), ListScope::HandledBy("市教育局".to_owned()));
        assert_eq!(check(&unit, Operation::ReadUnit("市教育局")), Ok(()));
        let forbidden = Err(Denied::Forbidden(Role::Department));
        for operation in [
            Operation::ReadUnit("市交通局"),
            Operation::ReadHistory(&case),
            Operation::ReadDashboards,
            Operation::ReadAuditLog,
            Operation::Submit(Kind::Suggestion, "东胜区"),
        ] {
            assert_eq!(check(&unit, operation), forbidden, "{operation:?}");
        }
        assert!(!sees_personal_data(&unit));
    }

    fn staff_of(jurisdiction: Option<&str>) -> Principal {
        Principal {
            actor: Actor {
                id: "staff-1".to_owned(),
                role: Role::Staff,
            },
            jurisdiction: jurisdiction.map(str::to_owned),
            department: None,
        }
    }

    #[test]
    fn district_staff_read_the_records_of_their_districts_members_of_record() {
        let district = staff_of(Some("达拉特旗"));
        let record = |jurisdiction| Operation::ReadMemberRecord {
            member: "m-1",
            jurisdiction,
        };
        assert_eq!(check(&district, record(Some("达拉特旗"))), Ok(()));
        let forbidden = Err(Denied::Forbidden(Role::Staff));
        assert_eq!(check(&district, record(Some("东胜区"))), forbidden);
        assert_eq!(check(&district, record(None)), forbidden, "not in the registry");
        assert_eq!(check(&staff_of(None), record(None)), Ok(()));
        assert_eq!(check(&district, Operation::ManageMembers), forbidden);
        assert_eq!(check(&staff_of(None), Operation::ManageMembers), Ok(()));
    }

    #[test]
    fn city_staff_and_admins_keep_every_unit_and_district_staff_only_their_own_local_units() {
        let city = |jurisdiction| Operation::ManageUnits { jurisdiction };
        let district = staff_of(Some("达拉特旗"));
        let admin = Principal {
            actor: Actor {
                id: "admin-1".to_owned(),
                role: Role::Admin,
            },
            jurisdiction: None,
            department: None,
        };
        assert_eq!(check(&staff_of(None), city(None)), Ok(()));
        assert_eq!(check(&staff_of(None), city(Some("达拉特旗"))), Ok(()));
        assert_eq!(check(&admin, city(None)), Ok(()));
        assert_eq!(check(&district, city(Some("达拉特旗"))), Ok(()));
        let forbidden = Err(Denied::Forbidden(Role::Staff));
        assert_eq!(check(&district, city(None)), forbidden, "a city unit");
        assert_eq!(
            check(&district, city(Some("东胜区"))),
            forbidden,
            "another district's unit"
        );
        for role in [Role::Department, Role::Member, Role::Citizen, Role::Auditor] {
            let other = Principal {
                actor: Actor {
                    id: "x".to_owned(),
                    role,
                },
                jurisdiction: None,
                department: None,
            };
            assert_eq!(check(&other, city(None)), Err(Denied::Forbidden(role)), "{role}");
        }
    }
}
