//! The published figures (docs/figures.md) over a year computed by hand: 28 cases of 2026 and
//! one of the next year, covering every path a figure can take (merged, withdrawn, reopened
//! before and after closing, extended, late then escalated, signed late, never signed, rated by
//! staff, never rated, declined, adopted fully and in part, a joint research's
//! recommendations), driven through the API on a fixed clock and read from the default answer
//! of `GET /api/v1/outcomes` (the day cells); by handling level and by member too; then the same
//! year cut at a mid-month period whose edges fall between UTC and the deployment's day.

use chrono::{Duration, TimeZone, Utc};
use domain::Timestamp;
use serde_json::{json, Value};
use tests::{on_both_backends, suggestion, Backend, TestApp};

const TRANSPORT: &str = "市交通局";
const EDUCATION: &str = "市教育局";
const HOUSING: &str = "市住建局";
const POLICE: &str = "市公安局";
const AGRICULTURE: &str = "市政协农牧委";

/// Who takes a step.
#[derive(Clone, Copy)]
enum By {
    Citizen,
    Member,
    Staff,
    Unit(&'static str),
}

/// One step of the year: at a moment, on case number `case`; `submit` submits `body`.
struct Step {
    at: Timestamp,
    case: usize,
    by: By,
    action: &'static str,
    body: Value,
}

/// 2026-`month`-`day` at `hour`:`minute` UTC (Beijing is 8 hours ahead).
fn utc(month: u32, day: u32, hour: u32, minute: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2026, month, day, hour, minute, 0).unwrap()
}

#[derive(Default)]
struct Year(Vec<Step>);

impl Year {
    fn step(&mut self, at: Timestamp, case: usize, by: By, action: &'static str, body: Value) {
        self.0.push(Step {
            at,
            case,
            by,
            action,
            body,
        });
    }

    fn submit(&mut self, at: Timestamp, case: usize) {
        self.step(at, case, By::Citizen, "submit", suggestion());
    }

    fn reply(&mut self, at: Timestamp, case: usize, unit: &'static str, grade: &str) {
        let body = json!({"text": "已办理", "proposed_grade": grade, "measures": "已落实"});
        self.step(at, case, By::Unit(unit), "reply", body);
    }

    fn close(&mut self, at: Timestamp, case: usize, outcome: &str) {
        let body = json!({"outcome": outcome, "summary": "办结"});
        self.step(at, case, By::Staff, "close", body);
    }

    fn evaluate(&mut self, at: Timestamp, case: usize, rating: &str) {
        self.step(at, case, By::Citizen, "evaluate", json!({"rating": rating}));
    }

    /// A suggestion submitted on Monday `monday` at 09:00 Beijing, assigned at 10:00, signed
    /// `signed_after` working days later at 11:00 (the window ends with the next working day),
    /// replied on Friday, rated (`rating`, if any) and closed with `outcome` the Monday after.
    fn answered(
        &mut self,
        case: usize,
        (month, monday): (u32, u32),
        unit: &'static str,
        signed_after: u32,
        rating: Option<&str>,
        outcome: &str,
    ) {
        let day = |days: i64, hour: u32| utc(month, monday, hour, 0) + Duration::days(days);
        self.submit(day(0, 1), case);
        self.step(day(0, 2), case, By::Staff, "assign", json!({"department": unit}));
        self.step(
            day(i64::from(signed_after), 3),
            case,
            By::Unit(unit),
            "acknowledge",
            json!({}),
        );
        self.reply(day(4, 2), case, unit, outcome);
        if let Some(rating) = rating {
            self.evaluate(day(4, 6), case, rating);
        }
        self.close(day(7, 2), case, outcome);
    }

    /// A suggestion submitted on `(month, day)` at 09:30 Beijing, assigned and signed the same
    /// morning.
    fn signed(&mut self, case: usize, (month, day): (u32, u32), unit: &'static str) {
        self.submit(utc(month, day, 1, 30), case);
        let assign = json!({"department": unit});
        self.step(utc(month, day, 2, 30), case, By::Staff, "assign", assign);
        self.step(utc(month, day, 3, 30), case, By::Unit(unit), "acknowledge", json!({}));
    }

