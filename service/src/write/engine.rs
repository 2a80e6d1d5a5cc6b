//! The command path: load a case's events, rebuild the aggregate, let the domain decide,
//! append what it decided under the optimistic lock. HTTP handlers, the CLI and (later) the
//! benchmark all go through [`Engine`], so every write gets the same checks and metadata.

use std::collections::HashMap;

use cqrs_es::{Aggregate, EventEnvelope};
use domain::{
    Action, ActionInput, Case, CaseCommand, CaseCore, CaseError, CommandInput, JointResearch, Kind, MicroConsultation,
    Policy, Status, Submit, Suggestion, Timestamp,
};
use serde::Serialize;
use tracing::instrument;
use uuid::Uuid;

use std::sync::{Arc, Mutex};

use domain::member_record::{LogContact, MemberCommand, MemberError, MemberRecord, STREAM_PREFIX};
use projections::meta;
use tokio::sync::watch;

use crate::access::tokens::Principal;
use crate::access::{self, CaseAccess, Denied, Operation};
use crate::store::{self, Store, StoreError, StoredEvent};
use crate::write::chain;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Refused(#[from] CaseError),
    #[error(transparent)]
    MemberRefused(#[from] MemberError),
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Another writer appended first. With an expected version, the sender's view is stale.
    #[error("the case was changed by another writer")]
    Conflict { expected_version: Option<u64> },
    /// The idempotency key was used before, by this actor, for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for EngineError {
    fn from(error: StoreError) -> Self {
        EngineError::Store(error)
    }
}

/// Who sends a command and under which request; the engine adds the time.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub principal: Principal,
    pub request_id: String,
    pub expected_version: Option<u64>,
    /// Ties together every command of one piece of work; the request id when not given.
    pub correlation_id: Option<String>,
    /// What caused this command; the command's own id when not given.
    pub causation_id: Option<String>,
    /// The time on the sender's clock, recorded beside the store's own.
    pub client_time: Option<Timestamp>,
    pub idempotency: Option<Idempotency>,
}

impl CommandContext {
    /// A context with nothing but who acts and under which request id.
    pub fn new(principal: Principal, request_id: impl Into<String>) -> Self {
        CommandContext {
            principal,
            request_id: request_id.into(),
            expected_version: None,
            correlation_id: None,
            causation_id: None,
            client_time: None,
            idempotency: None,
        }
    }
}

/// A retry key and a digest of the request it was first used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub request_digest: String,
}

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
    policy: Policy,
    clock: Clock,
    /// Bumped after every append, so that projections follow at once.
    appended: Arc<watch::Sender<u64>>,
}

impl Engine {
    pub fn new(store: Store, policy: Policy, clock: Clock) -> Self {
        Engine {
            store,
            policy,
            clock,
            appended: Arc::new(watch::channel(0).0),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Changes after each append: what projection runners wait on.
    pub fn appended(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
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
        let kind = input.kind;
        let input = CommandInput::Submit(input);
        match kind {
            Kind::Suggestion => self.execute::<Suggestion>(case_id, Vec::new(), context, input).await,
            Kind::MicroConsultation => {
                self.execute::<MicroConsultation>(case_id, Vec::new(), context, input)
                    .await
            }
            Kind::JointResearch => self.execute::<JointResearch>(case_id, Vec::new(), context, input).await,
        }
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
        let events = self.store.stream_events(&case_id.to_string()).await?;
        let Some(first) = events.first() else {
            return Err(CaseError::NotFound.into());
        };
        let input = CommandInput::Act(input);
        match first.kind().ok_or(CaseError::NotFound)? {
            Kind::Suggestion => self.execute::<Suggestion>(case_id, events, context, input).await,
            Kind::MicroConsultation => self.execute::<MicroConsultation>(case_id, events, context, input).await,
            Kind::JointResearch => self.execute::<JointResearch>(case_id, events, context, input).await,
        }
    }

    /// The result of the command that first used this context's idempotency key, if any.
    async fn replay(&self, context: &CommandContext) -> Result<Option<Written>, EngineError> {
        let Some(idempotency) = &context.idempotency else {
            return Ok(None);
        };
        let Some(first) = self
            .store
            .event_for_idempotency_key(&context.principal.actor.id, &idempotency.key)
            .await?
        else {
            return Ok(None);
        };
        if first.metadata_text(REQUEST_DIGEST) != Some(idempotency.request_digest.as_str()) {
            return Err(EngineError::IdempotencyKeyReused);
        }
        let case_id = Uuid::parse_str(&first.aggregate_id).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let snapshot = self
            .case(case_id, &context.principal, AsOf::Sequence(first.sequence))
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("case {case_id} lost its events")))?;
        tracing::info!(%case_id, key = %idempotency.key, "replayed an idempotent command");
        Ok(Some(Written {
            id: case_id,
            kind: snapshot.kind,
            status: snapshot.status,
            version: snapshot.version,
            position: first.position,
        }))
    }

