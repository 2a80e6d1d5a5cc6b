//! The bulk generator behind `lianxin bench scale`: a deterministic multi-year log of cases and
//! members' contacts, written by the store's import ([`Store::import`]: PostgreSQL `COPY`,
//! SQLite multi-row inserts in large transactions) instead of through the engine's command
//! path, which would take hours at a million cases.
//!
//! The events are nonetheless the engine's own: every step is decided by the domain in memory
//! ([`AnyCase::handle`]), given the engine's metadata ([`EventMetadata`]) and serialized and
//! chained by the store's [`Commit`], exactly as an append does, so read models and
//! `audit verify` treat them like any other. Their request ids (`bulk-…`) say where they came
//! from, and `recorded_at` is the time of the step, as if written then.
//!
//! Memory stays flat however long the log: cases are generated one at a time in order of
//! submission, and their events wait in a heap ordered by time until no later submission can
//! come before them. The log is thereby in time order, and only cases in progress are held.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};
use std::time::Instant;

use chrono::{Datelike, Duration, Months, NaiveDate, TimeZone, Utc};
use cqrs_es::Aggregate;
use domain::member_record::{LogContact, MemberCommand, MemberInput, MemberRecord, STREAM_PREFIX};
use domain::{
    ActionInput, Adopt, AnyCase, Assign, CaseCommand, Channel, Classify, Close, CommandInput, Consult, Convene, Extent,
    Feedback, Kind, Merge, Note, Outcome, Policy, Rating, Reason, Reassign, RecordPolicy, RecordVisit, Role, Submit,
    SubmitReport, Timestamp, Withdraw,
};
use indicatif::ProgressBar;
use serde::Serialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::demo::{principal, Dice, CATEGORIES, DEPARTMENTS, JURISDICTIONS, TOPICS};
use service::access::tokens::Principal;
use service::store::chain::GENESIS;
use service::store::{Appendable, Chained, Commit, Imported, Store, StoreError};
use service::write::engine::CommandContext;
use service::write::metadata::EventMetadata;

/// Events handed to the store's import at once: one `COPY` or one SQLite transaction.
const BATCH_ROWS: usize = 10_000;
/// Cases submitted grow by this factor a year, as the channels become known.
const YEARLY_GROWTH: f64 = 1.12;
/// How often each category, and each banner or district, is named (the larger banners more).
const CATEGORY_WEIGHTS: [usize; 9] = [14, 12, 13, 12, 11, 9, 10, 11, 8];
const JURISDICTION_WEIGHTS: [usize; 9] = [22, 8, 14, 14, 5, 7, 6, 6, 18];
/// The department that usually answers for each category (the index into `DEPARTMENTS`).
const CATEGORY_DEPARTMENT: [usize; 9] = [0, 1, 2, 3, 4, 5, 6, 3, 7];

#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the bulk generator writes into an empty log only; this one holds {0} events")]
    NotEmpty(u64),
    #[error("the generator thread failed")]
    Generator(#[from] tokio::task::JoinError),
    #[error("the writer stopped before the generator finished")]
    WriterStopped,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct BulkPlan {
    pub cases: usize,
    pub years: u32,
    /// The end of the log: no step happens at or after it, so the latest cases are still open.
    pub until: Timestamp,
    pub seed: u64,
}

impl BulkPlan {
    /// The start of the log, `years` before its end.
    pub fn from(&self) -> Timestamp {
        self.until
            .checked_sub_months(Months::new(12 * self.years))
            .unwrap_or(self.until)
    }

    /// Committee members: a city's few hundred at a million cases, the demo's sixty for small logs.
    pub fn members(&self) -> usize {
        (self.cases / 2_000).clamp(60, 999)
    }

    /// The id of the case generated `index`-th (from 0), so that readers can pick existing cases.
    pub fn case_id(&self, index: usize) -> Uuid {
        case_id(self.seed, index)
    }
}

/// The id of the `index`-th member (from 0).
pub fn member_id(index: usize) -> String {
    format!("m-{:03}", index + 1)
}

/// What the generator wrote, by its own count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Generated {
    pub cases: u64,
    pub members: usize,
    pub contacts: u64,
    pub events: u64,
    pub from: Timestamp,
    pub until: Timestamp,
    pub seconds: f64,
    pub events_per_s: f64,
    /// Steps the domain refused (skipped, as the demo does); a sound script has none.
    pub refused_steps: u64,
    /// Cases by their status at the end of the log.
    pub cases_by_status: BTreeMap<String, u64>,
    pub cases_by_kind: BTreeMap<String, u64>,
}

