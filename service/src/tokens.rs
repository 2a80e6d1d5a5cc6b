//! Bearer tokens: created by the CLI, shown once, stored only as SHA-256 hashes. A request's
//! actor is the token's member id (for members) or name, with the token's role.
//!
//! Lookup is by the hash of the presented secret: the database compares hashes, never
//! secrets, so response time tells an attacker nothing about a stored secret.

use std::str::FromStr;

use domain::{Actor, Role};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::{on_pool, Store, StoreError};

/// Secrets start with this, so a leaked one is recognisable in logs and scanners.
const SECRET_PREFIX: &str = "lx_";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a member token needs --member")]
    MemberIdMissing,
    #[error("the operating system gave no randomness")]
    NoRandomness(#[source] getrandom::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub member_id: Option<String>,
    pub department_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub id: Uuid,
    /// The bearer secret: shown once and never stored.
    pub secret: String,
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub async fn create(store: &Store, token: &NewToken) -> Result<IssuedToken, TokenError> {
    if token.role == Role::Member && token.member_id.is_none() {
        return Err(TokenError::MemberIdMissing);
    }
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(TokenError::NoRandomness)?;
    let secret = format!("{SECRET_PREFIX}{}", hex::encode(random));
    let id = Uuid::now_v7();
    const INSERT: &str = "INSERT INTO tokens (id, name, role, member_id, department_id, secret_hash) \
                          VALUES ($1, $2, $3, $4, $5, $6)";
    let secret_hash = hash(&secret);
    on_pool!(store, |pool| {
        sqlx::query(INSERT)
            .bind(id.to_string())
            .bind(&token.name)
            .bind(token.role.as_str())
            .bind(&token.member_id)
            .bind(&token.department_id)
            .bind(&secret_hash)
            .execute(pool)
            .await
            .map_err(StoreError::from)?;
    });
    Ok(IssuedToken { id, secret })
}

/// The actor behind a presented secret; `None` for an unknown or revoked token.
pub async fn authenticate(store: &Store, secret: &str) -> Result<Option<Actor>, StoreError> {
    if !secret.starts_with(SECRET_PREFIX) {
        return Ok(None);
    }
    let secret_hash = hash(secret);
    type Found = (String, String, Option<String>);
    const FIND: &str = "SELECT name, role, member_id FROM tokens WHERE secret_hash = $1 AND revoked_at IS NULL";
    let found: Option<Found> = on_pool!(store, |pool| sqlx::query_as(FIND)
        .bind(&secret_hash)
        .fetch_optional(pool)
        .await?);
    let Some((name, role, member_id)) = found else {
        return Ok(None);
    };
    let role = Role::from_str(&role).map_err(|unknown| StoreError::Corrupt(format!("token role: {unknown}")))?;
    Ok(Some(Actor {
        id: member_id.unwrap_or(name),
        role,
    }))
}
