//! Reading a campaign document from a file. Errors name the file and the line, column or
//! field at fault, and every validation problem is listed at once.

use baton_core::campaign::{Campaign, CampaignDoc};
use std::path::Path;

/// Reads and validates `path`.
pub fn read(path: &Path) -> Result<Campaign, String> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read the file: {e}"))?;
    parse(&text).map_err(|e| format!("{name}:{e}"))
}

/// Parses and validates a document; errors start with `line:column:` or list the fields.
pub fn parse(text: &str) -> Result<Campaign, String> {
    let doc: CampaignDoc = serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        format!("{}:{}: {msg}", e.line(), e.column())
    })?;
    Campaign::from_doc(doc).map_err(|e| format!(" {e}\nFix these fields and import again."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        std::fs::write(&p, "{\n  \"format\": 1,\n  \"id\": \"x\",\n  \"title\": oops\n}").unwrap();
        let e = read(&p).unwrap_err();
        assert!(e.starts_with(&format!("{}:4:", p.display())), "{e}");
        let mut v = serde_json::to_value(crate::demo::doc()).unwrap();
        v["questions"][3]["answer"] = serde_json::json!([9]);
        std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
        let e = read(&p).unwrap_err();
        assert!(e.contains("questions[3]") && e.contains(".answer: index 9 is out of range"), "{e}");
        assert!(read(&dir.path().join("missing.json")).unwrap_err().contains("cannot read the file"));
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any text is read or refused, never a panic; a refusal says where: `line:column:` for
        /// JSON that does not read, the fields at fault for a document that does not validate.
        #[test]
        fn any_text_is_read_or_refused_with_a_place(text in prop_oneof![
            any::<String>(),
            "[{}\\[\\]\":,0-9a-z \n]{0,80}",
            Just(String::new()),
        ]) {
            if let Err(e) = parse(&text) {
                let located = e.split(':').take(2).all(|n| n.parse::<u64>().is_ok());
                prop_assert!(located || e.contains("Fix these fields"), "{}", e);
            }
        }

        /// The demo document with one top-level field replaced by another JSON value: read or
        /// refused naming that field, never a panic.
        #[test]
        fn a_changed_field_is_named(field in prop_oneof![
            Just("id"), Just("title"), Just("starts_at"), Just("rules"), Just("regions"), Just("units"),
            Just("categories"), Just("questions"), Just("format")],
            value in prop_oneof![Just(serde_json::json!(null)), Just(serde_json::json!([])), Just(serde_json::json!({})),
                Just(serde_json::json!(-1)), Just(serde_json::json!("{v1:demo:0}:p")), Just(serde_json::json!([{"id": "x"}]))],
        ) {
            let mut v = serde_json::to_value(crate::demo::doc()).unwrap();
            v[field] = value;
            if let Err(e) = parse(&serde_json::to_string_pretty(&v).unwrap()) {
                prop_assert!(e.contains(field) || e.split(':').take(2).all(|n| n.parse::<u64>().is_ok()), "{}", e);
            }
        }
    }
}
