//! The one place where failures become HTTP responses: RFC 9457 problem details
//! (`application/problem+json`) with `type`, `title`, `status`, `detail` and fields that help
//! the caller. Callers see a clear message; the log gets the cause chain, once, for failures
//! that are ours (5xx).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::member_record::MemberError;
use domain::CaseError;
use serde_json::{Map, Value};

use crate::access::units::UnitError;
use crate::access::Denied;
use crate::read::ProjectorError;
use crate::store::StoreError;
use crate::write::engine::EngineError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the request body could not be read: {0}")]
    UnreadableBody(String),
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body does not fit this operation: {0}")]
    InvalidBody(String),
    #[error("the query is malformed: {0}")]
    InvalidQuery(String),
    #[error("`{name}` in the {place} holds a NUL character, which cannot be stored")]
    Unstorable { place: &'static str, name: String },
    #[error("the `{header}` header is malformed: {reason}")]
    InvalidHeader { header: &'static str, reason: &'static str },
    #[error("a valid bearer token is required")]
    Unauthenticated,
    #[error("{0}")]
    NotFound(String),
    #[error("no route for {method} {path}")]
    NoRoute { method: String, path: String },
    #[error("{method} is not allowed on this resource")]
    MethodNotAllowed { method: String },
    #[error("the request took too long and was abandoned")]
    TimedOut,
    #[error("too many requests from this address; try again in {retry_after} s")]
    RateLimited { retry_after: u32 },
    #[error("the connection's peer address is unknown: the service is served without it")]
    NoPeerAddress,
    #[error("no randomness for a tracking code: {0}")]
    NoRandomness(String),
    #[error("the export could not be written: {0}")]
    Export(String),
    #[error("the `{projection}` projection has not reached position {position} yet")]
    ProjectionBehind { projection: &'static str, position: i64 },
    #[error(transparent)]
    Projector(#[from] ProjectorError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Unit(#[from] UnitError),
}

impl ApiError {
    /// The store's failure behind this error, if it is one.
    pub(super) fn store_error(&self) -> Option<&StoreError> {
        match self {
            ApiError::Engine(EngineError::Store(error)) | ApiError::Projector(ProjectorError::Store(error)) => {
                Some(error)
            }
            _ => None,
        }
    }
}

impl From<CaseError> for ApiError {
    fn from(error: CaseError) -> Self {
        ApiError::Engine(EngineError::Refused(error))
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        ApiError::Engine(EngineError::Denied(denied))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::Engine(EngineError::Store(error))
    }
}

/// A problem response under construction.
struct Problem {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    fields: Map<String, Value>,
    retry_after: Option<u32>,
}

impl Problem {
    fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: impl ToString) -> Self {
        Problem {
            status,
            slug,
            title,
            detail: detail.to_string(),
            fields: Map::new(),
            retry_after: None,
        }
    }

    fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(name.to_owned(), value.into());
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = self.fields;
        body.insert("type".into(), format!("/problems/{}", self.slug).into());
        body.insert("title".into(), self.title.into());
        body.insert("status".into(), self.status.as_u16().into());
        body.insert("detail".into(), self.detail.into());
        let mut response = (self.status, axum::Json(Value::Object(body))).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was never read, so the connection is closed after this
            // answer; said so, a client does not send its next request into it.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

fn names<T: ToString>(items: &[T]) -> Value {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().into()
}

fn refusal(error: &CaseError) -> Problem {
    let detail = error.to_string();
    match error {
        CaseError::AlreadyExists => Problem::new(StatusCode::CONFLICT, "duplicate", "Duplicate", detail),
        CaseError::NotFound => Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail),
        CaseError::NotAllowed { status, allowed, .. } => Problem::new(
            StatusCode::CONFLICT,
            "illegal-transition",
            "Action not allowed in this status",
            detail,
        )
        .with("current_status", status.as_str())
        .with("allowed_actions", names(allowed)),
        CaseError::RuleBroken {
            status, rule, allowed, ..
        } => Problem::new(
            StatusCode::CONFLICT,
            "illegal-transition",
            "Action refused by a rule",
            detail,
        )
        .with("current_status", status.as_str())
        .with("allowed_actions", names(allowed))
        .with("rule", rule.to_string()),
        CaseError::Forbidden { .. } => Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail),
        CaseError::InvalidField { field, .. } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            "Invalid field",
            detail,
        )
        .with("field", *field),
        CaseError::VersionMismatch { actual, .. } => Problem::new(
            StatusCode::PRECONDITION_FAILED,
            "version-mismatch",
            "The case has changed",
            detail,
        )
        .with("current_version", *actual),
    }
}

fn store_failure(error: &StoreError) -> Problem {
    match error {
        StoreError::Unavailable(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store-unavailable",
            "Store unavailable",
            "the event store cannot be reached; try again shortly",
        )
        .retry_after(1),
        _ => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the request failed on our side; it has been logged",
        ),
    }
}

