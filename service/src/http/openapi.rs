//! The OpenAPI document the service serves at `/openapi.json`: a contract clients are
//! generated from, so it states every rule the service enforces.
//!
//! It starts from the handlers' and types' utoipa annotations and is then completed here, once
//! for every operation: bearer security, the request headers, the problem responses an
//! operation can give, one operation per action, the field rules of the request bodies, and
//! the links from a submission to the case's actions, state and history. It is built once and
//! served as the same bytes every time (object keys sorted, as `serde_json` keeps them).
//!
//! Adding an action to the document is one line: its arm in [`action_doc`] (the match is
//! exhaustive, so a new [`Action`] does not compile without it); a new body type's field rules
//! go in [`FIELD_RULES`]. The route comes from [`Action::ALL`] by itself.
//!
//! Rules no schema can state are said in descriptions and answered with their own statuses:
//! an action's precondition (409 with `allowed_actions`), a deadline in the future, a
//! `min_position` or `after` that must name a logged event, `to` after `from`.

use std::sync::LazyLock;

use super::members::MemberCommand;
use domain::validate::{BODY_MAX, DAYS_MAX, LIST_MAX, NAME_MAX, TEXT_MAX, TITLE_MAX};
use domain::{Action, Kind};
use serde_json::{json, Map, Value};
use utoipa::{OpenApi, ToSchema};

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

/// The document, serialized once.
pub static DOCUMENT: LazyLock<String> = LazyLock::new(|| document().to_string());

/// Who an operation is for: the document's tags.
const STAFF: &[&str] = &["staff"];
const MEMBERS: &[&str] = &["members"];
const PROPOSER_OR_STAFF: &[&str] = &["staff", "public"];
const DEPARTMENTS: &[&str] = &["departments"];
const PROPOSERS: &[&str] = &["public", "members"];

/// How the document describes one action's operation.
struct ActionDoc {
    summary: &'static str,
    audience: &'static [&'static str],
    kinds: &'static [Kind],
    body_name: String,
    body_schemas: Vec<(String, Value)>,
    example: Value,
}

impl ActionDoc {
    fn new<Body: ToSchema>(
        audience: &'static [&'static str],
        kinds: &'static [Kind],
        summary: &'static str,
        example: Value,
    ) -> Self {
        let (body_name, body_schemas) = body_schemas::<Body>();
        ActionDoc {
            summary,
            audience,
            kinds,
            body_name,
            body_schemas,
            example,
        }
    }
}

/// A body type's name and the schemas it needs (its own first).
fn body_schemas<Body: ToSchema>() -> (String, Vec<(String, Value)>) {
    let mut schemas = vec![(Body::name().into_owned(), Body::schema())];
    Body::schemas(&mut schemas);
    let schemas = schemas
        .into_iter()
        .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap_or_default()))
        .collect();
    (Body::name().into_owned(), schemas)
}

/// How the document describes one member command: its summary, body and an example.
struct MemberCommandDoc {
    summary: &'static str,
    body_name: String,
    body_schemas: Vec<(String, Value)>,
    example: Value,
}

impl MemberCommandDoc {
    fn new<Body: ToSchema>(summary: &'static str, example: Value) -> Self {
        let (body_name, body_schemas) = body_schemas::<Body>();
        MemberCommandDoc {
            summary,
            body_name,
            body_schemas,
            example,
        }
    }
}

/// Every member command's operation, one line each.
#[rustfmt::skip]
fn member_command_doc(command: MemberCommand) -> MemberCommandDoc {
    use domain::member_registry::{ChangeMember, Leave, RecordActivity, Register, YearDecision};
    match command {
        MemberCommand::Register => MemberCommandDoc::new::<Register>("Register the member (its id in the path); 409 if registered already", json!({"name": "王建国", "sector": "农业和农村界", "level": "city", "term_start": "2023-01-01", "term_end": "2027-12-31"})),
        MemberCommand::Change => MemberCommandDoc::new::<ChangeMember>("Change the member's sector, level or jurisdiction", json!({"sector": "经济界"})),
        MemberCommand::Leave => MemberCommandDoc::new::<Leave>("The member leaves the committee; no duty is counted after the day", json!({"on": "2026-06-30", "reason": "工作调动"})),
        MemberCommand::Activities => MemberCommandDoc::new::<RecordActivity>("Record a duty activity a deployment counts beyond cases", json!({"activity": "training", "date": "2026-03-12", "note": "参加委员培训"})),
        MemberCommand::ReminderTalks => MemberCommandDoc::new::<YearDecision>("Record the reminder talk 约谈提醒 held for a duty year", json!({"year": 2025, "reason": "履职未达标"})),
        MemberCommand::Resignations => MemberCommandDoc::new::<YearDecision>("Record the start of the resignation procedure 启动请辞程序", json!({"year": 2025, "reason": "连续两年未达标"})),
        MemberCommand::ReopenedYears => MemberCommandDoc::new::<YearDecision>("Re-open a closed duty year for late entries, with the reason", json!({"year": 2025, "reason": "补录线下活动"})),
    }
}

