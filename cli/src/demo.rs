//! `lianxin demo seed`: a realistic year of cases written through the real command path (not
//! by inserting rows), so that a newcomer has something to look at. Deterministic for a seed:
//! case ids, times and contents all come from one generator, and the engine's clock is set for
//! each command.

use std::sync::{Arc, Mutex};

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use domain::member_record::LogContact;
use domain::{Action, ActionInput, Actor, Kind, Policy, Role, Submit, Timestamp};
use indicatif::ProgressBar;
use serde_json::{json, Value};
use uuid::Uuid;

use service::access::tokens::Principal;
use service::store::{Store, StoreError};
use service::write::engine::{Clock, CommandContext, Engine, EngineError};

/// The nine banners and districts of the demo city, and the city itself.
pub const JURISDICTIONS: [&str; 9] = [
    "东胜区",
    "康巴什区",
    "达拉特旗",
    "准格尔旗",
    "鄂托克前旗",
    "鄂托克旗",
    "杭锦旗",
    "乌审旗",
    "伊金霍洛旗",
];
pub(crate) const CATEGORIES: [&str; 9] = [
    "就业",
    "教育",
    "医疗",
    "住房",
    "交通",
    "生态环境",
    "养老",
    "物业",
    "农牧",
];
pub(crate) const DEPARTMENTS: [&str; 8] = [
    "市人社局",
    "市教育局",
    "市卫健委",
    "市住建局",
    "市交通运输局",
    "市生态环境局",
    "市民政局",
    "市农牧局",
];
pub(crate) const TOPICS: [(&str, &str); 6] = [
    (
        "小区充电桩安装难",
        "小区三十多户购买了电动汽车，物业以电力容量不足为由不同意安装充电桩。",
    ),
    (
        "老旧管网改造",
        "小区供水管网老化，冬季经常爆管停水，希望纳入老旧小区改造计划。",
    ),
    (
        "校园周边交通治理",
        "学校门口上下学时段车辆拥堵，学生过马路存在安全隐患。",
    ),
    (
        "草场补贴发放慢",
        "部分牧户反映草原生态保护补助发放滞后，影响春季生产安排。",
    ),
    ("社区养老服务不足", "社区日间照料中心床位少，老年人助餐服务覆盖不够。"),
    ("高校毕业生就业难", "本地高校毕业生留本地就业意愿强，但岗位信息不对称。"),
];
/// Members across sectors: economy, science and technology, agriculture and pastoral, education,
/// medical, culture, law.
const MEMBERS: usize = 60;

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the seed wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Seeded {
    pub cases: usize,
    pub contacts: usize,
    pub commands: usize,
}

/// A small fixed-seed generator (xorshift64*): the same year for the same seed.
pub(crate) struct Dice(pub(crate) u64);

impl Dice {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() >> 33) as usize % n.max(1)
    }

    pub(crate) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub(crate) fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(((u128::from(self.next()) << 64) | u128::from(self.next())).to_be_bytes())
            .into_uuid()
    }
}

fn member(index: usize) -> String {
    format!("m-{:03}", index % MEMBERS + 1)
}

/// A principal of any role, with no jurisdiction or department to narrow it.
pub(crate) fn principal(id: &str, role: Role) -> Principal {
    Principal {
        actor: Actor {
            id: id.to_owned(),
            role,
        },
        jurisdiction: None,
        department: None,
    }
}

struct Seeder {
    engine: Engine,
    clock: Arc<Mutex<Timestamp>>,
    commands: usize,
}

impl Seeder {
    fn at(&self, moment: Timestamp) {
        *self.clock.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = moment;
    }

    fn context(&self, who: &Principal) -> CommandContext {
        CommandContext::new(who.clone(), format!("demo-{}", self.commands))
    }

    /// Runs one action; a refusal (a step the case no longer allows) is skipped, not fatal.
    async fn act(
        &mut self,
        case: Uuid,
        moment: Timestamp,
        who: &Principal,
        action: Action,
        body: Value,
    ) -> Result<bool, SeedError> {
        self.at(moment);
        self.commands += 1;
        let input = ActionInput::from_json(action, body).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        match self.engine.act(case, self.context(who), input).await {
            Ok(_) => Ok(true),
            Err(EngineError::Refused(_) | EngineError::Denied(_)) => Ok(false),
            Err(other) => Err(other.into()),
        }
    }
}

