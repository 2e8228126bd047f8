//! Organizer accounts and the audit log on both engines (the `tests/storage.rs` pattern):
//! accounts are created and replaced whole (role, scope, hash), keep their creation time and
//! disabled flag, need a stored campaign, and cannot pair a role with a scope it does not
//! allow; the audit log appends in order and reads newest first, per campaign or all.

#[macro_use]
mod common;

use baton_core::campaign::CampaignDoc;
use baton_core::ids::{CampaignId, PlaceId};
use baton_db::organizers::{AuditEntry, NewOrganizer};
use baton_db::{Db, DbError, PutOutcome};
use serde_json::json;

on_both_engines!(
    accounts_round_trip,
    put_replaces_role_scope_and_hash,
    accounts_need_their_campaign,
    role_and_scope_must_agree,
    accounts_can_be_disabled,
    audit_log_appends_and_reads_newest_first,
);

/// A campaign with a city, a county and a township.
fn campaign(id: &str) -> CampaignDoc {
    serde_json::from_value(json!({
        "format": 1, "id": id, "title": "接力", "description": "",
        "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-10T23:59:59.999Z",
        "rules": {"questions_per_attempt": 1, "seconds_per_question": 20, "attempts_per_day": 3,
                  "time_zone": "Asia/Shanghai", "points_per_question": 10},
        "categories": [{"id": "law", "name": "法律"}],
        "regions": [{"id": "city", "name": "市", "level": "city", "children": [
            {"id": "north", "name": "北区", "level": "county", "children": [
                {"id": "north-1", "name": "一街道", "level": "township"}]}]}],
        "units": [],
        "questions": [
            {"id": "law-1", "kind": "single", "category": "law", "difficulty": 1, "stem": "毒品是指？",
             "options": ["鸦片等", "烟草"], "answer": [0], "explanation": "刑法。", "source": "刑法"}]
    }))
    .expect("the campaign parses")
}

fn cid(s: &str) -> CampaignId {
    CampaignId::parse(s).unwrap()
}

fn place(s: &str) -> PlaceId {
    PlaceId::parse(s).unwrap()
}

