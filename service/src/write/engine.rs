//! The command path: load a case's events, rebuild the aggregate, check access, let the domain
//! decide, append what it decided under the optimistic lock. HTTP handlers, the CLI and the
//! benchmark all go through [`Engine`], so every write gets the same checks and metadata.
//!
//! A case's kind is learnt from the submission or from the stream's first event and handed to
//! [`AnyCase`], the one place it selects an aggregate: nothing here is generic over a kind. One
//! command is one append ([`Lent::append`]): one round trip that serializes, chains (to the
//! last hash of the history the command was decided on) and writes the events, on the
//! connection the stream was read on, which [`Kept`] lends for the whole command. The metadata
//! comes from [`crate::write::metadata`], retries are answered by [`crate::write::idempotency`].

use std::sync::{Arc, Mutex};

use cqrs_es::Aggregate;
use domain::member_record::{LogContact, MemberCommand, MemberInput, MemberRecord, STREAM_PREFIX};
use domain::report::{self, Computed, Report, ReportCommand, ReportError, ReportEvent};
use domain::{
    apply_payload, Action, ActionInput, AnyCase, CaseCommand, CaseCore, CaseError, CommandInput, Kind, Policy, Status,
    Submit, Timestamp,
};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;
use tracing::instrument;
use uuid::Uuid;

use crate::access::tokens::Principal;
use crate::access::{self, CaseAccess, Denied, Operation};
use crate::store::chain;
use crate::store::{Appendable, Appended, Commit, Kept, Lent, RecentAppends, Store, StoreError, StoredEvent};
pub use crate::write::context::{CommandContext, Idempotency};
pub use crate::write::error::EngineError;
use crate::write::idempotency;
use crate::write::metadata::EventMetadata;
use crate::write::recent::{Folded, RecentCases};

/// What a case is read as of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    Now,
    /// The events recorded up to and including this moment.
    Time(Timestamp),
    /// The events up to and including this sequence.
    Sequence(u64),
}

/// What a successful command leaves: the case's new status and version, and where its last
/// event stands in the global log.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Written {
    pub id: Uuid,
    pub kind: Kind,
    pub status: Status,
    pub version: u64,
    pub position: i64,
}

/// What logging a contact leaves: the member's record version and the event's log position.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Logged {
    pub member_id: String,
    pub version: u64,
    pub position: i64,
}

/// What publishing a report leaves: its id and the event's log position.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct ReportPublished {
    pub id: Uuid,
    pub position: i64,
}

impl Appendable for ReportEvent {
    fn event_type(&self) -> String {
        cqrs_es::DomainEvent::event_type(self)
    }

    fn event_version(&self) -> String {
        cqrs_es::DomainEvent::event_version(self)
    }
}

/// A refused publication as the errors the API already answers: forbidden to the caller's
/// role, an invalid field, or a conflict.
fn report_refused(error: ReportError, role: domain::Role) -> EngineError {
    match error {
        ReportError::Forbidden => EngineError::Denied(Denied::Forbidden(role)),
        ReportError::InvalidPeriod(reason) => CaseError::invalid("period", reason).into(),
        ReportError::AlreadyPublished => EngineError::Conflict { expected_version: None },
    }
}

/// A case as it stands, rebuilt from its events, as the caller may see and act on it.
#[derive(Debug, Clone)]
pub struct CaseSnapshot {
    pub id: Uuid,
    pub kind: Kind,
    pub status: Status,
    pub version: u64,
    pub allowed_actions: Vec<Action>,
    pub overdue: bool,
    pub core: CaseCore,
    /// The kind's own state (relays, sessions, phases, report, …) as stored.
    pub details: serde_json::Value,
}

/// Where the engine reads the time: the system clock, or a clock a test sets.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    Fixed(Arc<Mutex<Timestamp>>),
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => chrono::Utc::now(),
            Clock::Fixed(time) => *time.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Engine {
    store: Store,
    /// The command path's connections, kept between commands.
    kept: Kept,
    /// The cases written lately, as their streams left them.
    recent: RecentCases,
    policy: Policy,
    clock: Clock,
    /// Bumped after every append, so that projections follow at once.
    appended: Arc<watch::Sender<u64>>,
    /// The events appended lately, for this process's readers of the log (the projections'
    /// runners and the Merkle tree).
    recent_appends: RecentAppends,
}

impl Engine {
    pub fn new(store: Store, policy: Policy, clock: Clock) -> Self {
        Engine {
            kept: Kept::new(store.clone()),
            recent: RecentCases::default(),
            store,
            policy,
            clock,
            appended: Arc::new(watch::channel(0).0),
            recent_appends: RecentAppends::default(),
        }
    }

