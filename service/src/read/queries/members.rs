//! Members' duty records, the assessment of all members against the quotas, and one member's
//! archive 一人一档. The counts are read from `member_year_counts` (the projection keeps them per
//! member, duty year and activity), a few rows per member; the archive lists the credits behind
//! them too. The quota set is applied here (see `projections::assessment`).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use domain::Timestamp;
use projections::{activity, Credit, DutyYears, ItemResult, Quotas, Shortfall, Standing, YearJudged};
use serde::Serialize;
use sqlx::Row;

use crate::store::{on_pool, Store, StoreError};

/// A member's entry in the registry.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct MemberEntry {
    pub member_id: String,
    pub name: String,
    pub sector: String,
    pub level: String,
    pub jurisdiction: Option<String>,
    pub term_start: NaiveDate,
    pub term_end: NaiveDate,
    pub left_on: Option<NaiveDate>,
}

/// A decision staff recorded on a duty year.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Decision {
    pub kind: String,
    pub year: i32,
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
    pub position: i64,
}

/// A member's duty record for a year, measured against the quotas.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct MemberStanding {
    pub member_id: String,
    pub year: i32,
    /// The registry's sector and level, for a registered member.
    pub sector: Option<String>,
    pub level: Option<String>,
    /// Distinct constituents contacted.
    pub contacts: u32,
    pub relays: u32,
    /// Social-opinion reports.
    pub reports: u32,
    /// Grassroots consultation sessions attended.
    pub consultations: u32,
    pub solved: u32,
    /// Every activity's count.
    pub counts: BTreeMap<String, u32>,
    /// The months of the year in the member's term: the quotas are scaled by them.
    pub months_in_term: u32,
    pub items: Vec<ItemResult>,
    pub shortfalls: Vec<Shortfall>,
    pub standing: Standing,
    pub decisions: Vec<Decision>,
}

fn date(text: &str) -> Result<NaiveDate, sqlx::Error> {
    text.parse()
        .map_err(|error: chrono::ParseError| sqlx::Error::Decode(error.into()))
}

/// Whose counts a read needs.
#[derive(Debug, Clone, Copy)]
enum Counts<'a> {
    /// One member's, of every year.
    Of(&'a str),
    /// Every member's, of the duty years `first..=last`.
    Years(i32, i32),
}

/// The counts wanted, by member, duty year and activity.
async fn counts(store: &Store, wanted: Counts<'_>) -> Result<Vec<(String, i32, String, u32)>, StoreError> {
    const SELECT: &str = "SELECT member_id, year, activity, count FROM member_year_counts WHERE ";
    let rows = on_pool!(store, |pool| {
        let mut query = sqlx::QueryBuilder::new(SELECT);
        match wanted {
            Counts::Of(member) => query.push("member_id = ").push_bind(member.to_owned()),
            Counts::Years(first, last) => query
                .push("year >= ")
                .push_bind(i64::from(first))
                .push(" AND year <= ")
                .push_bind(i64::from(last)),
        };
        let mut counts = Vec::new();
        for row in query.build().fetch_all(pool).await? {
            counts.push((
                row.try_get(0)?,
                number(row.try_get(1)?)?,
                row.try_get(2)?,
                number(row.try_get(3)?)?,
            ));
        }
        counts
    });
    Ok(rows)
}

/// A stored number in the range its reader holds it in.
fn number<T: TryFrom<i64>>(value: i64) -> Result<T, sqlx::Error> {
    T::try_from(value).map_err(|_| sqlx::Error::Decode(format!("{value} is out of range").into()))
}

/// Every credit of `member`, in log order.
async fn credits(store: &Store, member: &str) -> Result<Vec<Credit>, StoreError> {
    const SELECT: &str = "SELECT member_id, activity, subject, on_date, at, level, stream, position \
                          FROM member_credits WHERE member_id = $1 ORDER BY position";
    let rows = on_pool!(store, |pool| {
        let rows = sqlx::query(SELECT).bind(member).fetch_all(pool).await?;
        let mut credits = Vec::with_capacity(rows.len());
        for row in rows {
            credits.push(Credit {
                member_id: row.try_get(0)?,
                activity: row.try_get(1)?,
                subject: row.try_get(2)?,
                on_date: row.try_get::<Option<String>, _>(3)?.as_deref().map(date).transpose()?,
                at: row.try_get(4)?,
                level: row.try_get(5)?,
                stream: row.try_get(6)?,
                position: row.try_get(7)?,
            });
        }
        credits
    });
    Ok(rows)
}