/// Every action's operation, one line each: audience, kinds, summary, an example body.
#[rustfmt::skip]
fn action_doc(action: Action) -> ActionDoc {
    use domain::{
        Acknowledge, Adopt, Assign, Classify, Close, Consult, Contribute, Convene, Escalate, Feedback, GrantExtension,
        Merge, Note, Reason, Reassign, RecordPolicy, RecordVisit, Reopen, Reply, RequestExtension, SubmitReport,
        Withdraw,
    };
    use Kind::{JointResearch as J, MicroConsultation as M, Suggestion as S};
    const ALL: &[Kind] = &Kind::ALL;
    match action {
        Action::Relay => ActionDoc::new::<Note>(MEMBERS, &[S], "A member carries the voice (委员有反映)", json!({"note": "街坊反映属实"})),
        Action::Classify => ActionDoc::new::<Classify>(STAFF, &[S], "Set the category", json!({"category": "城市管理"})),
        Action::Assign => ActionDoc::new::<Assign>(STAFF, ALL, "Assign to a responsible department", json!({"department": "市住建局"})),
        Action::Reassign => ActionDoc::new::<Reassign>(STAFF, &[S], "Move to another department", json!({"department": "市交通局", "reason": "职责调整"})),
        Action::Escalate => ActionDoc::new::<Escalate>(STAFF, &[S], "Escalate an overdue case, to the city level (市旗联动)", json!({"reason": "逾期未办", "level": "city", "department": "市住建局"})),
        Action::Convene => ActionDoc::new::<Convene>(STAFF, &[M], "Hold a consultation session", json!({"venue": "协商议事室", "participants": ["居民代表"]})),
        Action::CompletePreparation => ActionDoc::new::<Note>(STAFF, &[J], "End the preparation phase", json!({"note": "方案已定"})),
        Action::RecordVisit => ActionDoc::new::<RecordVisit>(STAFF, &[J], "Record a field visit", json!({"place": "城东社区", "findings": "设施老化"})),
        Action::CompleteResearch => ActionDoc::new::<Note>(STAFF, &[J], "End the research phase", json!({"note": "调研完成"})),
        Action::Consult => ActionDoc::new::<Consult>(STAFF, ALL, "Record a consultation", json!({"note": "与部门沟通", "participants": ["办理处室"]})),
        Action::SubmitReport => ActionDoc::new::<SubmitReport>(STAFF, &[J], "Submit the research report", json!({"title": "调研报告", "recommendations": ["加快改造"]})),
        Action::Adopt => ActionDoc::new::<Adopt>(STAFF, ALL, "Record adoption by a body", json!({"by": "市政府", "extent": "full"})),
        Action::RecordPolicy => ActionDoc::new::<RecordPolicy>(STAFF, &[J], "Record a policy that followed", json!({"title": "老旧小区改造办法"})),
        Action::Decline => ActionDoc::new::<Reason>(STAFF, &[S], "Decline to adopt", json!({"reason": "不具备条件"})),
        Action::Close => ActionDoc::new::<Close>(STAFF, ALL, "Close with an outcome and an answer", json!({"outcome": "A", "summary": "已完成改造"})),
        Action::Feedback => ActionDoc::new::<Feedback>(PROPOSER_OR_STAFF, &[S, M], "Rate the answer", json!({"rating": "satisfied"})),
        Action::Reopen => ActionDoc::new::<Reopen>(PROPOSER_OR_STAFF, &[S], "Reopen after an unsatisfied rating (重办), to the same or another unit", json!({"reason": "问题仍在", "department": "市交通局"})),
        Action::Acknowledge => ActionDoc::new::<Acknowledge>(DEPARTMENTS, ALL, "The lead unit signs for the case (签收)", json!({})),
        Action::Object => ActionDoc::new::<Reason>(DEPARTMENTS, ALL, "The lead unit objects to the assignment within its window (退回)", json!({"reason": "不属于本单位职责"})),
        Action::Insist => ActionDoc::new::<Reason>(STAFF, ALL, "Staff keep the assignment the unit objected to", json!({"reason": "属于本单位职责"})),
        Action::RequestExtension => ActionDoc::new::<RequestExtension>(DEPARTMENTS, ALL, "The lead unit asks for more time before the deadline (申请延期)", json!({"days": 10, "reason": "需协调多个部门"})),
        Action::GrantExtension => ActionDoc::new::<GrantExtension>(STAFF, ALL, "Grant the extension asked for (or fewer days)", json!({"days": 10})),
        Action::RefuseExtension => ActionDoc::new::<Reason>(STAFF, ALL, "Refuse the extension asked for", json!({"reason": "时限内可以办结"})),
        Action::Contribute => ActionDoc::new::<Contribute>(DEPARTMENTS, ALL, "A co-handling unit gives its opinion before the lead replies (协办意见)", json!({"opinion": "同意主办单位方案"})),
        Action::Reply => ActionDoc::new::<Reply>(DEPARTMENTS, ALL, "The lead unit replies (答复) with the grade it proposes", json!({"content": "已完成增容", "proposed_outcome": "A", "measures": "更换变压器"})),
        Action::Evaluate => ActionDoc::new::<Feedback>(PROPOSERS, ALL, "The proposer evaluates the unit's reply", json!({"rating": "satisfied"})),
        Action::Withdraw => ActionDoc::new::<Withdraw>(PROPOSER_OR_STAFF, &[S], "Withdraw before assignment", json!({})),
        Action::Merge => ActionDoc::new::<Merge>(STAFF, &[S], "Merge a duplicate into another case", json!({"into": "0190a6c4-8f5e-7c3a-9d1b-2e4f6a8b0c1d"})),
    }
}

