-- Baton's system of record, first version. The same tables on PostgreSQL and SQLite: TEXT ids,
-- BIGINT epoch-millisecond times, TEXT JSON where a list is needed, so the sqlx `Any` driver reads
-- both the same way.

CREATE TABLE campaigns (
    id              TEXT    NOT NULL PRIMARY KEY,
    format          INTEGER NOT NULL,
    title           TEXT    NOT NULL,
    description     TEXT    NOT NULL,
    starts_at_ms    BIGINT  NOT NULL,
    ends_at_ms      BIGINT  NOT NULL,
    rules_json      TEXT    NOT NULL,
    categories_json TEXT    NOT NULL,
    updated_at_ms   BIGINT  NOT NULL
);

-- The place tree, flattened in pre-order: `position` orders the whole tree, so children keep
-- their order under each parent.
CREATE TABLE places (
    campaign_id TEXT    NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    parent_id   TEXT    NULL,
    name        TEXT    NOT NULL,
    level       TEXT    NOT NULL,
    target      BIGINT  NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, id)
);

CREATE TABLE units (
    campaign_id TEXT    NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    id          TEXT    NOT NULL,
    region_id   TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    target      BIGINT  NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, id)
);

CREATE TABLE questions (
    campaign_id  TEXT    NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    id           TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    category     TEXT    NOT NULL,
    difficulty   INTEGER NOT NULL,
    stem         TEXT    NOT NULL,
    options_json TEXT    NOT NULL,
    answer_json  TEXT    NOT NULL,
    explanation  TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    position     INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, id)
);

-- No foreign keys to places or units: a campaign update may drop a place that participants
-- joined under, and their history must stay. No cascade either: deleting a campaign that has
-- participants is refused.
CREATE TABLE participants (
    campaign_id  TEXT   NOT NULL REFERENCES campaigns (id),
    id           TEXT   NOT NULL,
    region_id    TEXT   NOT NULL,
    unit_id      TEXT   NULL,
    nickname     TEXT   NOT NULL,
    inviter_id   TEXT   NULL,
    joined_at_ms BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, id)
);
CREATE INDEX participants_by_region ON participants (campaign_id, region_id);
-- Rebuilding hot state pages through a campaign's participants in join order.
CREATE INDEX participants_by_join ON participants (campaign_id, joined_at_ms, id);

CREATE TABLE signing_keys (
    kid           TEXT   NOT NULL PRIMARY KEY,
    secret        TEXT   NOT NULL,
    created_at_ms BIGINT NOT NULL
);