    /// The case as `viewer` sees it as of a moment; `None` when it did not exist then.
    pub async fn case(
        &self,
        case_id: Uuid,
        viewer: &Principal,
        as_of: AsOf,
    ) -> Result<Option<CaseSnapshot>, EngineError> {
        let mut events = self.store.stream_events(&case_id.to_string()).await?;
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
        let Some(first) = events.first() else {
            return Ok(None);
        };
        let Some(kind) = first.kind() else {
            return Ok(None);
        };
        let snapshot = match kind {
            Kind::Suggestion => snapshot(case_id, &rebuild::<Suggestion>(events)?, viewer, at)?,
            Kind::MicroConsultation => snapshot(case_id, &rebuild::<MicroConsultation>(events)?, viewer, at)?,
            Kind::JointResearch => snapshot(case_id, &rebuild::<JointResearch>(events)?, viewer, at)?,
        };
        Ok(Some(snapshot))
    }

    /// Logs a member's constituent contact in the member's duty record.
    #[instrument(skip_all, fields(member_id, actor = %context.principal.actor.id, role = %context.principal.actor.role))]
    pub async fn log_contact(
        &self,
        member_id: &str,
        context: CommandContext,
        input: LogContact,
    ) -> Result<Logged, EngineError> {
        let stream = format!("{STREAM_PREFIX}{member_id}");
        let history = self.store.stream_events(&stream).await?;
        let prev_hash = history
            .last()
            .and_then(StoredEvent::hash)
            .unwrap_or(chain::GENESIS)
            .to_owned();
        access::check(&context.principal, Operation::LogContact(member_id))?;
        let record: MemberRecord = rebuild(history)?;
        let events = record.decide(MemberCommand {
            member_id: member_id.to_owned(),
            actor: context.principal.actor.clone(),
            at: self.now(),
            input,
        })?;
        let version = record.version + events.len() as u64;
        let mut metadata = metadata(MemberRecord::TYPE, &context, &prev_hash, Uuid::now_v7());
        metadata.insert(MEMBER_ID.to_owned(), member_id.to_owned());
        let position = match self
            .store
            .append::<MemberRecord>(&stream, record.version, events, metadata)
            .await
        {
            Ok(position) => position,
            Err(StoreError::Conflict) => return Err(EngineError::Conflict { expected_version: None }),
            Err(other) => return Err(other.into()),
        };
        self.appended.send_modify(|appends| *appends += 1);
        Ok(Logged {
            member_id: member_id.to_owned(),
            version,
            position,
        })
    }

    /// Every stored event of a case, in order, for a caller who may read it.
    pub async fn history(&self, case_id: Uuid, viewer: &Principal) -> Result<Vec<StoredEvent>, EngineError> {
        let events = self.store.stream_events(&case_id.to_string()).await?;
        let Some(kind) = events.first().and_then(StoredEvent::kind) else {
            return Ok(Vec::new());
        };
        let access = match kind {
            Kind::Suggestion => case_access(&rebuild::<Suggestion>(events.clone())?),
            Kind::MicroConsultation => case_access(&rebuild::<MicroConsultation>(events.clone())?),
            Kind::JointResearch => case_access(&rebuild::<JointResearch>(events.clone())?),
        };
        access::check(viewer, Operation::ReadHistory(&access))?;
        Ok(events)
    }

