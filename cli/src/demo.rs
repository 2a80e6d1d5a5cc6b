//! `lianxin demo seed`: a realistic year of cases written through the real command path (not
//! by inserting rows), so that a newcomer has something to look at. Deterministic for a seed and
//! an end: case ids, times and contents all come from one generator, and the engine's clock is
//! set for each command.
//!
//! What the year is made of lives in `cli/data/demo.json`: the city's handling units (city units
//! by category, and each banner's or district's own unit for neighbourhood matters), per category
//! a pool of voices with the unit that answers them (and a co-handling unit where one helps),
//! neighbourhood matters for micro-consultations at a venue, joint-research topics on the city's
//! central work, and the members' names. A case's title, body, kind, category, jurisdiction and
//! unit therefore belong together; pastoral matters are raised in the banners only. Categories
//! and matters are dealt from shuffled decks, so a year repeats a voice only after its whole
//! pool came up.
//!
//! **Nothing in the future.** The year ends at `until` (by default the moment of seeding) and
//! every command's time is at or before it: a case whose next step would fall later stops where
//! it is, open, in progress or overdue, as cases are on any real day.
//!
//! **The members' year.** The 60 members are registered (`members::register_demo_members`:
//! name, sector, level, jurisdiction, term; a few started last July) and keep their duties in
//! the seeded year and the two before: contacts with constituents, a social-opinion report and
//! two grassroots sessions a year. Most keep them; a few fell short last year and two in both
//! years before, so the assessment shows every standing: on track and at risk this year, on
//! track, below quota and below quota two years running last year. Staff held a reminder talk
//! 约谈提醒 after each year below quota and started the resignation procedure 启动请辞程序 after
//! the second.
//!
//! The units' steps come with shares an office would recognise: most sign within the window,
//! some late; a few object (a wrong unit, reassigned; or the right one, whom staff insist on);
//! some ask for time, granted or refused; some stall past the deadline and are escalated to the
//! city (市旗联动); the proposer evaluates each reply, and an unsatisfied evaluation often leads
//! to 重办 before staff close with the grade.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use domain::member_record::{LogContact, MemberInput};
use domain::member_registry::YearDecision;
use domain::{Action, ActionInput, Actor, HandlingLevel, Kind, Policy, Role, Submit, Timestamp};
use indicatif::ProgressBar;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use service::access::tokens::Principal;
use service::access::units::{self, Unit, UnitError};
use service::store::{Store, StoreError};
use service::write::engine::{Clock, CommandContext, Engine, EngineError};