    /// A suggestion signed on Monday `(month, day)`, adopted to `extent` on Wednesday, closed
    /// with `outcome` on Thursday and rated `rating` after closing.
    fn adopted(
        &mut self,
        case: usize,
        (month, day): (u32, u32),
        unit: &'static str,
        extent: &str,
        (outcome, rating): (&str, &str),
    ) {
        self.signed(case, (month, day), unit);
        let adopt = json!({"by": "市政府", "extent": extent});
        self.step(utc(month, day + 2, 2, 0), case, By::Staff, "adopt", adopt);
        self.close(utc(month, day + 3, 2, 0), case, outcome);
        let rated = json!({"rating": rating});
        self.step(utc(month, day + 3, 6, 0), case, By::Citizen, "feedback", rated);
    }
}

fn the_year() -> Year {
    let mut year = Year::default();
    // 1–8: answered in time, signed on the day (6–8 the next working day, still in time).
    year.answered(1, (3, 2), TRANSPORT, 0, Some("satisfied"), "A");
    year.answered(2, (3, 9), TRANSPORT, 0, Some("satisfied"), "A");
    year.answered(3, (3, 16), EDUCATION, 0, Some("basically_satisfied"), "A");
    year.answered(4, (3, 23), EDUCATION, 0, Some("basically_satisfied"), "B");
    year.answered(5, (6, 1), HOUSING, 0, Some("unsatisfied"), "C");
    year.answered(6, (6, 8), HOUSING, 1, Some("satisfied"), "A");
    year.answered(7, (7, 6), TRANSPORT, 1, Some("satisfied"), "A");
    year.answered(8, (7, 13), TRANSPORT, 1, Some("satisfied"), "B");
    // 9: rated by staff on the proposer's behalf; 10: never rated.
    year.answered(9, (7, 20), EDUCATION, 0, None, "A");
    year.step(
        utc(7, 24, 6, 0),
        9,
        By::Staff,
        "evaluate",
        json!({"rating": "satisfied", "on_behalf_reason": "电话回访"}),
    );
    year.answered(10, (7, 27), EDUCATION, 0, None, "A");
    // 11: signed on Wednesday, after the window (the end of Tuesday).
    year.answered(11, (8, 3), HOUSING, 2, Some("satisfied"), "A");
    // 12: the first deadline (25 August) extended by five days; replied on the 27th: late
    // against the first deadline, in time against the extended one.
    year.signed(12, (8, 10), TRANSPORT);
    year.step(
        utc(8, 24, 2, 0),
        12,
        By::Unit(TRANSPORT),
        "request_extension",
        json!({"days": 5, "reason": "需协调"}),
    );
    year.step(utc(8, 24, 3, 0), 12, By::Staff, "grant_extension", json!({}));
    year.reply(utc(8, 27, 2, 0), 12, TRANSPORT, "A");
    year.evaluate(utc(8, 27, 6, 0), 12, "basically_satisfied");
    year.close(utc(8, 31, 2, 0), 12, "A");
    // 13: unanswered past its deadline (1 September), escalated to the city and another unit,
    // replied, rated unsatisfied, closed C.
    year.signed(13, (8, 17), HOUSING);
    year.step(
        utc(9, 2, 2, 0),
        13,
        By::Staff,
        "escalate",
        json!({"reason": "逾期未办复", "level": "city", "department": POLICE}),
    );
    year.step(utc(9, 2, 3, 0), 13, By::Unit(POLICE), "acknowledge", json!({}));
    year.reply(utc(9, 4, 2, 0), 13, POLICE, "C");
    year.evaluate(utc(9, 4, 6, 0), 13, "unsatisfied");
    year.close(utc(9, 7, 2, 0), 13, "C");
    // 14: replied, rated unsatisfied, reopened before closing, replied again, rated satisfied.
    year.signed(14, (9, 7), EDUCATION);
    year.reply(utc(9, 11, 2, 0), 14, EDUCATION, "A");
    year.evaluate(utc(9, 11, 6, 0), 14, "unsatisfied");
    year.step(utc(9, 14, 2, 0), 14, By::Staff, "reopen", json!({"reason": "重办"}));
    year.step(utc(9, 14, 3, 0), 14, By::Unit(EDUCATION), "acknowledge", json!({}));
    year.reply(utc(9, 16, 2, 0), 14, EDUCATION, "A");
    year.evaluate(utc(9, 16, 6, 0), 14, "satisfied");
    year.close(utc(9, 17, 2, 0), 14, "A");
    // 15: closed, then rated unsatisfied, reopened, and still unanswered at the end of the year.
    year.signed(15, (11, 2), HOUSING);
    year.reply(utc(11, 6, 2, 0), 15, HOUSING, "A");
    year.close(utc(11, 9, 2, 0), 15, "A");
    year.step(
        utc(11, 9, 6, 0),
        15,
        By::Citizen,
        "feedback",
        json!({"rating": "unsatisfied"}),
    );
    year.step(utc(11, 10, 2, 0), 15, By::Staff, "reopen", json!({"reason": "重办"}));
    // 16: a duplicate of 1; 17: withdrawn by its proposer.
    year.submit(utc(3, 3, 1, 0), 16);
    year.step(utc(3, 3, 2, 0), 16, By::Staff, "merge", json!({"into": "#1"}));
    year.submit(utc(3, 4, 1, 0), 17);
    year.step(utc(3, 4, 2, 0), 17, By::Citizen, "withdraw", json!({}));
    // 18: never assigned; 19: submitted on New Year's Day in Beijing, still 2025 in UTC.
    year.submit(utc(11, 16, 1, 0), 18);
    year.submit(utc(1, 1, 0, 0) - Duration::hours(7), 19);
    // 20: assigned, never signed nor answered; 21: signed, its deadline still to come.
    year.submit(utc(11, 23, 1, 0), 20);
    year.step(
        utc(11, 23, 2, 0),
        20,
        By::Staff,
        "assign",
        json!({"department": TRANSPORT}),
    );
    year.submit(utc(11, 23, 1, 30), 21);
    year.step(
        utc(11, 23, 2, 30),
        21,
        By::Staff,
        "assign",
        json!({"department": TRANSPORT, "due_at": "2027-03-01T00:00:00Z"}),
    );
    year.step(utc(11, 23, 3, 30), 21, By::Unit(TRANSPORT), "acknowledge", json!({}));
    // 22: declined and closed C, never rated; 23: adopted in full, rated after closing;
    // 24: adopted in part.
    year.signed(22, (6, 1), EDUCATION);
    year.step(
        utc(6, 3, 2, 0),
        22,
        By::Staff,
        "decline",
        json!({"reason": "条件不具备"}),
    );
    year.close(utc(6, 4, 2, 0), 22, "C");
    year.adopted(23, (7, 6), HOUSING, "full", ("A", "satisfied"));
    year.adopted(24, (7, 13), TRANSPORT, "partial", ("B", "basically_satisfied"));
    // 25: a micro-consultation, rated by staff for the member who raised it.
    let mut micro = suggestion();
    micro["kind"] = json!("micro_consultation");
    year.step(utc(3, 16, 1, 30), 25, By::Member, "submit", micro);
    let micro_steps = [
        ((3, 16, 2), "assign", json!({"department": HOUSING})),
        ((3, 17, 2), "convene", json!({"venue": "凳凳议事会"})),
        ((3, 18, 2), "consult", json!({"note": "议事"})),
        ((3, 19, 2), "adopt", json!({"by": "街道办事处", "extent": "full"})),
        ((3, 20, 2), "close", json!({"outcome": "A", "summary": "办结"})),
        (
            (3, 20, 6),
            "feedback",
            json!({"rating": "basically_satisfied", "on_behalf_reason": "会后回访"}),
        ),
    ];
    for ((month, day, hour), action, body) in micro_steps {
        year.step(utc(month, day, hour, 30), 25, By::Staff, action, body);
    }
    // 26: a joint research whose report makes three recommendations, two adopted.
    let mut research = suggestion();
    research["kind"] = json!("joint_research");
    research["lead_member"] = json!(tests::MEMBER_ID);
    year.step(utc(6, 8, 1, 30), 26, By::Member, "submit", research);
    let research_steps = [
        ((6, 8, 2), "assign", json!({"department": AGRICULTURE})),
        ((6, 9, 2), "complete_preparation", json!({"note": "方案已定"})),
        (
            (6, 10, 2),
            "record_visit",
            json!({"place": "达拉特旗", "findings": "管理薄弱"}),
        ),
        ((6, 11, 2), "complete_research", json!({"note": "走访完成"})),
        ((6, 12, 2), "consult", json!({"note": "专题协商"})),
        (
            (6, 15, 2),
            "submit_report",
            json!({"title": "调研报告", "recommendations": ["一", "二", "三"]}),
        ),
        (
            (6, 16, 2),
            "adopt",
            json!({"by": "市委", "extent": "partial", "recommendations": [0, 2]}),
        ),
        ((6, 17, 2), "close", json!({"outcome": "A", "summary": "办结"})),
    ];
    for ((month, day, hour), action, body) in research_steps {
        year.step(utc(month, day, hour, 30), 26, By::Staff, action, body);
    }
    // 27: submitted on New Year's Day 2027 in Beijing: not of 2026.
    year.submit(utc(12, 31, 17, 0), 27);
    // 28: 04:00 on 10 March in Beijing, still 9 March in UTC: inside the cut below.
    year.submit(utc(3, 9, 20, 0), 28);
    year
}

