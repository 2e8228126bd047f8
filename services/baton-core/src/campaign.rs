//! The campaign document and its validated form.
//!
//! [`CampaignDoc`] is the wire format: what `baton campaign import FILE` reads, what
//! `baton campaign export ID` prints, what the database stores piece by piece. [`Campaign`] is a
//! document that passed [`Campaign::from_doc`]: every rule below holds, and it carries the
//! indexes the services need (place tree with parents, questions by category, the leaderboard
//! layout). Validation collects every problem, each named by its path in the document, so one
//! import run tells an organizer everything to fix.

use crate::Millis;
use crate::ids::{CampaignId, PlaceId, QuestionId, UnitId, is_slug};
use crate::leader::LeaderLayout;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The only document format this version reads and writes.
pub const FORMAT: u32 = 1;

/// The options every true/false question has, in this order (they are never shuffled).
pub const JUDGE_OPTIONS: [&str; 2] = ["正确", "错误"];

/// Most options a question may have (choices travel as a bit mask).
pub const MAX_OPTIONS: usize = 8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignDoc {
    pub format: u32,
    pub id: CampaignId,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub rules: Rules,
    pub categories: Vec<Category>,
    pub regions: Vec<PlaceDoc>,
    #[serde(default)]
    pub units: Vec<Unit>,
    #[serde(default)]
    pub questions: Vec<Question>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub questions_per_attempt: u16,
    pub seconds_per_question: u16,
    pub attempts_per_day: u16,
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    #[serde(default = "default_points")]
    pub points_per_question: u32,
    /// Questions drawn from each category in every attempt; the rest of an attempt is drawn
    /// from the whole remaining bank.
    #[serde(default)]
    pub quotas: BTreeMap<String, u16>,
    /// Whether the public `relay` leaderboard ranks individuals by people who joined through
    /// them. Off by default: WeChat's platform rules forbid rewarding shares and invites.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub relay_board: bool,
}

fn default_time_zone() -> String {
    "Asia/Shanghai".into()
}
fn default_points() -> u32 {
    10
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    City,
    County,
    Township,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "city" => Some(Level::City),
            "county" => Some(Level::County),
            "township" => Some(Level::Township),
            _ => None,
        }
    }
}

/// A place and the places under it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceDoc {
    pub id: PlaceId,
    pub name: String,
    pub level: Level,
    #[serde(default)]
    pub target: Option<u64>,
    #[serde(default)]
    pub children: Vec<PlaceDoc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitKind {
    School,
    Company,
    Community,
    Government,
    Other,
}

impl UnitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::School => "school",
            UnitKind::Company => "company",
            UnitKind::Community => "community",
            UnitKind::Government => "government",
            UnitKind::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "school" => UnitKind::School,
            "company" => UnitKind::Company,
            "community" => UnitKind::Community,
            "government" => UnitKind::Government,
            "other" => UnitKind::Other,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    pub id: UnitId,
    pub name: String,
    pub region_id: PlaceId,
    pub kind: UnitKind,
    #[serde(default)]
    pub target: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuestionKind {
    /// Exactly one correct option.
    Single,
    /// At least two correct options; all of them must be chosen.
    Multi,
    /// True or false: options are [`JUDGE_OPTIONS`].
    Judge,
}

impl QuestionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionKind::Single => "single",
            QuestionKind::Multi => "multi",
            QuestionKind::Judge => "judge",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "single" => QuestionKind::Single,
            "multi" => QuestionKind::Multi,
            "judge" => QuestionKind::Judge,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: QuestionId,
    pub kind: QuestionKind,
    pub category: String,
    pub difficulty: u8,
    pub stem: String,
    pub options: Vec<String>,
    /// Indices into `options` (as written in the document), ascending.
    pub answer: Vec<u8>,
    pub explanation: String,
    pub source: String,
    /// An English translation for the English interface (Chinese is authoritative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<Translation>,
}

/// A question in English. Options are in the same order as the Chinese ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Translation {
    pub stem: String,
    pub options: Vec<String>,
    pub explanation: String,
}

/// One problem in a campaign document, named by its path (`questions[3] (law-004).answer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for DocError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in the campaign document:\n{}", .0.len(), .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
pub struct DocErrors(pub Vec<DocError>);

