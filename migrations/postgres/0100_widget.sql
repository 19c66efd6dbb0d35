-- Widget (Direct Line) conversations and their stored activities. Idempotent so it can run at
-- every start as well as through the store's migrator.
CREATE TABLE IF NOT EXISTS widget_conversations (
    id          TEXT PRIMARY KEY,
    site        TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    user_name   TEXT,
    created_ms  BIGINT NOT NULL,
    last_seq    BIGINT NOT NULL DEFAULT 0,
    last_ts_ms  BIGINT NOT NULL DEFAULT 0,
    ended       BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE IF NOT EXISTS widget_activities (
    conversation_id TEXT NOT NULL REFERENCES widget_conversations (id),
    seq             BIGINT NOT NULL,
    body            TEXT NOT NULL,
    client_id       TEXT GENERATED ALWAYS AS ((body::jsonb) -> 'channelData' ->> 'clientActivityID') STORED,
    PRIMARY KEY (conversation_id, seq)
);

CREATE INDEX IF NOT EXISTS widget_activities_client_id
    ON widget_activities (conversation_id, client_id) WHERE client_id IS NOT NULL;