/// Seeds `cases` cases submitted over the first ten months of `year`, and members' contacts of
/// that year and the two before.
pub async fn seed(
    store: Store,
    cases: usize,
    year: i32,
    seed: u64,
    progress: ProgressBar,
) -> Result<Seeded, SeedError> {
    let start = Utc
        .with_ymd_and_hms(year, 1, 1, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let clock = Arc::new(Mutex::new(start));
    let mut seeder = Seeder {
        engine: Engine::new(store, Policy::default(), Clock::Fixed(Arc::clone(&clock))),
        clock,
        commands: 0,
    };
    let mut dice = Dice(seed | 1);
    let staff = principal("市政协工作人员", Role::Staff);
    let day = |n: i64| start + Duration::days(n) + Duration::minutes(n * 7 % 480);
    let mut contacts = 0;
    // Contacts of this year and the two before; every fifth member stays below quota in all
    // three, so last year's assessment shows who is below two years running.
    for index in 0..MEMBERS {
        let id = member(index);
        let lagging = index % 5 == 0;
        let this_year = if lagging { 1 } else { 4 + dice.below(4) };
        for (offset, count) in [
            (-2, if lagging { 2 } else { 6 }),
            (-1, if lagging { 3 } else { 7 }),
            (0, this_year),
        ] {
            for contact in 0..count {
                let date = NaiveDate::from_ymd_opt(
                    year + offset,
                    1 + (contact as u32 * 2 + index as u32) % 10,
                    1 + dice.below(27) as u32,
                );
                let Some(date) = date else { continue };
                seeder.at(Utc.from_utc_datetime(&date.and_hms_opt(18, 0, 0).unwrap_or_default()));
                let input = LogContact {
                    date,
                    constituent: format!("{}居民", dice.pick(&JURISDICTIONS)),
                    summary: format!("走访了解{}方面的诉求", dice.pick(&CATEGORIES)),
                };
                seeder.commands += 1;
                seeder
                    .engine
                    .log_contact(&id, seeder.context(&principal(&id, Role::Member)), input)
                    .await?;
                contacts += 1;
            }
        }
    }
    for offset in [2, 1] {
        past_duties(&mut seeder, &mut dice, year - offset, &staff).await?;
    }
    for index in 0..cases {
        let submitted = day(dice.below(300) as i64);
        let kind = match dice.below(20) {
            0 => Kind::JointResearch,
            1..=4 => Kind::MicroConsultation,
            _ => Kind::Suggestion,
        };
        let input = submission(&mut dice, kind)?;
        let reporter = member(dice.below(MEMBERS));
        let submitter = match kind {
            Kind::Suggestion if dice.chance(70) => principal(&format!("citizen-{index}"), Role::Citizen),
            _ => principal(&reporter, Role::Member),
        };
        let case = dice.uuid();
        seeder.at(submitted);
        seeder.commands += 1;
        seeder.engine.submit_as(case, seeder.context(&submitter), input).await?;
        walk(&mut seeder, &mut dice, case, kind, submitted, &staff).await?;
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(Seeded {
        cases,
        contacts,
        commands: seeder.commands,
    })
}

/// A case of `kind` on a topic, category and jurisdiction the dice pick.
fn submission(dice: &mut Dice, kind: Kind) -> Result<Submit, SeedError> {
    let (title, body) = *dice.pick(&TOPICS);
    serde_json::from_value(json!({
        "kind": kind, "title": title, "body": body,
        "category": dice.pick(&CATEGORIES), "jurisdiction": dice.pick(&JURISDICTIONS),
    }))
    .map_err(|error| StoreError::Corrupt(error.to_string()).into())
}

/// A past year's duties: every member but every fifth submits a social-opinion report and
/// joins a micro-consultation's two sessions, so only the lagging fifth falls below quota.
async fn past_duties(seeder: &mut Seeder, dice: &mut Dice, year: i32, staff: &Principal) -> Result<(), SeedError> {
    let start = Utc
        .with_ymd_and_hms(year, 3, 1, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let active: Vec<String> = (0..MEMBERS).filter(|index| index % 5 != 0).map(member).collect();
    for (index, id) in active.iter().enumerate() {
        let input = submission(dice, Kind::Suggestion)?;
        seeder.at(start + Duration::days(index as i64 * 3));
        seeder.commands += 1;
        seeder
            .engine
            .submit_as(dice.uuid(), seeder.context(&principal(id, Role::Member)), input)
            .await?;
    }
    for (group, members) in active.chunks(8).enumerate() {
        let input = submission(dice, Kind::MicroConsultation)?;
        let case = dice.uuid();
        let opened = start + Duration::days(30 * group as i64);
        seeder.at(opened);
        seeder.commands += 1;
        seeder.engine.submit_as(case, seeder.context(staff), input).await?;
        let sessions = [
            (Action::Convene, json!({"venue": "协商议事室", "members": members})),
            (Action::Consult, json!({"note": "议事协商", "members": members})),
            (Action::Adopt, json!({"by": "街道办事处", "extent": "full"})),
            (Action::Close, json!({"outcome": "A", "summary": "议定事项已落实"})),
        ];
        for (step, (action, body)) in (1..).zip(sessions) {
            seeder
                .act(case, opened + Duration::days(step * 5), staff, action, body)
                .await?;
        }
    }
    Ok(())
}

/// Takes one case as far as the dice say: most are solved, some stall overdue, some are
/// escalated, declined, rated unsatisfied and reopened.
async fn walk(
    seeder: &mut Seeder,
    dice: &mut Dice,
    case: Uuid,
    kind: Kind,
    submitted: Timestamp,
    staff: &Principal,
) -> Result<(), SeedError> {
    let mut now = submitted;
    let mut step = |dice: &mut Dice, days: usize| {
        now += Duration::days(1 + dice.below(days) as i64) + Duration::hours(dice.below(8) as i64);
        now
    };
    if kind == Kind::Suggestion && dice.chance(35) {
        let relayer = principal(&member(dice.below(MEMBERS)), Role::Member);
        let at = step(dice, 3);
        seeder
            .act(
                case,
                at,
                &relayer,
                Action::Relay,
                json!({"note": "走访中多位群众反映同一问题"}),
            )
            .await?;
    }
    let department = *dice.pick(&DEPARTMENTS);
    let at = step(dice, 6);
    seeder
        .act(case, at, staff, Action::Assign, json!({"department": department}))
        .await?;
    if dice.chance(12) {
        // Stalls: stays assigned past its deadline; some of those are escalated.
        if dice.chance(40) {
            let at = now + Duration::days(20);
            seeder
                .act(
                    case,
                    at,
                    staff,
                    Action::Escalate,
                    json!({"reason": "超期未办复，提级督办"}),
                )
                .await?;
        }
        return Ok(());
    }
    let members = json!([member(dice.below(MEMBERS)), member(dice.below(MEMBERS))]);
    match kind {
        Kind::JointResearch => {
            for (action, body) in [
                (
                    Action::CompletePreparation,
                    json!({"note": "组建跨界别调研组，制定调研提纲"}),
                ),
                (
                    Action::RecordVisit,
                    json!({"place": "达拉特旗", "findings": "后续管理薄弱，可支配收入偏低"}),
                ),
                (
                    Action::RecordVisit,
                    json!({"place": "杭锦旗", "findings": "产业链条短，带动能力弱"}),
                ),
                (Action::CompleteResearch, json!({"note": "形成调研报告初稿"})),
                (Action::Consult, json!({"note": "专题协商会", "members": members})),
                (
                    Action::SubmitReport,
                    json!({"title": "关于巩固农牧区三区建设成果的调研报告",
                    "recommendations": ["完善后续管理机制", "拓宽农牧民增收渠道", "延伸特色产业链"]}),
                ),
                (Action::Adopt, json!({"by": "市委市政府", "extent": "full"})),
                (
                    Action::RecordPolicy,
                    json!({"title": "关于巩固三区建设成果的若干措施", "by": "市政府办公室"}),
                ),
                (
                    Action::Close,
                    json!({"outcome": "A", "summary": "建议被采纳并出台配套政策"}),
                ),
            ] {
                let at = step(dice, 20);
                seeder.act(case, at, staff, action, body).await?;
            }
        }
        Kind::MicroConsultation => {
            for (action, body) in [
                (Action::Convene, json!({"venue": "凳凳议事会", "members": members})),
                (
                    Action::Consult,
                    json!({"note": "居民、物业、承办单位现场议事", "members": members}),
                ),
                (
                    Action::Adopt,
                    json!({"by": "街道办事处", "extent": "full", "responsible_parties": [department]}),
                ),
                (
                    Action::Close,
                    json!({"outcome": *dice.pick(&["A", "A", "B"]), "summary": "议定方案已落实"}),
                ),
            ] {
                let at = step(dice, 12);
                seeder.act(case, at, staff, action, body).await?;
            }
        }
        Kind::Suggestion => {
            let at = step(dice, 8);
            seeder
                .act(
                    case,
                    at,
                    staff,
                    Action::Consult,
                    json!({"note": "与提出人电话沟通办理情况"}),
                )
                .await?;
            let declined = dice.chance(15);
            let (action, body, outcome) = if declined {
                (Action::Decline, json!({"reason": "因条件限制暂不能解决"}), "C")
            } else {
                let extent = *dice.pick(&["full", "full", "partial"]);
                (
                    Action::Adopt,
                    json!({"by": department, "extent": extent}),
                    *dice.pick(&["A", "A", "A", "B"]),
                )
            };
            let at = step(dice, 10);
            seeder.act(case, at, staff, action, body).await?;
            let slow = if dice.chance(20) { 25 } else { 10 };
            let at = step(dice, slow);
            seeder
                .act(
                    case,
                    at,
                    staff,
                    Action::Close,
                    json!({"outcome": outcome, "summary": "已办复提出人"}),
                )
                .await?;
            let rating = *dice.pick(&["satisfied", "satisfied", "basically_satisfied", "unsatisfied"]);
            let at = step(dice, 5);
            seeder
                .act(
                    case,
                    at,
                    staff,
                    Action::Feedback,
                    json!({"rating": rating, "on_behalf_reason": "电话回访，提出人口述评价"}),
                )
                .await?;
            if rating == "unsatisfied" && dice.chance(60) {
                let at = step(dice, 3);
                seeder
                    .act(
                        case,
                        at,
                        staff,
                        Action::Reopen,
                        json!({"reason": "提出人不满意，重新办理"}),
                    )
                    .await?;
            }
        }
    }
    Ok(())
}
