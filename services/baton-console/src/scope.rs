//! Scope, enforced in one place. Every console handler takes the caller as an [`Organizer`]
//! (the extractor: a valid organizer bearer token, `401` otherwise — a participant token
//! included) and calls [`authorize`] with the campaign and the region it was asked about before
//! reading anything. `authorize` answers `403 forbidden` for a campaign or region outside the
//! caller's scope and otherwise returns the [`EffectiveScope`]: the campaign and the region
//! filter every figure of the answer must apply (a region-limited viewer's region, or the
//! drill-down region asked for when it lies within the caller's scope). Writes ask
//! [`Console::writable`], which adds the rule for changing campaigns to the same scope.

use crate::Console;
use crate::account::Role;
use crate::tokens::Organizer;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use baton_core::campaign::Campaign;
use baton_core::ids::{CampaignId, PlaceId};
use baton_http::Problem;
use baton_http::auth::bearer;
use std::future::{Ready, ready};
use std::sync::Arc;

/// What a console answer may show: one campaign, and within it everything (`region: None`) or
/// only the subtree of `region`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveScope {
    pub campaign: CampaignId,
    pub region: Option<PlaceId>,
}

fn forbidden(detail: &str) -> Problem {
    Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
}

/// Decides whether `who` may see `campaign` (whose place tree is `tree`), optionally drilled
/// down to `region`, and what it may see there. The one scope check of the console:
/// - an admin sees every campaign, any region of it;
/// - an organizer or viewer only its own campaign (`403` for any other);
/// - a viewer limited to a region sees that region's subtree: no region asked gives its
///   region, a region inside the subtree gives that one, anything else is `403` — as is every
///   request when its region is no longer a place of the campaign.
///
/// A region that is not a place of the campaign is `400 invalid_region`.
pub fn authorize(
    who: &Organizer,
    campaign: &CampaignId,
    region: Option<&PlaceId>,
    tree: &Campaign,
) -> Result<EffectiveScope, Problem> {
    if tree.id() != campaign {
        return Err(Problem::internal(format!(
            "authorize: asked about campaign {campaign} with the tree of {}",
            tree.id()
        )));
    }
    if who.role != Role::Admin && who.scope.campaign.as_ref() != Some(campaign) {
        return Err(forbidden("This account may not see this campaign."));
    }
    if let Some(r) = region
        && tree.place(r).is_none()
    {
        return Err(Problem::bad_request("invalid_region", "region_id is not a place of this campaign."));
    }
    let region = match (&who.scope.region, region) {
        (None, asked) => asked.cloned(),
        (Some(own), _) if tree.place(own).is_none() => {
            return Err(forbidden(
                "This account's region is no longer part of the campaign. Ask an administrator to update the account.",
            ));
        }
        (Some(own), None) => Some(own.clone()),
        (Some(own), Some(asked)) if tree.is_within(asked, own) => Some(asked.clone()),
        (Some(_), Some(_)) => {
            return Err(forbidden("This account may only see its own region and the places under it."));
        }
    };
    Ok(EffectiveScope { campaign: campaign.clone(), region })
}

/// A campaign as one console request may see it: the validated campaign and the scope
/// [`authorize`] granted. Every console handler starts from [`Console::scoped`].
#[derive(Debug, Clone)]
pub struct Scoped {
    pub campaign: Arc<Campaign>,
    pub scope: EffectiveScope,
}

impl Scoped {
    /// The region every figure is limited to, if any.
    pub fn region(&self) -> Option<&PlaceId> {
        self.scope.region.as_ref()
    }

    /// Whether a participant at `place` is within the scope (every place is, without a region).
    /// A place the campaign no longer has is outside any region.
    pub fn covers(&self, place: &PlaceId) -> bool {
        match &self.scope.region {
            None => true,
            Some(r) => self.campaign.is_within(place, r),
        }
    }

    /// The places of the scope (the region and everything under it), or `None` for the whole
    /// campaign, where places the campaign no longer has count too.
    pub fn places(&self) -> Option<Vec<PlaceId>> {
        let region = self.scope.region.as_ref()?;
        let mut places: Vec<PlaceId> =
            self.campaign.places().filter(|p| self.campaign.is_within(&p.id, region)).map(|p| p.id.clone()).collect();
        places.sort();
        Some(places)
    }
}

