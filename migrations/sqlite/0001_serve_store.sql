-- botrun serve: conversation state, dedup keys, inbound queue, outbox and timers.
-- Times are Unix milliseconds (UTC).

CREATE TABLE conversations (
    conversation TEXT PRIMARY KEY NOT NULL,
    version      INTEGER NOT NULL,
    state        BLOB NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE dedup_keys (
    dedup_key   TEXT PRIMARY KEY NOT NULL,
    received_at INTEGER NOT NULL
);

CREATE TABLE inbound (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT NOT NULL,
    payload      TEXT NOT NULL,
    received_at  INTEGER NOT NULL
);
CREATE INDEX inbound_by_conversation ON inbound (conversation, id);

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT NOT NULL,
    payload      TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    not_before   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX outbox_by_conversation ON outbox (conversation, id);

CREATE TABLE timers (
    conversation TEXT NOT NULL,
    timer_key    TEXT NOT NULL,
    due_at       INTEGER NOT NULL,
    payload      TEXT NOT NULL,
    PRIMARY KEY (conversation, timer_key)
);
CREATE INDEX timers_by_due ON timers (due_at);
