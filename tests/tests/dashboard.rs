//! The operator's Grafana dashboard (`deploy/grafana/dashboards/baton.json`) asks only for what
//! Baton exports: every series and label its queries name appears in `/metrics` after a journey
//! that makes every metric family have a series (on Redis with PostgreSQL, so the archiver's
//! metrics are there), and the dashboard itself is well formed (a stable uid, every panel titled
//! and on the `${datasource}` variable, units set).
//!
//! Queries are read with a small PromQL lexer: a metric name is an identifier that is neither a
//! keyword nor a function (followed by `(`), nor inside a selector's braces, a range's brackets
//! or a `by (…)` list. A name that is not `baton_…` fails unless [`NOT_BATON`] lists it with a
//! reason; an unknown function fails too, so a typo cannot hide as one.

use baton_core::ids::{CampaignId, ParticipantId};
use baton_e2e::*;
use baton_http::limits::LimitsConfig;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const DASHBOARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/grafana/dashboards/baton.json");

/// The dashboard's uid: links and provisioning refer to it, so it never changes.
const UID: &str = "baton-overview";

/// The data source every panel and query names: the dashboard's `datasource` variable.
const DATASOURCE: &str = "${datasource}";

/// Series a query may name that Baton does not export, each with the reason.
const NOT_BATON: &[(&str, &str)] = &[(
    "up",
    "Prometheus's own health of each scrape target: a pod that is down or hung exports nothing, so only `up` shows it",
)];

/// Labels a query may use that are not on Baton's series: Prometheus adds them to every target.
const TARGET_LABELS: &[&str] = &["job", "instance"];

/// PromQL aggregations and functions, separated by spaces.
const FUNCTIONS: &str = "sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio \
    abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week \
    day_of_year days_in_month delta deriv exp floor histogram_avg histogram_count histogram_fraction \
    histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters \
    double_exponential_smoothing hour idelta increase irate label_join label_replace ln log2 log10 \
    minute month predict_linear rate resets round scalar sgn sort sort_desc sort_by_label \
    sort_by_label_desc sqrt time timestamp vector year avg_over_time min_over_time max_over_time \
    sum_over_time count_over_time quantile_over_time stddev_over_time stdvar_over_time \
    last_over_time present_over_time mad_over_time start end";

/// PromQL keywords that take a parenthesized list of label names.
const GROUPING: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];

/// Other PromQL keywords (binary operators, modifiers, number literals).
const KEYWORDS: &[&str] = &["and", "or", "unless", "atan2", "bool", "offset", "inf", "nan"];