impl Console {
    /// The campaign `campaign` (a path segment, as sent) as `who` may see it, drilled down to
    /// `region` if asked: `403 forbidden` outside the caller's scope (before anything about the
    /// campaign is revealed), `404 campaign_not_found` for an admin asking about a campaign that
    /// does not exist, `400 invalid_region` for a region the campaign does not have.
    pub fn scoped(&self, who: &Organizer, campaign: &str, region: Option<&str>) -> Result<Scoped, Problem> {
        if who.role != Role::Admin && who.scope.campaign.as_ref().map(CampaignId::as_str) != Some(campaign) {
            return Err(forbidden("This account may not see this campaign."));
        }
        let not_found = || Problem::not_found("campaign_not_found", "There is no such campaign.");
        let id = CampaignId::parse(campaign).map_err(|_| not_found())?;
        let tree = self.campaigns.get(&id).ok_or_else(not_found)?;
        let region = region
            .map(|r| {
                PlaceId::parse(r)
                    .map_err(|_| Problem::bad_request("invalid_region", "region_id is not a place of this campaign."))
            })
            .transpose()?;
        let scope = authorize(who, &id, region.as_ref(), &tree)?;
        Ok(Scoped { campaign: tree, scope })
    }
}

/// What a console write may change ([`Console::writable`]).
#[derive(Debug, Clone)]
pub enum Writable {
    /// A campaign this process knows, which the caller may change.
    Existing(Scoped),
    /// A campaign this process does not know, which the caller (an admin) may create.
    New(CampaignId),
}

impl Console {
    /// Whether `who` may change `campaign` (a path segment, as sent), decided with the read
    /// scope of [`Console::scoped`] plus the rule for writes: a viewer changes nothing
    /// (`403 forbidden`, whatever the campaign); an organizer changes only its own campaign
    /// (`403` for any other); an admin changes any campaign and may create one that does not
    /// exist ([`Writable::New`]; `400 invalid_id` for a segment that cannot be a campaign id).
    pub fn writable(&self, who: &Organizer, campaign: &str) -> Result<Writable, Problem> {
        if who.role == Role::Viewer {
            return Err(forbidden(
                "This account may only look: changing a campaign takes an organizer or an administrator.",
            ));
        }
        match self.scoped(who, campaign, None) {
            Ok(s) => Ok(Writable::Existing(s)),
            Err(p) if p.status == StatusCode::NOT_FOUND && Self::may_create(who).is_ok() => {
                Ok(Writable::New(CampaignId::parse(campaign)?))
            }
            Err(p) => Err(p),
        }
    }

    /// Whether `who` may create a campaign: only an admin may (`403 forbidden` otherwise).
    /// Asked again when the write finds that its campaign does not exist after all.
    pub fn may_create(who: &Organizer) -> Result<(), Problem> {
        match who.role {
            Role::Admin => Ok(()),
            Role::Organizer | Role::Viewer => Err(forbidden("Only an administrator may create a campaign.")),
        }
    }
}

impl Organizer {
    /// The caller of a console request, from `Authorization: Bearer <organizer token>`.
    pub fn from_req(req: &HttpRequest) -> Result<Self, Problem> {
        let console =
            req.app_data::<web::Data<Console>>().ok_or_else(|| Problem::internal("Console missing from app data"))?;
        let token = bearer(req).ok_or_else(|| {
            Problem::unauthorized(
                "This call needs an organizer token from /api/v1/console/login (Authorization: Bearer …).",
            )
        })?;
        console.tokens.verify(token, console.clock.now_ms().div_euclid(1000))
    }
}

