-- English translations of questions (JSON: stem, options, explanation); Chinese is authoritative.
ALTER TABLE questions ADD COLUMN en_json TEXT;