    /// Opens the connections `workers` concurrent commands use, ahead of the first of them.
    pub async fn open_connections(&self, workers: usize) -> Result<(), StoreError> {
        self.kept.open(workers).await
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The deployment's deadlines, calendar and time zone, which figures are counted in too.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Changes after each append: what projection runners wait on.
    pub fn appended(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// The events this engine appends from now on, kept for a reader of the log in this
    /// process (see [`RecentAppends`]).
    pub fn follow_appends(&self) -> RecentAppends {
        self.recent_appends.follow()
    }

    /// The one place the service reads the clock for commands.
    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub async fn submit(&self, context: CommandContext, input: Submit) -> Result<Written, EngineError> {
        self.submit_as(Uuid::now_v7(), context, input).await
    }

    /// Submits under an id the caller chose (the public channel registers its tracking code
    /// under it first).
    #[instrument(skip_all, fields(kind = %input.kind, case_id, actor = %context.principal.actor.id, role = %context.principal.actor.role))]
    pub async fn submit_as(
        &self,
        case_id: Uuid,
        context: CommandContext,
        input: Submit,
    ) -> Result<Written, EngineError> {
        if let Some(replayed) = self.replay(&context).await? {
            return Ok(replayed);
        }
        tracing::Span::current().record("case_id", tracing::field::display(case_id));
        let new = Folded {
            case: AnyCase::new(input.kind),
            last_hash: chain::GENESIS.to_owned(),
        };
        let mut connection = self.kept.lend().await?;
        let input = CommandInput::Submit(input);
        decided_on_read(
            self.execute(&mut connection, case_id, new, Basis::Read, context, input)
                .await?,
        )
    }

    #[instrument(skip_all, fields(%case_id, action = %input.action(), actor = %context.principal.actor.id, role = %context.principal.actor.role))]
    pub async fn act(
        &self,
        case_id: Uuid,
        context: CommandContext,
        input: ActionInput,
    ) -> Result<Written, EngineError> {
        if let Some(replayed) = self.replay(&context).await? {
            return Ok(replayed);
        }
        let mut connection = self.kept.lend().await?;
        // A case written lately is decided on as held, and appended only if its stream has not
        // moved since: one round trip. One not held, or whose held state was refused or had
        // moved on, is decided on its stream as read.
        if let Some(held) = self.recent.get(case_id) {
            let input = CommandInput::Act(input.clone());
            let decided = self
                .execute(&mut connection, case_id, held, Basis::Held, context.clone(), input)
                .await?;
            if let Some(written) = decided {
                return Ok(written);
            }
        }
        let case = self
            .current(&mut connection, case_id)
            .await?
            .ok_or(CaseError::NotFound)?;
        let input = CommandInput::Act(input);
        decided_on_read(
            self.execute(&mut connection, case_id, case, Basis::Read, context, input)
                .await?,
        )
    }

    /// A case as its stream stands now, read on `connection`: the state held in
    /// [`RecentCases`] with the events appended since folded in, or the whole stream folded.
    /// `None` when the case has no events.
    async fn current(&self, connection: &mut Lent<'_>, case_id: Uuid) -> Result<Option<Folded>, EngineError> {
        let held = self.recent.get(case_id);
        let after = held.as_ref().map_or(0, |folded| folded.case.version());
        let events = connection.stream_events_after(&case_id.to_string(), after).await?;
        let Folded {
            case,
            last_hash: held_hash,
        } = match held {
            Some(folded) => folded,
            None => match events.first().and_then(StoredEvent::kind) {
                Some(kind) => Folded {
                    case: AnyCase::new(kind),
                    last_hash: chain::GENESIS.to_owned(),
                },
                None => return Ok(None),
            },
        };
        if let Some(odd) = events.iter().find(|event| event.kind() != Some(case.kind())) {
            return Err(StoreError::Corrupt(format!(
                "stream {case_id} has events of two aggregate types ({} and {})",
                case.kind(),
                odd.aggregate_type
            ))
            .into());
        }
        Ok(Some(Folded {
            case: rebuild(case, &events, AnyCase::apply_payload)?,
            last_hash: if events.is_empty() {
                held_hash
            } else {
                last_hash(&events).to_owned()
            },
        }))
    }

    /// The case as `viewer` sees it as of a moment; `None` when it did not exist then.
    pub async fn case(
        &self,
        case_id: Uuid,
        viewer: &Principal,
        as_of: AsOf,
    ) -> Result<Option<CaseSnapshot>, EngineError> {
        let mut events = self.kept.lend().await?.stream_events(&case_id.to_string()).await?;
        let at = match as_of {
            AsOf::Now => self.now(),
            AsOf::Time(moment) => {
                events.retain(|event| event.recorded_at <= moment);
                moment
            }
            AsOf::Sequence(sequence) => {
                events.retain(|event| event.sequence <= sequence);
                events.last().map_or_else(|| self.now(), |event| event.recorded_at)
            }
        };
        let Some(kind) = events.first().and_then(StoredEvent::kind) else {
            return Ok(None);
        };
        let case = rebuild(AnyCase::new(kind), &events, AnyCase::apply_payload)?;
        Ok(Some(snapshot(case_id, &case, viewer, at)?))
    }

    /// Logs a member's constituent contact in the member's duty record.
    pub async fn log_contact(
        &self,
        member_id: &str,
        context: CommandContext,
        input: LogContact,
    ) -> Result<Logged, EngineError> {
        self.member_command(member_id, context, MemberInput::LogContact(input))
            .await
    }

    /// A command on a member's record: a contact, a registry change, a decision on a duty year.
    #[instrument(skip_all, fields(member_id, actor = %context.principal.actor.id, role = %context.principal.actor.role))]
    pub async fn member_command(
        &self,
        member_id: &str,
        context: CommandContext,
        input: MemberInput,
    ) -> Result<Logged, EngineError> {
        let stream = format!("{STREAM_PREFIX}{member_id}");
        let mut connection = self.kept.lend().await?;
        let history = connection.stream_events(&stream).await?;
        let operation = match input {
            MemberInput::LogContact(_) => Operation::LogContact(member_id),
            _ => Operation::ManageMembers,
        };
        access::check(&context.principal, operation)?;
        let record = rebuild(MemberRecord::default(), &history, apply_payload)?;
        let events = record.decide(
            MemberCommand {
                member_id: member_id.to_owned(),
                actor: context.principal.actor.clone(),
                at: self.now(),
                input,
            },
            &self.policy,
        )?;
        let metadata = EventMetadata::new(MemberRecord::TYPE, &context, Uuid::now_v7()).with_member(member_id);
        let commit = Commit {
            aggregate_type: MemberRecord::TYPE,
            stream: &stream,
            version: record.version,
            prev_hash: last_hash(&history),
            metadata: metadata.fields(),
            events: &events,
        };
        let position = match self.append(&mut connection, commit).await {
            Ok(appended) => appended.position,
            Err(StoreError::Conflict) => return Err(EngineError::Conflict { expected_version: None }),
            Err(other) => return Err(other.into()),
        };
        Ok(Logged {
            member_id: member_id.to_owned(),
            version: record.version + events.len() as u64,
            position,
        })
    }

    /// Publishes a report of `period` holding `computed` (the figures the caller computed, and
    /// the log position they were computed at) in a stream of its own.
    pub async fn publish(
        &self,
        context: CommandContext,
        period: String,
        computed: Computed,
    ) -> Result<ReportPublished, EngineError> {
        let id = Uuid::now_v7();
        let stream = format!("{}{id}", report::STREAM_PREFIX);
        let command = ReportCommand {
            actor: context.principal.actor.clone(),
            at: self.now(),
            period,
            computed,
        };
        let role = context.principal.actor.role;
        let events = Report::default()
            .decide(command, &self.policy)
            .map_err(|error| report_refused(error, role))?;
        let metadata = EventMetadata::new(Report::TYPE, &context, Uuid::now_v7());
        let commit = Commit {
            aggregate_type: Report::TYPE,
            stream: &stream,
            version: 0,
            prev_hash: chain::GENESIS,
            metadata: metadata.fields(),
            events: &events,
        };
        let mut connection = self.kept.lend().await?;
        let position = match self.append(&mut connection, commit).await {
            Ok(appended) => appended.position,
            Err(StoreError::Conflict) => return Err(report_refused(ReportError::AlreadyPublished, role)),
            Err(other) => return Err(other.into()),
        };
        Ok(ReportPublished { id, position })
    }

    /// Every stored event of a case, in order, for a caller who may read it.
    pub async fn history(&self, case_id: Uuid, viewer: &Principal) -> Result<Vec<StoredEvent>, EngineError> {
        access::check(viewer, Operation::ReadHistories)?;
        let events = self.kept.lend().await?.stream_events(&case_id.to_string()).await?;
        let Some(kind) = events.first().and_then(StoredEvent::kind) else {
            return Ok(Vec::new());
        };
        let case = rebuild(AnyCase::new(kind), &events, AnyCase::apply_payload)?;
        access::check(viewer, Operation::ReadHistory(&case_access(&case)))?;
        Ok(events)
    }

    /// Decides a command on a case of `kind` with `history`, and appends what it decided.
    /// A merge target must be a case the caller may read, of the same kind, still open and not
    /// merged itself (so no merge chain can loop). A target the caller may not read is refused
    /// exactly as a missing one.
    async fn check_merge_target(
        &self,
        connection: &mut Lent<'_>,
        kind: Kind,
        target: Uuid,
        principal: &Principal,
    ) -> Result<(), EngineError> {
        let refuse = |reason: &str| Err(CaseError::invalid("into", reason).into());
        let Some(Folded { case, .. }) = self.current(connection, target).await? else {
            return refuse("no case you may read has this id");
        };
        let target_kind = case.kind();
        if access::check(principal, Operation::ReadCase(&case_access(&case))).is_err() {
            return refuse("no case you may read has this id");
        }
        if target_kind != kind {
            return refuse("a case merges only into a case of its own kind");
        }
        if !case.status().is_some_and(Status::is_open) {
            return refuse("a case merges only into an open case, not a closed, withdrawn or merged one");
        }
        Ok(())
    }

    /// The result of the command that first used this context's idempotency key, if any.
    async fn replay(&self, context: &CommandContext) -> Result<Option<Written>, EngineError> {
        let Some(first) = idempotency::first_attempt(&self.store, context).await? else {
            return Ok(None);
        };
        let case_id = Uuid::parse_str(&first.aggregate_id).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let snapshot = self
            .case(case_id, &context.principal, AsOf::Sequence(first.sequence))
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("case {case_id} lost its events")))?;
        tracing::info!(%case_id, "replayed an idempotent command");
        Ok(Some(Written {
            id: case_id,
            kind: snapshot.kind,
            status: snapshot.status,
            version: snapshot.version,
            position: first.position,
        }))
    }