fn account(username: &str, role: &str, campaign: Option<&str>, region: Option<&str>) -> NewOrganizer {
    NewOrganizer {
        username: username.into(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$hash-of-{username}"),
        role: role.into(),
        campaign_id: campaign.map(cid),
        region_id: region.map(place),
        created_at_ms: 1_000,
    }
}

fn entry(at_ms: i64, username: &str, action: &str, campaign: Option<&str>) -> AuditEntry {
    AuditEntry {
        at_ms,
        username: username.into(),
        action: action.into(),
        campaign_id: campaign.map(cid),
        detail: format!("{action} by {username}"),
    }
}

async fn accounts_round_trip(db: &Db, _url: &str) {
    db.put_campaign(&campaign("demo")).await.unwrap();
    assert_eq!(db.organizer("root").await.unwrap(), None);
    for a in [
        account("root", "admin", None, None),
        account("office", "organizer", Some("demo"), None),
        account("north", "viewer", Some("demo"), Some("north")),
        account("everyone", "viewer", Some("demo"), None),
    ] {
        assert_eq!(db.put_organizer(&a).await.unwrap(), PutOutcome::Created);
        let row = db.organizer(&a.username).await.unwrap().expect("stored");
        assert_eq!(row.username, a.username);
        assert_eq!(row.password_hash, a.password_hash);
        assert_eq!(row.role, a.role);
        assert_eq!(row.campaign_id, a.campaign_id);
        assert_eq!(row.region_id, a.region_id);
        assert_eq!(row.created_at_ms, 1_000);
        assert!(!row.disabled);
        // Neither the hash nor anything derived from it shows in logs.
        assert!(!format!("{row:?}{a:?}").contains("hash-of"), "{row:?}");
    }
    // Usernames are matched exactly: the console normalizes them before they get here.
    assert_eq!(db.organizer("ROOT").await.unwrap(), None);
}

async fn put_replaces_role_scope_and_hash(db: &Db, _url: &str) {
    db.put_campaign(&campaign("demo")).await.unwrap();
    db.put_campaign(&campaign("other")).await.unwrap();
    db.put_organizer(&account("amy", "viewer", Some("demo"), Some("north-1"))).await.unwrap();
    db.set_organizer_disabled("amy", true).await.unwrap();

    let mut replaced = account("amy", "organizer", Some("other"), None);
    replaced.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$new".into();
    replaced.created_at_ms = 9_999;
    assert_eq!(db.put_organizer(&replaced).await.unwrap(), PutOutcome::Updated);
    let row = db.organizer("amy").await.unwrap().unwrap();
    assert_eq!((row.role.as_str(), row.campaign_id, row.region_id), ("organizer", Some(cid("other")), None));
    assert_eq!(row.password_hash, replaced.password_hash);
    // Creation time and the disabled flag are not the replacement's to change.
    assert_eq!(row.created_at_ms, 1_000);
    assert!(row.disabled);

    // Widening to admin clears the scope.
    assert_eq!(db.put_organizer(&account("amy", "admin", None, None)).await.unwrap(), PutOutcome::Updated);
    let row = db.organizer("amy").await.unwrap().unwrap();
    assert_eq!((row.role.as_str(), row.campaign_id, row.region_id), ("admin", None, None));
}

async fn accounts_need_their_campaign(db: &Db, _url: &str) {
    let err = db.put_organizer(&account("bob", "organizer", Some("ghost"), None)).await.unwrap_err();
    assert!(matches!(&err, DbError::UnknownCampaign(c) if c.as_str() == "ghost"), "{err}");
    assert!(err.to_string().contains("baton campaign import"), "{err}");
    assert_eq!(db.organizer("bob").await.unwrap(), None);
}

async fn role_and_scope_must_agree(db: &Db, _url: &str) {
    db.put_campaign(&campaign("demo")).await.unwrap();
    for bad in [
        account("x", "admin", Some("demo"), None),
        account("x", "admin", None, Some("north")),
        account("x", "organizer", None, None),
        account("x", "organizer", Some("demo"), Some("north")),
        account("x", "viewer", None, None),
        account("x", "viewer", None, Some("north")),
        account("x", "superuser", None, None),
    ] {
        let err = db.put_organizer(&bad).await.unwrap_err();
        assert!(matches!(err, DbError::Invalid(_)), "{bad:?}: {err}");
    }
    assert_eq!(db.organizer("x").await.unwrap(), None);
}

async fn accounts_can_be_disabled(db: &Db, _url: &str) {
    db.put_organizer(&account("root", "admin", None, None)).await.unwrap();
    assert!(db.set_organizer_disabled("root", true).await.unwrap());
    assert!(db.organizer("root").await.unwrap().unwrap().disabled);
    assert!(db.set_organizer_disabled("root", false).await.unwrap());
    assert!(!db.organizer("root").await.unwrap().unwrap().disabled);
    assert!(!db.set_organizer_disabled("nobody", true).await.unwrap());
}

async fn audit_log_appends_and_reads_newest_first(db: &Db, _url: &str) {
    assert!(db.audit_entries(None, 10).await.unwrap().is_empty());
    let entries = [
        entry(10, "root", "login", None),
        entry(20, "office", "login", Some("demo")),
        entry(30, "who?\u{7}", "login_failed", None),
        entry(40, "north", "login", Some("demo")),
        entry(50, "other", "login", Some("other")),
    ];
    let mut ids = Vec::new();
    for e in &entries {
        ids.push(db.audit(e).await.unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids grow: {ids:?}");

    let all = db.audit_entries(None, 10).await.unwrap();
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), ids.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(
        all.iter().map(|r| r.entry.clone()).collect::<Vec<_>>(),
        entries.iter().rev().cloned().collect::<Vec<_>>()
    );

    let latest = db.audit_entries(None, 2).await.unwrap();
    assert_eq!(latest.iter().map(|r| r.entry.at_ms).collect::<Vec<_>>(), [50, 40]);

    let demo = db.audit_entries(Some(&cid("demo")), 10).await.unwrap();
    assert_eq!(demo.iter().map(|r| r.entry.username.as_str()).collect::<Vec<_>>(), ["north", "office"]);
    assert!(db.audit_entries(Some(&cid("nothing")), 10).await.unwrap().is_empty());
    assert!(db.audit_entries(None, 0).await.unwrap().is_empty());
}