/// Runs the year's steps in time order; the ids of the cases by number.
async fn run(app: &TestApp, year: Year) -> std::collections::HashMap<usize, String> {
    let mut units = std::collections::HashMap::new();
    for unit in [TRANSPORT, EDUCATION, HOUSING, POLICE] {
        units.insert(unit, app.unit_token(unit).await);
    }
    let mut steps = year.0;
    steps.sort_by_key(|step| step.at);
    let mut ids = std::collections::HashMap::new();
    for Step {
        at,
        case,
        by,
        action,
        mut body,
    } in steps
    {
        app.set_time(at);
        let token = match by {
            By::Citizen => &app.tokens.citizen,
            By::Member => &app.tokens.member,
            By::Staff => &app.tokens.staff,
            By::Unit(unit) => &units[unit],
        };
        if action == "submit" {
            ids.insert(case, app.submitted_by(token, &body).await);
            continue;
        }
        if let Some(target) = body["into"].as_str().and_then(|into| into.strip_prefix('#')) {
            body["into"] = json!(ids[&target.parse::<usize>().unwrap()]);
        }
        let response = app.act(token, &ids[&case], action, &body).await;
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert!(status.is_success(), "case {case} {action} at {at}: {answer}");
    }
    ids
}

fn rate(numerator: u64, denominator: u64) -> Value {
    let value = (denominator > 0).then(|| numerator as f64 / denominator as f64);
    json!({"numerator": numerator, "denominator": denominator, "value": value})
}

