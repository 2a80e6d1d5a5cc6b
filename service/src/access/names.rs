//! Who an id is, for people to read: the units' names from the units list and members' names.
//! Ids stay in the API and the log; a page or an export that a person reads looks names up here,
//! through [`display_names`] only, so that when the member registry lands it is the one place
//! to point at it. Until then members' names are kept in `member_names` ([`name_member`]; the
//! demo fills it).

use std::collections::BTreeMap;

use crate::access::units;
use crate::store::{on_pool, Store, StoreError};

/// Every known id with its name: units and members.
pub async fn display_names(store: &Store) -> Result<BTreeMap<String, String>, StoreError> {
    let mut names: BTreeMap<String, String> = units::list(store)
        .await?
        .into_iter()
        .map(|unit| (unit.id, unit.name))
        .collect();
    const MEMBERS: &str = "SELECT member_id, name FROM member_names";
    let members: Vec<(String, String)> = on_pool!(store, |pool| sqlx::query_as(MEMBERS).fetch_all(pool).await?);
    names.extend(members);
    Ok(names)
}

/// Records (or corrects) the name a member is shown by.
pub async fn name_member(store: &Store, member: &str, name: &str) -> Result<(), StoreError> {
    const UPSERT: &str = "INSERT INTO member_names (member_id, name) VALUES ($1, $2) \
                          ON CONFLICT (member_id) DO UPDATE SET name = excluded.name";
    on_pool!(store, |pool| sqlx::query(UPSERT)
        .bind(member)
        .bind(name)
        .execute(pool)
        .await
        .map(|_| ())?);
    Ok(())
}