impl ApiError {
    fn problem(&self) -> Problem {
        let detail = self.to_string();
        match self {
            ApiError::MalformedJson(_) | ApiError::UnreadableBody(_) | ApiError::InvalidQuery(_) => {
                Problem::new(StatusCode::BAD_REQUEST, "malformed", "Malformed request", detail)
            }
            ApiError::InvalidHeader { header, .. } => {
                Problem::new(StatusCode::BAD_REQUEST, "malformed", "Malformed request", detail).with("header", *header)
            }
            ApiError::UnsupportedMediaType => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                detail,
            ),
            ApiError::PayloadTooLarge { limit } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request body too large",
                detail,
            )
            .with("limit", *limit),
            ApiError::InvalidBody(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-field",
                "Invalid field",
                detail,
            ),
            ApiError::Unstorable { name, .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-field",
                "Invalid field",
                detail,
            )
            .with("field", name.as_str()),
            ApiError::Unauthenticated => {
                Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Unauthenticated", detail)
            }
            ApiError::NotFound(_) | ApiError::NoRoute { .. } => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
            }
            ApiError::MethodNotAllowed { .. } => Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                detail,
            ),
            ApiError::Engine(EngineError::Refused(error)) => refusal(error),
            ApiError::Engine(EngineError::Denied(Denied::Hidden)) => refusal(&CaseError::NotFound),
            ApiError::Engine(EngineError::Denied(Denied::Forbidden(_))) => {
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
            }
            ApiError::Engine(EngineError::MemberRefused(MemberError::Forbidden)) => {
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
            }
            ApiError::Engine(EngineError::MemberRefused(MemberError::InvalidField { field, .. })) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-field",
                "Invalid field",
                detail,
            )
            .with("field", *field),
            ApiError::Engine(EngineError::MemberRefused(MemberError::NotRegistered)) => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
            }
            ApiError::Engine(EngineError::MemberRefused(
                MemberError::AlreadyRegistered | MemberError::Left | MemberError::YearClosed(_),
            )) => Problem::new(StatusCode::CONFLICT, "member-conflict", "Not possible now", detail),
            ApiError::Engine(EngineError::MemberRefused(MemberError::OutsideTerm { first, last, .. })) => Problem::new(
                StatusCode::CONFLICT,
                "outside-term",
                "Outside the member's term",
                detail,
            )
            .with("term_start", first.to_string())
            .with("term_last_day", last.to_string()),
            ApiError::Engine(EngineError::Conflict {
                expected_version: Some(expected),
            }) => Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "version-mismatch",
                "The case has changed",
                format!("another writer changed the case after version {expected}"),
            ),
            ApiError::Engine(EngineError::Conflict { expected_version: None }) => Problem::new(
                StatusCode::CONFLICT,
                "concurrent-write",
                "Concurrent write",
                "another writer changed the case at the same moment; reload it and try again",
            ),
            ApiError::Engine(EngineError::IdempotencyKeyReused) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency key reused",
                detail,
            )
            .with("header", "Idempotency-Key"),
            ApiError::Engine(EngineError::Store(StoreError::UnknownPosition(_))) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-field",
                "Invalid field",
                detail,
            )
            .with("field", "after"),
            ApiError::Projector(ProjectorError::Store(StoreError::UnknownPosition(_))) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-field",
                "Invalid field",
                detail,
            )
            .with("field", "min_position"),
            ApiError::Engine(EngineError::Store(error)) | ApiError::Projector(ProjectorError::Store(error)) => {
                store_failure(error)
            }
            ApiError::RateLimited { retry_after } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                detail,
            )
            .retry_after(*retry_after),
            ApiError::TimedOut => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "timed-out", "Timed out", detail).retry_after(1)
            }
            ApiError::Export(_) => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the export could not be written",
            ),
            ApiError::NoRandomness(_) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no-randomness",
                "Service unavailable",
                "no tracking code could be made; try again shortly",
            ),
            ApiError::ProjectionBehind { position, .. } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "projection-behind",
                "Read model not caught up",
                detail,
            )
            .with("min_position", *position)
            .retry_after(1),
            ApiError::Projector(ProjectorError::UnknownProjection(_)) => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
            }
            ApiError::Unit(UnitError::Exists(_)) => {
                Problem::new(StatusCode::CONFLICT, "duplicate", "Duplicate", detail).with("field", "id")
            }
            ApiError::Unit(UnitError::Unknown(_)) => {
                Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
            }
            ApiError::Unit(UnitError::Invalid { field, .. }) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-field",
                "Invalid field",
                detail,
            )
            .with("field", *field),
            ApiError::Unit(UnitError::LevelMismatch) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-field",
                "Invalid field",
                detail,
            )
            .with("field", "jurisdiction"),
            ApiError::Unit(UnitError::Store(error)) => store_failure(error),
            ApiError::NoPeerAddress
            | ApiError::Projector(ProjectorError::InjectedFault(_) | ProjectorError::Cells(_)) => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "the request failed on our side; it has been logged",
            ),
        }
    }
}

/// Logs the whole cause chain of a failure that is ours.
fn log_failure(error: &dyn std::error::Error) {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    tracing::error!(error = %chain, "request failed");
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        if problem.status.is_server_error() {
            log_failure(&self);
        } else {
            tracing::debug!(status = problem.status.as_u16(), detail = %problem.detail, "request refused");
        }
        problem.into_response()
    }
}