/// What one PromQL expression refers to.
#[derive(Debug, Default, PartialEq, Eq)]
struct Refs {
    /// Series names (`baton_…` and the [`NOT_BATON`] ones).
    metrics: BTreeSet<String>,
    /// Label names, in selectors and in `by (…)`-style lists.
    labels: BTreeSet<String>,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// The metric and label names of a PromQL expression (Grafana's `$variables` allowed); an error
/// names a metric that is not Baton's (and not in [`NOT_BATON`]), an unknown function, or a
/// selector this lexer cannot read.
fn promql_refs(expr: &str) -> Result<Refs, String> {
    let s: Vec<char> = expr.chars().collect();
    let mut refs = Refs::default();
    let mut i = 0;
    // Whether the last token was a metric name (a selector's braces may follow it).
    let mut after_metric = false;
    let ident_at = |i: usize| {
        let mut j = i;
        while j < s.len() && is_ident(s[j]) {
            j += 1;
        }
        (s[i..j].iter().collect::<String>(), j)
    };
    let skip_ws = |mut i: usize| {
        while i < s.len() && s[i].is_whitespace() {
            i += 1;
        }
        i
    };
    // The index after the string literal opening at `i`.
    let skip_string = |i: usize| -> Result<usize, String> {
        let quote = s[i];
        let mut j = i + 1;
        while j < s.len() {
            match s[j] {
                '\\' if quote != '`' => j += 2,
                c if c == quote => return Ok(j + 1),
                _ => j += 1,
            }
        }
        Err(format!("an unterminated string in {expr}"))
    };
    while i < s.len() {
        let c = s[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '{' {
            if !after_metric {
                return Err(format!("a selector without a metric name in {expr}"));
            }
            // `{name op "value", …}`
            i += 1;
            loop {
                i = skip_ws(i);
                while i < s.len() && (s[i] == ',' || s[i].is_whitespace()) {
                    i += 1;
                }
                match s.get(i) {
                    Some('}') => {
                        i += 1;
                        break;
                    }
                    Some(&c) if is_ident_start(c) => {}
                    _ => return Err(format!("a label matcher this test cannot read in {expr}")),
                }
                let (label, j) = ident_at(i);
                refs.labels.insert(label);
                i = skip_ws(j);
                let op_start = i;
                while i < s.len() && "=!~".contains(s[i]) {
                    i += 1;
                }
                if !["=", "!=", "=~", "!~"].contains(&s[op_start..i].iter().collect::<String>().as_str()) {
                    return Err(format!("a label matcher without an operator in {expr}"));
                }
                i = skip_ws(i);
                if !matches!(s.get(i), Some('"' | '\'' | '`')) {
                    return Err(format!("a label matcher without a quoted value in {expr}"));
                }
                i = skip_string(i)?;
            }
            after_metric = false;
            continue;
        }
        after_metric = false;
        match c {
            '"' | '\'' | '`' => i = skip_string(i)?,
            '[' => {
                // A range or subquery: durations and Grafana variables only.
                let end = s[i..].iter().position(|&c| c == ']').ok_or_else(|| format!("an unclosed [ in {expr}"))?;
                i += end + 1;
            }
            '#' => {
                while i < s.len() && s[i] != '\n' {
                    i += 1;
                }
            }
            '$' => {
                // A Grafana variable: `${name}` or `$name`.
                i += 1;
                if s.get(i) == Some(&'{') {
                    let end =
                        s[i..].iter().position(|&c| c == '}').ok_or_else(|| format!("an unclosed ${{ in {expr}"))?;
                    i += end + 1;
                } else {
                    i = ident_at(i).1;
                }
            }
            c if c.is_ascii_digit() || (c == '.' && s.get(i + 1).is_some_and(char::is_ascii_digit)) => {
                // A number or a duration (`0.99`, `1e3`, `5m`).
                while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == '.' || s[i] == '_') {
                    i += 1;
                }
            }
            c if is_ident_start(c) => {
                let (word, j) = ident_at(i);
                let lower = word.to_ascii_lowercase();
                let next = skip_ws(j);
                i = j;
                if GROUPING.contains(&lower.as_str()) {
                    if s.get(next) == Some(&'(') {
                        let end = s[next..]
                            .iter()
                            .position(|&c| c == ')')
                            .ok_or_else(|| format!("an unclosed ( in {expr}"))?;
                        let list: String = s[next + 1..next + end].iter().collect();
                        for label in list.split(',').map(str::trim).filter(|l| !l.is_empty()) {
                            if !label.chars().all(is_ident) {
                                return Err(format!("`{label}` is not a label name in {expr}"));
                            }
                            refs.labels.insert(label.to_owned());
                        }
                        i = next + end + 1;
                    }
                } else if KEYWORDS.contains(&lower.as_str()) {
                } else if s.get(next) == Some(&'(') || ["by", "without"].contains(&ident_at(next).0.as_str()) {
                    // A call, or an aggregation with its grouping first (`sum by (le) (…)`).
                    if !FUNCTIONS.split_whitespace().any(|f| f == lower) {
                        return Err(format!("`{word}` is not a PromQL function, in {expr}"));
                    }
                } else if word.starts_with("baton_") || NOT_BATON.iter().any(|(n, _)| *n == word) {
                    refs.metrics.insert(word);
                    after_metric = true;
                } else {
                    return Err(format!(
                        "`{word}` is not one of Baton's metrics (add it to NOT_BATON with a reason if it is meant), in {expr}"
                    ));
                }
            }
            _ => i += 1,
        }
    }
    Ok(refs)
}

/// The series of a text exposition: name → the label names seen on it.
fn exposition(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let end = line.find(['{', ' ']).unwrap_or(line.len());
        let labels = out.entry(line[..end].to_owned()).or_default();
        let Some(mut rest) = line[end..].strip_prefix('{') else { continue };
        // `a="x",b="y"}`: values may hold anything escaped, braces and commas included.
        while let Some((name, after)) = rest.split_once("=\"") {
            labels.insert(name.trim_start_matches(',').to_owned());
            let mut escaped = false;
            let close = after
                .char_indices()
                .find(|&(_, c)| {
                    let end = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    end
                })
                .map(|(k, _)| k)
                .expect("a closing quote");
            rest = &after[close + 1..];
            if rest.starts_with('}') {
                break;
            }
        }
    }
    out
}