/// A single line: no control character, not blank.
const LINE: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";
/// Free text: line breaks and tabs but no other control character, not blank.
const TEXT: &str =
    r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$";
/// A phone number: 5 to 20 digits, with `+`, `-` or spaces between.
const PHONE: &str = r"^[+\- ]*(?:[0-9][+\- ]*){5,20}$";
/// A value of the id headers that reach the log: 1 to 128 visible ASCII characters.
const ID_HEADER: &str = r"^[\x21-\x7e]{1,128}$";

/// The rule of one field, as `domain::validate` checks it.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// [`LINE`], at most this many characters.
    Line(usize),
    /// [`TEXT`], at most this many characters.
    Text(usize),
    /// At most `LIST_MAX` lines of at most this many characters.
    Lines(usize),
    /// One to `LIST_MAX` texts of at most this many characters.
    Texts(usize),
    /// Distinct indices into a list of at most `LIST_MAX`.
    Indices,
    /// A pattern of its own.
    Pattern(&'static str),
    /// Only these values (or none).
    OneOf(&'static [&'static str]),
    /// A number of days, 1 to `DAYS_MAX`.
    Days,
}

/// The request bodies' field rules, by schema and field.
const FIELD_RULES: &[(&str, &str, Rule)] = &[
    ("Submit", "title", Rule::Line(TITLE_MAX)),
    ("Submit", "body", Rule::Text(BODY_MAX)),
    ("Submit", "category", Rule::Line(NAME_MAX)),
    ("Submit", "jurisdiction", Rule::Line(NAME_MAX)),
    ("Submit", "lead_member", Rule::Line(NAME_MAX)),
    ("Submit", "team", Rule::Lines(NAME_MAX)),
    ("PublicSuggestion", "title", Rule::Line(TITLE_MAX)),
    ("PublicSuggestion", "body", Rule::Text(BODY_MAX)),
    ("PublicSuggestion", "category", Rule::Line(NAME_MAX)),
    ("PublicSuggestion", "jurisdiction", Rule::Line(NAME_MAX)),
    ("PublicSuggestion", "name", Rule::Line(50)),
    ("PublicSuggestion", "phone", Rule::Pattern(PHONE)),
    ("PublicSuggestion", "kind", Rule::OneOf(&["suggestion"])),
    ("PublicSuggestion", "channel", Rule::OneOf(&["online"])),
    ("LogContact", "constituent", Rule::Line(NAME_MAX)),
    ("LogContact", "summary", Rule::Text(TEXT_MAX)),
    ("Note", "note", Rule::Text(TEXT_MAX)),
    ("Reason", "reason", Rule::Text(TEXT_MAX)),
    ("Classify", "category", Rule::Line(NAME_MAX)),
    ("Assign", "department", Rule::Line(NAME_MAX)),
    ("Assign", "co_departments", Rule::Lines(NAME_MAX)),
    ("Reassign", "department", Rule::Line(NAME_MAX)),
    ("Reassign", "co_departments", Rule::Lines(NAME_MAX)),
    ("Escalate", "reason", Rule::Text(TEXT_MAX)),
    ("Escalate", "level", Rule::OneOf(&["city"])),
    ("Escalate", "department", Rule::Line(NAME_MAX)),
    ("Escalate", "co_departments", Rule::Lines(NAME_MAX)),
    ("Reopen", "reason", Rule::Text(TEXT_MAX)),
    ("Reopen", "department", Rule::Line(NAME_MAX)),
    ("Reopen", "co_departments", Rule::Lines(NAME_MAX)),
    ("RequestExtension", "days", Rule::Days),
    ("RequestExtension", "reason", Rule::Text(TEXT_MAX)),
    ("GrantExtension", "days", Rule::Days),
    ("Contribute", "opinion", Rule::Text(TEXT_MAX)),
    ("Reply", "content", Rule::Text(TEXT_MAX)),
    ("Reply", "measures", Rule::Text(TEXT_MAX)),
    ("Reassign", "reason", Rule::Text(TEXT_MAX)),
    ("Convene", "venue", Rule::Line(TITLE_MAX)),
    ("Convene", "participants", Rule::Lines(NAME_MAX)),
    ("Convene", "members", Rule::Lines(NAME_MAX)),
    ("RecordVisit", "place", Rule::Line(TITLE_MAX)),
    ("RecordVisit", "findings", Rule::Text(TEXT_MAX)),
    ("Consult", "note", Rule::Text(TEXT_MAX)),
    ("Consult", "participants", Rule::Lines(NAME_MAX)),
    ("Consult", "members", Rule::Lines(NAME_MAX)),
    ("SubmitReport", "title", Rule::Line(TITLE_MAX)),
    ("SubmitReport", "recommendations", Rule::Texts(TEXT_MAX)),
    ("Adopt", "by", Rule::Line(NAME_MAX)),
    ("Adopt", "note", Rule::Text(TEXT_MAX)),
    ("Adopt", "responsible_parties", Rule::Lines(NAME_MAX)),
    ("Adopt", "recommendations", Rule::Indices),
    ("RecordPolicy", "title", Rule::Line(TITLE_MAX)),
    ("RecordPolicy", "by", Rule::Line(NAME_MAX)),
    ("RecordPolicy", "note", Rule::Text(TEXT_MAX)),
    ("Close", "summary", Rule::Text(TEXT_MAX)),
    ("Feedback", "comment", Rule::Text(TEXT_MAX)),
    ("Feedback", "on_behalf_reason", Rule::Text(TEXT_MAX)),
    ("Withdraw", "reason", Rule::Text(TEXT_MAX)),
];

