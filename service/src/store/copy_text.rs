//! PostgreSQL's `COPY … FROM STDIN` text format, for the bulk writers (the store's import of
//! events, the rebuild's views). sqlx sends `COPY` data as given: it has no row encoder.

use chrono::SecondsFormat;
use domain::Timestamp;
use sqlx::PgConnection;

use crate::store::StoreError;

/// Appends one row: fields separated by tabs, `\N` for null, and backslash, tab, newline and
/// carriage return escaped. Byte by byte is safe: these ASCII bytes never occur inside a
/// multi-byte UTF-8 character.
pub fn push_row(data: &mut Vec<u8>, fields: &[Option<&str>]) {
    for (index, field) in fields.iter().enumerate() {
        if index > 0 {
            data.push(b'\t');
        }
        let Some(text) = field else {
            data.extend_from_slice(b"\\N");
            continue;
        };
        for byte in text.bytes() {
            match byte {
                b'\\' => data.extend_from_slice(b"\\\\"),
                b'\t' => data.extend_from_slice(b"\\t"),
                b'\n' => data.extend_from_slice(b"\\n"),
                b'\r' => data.extend_from_slice(b"\\r"),
                other => data.push(other),
            }
        }
    }
    data.push(b'\n');
}

/// A moment as `COPY` reads it, cut to the microseconds PostgreSQL keeps, as binding it does.
pub fn time(at: Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Sends `data` (rows made by [`push_row`]) into `target`, a table and its columns.
pub async fn copy_in(connection: &mut PgConnection, target: &str, data: Vec<u8>) -> Result<(), StoreError> {
    if data.is_empty() {
        return Ok(());
    }
    let mut copy = connection.copy_in_raw(&format!("COPY {target} FROM STDIN")).await?;
    copy.send(data).await?;
    copy.finish().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::push_row;

    #[test]
    fn rows_escape_what_the_text_format_reserves() {
        let mut data = Vec::new();
        push_row(&mut data, &[Some("a\tb"), None, Some("c\\d\ne\rf 文"), Some("")]);
        assert_eq!(data, "a\\tb\t\\N\tc\\\\d\\ne\\rf 文\t\n".as_bytes());
    }
}