fn days(count: u64, median: f64, p90: f64) -> Value {
    json!({"count": count, "median": median, "p90": p90})
}

fn adoption(fully: u64, partly: u64, declined: u64) -> Value {
    let decided = fully + partly + declined;
    json!({
        "adopted_fully": fully, "adopted_partly": partly, "declined": declined,
        "adopted": rate(fully + partly, decided), "fully": rate(fully, decided),
    })
}

fn ratings(satisfied: u64, basically: u64, unsatisfied: u64) -> Value {
    json!({"satisfied": satisfied, "basically_satisfied": basically, "unsatisfied": unsatisfied})
}

/// `expected` as the answer's text reads back: JSON numbers are parsed to the nearest value
/// serde_json's parser finds, which is not always the one they were written from.
fn read_back(expected: Value) -> Value {
    serde_json::from_str(&expected.to_string()).unwrap()
}

/// The published figures of every group of `GET /api/v1/outcomes?{query}`.
async fn grouped_figures_of(app: &TestApp, query: &str) -> Value {
    let response = app.get(&app.tokens.staff, &format!("/api/v1/outcomes?{query}")).await;
    assert!(response.status().is_success());
    let mut body: Value = response.json().await.unwrap();
    body["figures"].take()
}

async fn figures_of(app: &TestApp, query: &str) -> Value {
    grouped_figures_of(app, query).await[0].take()
}