impl Rule {
    fn string(pattern: &str, max: usize) -> Map<String, Value> {
        let mut schema = Map::new();
        schema.insert("minLength".into(), json!(1));
        schema.insert("maxLength".into(), json!(max));
        schema.insert("pattern".into(), json!(pattern));
        schema
    }

    /// Applies the rule to a property's schema, keeping its type, nullability and description.
    fn apply(self, property: &mut Value) {
        let Some(schema) = property.as_object_mut() else {
            return;
        };
        let (target, rules) = match self {
            Rule::Line(max) => ("self", Self::string(LINE, max)),
            Rule::Text(max) => ("self", Self::string(TEXT, max)),
            Rule::Indices => {
                schema.insert("maxItems".into(), json!(LIST_MAX));
                schema.insert("uniqueItems".into(), json!(true));
                schema["items"]["maximum"] = json!(LIST_MAX - 1);
                return;
            }
            Rule::Pattern(pattern) => ("self", Map::from_iter([("pattern".to_owned(), json!(pattern))])),
            Rule::Days => (
                "self",
                Map::from_iter([
                    ("minimum".to_owned(), json!(1)),
                    ("maximum".to_owned(), json!(DAYS_MAX)),
                ]),
            ),
            Rule::Lines(max) => ("items", Self::string(LINE, max)),
            Rule::Texts(max) => ("items", Self::string(TEXT, max)),
            Rule::OneOf(values) => {
                let mut values: Vec<Value> = values.iter().map(|value| json!(value)).collect();
                values.push(Value::Null);
                let description = schema.remove("description");
                schema.clear();
                schema.insert("enum".into(), Value::Array(values));
                if let Some(description) = description {
                    schema.insert("description".into(), description);
                }
                return;
            }
        };
        if target == "items" {
            schema.insert("maxItems".into(), json!(LIST_MAX));
            if matches!(self, Rule::Texts(_)) {
                schema.insert("minItems".into(), json!(1));
            }
            if let Some(items) = schema.get_mut("items").and_then(Value::as_object_mut) {
                items.extend(rules);
            }
        } else {
            schema.extend(rules);
        }
    }
}

