WITH rec AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[])
        WITH ORDINALITY AS r(dedup_key, conversation, payload, at, ord)
), fresh AS (
    INSERT INTO dedup_keys (dedup_key, received_at)
    SELECT dedup_key, at FROM rec ORDER BY dedup_key
    ON CONFLICT (dedup_key) DO NOTHING
    RETURNING dedup_key
), accepted AS MATERIALIZED (
    SELECT rec.ord, rec.conversation, rec.payload, rec.at, nextval('inbound_id_seq') AS id
    FROM rec JOIN fresh USING (dedup_key)
    ORDER BY rec.ord
), queued AS (
    INSERT INTO inbound (id, conversation, payload, received_at)
    SELECT id, conversation, payload, at FROM accepted
), turn AS (
    SELECT * FROM unnest($5::text[], $6::int8[], $7::bytea[], $8::int8[], $9::int8[])
        WITH ORDINALITY AS t(conversation, expected, state, at, processed, ord)
), updated AS (
    UPDATE conversations c SET version = c.version + 1, state = t.state, updated_at = t.at
    FROM turn t
    WHERE t.expected > 0 AND c.conversation = t.conversation AND c.version = t.expected
    RETURNING t.ord
), created AS (
    INSERT INTO conversations (conversation, version, state, updated_at)
    SELECT conversation, 1, state, at FROM turn WHERE expected = 0 ORDER BY conversation
    ON CONFLICT (conversation) DO NOTHING
    RETURNING conversation
), won AS MATERIALIZED (
    SELECT t.ord, t.conversation, t.at, t.processed, t.expected + 1 AS version
    FROM turn t
    WHERE t.ord IN (SELECT ord FROM updated)
       OR (t.expected = 0 AND t.conversation IN (SELECT conversation FROM created))
), out AS MATERIALIZED (
    SELECT o.ord, w.conversation, o.payload, w.at, nextval('outbox_id_seq') AS id
    FROM unnest($10::int8[], $11::text[]) WITH ORDINALITY AS o(turn, payload, ord)
    JOIN won w ON w.ord = o.turn
    ORDER BY o.ord
), queued_out AS (
    INSERT INTO outbox (id, conversation, payload, not_before, created_at)
    SELECT id, conversation, payload, at, at FROM out
), cancelled AS (
    DELETE FROM timers tm
    USING unnest($12::int8[], $13::text[]) AS x(turn, timer_key), won w
    WHERE w.ord = x.turn AND tm.conversation = w.conversation AND tm.timer_key = x.timer_key
), scheduled AS (
    INSERT INTO timers (conversation, timer_key, due_at, payload)
    SELECT w.conversation, x.timer_key, x.due_at, x.payload
    FROM unnest($14::int8[], $15::text[], $16::int8[], $17::text[])
        AS x(turn, timer_key, due_at, payload)
    JOIN won w ON w.ord = x.turn
    ON CONFLICT (conversation, timer_key) DO UPDATE
    SET due_at = excluded.due_at, payload = excluded.payload
), consumed AS (
    DELETE FROM inbound i USING won w
    WHERE i.id = w.processed AND i.conversation = w.conversation
), decided AS (
    INSERT INTO decisions (conversation, bot, at, event, customer_text, intent, missed, question,
        state_before, state_after, outcome, rule, reason, note)
    SELECT w.conversation, d.bot, d.at, d.event, d.customer_text, d.intent, d.missed, d.question,
        d.state_before, d.state_after, d.outcome, d.rule, d.reason, d.note
    FROM unnest($18::int8[], $19::text[], $20::int8[], $21::text[], $22::text[], $23::text[],
        $24::bool[], $25::text[], $26::text[], $27::text[], $28::text[], $29::text[],
        $30::text[], $31::text[])
        WITH ORDINALITY AS d(turn, bot, at, event, customer_text, intent, missed, question,
            state_before, state_after, outcome, rule, reason, note, ord)
    JOIN won w ON w.ord = d.turn
    ORDER BY d.ord
), sent AS (
    DELETE FROM outbox WHERE id = ANY($32::int8[])
), discarded AS (
    DELETE FROM inbound WHERE id = ANY($33::int8[])
), released AS (
    DELETE FROM leases l USING unnest($34::text[], $35::text[]) AS x(lane, owner)
    WHERE l.lane = x.lane AND l.owner = x.owner
), claim AS (
    SELECT * FROM unnest($36::text[], $37::text[], $38::int8[])
        WITH ORDINALITY AS x(lane, owner, until_ms, ord)
), open_claim AS (
    -- A lane another owner visibly holds is refused without touching its row: the upsert
    -- below would lock that row even when its WHERE refuses, and such locks taken by one
    -- replica on the other's leases deadlocked the two replicas' rounds and heartbeats.
    SELECT c.* FROM claim c
    WHERE NOT EXISTS (
        SELECT 1 FROM leases l
        WHERE l.lane = c.lane AND l.owner <> c.owner AND l.until_ms >= $39::int8
    )
), claimed AS (
    INSERT INTO leases (lane, owner, until_ms)
    SELECT lane, owner, until_ms FROM open_claim ORDER BY lane
    ON CONFLICT (lane) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms
    WHERE leases.owner = excluded.owner OR leases.until_ms < $39::int8
    RETURNING lane
)
SELECT 0::int2 AS kind, ord, id AS value FROM accepted
UNION ALL
SELECT 1::int2, ord, version FROM won
UNION ALL
SELECT 2::int2, t.ord, COALESCE(c.version, 0) FROM turn t
    LEFT JOIN conversations c ON c.conversation = t.conversation
    WHERE t.ord NOT IN (SELECT ord FROM won)
UNION ALL
SELECT 3::int2, ord, 0 FROM claim WHERE lane IN (SELECT lane FROM claimed)
UNION ALL
SELECT 4::int2, ord, id FROM out
