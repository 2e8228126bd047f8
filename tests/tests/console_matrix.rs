//! Scope, checked everywhere at once: every console endpoint × every kind of caller × its own
//! campaign or another, the caller's region or a region outside it. The endpoints come from the
//! OpenAPI document the app serves, so a console endpoint added without a row in [`ENDPOINTS`]
//! fails this test until someone says who may call it.

use baton_core::campaign::Campaign;
use baton_e2e::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Any organizer account (not about a campaign).
    Account,
    /// Any account whose scope holds the campaign (and the region, if one is asked for).
    Read,
    /// Admins, and the organizer of the campaign; never viewers.
    Write,
}

/// One console endpoint as the matrix calls it.
struct Endpoint {
    method: &'static str,
    /// As in the OpenAPI document.
    template: &'static str,
    /// Query parameters a valid call needs.
    query: &'static str,
    /// Whether it takes `region_id`.
    regional: bool,
    access: Access,
}

const ENDPOINTS: &[Endpoint] = &[
    Endpoint { method: "get", template: "/api/v1/console/me", query: "", regional: false, access: Access::Account },
    Endpoint {
        method: "get",
        template: "/api/v1/console/campaigns/{cid}/overview",
        query: "",
        regional: true,
        access: Access::Read,
    },
    Endpoint {
        method: "get",
        template: "/api/v1/console/campaigns/{cid}/live",
        query: "",
        regional: true,
        access: Access::Read,
    },
    Endpoint {
        method: "get",
        template: "/api/v1/console/campaigns/{cid}/timeseries",
        query: "metric=joins&step=3600",
        regional: true,
        access: Access::Read,
    },
    Endpoint {
        method: "get",
        template: "/api/v1/console/campaigns/{cid}/breakdown",
        query: "by=unit",
        regional: true,
        access: Access::Read,
    },
    Endpoint {
        method: "get",
        template: "/api/v1/console/campaigns/{cid}/questions",
        query: "",
        regional: true,
        access: Access::Read,
    },
    Endpoint {
        method: "get",
        template: "/api/v1/console/campaigns/{cid}/relay",
        query: "",
        regional: true,
        access: Access::Read,
    },
    Endpoint {
        method: "get",
        template: "/api/v1/console/campaigns/{cid}/exports/{file}",
        query: "",
        regional: true,
        access: Access::Read,
    },
    Endpoint {
        method: "put",
        template: "/api/v1/console/campaigns/{cid}",
        query: "",
        regional: false,
        access: Access::Write,
    },
    Endpoint {
        method: "post",
        template: "/api/v1/console/campaigns/{cid}/questions",
        query: "",
        regional: false,
        access: Access::Write,
    },
    Endpoint {
        method: "get",
        template: "/api/v1/console/campaigns/{cid}/flags",
        query: "",
        regional: true,
        access: Access::Read,
    },
    Endpoint {
        method: "post",
        template: "/api/v1/console/campaigns/{cid}/participants/{pid}/hide",
        query: "",
        regional: false,
        access: Access::Write,
    },
    Endpoint {
        method: "post",
        template: "/api/v1/console/campaigns/{cid}/participants/{pid}/unhide",
        query: "",
        regional: false,
        access: Access::Write,
    },
];

/// The device of the participant each campaign has (`{pid}` in a path is its id).
const SOMEONE: &str = "device-matrix-1";

/// A caller: its token and what it may see.
struct Caller {
    name: &'static str,
    token: String,
    admin: bool,
    campaign: Option<&'static str>,
    region: Option<&'static str>,
    writer: bool,
}

impl Caller {
    fn may(&self, access: Access, campaign: &str, region: Option<&str>) -> bool {
        let campaign_ok = self.admin || self.campaign == Some(campaign);
        match access {
            Access::Account => true,
            Access::Write => self.writer && campaign_ok,
            // The only region-limited caller is hetang's: liling lies outside it.
            Access::Read => campaign_ok && !(self.region.is_some() && region == Some("liling")),
        }
    }
}

/// The demo campaign's document, as `other` when asked.
fn doc(app: &TestApp, id: &str) -> Value {
    let demo = app.services.campaigns.get(&baton_core::ids::CampaignId::parse("demo").unwrap()).unwrap();
    let mut v = serde_json::to_value(demo.doc()).unwrap();
    v["id"] = id.into();
    v
}

/// The request body of a write to `campaign`.
fn body(app: &TestApp, e: &Endpoint, campaign: &str) -> Vec<u8> {
    match (e.method, e.template) {
        ("put", _) => doc(app, campaign).to_string().into_bytes(),
        ("post", t) if t.ends_with("/hide") || t.ends_with("/unhide") => Vec::new(),
        ("post", _) => {
            let mut q = doc(app, campaign)["questions"][0].clone();
            q["id"] = "matrix-1".into();
            q["stem"] = format!("{}（矩阵）", q["stem"].as_str().unwrap()).into();
            json!([q]).to_string().into_bytes()
        }
        _ => Vec::new(),
    }
}

