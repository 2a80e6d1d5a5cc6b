//! The HTTP API: routes, shared state, and the layers every request passes (request id,
//! tracing span, metrics, time limit, body limit, security headers). Handlers stay thin:
//! extract, call the [`Engine`], shape JSON. Every action is a route of its own
//! (`POST /api/v1/cases/{id}/close`), registered from [`Action::ALL`] onto the one handler
//! `cases::act`, so a new action is routed without a line here.
//!
//! What a caller sends reaches the log and the metrics only through closed sets or checks: a
//! request id that is not 1 to 128 visible ASCII characters is replaced by a generated one
//! before anything logs it; metrics are labelled by a known method or `other`, the matched
//! route template or `unmatched`, and the status. Every response, the page, the API, a 404 or
//! a 401 alike, carries the security headers of [`security_headers`].

mod audit;
mod cases;
mod client;
mod dashboard;
mod departments;
mod exports;
mod extract;
mod health;
mod members;
mod openapi;
mod print;
mod problem;
mod public;
mod rate_limit;
mod read_models;
mod reports;
pub mod serve;
mod transparency;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use axum::http::{HeaderName, HeaderValue, Method, Uri};
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use client::{InvalidIpNet, IpNet, TrustedProxies};
pub use problem::ApiError;
pub use rate_limit::RateLimits;

use crate::access::tokens::TokenCache;
use crate::audit::TransparencyLog;
use crate::read::{Projector, ReadStores};
use crate::write::engine::Engine;
use domain::Action;
use members::MemberCommand;
use projections::Quotas;

/// Large enough for a 20,000-character body in any script, JSON-escaped.
pub const BODY_LIMIT_BYTES: usize = 256 * 1024;

/// What the handlers reach, shared: axum clones the state for each extractor and middleware
/// that takes it, so a clone must cost one reference count, not one per service.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> Self {
        AppState(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

#[derive(Debug)]
pub struct Services {
    pub engine: Arc<Engine>,
    pub projector: Projector,
    pub quotas: Arc<Quotas>,
    pub limits: RateLimits,
    pub trusted_proxies: TrustedProxies,
    pub transparency: TransparencyLog,
    /// Tokens recently looked up: most requests authenticate without a statement.
    pub tokens: Arc<TokenCache>,
    /// Where reads that tolerate lag go: the read standby, if any, else the primary.
    pub reads: ReadStores,
}

pub fn router(state: AppState) -> Router {
    // One route per action, all served by one handler that is told which action it serves.
    let actions = Action::ALL.into_iter().fold(Router::new(), |router, action| {
        router.route(
            &format!("/api/v1/cases/{{id}}/{action}"),
            post(move |state, id, principal, headers, request| {
                cases::act(action, state, id, principal, headers, request)
            }),
        )
    });
    // The same for the member registry's and duty years' commands.
    let commands = MemberCommand::ALL.into_iter().fold(actions, |router, command| {
        router.route(
            &format!("/api/v1/members/{{id}}/{}", command.as_str()),
            post(move |state, id, principal, headers, request| {
                members::command(command, state, id, principal, headers, request)
            }),
        )
    });
    commands
        .route("/api/v1/cases", post(cases::submit).get(read_models::list))
        .route("/api/v1/cases/{id}", get(cases::show))
        .route("/api/v1/cases/{id}/history", get(cases::history))
        .route("/api/v1/cases/{id}/state", get(cases::state_as_of))
        .route("/api/v1/outcomes", get(read_models::outcomes))
        .route("/api/v1/overdue", get(read_models::overdue))
        .route("/api/v1/departments", get(departments::list).post(departments::add))
        .route("/api/v1/departments/{id}", patch(departments::rename))
        .route("/api/v1/departments/me", get(departments::me))
        .route("/api/v1/names", get(departments::names))
        .route("/api/v1/departments/scorecards", get(departments::scorecards))
        .route("/api/v1/departments/{id}/queue", get(departments::queue))
        .route("/api/v1/departments/{id}/scorecard", get(departments::scorecard))
        .route("/api/v1/reports", post(reports::publish).get(reports::list))
        .route("/api/v1/reports/{id}", get(reports::show))
        .route("/api/v1/reports/{id}/print", get(print::page))
        .route("/reports/{id}/print", get(print::short))
        .route("/api/v1/members/assessment", get(read_models::assessment))
        .route("/api/v1/members/{id}/record", get(read_models::member_record))
        .route("/api/v1/members/{id}/contacts", post(read_models::log_contact))
        .route("/api/v1/members/{id}/archive", get(members::archive))
        .route("/api/v1/members", post(members::register).get(members::list))
        .route("/api/v1/members/{id}", get(members::show))
        .route("/api/v1/projections", get(read_models::projections))
        .route("/api/v1/audit/events", get(audit::events))
        .route("/api/v1/audit/verify", get(audit::verify))
        .route(
            "/api/v1/audit/checkpoint",
            get(transparency::latest).post(transparency::cut),
        )
        .route("/api/v1/audit/proof/inclusion", get(transparency::inclusion))
        .route("/api/v1/audit/proof/consistency", get(transparency::consistency))
        .route("/api/v1/public/suggestions/{id}/proof", get(transparency::public_proof))
        .route("/api/v1/public/suggestions", post(public::submit))
        .route("/api/v1/public/suggestions/{id}", get(public::status))
        .route("/api/v1/public/suggestions/{id}/feedback", post(public::feedback))
        .route("/", get(dashboard::page))
        .route("/openapi.json", get(openapi_document))
        .route("/metrics", get(prometheus))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(axum::middleware::from_fn(time_limit))
        .layer(axum::middleware::from_fn(count_request))
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::map_response(security_headers))
                .layer(axum::middleware::map_request(drop_unloggable_request_id))
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(DefaultOnResponse::new().level(Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
        .with_state(state)
}

/// One span per request, named by its route (not its path, so ids do not explode cardinality).
fn request_span(request: &Request) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = method_label(request.method()),
        route,
        request_id,
        actor = tracing::field::Empty,
    )
}

