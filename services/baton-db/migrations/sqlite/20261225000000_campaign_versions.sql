-- Every version of a campaign document, kept so that an attempt is shown, judged and explained
-- by the version it was drawn from while organizers edit the question bank.
--
-- A version is the whole document as JSON (`doc_json`, the `baton campaign import` format) and
-- is never changed once written. `valid_from_ms` is when attempts start drawing from it: the
-- first version of a campaign from 0 (always), every later one a fixed delay after it was
-- written, longer than the interval at which processes reload campaigns, so every process knows
-- a version before any attempt draws from it. An attempt uses the version in effect when it
-- started. `campaigns`, `places`, `units` and `questions` keep holding the newest version.
-- Campaigns stored before this table existed get their first row (version 1, from 0) when they
-- are next written.
CREATE TABLE campaign_versions (
    campaign_id   TEXT   NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    version       BIGINT NOT NULL,
    valid_from_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    doc_json      TEXT   NOT NULL,
    PRIMARY KEY (campaign_id, version)
);
