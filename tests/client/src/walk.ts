// A client generated from the served document walks one case as its users would: a citizen
// submits a suggestion, staff assign it, record its adoption and close it, staff read its
// history and its state as of its first event, and the citizen reads the answer. Every call
// goes through the generated types: a document that could not describe these calls would not
// compile, and one that described them wrongly would fail here.
import createClient from "openapi-fetch";
import type { paths } from "../generated/api.js";

const baseUrl = required("LIANXIN_URL");
const token = required("LIANXIN_STAFF_TOKEN");

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

// The document describes `as_of` and `page` as form-exploded objects: `?sequence=1`.
const client = createClient<paths>({
  baseUrl,
  querySerializer: { object: { style: "form", explode: true } },
});
const staff = { Authorization: `Bearer ${token}` };

/** Logs one call and fails the walk unless it answered `expected` with a body. */
function check<T>(step: string, result: { data?: T; error?: unknown; response: Response }, expected: number): T {
  const { response } = result;
  const url = new URL(response.url);
  console.log(`${step}: ${url.pathname}${url.search} -> ${response.status}`);
  if (response.status !== expected || result.data === undefined) {
    throw new Error(`${step}: expected ${expected}, got ${response.status}: ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

const tracked = check(
  "POST submit_suggestion",
  await client.POST("/api/v1/public/suggestions", {
    body: {
      title: "老旧小区加装电梯",
      body: "城东小区六层住宅无电梯，老人上下楼困难，建议统一加装。",
      category: "城市建设",
      jurisdiction: "城东区",
      name: "张三",
      phone: "138 0000 0000",
    },
  }),
  201,
);
const id = tracked.id;
const path = { id };

const assigned = check(
  "POST assign",
  await client.POST("/api/v1/cases/{id}/assign", { params: { path }, headers: staff, body: { department: "市住建局" } }),
  200,
);
const adopted = check(
  "POST adopt",
  await client.POST("/api/v1/cases/{id}/adopt", {
    params: { path, header: { "If-Match": `"${assigned.version}"` } },
    headers: staff,
    body: { by: "市住建局", extent: "full", note: "纳入年度改造计划" },
  }),
  200,
);
const closed = check(
  "POST close",
  await client.POST("/api/v1/cases/{id}/close", {
    params: { path, header: { "If-Match": `"${adopted.version}"`, "Idempotency-Key": `close-${id}` } },
    headers: staff,
    body: { outcome: "A", summary: "已列入加装电梯试点，年内完工。" },
  }),
  200,
);
if (closed.status !== "closed") throw new Error(`closed case has status ${closed.status}`);

const history = check(
  "GET case_history",
  await client.GET("/api/v1/cases/{id}/history", { params: { path }, headers: staff }),
  200,
);
const types = history.events.map((event) => event.type);
console.log(`  events: ${types.join(", ")}; chain intact: ${history.chain_intact}`);
if (types.length !== 4 || !history.chain_intact) throw new Error("the history is not the walk's four events");

const first = check(
  "GET case_state",
  await client.GET("/api/v1/cases/{id}/state", { params: { path, query: { as_of: { sequence: 1 } } }, headers: staff }),
  200,
);
if (first.status !== "submitted") throw new Error(`the first event left status ${first.status}`);

const answer = check(
  "GET suggestion_status",
  await client.GET("/api/v1/public/suggestions/{id}", { params: { path, query: { code: tracked.tracking_code } } }),
  200,
);
if (answer.status !== "closed" || answer.outcome !== "A") throw new Error("the citizen does not see the answer");
console.log("1 passed, 0 failed");
