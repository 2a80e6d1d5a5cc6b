//! Bearer tokens: created by the CLI, shown once, stored only as SHA-256 hashes. A request's
//! principal is the token's actor (its member id for members, else its name, with its role)
//! and the scope it carries (a staff member's jurisdiction and department).
//!
//! Lookup is by the hash of the presented secret: the database compares hashes, never
//! secrets, so response time tells an attacker nothing about a stored secret. Revocation is
//! immediate: every request looks its token up.

use std::str::FromStr;

use domain::{Actor, Role};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use uuid::Uuid;

use crate::store::{on_pool, Store, StoreError};

/// Secrets start with this, so a leaked one is recognisable in logs and scanners.
const SECRET_PREFIX: &str = "lx_";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a member token needs --member")]
    MemberIdMissing,
    #[error("--member is only for member tokens, --jurisdiction and --department only for staff")]
    ScopeMismatch,
    #[error("the operating system gave no randomness")]
    NoRandomness(#[source] getrandom::Error),
    #[error("no token has the id {0}")]
    UnknownToken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub member_id: Option<String>,
    pub department_id: Option<String>,
    /// Staff only: the banner or district the holder acts in; none for city staff.
    pub jurisdiction: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub id: Uuid,
    /// The bearer secret: shown once and never stored.
    pub secret: String,
}

/// Who is calling, and within what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub actor: Actor,
    pub jurisdiction: Option<String>,
    pub department: Option<String>,
}

/// A token as `token list` shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: String,
    pub member_id: Option<String>,
    pub department_id: Option<String>,
    pub jurisdiction: Option<String>,
    pub revoked: bool,
}

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh secret of 256 random bits, hex-encoded after `prefix`.
pub fn random_secret(prefix: &str) -> Result<String, getrandom::Error> {
    let mut random = [0u8; 32];
    getrandom::fill(&mut random)?;
    Ok(format!("{prefix}{}", hex::encode(random)))
}

pub async fn create(store: &Store, token: &NewToken) -> Result<IssuedToken, TokenError> {
    if token.role == Role::Member && token.member_id.is_none() {
        return Err(TokenError::MemberIdMissing);
    }
    let misplaced_member = token.role != Role::Member && token.member_id.is_some();
    let misplaced_scope = token.role != Role::Staff && (token.jurisdiction.is_some() || token.department_id.is_some());
    if misplaced_member || misplaced_scope {
        return Err(TokenError::ScopeMismatch);
    }
    let secret = random_secret(SECRET_PREFIX).map_err(TokenError::NoRandomness)?;
    let id = Uuid::now_v7();
    const INSERT: &str = "INSERT INTO tokens (id, name, role, member_id, department_id, jurisdiction, secret_hash) \
                          VALUES ($1, $2, $3, $4, $5, $6, $7)";
    let secret_hash = hash(&secret);
    on_pool!(store, |pool| {
        sqlx::query(INSERT)
            .bind(id.to_string())
            .bind(&token.name)
            .bind(token.role.as_str())
            .bind(&token.member_id)
            .bind(&token.department_id)
            .bind(&token.jurisdiction)
            .bind(&secret_hash)
            .execute(pool)
            .await
            .map_err(StoreError::from)?;
    });
    Ok(IssuedToken { id, secret })
}

/// The principal behind a presented secret; `None` for an unknown or revoked token.
pub async fn authenticate(store: &Store, secret: &str) -> Result<Option<Principal>, StoreError> {
    if !secret.starts_with(SECRET_PREFIX) {
        return Ok(None);
    }
    let secret_hash = hash(secret);
    type Found = (String, String, Option<String>, Option<String>, Option<String>);
    const FIND: &str = "SELECT name, role, member_id, department_id, jurisdiction FROM tokens \
                        WHERE secret_hash = $1 AND revoked_at IS NULL";
    let found: Option<Found> = on_pool!(store, |pool| sqlx::query_as(FIND)
        .bind(&secret_hash)
        .fetch_optional(pool)
        .await?);
    let Some((name, role, member_id, department, jurisdiction)) = found else {
        return Ok(None);
    };
    let role = Role::from_str(&role).map_err(|unknown| StoreError::Corrupt(format!("token role: {unknown}")))?;
    Ok(Some(Principal {
        actor: Actor {
            id: member_id.unwrap_or(name),
            role,
        },
        jurisdiction,
        department,
    }))
}

pub async fn list(store: &Store) -> Result<Vec<TokenInfo>, StoreError> {
    const LIST: &str =
        "SELECT id, name, role, member_id, department_id, jurisdiction, revoked_at IS NOT NULL AS revoked \
                        FROM tokens ORDER BY id";
    let tokens = on_pool!(store, |pool| {
        let mut tokens = Vec::new();
        for row in sqlx::query(LIST).fetch_all(pool).await? {
            tokens.push(TokenInfo {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                role: row.try_get(2)?,
                member_id: row.try_get(3)?,
                department_id: row.try_get(4)?,
                jurisdiction: row.try_get(5)?,
                revoked: row.try_get(6)?,
            });
        }
        tokens
    });
    Ok(tokens)
}

/// Revokes a token at once: its next request is refused.
pub async fn revoke(store: &Store, id: &str) -> Result<(), TokenError> {
    const REVOKE: &str = "UPDATE tokens SET revoked_at = CURRENT_TIMESTAMP WHERE id = $1 AND revoked_at IS NULL";
    let revoked = on_pool!(store, |pool| sqlx::query(REVOKE)
        .bind(id)
        .execute(pool)
        .await
        .map_err(StoreError::from)?
        .rows_affected());
    if revoked == 1 {
        Ok(())
    } else {
        Err(TokenError::UnknownToken(id.to_owned()))
    }
}
