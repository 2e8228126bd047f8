-- Each participant's fast answers (baton_db::anticheat, fast_answers): a batch of events raises
-- the count by its new answers that were fast, instead of every batch counting all the answers
-- of the participants it touched again.
CREATE TABLE fast_answer_counts (
    campaign_id    TEXT   NOT NULL REFERENCES campaigns (id),
    participant_id TEXT   NOT NULL,
    answers        BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, participant_id)
);

-- The answers stored so far, counted as they were (the floors of baton_core::anticheat:
-- 500 ms for a true/false statement or a question the bank no longer has, 1,000 ms else).
INSERT INTO fast_answer_counts (campaign_id, participant_id, answers)
SELECT a.campaign_id, a.participant_id, COUNT(*) FROM answers a
LEFT JOIN questions q ON q.campaign_id = a.campaign_id AND q.id = a.question_id
WHERE a.timed_out = 0 AND a.elapsed_ms < CASE WHEN q.kind IS NULL OR q.kind = 'judge' THEN 500 ELSE 1000 END
GROUP BY a.campaign_id, a.participant_id;
