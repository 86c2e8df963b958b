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

# The latest account each user named, by event time: how later events without a group are
# attributed after a consumer restart.
USER_ACCOUNTS = """
CREATE TABLE IF NOT EXISTS user_accounts
(
    product_id LowCardinality(String),
    user_id String,
    account_id String,
    named_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(named_at)
ORDER BY (product_id, user_id)
"""

USER_ACCOUNTS_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS user_accounts_mv TO user_accounts AS
SELECT product_id, user_id, group_id AS account_id, timestamp AS named_at
FROM events
WHERE group_id != '' AND user_id != ''
"""

STATEMENTS = (EVENTS, USER_ACCOUNTS, USER_ACCOUNTS_MV)

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
