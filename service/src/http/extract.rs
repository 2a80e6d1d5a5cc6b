//! Extractors that turn a request into typed inputs, failing through [`ApiError`] so that
//! every rejection is a problem response rather than axum's plain-text default.
//!
//! They are also the edge's one input check: no path parameter, query parameter or JSON
//! string (value or key) that reaches a handler holds a NUL, which PostgreSQL cannot store
//! (text and jsonb alike) while SQLite can; refusing it here, with 422, keeps both stores
//! answering the same and no handler has to think about it. No header value copied into an
//! event's metadata is longer than [`ID_HEADER_MAX`] or holds anything but visible ASCII.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, RawPathParams, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, IF_MATCH};
use axum::http::request::Parts;
use axum::http::StatusCode;
use domain::Timestamp;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower_http::request_id::RequestId;

use super::problem::ApiError;
use super::AppState;
use crate::access::tokens::Principal;
use crate::store::chain;
use crate::write::engine::{CommandContext, Idempotency};

/// The characters no stored text may hold: NUL, which PostgreSQL refuses in text and jsonb.
fn storable(text: &str) -> bool {
    !text.contains('\0')
}

fn unstorable(place: &'static str, name: impl Into<String>) -> ApiError {
    ApiError::Unstorable {
        place,
        name: name.into(),
    }
}

/// The path parameters, read as `T`. A path that does not parse names nothing: 404.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let not_found = ApiError::NotFound;
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|rejection| not_found(rejection.body_text()))?;
        if let Some((name, _)) = raw.iter().find(|(_, value)| !storable(value)) {
            return Err(unstorable("path", name));
        }
        let Path(value) = Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| not_found(rejection.body_text()))?;
        Ok(ApiPath(value))
    }
}

/// The query string, read as `T`; one that does not fit `T` is a 400.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let invalid =
            |rejection: axum::extract::rejection::QueryRejection| ApiError::InvalidQuery(rejection.body_text());
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map_err(invalid)?;
        if let Some((name, _)) = pairs.iter().find(|(name, value)| !storable(name) || !storable(value)) {
            return Err(unstorable("query", name.as_str()));
        }
        let Query(value) = Query::<T>::try_from_uri(&parts.uri).map_err(invalid)?;
        Ok(ApiQuery(value))
    }
}

/// The JSON pointer of the first string (value or key) in `value` that cannot be stored.
fn unstorable_pointer(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => (!storable(text)).then(String::new),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| unstorable_pointer(item).map(|rest| format!("/{index}{rest}"))),
        Value::Object(fields) => fields.iter().find_map(|(name, item)| {
            let escaped = || name.replace('~', "~0").replace('/', "~1");
            if storable(name) {
                unstorable_pointer(item).map(|rest| format!("/{}{rest}", escaped()))
            } else {
                Some(format!("/{}", escaped()))
            }
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

/// A JSON request body, read as `T`. Bad syntax is a 400; well-formed JSON of the wrong shape
/// (missing, unknown or mistyped fields) is a 422. An empty body reads as `{}`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let value = read_json(request, state).await?;
        serde_json::from_value(value)
            .map(JsonBody)
            .map_err(|error| ApiError::InvalidBody(error.to_string()))
    }
}

/// The body as untyped JSON, for handlers that pick the type from the path. A body must say
/// it is JSON (`Content-Type: application/json`, else 415); only an empty one may say nothing.
/// Any JSON but an object is a 422.
pub async fn read_json<S: Send + Sync>(request: Request, state: &S) -> Result<Value, ApiError> {
    let declared_json = match request.headers().get(CONTENT_TYPE) {
        None => false,
        Some(value) if is_json(value) => true,
        Some(_) => return Err(ApiError::UnsupportedMediaType),
    };
    let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                limit: super::BODY_LIMIT_BYTES,
            }
        } else {
            ApiError::UnreadableBody(rejection.body_text())
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    if !declared_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let mut value: Value =
        serde_json::from_slice(&bytes).map_err(|error| ApiError::MalformedJson(error.to_string()))?;
    // Every body the API takes is an object; serde would read a struct from an array too.
    if !value.is_object() {
        return Err(ApiError::InvalidBody("the body must be a JSON object".to_owned()));
    }
    read_integral_as_integer(&mut value);
    match unstorable_pointer(&value) {
        Some(pointer) => Err(unstorable("body", pointer)),
        None => Ok(value),
    }
}

