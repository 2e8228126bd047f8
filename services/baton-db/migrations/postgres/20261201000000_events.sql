-- Every change becomes an event; SQL is the system of record. `events` keeps each event once,
-- by its deterministic id (the archiver may deliver an event twice); `attempts`, `answers` and
-- the new `participants` columns are projections of the events, written only when an event is
-- new. Booleans are INTEGER 0/1 and u32/u64 values BIGINT, so the `Any` driver reads both
-- engines the same way.
--
-- Ids are unique per campaign, not globally (an event id names a participant, whose id need not
-- be unique across campaigns), hence the composite key. `event_id` compares bytewise ("C"), so
-- the order of `events` is the same on every PostgreSQL and on SQLite.
CREATE TABLE events (
    campaign_id TEXT             NOT NULL REFERENCES campaigns (id),
    event_id    TEXT COLLATE "C" NOT NULL,
    kind        TEXT             NOT NULL,
    at_ms       BIGINT           NOT NULL,
    body        TEXT             NOT NULL,
    PRIMARY KEY (campaign_id, event_id)
);
CREATE INDEX events_by_time ON events (campaign_id, at_ms, event_id);

-- No foreign key to participants: events of one participant may arrive before its join event
-- (another batch, a redelivery), and must still be stored and applied.
CREATE TABLE attempts (
    campaign_id    TEXT    NOT NULL REFERENCES campaigns (id),
    participant_id TEXT    NOT NULL,
    id             TEXT    NOT NULL,
    day            INTEGER NOT NULL,
    started_at_ms  BIGINT  NOT NULL,
    expires_at_ms  BIGINT  NOT NULL,
    limit_ms       BIGINT  NOT NULL,
    questions_json TEXT    NOT NULL,
    cursor_ms      BIGINT  NOT NULL,
    score          BIGINT  NOT NULL,
    correct_count  BIGINT  NOT NULL,
    total_ms       BIGINT  NOT NULL,
    finished_at_ms BIGINT  NULL,
    PRIMARY KEY (campaign_id, participant_id, id)
);
-- Rebuilding the hot store reads one campaign day's attempts and every unfinished one.
CREATE INDEX attempts_by_day ON attempts (campaign_id, day);
CREATE INDEX attempts_unfinished ON attempts (campaign_id) WHERE finished_at_ms IS NULL;

CREATE TABLE answers (
    campaign_id    TEXT    NOT NULL REFERENCES campaigns (id),
    participant_id TEXT    NOT NULL,
    attempt_id     TEXT    NOT NULL,
    question_id    TEXT    NOT NULL,
    idx            INTEGER NOT NULL,
    choice_mask    BIGINT  NOT NULL,
    correct        INTEGER NOT NULL,
    points         BIGINT  NOT NULL,
    timed_out      INTEGER NOT NULL,
    elapsed_ms     BIGINT  NOT NULL,
    attempt_score  BIGINT  NOT NULL,
    cursor_ms      BIGINT  NOT NULL,
    at_ms          BIGINT  NOT NULL,
    PRIMARY KEY (campaign_id, participant_id, attempt_id, idx)
);

-- From the join event: the places the participant counts towards, nearest first (JSON list).
ALTER TABLE participants ADD COLUMN places_json TEXT NULL;
-- The participant's best result (published order: score desc, time asc, reached asc); all three
-- are set together, or none.
ALTER TABLE participants ADD COLUMN best_score BIGINT NULL;
ALTER TABLE participants ADD COLUMN best_ms BIGINT NULL;
ALTER TABLE participants ADD COLUMN best_at_ms BIGINT NULL;