/// The registry entries of one member, or of all, by member id.
pub async fn entries(store: &Store, member: Option<&str>) -> Result<Vec<MemberEntry>, StoreError> {
    const SELECT: &str =
        "SELECT member_id, name, sector, level, jurisdiction, term_start, term_end, left_on FROM members";
    let rows = on_pool!(store, |pool| {
        let mut query = sqlx::QueryBuilder::new(SELECT);
        if let Some(member) = member {
            query.push(" WHERE member_id = ").push_bind(member.to_owned());
        }
        query.push(" ORDER BY member_id");
        let mut entries = Vec::new();
        for row in query.build().fetch_all(pool).await? {
            entries.push(MemberEntry {
                member_id: row.try_get(0)?,
                name: row.try_get(1)?,
                sector: row.try_get(2)?,
                level: row.try_get(3)?,
                jurisdiction: row.try_get(4)?,
                term_start: date(&row.try_get::<String, _>(5)?)?,
                term_end: date(&row.try_get::<String, _>(6)?)?,
                left_on: row.try_get::<Option<String>, _>(7)?.as_deref().map(date).transpose()?,
            });
        }
        entries
    });
    Ok(rows)
}

async fn decisions(store: &Store, member: Option<&str>) -> Result<Vec<(String, Decision)>, StoreError> {
    const SELECT: &str = "SELECT member_id, kind, year, reason, by_id, at, position FROM member_decisions";
    let rows = on_pool!(store, |pool| {
        let mut query = sqlx::QueryBuilder::new(SELECT);
        if let Some(member) = member {
            query.push(" WHERE member_id = ").push_bind(member.to_owned());
        }
        query.push(" ORDER BY position");
        let mut decisions = Vec::new();
        for row in query.build().fetch_all(pool).await? {
            decisions.push((
                row.try_get(0)?,
                Decision {
                    kind: row.try_get(1)?,
                    year: number(row.try_get(2)?)?,
                    reason: row.try_get(3)?,
                    by: row.try_get(4)?,
                    at: row.try_get(5)?,
                    position: row.try_get(6)?,
                },
            ));
        }
        decisions
    });
    Ok(rows)
}

/// What one member's standing is read from.
#[derive(Debug, Default)]
struct MemberData {
    years: DutyYears,
    sector: Option<String>,
    level: Option<String>,
    decisions: Vec<Decision>,
}

impl MemberData {
    /// The standing for `year`, if it is assessed.
    fn standing(&self, member_id: &str, year: i32, quotas: &Quotas, today: NaiveDate) -> Option<MemberStanding> {
        let judged = self.years.judge(quotas, year, today)?;
        Some(self.shown(member_id, judged))
    }

    /// A judged year with the counts and decisions behind it.
    fn shown(&self, member_id: &str, judged: YearJudged) -> MemberStanding {
        let year = judged.year;
        let counts = self.years.counts.get(&year).cloned().unwrap_or_default();
        let count = |names: &[&str]| {
            names
                .iter()
                .map(|name| counts.get(*name).copied().unwrap_or_default())
                .sum()
        };
        MemberStanding {
            member_id: member_id.to_owned(),
            year,
            sector: self.sector.clone(),
            level: self.level.clone(),
            contacts: count(&[activity::CONSTITUENTS]),
            relays: count(&[activity::VOICES_RELAYED]),
            reports: count(&[activity::SOCIAL_OPINION_REPORTS]),
            consultations: count(&[activity::GRASSROOTS_CONSULTATIONS]),
            solved: count(&[activity::PROBLEMS_SOLVED]),
            months_in_term: judged.months,
            shortfalls: judged.items.iter().filter(|item| !item.met()).cloned().collect(),
            items: judged.items,
            standing: judged.standing,
            decisions: self
                .decisions
                .iter()
                .filter(|decision| decision.year == year)
                .cloned()
                .collect(),
            counts,
        }
    }
}

/// Everything the standings of `member` (or of every member) are read from, by member.
async fn member_data(
    store: &Store,
    wanted: Counts<'_>,
) -> Result<(BTreeMap<String, MemberData>, Vec<MemberEntry>), StoreError> {
    let member = match wanted {
        Counts::Of(member) => Some(member),
        Counts::Years(..) => None,
    };
    let entries = entries(store, member).await?;
    let mut data: BTreeMap<String, MemberData> = BTreeMap::new();
    for entry in &entries {
        let member = data.entry(entry.member_id.clone()).or_default();
        // A member who left: the term ends on the day of leaving.
        let last = entry.left_on.map_or(entry.term_end, |left| left.min(entry.term_end));
        member.years.term = Some((entry.term_start, last));
        member.sector = Some(entry.sector.clone());
        member.level = Some(entry.level.clone());
    }
    for (member_id, year, activity, count) in counts(store, wanted).await? {
        data.entry(member_id)
            .or_default()
            .years
            .counts
            .entry(year)
            .or_default()
            .insert(activity, count);
    }
    for (member_id, decision) in decisions(store, member).await? {
        data.entry(member_id).or_default().decisions.push(decision);
    }
    Ok((data, entries))
}

