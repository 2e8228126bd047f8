-- The size of every anti-cheat group (baton_db::anticheat): a batch of events raises a group's
-- row by the members it added, and flags only those once the group has reached its threshold,
-- so a newcomer costs the same in a group of ten as in one of ten thousand. Organizers read a
-- group's size now as the evidence of its members' flags.

-- Participants whose join carried each client fingerprint (participants.client_fp).
CREATE TABLE client_groups (
    campaign_id  TEXT   NOT NULL REFERENCES campaigns (id),
    client_fp    TEXT   NOT NULL,
    participants BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, client_fp)
);
INSERT INTO client_groups (campaign_id, client_fp, participants)
SELECT campaign_id, client_fp, COUNT(*) FROM participants WHERE client_fp IS NOT NULL
GROUP BY campaign_id, client_fp;

-- Participants with a finished attempt of each timing print (timing_prints).
CREATE TABLE timing_groups (
    campaign_id  TEXT   NOT NULL REFERENCES campaigns (id),
    print        TEXT   NOT NULL,
    participants BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, print)
);
INSERT INTO timing_groups (campaign_id, print, participants)
SELECT campaign_id, print, COUNT(DISTINCT participant_id) FROM timing_prints GROUP BY campaign_id, print;

-- The evidence of these flags is read from their group, no longer stored with them.
UPDATE suspicions SET evidence = 0 WHERE reason IN ('same_timing', 'shared_device');