    async fn execute<A: Case>(
        &self,
        case_id: Uuid,
        history: Vec<StoredEvent>,
        context: CommandContext,
        input: CommandInput,
    ) -> Result<Written, EngineError> {
        let prev_hash = history
            .last()
            .and_then(StoredEvent::hash)
            .unwrap_or(chain::GENESIS)
            .to_owned();
        let mut case = rebuild::<A>(history)?;
        let access = case_access(&case);
        let (operation, action) = match &input {
            CommandInput::Submit(_) => (Operation::Submit(A::KIND), "submit"),
            CommandInput::Act(input) => (Operation::Act(input.action(), &access), input.action().as_str()),
        };
        let count = |result: &'static str| {
            let labels = [("kind", A::KIND.as_str()), ("action", action), ("result", result)];
            metrics::counter!("lianxin_commands_total", &labels).increment(1);
        };
        access::check(&context.principal, operation).inspect_err(|_| count("denied"))?;
        let version = case.version();
        let command = CaseCommand {
            case_id,
            actor: context.principal.actor.clone(),
            at: self.now(),
            expected_version: context.expected_version,
            input,
        };
        let events = case.decide(command, &self.policy).inspect_err(|_| count("refused"))?;
        events.iter().cloned().for_each(|event| case.apply(event));
        let status = case.status().ok_or(CaseError::NotFound)?;
        let mut metadata = metadata(A::KIND.as_str(), &context, &prev_hash, Uuid::now_v7());
        metadata.insert(meta::STATUS.to_owned(), status.as_str().to_owned());
        let appended = self
            .store
            .append::<A>(&case_id.to_string(), version, events, metadata)
            .await;
        let position = match appended {
            Ok(position) => position,
            Err(StoreError::Conflict) => {
                count("conflict");
                // A retry that raced its first attempt loses on the idempotency index: answer
                // with the first attempt's result.
                if let Some(replayed) = self.replay(&context).await? {
                    return Ok(replayed);
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
        self.appended.send_modify(|appends| *appends += 1);
        Ok(Written {
            id: case_id,
            kind: A::KIND,
            status,
            version: case.version(),
            position,
        })
    }
}

/// Metadata names beyond the chain's own.
pub const REQUEST_DIGEST: &str = "request_digest";
/// The member whose duty record a contact event belongs to.
pub const MEMBER_ID: &str = "member_id";

/// What every event of a command carries beside its payload. `prev_hash` is read by the
/// chained repository, which adds the event's own `hash`. The bulk generator passes command
/// ids of its own so that its log is the same for the same seed.
pub fn metadata(
    aggregate_type: &str,
    context: &CommandContext,
    prev_hash: &str,
    command_id: Uuid,
) -> HashMap<String, String> {
    let command_id = command_id.to_string();
    let mut metadata = HashMap::from([
        (meta::KIND.to_owned(), aggregate_type.to_owned()),
        (meta::ACTOR_ID.to_owned(), context.principal.actor.id.clone()),
        (
            meta::ACTOR_ROLE.to_owned(),
            context.principal.actor.role.as_str().to_owned(),
        ),
        (meta::REQUEST_ID.to_owned(), context.request_id.clone()),
        (
            "correlation_id".to_owned(),
            context
                .correlation_id
                .clone()
                .unwrap_or_else(|| context.request_id.clone()),
        ),
        (
            "causation_id".to_owned(),
            context.causation_id.clone().unwrap_or_else(|| command_id.clone()),
        ),
        ("command_id".to_owned(), command_id),
        (chain::PREV_HASH.to_owned(), prev_hash.to_owned()),
    ]);
    if let Some(client_time) = context.client_time {
        metadata.insert("client_time".to_owned(), client_time.to_rfc3339());
    }
    if let Some(idempotency) = &context.idempotency {
        metadata.insert("idempotency_key".to_owned(), idempotency.key.clone());
        metadata.insert(REQUEST_DIGEST.to_owned(), idempotency.request_digest.clone());
    }
    metadata
}

/// The aggregate as its events leave it.
fn rebuild<A: Aggregate>(history: Vec<StoredEvent>) -> Result<A, StoreError> {
    let mut case = A::default();
    for stored in history {
        let sequence = stored.sequence;
        let envelope = EventEnvelope::<A>::try_from(store::serialized(stored)?)
            .map_err(|error| StoreError::Corrupt(format!("event {sequence}: {error}")))?;
        case.apply(envelope.payload);
    }
    Ok(case)
}

/// What the access rules need to know of a case.
fn case_access<A: Case>(case: &A) -> CaseAccess {
    CaseAccess {
        kind: A::KIND,
        jurisdiction: case.core().jurisdiction.clone(),
        submitter: case.core().submitter.clone(),
        carriers: case.carriers(),
    }
}

/// The case as `viewer` may see it, with the actions both the domain and the access rules
/// would let `viewer` take.
fn snapshot<A: Case>(case_id: Uuid, case: &A, viewer: &Principal, at: Timestamp) -> Result<CaseSnapshot, EngineError> {
    let access = case_access(case);
    access::check(viewer, Operation::ReadCase(&access))?;
    let allowed_actions = case
        .allowed_actions(&viewer.actor, at)
        .into_iter()
        .filter(|action| access::check(viewer, Operation::Act(*action, &access)).is_ok())
        .collect();
    let mut details = serde_json::to_value(case).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    if let Some(fields) = details.as_object_mut() {
        fields.remove("core");
    }
    Ok(CaseSnapshot {
        id: case_id,
        kind: A::KIND,
        status: case
            .status()
            .ok_or_else(|| StoreError::Corrupt(format!("case {case_id} has no submission")))?,
        version: case.version(),
        allowed_actions,
        overdue: case.core().is_overdue(at),
        core: case.core().clone(),
        details,
    })
}