/// Whether an operation can give a problem status.
type Gives = fn(&Facts) -> bool;

/// The problem statuses, what they mean, and which operations can give them.
const PROBLEMS: [(&str, &str, Gives); 11] = [
    ("400", "malformed request: JSON, query or header", |op| {
        op.body || op.query
    }),
    ("401", "no valid bearer token", |op| op.secured),
    ("403", "the caller's role may not do this", |op| op.secured),
    (
        "404",
        "unknown case or member, or a case the caller may not see (a malformed id alike)",
        |op| op.path,
    ),
    (
        "409",
        "illegal transition (with current_status and allowed_actions), duplicate, a closed duty year, \
         a date outside the member's term, or a concurrent write",
        |op| op.post,
    ),
    ("412", "If-Match names a stale version; nothing was written", |op| {
        op.post
    }),
    ("413", "request body too large", |op| op.body),
    (
        "415",
        "request body is not JSON, or is sent without Content-Type: application/json",
        |op| op.body,
    ),
    (
        "422",
        "a field or parameter is invalid (a NUL in any path or query parameter or JSON string), \
         a position no event holds, or an Idempotency-Key reused for another request",
        |op| op.body || op.path || op.query,
    ),
    ("429", "rate limited; see Retry-After", |op| op.public),
    (
        "503",
        "store unavailable, projection behind min_position, or timed out; see Retry-After",
        |_| true,
    ),
];

/// What decides an operation's problem statuses and headers.
#[derive(Debug)]
struct Facts {
    post: bool,
    /// Takes a JSON body: a POST, or a PATCH.
    body: bool,
    secured: bool,
    public: bool,
    path: bool,
    query: bool,
}

impl Facts {
    fn of(method: &str, operation: &Value) -> Self {
        let parameters = operation["parameters"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let has = |place: &str| parameters.iter().any(|parameter| parameter["in"] == place);
        let open = json!([{}]);
        Facts {
            post: method == "post",
            body: matches!(method, "post" | "patch"),
            secured: operation.get("security") != Some(&open),
            public: operation["tags"]
                .as_array()
                .is_some_and(|tags| tags.contains(&json!("public"))),
            path: has("path"),
            query: has("query"),
        }
    }
}

fn header(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "header", "required": false, "description": description, "schema": schema})
}

