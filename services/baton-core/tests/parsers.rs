//! Property tests of every parser of outside input in the rules: ids, device ids, nicknames,
//! relay codes, choices and the campaign document. Whatever a client or an organizer sends, a
//! parser answers `Ok` or `Err` — it never panics — and what it accepts round-trips. Case
//! counts stay modest (a few hundred each) so the suite stays fast.

use baton_core::campaign::{Campaign, CampaignDoc, DocErrors, QuestionKind};
use baton_core::ids::{AttemptId, CampaignId, DeviceId, Nickname, ParticipantId, PlaceId, QuestionId, UnitId, is_slug};
use baton_core::relay::{CODE_LEN, RelayCode};
use baton_core::scoring::{ChoiceError, choice_mask, mask_to_choice};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Strings a hostile client might send: anything at all, things that look like ids, Redis keys
/// and SQL, and text with emoji and control characters.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9-]{0,60}",
        "[ -~]{0,60}",
        "\\PC{0,30}",
        "[\\x00-\\x1f\\u{200b}-\\u{200f}\\u{202a}-\\u{202e}a😀👨\u{200d}]{0,24}",
        Just("{v1:demo:0}:p:abc".to_owned()),
        Just("demo' OR '1'='1".to_owned()),
        Just("x; DROP TABLE participants; --".to_owned()),
        Just("../../etc/passwd".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Slug ids accept exactly 1-48 of `[a-z0-9-]`, and what they accept reads back the same,
    /// through `parse`, `Display` and serde alike.
    #[test]
    fn slug_ids_never_panic_and_round_trip(s in hostile_string()) {
        let ok = is_slug(&s);
        prop_assert_eq!(ok, !s.is_empty() && s.len() <= 48
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        macro_rules! check {
            ($($t:ty),*) => {$(
                let parsed = <$t>::parse(&s);
                prop_assert_eq!(parsed.is_ok(), ok);
                let from_json = serde_json::from_value::<$t>(Value::String(s.clone()));
                prop_assert_eq!(from_json.is_ok(), ok);
                if let Ok(id) = parsed {
                    prop_assert_eq!(id.as_str(), s.as_str());
                    prop_assert_eq!(id.to_string(), s.clone());
                    prop_assert_eq!(<$t>::parse(id.as_str()).unwrap(), id.clone());
                    prop_assert_eq!(serde_json::to_value(&id).unwrap(), Value::String(s.clone()));
                }
            )*};
        }
        check!(CampaignId, PlaceId, UnitId, QuestionId, ParticipantId, AttemptId);
    }

    /// Ids the server makes are ids its parsers accept.
    #[test]
    fn made_ids_parse(campaign in "[a-z0-9-]{1,48}", device in "[!-~]{8,64}", seed in any::<u64>()) {
        let c = CampaignId::parse(&campaign).unwrap();
        let p = ParticipantId::for_device(&c, &device);
        prop_assert_eq!(ParticipantId::parse(p.as_str()).unwrap(), p.clone());
        let w = ParticipantId::for_wechat(&c, &device);
        prop_assert!(ParticipantId::parse(w.as_str()).is_ok());
        use rand::SeedableRng;
        let a = AttemptId::random(&mut rand::rngs::StdRng::seed_from_u64(seed));
        prop_assert_eq!(AttemptId::parse(a.as_str()).unwrap(), a);
    }

    /// A device id is 8-64 visible ASCII characters, kept as sent.
    #[test]
    fn device_ids_never_panic(s in hostile_string()) {
        let ok = (8..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic());
        match DeviceId::parse(&s) {
            Ok(d) => { prop_assert!(ok); prop_assert_eq!(d.as_str(), s.as_str()); }
            Err(_) => prop_assert!(!ok),
        }
    }

    /// A nickname that parses is trimmed, 1-20 characters, free of control characters, and
    /// parses to itself again; emoji count as characters.
    #[test]
    fn nicknames_never_panic_and_are_stable(s in hostile_string()) {
        if let Ok(n) = Nickname::parse(&s) {
            let t = n.as_str();
            prop_assert_eq!(t, s.trim());
            prop_assert!((1..=20).contains(&t.chars().count()), "{:?}", t);
            prop_assert!(!t.chars().any(char::is_control), "{:?}", t);
            prop_assert_eq!(Nickname::parse(t).unwrap(), n.clone());
        } else {
            let t = s.trim();
            let n = t.chars().count();
            prop_assert!(n == 0 || n > 20 || t.chars().any(|c| c.is_control() || ('\u{200b}'..='\u{206f}').contains(&c) || c == '\u{feff}'),
                "{:?} was refused", s);
        }
    }

    /// Relay codes: anything at all reads as a code or as nothing; a code reads back the same,
    /// whatever case and grouping a person wrote it in.
    #[test]
    fn relay_codes_never_panic_and_round_trip(s in hostile_string(), seed in any::<u64>(), upper in any::<bool>(), group in 0usize..4) {
        if let Some(c) = RelayCode::parse(&s) {
            prop_assert_eq!(c.as_str().len(), CODE_LEN);
            prop_assert_eq!(RelayCode::parse(c.as_str()), Some(c.clone()));
        }
        use rand::SeedableRng;
        let code = RelayCode::random(&mut rand::rngs::StdRng::seed_from_u64(seed));
        prop_assert_eq!(RelayCode::parse(code.as_str()), Some(code.clone()));
        let mut written = if upper { code.as_str().to_ascii_uppercase() } else { code.to_string() };
        if group > 0 {
            let sep = [" ", "-", " - "][group - 1];
            written = format!("{}{sep}{}", &written[..5], &written[5..]);
        }
        prop_assert_eq!(RelayCode::parse(&written), Some(code));
    }

    /// A choice is distinct option indices in range (one for single and true/false questions);
    /// anything else — empty, negative, out of range, duplicate — is refused, never a panic.
    #[test]
    fn choices_never_panic(choice in proptest::collection::vec(any::<i64>().prop_map(|i| i % 12), 0..10), n in 0usize..40, multi in any::<bool>()) {
        let kind = if multi { QuestionKind::Multi } else { QuestionKind::Single };
        match choice_mask(&choice, n, kind) {
            Ok(mask) => {
                let mut sorted: Vec<i64> = choice.clone();
                sorted.sort();
                prop_assert_eq!(mask_to_choice(mask).into_iter().map(i64::from).collect::<Vec<_>>(), sorted);
                prop_assert!(multi || choice.len() == 1);
            }
            Err(ChoiceError::Empty) => prop_assert!(choice.is_empty()),
            Err(ChoiceError::OutOfRange) => prop_assert!(choice.iter().any(|&c| c < 0 || c >= n as i64 || c >= 32)),
            Err(ChoiceError::Duplicate) => {
                let mut d = choice.clone();
                d.sort();
                d.dedup();
                prop_assert!(d.len() < choice.len());
            }
            Err(ChoiceError::TooMany) => prop_assert!(!multi && choice.len() > 1),
        }
    }
}

/// A small valid campaign document.
fn valid_doc() -> Value {
    json!({
        "format": 1, "id": "t", "title": "测试", "description": "",
        "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-11T00:00:00Z",
        "rules": {"questions_per_attempt": 2, "seconds_per_question": 20, "attempts_per_day": 2,
                  "time_zone": "Asia/Shanghai", "points_per_question": 10},
        "categories": [{"id": "a", "name": "甲"}],
        "regions": [{"id": "city", "name": "市", "level": "city", "children": [
            {"id": "c1", "name": "一区", "level": "county", "target": 100, "children": [
                {"id": "t1", "name": "一街道", "level": "township", "target": 50}]}]}],
        "units": [{"id": "u1", "name": "一中", "region_id": "t1", "kind": "school", "target": 30}],
        "questions": [
            {"id": "a1", "kind": "single", "category": "a", "difficulty": 1, "stem": "甲一",
             "options": ["x", "y", "z"], "answer": [1], "explanation": "因为。", "source": "法"},
            {"id": "a2", "kind": "judge", "category": "a", "difficulty": 1, "stem": "甲二",
             "options": ["正确", "错误"], "answer": [0], "explanation": "因为。", "source": "法"},
            {"id": "a3", "kind": "multi", "category": "a", "difficulty": 2, "stem": "甲三",
             "options": ["p", "q", "r", "s"], "answer": [0, 2], "explanation": "因为。", "source": "法"}
        ]
    })
}

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        prop_oneof![Just(-1i64), Just(0), Just(1), Just(2), Just(49), Just(u32::MAX as i64)].prop_map(Value::from),
        hostile_string().prop_map(Value::from),
        prop_oneof![Just("2026-01-05T00:00:00Z"), Just("t1"), Just("a"), Just("single"), Just("multi")]
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,10}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer in `v` (the root included).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| pointers(x, format!("{at}/{k}"), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| pointers(x, format!("{at}/{i}"), out)),
        _ => {}
    }
    out.push(at);
}

