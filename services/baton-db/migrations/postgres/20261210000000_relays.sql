-- Relays: the share chains. A participant's own relay code, its depth in its chain (0 for an
-- origin; inviter_id already says who passed the baton), and whether its join has been counted
-- in its ancestors' totals (`relay_rolled`, INTEGER 0/1: set by the roll-up in the transaction
-- that adds the join to `relay_counts`, so every join is counted exactly once).
--
-- Adding NOT NULL columns with a constant default rewrites no rows on PostgreSQL 11+.
ALTER TABLE participants ADD COLUMN relay_code TEXT NULL;
ALTER TABLE participants ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE participants ADD COLUMN relay_rolled INTEGER NOT NULL DEFAULT 0;
-- A code names one participant of a campaign.
CREATE UNIQUE INDEX participants_by_relay_code ON participants (campaign_id, relay_code) WHERE relay_code IS NOT NULL;
-- The roll-up takes the oldest relayed joins not counted yet; the index holds only those, so
-- it stays small however many joins were counted.
CREATE INDEX participants_unrolled ON participants (campaign_id, joined_at_ms, id)
    WHERE inviter_id IS NOT NULL AND relay_rolled = 0;
-- A participant's direct joiners, newest first; counting relayed joins.
CREATE INDEX participants_by_inviter ON participants (campaign_id, inviter_id, joined_at_ms, id)
    WHERE inviter_id IS NOT NULL;

-- Per participant: joins it passed the baton to (`direct`) and everybody below it in its
-- chains (`descendants`, direct included). Written only by the roll-up, by adding deltas. No
-- row means zero. The board's order compares ids bytewise ("C"), as SQLite does; the column
-- keeps the default collation so that joining participants by id uses their primary key.
CREATE TABLE relay_counts (
    campaign_id    TEXT   NOT NULL REFERENCES campaigns (id),
    participant_id TEXT   NOT NULL,
    direct         BIGINT NOT NULL,
    descendants    BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, participant_id)
);
CREATE INDEX relay_counts_by_rank
    ON relay_counts (campaign_id, direct DESC, descendants DESC, participant_id COLLATE "C");

-- From `shared` and `clicked` events (`n`: the participant's nth share, its link's nth open).
-- No foreign key to participants: these events may arrive before the join.
CREATE TABLE shares (
    campaign_id    TEXT   NOT NULL REFERENCES campaigns (id),
    participant_id TEXT   NOT NULL,
    n              BIGINT NOT NULL,
    channel        TEXT   NOT NULL,
    at_ms          BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, participant_id, n)
);
CREATE INDEX shares_by_channel ON shares (campaign_id, channel);

CREATE TABLE clicks (
    campaign_id    TEXT   NOT NULL REFERENCES campaigns (id),
    participant_id TEXT   NOT NULL,
    n              BIGINT NOT NULL,
    at_ms          BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, participant_id, n)
);