fn path(e: &Endpoint, campaign: &str, region: Option<&str>) -> String {
    let mut p = e.template.replace("{cid}", campaign).replace("{file}", "participants.csv");
    if let Ok(c) = baton_core::ids::CampaignId::parse(campaign) {
        p = p.replace("{pid}", baton_core::ids::ParticipantId::for_device(&c, SOMEONE).as_str());
    }
    let mut query: Vec<String> = Vec::new();
    if !e.query.is_empty() {
        query.push(e.query.to_owned());
    }
    if let Some(r) = region {
        query.push(format!("region_id={r}"));
    }
    if !query.is_empty() {
        p.push('?');
        p.push_str(&query.join("&"));
    }
    p
}

/// The status of one call (a live stream: its status, then it is dropped).
async fn status(app: &TestApp, e: &Endpoint, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    if let Some(token) = token.filter(|_| e.template.ends_with("/live")) {
        let feed = app.sse(path, token, None).await;
        if feed.status == 200 {
            return (200, String::new());
        }
    }
    let r = app.send(&e.method.to_ascii_uppercase(), path, "application/json", body, token).await;
    (r.status, r.text())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_endpoint_every_role_in_and_out_of_scope() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;

    // Every console endpoint the app documents has a row here, and every row is served.
    let doc_json = app.get("/api/v1/openapi.json", None).await.json();
    let documented: BTreeSet<(String, String)> = doc_json["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with("/api/v1/console/") && p.as_str() != "/api/v1/console/login")
        .flat_map(|(p, ops)| ops.as_object().unwrap().keys().map(move |m| (p.clone(), m.clone())))
        .collect();
    let covered: BTreeSet<(String, String)> =
        ENDPOINTS.iter().map(|e| (e.template.to_owned(), e.method.to_owned())).collect();
    assert_eq!(
        documented, covered,
        "every console endpoint needs a row in ENDPOINTS saying who may call it (left: documented, right: covered)"
    );

    // A second campaign, and someone to play in each region.
    let other = doc(&app, "other");
    let other_doc: baton_core::campaign::CampaignDoc = serde_json::from_value(other).unwrap();
    app.services.db.put_campaign(&other_doc).await.unwrap();
    app.services.campaigns.put(Campaign::from_doc(other_doc).unwrap());
    let someone = app.join(SOMEONE, "矩阵").await;
    app.play(&someone, 5, 2000).await;
    let join = json!({"device_id": SOMEONE, "region_id": "hetang-yuetang", "nickname": "矩阵"});
    assert_eq!(app.post("/api/v1/campaigns/other/participants", &join, None).await.status, 201);

    let callers = vec![
        Caller {
            name: "admin",
            token: app.organizer("m-admin", "admin", None, None).await,
            admin: true,
            campaign: None,
            region: None,
            writer: true,
        },
        Caller {
            name: "organizer of demo",
            token: app.organizer("m-organizer", "organizer", Some("demo"), None).await,
            admin: false,
            campaign: Some("demo"),
            region: None,
            writer: true,
        },
        Caller {
            name: "viewer of demo",
            token: app.organizer("m-viewer", "viewer", Some("demo"), None).await,
            admin: false,
            campaign: Some("demo"),
            region: None,
            writer: false,
        },
        Caller {
            name: "viewer of demo's hetang",
            token: app.organizer("m-hetang", "viewer", Some("demo"), Some("hetang")).await,
            admin: false,
            campaign: Some("demo"),
            region: Some("hetang"),
            writer: false,
        },
        Caller {
            name: "organizer of other",
            token: app.organizer("m-other", "organizer", Some("other"), None).await,
            admin: false,
            campaign: Some("other"),
            region: None,
            writer: true,
        },
    ];

    let mut checked = 0;
    let mut wrong = Vec::new();
    for e in ENDPOINTS {
        let campaigns: &[&str] = if e.access == Access::Account { &[""] } else { &["demo", "other"] };
        for &campaign in campaigns {
            let regions: &[Option<&str>] =
                if e.regional { &[None, Some("hetang-yuetang"), Some("liling")] } else { &[None] };
            for &region in regions {
                let p = path(e, campaign, region);
                let b = body(&app, e, campaign);
                // Without a token, or with a participant's: 401 whatever the scope.
                for token in [None, Some(someone.token.as_str())] {
                    let (s, text) = status(&app, e, &p, token, &b).await;
                    if s != 401 {
                        wrong.push(format!("{} {p} with {token:?}: {s} {text}", e.method));
                    }
                }
                for c in &callers {
                    let (s, text) = status(&app, e, &p, Some(&c.token), &b).await;
                    let allowed = c.may(e.access, campaign, region);
                    let ok = if allowed { (200..300).contains(&s) } else { s == 403 };
                    if !ok {
                        wrong.push(format!(
                            "{} {p} as {}: {s} (expected {}) {}",
                            e.method,
                            c.name,
                            if allowed { "2xx" } else { "403" },
                            text.chars().take(200).collect::<String>()
                        ));
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {checked} calls answered wrong:\n{}", wrong.len(), wrong.join("\n"));
    assert!(checked >= ENDPOINTS.len() * callers.len(), "{checked}");
}
