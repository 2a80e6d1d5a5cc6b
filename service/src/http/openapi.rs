//! The OpenAPI document the service serves at `/openapi.json`, generated from the handlers'
//! and types' annotations. What every operation shares is added here once: bearer security,
//! the problem responses, and the per-action bodies of `POST /cases/{id}/{action}`.

use utoipa::openapi::path::Operation;
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OneOfBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use domain::Action;

/// An RFC 9457 problem document; some problems add fields (`current_status`,
/// `allowed_actions`, `field`, `header`, `current_version`, `min_position`, `limit`, `rule`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Describes the JSON that `problem.rs` writes; never built as a value.
pub struct ProblemDocument {
    /// A URI reference naming the kind of problem, such as `/problems/illegal-transition`.
    #[schema(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
}

/// The statuses any operation may answer with a problem document, and what they mean.
const PROBLEMS: [(&str, &str); 12] = [
    ("400", "malformed request: JSON, query or header"),
    ("401", "no valid bearer token"),
    ("403", "the caller's role may not do this"),
    (
        "404",
        "unknown case, member, route or action, or a case the caller may not see",
    ),
    ("405", "method not allowed"),
    (
        "409",
        "illegal transition (with current_status and allowed_actions), duplicate, or a concurrent write",
    ),
    ("412", "If-Match names a stale version; nothing was written"),
    ("413", "request body too large"),
    (
        "415",
        "request body is not JSON, or is sent without Content-Type: application/json",
    ),
    (
        "422",
        "a field or parameter is invalid (a NUL in any path or query parameter or JSON string), \
         or an Idempotency-Key was reused for another request",
    ),
    ("429", "rate limited; see Retry-After"),
    (
        "503",
        "store unavailable, projection behind min_position, or timed out; see Retry-After",
    ),
];

/// The input schema of each action, by action name.
fn action_body(action: Action) -> &'static str {
    match action {
        Action::Relay | Action::CompletePreparation | Action::CompleteResearch => "Note",
        Action::Decline | Action::Object | Action::Insist | Action::RefuseExtension => "Reason",
        Action::Escalate => "Escalate",
        Action::Reopen => "Reopen",
        Action::Acknowledge => "Acknowledge",
        Action::RequestExtension => "RequestExtension",
        Action::GrantExtension => "GrantExtension",
        Action::Contribute => "Contribute",
        Action::Reply => "Reply",
        Action::Feedback | Action::Evaluate => "Feedback",
        Action::Classify => "Classify",
        Action::Assign => "Assign",
        Action::Reassign => "Reassign",
        Action::Convene => "Convene",
        Action::RecordVisit => "RecordVisit",
        Action::Consult => "Consult",
        Action::SubmitReport => "SubmitReport",
        Action::Adopt => "Adopt",
        Action::RecordPolicy => "RecordPolicy",
        Action::Close => "Close",
        Action::Withdraw => "Withdraw",
        Action::Merge => "Merge",
    }
}

struct Shared;

impl Modify for Shared {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let problem = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ProblemDocument")))
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations: [&mut Option<Operation>; 3] = [&mut item.get, &mut item.post, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                if operation.security.is_none() {
                    operation.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
                        "bearer",
                        Vec::<String>::new(),
                    )]);
                }
                for (status, description) in PROBLEMS {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(description)
                                .content("application/problem+json", problem.clone())
                                .build()
                                .into()
                        });
                }
                if path == "/api/v1/cases/{id}/{action}" {
                    let mut one_of = OneOfBuilder::new().description(Some(
                        "the body of the action named in the path: relay, complete_preparation, complete_research take Note; \
                         decline, object, insist, refuse_extension take Reason; evaluate takes Feedback; every other action \
                         takes the schema of its own name",
                    ));
                    let mut names: Vec<&str> = Action::ALL.into_iter().map(action_body).collect();
                    names.sort_unstable();
                    names.dedup();
                    for name in names {
                        one_of = one_of.item(Ref::from_schema_name(name));
                    }
                    operation.request_body = Some(
                        RequestBodyBuilder::new()
                            .content("application/json", ContentBuilder::new().schema(Some(one_of)).build())
                            .required(Some(utoipa::openapi::Required::True))
                            .build(),
                    );
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "lianxin 连心", description = "Case workflow engine for a city political consultative conference: \
        citizens' suggestions, micro-consultations and joint-research topics as event-sourced cases."),
    paths(
        super::cases::submit, super::cases::act, super::cases::show, super::cases::state_as_of, super::cases::history,
        super::read_models::list, super::read_models::outcomes, super::read_models::overdue,
        super::read_models::assessment, super::read_models::member_record, super::read_models::log_contact,
        super::read_models::projections, super::audit::events, super::audit::verify,
        super::public::submit, super::public::status, super::public::feedback,
        super::health::live, super::health::ready, super::prometheus, super::openapi_document,
        super::dashboard::page, super::reports::publish, super::reports::list, super::reports::show,
    ),
    components(schemas(
        ProblemDocument,
        domain::Note, domain::Reason, domain::Classify, domain::Assign, domain::Reassign, domain::Convene,
        domain::RecordVisit, domain::Consult, domain::SubmitReport, domain::Adopt, domain::RecordPolicy,
        domain::Close, domain::Feedback, domain::Withdraw, domain::Merge, domain::Escalate, domain::Reopen,
        domain::Acknowledge, domain::RequestExtension, domain::GrantExtension, domain::Contribute, domain::Reply,
        domain::HandlingLevel,
    )),
    modifiers(&Shared),
)]
pub struct ApiDoc;