async fn the_hand_computed_year_is_answered_figure_by_figure(backend: Backend) {
    let app = TestApp::spawn_at(backend, utc(1, 1, 0, 0) - Duration::days(1)).await;
    run(&app, the_year()).await;
    // As of 15 January 2027, 10:00 in Beijing.
    app.set_time(utc(1, 15, 2, 0) + Duration::days(365));
    app.settled().await;

    let year = figures_of(&app, "from=2026-01-01&to=2027-01-01").await;
    let expected = json!({
        "group": "all",
        "submitted": 27, "merged": 1, "withdrawn": 1, "voices": 25,
        "assigned": rate(22, 25),
        "signed_on_time": rate(18, 22),
        "answered": rate(20, 22),
        "answered_on_time": rate(18, 21),
        "answered_on_time_effective": rate(20, 21),
        "resolved": rate(13, 25),
        "resolved_of_closed": rate(13, 19),
        "outcome_shares": {"A": rate(13, 19), "B": rate(3, 19), "C": rate(3, 19)},
        "adoption": {
            "joint_research": adoption(0, 1, 0),
            "micro_consultation": adoption(1, 0, 0),
            "suggestion": adoption(1, 1, 1),
        },
        "recommendations_adopted": rate(2, 3),
        "satisfaction": {
            "proposers": ratings(8, 4, 3),
            "basically_satisfied_weight": 1.0,
            "numerator": 12.0, "denominator": 15, "value": 0.8,
            "staff_recorded": ratings(1, 1, 0),
            "no_evaluation": 3,
        },
        "reopened": rate(2, 20),
        "open_late": rate(2, 6),
        "closed_late": rate(2, 19),
        "working_days_to_sign": days(19, 0.0, 1.0),
        "working_days_to_answer": days(20, 4.0, 7.0),
        "working_days_to_close": days(19, 5.0, 15.0),
    });
    assert_eq!(year, read_back(expected));

    // Case 13 was escalated to the city; every other case stayed with its banner or district.
    let by_level = grouped_figures_of(&app, "from=2026-01-01&to=2027-01-01&group_by=level").await;
    let city = json!({
        "group": "city",
        "submitted": 1, "merged": 0, "withdrawn": 0, "voices": 1,
        "assigned": rate(1, 1),
        "signed_on_time": rate(1, 1),
        "answered": rate(1, 1),
        "answered_on_time": rate(0, 1),
        "answered_on_time_effective": rate(1, 1),
        "resolved": rate(0, 1),
        "resolved_of_closed": rate(0, 1),
        "outcome_shares": {"A": rate(0, 1), "B": rate(0, 1), "C": rate(1, 1)},
        "adoption": {"suggestion": adoption(0, 0, 0)},
        "recommendations_adopted": rate(0, 0),
        "satisfaction": {
            "proposers": ratings(0, 0, 1),
            "basically_satisfied_weight": 1.0,
            "numerator": 0.0, "denominator": 1, "value": 0.0,
            "staff_recorded": ratings(0, 0, 0),
            "no_evaluation": 0,
        },
        "reopened": rate(0, 1),
        "open_late": rate(0, 0),
        "closed_late": rate(1, 1),
        // Assigned Monday 17 August, signed the same day, answered on Friday 4 September and
        // closed on Monday 7 September.
        "working_days_to_sign": days(1, 0.0, 0.0),
        "working_days_to_answer": days(1, 14.0, 14.0),
        "working_days_to_close": days(1, 15.0, 15.0),
    });
    let local = json!({
        "group": "local",
        "submitted": 26, "merged": 1, "withdrawn": 1, "voices": 24,
        "assigned": rate(21, 24),
        "signed_on_time": rate(17, 21),
        "answered": rate(19, 21),
        "answered_on_time": rate(18, 20),
        "answered_on_time_effective": rate(19, 20),
        "resolved": rate(13, 24),
        "resolved_of_closed": rate(13, 18),
        "outcome_shares": {"A": rate(13, 18), "B": rate(3, 18), "C": rate(2, 18)},
        "adoption": {
            "joint_research": adoption(0, 1, 0),
            "micro_consultation": adoption(1, 0, 0),
            "suggestion": adoption(1, 1, 1),
        },
        "recommendations_adopted": rate(2, 3),
        "satisfaction": {
            "proposers": ratings(8, 4, 2),
            "basically_satisfied_weight": 1.0,
            "numerator": 12.0, "denominator": 14, "value": 12.0 / 14.0,
            "staff_recorded": ratings(1, 1, 0),
            "no_evaluation": 3,
        },
        "reopened": rate(2, 19),
        "open_late": rate(2, 6),
        "closed_late": rate(1, 18),
        // The year's samples less case 13's: signed 14 × 0, 3 × 1, 1 × 2; answered 3 × 3,
        // 14 × 4, 7, 13; closed 3 × 3, 4, 11 × 5, 7, 8, 15.
        "working_days_to_sign": days(18, 0.0, 1.0),
        "working_days_to_answer": days(19, 4.0, 7.0),
        "working_days_to_close": days(18, 5.0, 8.0),
    });
    assert_eq!(by_level, read_back(json!([city, local])));

    // The member submitted the micro-consultation (25) and leads the joint research (26): each
    // counts once under the member; no other case was raised or carried by a member.
    let by_member = grouped_figures_of(&app, "from=2026-01-01&to=2027-01-01&group_by=member").await;
    let member = json!({
        "group": tests::MEMBER_ID,
        "submitted": 2, "merged": 0, "withdrawn": 0, "voices": 2,
        "assigned": rate(2, 2),
        "signed_on_time": rate(0, 2),
        "answered": rate(2, 2),
        "answered_on_time": rate(2, 2),
        "answered_on_time_effective": rate(2, 2),
        "resolved": rate(2, 2),
        "resolved_of_closed": rate(2, 2),
        "outcome_shares": {"A": rate(2, 2), "B": rate(0, 2), "C": rate(0, 2)},
        "adoption": {
            "joint_research": adoption(0, 1, 0),
            "micro_consultation": adoption(1, 0, 0),
        },
        "recommendations_adopted": rate(2, 3),
        "satisfaction": {
            "proposers": ratings(0, 0, 0),
            "basically_satisfied_weight": 1.0,
            "numerator": 0.0, "denominator": 0, "value": null,
            "staff_recorded": ratings(0, 1, 0),
            "no_evaluation": 1,
        },
        "reopened": rate(0, 2),
        "open_late": rate(0, 0),
        "closed_late": rate(0, 2),
        "working_days_to_sign": {"count": 0, "median": null, "p90": null},
        // Closed without a reply: 4 working days (25) and 7 (26).
        "working_days_to_answer": days(2, 5.5, 7.0),
        "working_days_to_close": days(2, 5.5, 7.0),
    });
    assert_eq!(by_member, read_back(json!([member])));

    // `figures=false` leaves them out, for the clients that read the funnel only.
    let response = app
        .get(
            &app.tokens.staff,
            "/api/v1/outcomes?from=2026-01-01&to=2027-01-01&figures=false",
        )
        .await;
    let funnel_only: Value = response.json().await.unwrap();
    assert!(funnel_only.get("figures").is_none() && funnel_only["groups"][0]["submitted"] == 27);

    let weighted = figures_of(&app, "from=2026-01-01&to=2027-01-01&basically_satisfied_weight=0.5").await;
    assert_eq!(weighted["satisfaction"]["numerator"], 10.0);
    assert_eq!(weighted["satisfaction"]["value"], read_back(json!(10.0 / 15.0)));

    // 10 March to 14 July in Beijing: case 28 (9 March in UTC) is in, case 2 (9 March in
    // Beijing) is out.
    let cut = figures_of(&app, "from=2026-03-10&to=2026-07-15").await;
    let expected = json!({
        "group": "all",
        "submitted": 12, "merged": 0, "withdrawn": 0, "voices": 12,
        "assigned": rate(11, 12),
        "signed_on_time": rate(9, 11),
        "answered": rate(11, 11),
        "answered_on_time": rate(11, 11),
        "answered_on_time_effective": rate(11, 11),
        "resolved": rate(6, 12),
        "resolved_of_closed": rate(6, 11),
        "outcome_shares": {"A": rate(6, 11), "B": rate(3, 11), "C": rate(2, 11)},
        "adoption": {
            "joint_research": adoption(0, 1, 0),
            "micro_consultation": adoption(1, 0, 0),
            "suggestion": adoption(1, 1, 1),
        },
        "recommendations_adopted": rate(2, 3),
        "satisfaction": {
            "proposers": ratings(4, 3, 1),
            "basically_satisfied_weight": 1.0,
            "numerator": 7.0, "denominator": 8, "value": 7.0 / 8.0,
            "staff_recorded": ratings(0, 1, 0),
            "no_evaluation": 2,
        },
        "reopened": rate(0, 11),
        "open_late": rate(0, 1),
        "closed_late": rate(0, 11),
        "working_days_to_sign": days(9, 0.0, 1.0),
        "working_days_to_answer": days(11, 4.0, 4.0),
        "working_days_to_close": days(11, 5.0, 5.0),
    });
    assert_eq!(cut, read_back(expected));
}

on_both_backends!(the_hand_computed_year_is_answered_figure_by_figure);