/// The headers a command takes besides its token.
fn command_headers() -> [Value; 5] {
    let id = json!({"type": "string", "pattern": ID_HEADER, "minLength": 1, "maxLength": 128});
    [
        header(
            "If-Match",
            "the case version the command expects, as its ETag gave it; a stale one is 412",
            json!({"type": "string", "pattern": r#"^(\*|(W/)?"?[0-9]{1,19}"?)$"#}),
        ),
        header(
            "Idempotency-Key",
            "a retry with the same key and body answers as the first time",
            id.clone(),
        ),
        header("X-Correlation-Id", "recorded with the events", id.clone()),
        header("X-Causation-Id", "recorded with the events", id),
        header(
            "X-Client-Time",
            "the caller's clock, recorded with the events",
            json!({"type": "string", "format": "date-time"}),
        ),
    ]
}

/// Any request may name itself; a value that is not 1 to 128 visible ASCII characters is
/// replaced, never refused, so the schema takes any string.
fn request_id_header() -> Value {
    header(
        "X-Request-Id",
        "echoed in the response and recorded with the events; a value that is not 1 to 128 \
         visible ASCII characters is replaced by a generated one",
        json!({"type": "string"}),
    )
}

fn case_id_parameter() -> Value {
    json!({"name": "id", "in": "path", "required": true, "description": "the case id",
        "schema": {"type": "string", "format": "uuid"}})
}

/// The links from an answer naming a case (`$response.body#/id`) to what can be done with it.
fn case_links() -> Value {
    let id = json!({"id": "$response.body#/id"});
    let mut links = Map::new();
    for action in Action::ALL {
        let operation = action.as_str();
        links.insert(
            operation.to_owned(),
            json!({"operationId": operation, "parameters": id, "description": format!("`{operation}` this case")}),
        );
    }
    for (operation, description) in [
        ("show_case", "the case as it stands"),
        ("case_state", "the case as it stood"),
        ("case_history", "the case's events"),
    ] {
        links.insert(
            operation.to_owned(),
            json!({"operationId": operation, "parameters": id, "description": description}),
        );
    }
    Value::Object(links)
}

fn action_operation(action: Action, doc: &ActionDoc, body_required: bool) -> Value {
    let kinds: Vec<&str> = doc.kinds.iter().map(|kind| kind.as_str()).collect();
    json!({
        "operationId": action.as_str(),
        "summary": doc.summary,
        "description": format!(
            "Applies to: {}. Allowed only where the case's `allowed_actions` lists `{action}`; \
             elsewhere 409 with the case's status and the actions it allows.",
            kinds.join(", ")
        ),
        "tags": doc.audience,
        "x-kinds": kinds,
        "parameters": [case_id_parameter()],
        "requestBody": {
            "required": body_required,
            "content": {"application/json": {
                "schema": {"$ref": format!("#/components/schemas/{}", doc.body_name)},
                "example": doc.example,
            }},
        },
        "responses": {"200": {
            "description": "done: the case's new status and version, and the event's log position",
            "headers": {"ETag": {"description": "the case's new version", "schema": {"type": "string"}}},
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Written"}}},
            "links": case_links(),
        }},
    })
}

/// The paths of the member commands, and their bodies' schemas; registering with the id in
/// the body (`POST /api/v1/members`) takes the registration's fields and `id`.
fn add_member_commands(document: &mut Value) {
    let mut registration = document["components"]["schemas"]["Register"].clone();
    registration["properties"]["id"] = json!({
        "type": "string", "description": "the member's id: what a member token (`--member`) and the cases name",
        "pattern": r"^[^\x00-\x1f\x7f-\x9f]{1,100}$"});
    if let Some(required) = registration["required"].as_array_mut() {
        required.insert(0, json!("id"));
    }
    document["components"]["schemas"]["Registration"] = registration;
    document["paths"]["/api/v1/members"]["post"]["requestBody"]["content"]["application/json"]["schema"] =
        json!({"$ref": "#/components/schemas/Registration"});
    for command in MemberCommand::ALL {
        let doc = member_command_doc(command);
        for (name, schema) in &doc.body_schemas {
            document["components"]["schemas"][name] = schema.clone();
        }
        let name = command.as_str();
        document["paths"][format!("/api/v1/members/{{id}}/{name}")] = json!({"post": {
            "operationId": format!("member_{name}"),
            "summary": doc.summary,
            "description": "City staff and admins; problems: 404 for a member not registered (but to register), \
                409 where the registry or a closed duty year refuses it, 422 for a field out of its rules",
            "tags": STAFF,
            "parameters": [{"name": "id", "in": "path", "required": true, "description": "the member id",
                "schema": {"type": "string", "pattern": r"^[^\x00-\x1f\x7f-\x9f]{1,100}$"}}],
            "requestBody": {"required": true, "content": {"application/json": {
                "schema": {"$ref": format!("#/components/schemas/{}", doc.body_name)},
                "example": doc.example,
            }}},
            "responses": {"201": {
                "description": "recorded: the member's stream, its version and the event's log position",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Logged"}}},
            }},
        }});
    }
}

/// The paths of the actions, and their bodies' schemas.
fn add_actions(document: &mut Value) {
    for action in Action::ALL {
        let doc = action_doc(action);
        for (name, schema) in &doc.body_schemas {
            document["components"]["schemas"][name] = schema.clone();
        }
        let required = document["components"]["schemas"][&doc.body_name]["required"]
            .as_array()
            .is_some_and(|fields| !fields.is_empty());
        document["paths"][format!("/api/v1/cases/{{id}}/{action}")] =
            json!({"post": action_operation(action, &doc, required)});
    }
}

fn add_field_rules(document: &mut Value) {
    let schemas = &mut document["components"]["schemas"];
    for (schema, field, rule) in FIELD_RULES {
        rule.apply(&mut schemas[schema]["properties"][field]);
    }
    // Only a joint research topic has a lead member and a team.
    schemas["Submit"]["oneOf"] = json!([
        {"properties": {"kind": {"const": "joint_research"}}},
        {"properties": {"kind": {"enum": ["suggestion", "micro_consultation"]},
            "lead_member": {"type": "null"}, "team": {"maxItems": 0}}},
    ]);
}

/// Removes `names` from an operation's parameters and adds `parameter` in their place.
fn replace_parameters(operation: &mut Value, names: &[&str], parameter: Value) {
    if let Some(parameters) = operation["parameters"].as_array_mut() {
        parameters.retain(|existing| !names.iter().any(|name| existing["name"] == *name));
        parameters.push(parameter);
    }
}

/// Query parameters that only go together are one object parameter, each form a branch;
/// serialized form-exploded it is the plain `?name=value` the service reads.
fn add_query_forms(document: &mut Value) {
    let paths = &mut document["paths"];
    replace_parameters(
        &mut paths["/api/v1/cases/{id}/state"]["get"],
        &["at", "sequence"],
        json!({"name": "as_of", "in": "query", "required": true, "style": "form", "explode": true,
        "description": "exactly one of `at` (the case as its events recorded up to then left it) \
            or `sequence` (the case as its first `sequence` events left it; 404 past its last)",
        "schema": {"oneOf": [
            {"type": "object", "required": ["at"], "additionalProperties": false,
                "properties": {"at": {"type": "string", "format": "date-time"}}},
            {"type": "object", "required": ["sequence"], "additionalProperties": false,
                "properties": {"sequence": {"type": "integer", "format": "int64", "minimum": 1}}},
        ]}}),
    );
    let overdue = &mut paths["/api/v1/overdue"]["get"];
    let named = |operation: &Value, name: &str| {
        operation["parameters"]
            .as_array()
            .and_then(|parameters| parameters.iter().find(|parameter| parameter["name"] == name))
            .map(|parameter| parameter["schema"].clone())
            .unwrap_or_default()
    };
    let (department, cursor) = (named(overdue, "department"), named(overdue, "cursor"));
    replace_parameters(
        overdue,
        &["department", "cursor"],
        json!({"name": "page", "in": "query", "required": false, "style": "form", "explode": true,
            "description": "`department`: only this department (empty for the cases none was assigned); \
                `cursor`: its `next_cursor`, for its next cases, only with `department`",
            "schema": {"type": "object", "required": ["department"], "additionalProperties": false,
                "properties": {"department": department, "cursor": cursor}}}),
    );
    let moment = json!({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]});
    for (path, name) in [
        ("/api/v1/cases", "submitted_from"),
        ("/api/v1/cases", "submitted_to"),
        ("/api/v1/outcomes", "from"),
        ("/api/v1/outcomes", "to"),
        ("/api/v1/departments/scorecards", "from"),
        ("/api/v1/departments/scorecards", "to"),
    ] {
        if let Some(parameters) = paths[path]["get"]["parameters"].as_array_mut() {
            for parameter in parameters.iter_mut().filter(|parameter| parameter["name"] == name) {
                parameter["schema"] = moment.clone();
            }
        }
    }
}

fn add_links(document: &mut Value) {
    let paths = &mut document["paths"];
    paths["/api/v1/cases"]["post"]["responses"]["201"]["links"] = case_links();
    let mut public = case_links();
    let tracked = json!({"id": "$response.body#/id", "code": "$response.body#/tracking_code"});
    for (operation, description) in [
        ("suggestion_status", "the suggestion's status, as its proposer sees it"),
        ("suggestion_feedback", "the proposer's rating"),
    ] {
        public[operation] = json!({"operationId": operation, "parameters": tracked, "description": description});
    }
    paths["/api/v1/public/suggestions"]["post"]["responses"]["201"]["links"] = public;
}

/// Security, headers and problem responses, on every operation.
fn add_shared(document: &mut Value) {
    document["components"]["securitySchemes"]["bearer"] = json!({"type": "http", "scheme": "bearer",
        "description": "A token made by `lianxin token create`. The service remembers a token it looked up for one second: a revoked token is refused within a second of its revocation, an expired one from the moment it expires."});
    let problem = json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}});
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            let facts = Facts::of(method, operation);
            if operation.get("security").is_none() {
                operation["security"] = json!([{"bearer": []}]);
            }
            let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
            let mut parameters: Vec<Value> = parameters.into_iter().chain([request_id_header()]).collect();
            if facts.post {
                parameters.extend(command_headers());
            }
            operation["parameters"] = Value::Array(parameters);
            for (status, description, applies) in PROBLEMS {
                if applies(&facts) && operation["responses"].get(status).is_none() {
                    operation["responses"][status] = json!({"description": description, "content": problem});
                }
            }
            if let Some(responses) = operation["responses"].as_object_mut() {
                for response in responses.values_mut() {
                    response["headers"]["X-Request-Id"] = json!({"required": true,
                        "description": "the request's id: the caller's, if loggable, else a generated one",
                        "schema": {"type": "string", "pattern": ID_HEADER}});
                }
            }
        }
    }
}