/// Generates the plan's log into `store`, whose log must be empty; `progress` counts cases.
pub async fn generate(store: &Store, plan: &BulkPlan, progress: ProgressBar) -> Result<Generated, BulkError> {
    let existing = store.count_events().await?;
    if existing > 0 {
        return Err(BulkError::NotEmpty(existing));
    }
    let started = Instant::now();
    // Two batches in flight at most: the generator runs ahead of the writer by that much only.
    let (sender, mut receiver) = mpsc::channel::<Vec<Imported>>(2);
    let generator = {
        let plan = plan.clone();
        let progress = progress.clone();
        tokio::task::spawn_blocking(move || Generator::new(plan, sender).run(&progress))
    };
    let mut written = 0u64;
    while let Some(batch) = receiver.recv().await {
        store.import(&batch).await?;
        written += batch.len() as u64;
    }
    let tally = generator.await??;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    Ok(Generated {
        cases: plan.cases as u64,
        members: plan.members(),
        contacts: tally.contacts,
        events: written,
        from: plan.from(),
        until: plan.until,
        seconds,
        events_per_s: written as f64 / seconds.max(f64::EPSILON),
        refused_steps: tally.refused,
        cases_by_status: tally.cases_by_status,
        cases_by_kind: tally.cases_by_kind,
    })
}

/// An event waiting for its turn in the log, ordered by time, then by when it was generated.
struct Pending {
    order: u64,
    event: Imported,
}