    /// Decides a command on `current` and appends what it decided. `None` only on a held
    /// state ([`Basis::Held`]) that was refused or denied, or whose stream had moved on: the
    /// command is then to be decided on the stream as read, and nothing was written or counted.
    async fn execute(
        &self,
        connection: &mut Lent<'_>,
        case_id: Uuid,
        current: Folded,
        basis: Basis,
        context: CommandContext,
        input: CommandInput,
    ) -> Result<Option<Written>, EngineError> {
        let Folded { mut case, last_hash } = current;
        let kind = case.kind();
        let access = case_access(&case);
        let (operation, action) = match &input {
            CommandInput::Submit(submit) => (Operation::Submit(kind, &submit.jurisdiction), "submit"),
            CommandInput::Act(input) => (Operation::Act(input.action(), &access), input.action().as_str()),
        };
        let count = |result: &'static str| {
            let labels = [("kind", kind.as_str()), ("action", action), ("result", result)];
            metrics::counter!("lianxin_commands_total", &labels).increment(1);
        };
        // A held state may be behind its stream: what it refuses, the stream may allow.
        macro_rules! refuse {
            ($error:expr, $result:literal) => {{
                if basis == Basis::Held {
                    return Ok(None);
                }
                count($result);
                return Err($error.into());
            }};
        }
        if let Err(denied) = access::check(&context.principal, operation) {
            refuse!(denied, "denied");
        }
        if let CommandInput::Act(ActionInput::Merge(merge)) = &input {
            if let Err(refused) = self
                .check_merge_target(connection, kind, merge.into, &context.principal)
                .await
            {
                refuse!(refused, "refused");
            }
        }
        let version = case.version();
        let command = CaseCommand {
            case_id,
            actor: context.principal.actor.clone(),
            at: self.now(),
            expected_version: context.expected_version,
            input,
        };
        let events = match case.handle(command, &self.policy) {
            Ok(events) => events,
            Err(refused) => refuse!(refused, "refused"),
        };
        let status = case.status().ok_or(CaseError::NotFound)?;
        let metadata = EventMetadata::new(kind.as_str(), &context, Uuid::now_v7()).with_status(status);
        let commit = Commit {
            aggregate_type: kind.as_str(),
            stream: &case_id.to_string(),
            version,
            prev_hash: &last_hash,
            metadata: metadata.fields(),
            events: &events,
        };
        let appended = match basis {
            Basis::Read => self.append(connection, commit).await.map(Some),
            Basis::Held => self.append_unless_behind(connection, commit).await,
        };
        let appended = match appended {
            Ok(Some(appended)) => appended,
            Ok(None) => return Ok(None),
            Err(StoreError::Conflict) => {
                count("conflict");
                // A retry that raced its first attempt loses on the idempotency index: answer
                // with the first attempt's result.
                if let Some(replayed) = self.replay(&context).await? {
                    return Ok(Some(replayed));
                }
                return Err(EngineError::Conflict {
                    expected_version: context.expected_version,
                });
            }
            Err(other) => {
                count("error");
                return Err(other.into());
            }
        };
        count("written");
        let written = Written {
            id: case_id,
            kind,
            status,
            version: case.version(),
            position: appended.position,
        };
        self.recent.remember(
            case_id,
            Folded {
                case,
                last_hash: appended.last_hash,
            },
        );
        Ok(Some(written))
    }

    /// Appends a command's events and wakes the projections that follow the log.
    async fn append<E: Appendable>(
        &self,
        connection: &mut Lent<'_>,
        commit: Commit<'_, E>,
    ) -> Result<Appended, StoreError> {
        let mut appended = connection.append(commit).await?;
        self.appended_events(&mut appended);
        Ok(appended)
    }

    /// [`Engine::append`] unless the stream has moved past `commit.version`: `None` then.
    async fn append_unless_behind<E: Appendable>(
        &self,
        connection: &mut Lent<'_>,
        commit: Commit<'_, E>,
    ) -> Result<Option<Appended>, StoreError> {
        let mut appended = connection.append_unless_behind(commit).await?;
        if let Some(appended) = appended.as_mut() {
            self.appended_events(appended);
        }
        Ok(appended)
    }

    /// Hands a command's events to whoever follows the log in this process, and wakes it.
    fn appended_events(&self, appended: &mut Appended) {
        self.recent_appends.keep(std::mem::take(&mut appended.events));
        self.appended.send_modify(|appends| *appends += 1);
    }
}