/// The document, completed.
pub fn document() -> Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    add_actions(&mut document);
    add_member_commands(&mut document);
    add_field_rules(&mut document);
    add_query_forms(&mut document);
    add_links(&mut document);
    add_shared(&mut document);
    document
}

#[derive(OpenApi)]
#[openapi(
    info(title = "lianxin 连心", description = "Case workflow engine for a city political consultative conference: \
        citizens' suggestions, micro-consultations and joint-research topics as event-sourced cases. \
        A deployment may answer lists, figures, queues, duty records and the audit log's pages from a standby, \
        a moment behind the writes; a read given `min_position` sees that write (or answers 503 after 5 s)."),
    tags(
        (name = "staff", description = "the conference's staff: submit, route and close cases, read the figures"),
        (name = "departments", description = "the departments that handle assigned cases"),
        (name = "members", description = "committee members: relay voices, duty records"),
        (name = "public", description = "citizens, without a token: submit, track and rate a suggestion"),
        (name = "audit", description = "auditors: the event log, histories and hash chains"),
        (name = "operations", description = "health, readiness, metrics, this document"),
    ),
    paths(
        super::cases::submit, super::cases::show, super::cases::state_as_of, super::cases::history,
        super::read_models::list, super::read_models::outcomes, super::read_models::overdue,
        super::read_models::assessment, super::read_models::member_record, super::read_models::log_contact,
        super::members::register, super::members::list, super::members::show, super::members::archive,
        super::read_models::projections, super::audit::events, super::audit::verify,
        super::public::submit, super::public::status, super::public::feedback,
        super::health::live, super::health::ready, super::prometheus, super::openapi_document,
        super::dashboard::page,
        super::transparency::latest, super::transparency::cut, super::transparency::inclusion,
        super::transparency::consistency, super::transparency::public_proof,
        super::departments::list, super::departments::add, super::departments::rename, super::departments::me, super::departments::scorecard, super::departments::names, super::departments::queue, super::departments::scorecards,
        super::reports::publish, super::reports::list, super::reports::show, super::print::page, super::print::short,
    ),
    components(schemas(ProblemDocument)),
)]
struct ApiDoc;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_rule_names_a_field_of_the_document() {
        let document = document();
        for (schema, field, _) in FIELD_RULES {
            let property = &document["components"]["schemas"][schema]["properties"][field];
            assert!(property.is_object(), "{schema}.{field}");
        }
    }

    #[test]
    fn every_action_has_its_operation_and_every_link_a_target() {
        let document = document();
        let operation_ids: Vec<&str> = document["paths"]
            .as_object()
            .into_iter()
            .flat_map(|paths| paths.values())
            .filter_map(Value::as_object)
            .flat_map(|item| item.values())
            .filter_map(|operation| operation["operationId"].as_str())
            .collect();
        let mut unique = operation_ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), operation_ids.len(), "operation ids are unique");
        for action in Action::ALL {
            assert!(operation_ids.contains(&action.as_str()), "{action}");
        }
        for command in MemberCommand::ALL {
            let operation = format!("member_{}", command.as_str());
            assert!(operation_ids.contains(&operation.as_str()), "{operation}");
        }
        for link in case_links().as_object().into_iter().flat_map(|links| links.values()) {
            assert!(operation_ids.contains(&link["operationId"].as_str().unwrap_or_default()));
        }
    }

    #[test]
    fn the_document_is_the_same_bytes_every_time() {
        assert_eq!(document().to_string(), document().to_string());
    }
}