impl Pending {
    fn key(&self) -> (Timestamp, u64) {
        (self.event.recorded_at, self.order)
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// The generator's own count of what it wrote.
#[derive(Debug, Default)]
struct Tally {
    contacts: u64,
    refused: u64,
    cases_by_status: BTreeMap<String, u64>,
    cases_by_kind: BTreeMap<String, u64>,
}

struct Generator {
    plan: BulkPlan,
    policy: Policy,
    waiting: BinaryHeap<Reverse<Pending>>,
    generated: u64,
    batch: Vec<Imported>,
    sender: mpsc::Sender<Vec<Imported>>,
    tally: Tally,
}

impl Generator {
    fn new(plan: BulkPlan, sender: mpsc::Sender<Vec<Imported>>) -> Self {
        Generator {
            plan,
            policy: Policy::default(),
            waiting: BinaryHeap::new(),
            generated: 0,
            batch: Vec::with_capacity(BATCH_ROWS),
            sender,
            tally: Tally::default(),
        }
    }

    fn run(mut self, progress: &ProgressBar) -> Result<Tally, BulkError> {
        for member in 0..self.plan.members() {
            self.contacts(member)?;
        }
        let from = self.plan.from();
        let span = (self.plan.until - from).num_seconds() as f64;
        // Cases arrive in order, more each year: the arrival time inverts a growing density.
        let growth = f64::from(self.plan.years) * YEARLY_GROWTH.ln();
        for index in 0..self.plan.cases {
            // The case's id is its dice's first draw, as `case_id` draws it.
            let mut dice = case_dice(self.plan.seed, index);
            let case_id = dice.uuid();
            let share = (index as f64 + dice.below(1_000) as f64 / 1_000.0) / self.plan.cases as f64;
            let share = if growth > 0.0 {
                (share * growth.exp_m1()).ln_1p() / growth
            } else {
                share
            };
            let submitted = from + Duration::seconds((share * span) as i64);
            self.case(index, case_id, submitted, dice)?;
            self.release(submitted)?;
            progress.inc(1);
        }
        self.release(chrono::DateTime::<Utc>::MAX_UTC)?;
        if !self.batch.is_empty() {
            self.send()?;
        }
        Ok(self.tally)
    }

    /// Queues a stream's events for their turn in the log.
    fn queue(&mut self, events: Vec<Imported>) {
        for event in events {
            self.generated += 1;
            self.waiting.push(Reverse(Pending {
                order: self.generated,
                event,
            }));
        }
    }

    /// Moves every waiting event up to `until` into the log, in time order.
    fn release(&mut self, until: Timestamp) -> Result<(), BulkError> {
        while self
            .waiting
            .peek()
            .is_some_and(|Reverse(next)| next.event.recorded_at <= until)
        {
            if let Some(Reverse(next)) = self.waiting.pop() {
                self.batch.push(next.event);
            }
            if self.batch.len() >= BATCH_ROWS {
                self.send()?;
            }
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), BulkError> {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_ROWS));
        self.sender.blocking_send(batch).map_err(|_| BulkError::WriterStopped)
    }

    /// A member's contacts over the years of the log; every fifth member logs too few.
    fn contacts(&mut self, member: usize) -> Result<(), BulkError> {
        let id = member_id(member);
        let mut dice = Dice(splitmix(self.plan.seed ^ splitmix(u64::MAX - member as u64)) | 1);
        let who = principal(&id, Role::Member);
        let (from, until) = (self.plan.from(), self.plan.until);
        let mut dates = Vec::new();
        for year in from.year()..=until.year() {
            let count = if member % 5 == 0 {
                1 + dice.below(3)
            } else {
                4 + dice.below(6)
            };
            for _ in 0..count {
                let date = NaiveDate::from_yo_opt(year, 1 + dice.below(365) as u32);
                let at = date
                    .and_then(|date| date.and_hms_opt(18, 0, 0))
                    .map(|at| Utc.from_utc_datetime(&at));
                dates.extend(at.filter(|at| (from..until).contains(at)));
            }
        }
        dates.sort_unstable();
        let mut stream = Stream::new(format!("{STREAM_PREFIX}{id}"), MemberRecord::TYPE);
        let mut record = MemberRecord::default();
        for (step, at) in dates.into_iter().enumerate() {
            let input = LogContact {
                date: at.date_naive(),
                constituent: format!("{}居民", JURISDICTIONS[weighted(&mut dice, &JURISDICTION_WEIGHTS)]),
                summary: format!(
                    "走访了解{}方面的诉求",
                    CATEGORIES[weighted(&mut dice, &CATEGORY_WEIGHTS)]
                ),
            };
            let command = MemberCommand {
                member_id: id.clone(),
                actor: who.actor.clone(),
                at,
                input: MemberInput::LogContact(input),
            };
            let Ok(decided) = record.decide(command, &self.policy) else {
                self.tally.refused += 1;
                continue;
            };
            decided.iter().cloned().for_each(|event| record.apply(event));
            let context = CommandContext::new(who.clone(), format!("bulk-{id}-{step}"));
            let metadata = EventMetadata::new(MemberRecord::TYPE, &context, dice.uuid()).with_member(&id);
            stream.record(at, &decided, &metadata)?;
            self.tally.contacts += 1;
        }
        self.queue(stream.events);
        Ok(())
    }

    /// One case, from its submission as far as the dice and the end of the log allow.
    fn case(&mut self, index: usize, case_id: Uuid, submitted: Timestamp, mut dice: Dice) -> Result<(), BulkError> {
        let (kind, script): (Kind, Script) = match dice.below(25) {
            0 => (Kind::JointResearch, joint_research),
            1..=4 => (Kind::MicroConsultation, micro_consultation),
            _ => (Kind::Suggestion, suggestion),
        };
        let category = weighted(&mut dice, &CATEGORY_WEIGHTS);
        let jurisdiction = JURISDICTIONS[weighted(&mut dice, &JURISDICTION_WEIGHTS)];
        let members = self.plan.members();
        let submitter = match kind {
            Kind::Suggestion if dice.chance(70) => principal(&format!("citizen-{index}"), Role::Citizen),
            Kind::MicroConsultation if dice.chance(30) => staff(jurisdiction),
            _ => principal(&member_id(dice.below(members)), Role::Member),
        };
        let (title, body) = *dice.pick(&TOPICS);
        let submit = Submit {
            kind,
            title: title.to_owned(),
            body: body.to_owned(),
            category: CATEGORIES[category].to_owned(),
            jurisdiction: jurisdiction.to_owned(),
            channel: (submitter.actor.role == Role::Citizen && dice.chance(15)).then_some(Channel::ContactPoint),
            lead_member: None,
            team: match kind {
                Kind::JointResearch => (0..2 + dice.below(3)).map(|_| member_id(dice.below(members))).collect(),
                _ => Vec::new(),
            },
        };
        let cast = Cast {
            staff: staff(jurisdiction),
            submitter,
            members,
            department: if dice.chance(85) {
                DEPARTMENTS[CATEGORY_DEPARTMENT[category]]
            } else {
                DEPARTMENTS[dice.below(DEPARTMENTS.len())]
            },
            category,
        };
        let walked = self.walk(case_id, index, submitted, dice, &cast, submit, script)?;
        *self.tally.cases_by_kind.entry(kind.as_str().to_owned()).or_default() += 1;
        *self.tally.cases_by_status.entry(walked.to_owned()).or_default() += 1;
        Ok(())
    }

    /// Submits a case and runs `script` on it; returns the case's final status.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &mut self,
        case_id: Uuid,
        index: usize,
        submitted: Timestamp,
        dice: Dice,
        cast: &Cast,
        submit: Submit,
        script: Script,
    ) -> Result<&'static str, BulkError> {
        let kind = submit.kind;
        let mut walk = Walk {
            case: AnyCase::new(kind),
            stream: Stream::new(case_id.to_string(), kind.as_str()),
            case_id,
            index,
            seed: self.plan.seed,
            steps: 0,
            now: submitted,
            until: self.plan.until,
            policy: &self.policy,
            dice,
            refused: 0,
            failure: None,
        };
        walk.send(&cast.submitter, CommandInput::Submit(submit));
        script(&mut walk, cast);
        if let Some(failure) = walk.failure {
            return Err(failure);
        }
        self.tally.refused += walk.refused;
        let status = walk.case.status().map_or("unknown", |status| status.as_str());
        self.queue(walk.stream.events);
        Ok(status)
    }
}

