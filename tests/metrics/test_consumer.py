from datetime import UTC, datetime

import msgspec
import pytest
from aiokafka import ConsumerRecord, TopicPartition

from services.metrics.consumer import (
    BEHIND_RECORDS,
    Batch,
    Record,
    age_limit,
    block_of,
    decode_keys,
    insert_isolating_refused,
    with_accounts,
)
from services.metrics.settings import MetricsSettings
from services.metrics.warehouse import Warehouse
from shared.events import encode_record, local_day
from tests.metrics.factories import make_event


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


def good_record() -> bytes:
    return encode_record([make_event()])


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b"{}",
        good_record().replace(b'"track"', b'"purchase"'),
        good_record().replace(b'"message_id":"m1"', b'"message_id":""'),
        good_record().replace(b',"day":"2014-05-27"', b""),
        good_record().replace(b'"day":"2014-05-27"', b'"day":"2014-13-45"'),
        # A year the warehouse cannot store would wrap around in DateTime64.
        good_record().replace(b"2014-05-27T", b"1800-05-27T"),
        good_record().replace(b"03:12:00Z", b"03:12:00"),  # no timezone
        None,
    ],
)
def test_records_that_fail_validation_are_dead_lettered_not_dropped(value: bytes | None) -> None:
    batch = Batch()
    batch.add(make_record(good_record(), offset=0))
    batch.add(make_record(value, offset=1))
    assert batch.events == 1
    assert len(batch.dead) == 1
    assert batch.dead[0].value == value
    assert batch.dead[0].error
    # The bad record's offset still advances, so it is not read again forever.
    assert list(batch.next_offsets.values()) == [2]


def test_offsets_to_commit_are_one_past_the_last_record_per_partition() -> None:
    batch = Batch()
    for offset, partition in [(5, 0), (6, 0), (9, 1)]:
        batch.add(make_record(good_record(), offset, partition))
    assert sorted((tp.partition, o) for tp, o in batch.next_offsets.items()) == [(0, 7), (1, 10)]


def test_an_empty_record_advances_the_offset_and_writes_nothing() -> None:
    batch = Batch()
    batch.add(make_record(b"[]", offset=3))
    assert (batch.records, batch.dead, batch.events) == ([], [], 0)
    assert list(batch.next_offsets.values()) == [4]


def test_the_keys_are_read_from_what_ingest_produces() -> None:
    record = encode_record([make_event(group_id="acme"), make_event(message_id="m2")])
    keys = decode_keys(record)
    assert [(k.message_id, k.user_id, k.group_id) for k in keys] == [
        ("m1", "u1", "acme"),
        ("m2", "u1", None),
    ]


def test_records_are_rewritten_only_where_an_account_was_attributed() -> None:
    value = encode_record([make_event(group_id="acme"), make_event(message_id="m2")])
    record = Record(b"k", value, decode_keys(value))
    assert with_accounts(record, ["", ""]) is record
    rewritten = msgspec.json.decode(with_accounts(record, ["", "acme"]).value)
    assert ["account_id" in event for event in rewritten] == [False, True]
    assert rewritten[1]["account_id"] == "acme"


def test_a_block_is_one_array_of_every_records_events() -> None:
    values = [encode_record([make_event(message_id=f"m{i}")] * 2) for i in range(3)]
    block = block_of([Record(None, value, decode_keys(value)) for value in values])
    assert [event["message_id"] for event in msgspec.json.decode(block)] == [
        "m0",
        "m0",
        "m1",
        "m1",
        "m2",
        "m2",
    ]


