//! The command path: load a case's events, rebuild the aggregate, let the domain decide,
//! append what it decided under the optimistic lock. HTTP handlers, the CLI and (later) the
//! benchmark all go through [`Engine`], so every write gets the same checks and metadata.

use std::collections::HashMap;

use cqrs_es::persist::SerializedEvent;
use cqrs_es::EventEnvelope;
use domain::{
    Action, ActionInput, Actor, Case, CaseCommand, CaseCore, CaseError, CommandInput, JointResearch, Kind,
    MicroConsultation, Policy, Status, Submit, Suggestion, Timestamp,
};
use serde::Serialize;
use tracing::instrument;
use uuid::Uuid;

use crate::store::{Store, StoreError, StoredEvent};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Refused(#[from] CaseError),
    /// Another writer appended first. With an expected version, the sender's view is stale.
    #[error("the case was changed by another writer")]
    Conflict { expected_version: Option<u64> },
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
    pub actor: Actor,
    pub request_id: String,
    pub expected_version: Option<u64>,
}

/// What a successful command leaves: the case's new status and version, and where its last
/// event stands in the global log.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub id: Uuid,
    pub kind: Kind,
    pub status: Status,
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

#[derive(Debug, Clone)]
pub struct Engine {
    store: Store,
    policy: Policy,
}

impl Engine {
    pub fn new(store: Store, policy: Policy) -> Self {
        Engine { store, policy }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The one place the service reads the clock for commands.
    fn now() -> Timestamp {
        chrono::Utc::now()
    }

    #[instrument(skip_all, fields(kind = %input.kind, case_id, actor = %context.actor.id, role = %context.actor.role))]
    pub async fn submit(&self, context: CommandContext, input: Submit) -> Result<Written, EngineError> {
        let case_id = Uuid::now_v7();
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

    #[instrument(skip_all, fields(%case_id, action = %input.action(), actor = %context.actor.id, role = %context.actor.role))]
    pub async fn act(
        &self,
        case_id: Uuid,
        context: CommandContext,
        input: ActionInput,
    ) -> Result<Written, EngineError> {
        let events = self.store.case_events(case_id).await?;
        let Some(first) = events.first() else {
            return Err(CaseError::NotFound.into());
        };
        let input = CommandInput::Act(input);
        match first.kind {
            Kind::Suggestion => self.execute::<Suggestion>(case_id, events, context, input).await,
            Kind::MicroConsultation => self.execute::<MicroConsultation>(case_id, events, context, input).await,
            Kind::JointResearch => self.execute::<JointResearch>(case_id, events, context, input).await,
        }
    }

    /// The case as `viewer` sees it now; `None` when there is no such case.
    pub async fn case(&self, case_id: Uuid, viewer: &Actor) -> Result<Option<CaseSnapshot>, EngineError> {
        let events = self.store.case_events(case_id).await?;
        let Some(first) = events.first() else {
            return Ok(None);
        };
        let at = Self::now();
        let snapshot = match first.kind {
            Kind::Suggestion => snapshot(case_id, &rebuild::<Suggestion>(events)?, viewer, at)?,
            Kind::MicroConsultation => snapshot(case_id, &rebuild::<MicroConsultation>(events)?, viewer, at)?,
            Kind::JointResearch => snapshot(case_id, &rebuild::<JointResearch>(events)?, viewer, at)?,
        };
        Ok(Some(snapshot))
    }

    /// Every stored event of a case, in order.
    pub async fn history(&self, case_id: Uuid) -> Result<Vec<StoredEvent>, EngineError> {
        Ok(self.store.case_events(case_id).await?)
    }

    async fn execute<A: Case>(
        &self,
        case_id: Uuid,
        history: Vec<StoredEvent>,
        context: CommandContext,
        input: CommandInput,
    ) -> Result<Written, EngineError> {
        let mut case = rebuild::<A>(history)?;
        let version = case.version();
        let command = CaseCommand {
            case_id,
            actor: context.actor.clone(),
            at: Self::now(),
            expected_version: context.expected_version,
            input,
        };
        let events = case.decide(command, &self.policy)?;
        let position = self
            .store
            .append::<A>(case_id, version, events.clone(), metadata(A::KIND, &context))
            .await
            .map_err(|error| match error {
                StoreError::Conflict => EngineError::Conflict {
                    expected_version: context.expected_version,
                },
                other => EngineError::Store(other),
            })?;
        events.into_iter().for_each(|event| case.apply(event));
        Ok(Written {
            id: case_id,
            kind: A::KIND,
            status: case.status().ok_or(CaseError::NotFound)?,
            version: case.version(),
            position,
        })
    }
}

/// What every event of a command carries beside its payload.
fn metadata(kind: Kind, context: &CommandContext) -> HashMap<String, String> {
    HashMap::from([
        ("kind".to_owned(), kind.as_str().to_owned()),
        ("actor_id".to_owned(), context.actor.id.clone()),
        ("actor_role".to_owned(), context.actor.role.as_str().to_owned()),
        ("request_id".to_owned(), context.request_id.clone()),
    ])
}

/// The aggregate as its events leave it.
fn rebuild<A: Case>(history: Vec<StoredEvent>) -> Result<A, StoreError> {
    let mut case = A::default();
    for stored in history {
        let serialized = SerializedEvent::new(
            stored.aggregate_id,
            usize::try_from(stored.sequence).map_err(|_| StoreError::Corrupt("sequence".into()))?,
            stored.kind.as_str().to_owned(),
            stored.event_type,
            stored.event_version,
            stored.payload,
            stored.metadata,
        );
        let envelope = EventEnvelope::<A>::try_from(serialized)
            .map_err(|error| StoreError::Corrupt(format!("event {}: {error}", stored.sequence)))?;
        case.apply(envelope.payload);
    }
    Ok(case)
}

fn snapshot<A: Case>(case_id: Uuid, case: &A, viewer: &Actor, at: Timestamp) -> Result<CaseSnapshot, StoreError> {
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
        allowed_actions: case.allowed_actions(viewer, at),
        overdue: case.core().is_overdue(at),
        core: case.core().clone(),
        details,
    })
}
