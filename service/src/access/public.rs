//! The public channel 我要建言: anonymous suggestions followed with a tracking code. The code
//! (128 random bits) is shown once and stored as a SHA-256 hash, like a token; the submitter's
//! name and phone, if given, go to `personal_data`, outside the event log.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::access::tokens::hash;
use crate::store::{on_pool, Store, StoreError};

/// Name and phone a citizen may leave for staff to call back; never shown publicly.
#[derive(utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalData {
    pub name: Option<String>,
    pub phone: Option<String>,
}

impl PersonalData {
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.phone.is_none()
    }
}

/// A fresh tracking code: 128 random bits as 32 hex digits.
pub fn new_tracking_code() -> Result<String, getrandom::Error> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random)?;
    Ok(hex::encode(random))
}

/// Records the code's hash and the personal data for a case about to be submitted.
pub async fn register(store: &Store, case_id: Uuid, code: &str, personal: &PersonalData) -> Result<(), StoreError> {
    let case_id = case_id.to_string();
    let code_hash = hash(code);
    on_pool!(store, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query("INSERT INTO tracking_codes (case_id, code_hash) VALUES ($1, $2)")
            .bind(&case_id)
            .bind(&code_hash)
            .execute(&mut *tx)
            .await?;
        if !personal.is_empty() {
            sqlx::query("INSERT INTO personal_data (case_id, name, phone) VALUES ($1, $2, $3)")
                .bind(&case_id)
                .bind(&personal.name)
                .bind(&personal.phone)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Whether `code` is the tracking code of `case_id`. An unknown case and a wrong code are
/// the same `false`, so the answer tells nothing about which case ids exist.
pub async fn verify(store: &Store, case_id: Uuid, code: &str) -> Result<bool, StoreError> {
    const SQL: &str = "SELECT code_hash FROM tracking_codes WHERE case_id = $1";
    let stored: Option<String> = on_pool!(store, |pool| sqlx::query_scalar(SQL)
        .bind(case_id.to_string())
        .fetch_optional(pool)
        .await?);
    let presented = hash(code);
    Ok(stored.is_some_and(|stored| bool::from(stored.as_bytes().ct_eq(presented.as_bytes()))))
}

/// The personal data left with a case, if any.
pub async fn personal_data(store: &Store, case_id: Uuid) -> Result<Option<PersonalData>, StoreError> {
    const SQL: &str = "SELECT name, phone FROM personal_data WHERE case_id = $1";
    let row: Option<(Option<String>, Option<String>)> = on_pool!(store, |pool| sqlx::query_as(SQL)
        .bind(case_id.to_string())
        .fetch_optional(pool)
        .await?);
    Ok(row.map(|(name, phone)| PersonalData { name, phone }))
}
