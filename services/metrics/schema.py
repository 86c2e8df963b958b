"""ClickHouse tables of the metrics service.

`events` holds every accepted call once per (product_id, day, message_id): ReplacingMergeTree
keeps one row per key after merges, and queries that count rows read it with FINAL, so a
replayed or redelivered message counts once. `day` is the event's calendar day in the product's
timezone at the time it was accepted; sorting by it makes a date range one slice of the table.

`daily_active_users` and `daily_active_users_product` keep, per account (and per product) and
day, the set of active users as a uniqExact state, filled by materialized views as rows are
inserted: active users and stickiness merge at most a few hundred states instead of scanning
events. A duplicate row adds a user who is already in the set, so they too count it once.
`daily_events` does the same for track calls, with sets of message ids, and counts the rows it
was given. `daily_event_counts` holds what those sets come to for days that stopped changing
(see settle.py).
"""

from dataclasses import dataclass

EVENTS = """
CREATE TABLE IF NOT EXISTS events
(
    product_id LowCardinality(String),
    day Date32 COMMENT 'the calendar day of timestamp in the product''s timezone',
    message_id String,
    tenant_id LowCardinality(String),
    type LowCardinality(String),
    event String,
    name String,
    user_id String COMMENT 'userId, else anonymousId: who did it',
    anonymous_id String,
    group_id String COMMENT 'the account the call named, as sent',
    account_id String DEFAULT group_id COMMENT 'group_id, else the user''s group at the time',
    previous_id String,
    timestamp DateTime64(3, 'UTC') COMMENT 'corrected event time',
    original_timestamp Nullable(DateTime64(3, 'UTC')),
    sent_at Nullable(DateTime64(3, 'UTC')),
    received_at DateTime64(3, 'UTC'),
    properties String,
    traits String,
    context String,
    timezone LowCardinality(String) DEFAULT 'UTC' COMMENT 'the zone day is counted in',
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (product_id, day, message_id)
"""

# When each user's account changed (event time), written by the consumer: how it attributes
# events that name no account, also after a restart (see attribution.py).
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

DAILY_ACTIVE_USERS = """
CREATE TABLE IF NOT EXISTS daily_active_users
(
    product_id LowCardinality(String),
    account_id String,
    day Date32,
    users AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (product_id, account_id, day)
"""