/// `member`'s standing for `year`: a year outside a registered member's term (before it, or
/// after the member left) asks nothing (`months_in_term` 0); an unregistered member's is judged
/// as a whole year.
pub async fn member_record(
    store: &Store,
    member_id: &str,
    year: i32,
    quotas: &Quotas,
    now: Timestamp,
    offset: FixedOffset,
) -> Result<MemberStanding, StoreError> {
    let (mut data, _) = member_data(store, Counts::Of(member_id)).await?;
    let member = data.remove(member_id).unwrap_or_default();
    let today = now.with_timezone(&offset).date_naive();
    Ok(member.shown(member_id, member.years.judged(quotas, year, today)))
}

#[derive(utoipa::ToSchema, Debug, Clone, Default, Serialize)]
pub struct Assessment {
    pub year: i32,
    pub on_track: u32,
    pub at_risk: u32,
    pub below_quota: u32,
    pub below_two_years_running: u32,
    pub members: Vec<MemberStanding>,
}

/// Every known member for `year`: those in the registry whose term covers it, and those with a
/// member token or a credit (judged on the whole year). `jurisdiction` cuts it to the members
/// of record there.
pub async fn assessment(
    store: &Store,
    year: i32,
    quotas: &Quotas,
    now: Timestamp,
    offset: FixedOffset,
    jurisdiction: Option<&str>,
) -> Result<Assessment, StoreError> {
    let (mut data, entries) = member_data(store, Counts::Years(year - 1, year)).await?;
    const MEMBERS: &str = "SELECT DISTINCT member_id FROM tokens WHERE role = 'member' AND member_id IS NOT NULL";
    let tokens: Vec<String> = on_pool!(store, |pool| sqlx::query_scalar(MEMBERS).fetch_all(pool).await?);
    for member in tokens {
        data.entry(member).or_default();
    }
    if let Some(jurisdiction) = jurisdiction {
        data.retain(|member, _| {
            entries
                .iter()
                .any(|entry| &entry.member_id == member && entry.jurisdiction.as_deref() == Some(jurisdiction))
        });
    }
    let today = now.with_timezone(&offset).date_naive();
    let mut assessment = Assessment {
        year,
        ..Assessment::default()
    };
    for (member, data) in &data {
        let Some(standing) = data.standing(member, year, quotas, today) else {
            continue;
        };
        match standing.standing {
            Standing::OnTrack => assessment.on_track += 1,
            Standing::AtRisk => assessment.at_risk += 1,
            Standing::BelowQuota => assessment.below_quota += 1,
            Standing::BelowTwoYearsRunning => assessment.below_two_years_running += 1,
            // `standing` answers only years the term covers.
            Standing::NotInTerm => continue,
        }
        assessment.members.push(standing);
    }
    Ok(assessment)
}

/// One year of the archive: the standing, and the credits behind every count.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct ArchiveYear {
    #[serde(flatten)]
    pub standing: MemberStanding,
    pub credits: Vec<Credit>,
}

/// One member's archive 一人一档.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Archive {
    pub member_id: String,
    pub registry: Option<MemberEntry>,
    pub quotas: Quotas,
    pub years: Vec<ArchiveYear>,
}

/// `member_id`'s archive: every year of the term so far (without a term: every year with a
/// credit), newest first.
pub async fn archive(
    store: &Store,
    member_id: &str,
    quotas: &Quotas,
    now: Timestamp,
    offset: FixedOffset,
) -> Result<Archive, StoreError> {
    let (mut data, mut entries) = member_data(store, Counts::Of(member_id)).await?;
    let credits = credits(store, member_id).await?;
    let member = data.remove(member_id).unwrap_or_default();
    let today = now.with_timezone(&offset).date_naive();
    let years: Vec<i32> = match member.years.term {
        Some((start, end)) => (start.year()..=end.year().min(today.year())).rev().collect(),
        None => member.years.counts.keys().rev().copied().collect(),
    };
    let years = years
        .into_iter()
        .filter_map(|year| {
            let standing = member.standing(member_id, year, quotas, today)?;
            let credits = credits
                .iter()
                .filter(|credit| credit.duty_year(offset) == year)
                .cloned()
                .collect();
            Some(ArchiveYear { standing, credits })
        })
        .collect();
    Ok(Archive {
        member_id: member_id.to_owned(),
        registry: entries.pop(),
        quotas: quotas.clone(),
        years,
    })
}

pub fn current_year(now: Timestamp) -> i32 {
    now.year()
}
