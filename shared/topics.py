"""Every Kafka topic Kizuna uses, declared once: who writes it, who reads it, what the key is."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    suffix: str
    partitions: int
    producer: str
    consumers: tuple[str, ...]
    key: str
    doc: str

    def name(self, namespace: str) -> str:
        return f"{namespace}.{self.suffix}"


# Accepted tracking calls: a record is a JSON array of `shared.events.Event`, one record per
# request (several, in order, when a request's events would not fit in 900 KB).
# Keyed by product and the request's first user so that a user's events stay in order on one
# partition: the metrics consumer relies on that order to attribute events to the user's last
# group.
EVENTS = Topic(
    suffix="events",
    partitions=4,
    producer="ingest",
    consumers=("metrics",),
    key="<product_id>:<user id or anonymous id>",
    doc="tracked events accepted by ingest (Kafka acknowledged before the HTTP 200)",
)

# Records the metrics consumer could not decode or validate, kept byte for byte with an
# `error` header, so that nothing accepted is silently dropped.
EVENTS_DLQ = Topic(
    suffix="events.dlq",
    partitions=1,
    producer="metrics",
    consumers=(),
    key="the key of the rejected record",
    doc="events that failed validation in the metrics consumer",
)

# An account's health band changed (or it was scored for the first time): one JSON
# `shared.health.BandChange` per record. Keyed by account, so that an account's changes stay in
# order. Sent at least once: a run that failed half-way sends its changes again.
HEALTH_BANDS = Topic(
    suffix="health.bands",
    partitions=4,
    producer="metrics",
    consumers=(),
    key="<product_id>:<account_id>",
    doc="accounts' health band changes, from scheduled and on-demand scoring",
)

# Every account each scoring run scored, as JSON `shared.health.HealthUpdate`: score, band and
# the previous ones, measures, recent activity and traits. The rules service evaluates health
# rules on them. Keyed and sent like HEALTH_BANDS, in the same run.
HEALTH_UPDATES = Topic(
    suffix="health.updates",
    partitions=4,
    producer="metrics",
    consumers=("rules",),
    key="<product_id>:<account_id>",
    doc="every account's health after each scoring run",
)

# Every change of a CS task, as JSON `shared.tasks.TaskEvent`, keyed by task so that a task's
# changes stay in order. Sent at least once from the rules service's task history; the metrics
# service keeps them in ClickHouse (`task_events`) for dashboards.
TASKS = Topic(
    suffix="tasks",
    partitions=4,
    producer="rules",
    consumers=("metrics",),
    key="<task_id>",
    doc="CS tasks raised, re-fired, updated and closed",
)

ALL: tuple[Topic, ...] = (EVENTS, EVENTS_DLQ, HEALTH_BANDS, HEALTH_UPDATES, TASKS)