use crate::members::{demo_term_start, register_demo_members};

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
    #[error(transparent)]
    Unit(#[from] UnitError),
    #[error("the demo's data file: {0}")]
    Data(#[from] serde_json::Error),
}

/// What the seed wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Seeded {
    /// Cases submitted: those drawn for the year, and the members' reports and sessions.
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

/// Shuffled decks of a pool's items, one per pool: an item is dealt again only once every item
/// of its pool was, so that a year repeats a matter no sooner than it must.
#[derive(Debug, Default)]
struct Decks(BTreeMap<String, Vec<usize>>);

impl Decks {
    /// The index of the next item of the pool `name` of `size` items.
    fn deal(&mut self, name: &str, size: usize, dice: &mut Dice) -> usize {
        let left = self.0.entry(name.to_owned()).or_default();
        if left.is_empty() {
            left.extend(0..size);
        }
        left.swap_remove(dice.below(left.len()))
    }
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

/// A handling unit acting as itself, as its token would.
fn unit_principal(unit: &str) -> Principal {
    Principal {
        department: Some(unit.to_owned()),
        ..principal(unit, Role::Department)
    }
}

/// What a year is made of: `cli/data/demo.json`.
#[derive(Debug, Deserialize)]
pub struct Pools {
    pub jurisdictions: Vec<String>,
    pub city_units: Vec<CityUnit>,
    pub local_unit: LocalUnit,
    pub categories: BTreeMap<String, Category>,
    pub neighbourhood: Vec<Neighbourhood>,
    pub research: Vec<Research>,
    pub members: Vec<String>,
    objections: Vec<String>,
    insist_reasons: Vec<String>,
    extension_reasons: Vec<String>,
    refusal_reasons: Vec<String>,
    opinions: Vec<String>,
    replies: BTreeMap<String, ReplyText>,
}

#[derive(Debug, Deserialize)]
pub struct CityUnit {
    pub id: String,
    pub name: String,
    pub categories: Vec<String>,
}

/// The unit every banner and district has for neighbourhood matters: `{jurisdiction}{id_suffix}`.
#[derive(Debug, Deserialize)]
pub struct LocalUnit {
    pub id_suffix: String,
    pub name_suffix: String,
    pub categories: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Category {
    /// The unit that answers the category's voices; `local` for the jurisdiction's own unit.
    pub lead: String,
    /// A unit that co-handles some of them.
    pub co: Option<String>,
    /// Raised in the banners only (grassland, pastoral water).
    #[serde(default)]
    pub pastoral: bool,
    /// Titles and bodies.
    pub voices: Vec<(String, String)>,
}

#[derive(Debug, Deserialize)]
pub struct Neighbourhood {
    pub title: String,
    pub body: String,
    pub venue: String,
}

#[derive(Debug, Deserialize)]
pub struct Research {
    pub title: String,
    pub body: String,
    pub category: String,
    findings: Vec<String>,
    recommendations: Vec<String>,
    policy: String,
}

#[derive(Debug, Deserialize)]
struct ReplyText {
    text: String,
    measures: String,
}

/// The category neighbourhood matters are filed under.
const NEIGHBOURHOOD: &str = "物业";

impl Pools {
    pub fn load() -> Result<Self, SeedError> {
        Ok(serde_json::from_str(include_str!("../data/demo.json"))?)
    }

    /// Every unit of the city: the city units, then each banner's and district's own.
    pub fn units(&self) -> Vec<Unit> {
        let city = self.city_units.iter().map(|unit| Unit {
            id: unit.id.clone(),
            name: unit.name.clone(),
            level: HandlingLevel::City,
            jurisdiction: None,
            categories: unit.categories.clone(),
        });
        let local = self.jurisdictions.iter().map(|jurisdiction| Unit {
            id: format!("{jurisdiction}{}", self.local_unit.id_suffix),
            name: format!("{jurisdiction}{}", self.local_unit.name_suffix),
            level: HandlingLevel::Local,
            jurisdiction: Some(jurisdiction.clone()),
            categories: self.local_unit.categories.clone(),
        });
        city.chain(local).collect()
    }

    /// The unit that leads a case of `category` raised in `jurisdiction`.
    pub fn lead(&self, category: &str, jurisdiction: &str) -> String {
        match self.categories.get(category).map(|category| category.lead.as_str()) {
            Some("local") | None => format!("{jurisdiction}{}", self.local_unit.id_suffix),
            Some(unit) => unit.to_owned(),
        }
    }

    /// The city unit that handles `category`, if any.
    pub fn city_lead(&self, category: &str) -> Option<&str> {
        self.city_units
            .iter()
            .find(|unit| unit.categories.iter().any(|handled| handled == category))
            .map(|unit| unit.id.as_str())
    }

    /// The member's name for people to read.
    fn member_name(&self, index: usize) -> &str {
        self.members.get(index % MEMBERS).map_or("", String::as_str)
    }
}

struct Seeder {
    engine: Engine,
    clock: Arc<Mutex<Timestamp>>,
    commands: usize,
    /// Cases submitted: those drawn for the year and those of the members' duties.
    cases: usize,
    /// The matters not yet dealt from each pool.
    decks: Decks,
    /// The seeded year's end: no command is dated after it.
    until: Timestamp,
    policy: Policy,
}

impl Seeder {
    fn at(&self, moment: Timestamp) {
        *self.clock.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = moment;
    }

    fn context(&self, who: &Principal) -> CommandContext {
        CommandContext::new(who.clone(), format!("demo-{}", self.commands))
    }

    /// Runs one action; a refusal (a step the case no longer allows) is skipped, not fatal, and
    /// so is a step that would fall after the year's end. Says whether it ran.
    async fn act(
        &mut self,
        case: Uuid,
        moment: Timestamp,
        who: &Principal,
        action: Action,
        body: Value,
    ) -> Result<bool, SeedError> {
        if moment > self.until {
            return Ok(false);
        }
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

/// What to seed: how many cases, over the twelve months before `until`, from which seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoPlan {
    pub cases: usize,
    pub until: Timestamp,
    pub seed: u64,
}

/// Seeds the city's units and the registered members, `cases` cases submitted over the twelve
/// months before `plan.until` and walked no further than it, and the members' duties of the
/// duty year of `until` and the two before.
pub async fn seed(store: Store, plan: &DemoPlan, progress: ProgressBar) -> Result<Seeded, SeedError> {
    let pools = Pools::load()?;
    for unit in pools.units() {
        match units::add(&store, &unit).await {
            Ok(()) | Err(UnitError::Exists(_)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    let until = plan.until;
    let start = until - Duration::days(365);
    let first_day = start.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
    let clock = Arc::new(Mutex::new(start));
    let policy = Policy::default();
    let mut seeder = Seeder {
        engine: Engine::new(store, policy.clone(), Clock::Fixed(Arc::clone(&clock))),
        clock,
        commands: 0,
        cases: 0,
        decks: Decks::default(),
        until,
        policy,
    };
    let mut dice = Dice(plan.seed | 1);
    let staff = principal("市政协工作人员", Role::Staff);
    let year = until.with_timezone(&seeder.policy.offset).year();
    let roster: Vec<(String, String)> = (0..MEMBERS)
        .map(|index| (member(index), pools.member_name(index).to_owned()))
        .collect();
    seeder.commands += roster.len();
    register_demo_members(&seeder.engine, &roster, year, |term_start| {
        seeder.at(morning(term_start));
    })
    .await?;
    let contacts = log_contacts(&mut seeder, &pools, &mut dice, year).await?;
    for offset in [2, 1, 0] {
        duties(&mut seeder, &pools, &mut dice, year - offset, &staff).await?;
    }
    decisions(&mut seeder, year, &staff).await?;
    for index in 0..plan.cases {
        // Office hours, Beijing time (UTC+8: 01:00 to 09:00 UTC), on any of the 360 days before
        // the end.
        let submitted = first_day
            + Duration::days(1 + dice.below(360) as i64)
            + Duration::hours(1 + dice.below(8) as i64)
            + Duration::minutes(dice.below(60) as i64);
        let kind = match dice.below(20) {
            0 => Kind::JointResearch,
            1..=4 => Kind::MicroConsultation,
            _ => Kind::Suggestion,
        };
        let voice = Voice::draw(&pools, &mut seeder.decks, &mut dice, kind);
        let reporter = member(dice.below(MEMBERS));
        let submitter = match kind {
            Kind::Suggestion if dice.chance(70) => principal(&format!("citizen-{index}"), Role::Citizen),
            _ => principal(&reporter, Role::Member),
        };
        let case = dice.uuid();
        if submitted <= until {
            seeder.at(submitted);
            seeder.commands += 1;
            seeder.cases += 1;
            seeder
                .engine
                .submit_as(case, seeder.context(&submitter), voice.submit(kind)?)
                .await?;
            let walk = Walk {
                case,
                kind,
                now: submitted,
                proposer: submitter,
                staff: staff.clone(),
                settled: false,
            };
            walk.run(&mut seeder, &pools, &mut dice, &voice).await?;
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(Seeded {
        cases: seeder.cases,
        contacts,
        commands: seeder.commands,
    })
}

/// A case's matter: what it says and where, and the unit that answers it.
struct Voice<'a> {
    title: &'a str,
    body: &'a str,
    category: &'a str,
    jurisdiction: &'a str,
    venue: &'a str,
    research: Option<&'a Research>,
    lead: String,
    co: Option<&'a str>,
}

impl<'a> Voice<'a> {
    /// A matter fit for `kind`: a voice of a category for a suggestion, a neighbourhood matter
    /// for a micro-consultation, a topic of the city's central work for joint research.
    fn draw(pools: &'a Pools, decks: &mut Decks, dice: &mut Dice, kind: Kind) -> Self {
        let banners: Vec<&str> = pools
            .jurisdictions
            .iter()
            .map(String::as_str)
            .filter(|jurisdiction| jurisdiction.ends_with('旗'))
            .collect();
        let anywhere: Vec<&str> = pools.jurisdictions.iter().map(String::as_str).collect();
        let (title, body, category, venue, research) = match kind {
            Kind::Suggestion => {
                let categories: Vec<&String> = pools.categories.keys().collect();
                let category = categories[decks.deal("categories", categories.len(), dice)];
                let voices = &pools.categories[category].voices;
                let (title, body) = &voices[decks.deal(category, voices.len(), dice)];
                (title.as_str(), body.as_str(), category.as_str(), "", None)
            }
            Kind::MicroConsultation => {
                let matter = &pools.neighbourhood[decks.deal("neighbourhood", pools.neighbourhood.len(), dice)];
                (
                    matter.title.as_str(),
                    matter.body.as_str(),
                    NEIGHBOURHOOD,
                    matter.venue.as_str(),
                    None,
                )
            }
            Kind::JointResearch => {
                let topic = &pools.research[decks.deal("research", pools.research.len(), dice)];
                (
                    topic.title.as_str(),
                    topic.body.as_str(),
                    topic.category.as_str(),
                    "",
                    Some(topic),
                )
            }
        };
        let pastoral = pools.categories.get(category).is_some_and(|category| category.pastoral);
        // Joint research is the city's: filed under the seat of the city government.
        let jurisdiction = match kind {
            Kind::JointResearch => "康巴什区",
            _ if pastoral => *dice.pick(&banners),
            _ => *dice.pick(&anywhere),
        };
        let co = pools
            .categories
            .get(category)
            .and_then(|category| category.co.as_deref())
            .filter(|_| kind == Kind::Suggestion && dice.chance(30));
        Voice {
            title,
            body,
            category,
            jurisdiction,
            venue,
            research,
            lead: pools.lead(category, jurisdiction),
            co,
        }
    }

    fn submit(&self, kind: Kind) -> Result<Submit, SeedError> {
        Ok(serde_json::from_value(json!({
            "kind": kind, "title": self.title, "body": self.body,
            "category": self.category, "jurisdiction": self.jurisdiction,
        }))?)
    }
}

/// 09:00 in Beijing on `day`.
fn morning(day: NaiveDate) -> Timestamp {
    Utc.from_utc_datetime(&day.and_hms_opt(1, 0, 0).unwrap_or_default())
}

/// How a member keeps the duties, which sets the assessment's shares: most keep them; every
/// twelfth from the sixth slipped last year (too few constituents: below quota); two lag in
/// both years before this one (below quota two years running). This year, whoever has not yet
/// met a quota is at risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Diligence {
    Steady,
    SlippedLastYear,
    Lagging,
}

fn diligence(index: usize) -> Diligence {
    if index % 30 == 7 {
        Diligence::Lagging
    } else if index % 12 == 5 {
        Diligence::SlippedLastYear
    } else {
        Diligence::Steady
    }
}

/// Staff's decisions on the years members fell short: a reminder talk 约谈提醒 after each year
/// below quota, and the start of the resignation procedure 启动请辞程序 after the second year
/// running; in February of the next year (after the year's assessment on 31 January), and not
/// after the seed's end.
async fn decisions(seeder: &mut Seeder, year: i32, staff: &Principal) -> Result<(), SeedError> {
    for index in 0..MEMBERS {
        let short_years = match diligence(index) {
            Diligence::Steady => vec![],
            Diligence::SlippedLastYear => vec![year - 1],
            Diligence::Lagging => vec![year - 2, year - 1],
        };
        // A term begun within a year asks for part of the quotas, which the few slipped
        // contacts still meet.
        let term_start = demo_term_start(index, year).year();
        let short_years = short_years.into_iter().filter(|short| *short > term_start);
        for (running, short) in short_years.enumerate() {
            let mut steps = vec![(
                10,
                MemberInput::ReminderTalk(YearDecision {
                    year: short,
                    reason: format!("{short}年度履职未达到“六个一”要求，约谈提醒"),
                }),
            )];
            if running == 1 {
                steps.push((
                    24,
                    MemberInput::StartResignation(YearDecision {
                        year: short,
                        reason: format!("{}、{short}年度连续两年未达标，按规定启动请辞程序", short - 1),
                    }),
                ));
            }
            for (day, input) in steps {
                let Some(moment) = NaiveDate::from_ymd_opt(short + 1, 2, day).map(morning) else {
                    continue;
                };
                if moment > seeder.until {
                    continue;
                }
                seeder.at(moment);
                seeder.commands += 1;
                let context = seeder.context(staff);
                seeder.engine.member_command(&member(index), context, input).await?;
            }
        }
    }
    Ok(())
}

/// Every member's contacts with constituents in `year` and the two years before, inside the
/// member's term and not after the seed's end; each contact with a constituent of its own key,
/// so that the contacts are as many distinct constituents. Says how many were logged.
async fn log_contacts(seeder: &mut Seeder, pools: &Pools, dice: &mut Dice, year: i32) -> Result<usize, SeedError> {
    let mut contacts = 0;
    for index in 0..MEMBERS {
        let id = member(index);
        let term_start = demo_term_start(index, year);
        for duty_year in year - 2..=year {
            let count = match (diligence(index), year - duty_year) {
                (Diligence::Lagging, 0) => 1,
                (Diligence::Lagging, _) => 2,
                (Diligence::SlippedLastYear, 1) => 3,
                // The running year: some have already met the quota, some not yet.
                (_, 0) => 3 + dice.below(5),
                _ => 5 + dice.below(3),
            };
            // A term that started in the year is worked from its first month.
            let first_month = if term_start.year() == duty_year {
                term_start.month()
            } else {
                1
            };
            let months = if duty_year == year { 10 } else { 13 - first_month };
            for contact in 0..count {
                let month = first_month + (contact as u32 * 2 + index as u32) % months;
                let Some(date) = NaiveDate::from_ymd_opt(duty_year, month, 1 + dice.below(27) as u32) else {
                    continue;
                };
                let category = dice.pick(&CATEGORIES);
                let place = dice.pick(&["牧区", "嘎查", "社区", "街道", "企业", "学校"]);
                let moment = date.and_hms_opt(2, 0, 0).unwrap_or_default().and_utc();
                if date < term_start || moment > seeder.until {
                    continue;
                }
                seeder.at(moment);
                let input = LogContact {
                    date,
                    constituent: format!("{place}-{:02}", contact + 1),
                    summary: format!(
                        "走访{}群众，了解{category}方面的诉求",
                        pools.jurisdictions[dice.below(pools.jurisdictions.len())]
                    ),
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
    Ok(contacts)
}

/// A year's reports and grassroots sessions: every member in the term but the lagging submits
/// a social-opinion report, walked like any voice, and attends the two sessions of a
/// micro-consultation held with seven others. Past years' from September (after a term that
/// started on 1 July), this year's from March, and none after the seed's end.
async fn duties(
    seeder: &mut Seeder,
    pools: &Pools,
    dice: &mut Dice,
    year: i32,
    staff: &Principal,
) -> Result<(), SeedError> {
    let demo_year = seeder.until.with_timezone(&seeder.policy.offset).year();
    let this_year = year == demo_year;
    let month = if this_year { 3 } else { 9 };
    let Some(start) = NaiveDate::from_ymd_opt(year, month, 1).map(morning) else {
        return Ok(());
    };
    let step = if this_year { 3 } else { 1 };
    let active: Vec<String> = (0..MEMBERS)
        .filter(|index| diligence(*index) != Diligence::Lagging)
        .filter(|index| demo_term_start(*index, demo_year).year() <= year)
        .map(member)
        .collect();
    for (index, id) in active.iter().enumerate() {
        let submitted = start + Duration::days(index as i64 * step);
        if submitted > seeder.until {
            break;
        }
        let voice = Voice::draw(pools, &mut seeder.decks, dice, Kind::Suggestion);
        let case = dice.uuid();
        let proposer = principal(id, Role::Member);
        seeder.at(submitted);
        seeder.commands += 1;
        seeder.cases += 1;
        seeder
            .engine
            .submit_as(case, seeder.context(&proposer), voice.submit(Kind::Suggestion)?)
            .await?;
        let walk = Walk {
            case,
            kind: Kind::Suggestion,
            now: submitted,
            proposer,
            staff: staff.clone(),
            settled: !this_year,
        };
        walk.run(seeder, pools, dice, &voice).await?;
    }
    let gap = if this_year { 30 } else { 7 };
    for (group, members) in active.chunks(8).enumerate() {
        let voice = Voice::draw(pools, &mut seeder.decks, dice, Kind::MicroConsultation);
        let case = dice.uuid();
        let opened = start + Duration::days(gap * group as i64);
        if opened > seeder.until {
            break;
        }
        seeder.at(opened);
        seeder.commands += 1;
        seeder.cases += 1;
        seeder
            .engine
            .submit_as(case, seeder.context(staff), voice.submit(Kind::MicroConsultation)?)
            .await?;
        let lead = unit_principal(&voice.lead);
        let sessions = [
            (staff, Action::Assign, json!({"department": voice.lead})),
            (&lead, Action::Acknowledge, json!({})),
            (
                staff,
                Action::Convene,
                json!({"venue": voice.venue, "members": members}),
            ),
            (
                staff,
                Action::Consult,
                json!({"note": "第一次议事：听取居民意见", "members": members}),
            ),
            (
                staff,
                Action::Consult,
                json!({"note": "第二次议事：商定解决方案", "members": members}),
            ),
            (
                staff,
                Action::Adopt,
                json!({"by": "社区居委会", "extent": "full", "responsible_parties": [voice.lead]}),
            ),
            (
                staff,
                Action::Close,
                json!({"outcome": "A", "summary": "议定事项已落实"}),
            ),
        ];
        for (step, (who, action, body)) in (1..).zip(sessions) {
            seeder
                .act(case, opened + Duration::days(step * 2), who, action, body)
                .await?;
        }
    }
    Ok(())
}

/// One case on its way: where it is in time and who takes part.
struct Walk {
    case: Uuid,
    kind: Kind,
    now: Timestamp,
    proposer: Principal,
    staff: Principal,
    /// A case of a year long over: by now it has been answered, however slowly.
    settled: bool,
}

impl Walk {
    /// Moves the case's time on by one to `days` days and some hours.
    fn later(&mut self, dice: &mut Dice, days: usize) -> Timestamp {
        self.now += Duration::days(1 + dice.below(days) as i64) + Duration::hours(dice.below(8) as i64);
        self.now
    }

    /// Moves the case's time on by a few hours: a step taken the same day.
    fn soon(&mut self, dice: &mut Dice) -> Timestamp {
        self.now += Duration::hours(1 + dice.below(5) as i64);
        self.now
    }

    async fn staff_does(&self, seeder: &mut Seeder, action: Action, body: Value) -> Result<bool, SeedError> {
        seeder.act(self.case, self.now, &self.staff, action, body).await
    }

    async fn unit_does(&self, seeder: &mut Seeder, unit: &str, action: Action, body: Value) -> Result<bool, SeedError> {
        seeder
            .act(self.case, self.now, &unit_principal(unit), action, body)
            .await
    }

    /// Takes the case as far as the dice say and the year's end allows.
    async fn run(
        mut self,
        seeder: &mut Seeder,
        pools: &Pools,
        dice: &mut Dice,
        voice: &Voice<'_>,
    ) -> Result<(), SeedError> {
        if self.kind == Kind::Suggestion && dice.chance(35) {
            let relayer = principal(&member(dice.below(MEMBERS)), Role::Member);
            let at = self.later(dice, 3);
            let note = json!({"note": "走访中多位群众反映同一问题"});
            seeder.act(self.case, at, &relayer, Action::Relay, note).await?;
        }
        let lead = voice.lead.as_str();
        // A few are first sent to a unit that is not theirs, which objects: staff reassign. Only
        // where the year leaves room for both, so that no case ends the year with a wrong unit
        // that has not yet objected.
        let misrouted =
            self.kind == Kind::Suggestion && dice.chance(5) && self.now + Duration::days(12) <= seeder.until;
        let first = if misrouted {
            let others: Vec<&CityUnit> = pools
                .city_units
                .iter()
                .filter(|unit| !unit.categories.iter().any(|category| category == voice.category))
                .collect();
            dice.pick(&others).id.as_str()
        } else {
            lead
        };
        self.later(dice, 5);
        let mut handed_at = self.now;
        let co: Vec<&str> = voice.co.into_iter().collect();
        if !self
            .staff_does(
                seeder,
                Action::Assign,
                json!({"department": first, "co_departments": co}),
            )
            .await?
        {
            return Ok(());
        }
        if misrouted {
            self.later(dice, 2);
            let reason = dice.pick(&pools.objections).clone();
            self.unit_does(seeder, first, Action::Object, json!({"reason": reason}))
                .await?;
            self.later(dice, 2);
            let reassign = json!({"department": lead, "co_departments": co, "reason": "异议成立，改派对口单位办理"});
            if !self.staff_does(seeder, Action::Reassign, reassign).await? {
                return Ok(());
            }
            handed_at = self.now;
        } else if self.kind == Kind::Suggestion && dice.chance(3) {
            self.later(dice, 2);
            let reason = dice.pick(&pools.objections).clone();
            self.unit_does(seeder, lead, Action::Object, json!({"reason": reason}))
                .await?;
            self.later(dice, 2);
            let reason = dice.pick(&pools.insist_reasons).clone();
            self.staff_does(seeder, Action::Insist, json!({"reason": reason}))
                .await?;
        }
        // Most sign within the day; some only after the window to sign has closed.
        if dice.chance(15) {
            self.later(dice, 4);
        } else {
            self.soon(dice);
        }
        if !self.unit_does(seeder, lead, Action::Acknowledge, json!({})).await? {
            return Ok(());
        }
        let mut due = seeder.policy.response_deadline(self.kind, handed_at);
        match self.kind {
            Kind::Suggestion => {}
            Kind::MicroConsultation => self.consult_at_venue(seeder, dice, voice, lead).await?,
            Kind::JointResearch => self.research(seeder, dice, voice).await?,
        }
        for co in &co {
            self.later(dice, 4);
            let opinion = dice.pick(&pools.opinions).clone();
            self.unit_does(seeder, co, Action::Contribute, json!({"opinion": opinion}))
                .await?;
        }
        if dice.chance(12) {
            // Asks for time before the deadline; staff grant most requests.
            self.later(dice, 3);
            let days = 10;
            let reason = dice.pick(&pools.extension_reasons).clone();
            let asked = self
                .unit_does(
                    seeder,
                    lead,
                    Action::RequestExtension,
                    json!({"days": days, "reason": reason}),
                )
                .await?;
            self.later(dice, 2);
            if asked && dice.chance(70) {
                if self.staff_does(seeder, Action::GrantExtension, json!({})).await? {
                    due = seeder.policy.extended_deadline(self.kind, due, days);
                }
            } else if asked {
                let reason = dice.pick(&pools.refusal_reasons).clone();
                self.staff_does(seeder, Action::RefuseExtension, json!({"reason": reason}))
                    .await?;
            }
        }
        if dice.chance(10) && !self.settled {
            // Stalls: no reply; past its deadline some are escalated to the city (市旗联动).
            if dice.chance(40) {
                self.now = due + Duration::days(3 + dice.below(10) as i64);
                // A banner's or district's case goes to the city unit of its category.
                let mut body = json!({"reason": "超期未办复，提级督办", "level": "city"});
                if let Some(city_unit) = pools.city_lead(voice.category).filter(|unit| *unit != lead) {
                    body["department"] = json!(city_unit);
                }
                self.staff_does(seeder, Action::Escalate, body).await?;
            }
            return Ok(());
        }
        // Most reply by the deadline in force; some after it.
        let late = dice.chance(12);
        self.now = if late {
            due + Duration::days(1 + dice.below(10) as i64)
        } else {
            let room = (due - self.now).num_days().max(2) as usize;
            self.now + Duration::days(1 + dice.below(room - 1) as i64)
        };
        let grade = *dice.pick(&["A", "A", "A", "A", "B", "B", "C"]);
        if !self.reply(seeder, pools, lead, grade).await? {
            return Ok(());
        }
        let mut rating = *dice.pick(&[
            "satisfied",
            "satisfied",
            "satisfied",
            "basically_satisfied",
            "basically_satisfied",
            "unsatisfied",
        ]);
        self.later(dice, 4);
        self.evaluate(seeder, rating).await?;
        if rating == "unsatisfied" && self.kind == Kind::Suggestion && dice.chance(70) {
            // 重办: back to the same unit, which signs again and replies anew.
            self.later(dice, 3);
            let reopened = self
                .staff_does(seeder, Action::Reopen, json!({"reason": "提出人不满意，重新办理"}))
                .await?;
            if !reopened {
                return Ok(());
            }
            self.soon(dice);
            self.unit_does(seeder, lead, Action::Acknowledge, json!({})).await?;
            self.later(dice, 12);
            if !self.reply(seeder, pools, lead, "A").await? {
                return Ok(());
            }
            rating = *dice.pick(&["satisfied", "basically_satisfied", "basically_satisfied"]);
            self.later(dice, 4);
            self.evaluate(seeder, rating).await?;
        }
        self.close(seeder, dice, grade, rating).await
    }

    async fn reply(&mut self, seeder: &mut Seeder, pools: &Pools, lead: &str, grade: &str) -> Result<bool, SeedError> {
        let Some(reply) = pools.replies.get(grade) else {
            return Ok(false);
        };
        let body = json!({"text": reply.text, "proposed_grade": grade, "measures": reply.measures});
        self.unit_does(seeder, lead, Action::Reply, body).await
    }

    /// The proposer evaluates the reply; staff record it for a citizen reached by telephone.
    async fn evaluate(&self, seeder: &mut Seeder, rating: &str) -> Result<bool, SeedError> {
        if self.proposer.actor.role == Role::Citizen {
            let body = json!({"rating": rating, "on_behalf_reason": "电话回访，提出人口述评价"});
            self.staff_does(seeder, Action::Evaluate, body).await
        } else {
            let body = json!({"rating": rating});
            seeder
                .act(self.case, self.now, &self.proposer, Action::Evaluate, body)
                .await
        }
    }

    /// Staff adopt what was proposed (or decline it) and close with the grade.
    async fn close(mut self, seeder: &mut Seeder, dice: &mut Dice, grade: &str, rating: &str) -> Result<(), SeedError> {
        self.later(dice, 5);
        if self.kind == Kind::Suggestion {
            let (action, body) = if grade == "C" {
                (
                    Action::Decline,
                    json!({"reason": "因条件限制暂不能解决，已向提出人说明"}),
                )
            } else {
                let extent = if rating == "satisfied" { "full" } else { "partial" };
                (Action::Adopt, json!({"by": "承办单位", "extent": extent}))
            };
            self.staff_does(seeder, action, body).await?;
            self.soon(dice);
        }
        let summary = match grade {
            "A" => "问题已解决，提出人对办理结果表示认可",
            "B" => "已列入工作计划，将按期推进落实",
            _ => "受条件限制暂不能解决，已作出解释说明",
        };
        self.staff_does(seeder, Action::Close, json!({"outcome": grade, "summary": summary}))
            .await?;
        Ok(())
    }

    /// A micro-consultation's sessions at its venue; what is agreed is the unit's to carry out.
    async fn consult_at_venue(
        &mut self,
        seeder: &mut Seeder,
        dice: &mut Dice,
        voice: &Voice<'_>,
        lead: &str,
    ) -> Result<(), SeedError> {
        let members = json!([member(dice.below(MEMBERS)), member(dice.below(MEMBERS))]);
        for (action, body) in [
            (Action::Convene, json!({"venue": voice.venue, "members": members})),
            (
                Action::Consult,
                json!({"note": "居民、物业、承办单位现场议事，形成解决方案", "members": members}),
            ),
            (
                Action::Adopt,
                json!({"by": "社区居委会", "extent": "full", "responsible_parties": [lead]}),
            ),
        ] {
            self.later(dice, 6);
            self.staff_does(seeder, action, body).await?;
        }
        Ok(())
    }

    /// A joint-research topic's preparation, visits, consultation and report, adopted by the
    /// city; the unit then replies on what it will do.
    async fn research(&mut self, seeder: &mut Seeder, dice: &mut Dice, voice: &Voice<'_>) -> Result<(), SeedError> {
        let Some(topic) = voice.research else {
            return Ok(());
        };
        let members = json!([
            member(dice.below(MEMBERS)),
            member(dice.below(MEMBERS)),
            member(dice.below(MEMBERS))
        ]);
        let mut steps = vec![(
            Action::CompletePreparation,
            json!({"note": "组建经济、科技、农牧、教育等界别委员联合调研组，制定调研提纲"}),
        )];
        for (place, findings) in ["达拉特旗", "杭锦旗"].into_iter().zip(&topic.findings) {
            steps.push((Action::RecordVisit, json!({"place": place, "findings": findings})));
        }
        steps.extend([
            (Action::CompleteResearch, json!({"note": "形成调研报告初稿"})),
            (Action::Consult, json!({"note": "专题协商会", "members": members})),
            (
                Action::SubmitReport,
                json!({"title": format!("{}报告", topic.title), "recommendations": topic.recommendations}),
            ),
            (Action::Adopt, json!({"by": "市委市政府", "extent": "full"})),
            (
                Action::RecordPolicy,
                json!({"title": topic.policy, "by": "市政府办公室"}),
            ),
        ]);
        for (action, body) in steps {
            self.later(dice, 15);
            self.staff_does(seeder, action, body).await?;
        }
        Ok(())
    }
}