/// One stream's events, each command's chained to the one before, ready for the log.
struct Stream {
    id: String,
    aggregate_type: &'static str,
    version: u64,
    last_hash: String,
    events: Vec<Imported>,
}

impl Stream {
    fn new(id: String, aggregate_type: &'static str) -> Self {
        Stream {
            id,
            aggregate_type,
            version: 0,
            last_hash: GENESIS.to_owned(),
            events: Vec::new(),
        }
    }

    /// Records one command's events, as the store appends them, at the time of the step.
    fn record<E: Appendable>(
        &mut self,
        at: Timestamp,
        events: &[E],
        metadata: &EventMetadata,
    ) -> Result<(), StoreError> {
        let commit = Commit {
            aggregate_type: self.aggregate_type,
            stream: &self.id,
            version: self.version,
            prev_hash: &self.last_hash,
            metadata: metadata.fields(),
            events,
        };
        let rows = commit.rows()?;
        if let Some(hash) = rows.last().and_then(Chained::hash) {
            self.last_hash = hash.to_owned();
        }
        self.version += rows.len() as u64;
        for row in rows {
            self.events.push(Imported::chained(row, at));
        }
        Ok(())
    }
}

/// Who takes part in a case.
struct Cast {
    staff: Principal,
    submitter: Principal,
    members: usize,
    department: &'static str,
    category: usize,
}

/// What a kind of case goes through after its submission.
type Script = fn(&mut Walk<'_>, &Cast);

/// A case taken through its steps, each decided by the domain at its own time.
struct Walk<'a> {
    case: AnyCase,
    stream: Stream,
    case_id: Uuid,
    index: usize,
    seed: u64,
    steps: usize,
    now: Timestamp,
    until: Timestamp,
    policy: &'a Policy,
    dice: Dice,
    refused: u64,
    /// A failure to serialize, kept so that the scripts read as plain steps.
    failure: Option<BulkError>,
}

