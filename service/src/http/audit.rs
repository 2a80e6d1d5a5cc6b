//! Audit endpoints: the global log in order, and verification of every hash chain.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::cases::HistoryEntry;
use super::extract::{ApiQuery, Authenticated};
use super::problem::ApiError;
use super::read_models::lag_tolerant;
use super::AppState;
use crate::access::{self, Operation};
use crate::audit::{self, VerifyReport};

const DEFAULT_PAGE: i64 = 100;
const MAX_PAGE: i64 = 1_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// The position of the last event already read; 0 (the default) reads from the start.
    /// The position of the last event already read; 0 by default.
    #[param(minimum = 0)]
    after: Option<i64>,
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

#[derive(utoipa::ToSchema, Debug, Serialize)]
pub struct LogPage {
    events: Vec<HistoryEntry>,
    /// The `after` for the next page: the position of this page's last event.
    next_after: i64,
}

#[utoipa::path(get, path = "/api/v1/audit/events", operation_id = "audit_events", tag = "audit", params(LogQuery),
    responses((status = 200, description = "a page of the global log, in order", body = LogPage)))]
pub async fn events(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Json<LogPage>, ApiError> {
    access::check(&principal, Operation::ReadAuditLog)?;
    let after = query.after.unwrap_or(0);
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if after < 0 {
        return Err(ApiError::InvalidQuery("`after` is a position, 0 or more".to_owned()));
    }
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::InvalidQuery(format!("`limit` is from 1 to {MAX_PAGE}")));
    }
    let events = lag_tolerant(&state, None, move |store| async move {
        Ok(store.log_after(after, limit).await?)
    })
    .await?;
    let next_after = events.last().map_or(after, |event| event.position);
    Ok(Json(LogPage {
        events: events.into_iter().map(HistoryEntry::from).collect(),
        next_after,
    }))
}

#[utoipa::path(get, path = "/api/v1/audit/verify", operation_id = "audit_verify", tag = "audit",
    responses((status = 200, description = "every hash chain recomputed", body = VerifyReport)))]
pub async fn verify(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<VerifyReport>, ApiError> {
    access::check(&principal, Operation::ReadAuditLog)?;
    Ok(Json(audit::verify(state.engine.store(), |_| {}).await?))
}
