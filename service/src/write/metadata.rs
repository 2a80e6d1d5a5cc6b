//! What every event of a command carries beside its payload: the one place the write side
//! names metadata. Who acted and in which role, under which request, correlation and causation,
//! the command's own id, the sender's clock, the idempotency key with the digest of its
//! request, the case's status after the command or the member a record belongs to. The chain's
//! `prev_hash` and `hash` are added by the store as it writes ([`crate::store::chain`]).

use domain::Status;
use projections::meta;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::write::context::CommandContext;

/// The digest of the request an idempotency key was first used for.
pub const REQUEST_DIGEST: &str = "request_digest";
pub const IDEMPOTENCY_KEY: &str = "idempotency_key";
/// The member whose duty record a contact event belongs to.
pub const MEMBER_ID: &str = "member_id";

/// The metadata of one command's events.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMetadata(Map<String, Value>);

impl EventMetadata {
    /// What a command sent in `context` records for an aggregate of `aggregate_type`. The bulk
    /// generator passes command ids of its own, so that its log is the same for the same seed.
    pub fn new(aggregate_type: &str, context: &CommandContext, command_id: Uuid) -> Self {
        let text = |text: &str| Value::String(text.to_owned());
        let command_id = command_id.to_string();
        let actor = &context.principal.actor;
        let mut fields = Map::new();
        fields.insert(meta::KIND.to_owned(), text(aggregate_type));
        fields.insert(meta::ACTOR_ID.to_owned(), text(&actor.id));
        fields.insert(meta::ACTOR_ROLE.to_owned(), text(actor.role.as_str()));
        fields.insert(meta::REQUEST_ID.to_owned(), text(&context.request_id));
        let correlation = context.correlation_id.as_ref().unwrap_or(&context.request_id);
        fields.insert("correlation_id".to_owned(), text(correlation));
        let causation = context.causation_id.as_ref().unwrap_or(&command_id);
        fields.insert("causation_id".to_owned(), text(causation));
        fields.insert("command_id".to_owned(), Value::String(command_id));
        if let Some(client_time) = context.client_time {
            fields.insert("client_time".to_owned(), Value::String(client_time.to_rfc3339()));
        }
        if let Some(idempotency) = &context.idempotency {
            fields.insert(IDEMPOTENCY_KEY.to_owned(), text(&idempotency.key));
            fields.insert(REQUEST_DIGEST.to_owned(), text(&idempotency.request_digest));
        }
        EventMetadata(fields)
    }

    /// The case's status once the command's events are applied, as the domain decided it.
    pub fn with_status(mut self, status: Status) -> Self {
        self.0
            .insert(meta::STATUS.to_owned(), Value::String(status.as_str().to_owned()));
        self
    }

    /// The member whose duty record the events belong to.
    pub fn with_member(mut self, member_id: &str) -> Self {
        self.0.insert(MEMBER_ID.to_owned(), Value::String(member_id.to_owned()));
        self
    }

    pub fn fields(&self) -> &Map<String, Value> {
        &self.0
    }
}
