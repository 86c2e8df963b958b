from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from services.ingest.normalize import OutOfRange, ProductRef, corrected_timestamp, to_event
from services.ingest.schemas import Batch, Message
from shared.events import as_utc

RECEIVED = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)
TEN_MINUTES = timedelta(minutes=10)
PRODUCT = ProductRef("ten_1", "prd_1", "UTC")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def make_message(**overrides: object) -> Message:
    fields: dict[str, object] = {"type": "track", "event": "opened", "userId": "u1", **overrides}
    message = msgspec.json.decode(msgspec.json.encode(fields), type=Message)
    message.check_required()
    return message


def test_clock_skew_is_corrected_with_sent_at() -> None:
    # The client's clock is 1 h fast: it stamped the event 5 s before it sent it.
    original = at("2026-12-03T13:00:00+00:00")
    sent_at = at("2026-12-03T13:00:05+00:00")
    assert corrected_timestamp(RECEIVED, original, sent_at, TEN_MINUTES) == at(
        "2026-12-03T11:59:55+00:00"
    )


def test_without_sent_at_the_original_timestamp_is_kept() -> None:
    original = at("2014-05-27T03:12:00+00:00")
    assert corrected_timestamp(RECEIVED, original, None, TEN_MINUTES) == original


def test_without_any_timestamp_the_event_happened_when_received() -> None:
    assert corrected_timestamp(RECEIVED, None, None, TEN_MINUTES) == RECEIVED


@pytest.mark.parametrize(
    ("ahead", "expected_ahead"),
    [(timedelta(minutes=9), timedelta(minutes=9)), (timedelta(minutes=11), timedelta(0))],
)
def test_timestamps_too_far_in_the_future_become_received_at(
    ahead: timedelta, expected_ahead: timedelta
) -> None:
    result = corrected_timestamp(RECEIVED, RECEIVED + ahead, None, TEN_MINUTES)
    assert result == RECEIVED + expected_ahead


def test_old_timestamps_are_accepted_for_backfills() -> None:
    event = to_event(
        make_message(timestamp="2013-10-27T00:00:01Z"), None, PRODUCT, RECEIVED, TEN_MINUTES
    )
    assert event.timestamp == at("2013-10-27T00:00:01+00:00")
    assert event.original_timestamp == event.timestamp


def test_a_timestamp_without_timezone_is_utc() -> None:
    assert as_utc(at("2026-12-03T09:00:00")) == at("2026-12-03T09:00:00+00:00")
    assert as_utc(at("2026-12-03T09:00:00+09:00")) == at("2026-12-03T00:00:00+00:00")


def test_batch_sent_at_and_context_apply_to_each_message() -> None:
    envelope = msgspec.json.decode(
        msgspec.json.encode(
            {
                "batch": [{}],
                "sentAt": "2026-12-03T13:00:05Z",
                "context": {"library": {"name": "x"}, "ip": "1.2.3.4"},
            }
        ),
        type=Batch,
    )
    message = make_message(timestamp="2026-12-03T13:00:00Z", context={"ip": "5.6.7.8"})
    event = to_event(message, envelope, PRODUCT, RECEIVED, TEN_MINUTES)
    assert event.sent_at == at("2026-12-03T13:00:05+00:00")
    assert event.timestamp == at("2026-12-03T11:59:55+00:00")
    assert msgspec.json.decode(event.context) == {"library": {"name": "x"}, "ip": "5.6.7.8"}


def test_message_id_is_kept_as_sent_and_made_when_missing() -> None:
    kept = to_event(make_message(messageId="m-1"), None, PRODUCT, RECEIVED, TEN_MINUTES)
    made = to_event(make_message(), None, PRODUCT, RECEIVED, TEN_MINUTES)
    assert kept.message_id == "m-1"
    assert len(made.message_id) == 36


@pytest.mark.parametrize(
    ("overrides", "account"),
    [
        ({"context": {"groupId": "acme"}}, "acme"),
        ({"context": {"groupId": 42}}, "42"),
        ({"type": "group", "groupId": "acme", "event": None}, "acme"),
        ({}, None),
    ],
)
def test_the_account_is_the_group_the_call_names(
    overrides: dict[str, object], account: str | None
) -> None:
    event = to_event(make_message(**overrides), None, PRODUCT, RECEIVED, TEN_MINUTES)
    assert event.group_id == account


def test_a_correction_that_lands_before_1900_is_refused() -> None:
    message = make_message(timestamp="1901-01-01T00:00:00Z", sentAt="2200-01-01T00:00:00Z")
    with pytest.raises(OutOfRange):
        to_event(message, None, PRODUCT, RECEIVED, TEN_MINUTES)
