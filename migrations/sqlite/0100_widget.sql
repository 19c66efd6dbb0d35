-- Widget (Direct Line) conversations and their stored activities. Idempotent so it can run at
-- every start as well as through the store's migrator.
CREATE TABLE IF NOT EXISTS widget_conversations (
    id          TEXT PRIMARY KEY,
    site        TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    user_name   TEXT,
    created_ms  INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL DEFAULT 0,
    last_ts_ms  INTEGER NOT NULL DEFAULT 0,
    ended       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS widget_activities (
    conversation_id TEXT NOT NULL REFERENCES widget_conversations (id),
    seq             INTEGER NOT NULL,
    body            TEXT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