/// The methods counted by name; any other is `other`, so that made-up methods add no series.
static KNOWN_METHODS: [Method; 9] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
    Method::TRACE,
    Method::CONNECT,
];

fn method_label(method: &Method) -> &'static str {
    KNOWN_METHODS
        .iter()
        .find(|known| *known == method)
        .map_or("other", Method::as_str)
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request id the log must not carry is dropped, so the request-id layer makes a new one.
async fn drop_unloggable_request_id(mut request: Request) -> Request {
    let headers = request.headers_mut();
    if headers
        .get_all(X_REQUEST_ID)
        .iter()
        .any(|value| !extract::loggable_id(value.as_bytes()))
    {
        headers.remove(X_REQUEST_ID);
    }
    request
}

/// The policy of every response but the dashboard page (which sets its own): nothing may be
/// loaded, framed or submitted on the strength of an API answer.
const API_CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Security headers on every response; a handler's own value of one wins.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (X_FRAME_OPTIONS, "DENY"),
        (REFERRER_POLICY, "no-referrer"),
        (CONTENT_SECURITY_POLICY, API_CONTENT_SECURITY_POLICY),
    ] {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    response
}

/// Counts every request and its latency by method, route (never the raw path) and status.
async fn count_request(request: Request, next: axum::middleware::Next) -> axum::response::Response {
    let method = method_label(request.method()).to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("lianxin_http_requests_total", &labels).increment(1);
    metrics::histogram!("lianxin_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics", security(()),
    responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain")))]
pub async fn prometheus() -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::metrics().render(),
    )
}

#[utoipa::path(get, path = "/openapi.json", tag = "operations", operation_id = "openapi", security(()),
    responses((status = 200, description = "this document", body = Object)))]
pub async fn openapi_document() -> ([(axum::http::HeaderName, &'static str); 1], &'static str) {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        openapi::DOCUMENT.as_str(),
    )
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NoRoute {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
    }
}

/// The longest a request may take before it is answered 503; reads that wait for a
/// projection give up well before (5 s).
const REQUEST_TIME_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

async fn time_limit(request: Request, next: axum::middleware::Next) -> axum::response::Response {
    match tokio::time::timeout(REQUEST_TIME_LIMIT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => axum::response::IntoResponse::into_response(ApiError::TimedOut),
    }
}
