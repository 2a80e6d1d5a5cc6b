//! The handling units 承办单位: reference data kept by staff (`lianxin unit add|rename|list`),
//! not events. A unit's id is what cases are assigned to and what a department token acts as;
//! its name is what people read. A unit is never deleted and its id never changes, so every
//! assignment in the log keeps naming a unit; renaming changes only what is shown.

use domain::HandlingLevel;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::store::{on_pool, Store, StoreError};

/// The longest id, name, jurisdiction or category a unit keeps.
const ID_MAX: usize = 100;
const NAME_MAX: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    /// What cases are assigned to and a department token acts as; never changes.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub id: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
    /// City 市 or banner/district 旗区.
    pub level: HandlingLevel,
    /// The banner or district of a local unit; none for a city unit.
    #[schema(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub jurisdiction: Option<String>,
    /// The categories it handles.
    #[serde(default)]
    #[schema(schema_with = categories_schema)]
    pub categories: Vec<String>,
}

/// What [`check_text`] accepts of a category, stated in the OpenAPI document.
fn categories_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let category = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(ID_MAX))
        .pattern(Some(r"^[^\x00-\x1f\x7f-\x9f]*$"));
    ArrayBuilder::new().items(category).build()
}

#[derive(Debug, thiserror::Error)]
pub enum UnitError {
    #[error("a unit with the id `{0}` exists already")]
    Exists(String),
    #[error("no unit has the id `{0}`")]
    Unknown(String),
    #[error("`{field}` {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("a city unit has no jurisdiction; a banner or district unit names one")]
    LevelMismatch,
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn level_name(level: HandlingLevel) -> &'static str {
    match level {
        HandlingLevel::Local => "local",
        HandlingLevel::City => "city",
    }
}

/// A text a unit keeps: at most `max` characters, none of them a control character.
fn check_text(field: &'static str, text: &str, max: usize) -> Result<(), UnitError> {
    let invalid = |reason: String| Err(UnitError::Invalid { field, reason });
    if text.chars().count() > max {
        return invalid(format!("is longer than {max} characters"));
    }
    if text.chars().any(char::is_control) {
        return invalid("holds a control character".to_owned());
    }
    Ok(())
}

/// An id or a name: as [`check_text`], and not blank.
fn check_name(field: &'static str, text: &str, max: usize) -> Result<(), UnitError> {
    if text.trim().is_empty() {
        return Err(UnitError::Invalid {
            field,
            reason: "is blank".to_owned(),
        });
    }
    check_text(field, text, max)
}

/// Adds a unit; an existing id is refused, never overwritten.
pub async fn add(store: &Store, unit: &Unit) -> Result<(), UnitError> {
    check_name("id", &unit.id, ID_MAX)?;
    check_name("name", &unit.name, NAME_MAX)?;
    if let Some(jurisdiction) = &unit.jurisdiction {
        check_text("jurisdiction", jurisdiction, ID_MAX)?;
    }
    for category in &unit.categories {
        check_text("categories", category, ID_MAX)?;
    }
    if (unit.level == HandlingLevel::City) != unit.jurisdiction.is_none() {
        return Err(UnitError::LevelMismatch);
    }
    const INSERT: &str = "INSERT INTO units (id, name, level, jurisdiction, categories) VALUES ($1, $2, $3, $4, $5) \
                          ON CONFLICT (id) DO NOTHING";
    let categories = serde_json::to_string(&unit.categories).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let added = on_pool!(store, |pool| sqlx::query(INSERT)
        .bind(&unit.id)
        .bind(&unit.name)
        .bind(level_name(unit.level))
        .bind(&unit.jurisdiction)
        .bind(&categories)
        .execute(pool)
        .await
        .map_err(StoreError::from)?
        .rows_affected());
    if added == 1 {
        Ok(())
    } else {
        Err(UnitError::Exists(unit.id.clone()))
    }
}

/// Gives a unit a new name; its id, and so every case assigned to it, stays.
pub async fn rename(store: &Store, id: &str, name: &str) -> Result<(), UnitError> {
    check_name("name", name, NAME_MAX)?;
    const RENAME: &str = "UPDATE units SET name = $1 WHERE id = $2";
    let renamed = on_pool!(store, |pool| sqlx::query(RENAME)
        .bind(name)
        .bind(id)
        .execute(pool)
        .await
        .map_err(StoreError::from)?
        .rows_affected());
    if renamed == 1 {
        Ok(())
    } else {
        Err(UnitError::Unknown(id.to_owned()))
    }
}

/// Every unit, city units first, then by jurisdiction and id.
pub async fn list(store: &Store) -> Result<Vec<Unit>, StoreError> {
    const LIST: &str = "SELECT id, name, level, jurisdiction, categories FROM units \
                        ORDER BY level, COALESCE(jurisdiction, ''), id";
    let rows: Vec<(String, String, String, Option<String>, String)> = on_pool!(store, |pool| sqlx::query(LIST)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| Ok((
            row.try_get(0)?,
            row.try_get(1)?,
            row.try_get(2)?,
            row.try_get(3)?,
            row.try_get(4)?
        )))
        .collect::<Result<_, sqlx::Error>>()?);
    rows.into_iter()
        .map(|(id, name, level, jurisdiction, categories)| {
            let corrupt = |what: &str| StoreError::Corrupt(format!("unit {id}: {what}"));
            let level = match level.as_str() {
                "city" => HandlingLevel::City,
                "local" => HandlingLevel::Local,
                _ => return Err(corrupt("level")),
            };
            let categories = serde_json::from_str(&categories).map_err(|_| corrupt("categories"))?;
            Ok(Unit {
                id,
                name,
                level,
                jurisdiction,
                categories,
            })
        })
        .collect()
}

/// The unit of this id, if staff have added it.
pub async fn find(store: &Store, id: &str) -> Result<Option<Unit>, StoreError> {
    Ok(list(store).await?.into_iter().find(|unit| unit.id == id))
}
