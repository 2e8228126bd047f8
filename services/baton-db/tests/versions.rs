//! Campaign versions, on both engines: every write of a campaign is a new version kept whole,
//! in effect from the start for a new campaign and a fixed delay after it was written for an
//! update; an edit reads, changes and stores in one transaction (none is lost to a concurrent
//! one), with its audit entry, or stores nothing at all; a campaign stored before versions
//! were kept gets its stored document as version 1 when it is next written.

#[macro_use]
mod common;

use baton_core::campaign::{CampaignDoc, Question};
use baton_core::ids::CampaignId;
use baton_db::campaigns::{Edit, SWITCH_DELAY_MS, VersionInfo};
use baton_db::{AuditEntry, Db, PutOutcome};
use serde_json::json;
use sqlx::Connection;

on_both_engines!(
    every_write_is_a_version_in_effect_after_the_delay,
    an_edit_is_all_or_nothing_with_its_audit_entry,
    concurrent_edits_lose_nothing,
    a_campaign_stored_before_versions_keeps_its_document_as_version_one,
);

fn doc(title: &str) -> CampaignDoc {
    serde_json::from_value(json!({
        "format": 1, "id": "demo", "title": title, "description": "",
        "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-10T23:59:59.999Z",
        "rules": {"questions_per_attempt": 1, "seconds_per_question": 20, "attempts_per_day": 3},
        "categories": [{"id": "law", "name": "法律"}],
        "regions": [{"id": "city", "name": "市", "level": "city"}],
        "questions": [question("law-1", "毒品是指？")]
    }))
    .expect("the campaign parses")
}

fn question(id: &str, stem: &str) -> serde_json::Value {
    json!({"id": id, "kind": "single", "category": "law", "difficulty": 1, "stem": stem,
           "options": ["鸦片等", "烟草"], "answer": [0], "explanation": "刑法。", "source": "刑法"})
}

fn cid() -> CampaignId {
    CampaignId::parse("demo").unwrap()
}

fn v(version: i64, valid_from_ms: i64, created_at_ms: i64) -> VersionInfo {
    VersionInfo { version, valid_from_ms, created_at_ms }
}

async fn every_write_is_a_version_in_effect_after_the_delay(db: &Db, _url: &str) {
    assert!(db.campaign_versions(&cid()).await.unwrap().is_empty());
    let first = db.store_campaign(&doc("一"), 1_000).await.unwrap();
    assert_eq!((first.outcome, first.version), (PutOutcome::Created, v(1, 0, 1_000)));
    let second = db.store_campaign(&doc("二"), 5_000).await.unwrap();
    assert_eq!((second.outcome, second.version), (PutOutcome::Updated, v(2, 5_000 + SWITCH_DELAY_MS, 5_000)));
    // A writer whose clock is behind never makes a version take effect before the one it follows.
    let third = db.store_campaign(&doc("三"), 2_000).await.unwrap();
    assert_eq!(third.version, v(3, 5_000 + SWITCH_DELAY_MS, 2_000));

    assert_eq!(
        db.campaign_versions(&cid()).await.unwrap(),
        [first.version, second.version, third.version],
        "oldest first"
    );
    for (n, title) in [(1, "一"), (2, "二"), (3, "三")] {
        assert_eq!(db.campaign_version(&cid(), n).await.unwrap(), Some(doc(title)), "version {n}");
    }
    assert_eq!(db.campaign_version(&cid(), 4).await.unwrap(), None);
    // The campaign's rows are the newest version.
    assert_eq!(db.campaign(&cid()).await.unwrap(), Some(doc("三")));
    // put_campaign is the same path.
    assert_eq!(db.put_campaign(&doc("四")).await.unwrap(), PutOutcome::Updated);
    assert_eq!(db.campaign_versions(&cid()).await.unwrap().len(), 4);
}