impl Walk<'_> {
    /// Lets one to `days` days and up to eight hours pass.
    fn wait(&mut self, days: usize) {
        self.now += Duration::days(1 + self.dice.below(days) as i64) + Duration::minutes(self.dice.below(480) as i64);
    }

    /// Sends one command now; `false` when the log has ended by then or the domain refused.
    fn send(&mut self, who: &Principal, input: CommandInput) -> bool {
        if self.now >= self.until || self.failure.is_some() {
            return false;
        }
        self.steps += 1;
        let command = CaseCommand {
            case_id: self.case_id,
            actor: who.actor.clone(),
            at: self.now,
            expected_version: None,
            input,
        };
        let (Ok(decided), Some(status)) = (self.case.handle(command, self.policy), self.case.status()) else {
            self.refused += 1;
            return false;
        };
        let context = CommandContext::new(who.clone(), format!("bulk-{}-{}", self.index, self.steps));
        let metadata = EventMetadata::new(self.case.kind().as_str(), &context, self.dice.uuid()).with_status(status);
        match self.stream.record(self.now, &decided, &metadata) {
            Ok(()) => true,
            Err(failure) => {
                self.failure = Some(failure.into());
                false
            }
        }
    }

    fn act(&mut self, who: &Principal, input: ActionInput) -> bool {
        self.send(who, CommandInput::Act(input))
    }

    fn member(&mut self, members: usize) -> String {
        member_id(self.dice.below(members))
    }

    fn rating(&mut self) -> Rating {
        *self.dice.pick(&[
            Rating::Satisfied,
            Rating::Satisfied,
            Rating::BasicallySatisfied,
            Rating::Unsatisfied,
        ])
    }
}

/// A suggestion: relayed by a member now and then; withdrawn, merged or reclassified
/// sometimes; assigned; stalled past its deadline (and escalated) or answered, adopted or
/// declined, closed, rated, and reopened when the rating is unsatisfied.
fn suggestion(walk: &mut Walk<'_>, cast: &Cast) {
    let staff = &cast.staff;
    if cast.submitter.actor.role == Role::Citizen && walk.dice.chance(30) {
        let relayer = principal(&walk.member(cast.members), Role::Member);
        walk.wait(3);
        walk.act(&relayer, note(ActionInput::Relay, "走访中多位群众反映同一问题"));
    }
    if walk.dice.chance(3) {
        walk.wait(2);
        let reason = Some("问题已自行解决".to_owned());
        walk.act(&cast.submitter, ActionInput::Withdraw(Withdraw { reason }));
        return;
    }
    if walk.index > 0 && walk.dice.chance(1) {
        // A duplicate of a case raised shortly before.
        let earlier = walk.index - 1 - walk.dice.below(walk.index.min(200));
        let into = case_id(walk.seed, earlier);
        walk.wait(3);
        walk.act(staff, ActionInput::Merge(Merge { into }));
        return;
    }
    if walk.dice.chance(5) {
        let category = CATEGORIES[(cast.category + 1 + walk.dice.below(CATEGORIES.len() - 1)) % CATEGORIES.len()];
        walk.wait(2);
        let category = category.to_owned();
        walk.act(staff, ActionInput::Classify(Classify { category }));
    }
    walk.wait(6);
    walk.act(staff, assign(cast.department));
    if walk.dice.chance(12) {
        // Stalls past its deadline; some are escalated, and half of those then move again.
        walk.now += Duration::days(16 + walk.dice.below(10) as i64);
        if !walk.dice.chance(40)
            || !walk.act(
                staff,
                reason(|why| ActionInput::Escalate(why.into()), "超期未办复，提级督办"),
            )
        {
            return;
        }
        if !walk.dice.chance(50) {
            return;
        }
        walk.wait(5);
        reassign(walk, staff, "提级督办后改由市级部门办理");
    } else if walk.dice.chance(5) {
        walk.wait(4);
        reassign(walk, staff, "职责调整，改派承办单位");
    }
    if answer_suggestion(walk, cast) == Some(Rating::Unsatisfied) && walk.dice.chance(60) {
        walk.wait(3);
        if walk.act(
            &cast.submitter,
            reason(|why| ActionInput::Reopen(why.into()), "提出人不满意，重新办理"),
        ) && walk.dice.chance(50)
        {
            answer_suggestion(walk, cast);
        }
    }
}

