//! The member registry from the command line: `lianxin members import FILE.csv` (the roster an
//! office already keeps) and the demo's 60 members.
//!
//! An import reads and checks the whole file before it writes anything: a file with a bad line
//! writes nothing and names every bad line. Lines of members already registered are skipped, so
//! a roster can be imported again after it grew.

use std::path::Path;

use chrono::{Datelike, NaiveDate};
use domain::member_record::{MemberError, MemberInput};
use domain::member_registry::{MemberLevel, Register};
use domain::Role;
use indicatif::ProgressBar;
use serde::Serialize;
use service::write::engine::{CommandContext, Engine, EngineError};

use crate::demo::{principal, JURISDICTIONS};

/// The header an import file starts with.
pub const HEADER: &str = "member_id,name,sector,level,jurisdiction,term_start,term_end";

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("nothing was imported; fix these lines:\n{}", .0.join("\n"))]
    BadLines(Vec<String>),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

#[derive(Debug, Default, Serialize)]
pub struct Imported {
    pub registered: usize,
    pub already_registered: usize,
}

/// The fields of one CSV line; a field in double quotes may hold commas and doubled quotes.
fn fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// One line of the roster, checked as the registry would.
fn entry(line: &str) -> Result<(String, Register), String> {
    let fields = fields(line);
    let [member_id, name, sector, level, jurisdiction, term_start, term_end] = &fields[..] else {
        return Err(format!("7 fields expected ({HEADER}), found {}", fields.len()));
    };
    let date = |name: &str, text: &str| {
        text.trim()
            .parse::<NaiveDate>()
            .map_err(|_| format!("`{name}` is a YYYY-MM-DD date, not `{text}`"))
    };
    let member_id = member_id.trim();
    if member_id.is_empty() || member_id.chars().count() > 100 || member_id.chars().any(char::is_control) {
        return Err("`member_id` is one line of 1 to 100 characters".to_owned());
    }
    let register = Register {
        name: name.trim().to_owned(),
        sector: sector.trim().to_owned(),
        level: level.parse()?,
        jurisdiction: Some(jurisdiction.trim().to_owned()).filter(|text| !text.is_empty()),
        term_start: date("term_start", term_start)?,
        term_end: date("term_end", term_end)?,
    };
    register.validate().map_err(|error| error.to_string())?;
    Ok((member_id.to_owned(), register))
}

/// Every line of `text` read, or every bad line named (by its line number).
fn roster(text: &str) -> Result<Vec<(String, Register)>, ImportError> {
    let mut lines = text.trim_start_matches('\u{feff}').lines().enumerate();
    let mut bad = Vec::new();
    match lines.next() {
        Some((_, header)) if header.trim() == HEADER => {}
        _ => bad.push(format!("line 1: the header must be `{HEADER}`")),
    }
    let mut entries: Vec<(String, Register)> = Vec::new();
    for (index, line) in lines.filter(|(_, line)| !line.trim().is_empty()) {
        match entry(line) {
            Ok((member_id, _)) if entries.iter().any(|(known, _)| *known == member_id) => {
                bad.push(format!("line {}: `{member_id}` is listed twice", index + 1));
            }
            Ok(entry) => entries.push(entry),
            Err(reason) => bad.push(format!("line {}: {reason}", index + 1)),
        }
    }
    if bad.is_empty() {
        Ok(entries)
    } else {
        Err(ImportError::BadLines(bad))
    }
}

/// Registers `member_id` as staff; `false` when it already was.
async fn register(engine: &Engine, member_id: &str, entry: Register, request: String) -> Result<bool, EngineError> {
    let context = CommandContext::new(principal("registry-import", Role::Staff), request);
    match engine
        .member_command(member_id, context, MemberInput::Register(entry))
        .await
    {
        Ok(_) => Ok(true),
        Err(EngineError::MemberRefused(MemberError::AlreadyRegistered)) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Imports the roster in `path`.
pub async fn import(engine: &Engine, path: &Path, progress: ProgressBar) -> Result<Imported, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let entries = roster(&text)?;
    progress.set_length(entries.len() as u64);
    let mut imported = Imported::default();
    for (line, (member_id, entry)) in entries.into_iter().enumerate() {
        if register(engine, &member_id, entry, format!("import-{line}")).await? {
            imported.registered += 1;
        } else {
            imported.already_registered += 1;
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(imported)
}

const SECTORS: [&str; 7] = [
    "经济界",
    "科技界",
    "农牧界",
    "教育界",
    "医药卫生界",
    "文化艺术界",
    "社会法制界",
];

/// The first day of the term of the demo's member `index` in a demo of `year`: most started
/// three years before; every tenth (the fourth, fourteenth, …) on 1 July of last year, so that
/// last year is judged on its second half.
pub fn demo_term_start(index: usize, year: i32) -> NaiveDate {
    let (year, month) = if index % 10 == 3 { (year - 1, 7) } else { (year - 3, 1) };
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(NaiveDate::MIN)
}

/// Registers the demo's members (`members`: id and name, in order) with sectors, levels and
/// terms for a demo of `year`: every third at the city level, the others in a banner or
/// district; terms from [`demo_term_start`] to the end of the year after. `on_term_start` is
/// called with each term's first day before its member is registered, for the demo to date
/// the entry then.
pub async fn register_demo_members(
    engine: &Engine,
    members: &[(String, String)],
    year: i32,
    mut on_term_start: impl FnMut(NaiveDate),
) -> Result<usize, EngineError> {
    let mut registered = 0;
    let term_end = NaiveDate::from_ymd_opt(year + 1, 12, 31).unwrap_or(NaiveDate::MAX);
    for (index, (id, name)) in members.iter().enumerate() {
        let city = index % 3 == 0;
        let term_start = demo_term_start(index, year);
        let entry = Register {
            name: name.clone(),
            sector: SECTORS[index % SECTORS.len()].to_owned(),
            level: if city { MemberLevel::City } else { MemberLevel::District },
            jurisdiction: (!city).then(|| JURISDICTIONS[index % JURISDICTIONS.len()].to_owned()),
            term_start,
            term_end,
        };
        on_term_start(term_start);
        if register(
            engine,
            id,
            entry,
            format!("demo-register-{}-{index}", term_start.year()),
        )
        .await?
        {
            registered += 1;
        }
    }
    Ok(registered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_roster_with_a_bad_line_names_every_bad_line() {
        let text = format!(
            "\u{feff}{HEADER}\nm-1,张三,农牧界,旗区,达拉特旗,2023-01-01,2027-12-31\n\
             m-2,\"李,四\",教育界,city,,2023-01-01,2027-12-31\nm-3,王五,科技界,乡镇,,2023-01-01,2027-12-31\n\
             m-4,赵六,经济界,city,,2027-01-01,2023-12-31\nm-1,张三,农牧界,市,,2023-01-01,2027-12-31\n"
        );
        let Err(ImportError::BadLines(bad)) = roster(&text) else {
            panic!("a bad roster is refused");
        };
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(bad[0].starts_with("line 4: `乡镇` is not a level"), "{bad:?}");
        assert!(bad[1].starts_with("line 5: invalid `term_end`"), "{bad:?}");
        assert!(bad[2].starts_with("line 6: `m-1` is listed twice"), "{bad:?}");
        let good = roster(&text.lines().take(3).collect::<Vec<_>>().join("\n")).unwrap();
        assert_eq!(good[1].1.name, "李,四");
        assert_eq!(good[0].1.level, MemberLevel::District);
    }
}
