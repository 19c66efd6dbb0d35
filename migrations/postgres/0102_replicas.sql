-- The replicas sharing this database and when each last said it was alive: a replica renews its
-- leases and this row in one statement every second, so a crashed replica's conversations are
-- free within seconds and the live ones can split the CX tenant's request budget.
CREATE TABLE IF NOT EXISTS replicas (
    owner   TEXT PRIMARY KEY,
    seen_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS leases_by_owner ON leases (owner);