impl FromRequest for Organizer {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        ready(Self::from_req(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{Scope, Username};

    /// city → (north → north-1, north-2), (south → south-1).
    fn tree(id: &str) -> Campaign {
        Campaign::from_doc(crate::test_campaign(id)).expect("the test campaign validates")
    }

    fn cid(s: &str) -> CampaignId {
        CampaignId::parse(s).unwrap()
    }

    fn pid(s: &str) -> PlaceId {
        PlaceId::parse(s).unwrap()
    }

    fn who(role: Role, campaign: Option<&str>, region: Option<&str>) -> Organizer {
        Organizer {
            username: Username::parse("someone").unwrap(),
            role,
            scope: Scope::for_role(role, campaign.map(cid), region.map(pid)).unwrap(),
            expires_at: 0,
        }
    }

    /// Every role × own or other campaign × no region, a region inside or outside the viewer's
    /// subtree (and the viewer's own region, an ancestor of it, a sibling, a deeper place).
    #[test]
    fn the_scope_matrix() {
        let demo = tree("demo");
        let other = tree("other");
        let admin = who(Role::Admin, None, None);
        let organizer = who(Role::Organizer, Some("demo"), None);
        let viewer = who(Role::Viewer, Some("demo"), None);
        let north = who(Role::Viewer, Some("demo"), Some("north"));

        let ok = |w: &Organizer, c: &Campaign, r: Option<&str>, want: Option<&str>| {
            let got = authorize(w, c.id(), r.map(pid).as_ref(), c)
                .unwrap_or_else(|p| panic!("{:?} on {} {r:?}: {p}", w.role, c.id()));
            assert_eq!(got, EffectiveScope { campaign: c.id().clone(), region: want.map(pid) }, "{:?} {r:?}", w.role);
        };
        let denied = |w: &Organizer, c: &Campaign, r: Option<&str>| {
            let p = authorize(w, c.id(), r.map(pid).as_ref(), c).expect_err("outside the scope");
            assert_eq!(
                (p.status.as_u16(), p.code),
                (403, "forbidden"),
                "{:?} {:?} on {} {r:?}",
                w.role,
                w.scope,
                c.id()
            );
        };

        // Admin: every campaign, every region, no filter unless asked.
        for c in [&demo, &other] {
            ok(&admin, c, None, None);
            ok(&admin, c, Some("city"), Some("city"));
            ok(&admin, c, Some("north-1"), Some("north-1"));
            ok(&admin, c, Some("south"), Some("south"));
        }
        // Organizer and campaign-wide viewer: their campaign, any region of it; no other campaign.
        for w in [&organizer, &viewer] {
            ok(w, &demo, None, None);
            ok(w, &demo, Some("north"), Some("north"));
            ok(w, &demo, Some("south-1"), Some("south-1"));
            denied(w, &other, None);
            denied(w, &other, Some("north"));
        }
        // Region-limited viewer: its subtree only, and its region when none is asked for.
        ok(&north, &demo, None, Some("north"));
        ok(&north, &demo, Some("north"), Some("north"));
        ok(&north, &demo, Some("north-1"), Some("north-1"));
        ok(&north, &demo, Some("north-2"), Some("north-2"));
        denied(&north, &demo, Some("city"));
        denied(&north, &demo, Some("south"));
        denied(&north, &demo, Some("south-1"));
        denied(&north, &other, None);
        denied(&north, &other, Some("north"));
        denied(&north, &other, Some("north-1"));
    }

    #[test]
    fn unknown_regions_are_bad_requests_inside_the_campaign() {
        let demo = tree("demo");
        for w in [who(Role::Admin, None, None), who(Role::Viewer, Some("demo"), Some("north"))] {
            let p = authorize(&w, demo.id(), Some(&pid("atlantis")), &demo).unwrap_err();
            assert_eq!((p.status.as_u16(), p.code), (400, "invalid_region"));
        }
        // Another campaign's caller learns nothing about this one's places.
        let p = authorize(&who(Role::Organizer, Some("other"), None), demo.id(), Some(&pid("atlantis")), &demo)
            .unwrap_err();
        assert_eq!(p.code, "forbidden");
    }

    #[test]
    fn a_viewer_whose_region_left_the_campaign_sees_nothing() {
        let demo = tree("demo");
        let gone = who(Role::Viewer, Some("demo"), Some("east"));
        for r in [None, Some("city"), Some("north")] {
            let p = authorize(&gone, demo.id(), r.map(pid).as_ref(), &demo).unwrap_err();
            assert_eq!(p.code, "forbidden", "{r:?}");
        }
    }

    #[test]
    fn the_tree_must_be_the_campaign_asked_about() {
        let p = authorize(&who(Role::Admin, None, None), &cid("demo"), None, &tree("other")).unwrap_err();
        assert_eq!(p.status.as_u16(), 500);
    }
}