/// A change to a document: at the pointer with this index, put a value, or remove the member.
#[derive(Debug, Clone)]
enum Edit {
    Set(proptest::sample::Index, Value),
    Remove(proptest::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<proptest::sample::Index>(), any_json()).prop_map(|(i, v)| Edit::Set(i, v)),
        1 => any::<proptest::sample::Index>().prop_map(Edit::Remove),
    ]
}

fn apply(doc: &mut Value, e: &Edit) {
    let mut all = Vec::new();
    pointers(doc, String::new(), &mut all);
    let (Edit::Set(i, _) | Edit::Remove(i)) = e;
    let p = i.get(&all).clone();
    match e {
        Edit::Set(_, v) => *doc.pointer_mut(&p).unwrap() = v.clone(),
        Edit::Remove(_) => {
            if let Some((parent, last)) = p.rsplit_once('/')
                && let Some(parent) = doc.pointer_mut(parent)
            {
                match parent {
                    Value::Object(m) => {
                        m.remove(last);
                    }
                    Value::Array(a) => {
                        a.remove(last.parse::<usize>().unwrap());
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Reads a document the way import does: serde, then validation. Validation errors each name
/// a path into the document that starts at one of its top-level fields.
fn read(v: Value) -> Result<Campaign, String> {
    let doc: CampaignDoc = serde_json::from_value(v).map_err(|e| e.to_string())?;
    match Campaign::from_doc(doc) {
        Ok(c) => Ok(c),
        Err(DocErrors(errors)) => {
            assert!(!errors.is_empty(), "a refusal says why");
            let fields: Vec<String> = valid_doc().as_object().unwrap().keys().cloned().collect();
            for e in &errors {
                let head = e.path.split(['.', '[']).next().unwrap();
                assert!(fields.iter().any(|f| f == head), "{:?} names no field of the document", e.path);
                assert!(!e.message.is_empty(), "{e:?}");
            }
            Err(errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any JSON at all is read or refused, never a panic.
    #[test]
    fn any_json_is_never_a_panic_as_a_campaign(v in any_json()) {
        let _ = read(v);
    }

    /// A valid document with a few things changed anywhere in it is read or refused with the
    /// fields at fault, never a panic; what is read is a campaign whose own document reads
    /// back the same.
    #[test]
    fn edited_documents_are_read_or_refused_by_path(edits in proptest::collection::vec(edit(), 1..4)) {
        let mut doc = valid_doc();
        for e in &edits {
            apply(&mut doc, e);
        }
        if let Ok(c) = read(doc) {
            let again = read(serde_json::to_value(c.doc()).unwrap()).expect("a campaign's own document reads");
            prop_assert_eq!(again.doc(), c.doc());
        }
    }
}

#[test]
fn the_valid_document_is_valid() {
    read(valid_doc()).unwrap();
}