/// The largest magnitude below which every integral `f64` is exact.
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// JSON Schema's `integer` holds `3.0` as well as `3`: an integral number written with a
/// fraction is read as the integer, so that what the document's schema accepts the typed
/// fields accept too.
fn read_integral_as_integer(value: &mut Value) {
    match value {
        Value::Number(number) => {
            if let Some(float) = number.as_f64().filter(|_| number.is_f64()) {
                if float.fract() == 0.0 && float.abs() < EXACT_INTEGERS {
                    *number = serde_json::Number::from(float as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(read_integral_as_integer),
        Value::Object(fields) => fields.values_mut().for_each(read_integral_as_integer),
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

fn is_json(content_type: &axum::http::HeaderValue) -> bool {
    content_type.to_str().is_ok_and(|value| {
        value
            .split(';')
            .next()
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// The principal behind the request's bearer token.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(ApiError::Unauthenticated)?;
        let principal = state
            .tokens
            .authenticate(state.engine.store(), secret)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        tracing::Span::current().record("actor", tracing::field::display(&principal.actor.id));
        Ok(Authenticated(principal))
    }
}

/// The headers a command may carry besides its token: `If-Match`, `Idempotency-Key`,
/// `X-Correlation-Id`, `X-Causation-Id` and `X-Client-Time`, checked, plus the request id.
#[derive(Debug, Clone)]
pub struct CommandHeaders {
    pub request_id: String,
    pub expected_version: Option<u64>,
    pub idempotency_key: Option<String>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub client_time: Option<Timestamp>,
}

impl CommandHeaders {
    /// The context of a command by `principal`. With `idempotent` (what the command is for,
    /// and its body) an `Idempotency-Key` is honoured, bound to a digest of both; without, it
    /// is ignored.
    pub fn context(self, principal: Principal, idempotent: Option<(&str, &Value)>) -> CommandContext {
        let idempotency = self.idempotency_key.zip(idempotent).map(|(key, (target, body))| {
            let digest = Sha256::digest(format!("{target}\n{}", chain::canonical(body)).as_bytes());
            Idempotency {
                key,
                request_digest: hex::encode(digest),
            }
        });
        CommandContext {
            principal,
            request_id: self.request_id,
            expected_version: self.expected_version,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            client_time: self.client_time,
            idempotency,
        }
    }
}

/// Longest accepted value of the id headers that reach the log (request, correlation and
/// causation ids, idempotency keys).
pub const ID_HEADER_MAX: usize = 128;

/// Whether a header value may be copied into the log: 1 to [`ID_HEADER_MAX`] visible ASCII
/// characters, so that no caller can flood or forge log lines through it.
pub fn loggable_id(value: &[u8]) -> bool {
    (1..=ID_HEADER_MAX).contains(&value.len()) && value.iter().all(u8::is_ascii_graphic)
}

fn id_header(parts: &Parts, header: &'static str) -> Result<Option<String>, ApiError> {
    let Some(value) = parts.headers.get(header) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default().trim();
    if loggable_id(value.as_bytes()) {
        Ok(Some(value.to_owned()))
    } else {
        Err(ApiError::InvalidHeader {
            header,
            reason: "expected 1 to 128 visible ASCII characters",
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CommandHeaders {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let RequestIdentity(request_id) = RequestIdentity::from_request_parts(parts, state).await?;
        let IfMatch(expected_version) = IfMatch::from_request_parts(parts, state).await?;
        let client_time = match parts.headers.get("x-client-time") {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .and_then(|value| chrono::DateTime::parse_from_rfc3339(value.trim()).ok())
                    .map(|time| time.with_timezone(&chrono::Utc))
                    .ok_or(ApiError::InvalidHeader {
                        header: "X-Client-Time",
                        reason: "expected an RFC 3339 time such as 2026-03-01T09:00:00Z",
                    })?,
            ),
        };
        Ok(CommandHeaders {
            request_id,
            expected_version,
            idempotency_key: id_header(parts, "idempotency-key")?,
            correlation_id: id_header(parts, "x-correlation-id")?,
            causation_id: id_header(parts, "x-causation-id")?,
            client_time,
        })
    }
}

/// The version named by `If-Match`, if any (`*` names none).
#[derive(Debug, Clone, Copy)]
pub struct IfMatch(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(IF_MATCH) else {
            return Ok(IfMatch(None));
        };
        let malformed = || ApiError::InvalidHeader {
            header: "If-Match",
            reason: "expected a case version such as \"3\"",
        };
        let value = value.to_str().map_err(|_| malformed())?.trim();
        if value == "*" {
            return Ok(IfMatch(None));
        }
        let version = value.strip_prefix("W/").unwrap_or(value).trim_matches('"');
        version
            .parse()
            .map(|version| IfMatch(Some(version)))
            .map_err(|_| malformed())
    }
}

/// The id of this request, as set (or passed through) by the request-id layer.
#[derive(Debug, Clone)]
pub struct RequestIdentity(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestIdentity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let id = parts
            .extensions
            .get::<RequestId>()
            .and_then(|id| id.header_value().to_str().ok())
            .unwrap_or_default();
        Ok(RequestIdentity(id.to_owned()))
    }
}
