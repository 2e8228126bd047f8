-- Anti-cheat signals that flag, never punish (baton_core::anticheat), and organizers' decisions
-- to hide a participant from the public boards. Kept by the archiver as events are stored
-- (baton_db::anticheat), in the transaction that stores them.

-- From the join event: the fingerprint of the client the participant joined from (a salted
-- hash of its network and User-Agent, never the address).
ALTER TABLE participants ADD COLUMN client_fp TEXT NULL;
CREATE INDEX participants_by_client ON participants (campaign_id, client_fp) WHERE client_fp IS NOT NULL;

-- The timing print of every complete finished attempt (every question answered in time):
-- written once, never changed, so a print's group of participants only grows.
CREATE TABLE timing_prints (
    campaign_id    TEXT NOT NULL REFERENCES campaigns (id),
    participant_id TEXT NOT NULL,
    attempt_id     TEXT NOT NULL,
    print          TEXT NOT NULL,
    PRIMARY KEY (campaign_id, participant_id, attempt_id)
);
CREATE INDEX timing_prints_by_print ON timing_prints (campaign_id, print);

-- Flags: one row per participant and reason (`fast_answers`, `same_timing`, `shared_device`)
-- once the signal's threshold is reached; `evidence` is the signal's count (fast answers;
-- participants sharing the timing print; participants behind the client fingerprint), which
-- only grows.
CREATE TABLE suspicions (
    campaign_id    TEXT   NOT NULL REFERENCES campaigns (id),
    participant_id TEXT   NOT NULL,
    reason         TEXT   NOT NULL,
    evidence       BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, participant_id, reason)
);

-- Participants an organizer hid from the public individual boards (a row while hidden; the
-- audit log keeps the history). A rebuild of the hot store hides them again.
CREATE TABLE hidden_participants (
    campaign_id    TEXT   NOT NULL REFERENCES campaigns (id),
    participant_id TEXT   NOT NULL,
    hidden_at_ms   BIGINT NOT NULL,
    hidden_by      TEXT   NOT NULL,
    PRIMARY KEY (campaign_id, participant_id)
);
