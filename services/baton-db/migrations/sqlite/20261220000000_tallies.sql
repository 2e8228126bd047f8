-- Tallies: the counters the organizer console reads, kept by the archiver as events are stored
-- (in the transaction that stores them, for new events only, so each event is counted once).
-- Reading a figure reads a handful of these rows, never the participants.
--
-- `place_id` '*' is the whole campaign; any other value is a place and everything under it (a
-- participant counts towards its own place and every place above it). The columns of
-- `tally_minutes` and `tally_totals` are the same counters: per minute (`minute_ms`, the
-- minute's start) and in all.
CREATE TABLE tally_minutes (
    campaign_id TEXT   NOT NULL REFERENCES campaigns (id),
    place_id    TEXT   NOT NULL,
    minute_ms   BIGINT NOT NULL,
    joins       BIGINT NOT NULL,
    relayed     BIGINT NOT NULL,
    attempts    BIGINT NOT NULL,
    finishes    BIGINT NOT NULL,
    answers     BIGINT NOT NULL,
    correct     BIGINT NOT NULL,
    timed_out   BIGINT NOT NULL,
    answer_ms   BIGINT NOT NULL,
    shares      BIGINT NOT NULL,
    sharers     BIGINT NOT NULL,
    clicks      BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, place_id, minute_ms)
);

CREATE TABLE tally_totals (
    campaign_id TEXT   NOT NULL REFERENCES campaigns (id),
    place_id    TEXT   NOT NULL,
    joins       BIGINT NOT NULL,
    relayed     BIGINT NOT NULL,
    attempts    BIGINT NOT NULL,
    finishes    BIGINT NOT NULL,
    answers     BIGINT NOT NULL,
    correct     BIGINT NOT NULL,
    timed_out   BIGINT NOT NULL,
    answer_ms   BIGINT NOT NULL,
    shares      BIGINT NOT NULL,
    sharers     BIGINT NOT NULL,
    clicks      BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, place_id)
);

-- Per question: how often it was answered, answered right, ran out of time, and the time taken.
CREATE TABLE tally_questions (
    campaign_id TEXT   NOT NULL REFERENCES campaigns (id),
    place_id    TEXT   NOT NULL,
    question_id TEXT   NOT NULL,
    answers     BIGINT NOT NULL,
    correct     BIGINT NOT NULL,
    timed_out   BIGINT NOT NULL,
    answer_ms   BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, place_id, question_id)
);

-- Participants by their depth in the share chains (0: joined without a relay link).
CREATE TABLE tally_depths (
    campaign_id  TEXT    NOT NULL REFERENCES campaigns (id),
    place_id     TEXT    NOT NULL,
    depth        INTEGER NOT NULL,
    participants BIGINT  NOT NULL,
    PRIMARY KEY (campaign_id, place_id, depth)
);

-- Events stored before their participant's join (a late-claimed stream entry): counted for the
-- whole campaign at once, and for the participant's places when its join arrives, which
-- removes them from here.
CREATE TABLE tally_deferred (
    campaign_id    TEXT NOT NULL REFERENCES campaigns (id),
    participant_id TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    PRIMARY KEY (campaign_id, participant_id, event_id)
);

-- The live feed's samples: the latest finishes of a campaign.
CREATE INDEX attempts_by_finish ON attempts (campaign_id, finished_at_ms) WHERE finished_at_ms IS NOT NULL;

-- The top relayers of a region: each relayer's place (where it joined), so a region's ranking
-- reads the head of one index range per place instead of the whole campaign's ranking.
ALTER TABLE relay_counts ADD COLUMN region_id TEXT NULL;
UPDATE relay_counts SET region_id = (SELECT p.region_id FROM participants p
    WHERE p.campaign_id = relay_counts.campaign_id AND p.id = relay_counts.participant_id);
CREATE INDEX relay_counts_by_region_rank
    ON relay_counts (campaign_id, region_id, direct DESC, descendants DESC, participant_id);