/// Whether a campaign takes attempts now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Upcoming,
    Live,
    Ended,
}

/// A place as the services see it: where it hangs and what it is.
#[derive(Debug, Clone)]
pub struct PlaceInfo {
    pub id: PlaceId,
    pub name: String,
    pub level: Level,
    pub target: Option<u64>,
    pub parent: Option<PlaceId>,
}

/// A validated campaign with its indexes. Built only by [`Campaign::from_doc`].
#[derive(Debug, Clone)]
pub struct Campaign {
    doc: CampaignDoc,
    tz: chrono_tz::Tz,
    places: HashMap<PlaceId, PlaceInfo>,
    units: HashMap<UnitId, usize>,
    questions: HashMap<QuestionId, usize>,
    by_category: BTreeMap<String, Vec<usize>>,
    leader: LeaderLayout,
}

struct Check(Vec<DocError>);

impl Check {
    fn fail(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(DocError { path: path.into(), message: message.into() });
    }
    fn text(&mut self, path: &str, value: &str, max_chars: usize) {
        let n = value.trim().chars().count();
        if n == 0 {
            self.fail(path, "must not be empty");
        } else if n > max_chars {
            self.fail(path, format!("must be at most {max_chars} characters (has {n})"));
        }
    }
}

/// Options that a shuffle would make wrong: they speak of the other options or of their
/// places ("以上都对", "上述选项均正确", "A和B"). Legal wording such as "三日以上" is fine.
fn refers_to_other_options(option: &str) -> bool {
    const PHRASES: [&str; 10] = [
        "以上都",
        "以上均",
        "以上各项",
        "以上选项",
        "以上说法都",
        "上述都",
        "上述选项",
        "上述各项",
        "全部正确",
        "全都正确",
    ];
    let o = option.trim();
    PHRASES.iter().any(|w| o.contains(w))
        || ["都对", "都不对", "都正确", "都错误"].iter().any(|w| o == *w || o.ends_with(w) && o.chars().count() <= 6)
        || o.chars().count() <= 5
            && o.chars().all(|c| c.is_ascii_uppercase() || matches!(c, '和' | '、' | ',' | '，' | ' '))
}