/// Consulted sometimes, adopted or declined, closed, perhaps rated: the rating, if any.
fn answer_suggestion(walk: &mut Walk<'_>, cast: &Cast) -> Option<Rating> {
    let staff = &cast.staff;
    if walk.dice.chance(60) {
        let members = if walk.dice.chance(30) {
            vec![walk.member(cast.members)]
        } else {
            Vec::new()
        };
        walk.wait(8);
        walk.act(
            staff,
            ActionInput::Consult(Consult {
                note: "与提出人电话沟通办理情况".to_owned(),
                participants: Vec::new(),
                members,
            }),
        );
    }
    walk.wait(10);
    let outcome = if walk.dice.chance(15) {
        walk.act(staff, reason(ActionInput::Decline, "因条件限制暂不能解决"));
        Outcome::C
    } else {
        let extent = *walk.dice.pick(&[Extent::Full, Extent::Full, Extent::Partial]);
        walk.act(staff, ActionInput::Adopt(adoption(cast.department, extent)));
        *walk.dice.pick(&[Outcome::A, Outcome::A, Outcome::A, Outcome::B])
    };
    let slow = if walk.dice.chance(20) { 25 } else { 10 };
    walk.wait(slow);
    if !walk.act(staff, close(outcome, "已办复提出人")) || !walk.dice.chance(55) {
        return None;
    }
    let rating = walk.rating();
    walk.wait(5);
    let feedback = ActionInput::Feedback(Feedback {
        rating,
        comment: None,
        on_behalf_reason: None,
    });
    walk.act(&cast.submitter, feedback).then_some(rating)
}

fn reassign(walk: &mut Walk<'_>, staff: &Principal, why: &str) {
    let department = (*walk.dice.pick(&DEPARTMENTS)).to_owned();
    let reason = Some(why.to_owned());
    walk.act(
        staff,
        ActionInput::Reassign(Reassign {
            department,
            co_departments: Vec::new(),
            due_at: None,
            reason,
        }),
    );
}

/// A micro-consultation: a department named, convened with members and residents, one or two
/// sessions, an agreed solution, closed, sometimes rated; some stall on the way.
fn micro_consultation(walk: &mut Walk<'_>, cast: &Cast) {
    let staff = &cast.staff;
    walk.wait(4);
    walk.act(staff, assign(cast.department));
    if walk.dice.chance(10) {
        return;
    }
    let members: Vec<String> = (0..2 + walk.dice.below(3)).map(|_| walk.member(cast.members)).collect();
    let participants = vec!["居民代表".to_owned(), "物业公司".to_owned()];
    let venue = (*walk.dice.pick(&["协商议事室", "凳凳议事会", "社区联系点"])).to_owned();
    walk.wait(10);
    walk.act(
        staff,
        ActionInput::Convene(Convene {
            venue,
            scheduled_at: None,
            participants: participants.clone(),
            members: members.clone(),
        }),
    );
    for _ in 0..1 + walk.dice.below(2) {
        walk.wait(7);
        walk.act(
            staff,
            ActionInput::Consult(Consult {
                note: "居民、物业、承办单位现场议事".to_owned(),
                participants: participants.clone(),
                members: members.clone(),
            }),
        );
    }
    if walk.dice.chance(8) {
        return;
    }
    walk.wait(10);
    let extent = *walk.dice.pick(&[Extent::Full, Extent::Full, Extent::Partial]);
    let agreed = Adopt {
        responsible_parties: vec![cast.department.to_owned()],
        ..adoption("街道办事处", extent)
    };
    walk.act(staff, ActionInput::Adopt(agreed));
    walk.wait(20);
    let outcome = *walk.dice.pick(&[Outcome::A, Outcome::A, Outcome::A, Outcome::B]);
    if walk.act(staff, close(outcome, "议定方案已落实")) && walk.dice.chance(30) {
        let rating = walk.rating();
        walk.wait(5);
        walk.act(
            &cast.submitter,
            ActionInput::Feedback(Feedback {
                rating,
                comment: None,
                on_behalf_reason: None,
            }),
        );
    }
}