/// What a command is decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basis {
    /// The stream as read in this command (for a submission, the empty stream of a new case).
    Read,
    /// The state [`RecentCases`] held, not read: the stream may have moved on since.
    Held,
}

/// The result of a command decided on its stream as read, which is always decided.
fn decided_on_read(decided: Option<Written>) -> Result<Written, EngineError> {
    decided.ok_or_else(|| StoreError::Corrupt("a command decided on its stream as read was not decided".into()).into())
}

/// The hash of a stream's last event, which its next event chains to.
fn last_hash(history: &[StoredEvent]) -> &str {
    history.last().and_then(StoredEvent::hash).unwrap_or(chain::GENESIS)
}

/// An aggregate as a stream's stored events leave it, each brought to the current schema and
/// applied by `apply`.
fn rebuild<S>(
    mut state: S,
    history: &[StoredEvent],
    apply: impl Fn(&mut S, &Value) -> Result<(), serde_json::Error>,
) -> Result<S, StoreError> {
    for stored in history {
        apply(&mut state, &stored.current_payload()).map_err(|error| {
            StoreError::Corrupt(format!("event {} of {}: {error}", stored.sequence, stored.aggregate_id))
        })?;
    }
    Ok(state)
}

/// What the access rules need to know of a case.
fn case_access(case: &AnyCase) -> CaseAccess {
    CaseAccess {
        kind: case.kind(),
        jurisdiction: case.core().jurisdiction.clone(),
        submitter: case.core().submitter.clone(),
        carriers: case.carriers(),
        open: case.status().is_some_and(Status::is_open),
        handlers: case.core().handlers.clone(),
    }
}

/// The case as `viewer` may see it, with the actions both the domain and the access rules
/// would let `viewer` take.
fn snapshot(case_id: Uuid, case: &AnyCase, viewer: &Principal, at: Timestamp) -> Result<CaseSnapshot, EngineError> {
    let access = case_access(case);
    access::check(viewer, Operation::ReadCase(&access))?;
    let allowed_actions = case
        .allowed_actions(&viewer.actor, at)
        .into_iter()
        .filter(|action| access::check(viewer, Operation::Act(*action, &access)).is_ok())
        .collect();
    Ok(CaseSnapshot {
        id: case_id,
        kind: case.kind(),
        status: case
            .status()
            .ok_or_else(|| StoreError::Corrupt(format!("case {case_id} has no submission")))?,
        version: case.version(),
        allowed_actions,
        overdue: case.core().is_overdue(at),
        core: case.core().clone(),
        details: case.details().map_err(|error| StoreError::Corrupt(error.to_string()))?,
    })
}