impl Campaign {
    /// Validates a document and builds the indexes. Every problem is reported, not just the
    /// first.
    pub fn from_doc(doc: CampaignDoc) -> Result<Self, DocErrors> {
        let mut c = Check(Vec::new());
        if doc.format != FORMAT {
            c.fail("format", format!("must be {FORMAT} (this version's format)"));
        }
        c.text("title", &doc.title, 100);
        if doc.description.chars().count() > 2000 {
            c.fail("description", "must be at most 2000 characters");
        }
        if doc.ends_at <= doc.starts_at {
            c.fail("ends_at", "must be after starts_at");
        }

        let r = &doc.rules;
        if !(1..=50).contains(&r.questions_per_attempt) {
            c.fail("rules.questions_per_attempt", "must be 1 to 50");
        }
        if !(5..=600).contains(&r.seconds_per_question) {
            c.fail("rules.seconds_per_question", "must be 5 to 600");
        }
        if !(1..=100).contains(&r.attempts_per_day) {
            c.fail("rules.attempts_per_day", "must be 1 to 100");
        }
        if !(1..=1000).contains(&r.points_per_question) {
            c.fail("rules.points_per_question", "must be 1 to 1000");
        }
        let tz: chrono_tz::Tz = match r.time_zone.parse() {
            Ok(tz) => tz,
            Err(_) => {
                c.fail("rules.time_zone", format!("{:?} is not an IANA time zone (e.g. Asia/Shanghai)", r.time_zone));
                chrono_tz::Asia::Shanghai
            }
        };

        let mut categories = HashSet::new();
        if doc.categories.is_empty() {
            c.fail("categories", "must name at least one category");
        }
        for (i, cat) in doc.categories.iter().enumerate() {
            let path = format!("categories[{i}]");
            if !is_slug(&cat.id) {
                c.fail(format!("{path}.id"), "must be 1-48 lowercase letters, digits or '-'");
            }
            c.text(&format!("{path}.name"), &cat.name, 40);
            if !categories.insert(cat.id.as_str()) {
                c.fail(format!("{path}.id"), format!("category {:?} appears twice", cat.id));
            }
        }

        // Places: a tree whose levels go deeper downwards, ids unique across it.
        let mut places = HashMap::new();
        if doc.regions.is_empty() {
            c.fail("regions", "must hold at least one place");
        }
        let mut stack: Vec<(&PlaceDoc, Option<&PlaceDoc>, String)> =
            doc.regions.iter().enumerate().map(|(i, p)| (p, None, format!("regions[{i}]"))).collect();
        while let Some((p, parent, path)) = stack.pop() {
            let path = format!("{path} ({})", p.id);
            c.text(&format!("{path}.name"), &p.name, 40);
            if let Some(parent) = parent
                && p.level <= parent.level
            {
                c.fail(
                    format!("{path}.level"),
                    format!("a {} cannot hang under a {}", p.level.as_str(), parent.level.as_str()),
                );
            }
            let info = PlaceInfo {
                id: p.id.clone(),
                name: p.name.clone(),
                level: p.level,
                target: p.target,
                parent: parent.map(|q| q.id.clone()),
            };
            if places.insert(p.id.clone(), info).is_some() {
                c.fail(format!("{path}.id"), format!("place {:?} appears twice", p.id.as_str()));
            }
            for (j, child) in p.children.iter().enumerate() {
                stack.push((child, Some(p), format!("{path}.children[{j}]")));
            }
        }

        let mut units = HashMap::new();
        for (i, u) in doc.units.iter().enumerate() {
            let path = format!("units[{i}] ({})", u.id);
            c.text(&format!("{path}.name"), &u.name, 60);
            if !places.contains_key(&u.region_id) {
                c.fail(format!("{path}.region_id"), format!("no place {:?} in regions", u.region_id.as_str()));
            }
            if units.insert(u.id.clone(), i).is_some() {
                c.fail(format!("{path}.id"), format!("unit {:?} appears twice", u.id.as_str()));
            }
        }

        let mut questions = HashMap::new();
        let mut stems = HashMap::new();
        let mut by_category: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, q) in doc.questions.iter().enumerate() {
            let path = format!("questions[{i}] ({})", q.id);
            if questions.insert(q.id.clone(), i).is_some() {
                c.fail(format!("{path}.id"), format!("question {:?} appears twice", q.id.as_str()));
            }
            c.text(&format!("{path}.stem"), &q.stem, 300);
            let stem_key: String = q.stem.chars().filter(|ch| !ch.is_whitespace()).collect();
            if let Some(first) = stems.insert(stem_key, q.id.clone()) {
                c.fail(format!("{path}.stem"), format!("the same stem as {first}"));
            }
            c.text(&format!("{path}.explanation"), &q.explanation, 600);
            c.text(&format!("{path}.source"), &q.source, 200);
            if !(1..=3).contains(&q.difficulty) {
                c.fail(format!("{path}.difficulty"), "must be 1 (easy), 2 (medium) or 3 (hard)");
            }
            if categories.contains(q.category.as_str()) {
                by_category.entry(q.category.clone()).or_default().push(i);
            } else {
                c.fail(format!("{path}.category"), format!("no category {:?} in categories", q.category));
            }
            let n = q.options.len();
            let mut seen = HashSet::new();
            for (j, o) in q.options.iter().enumerate() {
                c.text(&format!("{path}.options[{j}]"), o, 120);
                if !seen.insert(o.trim()) {
                    c.fail(format!("{path}.options[{j}]"), "the same option appears twice");
                }
                if q.kind != QuestionKind::Judge && refers_to_other_options(o) {
                    c.fail(
                        format!("{path}.options[{j}]"),
                        "refers to other options (\"以上都对\", \"A和B\"); options are shuffled, so it would break",
                    );
                }
            }
            if let Some(en) = &q.en {
                c.text(&format!("{path}.en.stem"), &en.stem, 600);
                c.text(&format!("{path}.en.explanation"), &en.explanation, 1200);
                if en.options.len() != n {
                    c.fail(
                        format!("{path}.en.options"),
                        format!("has {} options; the question has {n}", en.options.len()),
                    );
                }
                for (j, o) in en.options.iter().enumerate() {
                    c.text(&format!("{path}.en.options[{j}]"), o, 240);
                }
                if q.kind == QuestionKind::Judge && en.options != ["True", "False"] {
                    c.fail(
                        format!("{path}.en.options"),
                        "a true/false question's English options are exactly [\"True\", \"False\"]",
                    );
                }
            }
            if q.answer.windows(2).any(|w| w[0] >= w[1]) {
                c.fail(format!("{path}.answer"), "indices must be ascending and distinct");
            }
            if let Some(bad) = q.answer.iter().find(|&&a| usize::from(a) >= n) {
                c.fail(format!("{path}.answer"), format!("index {bad} is out of range for {n} options"));
            }
            let k = q.answer.len();
            match q.kind {
                QuestionKind::Single => {
                    if !(2..=MAX_OPTIONS).contains(&n) {
                        c.fail(
                            format!("{path}.options"),
                            format!("a single-choice question needs 2 to {MAX_OPTIONS} options"),
                        );
                    }
                    if k != 1 {
                        c.fail(format!("{path}.answer"), "a single-choice question has exactly one correct option");
                    }
                }
                QuestionKind::Multi => {
                    if !(3..=MAX_OPTIONS).contains(&n) {
                        c.fail(
                            format!("{path}.options"),
                            format!("a multiple-choice question needs 3 to {MAX_OPTIONS} options"),
                        );
                    }
                    if k < 2 || k >= n {
                        c.fail(
                            format!("{path}.answer"),
                            "a multiple-choice question has at least two correct options, and not all of them",
                        );
                    }
                }
                QuestionKind::Judge => {
                    if q.options != JUDGE_OPTIONS {
                        c.fail(
                            format!("{path}.options"),
                            "a true/false question's options are exactly [\"正确\", \"错误\"]",
                        );
                    }
                    if k != 1 {
                        c.fail(format!("{path}.answer"), "a true/false question's answer is [0] (true) or [1] (false)");
                    }
                }
            }
        }

