-- botrun serve on PostgreSQL: same tables as SQLite. Times are Unix milliseconds (UTC).

CREATE TABLE conversations (
    conversation TEXT PRIMARY KEY,
    version      BIGINT NOT NULL,
    state        BYTEA NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE dedup_keys (
    dedup_key   TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
);

CREATE TABLE inbound (
    id           BIGSERIAL PRIMARY KEY,
    conversation TEXT NOT NULL,
    payload      TEXT NOT NULL,
    received_at  BIGINT NOT NULL
);
CREATE INDEX inbound_by_conversation ON inbound (conversation, id);

CREATE TABLE outbox (
    id           BIGSERIAL PRIMARY KEY,
    conversation TEXT NOT NULL,
    payload      TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    not_before   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX outbox_by_conversation ON outbox (conversation, id);

CREATE TABLE timers (
    conversation TEXT NOT NULL,
    timer_key    TEXT NOT NULL,
    due_at       BIGINT NOT NULL,
    payload      TEXT NOT NULL,
    PRIMARY KEY (conversation, timer_key)
);
CREATE INDEX timers_by_due ON timers (due_at);
