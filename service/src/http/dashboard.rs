//! The dashboard page: zh-CN, one file with its styles and script, built into the binary so
//! that it works offline. It reads the API with the token pasted into it.
//!
//! Its Content-Security-Policy allows no inline code but its own: the one `<style>` and the
//! one `<script>` of the page are allowed by their SHA-256 hashes, worked out once from the
//! page itself, so the policy cannot fall behind an edit of the page. Nothing else runs or
//! styles: the page sets no `style` attributes and no event-handler attributes, and fetches
//! only from its own origin. A report's print page, which the dashboard opens from memory and
//! which so keeps the dashboard's policy, has its style allowed too.

use std::sync::LazyLock;

use axum::http::header::CONTENT_SECURITY_POLICY;
use axum::response::Html;
use sha2::{Digest, Sha256};

const PAGE: &str = include_str!("dashboard.html");

/// The text between the first `<{tag}>` and its closing tag.
fn inline(tag: &str) -> &'static str {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    PAGE.split_once(open.as_str())
        .and_then(|(_, rest)| rest.split_once(close.as_str()))
        .map_or("", |(inside, _)| inside)
}

/// A CSP source allowing exactly `text` as inline code.
pub(super) fn hash_source(text: &str) -> String {
    use base64::Engine as _;
    let digest = Sha256::digest(text.as_bytes());
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest))
}

static POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; script-src {}; style-src {} {}; connect-src 'self'; img-src 'self'; \
         form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        hash_source(inline("script")),
        hash_source(inline("style")),
        super::print::STYLE_SOURCE.as_str(),
    )
});

#[utoipa::path(get, path = "/", operation_id = "dashboard", tag = "operations", security(()),
    responses((status = 200, description = "the dashboard page", body = String, content_type = "text/html")))]
pub async fn page() -> ([(axum::http::HeaderName, &'static str); 1], Html<&'static str>) {
    ([(CONTENT_SECURITY_POLICY, POLICY.as_str())], Html(PAGE))
}
