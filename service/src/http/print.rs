//! A published report as a page to print on A4 (`GET /api/v1/reports/{id}/print`, and
//! `/reports/{id}/print` as the API's list writes it): zh-CN, its period, the moment it was
//! taken and its log position, every figure of all cases with numerator, denominator and value,
//! then one page per grouping with its table and chart.
//!
//! The page is whole as served: its charts are SVG drawn here, its one `<style>` is allowed by
//! hash, and it has no script, so it prints without network. It is read with the bearer token
//! like the rest of the API; the dashboard fetches it so and opens it from memory, which is why
//! the dashboard's policy allows this page's style too ([`STYLE_SOURCE`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

use axum::extract::State;
use axum::http::header::CONTENT_SECURITY_POLICY;
use axum::response::{Html, IntoResponse, Response};
use chrono::FixedOffset;
use projections::{Figures, Rate};

use super::extract::{ApiPath, Authenticated};
use super::problem::ApiError;
use super::reports::{figure_rows, find, group_label, grouping_name, ReportFigures};
use super::AppState;
use crate::access::names::display_names;
use crate::access::{self, Operation};
use domain::report::Published;

const STYLE: &str = r#"
  @page { size: A4; margin: 14mm 14mm 16mm; }
  * { box-sizing: border-box; }
  body { margin: 0; font-family: "PingFang SC", "Noto Sans CJK SC", "WenQuanYi Zen Hei", "Microsoft YaHei", sans-serif;
         color: #222; font-size: 9pt; line-height: 1.2; }
  h1 { font-size: 16pt; margin: 0 0 4mm; color: #b71c1c; }
  h2 { font-size: 12.5pt; margin: 0 0 3mm; border-left: 4px solid #b71c1c; padding-left: 6px; }
  section { break-before: page; page-break-before: always; }
  section.first { break-before: auto; page-break-before: auto; }
  dl { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 1mm 4mm; margin: 0 0 3mm; }
  dt { color: #666; } dd { margin: 0; }
  table { width: 100%; border-collapse: collapse; margin: 0 0 4mm; }
  th, td { border-bottom: 1px solid #ddd; padding: 0.5mm 1.5mm; text-align: left; vertical-align: top; }
  td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
  small { color: #666; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  .chart { max-width: 110mm; margin: 0 0 3mm; break-inside: avoid; }
  svg text { font-size: 12px; fill: #222; }
  .legend span { margin-right: 4mm; }
  .notice { color: #666; }
  @media screen { body { max-width: 210mm; margin: 8mm auto; padding: 0 8mm; } }
"#;

/// The CSP source allowing [`STYLE`] inline, for this page and the dashboard that opens it.
pub static STYLE_SOURCE: LazyLock<String> = LazyLock::new(|| super::dashboard::hash_source(STYLE));

static POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src {}; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        STYLE_SOURCE.as_str()
    )
});

#[utoipa::path(get, path = "/api/v1/reports/{id}/print", operation_id = "print_report", tags = ["staff", "audit"], params(("id" = uuid::Uuid, Path, description = "the report id (a UUID)")),
    responses((status = 200, description = "the report as published, as a zh-CN page to print on A4: period, moment, log position, every figure with numerator, denominator and value, a page per grouping with its table and chart; no script, nothing fetched", body = String, content_type = "text/html")))]
pub async fn page(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    Authenticated(principal): Authenticated,
) -> Result<Response, ApiError> {
    access::check(&principal, Operation::ReadDashboards)?;
    let store = state.engine.store();
    let (_, report, figures) = find(store, &id).await?;
    let names = display_names(store).await?;
    let html = render(&report, &figures, &names, state.engine.policy().offset);
    Ok(([(CONTENT_SECURITY_POLICY, POLICY.as_str())], Html(html)).into_response())
}

/// The same page at the path the API's list of routes writes.
#[utoipa::path(get, path = "/reports/{id}/print", operation_id = "print_report_short", tags = ["staff", "audit"], params(("id" = uuid::Uuid, Path, description = "the report id (a UUID)")),
    responses((status = 200, description = "as `/api/v1/reports/{id}/print`", body = String, content_type = "text/html")))]
pub async fn short(
    state: State<AppState>,
    id: ApiPath<String>,
    principal: Authenticated,
) -> Result<Response, ApiError> {
    page(state, id, principal).await
}

/// Text for HTML.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |value| format!("{:.1}%", value * 100.0))
}