async fn an_edit_is_all_or_nothing_with_its_audit_entry(db: &Db, _url: &str) {
    // A campaign that does not exist is offered as None, and a refusal stores nothing.
    let refused = db
        .edit_campaign(&cid(), 1_000, |current, next| {
            assert_eq!((current, *next), (None, v(1, 0, 1_000)));
            Err::<Edit<()>, _>("no")
        })
        .await
        .unwrap();
    assert_eq!(refused.unwrap_err(), "no");
    assert_eq!(db.campaign(&cid()).await.unwrap(), None);
    assert!(db.campaign_versions(&cid()).await.unwrap().is_empty());

    db.store_campaign(&doc("一"), 1_000).await.unwrap();
    let entry = |detail: &str| AuditEntry {
        at_ms: 2_000,
        username: "office".into(),
        action: "questions_imported".into(),
        campaign_id: Some(cid()),
        detail: detail.into(),
    };
    let stored = db
        .edit_campaign(&cid(), 2_000, |current, next| {
            let mut d = current.expect("the stored campaign");
            assert_eq!(d, doc("一"));
            d.questions.push(serde_json::from_value(question("law-2", "新题？")).unwrap());
            Ok::<_, String>(Edit { doc: d, audit: Some(entry(&format!("version {}", next.version))), output: 7 })
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.outcome, stored.version.version, stored.output), (PutOutcome::Updated, 2, 7));
    assert_eq!(db.campaign(&cid()).await.unwrap().unwrap().questions.len(), 2);
    let log = db.audit_entries(Some(&cid()), 10).await.unwrap();
    assert_eq!(log.iter().map(|r| r.entry.clone()).collect::<Vec<_>>(), [entry("version 2")]);

    // Refused after reading: nothing changes, no entry.
    let refused = db
        .edit_campaign(&cid(), 3_000, |current, _| {
            assert_eq!(current.unwrap().questions.len(), 2);
            Err::<Edit<()>, _>("invalid")
        })
        .await
        .unwrap();
    assert!(refused.is_err());
    assert_eq!(db.campaign_versions(&cid()).await.unwrap().len(), 2);
    assert_eq!(db.audit_entries(Some(&cid()), 10).await.unwrap().len(), 1);
    // A document for another campaign is refused.
    let mut other = doc("一");
    other.id = CampaignId::parse("other").unwrap();
    let e = db.edit_campaign(&cid(), 3_000, |_, _| Ok::<_, ()>(Edit { doc: other, audit: None, output: () })).await;
    assert!(matches!(e, Err(baton_db::DbError::Invalid(_))), "{e:?}");
    assert_eq!(db.campaign_versions(&cid()).await.unwrap().len(), 2);
}

async fn concurrent_edits_lose_nothing(db: &Db, _url: &str) {
    db.store_campaign(&doc("一"), 1_000).await.unwrap();
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                db.edit_campaign(&cid(), 2_000, move |current, _| {
                    let mut d = current.unwrap();
                    let q: Question =
                        serde_json::from_value(question(&format!("add-{i}"), &format!("第{i}题？"))).unwrap();
                    d.questions.push(q);
                    Ok::<_, ()>(Edit { doc: d, audit: None, output: () })
                })
                .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap().unwrap();
    }
    let d = db.campaign(&cid()).await.unwrap().unwrap();
    assert_eq!(d.questions.len(), 7, "every edit read the one before: {:?}", d.questions);
    let versions = db.campaign_versions(&cid()).await.unwrap();
    assert_eq!(versions.iter().map(|v| v.version).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6, 7]);
}

async fn a_campaign_stored_before_versions_keeps_its_document_as_version_one(db: &Db, url: &str) {
    db.store_campaign(&doc("旧"), 1_000).await.unwrap();
    // As a database migrated from before versions were kept: the rows, no version.
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query("DELETE FROM campaign_versions").execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    assert!(db.campaign_versions(&cid()).await.unwrap().is_empty());

    let stored = db.store_campaign(&doc("新"), 9_000).await.unwrap();
    assert_eq!(stored.version, v(2, 9_000 + SWITCH_DELAY_MS, 9_000));
    let versions = db.campaign_versions(&cid()).await.unwrap();
    assert_eq!(versions, [v(1, 0, 9_000), stored.version]);
    assert_eq!(db.campaign_version(&cid(), 1).await.unwrap(), Some(doc("旧")));
    assert_eq!(db.campaign_version(&cid(), 2).await.unwrap(), Some(doc("新")));
}