/// The metric names of `wanted` that are not series of the exposition.
fn missing<'a>(
    wanted: impl IntoIterator<Item = &'a String>,
    series: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    wanted.into_iter().filter(|m| !series.contains_key(m.as_str())).cloned().collect()
}

fn dashboard() -> Value {
    let text = std::fs::read_to_string(DASHBOARD).unwrap_or_else(|e| panic!("{DASHBOARD}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD} is not JSON: {e}"))
}

/// Every panel, rows' nested panels included.
fn panels(d: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&d["panels"], &mut out);
    out
}

/// Every query of the dashboard: (where it is, the PromQL, the label `label_values` asks for).
fn queries(d: &Value) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    for p in panels(d) {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap_or_else(|| panic!("a target without expr in {}", p["title"]));
            out.push((format!("panel {}", p["title"]), expr.to_owned(), None));
        }
    }
    for v in d["templating"]["list"].as_array().expect("templating.list") {
        if v["type"] != "query" {
            continue;
        }
        let q = v["query"].get("query").unwrap_or(&v["query"]).as_str().expect("a query variable's query");
        let args = q
            .strip_prefix("label_values(")
            .and_then(|a| a.strip_suffix(')'))
            .unwrap_or_else(|| panic!("variable {}: only label_values(…) queries are expected: {q}", v["name"]));
        let (expr, label) =
            args.rsplit_once(',').unwrap_or_else(|| panic!("variable {}: name a series: {q}", v["name"]));
        out.push((format!("variable {}", v["name"]), expr.trim().to_owned(), Some(label.trim().to_owned())));
    }
    out
}

#[test]
fn the_lexer_finds_series_and_labels() {
    let r = promql_refs(
        r#"histogram_quantile(0.99, sum by (route, le) (rate(baton_http_request_duration_seconds_bucket{job=~"$job", route!="/a/{b}"}[$__rate_interval])))
           / ignoring (x) group_left sum(baton_attempts_active offset 5m) or vector(0) > bool 1e3
           + count(up{instance=~"${instance}"} == 0) without(status)"#,
    )
    .unwrap();
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(r.metrics, set(&["baton_attempts_active", "baton_http_request_duration_seconds_bucket", "up"]), "{r:?}");
    assert_eq!(r.labels, set(&["instance", "job", "le", "route", "status", "x"]), "{r:?}");
    for f in ["limit_ratio", "abs", "day_of_year", "holt_winters", "double_exponential_smoothing", "end"] {
        assert!(promql_refs(&format!("{f}(baton_attempts_active)")).is_ok(), "{f} is a function");
    }
}

