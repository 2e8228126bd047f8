-- An attempt's clock is no longer copied into its row by every answer (which rewrote the row,
-- its questions included, ten times an attempt): the clock of an attempt in progress is its
-- latest answer's cursor_ms, read from answers when the hot store is rebuilt. An attempt's
-- score is written when it finishes (0 until then; its answers hold the running score).
ALTER TABLE attempts DROP COLUMN cursor_ms;
