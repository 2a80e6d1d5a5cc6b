//! Who an id is, for people to read: the units' names from the units list and members' names.
//! Ids stay in the API and the log; a page or an export that a person reads looks names up here,
//! through [`display_names`] only. A member's name is the member registry's (the `members`
//! view) when the member is registered; `member_names` ([`name_actor`], `lianxin name`) names
//! the actors the registry and the units list do not hold: staff, auditors, members not
//! registered.

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
    // Registered names come last, so that they win over the names kept beside the registry.
    const MEMBERS: &str = "SELECT member_id, name, 0 AS registered FROM member_names \
                           UNION ALL SELECT member_id, name, 1 FROM members ORDER BY registered";
    let members: Vec<(String, String, i32)> = on_pool!(store, |pool| sqlx::query_as(MEMBERS).fetch_all(pool).await?);
    names.extend(members.into_iter().map(|(member, name, _)| (member, name)));
    Ok(names)
}

/// Records (or corrects) the name an actor is shown by.
pub async fn name_actor(store: &Store, member: &str, name: &str) -> Result<(), StoreError> {
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
