//! What a command carries beside its input: who sends it, under which request, correlation and
//! causation, the sender's clock, the version it expects and its retry key.

use domain::Timestamp;

use crate::access::tokens::Principal;

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
