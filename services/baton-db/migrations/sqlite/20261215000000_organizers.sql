-- The organizer console's accounts and its audit log.
--
-- An account's role decides its scope, and the CHECK holds the two together: an admin sees
-- every campaign (no campaign, no region); an organizer runs one campaign (no region); a viewer
-- sees one campaign, optionally one region (a place of that campaign) and everything under it.
-- The region is not a foreign key to places: a campaign update may drop a place, and the
-- console then refuses that viewer rather than losing the account. `password_hash` is an
-- argon2id PHC string; `disabled` is INTEGER 0/1.
CREATE TABLE organizers (
    username      TEXT    NOT NULL PRIMARY KEY,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    campaign_id   TEXT    NULL REFERENCES campaigns (id),
    region_id     TEXT    NULL,
    created_at_ms BIGINT  NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    CHECK (
        (role = 'admin' AND campaign_id IS NULL AND region_id IS NULL)
        OR (role = 'organizer' AND campaign_id IS NOT NULL AND region_id IS NULL)
        OR (role = 'viewer' AND campaign_id IS NOT NULL)
    )
);

-- Who did what in the console, newest last (`id` grows). `username` is whoever acted or tried
-- to (a failed login's name as typed, truncated); `campaign_id` is the campaign it concerned, if
-- any. No foreign keys: the log outlives accounts and campaigns.
CREATE TABLE audit_log (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    at_ms       BIGINT  NOT NULL,
    username    TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    campaign_id TEXT    NULL,
    detail      TEXT    NOT NULL
);
CREATE INDEX audit_log_by_campaign ON audit_log (campaign_id, id);