@pytest.mark.integration
async def test_records_the_warehouse_refuses_are_isolated_and_the_rest_written(
    warehouse: Warehouse,
) -> None:
    values = [
        encode_record([make_event(product_id="prd_refused", user_id=f"u{i}", message_id=f"m{i}")])
        for i in range(7)
    ]
    # Past the consumer's own checks, refused by ClickHouse: an unknown field, a bad time.
    values[2] = values[2].replace(b'"tenant_id"', b'"tenant":"x","tenant_id"')
    values[5] = values[5].replace(b'"received_at":"2026-12-03T00:00:00Z"', b'"received_at":"x"')
    records = [Record(b"k", value, decode_keys(value)) for value in values]

    dead = await insert_isolating_refused(warehouse, records)

    assert [d.value for d in dead] == [values[2], values[5]]
    assert all(d.error.startswith("warehouse refused") for d in dead)
    written = await warehouse.rows(
        "SELECT user_id, account_id FROM events FINAL WHERE product_id = 'prd_refused'"
        " ORDER BY user_id"
    )
    assert [user for user, _ in written] == ["u0", "u1", "u3", "u4", "u6"]


@pytest.mark.integration
async def test_an_event_keeps_its_group_as_account_unless_one_was_attributed(
    warehouse: Warehouse,
) -> None:
    value = encode_record(
        [
            make_event(product_id="prd_acc", message_id="m1", group_id="acme"),
            make_event(product_id="prd_acc", message_id="m2"),
            make_event(product_id="prd_acc", message_id="m3"),
        ]
    )
    record = with_accounts(Record(None, value, decode_keys(value)), ["", "globex", ""])
    assert await insert_isolating_refused(warehouse, [record]) == []
    rows = await warehouse.rows(
        "SELECT message_id, account_id, timezone FROM events WHERE product_id = 'prd_acc'"
        " ORDER BY message_id"
    )
    assert rows == [("m1", "acme", "UTC"), ("m2", "globex", "UTC"), ("m3", "", "UTC")]


@pytest.mark.integration
async def test_an_attributed_event_keeps_values_python_cannot_hold_and_is_written(
    warehouse: Warehouse,
) -> None:
    huge = msgspec.Raw(b'{"x":1e400,"n":123456789012345678901234567890}')
    value = encode_record([make_event(product_id="prd_big", message_id="m1", properties=huge)])

    record = with_accounts(Record(None, value, decode_keys(value)), ["globex"])

    assert b'"x":1e400' in record.value
    assert await insert_isolating_refused(warehouse, [record]) == []
    rows = await warehouse.rows(
        "SELECT account_id, properties FROM events WHERE product_id = 'prd_big'"
    )
    assert rows == [("globex", '{"x":1e400,"n":123456789012345678901234567890}')]


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
def test_a_day_is_the_calendar_day_in_the_products_timezone(
    moment: str, timezone: str, day: str
) -> None:
    assert local_day(datetime.fromisoformat(moment), timezone).isoformat() == day


def test_an_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown timezone"):
        local_day(datetime(2024, 1, 1, tzinfo=UTC), "Mars/Olympus")


@pytest.mark.parametrize(
    ("ends", "expected_age_s"),
    [
        ({0: 10, 1: 20}, 0.2),  # caught up: both partitions end where the batch does
        ({0: 10 + BEHIND_RECORDS - 1, 1: 20}, 0.2),
        ({0: 10 + BEHIND_RECORDS // 2, 1: 20 + BEHIND_RECORDS // 2}, 1.5),  # behind, in all
        ({0: None, 1: 20}, 0.2),  # an end not fetched yet counts as no backlog
    ],
)
def test_a_batch_may_grow_older_only_while_the_consumer_is_behind(
    ends: dict[int, int | None], expected_age_s: float
) -> None:
    settings = MetricsSettings(batch_max_age_s=0.2, batch_max_age_behind_s=1.5)
    batch = Batch()
    batch.add(make_record(good_record(), offset=9, partition=0))
    batch.add(make_record(good_record(), offset=19, partition=1))

    def highwater(partition: TopicPartition) -> int | None:
        return ends[partition.partition]

    assert age_limit(batch, highwater, settings) == expected_age_s
