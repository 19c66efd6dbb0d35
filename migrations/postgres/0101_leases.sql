-- Which replica works on a conversation's lane (its turns, its outbox) right now, and until when.
CREATE TABLE IF NOT EXISTS leases (
    lane     TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    until_ms BIGINT NOT NULL
);