        let qpa = usize::from(r.questions_per_attempt);
        let mut quota_sum = 0usize;
        for (cat, &quota) in &r.quotas {
            quota_sum += usize::from(quota);
            let have = by_category.get(cat).map_or(0, Vec::len);
            if !categories.contains(cat.as_str()) {
                c.fail(format!("rules.quotas.{cat}"), "no such category");
            } else if have < usize::from(quota) {
                c.fail(format!("rules.quotas.{cat}"), format!("asks for {quota} per attempt but the bank has {have}"));
            }
        }
        if quota_sum > qpa {
            c.fail("rules.quotas", format!("add up to {quota_sum}, more than questions_per_attempt ({qpa})"));
        }
        if doc.questions.len() < qpa {
            c.fail(
                "questions",
                format!("the bank has {} questions, fewer than questions_per_attempt ({qpa})", doc.questions.len()),
            );
        }

        let leader = LeaderLayout::new(
            u64::from(r.questions_per_attempt) * u64::from(r.points_per_question),
            u64::from(r.questions_per_attempt) * u64::from(r.seconds_per_question) * 1000,
            doc.starts_at.timestamp_millis(),
            doc.ends_at.timestamp_millis(),
        );
        let leader = match leader {
            Ok(l) => l,
            Err(e) => {
                c.fail("rules", e);
                LeaderLayout::new(1, 1, 0, 1).expect("trivial layout fits")
            }
        };

