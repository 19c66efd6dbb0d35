-- What the bot decided, one row per engine step, written in the same transaction as the turn;
-- `botrun report` reads it and the retention sweep deletes it by time. Times are Unix ms (UTC).
CREATE TABLE decisions (
    id            BIGSERIAL PRIMARY KEY,
    conversation  TEXT NOT NULL,
    bot           TEXT NOT NULL,
    at            BIGINT NOT NULL,
    event         TEXT NOT NULL,
    customer_text TEXT,
    intent        TEXT,
    missed        BOOLEAN NOT NULL,
    question      TEXT,
    state_before  TEXT,
    state_after   TEXT,
    outcome       TEXT NOT NULL,
    rule          TEXT,
    reason        TEXT,
    note          TEXT
);
CREATE INDEX decisions_by_time ON decisions (at);
