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
}