DAILY_ACTIVE_USERS_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS daily_active_users_mv TO daily_active_users AS
SELECT product_id, account_id, day, uniqExactState(user_id) AS users
FROM events
WHERE user_id != ''
GROUP BY product_id, account_id, day
"""

DAILY_ACTIVE_USERS_PRODUCT = """
CREATE TABLE IF NOT EXISTS daily_active_users_product
(
    product_id LowCardinality(String),
    day Date32,
    users AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
ORDER BY (product_id, day)
"""

DAILY_ACTIVE_USERS_PRODUCT_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS daily_active_users_product_mv
TO daily_active_users_product AS
SELECT product_id, day, uniqExactState(user_id) AS users
FROM events
WHERE user_id != ''
GROUP BY product_id, day
"""

# Track calls per account, event name and day, as the set of their message ids: a message that
# arrives twice adds nothing, so counts match `events` read with FINAL. `rows` only grows, with
# every row inserted, merged or not: a day whose sum of rows is unchanged holds the same sets.
DAILY_EVENTS = """
CREATE TABLE IF NOT EXISTS daily_events
(
    product_id LowCardinality(String),
    account_id String,
    event String,
    day Date32,
    messages AggregateFunction(uniqExact, String),
    rows SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (product_id, account_id, day, event)
"""

DAILY_EVENTS_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS daily_events_mv TO daily_events AS
SELECT product_id, account_id, event, day, uniqExactState(message_id) AS messages, count() AS rows
FROM events
WHERE type = 'track'
GROUP BY product_id, account_id, event, day
"""

# What the sets of `daily_events` came to for a day of a product, at each grain a query can ask
# for, written by the settler. A count holds while the day's sum of rows in `daily_events` still
# equals its day_rows. Grain 'day' and 'event' rows have account_id '', 'day' rows event ''.
DAILY_EVENT_COUNTS = """
CREATE TABLE IF NOT EXISTS daily_event_counts
(
    product_id LowCardinality(String),
    day Date32,
    grain Enum8('day' = 0, 'event' = 1, 'account' = 2, 'account_event' = 3),
    account_id String,
    event String,
    messages UInt64,
    day_rows UInt64 COMMENT 'the day''s sum of daily_events.rows these counts were made from'
)
ENGINE = ReplacingMergeTree(day_rows)
ORDER BY (product_id, day, grain, account_id, event)
"""

# Account and user traits, one row per trait: group calls and identify calls fill them through
# the views below, the bulk API (accounts.py) directly. The latest value of each trait wins:
# read them with FINAL or argMax(value, updated_at).
TRAITS_TABLE = """
CREATE TABLE IF NOT EXISTS {table}
(
    product_id LowCardinality(String),
    {key} String,
    trait String,
    value String COMMENT 'the value as JSON',
    updated_at DateTime64(3, 'UTC') COMMENT 'event time for calls, upload time for the API',
    source LowCardinality(String) COMMENT 'group, identify or api'
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (product_id, {key}, trait)
"""
ACCOUNT_TRAITS = TRAITS_TABLE.format(table="account_traits", key="account_id")
USER_TRAITS = TRAITS_TABLE.format(table="user_traits", key="user_id")

ACCOUNT_TRAITS_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS account_traits_mv TO account_traits AS
SELECT product_id, group_id AS account_id, pair.1 AS trait, pair.2 AS value,
    timestamp AS updated_at, 'group' AS source
FROM events ARRAY JOIN JSONExtractKeysAndValuesRaw(traits) AS pair
WHERE type = 'group' AND group_id != ''
"""

USER_TRAITS_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS user_traits_mv TO user_traits AS
SELECT product_id, user_id, pair.1 AS trait, pair.2 AS value,
    timestamp AS updated_at, 'identify' AS source
FROM events ARRAY JOIN JSONExtractKeysAndValuesRaw(traits) AS pair
WHERE type = 'identify' AND user_id != ''
"""

# A product's health scorecard (health.ProductScorecard as JSON) as set over the API; the
# latest row wins, and an empty config means the default scorecard.
HEALTH_SCORECARDS = """
CREATE TABLE IF NOT EXISTS health_scorecards
(
    product_id LowCardinality(String),
    config String COMMENT 'the scorecard as JSON; empty: the default',
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY product_id
"""

# Each account's health at the end of a day in its product's timezone, as scored last that
# day (scoring runs on a schedule and on demand; the latest scored_at wins).
HEALTH_SNAPSHOTS = """
CREATE TABLE IF NOT EXISTS health_snapshots
(
    product_id LowCardinality(String),
    account_id String,
    day Date32,
    score Nullable(Float64) COMMENT '0-100; null when no measure had a value',
    band LowCardinality(String) COMMENT 'red, yellow or green; empty when score is null',
    scorecard LowCardinality(String) COMMENT 'default or new_accounts',
    measures Map(String, Nullable(Float64)),
    contributions Map(String, Float64) COMMENT 'points each measure added to the score',
    scored_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(scored_at)
ORDER BY (product_id, account_id, day)
"""

# Every product that sent events, in the timezone its latest events were counted in: what
# scheduled scoring runs over.
PRODUCT_ZONES = """
CREATE TABLE IF NOT EXISTS product_zones
(
    product_id LowCardinality(String),
    timezone LowCardinality(String),
    seen_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(seen_at)
ORDER BY product_id
"""

PRODUCT_ZONES_MV = """
CREATE MATERIALIZED VIEW IF NOT EXISTS product_zones_mv TO product_zones AS
SELECT product_id, argMax(timezone, received_at) AS timezone, max(received_at) AS seen_at
FROM events
GROUP BY product_id
"""

# Every change of a CS task, from the rules service (topic `tasks`, shared.tasks.TaskEvent),
# for dashboards: a task's latest row (by history_id) is how it stands. A change sent twice
# is kept once.
TASK_EVENTS = """
CREATE TABLE IF NOT EXISTS task_events
(
    product_id LowCardinality(String),
    task_id String,
    history_id UInt64,
    at DateTime64(3, 'UTC'),
    kind LowCardinality(String),
    actor String,
    rule_id String,
    account_id String,
    title String,
    type LowCardinality(String),
    priority LowCardinality(String),
    status LowCardinality(String),
    assignee String,
    due_at Nullable(DateTime64(3, 'UTC'))
)
ENGINE = ReplacingMergeTree
ORDER BY (product_id, task_id, history_id)
"""


@dataclass(frozen=True)
class Migration:
    """One step of the warehouse's schema. Its statements must be safe to run again (IF NOT
    EXISTS, ADD COLUMN IF NOT EXISTS): a start-up that stops half-way runs the step again."""

    version: int
    name: str
    statements: tuple[str, ...]


# Applied in order at start-up, the same on chDB and on a server (Warehouse.open); the
# versions applied are rows of `schema_migrations`. Append; never edit a step once released.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "events, daily aggregates, attribution history, traits",
        (
            EVENTS,
            USER_ACCOUNT_HISTORY,
            DAILY_ACTIVE_USERS,
            DAILY_ACTIVE_USERS_MV,
            DAILY_ACTIVE_USERS_PRODUCT,
            DAILY_ACTIVE_USERS_PRODUCT_MV,
            DAILY_EVENTS,
            DAILY_EVENTS_MV,
            DAILY_EVENT_COUNTS,
            ACCOUNT_TRAITS,
            USER_TRAITS,
            ACCOUNT_TRAITS_MV,
            USER_TRAITS_MV,
        ),
    ),
    Migration(
        2,
        "health scorecards and snapshots, products' timezones",
        (HEALTH_SCORECARDS, HEALTH_SNAPSHOTS, PRODUCT_ZONES, PRODUCT_ZONES_MV),
    ),
    Migration(3, "CS task events", (TASK_EVENTS,)),
)

SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY version
"""

# Written before versioned migrations existed; a warehouse without it predates this schema.
REQUIRED_COLUMN = ("daily_events", "rows")

HISTORY_COLUMNS = ("product_id", "user_id", "named_at", "account_id")