        if !c.0.is_empty() {
            return Err(DocErrors(c.0));
        }
        Ok(Campaign { doc, tz, places, units, questions, by_category, leader })
    }

    pub fn doc(&self) -> &CampaignDoc {
        &self.doc
    }
    pub fn id(&self) -> &CampaignId {
        &self.doc.id
    }
    pub fn rules(&self) -> &Rules {
        &self.doc.rules
    }
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.tz
    }
    pub fn leader(&self) -> &LeaderLayout {
        &self.leader
    }
    pub fn starts_ms(&self) -> Millis {
        self.doc.starts_at.timestamp_millis()
    }
    pub fn ends_ms(&self) -> Millis {
        self.doc.ends_at.timestamp_millis()
    }

    pub fn status(&self, now: Millis) -> Status {
        if now < self.starts_ms() {
            Status::Upcoming
        } else if now >= self.ends_ms() {
            Status::Ended
        } else {
            Status::Live
        }
    }

    pub fn place(&self, id: &PlaceId) -> Option<&PlaceInfo> {
        self.places.get(id)
    }

    pub fn places(&self) -> impl Iterator<Item = &PlaceInfo> {
        self.places.values()
    }

    /// The place and every place above it, nearest first.
    pub fn ancestors(&self, id: &PlaceId) -> Vec<PlaceId> {
        let mut out = Vec::new();
        let mut cur = self.places.get(id);
        while let Some(p) = cur {
            out.push(p.id.clone());
            cur = p.parent.as_ref().and_then(|q| self.places.get(q));
        }
        out
    }

    /// The county-level place at or above `id`, if there is one.
    pub fn county_of(&self, id: &PlaceId) -> Option<PlaceId> {
        self.ancestors(id).into_iter().find(|p| self.places[p].level == Level::County)
    }

    /// Whether `id` is `root` or lies under it.
    pub fn is_within(&self, id: &PlaceId, root: &PlaceId) -> bool {
        self.ancestors(id).iter().any(|p| p == root)
    }

    pub fn unit(&self, id: &UnitId) -> Option<&Unit> {
        self.units.get(id).map(|&i| &self.doc.units[i])
    }

    pub fn question(&self, id: &QuestionId) -> Option<&Question> {
        self.questions.get(id).map(|&i| &self.doc.questions[i])
    }

    pub fn questions(&self) -> &[Question] {
        &self.doc.questions
    }

    /// Indices into [`Campaign::questions`] by category.
    pub fn by_category(&self) -> &BTreeMap<String, Vec<usize>> {
        &self.by_category
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small valid campaign for tests: two counties, a unit, six questions in two categories.
    pub fn sample_doc() -> CampaignDoc {
        serde_json::from_value(serde_json::json!({
            "format": 1, "id": "t", "title": "测试", "description": "",
            "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-11T00:00:00Z",
            "rules": {"questions_per_attempt": 4, "seconds_per_question": 20, "attempts_per_day": 2,
                      "time_zone": "Asia/Shanghai", "points_per_question": 10, "quotas": {"a": 1, "b": 2}},
            "categories": [{"id": "a", "name": "甲"}, {"id": "b", "name": "乙"}],
            "regions": [{"id": "city", "name": "市", "level": "city", "children": [
                {"id": "c1", "name": "一区", "level": "county", "target": 100, "children": [
                    {"id": "t1", "name": "一街道", "level": "township", "target": 50}]},
                {"id": "c2", "name": "二区", "level": "county"}]}],
            "units": [{"id": "u1", "name": "一中", "region_id": "t1", "kind": "school", "target": 30}],
            "questions": [
                {"id": "a1", "kind": "single", "category": "a", "difficulty": 1, "stem": "甲一", "options": ["x", "y", "z"], "answer": [1], "explanation": "因为。", "source": "法"},
                {"id": "a2", "kind": "judge", "category": "a", "difficulty": 1, "stem": "甲二", "options": ["正确", "错误"], "answer": [0], "explanation": "因为。", "source": "法"},
                {"id": "a3", "kind": "multi", "category": "a", "difficulty": 2, "stem": "甲三", "options": ["p", "q", "r", "s"], "answer": [0, 2], "explanation": "因为。", "source": "法"},
                {"id": "b1", "kind": "single", "category": "b", "difficulty": 1, "stem": "乙一", "options": ["x", "y", "z", "w"], "answer": [3], "explanation": "因为。", "source": "法"},
                {"id": "b2", "kind": "judge", "category": "b", "difficulty": 3, "stem": "乙二", "options": ["正确", "错误"], "answer": [1], "explanation": "因为。", "source": "法"},
                {"id": "b3", "kind": "multi", "category": "b", "difficulty": 2, "stem": "乙三", "options": ["p", "q", "r"], "answer": [0, 1], "explanation": "因为。", "source": "法"}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn sample_is_valid_and_indexed() {
        let c = Campaign::from_doc(sample_doc()).unwrap();
        let t1 = PlaceId::parse("t1").unwrap();
        let names: Vec<_> = c.ancestors(&t1).iter().map(|p| p.to_string()).collect();
        assert_eq!(names, ["t1", "c1", "city"]);
        assert_eq!(c.county_of(&t1).unwrap().as_str(), "c1");
        assert_eq!(c.county_of(&PlaceId::parse("city").unwrap()), None);
        assert!(c.is_within(&t1, &PlaceId::parse("city").unwrap()));
        assert!(!c.is_within(&t1, &PlaceId::parse("c2").unwrap()));
        assert_eq!(c.by_category()["b"].len(), 3);
        let jan5 = chrono::DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap().timestamp_millis();
        assert_eq!(c.status(jan5), Status::Live);
        assert_eq!(c.status(c.ends_ms()), Status::Ended);
        assert_eq!(c.status(c.starts_ms() - 1), Status::Upcoming);
    }

    fn errors_of(doc: CampaignDoc) -> Vec<String> {
        Campaign::from_doc(doc).unwrap_err().0.into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn every_problem_is_named_by_its_path() {
        let mut d = sample_doc();
        d.questions[0].answer = vec![7];
        d.questions[1].options = vec!["对".into(), "错".into()];
        d.questions[2].answer = vec![1];
        d.questions[3].options[0] = "以上都对".into();
        d.questions[4].stem = d.questions[3].stem.clone();
        d.questions[5].category = "nope".into();
        d.units[0].region_id = PlaceId::parse("nowhere").unwrap();
        d.rules.time_zone = "Mars/Olympus".into();
        let e = errors_of(d);
        let want = [
            "questions[0] (a1).answer: index 7 is out of range",
            "questions[1] (a2).options: a true/false question",
            "questions[2] (a3).answer: a multiple-choice question has at least two",
            "questions[3] (b1).options[0]: refers to other options",
            "questions[4] (b2).stem: the same stem as b1",
            "questions[5] (b3).category: no category \"nope\"",
            "units[0] (u1).region_id: no place \"nowhere\"",
            "rules.time_zone: \"Mars/Olympus\" is not an IANA time zone",
        ];
        for w in want {
            assert!(e.iter().any(|x| x.starts_with(w)), "missing {w:?} in {e:#?}");
        }
    }

    #[test]
    fn options_that_name_other_options_are_refused() {
        for bad in ["以上都对", "以上均不正确", "上述选项都正确", "A和B", "A、C", "都对"] {
            assert!(refers_to_other_options(bad), "{bad}");
        }
        for good in ["处十日以上十五日以下拘留", "县级以上人民政府", "海洛因", "A型肝炎"] {
            assert!(!refers_to_other_options(good), "{good}");
        }
    }

    #[test]
    fn quotas_must_be_satisfiable() {
        let mut d = sample_doc();
        d.rules.quotas.insert("a".into(), 4);
        let e = errors_of(d);
        assert!(e.iter().any(|x| x.starts_with("rules.quotas.a: asks for 4 per attempt but the bank has 3")), "{e:?}");
        assert!(e.iter().any(|x| x.starts_with("rules.quotas: add up to 6")), "{e:?}");
    }

    #[test]
    fn place_levels_go_down_and_ids_are_unique() {
        let mut d = sample_doc();
        d.regions[0].children[1].level = Level::City;
        d.regions[0].children[0].children[0].id = PlaceId::parse("c2").unwrap();
        let e = errors_of(d);
        assert!(e.iter().any(|x| x.contains(".level: a city cannot hang under a city")), "{e:?}");
        assert!(e.iter().any(|x| x.contains("place \"c2\" appears twice")), "{e:?}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut v = serde_json::to_value(sample_doc()).unwrap();
        v["questions"][0]["answers"] = serde_json::json!([1]);
        let err = serde_json::from_value::<CampaignDoc>(v).unwrap_err().to_string();
        assert!(err.contains("unknown field `answers`"), "{err}");
    }

    #[test]
    fn document_round_trips() {
        let d = sample_doc();
        let text = serde_json::to_string_pretty(&d).unwrap();
        assert_eq!(serde_json::from_str::<CampaignDoc>(&text).unwrap(), d);
    }
}
