from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiokafka import ConsumerRecord

from services.metrics.consumer import Batch, decode, insert_isolating_refused, to_row
from services.metrics.warehouse import Warehouse
from shared.events import Event, encode_record
from tests.metrics.factories import make_row


def make_event(**overrides: Any) -> Event:
    fields: dict[str, Any] = {
        "tenant_id": "ten_1",
        "product_id": "prd_1",
        "message_id": "m1",
        "type": "track",
        "event": "opened",
        "user_id": "u1",
        "timestamp": datetime(2014, 5, 27, 3, 12, tzinfo=UTC),
        "received_at": datetime(2026, 12, 3, tzinfo=UTC),
        **overrides,
    }
    return Event(**fields)


def make_record(
    value: bytes | None, offset: int = 0, partition: int = 0
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="kizuna.events",
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"k",
        value=value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value or b""),
        headers=(),
    )


def test_a_row_keeps_the_event_and_its_json_fields() -> None:
    row = to_row(make_event(anonymous_id="a1", properties={"plan": "pro"}, group_id="acme"))
    assert row["timestamp"] == datetime(2014, 5, 27, 3, 12, tzinfo=UTC)
    assert row["user_id"] == "u1"
    assert row["account_id"] == "acme"
    assert row["properties"] == {"plan": "pro"}
    assert row["original_timestamp"] is None


def test_an_anonymous_event_counts_under_its_anonymous_id() -> None:
    row = to_row(make_event(user_id=None, anonymous_id="anon-7"))
    assert row["user_id"] == "anon-7"


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b"{}",
        encode_record([make_event()]).replace(b'"track"', b'"purchase"'),
        # A year the warehouse cannot store would fail the whole batch's insert.
        encode_record([make_event()]).replace(b"2014-05-27", b"1800-05-27"),
        None,
    ],
)
def test_records_that_fail_validation_are_dead_lettered_not_dropped(value: bytes | None) -> None:
    batch = Batch()
    batch.add(make_record(encode_record([make_event()]), offset=0))
    batch.add(make_record(value, offset=1))
    assert len(batch.rows) == 1
    assert len(batch.dead) == 1
    assert batch.dead[0].value == value
    assert batch.dead[0].error
    # The bad record's offset still advances, so it is not read again forever.
    assert list(batch.next_offsets.values()) == [2]


def test_offsets_to_commit_are_one_past_the_last_record_per_partition() -> None:
    batch = Batch()
    for offset, partition in [(5, 0), (6, 0), (9, 1)]:
        batch.add(make_record(encode_record([make_event()]), offset, partition))
    assert sorted((tp.partition, o) for tp, o in batch.next_offsets.items()) == [(0, 7), (1, 10)]


def test_decode_round_trips_what_ingest_produces() -> None:
    event = make_event(context={"groupId": "acme"}, traits={"email": "a@b.c"})
    assert decode(encode_record([event, event])) == [event, event]


@pytest.mark.integration
async def test_rows_the_warehouse_refuses_are_isolated_and_the_rest_written(
    warehouse: Warehouse,
) -> None:
    rows = [make_row("prd_refused", f"u{i}", "2024-02-02T00:00:00.000Z") for i in range(7)]
    rows[2]["timestamp"] = "not a time"
    rows[5]["timestamp"] = "neither"

    dead = await insert_isolating_refused(warehouse, rows)

    assert [orjson.loads(d.value or b"")["user_id"] for d in dead] == ["u2", "u5"]
    assert all(d.error.startswith("warehouse refused") for d in dead)
    written = await warehouse.rows(
        "SELECT user_id FROM events FINAL WHERE product_id = 'prd_refused' ORDER BY user_id"
    )
    assert [user for (user,) in written] == ["u0", "u1", "u3", "u4", "u6"]


@pytest.mark.parametrize(
    ("moment", "timezone", "day"),
    [
        ("2024-01-01T14:59:59+00:00", "Asia/Tokyo", "2024-01-01"),
        ("2024-01-01T15:00:00+00:00", "Asia/Tokyo", "2024-01-02"),
        ("2024-03-30T22:59:59+00:00", "Europe/Berlin", "2024-03-30"),
        ("2024-03-30T23:00:00+00:00", "Europe/Berlin", "2024-03-31"),
        ("2024-03-31T21:59:59+00:00", "Europe/Berlin", "2024-03-31"),
        ("2024-03-31T22:00:00+00:00", "Europe/Berlin", "2024-04-01"),
        ("1965-03-03T12:00:00+00:00", "UTC", "1965-03-03"),
    ],
)
def test_a_rows_day_is_its_calendar_day_in_the_products_timezone(
    moment: str, timezone: str, day: str
) -> None:
    row = to_row(make_event(timestamp=datetime.fromisoformat(moment), timezone=timezone))
    assert row["day"].isoformat() == day


def test_an_event_in_an_unknown_timezone_is_dead_lettered() -> None:
    batch = Batch()
    batch.add(make_record(encode_record([make_event(timezone="Mars/Olympus")])))
    assert (len(batch.rows), len(batch.dead)) == (0, 1)
