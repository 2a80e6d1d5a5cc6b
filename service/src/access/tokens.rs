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
//! secrets, so response time tells an attacker nothing about a stored secret. Revocation is
//! immediate: every request looks its token up.

use std::str::FromStr;

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
    let secret_hash = hash(secret);
    type Found = (String, String, Option<String>, Option<String>, Option<Timestamp>);
    const FIND: &str = "SELECT subject, role, department_id, jurisdiction, expires_at FROM tokens \
                        WHERE secret_hash = $1 AND revoked_at IS NULL";
    let found: Option<Found> = on_pool!(store, |pool| sqlx::query_as(FIND)
        .bind(&secret_hash)
        .fetch_optional(pool)
        .await?);
    let Some((subject, role, department, jurisdiction, expires_at)) = found else {
        return Ok(None);
    };
    if expires_at.is_some_and(|end| end <= chrono::Utc::now()) {
        return Ok(None);
    }
    let role = Role::from_str(&role).map_err(|unknown| StoreError::Corrupt(format!("token role: {unknown}")))?;
    Ok(Some(Principal {
        actor: Actor { id: subject, role },
        jurisdiction,
        department,
    }))
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
