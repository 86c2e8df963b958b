import msgspec

from services.ingest.publisher import records_of
from shared.events import Event
from tests.metrics.factories import make_event


def make_events(n: int, padding: int = 0) -> list[Event]:
    context = msgspec.Raw(msgspec.json.encode({"pad": "x" * padding}))
    return [make_event(message_id=f"m{i}", context=context) for i in range(n)]


def test_events_that_fit_are_one_record() -> None:
    events = make_events(10)
    assert records_of(events, limit=100_000) == [msgspec.json.encode(events)]


def test_events_over_the_limit_are_split_into_records_that_fit_in_order() -> None:
    events = make_events(600, padding=2000)

    records = records_of(events, limit=100_000)

    assert len(records) > 1
    assert all(len(record) <= 100_000 for record in records)
    decoded = [e for record in records for e in msgspec.json.decode(record, type=list[Event])]
    assert [e.message_id for e in decoded] == [e.message_id for e in events]


def test_one_event_over_the_limit_is_still_one_record() -> None:
    [event] = make_events(1, padding=5000)
    assert records_of([event], limit=1000) == [msgspec.json.encode([event])]