#[test]
fn the_lexer_refuses_names_baton_does_not_export() {
    for (expr, says) in [
        ("sum(rate(http_requests_total[5m]))", "`http_requests_total` is not one of Baton's metrics"),
        ("rate(process_cpu_seconds_total[1m])", "`process_cpu_seconds_total`"),
        ("histogram_quantil(0.9, baton_hot_store_seconds_bucket)", "`histogram_quantil` is not a PromQL function"),
        (r#"{__name__="baton_build_info"}"#, "a selector without a metric name"),
        (r#"baton_build_info{job=~$job}"#, "without a quoted value"),
    ] {
        let e = promql_refs(expr).expect_err(expr);
        assert!(e.contains(says), "{expr}: {e}");
    }
}

#[test]
fn a_wrong_name_is_missing_from_an_exposition() {
    let text = "# HELP baton_http_request_duration_seconds Time.\n\
                # TYPE baton_http_request_duration_seconds histogram\n\
                baton_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/attempts/{aid}\",status=\"200\",le=\"0.005\"} 1\n\
                baton_http_request_duration_seconds_sum{method=\"GET\",route=\"/x,{y}=\\\"z\\\"\",status=\"200\"} 0.001\n\
                baton_http_request_duration_seconds_count{method=\"GET\",route=\"/\",status=\"200\"} 1\n\
                baton_attempts_active 0\n";
    let series = exposition(text);
    assert_eq!(
        series["baton_http_request_duration_seconds_bucket"],
        ["le", "method", "route", "status"].into_iter().map(String::from).collect()
    );
    assert_eq!(series["baton_http_request_duration_seconds_sum"].len(), 3, "{series:?}");
    assert!(series["baton_attempts_active"].is_empty());
    // A misspelt name, and a histogram by its family name (it has no series of that name).
    let refs = promql_refs(
        "histogram_quantile(0.5, sum by (le) (rate(baton_http_request_seconds_bucket[1m]))) \
         + sum(baton_http_request_duration_seconds) + sum(rate(baton_http_request_duration_seconds_count[1m]))",
    )
    .unwrap();
    assert_eq!(
        missing(&refs.metrics, &series),
        ["baton_http_request_duration_seconds", "baton_http_request_seconds_bucket"]
    );
}

#[test]
fn the_dashboard_is_well_formed() {
    let d = dashboard();
    assert_eq!(d["uid"], UID, "the uid is stable");
    assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(d["schemaVersion"].as_u64().is_some_and(|v| v >= 36), "{}", d["schemaVersion"]);
    let vars = d["templating"]["list"].as_array().expect("templating.list");
    let ds = vars.iter().find(|v| v["name"] == "datasource").expect("a `datasource` variable");
    assert_eq!((ds["type"].as_str(), ds["query"].as_str()), (Some("datasource"), Some("prometheus")));
    for v in vars.iter().filter(|v| v["type"] == "query") {
        assert_eq!(v["datasource"]["uid"], DATASOURCE, "variable {}", v["name"]);
    }
    let all = panels(&d);
    assert!(all.len() > 10, "{} panels", all.len());
    let mut ids = BTreeSet::new();
    let mut cells = BTreeSet::new();
    for p in &all {
        let title = p["title"].as_str().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| panic!("untitled: {p}"));
        assert!(ids.insert(p["id"].as_u64().unwrap_or_else(|| panic!("{title}: no id"))), "{title}: id used twice");
        let g = &p["gridPos"];
        let [x, y, w, h] =
            ["x", "y", "w", "h"].map(|k| g[k].as_u64().unwrap_or_else(|| panic!("{title}: gridPos.{k}")));
        assert!(w > 0 && h > 0 && x + w <= 24, "{title}: {g}");
        for cell in (x..x + w).flat_map(|cx| (y..y + h).map(move |cy| (cx, cy))) {
            assert!(cells.insert(cell), "{title} overlaps another panel at {cell:?}");
        }
        if p["type"] == "row" {
            // A row groups panels and queries nothing.
            assert!(p.get("targets").is_none(), "{title}");
            continue;
        }
        assert_eq!(p["datasource"]["uid"], DATASOURCE, "{title}: the data source");
        assert_eq!(p["datasource"]["type"], "prometheus", "{title}");
        let unit = p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or_else(|| panic!("{title}: no unit"));
        assert!(!unit.is_empty(), "{title}");
        let targets = p["targets"].as_array().filter(|t| !t.is_empty()).unwrap_or_else(|| panic!("{title}: no query"));
        let mut refids = BTreeSet::new();
        for t in targets {
            assert!(refids.insert(t["refId"].as_str().expect("a refId")), "{title}: refId used twice");
            assert!(t["expr"].as_str().is_some_and(|e| !e.trim().is_empty()), "{title}: {t}");
            if let Some(ds) = t.get("datasource") {
                assert_eq!(ds["uid"], DATASOURCE, "{title}: a target's data source");
            }
        }
    }
    // Every query reads and names only Baton's series (and the allowed ones).
    for (at, expr, _) in queries(&d) {
        promql_refs(&expr).unwrap_or_else(|e| panic!("{at}: {e}"));
    }
}

/// Limits of the journey: the third join from one device is refused.
fn limits() -> LimitsConfig {
    let mut c = LimitsConfig::default();
    c.apply(&["join_device=2/1h"]).expect("a valid spec");
    c
}

/// A journey after which every metric family has a series: joins, an attempt played to its
/// finish and one left open, a refused join, the archiver's batches, and a hot-store failure.
async fn journey(app: &TestApp) {
    let a = app.join("device-dashboard-0001", "看板甲").await;
    app.play(&a, 5, 1_000).await;
    let b = app.join("device-dashboard-0002", "看板乙").await;
    app.start(&b).await;
    app.get("/api/v1/me", Some(&a.token)).await;
    app.get("/api/v1/campaigns/demo/leaderboards/score", Some(&a.token)).await;
    // `baton_rate_limited_total{limiter="join_device"}`.
    assert_eq!(app.join_invited("device-dashboard-0001", "看板甲", None).await.0, 200);
    assert_eq!(app.join_invited("device-dashboard-0001", "看板甲", None).await.0, 429);
    // The archiver's events, commits and batches, backlog and lag.
    app.settle().await;
    // `baton_hot_store_errors_total`: a participant whose hash is no longer a hash cannot be read.
    let c = app.join("device-dashboard-0003", "看板丙").await;
    let config = &app.services.config;
    let key = baton_hot::keys::Keys::new(&config.redis_prefix, config.redis_shards)
        .participant(&CampaignId::parse("demo").unwrap(), &ParticipantId::parse(&c.id).unwrap());
    let url = config.redis_url.clone().expect("on Redis");
    let mut conn = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("SET").arg(&key).arg("not a hash").query_async(&mut conn).await.unwrap();
    let r = app.get("/api/v1/me", Some(&c.token)).await;
    assert!(r.status >= 500, "a corrupt participant is a server fault: {} {}", r.status, r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_series_the_dashboard_queries_is_in_metrics() {
    let d = dashboard();
    let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut labels: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (at, expr, label) in queries(&d) {
        let refs = promql_refs(&expr).unwrap_or_else(|e| panic!("{at}: {e}"));
        for m in refs.metrics.into_iter().filter(|m| m.starts_with("baton_")) {
            wanted.entry(m).or_default().insert(at.clone());
        }
        for l in refs.labels.into_iter().chain(label) {
            labels.entry(l).or_default().insert(at.clone());
        }
    }
    assert!(wanted.len() >= 15, "{wanted:?}");

    let app = TestApp::spawn_with(Hot::Redis, Sql::Postgres, |c| c.limits = limits()).await;
    journey(&app).await;
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status, 200);
    let text = r.text();
    let series = exposition(&text);

    let absent: Vec<String> =
        missing(wanted.keys(), &series).into_iter().map(|m| format!("{m} (asked for by {:?})", wanted[&m])).collect();
    assert!(absent.is_empty(), "the dashboard asks for series Baton does not export: {absent:#?}\n{text}");

    let known: BTreeSet<&str> =
        series.values().flatten().map(String::as_str).chain(TARGET_LABELS.iter().copied()).collect();
    let unknown: Vec<String> = labels
        .iter()
        .filter(|(l, _)| !known.contains(l.as_str()))
        .map(|(l, at)| format!("{l} (used by {at:?})"))
        .collect();
    assert!(unknown.is_empty(), "the dashboard uses labels no series has: {unknown:#?}\n{text}");

    // What the journey was for: the families that have no series until something happens.
    for line in [
        r#"baton_rate_limited_total{limiter="join_device"} 1"#,
        r#"baton_hot_store_errors_total{op="participant"} 1"#,
        r#"baton_archiver_events_total{outcome="applied"}"#,
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
}
