"""ClickHouse tables of the metrics service.

`events` holds every accepted call once per (product_id, message_id): ReplacingMergeTree keeps
one row per key after merges, and queries that count rows read it with FINAL, so a replayed or
redelivered message counts once.
"""

# TODO(#7): versioned migrations applied at start-up, the same for chDB and a server.
EVENTS = """
CREATE TABLE IF NOT EXISTS events
(
    product_id LowCardinality(String),
    message_id String,
    tenant_id LowCardinality(String),
    type LowCardinality(String),
    event String,
    name String,
    user_id String COMMENT 'userId, else anonymousId',
    anonymous_id String,
    group_id String COMMENT 'the account the call named, as sent',
    account_id String COMMENT 'group_id, else the user''s last group',
    previous_id String,
    timestamp DateTime64(3, 'UTC') COMMENT 'corrected event time',
    original_timestamp Nullable(DateTime64(3, 'UTC')),
    sent_at Nullable(DateTime64(3, 'UTC')),
    received_at DateTime64(3, 'UTC'),
    properties String,
    traits String,
    context String,
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (product_id, message_id)
"""

# Every account each user named, and when (event time): how the consumer attributes events
# that name no account, also after a restart (see attribution.py).
USER_ACCOUNT_HISTORY = """
CREATE TABLE IF NOT EXISTS user_account_history
(
    product_id LowCardinality(String),
    user_id String,
    named_at DateTime64(3, 'UTC'),
    account_id String
)
ENGINE = ReplacingMergeTree
ORDER BY (product_id, user_id, named_at, account_id)
"""

USER_ACCOUNT_HISTORY_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS user_account_history_mv TO user_account_history AS
SELECT product_id, user_id, timestamp AS named_at, group_id AS account_id
FROM events
WHERE group_id != '' AND user_id != ''
"""

STATEMENTS = (EVENTS, USER_ACCOUNT_HISTORY, USER_ACCOUNT_HISTORY_MV)

EVENT_COLUMNS = (
    "product_id",
    "message_id",
    "tenant_id",
    "type",
    "event",
    "name",
    "user_id",
    "anonymous_id",
    "group_id",
    "account_id",
    "previous_id",
    "timestamp",
    "original_timestamp",
    "sent_at",
    "received_at",
    "properties",
    "traits",
    "context",
)
