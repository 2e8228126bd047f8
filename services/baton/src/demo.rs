//! The demo campaign (`demo`): 株洲市 with its nine county-level divisions, townships and units
//! with targets, and a bank of anti-drug knowledge questions, each with its explanation and
//! source. Shipped in the binary (`services/baton/demo/`) and loaded by `baton serve --demo`.

use baton_core::campaign::{CampaignDoc, Question};

const CAMPAIGN: &str = include_str!("../demo/campaign.json");
const QUESTIONS: [(&str, &str); 6] = [
    ("questions/law.json", include_str!("../demo/questions/law.json")),
    ("questions/drugs.json", include_str!("../demo/questions/drugs.json")),
    ("questions/refuse.json", include_str!("../demo/questions/refuse.json")),
    ("questions/treatment.json", include_str!("../demo/questions/treatment.json")),
    ("questions/history.json", include_str!("../demo/questions/history.json")),
    ("questions/youth.json", include_str!("../demo/questions/youth.json")),
];

/// The demo campaign document: `campaign.json` with every question file's questions.
pub fn doc() -> CampaignDoc {
    let mut doc: CampaignDoc = serde_json::from_str(CAMPAIGN).unwrap_or_else(|e| panic!("demo/campaign.json: {e}"));
    for (name, text) in QUESTIONS {
        let qs: Vec<Question> = serde_json::from_str(text).unwrap_or_else(|e| panic!("demo/{name}: {e}"));
        doc.questions.extend(qs);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::campaign::{Campaign, Level, QuestionKind};
    use std::collections::HashMap;

    /// The demo bank's structure: every rule of the campaign format holds (answer indices in
    /// range, kinds, no duplicate stems, every question sourced and explained, quotas
    /// satisfiable), and the content is balanced and large enough to teach from.
    #[test]
    fn the_demo_campaign_is_valid_and_balanced() {
        let c = Campaign::from_doc(doc()).unwrap_or_else(|e| panic!("{e}"));
        let qs = c.questions();
        assert!(qs.len() >= 200, "the bank has {} questions", qs.len());
        let rules = c.rules();
        for cat in &c.doc().categories {
            let n = c.by_category().get(&cat.id).map_or(0, Vec::len);
            let quota = rules.quotas.get(&cat.id).copied().unwrap_or(0) as usize;
            // Enough that two attempts a day for ten days rarely repeat a question.
            assert!(n >= 30 && n >= quota * 10, "category {} has {n} questions for a quota of {quota}", cat.id);
        }
        let mut kinds: HashMap<QuestionKind, usize> = HashMap::new();
        for q in qs {
            *kinds.entry(q.kind).or_default() += 1;
            assert!(q.explanation.chars().count() >= 20, "{}: explain why, not only what", q.id);
            // A law (《…》) or an official body's publication.
            const BODIES: [&str; 13] =
                ["《", "委员会", "部", "局", "院", "办", "馆", "联合国", "组织", "政府", "海关", "公安", "新华社"];
            assert!(
                BODIES.iter().any(|b| q.source.contains(b)),
                "{}: name the law or the official body: {}",
                q.id,
                q.source
            );
            assert!(q.en.is_some(), "{}: the English interface needs a translation", q.id);
        }
        for k in [QuestionKind::Single, QuestionKind::Multi, QuestionKind::Judge] {
            assert!(kinds.get(&k).copied().unwrap_or(0) * 10 >= qs.len(), "too few {k:?} questions: {kinds:?}");
        }
        let counties: Vec<_> = c.places().filter(|p| p.level == Level::County).map(|p| p.name.clone()).collect();
        for name in ["荷塘区", "芦淞区", "石峰区", "天元区", "渌口区", "醴陵市", "攸县", "茶陵县", "炎陵县"]
        {
            assert!(counties.iter().any(|c| c == name), "missing {name}");
        }
        assert!(c.doc().units.iter().all(|u| u.target.is_some()), "every demo unit has a target");
        assert!(
            c.status(chrono::Utc::now().timestamp_millis()) == baton_core::campaign::Status::Live,
            "the demo runs now"
        );
    }
}
