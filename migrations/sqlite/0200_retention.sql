-- Retention: the sweep deletes old dedup keys and idle conversations by time, so both get an
-- index on it instead of a full scan per sweep.
CREATE INDEX IF NOT EXISTS dedup_keys_by_time ON dedup_keys (received_at);
CREATE INDEX IF NOT EXISTS conversations_by_time ON conversations (updated_at);
