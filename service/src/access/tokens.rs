//! Bearer tokens: created by the CLI, shown once, stored only as SHA-256 hashes. A request's
//! principal is the token's subject (a member's id for member tokens, the unit's id for
//! department tokens, otherwise an id generated for the holder, never the display name: two
//! people of one name are two subjects) with its role, and the scope it carries (a staff
//! member's jurisdiction and department). Every token of one unit acts as the unit: what a
//! unit does is the unit's, whoever in it holds the token. A new token
//! may take over an earlier token's subject (`--subject`), so that a holder whose token is
//! replaced keeps their cases.
//!
//! Lookup is by the hash of the presented secret: the database compares hashes, never
//! secrets, so response time tells an attacker nothing about a stored secret. The service
//! keeps what it looked up for [`CACHE_TTL`] ([`TokenCache`]), saving a statement and a round
//! trip on nearly every request: a revoked token is refused within that time, an expired one
//! from its `expires_at` on, exactly.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use domain::{Actor, Role, Timestamp};
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
    #[error("a department token needs --department, the unit's id")]
    DepartmentIdMissing,
    #[error(
        "--member is only for member tokens, --jurisdiction for staff and members, --department for staff and departments"
    )]
    ScopeMismatch,
    #[error("the operating system gave no randomness")]
    NoRandomness(#[source] getrandom::Error),
    #[error("no token has the id {0}")]
    UnknownToken(String),
    #[error("--subject takes over the subject of an earlier token of the same role; no {role} token has `{subject}`")]
    UnknownSubject { subject: String, role: Role },
    #[error(
        "a member token's subject is its member id, a department token's its unit id; --subject is for the other roles"
    )]
    SubjectForMember,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    pub member_id: Option<String>,
    pub department_id: Option<String>,
    /// Staff and members: the banner or district the holder acts in; none at the city level.
    pub jurisdiction: Option<String>,
    /// The subject of an earlier token of the same holder; a new one is generated when none.
    pub subject: Option<String>,
    /// When the token stops being accepted; never when none.
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    pub id: Uuid,
    /// Who the token's holder is to the service: the actor id its commands are recorded under.
    pub subject: String,
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
    pub subject: String,
    pub name: String,
    pub role: String,
    pub member_id: Option<String>,
    pub department_id: Option<String>,
    pub jurisdiction: Option<String>,
    pub expires_at: Option<Timestamp>,
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
    if token.role == Role::Department && token.department_id.is_none() {
        return Err(TokenError::DepartmentIdMissing);
    }
    let misplaced_member = token.role != Role::Member && token.member_id.is_some();
    let misplaced_jurisdiction = !matches!(token.role, Role::Staff | Role::Member) && token.jurisdiction.is_some();
    let misplaced_department = !matches!(token.role, Role::Staff | Role::Department) && token.department_id.is_some();
    let misplaced_scope = misplaced_jurisdiction || misplaced_department;
    if misplaced_member || misplaced_scope {
        return Err(TokenError::ScopeMismatch);
    }
    let subject = subject(store, token).await?;
    let secret = random_secret(SECRET_PREFIX).map_err(TokenError::NoRandomness)?;
    let id = Uuid::now_v7();
    const INSERT: &str = "INSERT INTO tokens (id, name, role, member_id, department_id, jurisdiction, secret_hash, \
                          subject, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
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
            .bind(&subject)
            .bind(token.expires_at)
            .execute(pool)
            .await
            .map_err(StoreError::from)?;
    });
    Ok(IssuedToken { id, subject, secret })
}

/// The subject a new token acts as: the member id, the unit id of a department, an earlier
/// token's subject of the same role, or a fresh one. Generated subjects cannot collide with
/// member ids or the public channel's `public:` actors, whatever the token's name.
async fn subject(store: &Store, token: &NewToken) -> Result<String, TokenError> {
    let own_id = match token.role {
        Role::Department => token.department_id.as_ref(),
        _ => token.member_id.as_ref(),
    };
    match (own_id, &token.subject) {
        (Some(_), Some(_)) => Err(TokenError::SubjectForMember),
        (Some(own_id), None) => Ok(own_id.clone()),
        (None, None) => Ok(format!("sub-{}", Uuid::now_v7())),
        (None, Some(subject)) => {
            const KNOWN: &str = "SELECT EXISTS (SELECT 1 FROM tokens WHERE subject = $1 AND role = $2)";
            let known: bool = on_pool!(store, |pool| sqlx::query_scalar(KNOWN)
                .bind(subject)
                .bind(token.role.as_str())
                .fetch_one(pool)
                .await
                .map_err(StoreError::from)?);
            if known {
                Ok(subject.clone())
            } else {
                Err(TokenError::UnknownSubject {
                    subject: subject.clone(),
                    role: token.role,
                })
            }
        }
    }
}