/// A joint research topic through its gated phases: preparation, one to three visits, research
/// complete, consultation, report, adoption, perhaps a policy, closed; some stop on the way.
fn joint_research(walk: &mut Walk<'_>, cast: &Cast) {
    let staff = &cast.staff;
    walk.wait(10);
    walk.act(staff, assign(cast.department));
    if walk.dice.chance(10) {
        return;
    }
    walk.wait(30);
    walk.act(
        staff,
        note(ActionInput::CompletePreparation, "组建跨界别调研组，制定调研提纲"),
    );
    for _ in 0..1 + walk.dice.below(3) {
        let place = (*walk.dice.pick(&JURISDICTIONS)).to_owned();
        walk.wait(20);
        walk.act(
            staff,
            ActionInput::RecordVisit(RecordVisit {
                place,
                findings: "后续管理薄弱，可支配收入偏低".to_owned(),
            }),
        );
    }
    walk.wait(15);
    walk.act(staff, note(ActionInput::CompleteResearch, "形成调研报告初稿"));
    let team: Vec<String> = (0..3).map(|_| walk.member(cast.members)).collect();
    walk.wait(20);
    walk.act(
        staff,
        ActionInput::Consult(Consult {
            note: "专题协商会".to_owned(),
            participants: Vec::new(),
            members: team,
        }),
    );
    walk.wait(20);
    walk.act(
        staff,
        ActionInput::SubmitReport(SubmitReport {
            title: "关于巩固农牧区三区建设成果的调研报告".to_owned(),
            recommendations: ["完善后续管理机制", "拓宽农牧民增收渠道", "延伸特色产业链"]
                .map(str::to_owned)
                .to_vec(),
        }),
    );
    if walk.dice.chance(10) {
        return;
    }
    walk.wait(30);
    let adopted = if walk.dice.chance(30) {
        Adopt {
            recommendations: vec![0, 2],
            ..adoption("市委市政府", Extent::Partial)
        }
    } else {
        adoption("市委市政府", Extent::Full)
    };
    walk.act(staff, ActionInput::Adopt(adopted));
    if walk.dice.chance(70) {
        walk.wait(30);
        walk.act(
            staff,
            ActionInput::RecordPolicy(RecordPolicy {
                title: "关于巩固三区建设成果的若干措施".to_owned(),
                by: Some("市政府办公室".to_owned()),
                note: None,
            }),
        );
    }
    walk.wait(20);
    walk.act(staff, close(Outcome::A, "建议被采纳并出台配套政策"));
}

fn note(action: fn(Note) -> ActionInput, note: &str) -> ActionInput {
    action(Note { note: note.to_owned() })
}

fn reason(action: fn(Reason) -> ActionInput, reason: &str) -> ActionInput {
    action(Reason {
        reason: reason.to_owned(),
    })
}

/// Assigned to `department` with the kind's default deadline.
fn assign(department: &str) -> ActionInput {
    ActionInput::Assign(Assign {
        department: department.to_owned(),
        co_departments: Vec::new(),
        due_at: None,
    })
}

fn adoption(by: &str, extent: Extent) -> Adopt {
    Adopt {
        by: by.to_owned(),
        extent,
        note: None,
        recommendations: Vec::new(),
        responsible_parties: Vec::new(),
        due_at: None,
    }
}

fn close(outcome: Outcome, summary: &str) -> ActionInput {
    ActionInput::Close(Close {
        outcome,
        summary: summary.to_owned(),
    })
}

/// The staff of the banner or district a case belongs to.
fn staff(jurisdiction: &str) -> Principal {
    Principal {
        jurisdiction: Some(jurisdiction.to_owned()),
        ..principal(&format!("{jurisdiction}政协工作人员"), Role::Staff)
    }
}

/// An index drawn with the given weights.
fn weighted(dice: &mut Dice, weights: &[usize]) -> usize {
    let mut roll = dice.below(weights.iter().sum());
    for (index, weight) in weights.iter().enumerate() {
        if roll < *weight {
            return index;
        }
        roll -= weight;
    }
    weights.len() - 1
}

fn case_id(seed: u64, index: usize) -> Uuid {
    case_dice(seed, index).uuid()
}

/// Each case draws from its own dice, so that a case can be regenerated (its id above all)
/// without the ones before it.
fn case_dice(seed: u64, index: usize) -> Dice {
    Dice(splitmix(seed ^ splitmix(index as u64)) | 1)
}

/// SplitMix64's finaliser: spreads neighbouring seeds over the whole range.
fn splitmix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_followed() {
        let mut dice = Dice(7);
        let mut counts = [0usize; 3];
        for _ in 0..10_000 {
            counts[weighted(&mut dice, &[1, 0, 3])] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(counts[2] > counts[0] * 2, "{counts:?}");
    }
}
