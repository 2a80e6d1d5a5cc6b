//! Members' duty records and the assessment of all members against the quotas.

use chrono::{DateTime, Datelike, TimeZone, Utc};
use domain::Timestamp;
use projections::{DutyRecord, Quotas, Shortfall, Standing};
use serde::Serialize;
use sqlx::{QueryBuilder, Row};

use crate::store::{on_pool, Store, StoreError};

/// A member's duty record for a year, measured against the quotas.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct MemberStanding {
    #[serde(flatten)]
    pub record: DutyRecord,
    pub quotas: Quotas,
    pub shortfalls: Vec<Shortfall>,
    pub standing: Standing,
}

async fn duty_records(store: &Store, member: Option<&str>, years: [i32; 2]) -> Result<Vec<DutyRecord>, StoreError> {
    let rows = on_pool!(store, |pool| {
        let mut query = QueryBuilder::new(
            "SELECT member_id, year, contacts, relays, reports, consultations, solved FROM member_years WHERE year IN (",
        );
        query
            .push_bind(i64::from(years[0]))
            .push(", ")
            .push_bind(i64::from(years[1]))
            .push(")");
        if let Some(member) = member {
            query.push(" AND member_id = ").push_bind(member.to_owned());
        }
        let mut records = Vec::new();
        for row in query.build().fetch_all(pool).await? {
            let count = |index: usize| -> Result<u32, sqlx::Error> {
                Ok(u32::try_from(row.try_get::<i64, _>(index)?).unwrap_or_default())
            };
            records.push(DutyRecord {
                member_id: row.try_get(0)?,
                year: i32::try_from(row.try_get::<i64, _>(1)?).unwrap_or_default(),
                contacts: count(2)?,
                relays: count(3)?,
                reports: count(4)?,
                consultations: count(5)?,
                solved: count(6)?,
            });
        }
        records
    });
    Ok(rows)
}

fn standing_of(member_id: &str, year: i32, records: &[DutyRecord], quotas: &Quotas, now: Timestamp) -> MemberStanding {
    let find = |year: i32| {
        records
            .iter()
            .find(|record| record.member_id == member_id && record.year == year)
    };
    let record = find(year).cloned().unwrap_or_else(|| DutyRecord {
        member_id: member_id.to_owned(),
        year,
        ..DutyRecord::default()
    });
    MemberStanding {
        shortfalls: quotas.shortfalls(&record),
        standing: quotas.standing(&record, find(year - 1), now.date_naive()),
        quotas: *quotas,
        record,
    }
}

pub async fn member_record(
    store: &Store,
    member_id: &str,
    year: i32,
    quotas: &Quotas,
    now: Timestamp,
) -> Result<MemberStanding, StoreError> {
    let records = duty_records(store, Some(member_id), [year, year - 1]).await?;
    Ok(standing_of(member_id, year, &records, quotas, now))
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

/// Every known member (with a member token, or a duty record this year or last) for `year`.
pub async fn assessment(store: &Store, year: i32, quotas: &Quotas, now: Timestamp) -> Result<Assessment, StoreError> {
    let records = duty_records(store, None, [year, year - 1]).await?;
    const MEMBERS: &str = "SELECT DISTINCT member_id FROM tokens WHERE role = 'member' AND member_id IS NOT NULL";
    let mut members: Vec<String> = on_pool!(store, |pool| sqlx::query_scalar(MEMBERS).fetch_all(pool).await?);
    members.extend(records.iter().map(|record| record.member_id.clone()));
    members.sort();
    members.dedup();
    let mut assessment = Assessment {
        year,
        ..Assessment::default()
    };
    for member in members {
        let standing = standing_of(&member, year, &records, quotas, now);
        match standing.standing {
            Standing::OnTrack => assessment.on_track += 1,
            Standing::AtRisk => assessment.at_risk += 1,
            Standing::BelowQuota => assessment.below_quota += 1,
            Standing::BelowTwoYearsRunning => assessment.below_two_years_running += 1,
        }
        assessment.members.push(standing);
    }
    Ok(assessment)
}

/// The first moment of `year`, UTC.
pub fn year_start(year: i32) -> Option<DateTime<Utc>> {
    Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).single()
}

pub fn current_year(now: Timestamp) -> i32 {
    now.year()
}