/// The principal behind a presented secret; `None` for an unknown, revoked or expired token.
pub async fn authenticate(store: &Store, secret: &str) -> Result<Option<Principal>, StoreError> {
    if !secret.starts_with(SECRET_PREFIX) {
        return Ok(None);
    }
    Ok(valid(find(store, &hash(secret)).await?))
}

/// The principal of a token found, unless it has expired.
fn valid(found: Option<Found>) -> Option<Principal> {
    found
        .filter(|found| found.expires_at.is_none_or(|end| end > chrono::Utc::now()))
        .map(|found| found.principal)
}

/// An unrevoked token as the database holds it.
#[derive(Debug, Clone)]
struct Found {
    principal: Principal,
    expires_at: Option<Timestamp>,
}

async fn find(store: &Store, secret_hash: &str) -> Result<Option<Found>, StoreError> {
    type Row = (String, String, Option<String>, Option<String>, Option<Timestamp>);
    const FIND: &str = "SELECT subject, role, department_id, jurisdiction, expires_at FROM tokens \
                        WHERE secret_hash = $1 AND revoked_at IS NULL";
    let found: Option<Row> = on_pool!(store, |pool| sqlx::query_as(FIND)
        .bind(secret_hash)
        .fetch_optional(pool)
        .await?);
    let Some((subject, role, department, jurisdiction, expires_at)) = found else {
        return Ok(None);
    };
    let role = Role::from_str(&role).map_err(|unknown| StoreError::Corrupt(format!("token role: {unknown}")))?;
    Ok(Some(Found {
        principal: Principal {
            actor: Actor { id: subject, role },
            jurisdiction,
            department,
        },
        expires_at,
    }))
}

/// How long the service trusts a token it has looked up: the longest a revoked token keeps
/// working in a running service.
pub const CACHE_TTL: Duration = Duration::from_secs(1);
/// Tokens remembered at most; past it, the stale ones are forgotten, and all if none is.
const CACHE_CAPACITY: usize = 10_000;

/// Tokens recently found valid, by the hash of their secret (never the secret). Unknown
/// secrets are not remembered: they are looked up every time, so a new token works at once and
/// guessing cannot fill the cache.
#[derive(Debug, Default)]
pub struct TokenCache {
    found: Mutex<HashMap<String, (Instant, Found)>>,
}

impl TokenCache {
    /// As [`authenticate`], from memory when the token was found less than [`CACHE_TTL`] ago.
    pub async fn authenticate(&self, store: &Store, secret: &str) -> Result<Option<Principal>, StoreError> {
        if !secret.starts_with(SECRET_PREFIX) {
            return Ok(None);
        }
        let secret_hash = hash(secret);
        let remembered = self
            .entries()
            .get(&secret_hash)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, found)| found.clone());
        if let Some(found) = remembered {
            return Ok(valid(Some(found)));
        }
        let found = find(store, &secret_hash).await?;
        let mut entries = self.entries();
        match &found {
            Some(found) => {
                if entries.len() >= CACHE_CAPACITY {
                    entries.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
                    if entries.len() >= CACHE_CAPACITY {
                        entries.clear();
                    }
                }
                entries.insert(secret_hash, (Instant::now(), found.clone()));
            }
            None => {
                entries.remove(&secret_hash);
            }
        }
        Ok(valid(found))
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Found)>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.found.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub async fn list(store: &Store) -> Result<Vec<TokenInfo>, StoreError> {
    const LIST: &str = "SELECT id, subject, name, role, member_id, department_id, jurisdiction, expires_at, \
                revoked_at IS NOT NULL AS revoked FROM tokens ORDER BY id";
    let tokens = on_pool!(store, |pool| {
        let mut tokens = Vec::new();
        for row in sqlx::query(LIST).fetch_all(pool).await? {
            tokens.push(TokenInfo {
                id: row.try_get(0)?,
                subject: row.try_get(1)?,
                name: row.try_get(2)?,
                role: row.try_get(3)?,
                member_id: row.try_get(4)?,
                department_id: row.try_get(5)?,
                jurisdiction: row.try_get(6)?,
                expires_at: row.try_get(7)?,
                revoked: row.try_get(8)?,
            });
        }
        tokens
    });
    Ok(tokens)
}

/// Revokes a token: a running service refuses it within [`CACHE_TTL`].
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
