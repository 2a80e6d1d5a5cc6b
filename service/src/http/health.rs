//! Liveness and readiness probes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::AppState;

/// The process is up and serving.
#[utoipa::path(get, path = "/healthz", operation_id = "live", tag = "operations", security(()),
    responses((status = 200, description = "the process is up", body = Object)))]
pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The store is reachable and every migration of this build is applied.
#[utoipa::path(get, path = "/readyz", operation_id = "ready", tag = "operations", security(()),
    responses((status = 200, description = "the store is reachable and migrated", body = Object), (status = 503, description = "not ready", body = Object)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let store = state.engine.store();
    match store.is_ready().await {
        Ok(true) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "store": store.backend()})),
        ),
        Ok(false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "migrations pending", "store": store.backend()})),
        ),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "store unreachable", "store": store.backend()})),
            )
        }
    }
}