/// A count as a whole number, anything else (days) to one decimal.
fn plain(value: Option<f64>) -> String {
    match value {
        None => "—".to_owned(),
        Some(value) if value.fract() == 0.0 => format!("{value:.0}"),
        Some(value) => format!("{value:.1}"),
    }
}

/// Horizontal bars, as the dashboard draws them: rows of label and value.
fn bars(rows: &[(String, f64)]) -> String {
    const WIDTH: f64 = 460.0;
    const ROW: f64 = 26.0;
    const LABEL: f64 = 130.0;
    let max = rows.iter().map(|row| row.1).fold(1.0, f64::max);
    let mut svg = format!(
        r#"<svg class="chart" role="img" viewBox="0 0 {WIDTH} {}" width="100%">"#,
        rows.len() as f64 * ROW
    );
    for (index, (label, value)) in rows.iter().enumerate() {
        let y = index as f64 * ROW;
        let length = (value / max * (WIDTH - LABEL - 50.0)).round();
        let _ = write!(
            svg,
            r##"<text x="0" y="{}">{}</text><rect x="{LABEL}" y="{}" width="{length}" height="18" rx="3" fill="#b71c1c"></rect><text x="{}" y="{}">{}</text>"##,
            y + 17.0,
            escape(label),
            y + 4.0,
            LABEL + length + 6.0,
            y + 17.0,
            plain(Some(*value)),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Rates over months, as the dashboard draws its trend: series of name, colour and values.
fn lines(labels: &[String], series: &[(&str, &str, Vec<Option<f64>>)]) -> String {
    const WIDTH: f64 = 460.0;
    const HEIGHT: f64 = 180.0;
    let (left, bottom) = (36.0, 22.0);
    let (plot_width, plot_height) = (WIDTH - left - 10.0, HEIGHT - bottom - 10.0);
    let x = |index: usize| {
        if labels.len() < 2 {
            left + plot_width / 2.0
        } else {
            left + index as f64 * plot_width / (labels.len() - 1) as f64
        }
    };
    let y = |value: f64| 10.0 + plot_height - value * plot_height;
    let mut svg = format!(r#"<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%">"#);
    for value in [0.0, 0.5, 1.0] {
        let at = y(value);
        let _ = write!(
            svg,
            r##"<line x1="{left}" x2="{right}" y1="{at}" y2="{at}" stroke="#eee"></line><text x="0" y="{}">{}%</text>"##,
            at + 4.0,
            value * 100.0,
            right = WIDTH - 10.0,
        );
    }
    for (index, label) in labels.iter().enumerate() {
        let month = label.get(5..).unwrap_or(label);
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}">{}月</text>"#,
            x(index) - 14.0,
            HEIGHT - 4.0,
            escape(month)
        );
    }
    for (_, colour, values) in series {
        let points: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .filter_map(|(index, value)| value.map(|value| (x(index), y(value))))
            .collect();
        let path: Vec<String> = points.iter().map(|(x, y)| format!("{x},{y}")).collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"></polyline>"#,
            path.join(" ")
        );
        // A month alone makes no line: each month is a dot too.
        for (x, y) in points {
            let _ = write!(svg, r#"<circle cx="{x}" cy="{y}" r="3" fill="{colour}"></circle>"#);
        }
    }
    svg.push_str("</svg><div class=\"legend\">");
    for (name, colour, _) in series {
        let _ = write!(
            svg,
            r#"<span><svg width="10" height="10"><rect width="10" height="10" fill="{colour}"></rect></svg> {name}</span>"#
        );
    }
    svg.push_str("</div>");
    svg
}

/// The rates a grouping's table shows for each group, with how each is read.
fn headline(figures: &Figures) -> [(&'static str, &Rate); 7] {
    [
        ("交办率", &figures.assigned),
        ("按时签收率", &figures.signed_on_time),
        ("办复率", &figures.answered),
        ("按时办复率", &figures.answered_on_time),
        ("解决率", &figures.resolved),
        ("重办率", &figures.reopened),
        ("在办逾期率", &figures.open_late),
    ]
}

fn rate_cell(numerator: f64, denominator: u64, value: Option<f64>) -> String {
    format!(
        r#"<td class="n">{}<br><small>{}/{denominator}</small></td>"#,
        percent(value),
        plain(Some(numerator))
    )
}

/// A grouping's page: its table (every group's count and headline rates) and its chart.
fn grouping_section(grouping: &str, groups: &[Figures], names: &BTreeMap<String, String>) -> String {
    let mut html = format!(
        r#"<section data-grouping="{}"><h2>{}</h2>"#,
        escape(grouping),
        escape(grouping_name(grouping))
    );
    if groups.is_empty() {
        html.push_str(r#"<p class="notice">本期无案件。</p></section>"#);
        return html;
    }
    let labels: Vec<String> = groups
        .iter()
        .map(|group| group_label(grouping, &group.group, names))
        .collect();
    if grouping == "month" {
        let series = |rate: fn(&Figures) -> Option<f64>| groups.iter().map(rate).collect::<Vec<_>>();
        html.push_str(&lines(
            &labels,
            &[
                ("解决率", "#2e7d32", series(|group| group.resolved.value)),
                ("满意率", "#1565c0", series(|group| group.satisfaction.value)),
                ("按时办复率", "#f9a825", series(|group| group.answered_on_time.value)),
            ],
        ));
    } else {
        let rows: Vec<(String, f64)> = labels
            .iter()
            .zip(groups)
            .map(|(label, group)| (label.clone(), group.voices as f64))
            .collect();
        html.push_str(&bars(&rows));
    }
    html.push_str(r#"<table><tr><th>分组</th><th class="n">有效件数</th>"#);
    for (name, _) in headline(&groups[0]) {
        let _ = write!(html, r#"<th class="n">{name}</th>"#);
    }
    html.push_str(r#"<th class="n">满意率</th></tr>"#);
    for (label, group) in labels.iter().zip(groups) {
        let _ = write!(
            html,
            r#"<tr data-group="{}"><td>{}</td><td class="n">{}</td>"#,
            escape(&group.group),
            escape(label),
            group.voices
        );
        for (_, rate) in headline(group) {
            html.push_str(&rate_cell(rate.numerator as f64, rate.denominator, rate.value));
        }
        let satisfaction = &group.satisfaction;
        html.push_str(&rate_cell(
            satisfaction.numerator,
            satisfaction.denominator,
            satisfaction.value,
        ));
        html.push_str("</tr>");
    }
    html.push_str("</table></section>");
    html
}

/// The whole page.
pub fn render(
    report: &Published,
    figures: &ReportFigures,
    names: &BTreeMap<String, String>,
    offset: FixedOffset,
) -> String {
    let local = |at: chrono::DateTime<chrono::Utc>| at.with_timezone(&offset);
    let last_day = local(report.to).date_naive() - chrono::Days::new(1);
    let title = format!("连心 · {} 办理成效报告", report.period);
    let mut html = format!(
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title><style>{STYLE}</style></head><body>
<section class="first" data-grouping="all"><h1>{title}</h1><dl>
<dt>统计期间</dt><dd id="period">{} 至 {}</dd>
<dt>数据截至</dt><dd id="as-of">{}</dd>
<dt>日志位置</dt><dd id="position">{}</dd>
<dt>发布人</dt><dd>{}</dd></dl>"#,
        local(report.from).format("%Y-%m-%d"),
        last_day.format("%Y-%m-%d"),
        local(report.at).format("%Y-%m-%d %H:%M:%S"),
        report.position,
        escape(names.get(&report.by).unwrap_or(&report.by)),
    );
    let all = &figures.all;
    html.push_str(&bars(&[
        ("提交件数".to_owned(), all.submitted as f64),
        ("有效件数".to_owned(), all.voices as f64),
        ("已交办".to_owned(), all.assigned.numerator as f64),
        ("已办复".to_owned(), all.answered.numerator as f64),
        ("已解决(A)".to_owned(), all.resolved.numerator as f64),
    ]));
    html.push_str(r#"<table id="figures"><tr><th>指标</th><th class="n">分子</th><th class="n">分母</th><th class="n">数值</th></tr>"#);
    for row in figure_rows(all) {
        let value = if row.numerator.is_some() {
            percent(row.value)
        } else {
            plain(row.value)
        };
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{value}</td></tr>"#,
            escape(&row.name),
            row.numerator
                .map_or_else(String::new, |numerator| plain(Some(numerator))),
            row.denominator
                .map_or_else(String::new, |denominator| denominator.to_string()),
        );
    }
    html.push_str("</table></section>");
    for (grouping, groups) in &figures.by {
        html.push_str(&grouping_section(grouping, groups, names));
    }
    html.push_str("</body></html>");
    html
}
