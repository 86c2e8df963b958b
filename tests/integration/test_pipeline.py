"""HTTP → Kafka → ClickHouse → metrics API, through the running services."""

import uuid
from typing import Any

import pytest

from tests.integration.conftest import RunningStack, eventually

pytestmark = pytest.mark.integration


def active_users(running: RunningStack, **params: Any) -> list[int]:
    with running.api("metrics") as api:
        response = api.get("/v1/metrics/active-users", params={"product": "demo", **params})
    assert response.status_code == 200, response.text
    return [point["active_users"] for point in response.json()["series"]]


def create_product(running: RunningStack, timezone: str) -> tuple[str, str]:
    slug = f"p-{uuid.uuid4().hex[:10]}"
    with running.api("content") as api:
        response = api.post("/v1/products", json={"slug": slug, "name": slug, "timezone": timezone})
    assert response.status_code == 201, response.text
    return slug, response.json()["write_key"]["key"]


def test_days_are_counted_in_the_products_timezone(running: RunningStack) -> None:
    slug, write_key = create_product(running, "Asia/Tokyo")
    # 14:59:59Z is 23:59:59 in Tokyo on 1 Jan; 15:00:00Z is already 2 Jan there.
    batch = [
        {"type": "track", "event": "e", "userId": "late", "timestamp": "2024-01-01T14:59:59Z"},
        {"type": "track", "event": "e", "userId": "early", "timestamp": "2024-01-01T15:00:00Z"},
        {"type": "track", "event": "e", "userId": "both", "timestamp": "2024-01-01T00:00:00Z"},
        {"type": "track", "event": "e", "userId": "both", "timestamp": "2024-01-02T00:00:00Z"},
    ]
    with running.ingest(write_key) as ingest:
        assert ingest.post("/v1/batch", json={"batch": batch}).status_code == 200

    params = {"product": slug, "start": "2024-01-01", "end": "2024-01-03"}
    assert eventually(lambda: active_users(running, **params) == [2, 2, 0])


def test_events_without_a_group_are_attributed_to_the_users_last_group(
    running: RunningStack,
) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    calls = [
        ("group", {"userId": user, "groupId": "acct-a", "timestamp": "2023-03-01T08:00:00Z"}),
        ("track", {"userId": user, "event": "e", "timestamp": "2023-03-02T08:00:00Z"}),
        ("group", {"userId": user, "groupId": "acct-b", "timestamp": "2023-03-03T08:00:00Z"}),
        ("track", {"userId": user, "event": "e", "timestamp": "2023-03-04T08:00:00Z"}),
    ]
    with running.ingest() as ingest:
        for call, body in calls:  # one request each: order across requests is the client's
            assert ingest.post(f"/v1/{call}", json=body).status_code == 200

    span = {"start": "2023-03-01", "end": "2023-03-04"}
    # The last call's account first: the consumer may write the four requests in two batches.
    assert eventually(lambda: active_users(running, account="acct-b", **span) == [0, 0, 1, 1])
    assert active_users(running, account="acct-a", **span) == [1, 1, 0, 0]


def test_a_revoked_write_key_stops_working(running: RunningStack) -> None:
    with running.api("content") as api:
        created = api.post("/v1/products/demo/write-keys").json()
    event = {"userId": "u", "event": "e"}
    with running.ingest(created["key"]) as ingest:
        assert ingest.post("/v1/track", json=event).status_code == 200
        with running.api("content") as api:
            revoked = api.delete(f"/v1/products/demo/write-keys/{created['id']}")
        assert revoked.status_code == 204
        # The stack runs ingest with a 1 s key cache (60 s at most by default).
        assert eventually(lambda: ingest.post("/v1/track", json=event).status_code == 401, 10)


def test_metrics_need_a_valid_api_key(running: RunningStack) -> None:
    params = {"product": "demo", "date": "2024-01-01"}
    with running.api("metrics") as api:
        missing = api.get("/v1/metrics/stickiness", params=params, headers={"Authorization": ""})
        wrong = api.get(
            "/v1/metrics/stickiness", params=params, headers={"Authorization": "Bearer sk_nope"}
        )
        unknown = api.get("/v1/metrics/stickiness", params={**params, "product": "nope"})
        odd = api.get(
            "/v1/metrics/stickiness", params=params, headers={"Authorization": "Bearer é".encode()}
        )
    assert (missing.status_code, wrong.status_code, unknown.status_code) == (401, 401, 404)
    assert (wrong.json()["code"], odd.status_code, odd.json()["code"]) == (
        "invalid_api_key",
        401,
        "invalid_api_key",
    )


def test_a_request_whose_events_outgrow_one_kafka_record_is_accepted_and_counted(
    running: RunningStack,
) -> None:
    # 600 calls and a 2 KB batch context: a 55 KB request whose events, each carrying the
    # context, come to about 1.3 MB, over what one Kafka record may hold.
    account = f"big-{uuid.uuid4().hex[:8]}"
    calls = [
        {"type": "track", "event": "e", "userId": f"u{n}", "timestamp": "2024-02-01T10:00:00Z"}
        for n in range(600)
    ]
    body = {"batch": calls, "context": {"groupId": account, "pad": "x" * 2000}}
    with running.ingest() as ingest:
        assert ingest.post("/v1/batch", json=body).status_code == 200

    span = {"account": account, "start": "2024-02-01", "end": "2024-02-01"}
    assert eventually(lambda: active_users(running, **span) == [600])


@pytest.mark.parametrize(
    ("params", "attr"),
    [
        ({"start": "2024-01-05", "end": "2024-01-01"}, "end"),
        ({"start": "2024-01-01", "end": "2024-01-05", "interval": "year"}, "interval"),
        ({"start": "2024-02-30", "end": "2024-03-01"}, "start"),
        ({"start": "9999-12-01", "end": "9999-12-31"}, "start"),
        ({"start": "0001-01-01", "end": "2024-01-01"}, "start"),
        ({"product": "", "start": "2024-01-01", "end": "2024-01-02"}, "product"),
        ({"product": "x" * 70, "start": "2024-01-01", "end": "2024-01-02"}, "product"),
    ],
)
def test_bad_metric_queries_get_400_naming_the_parameter(
    running: RunningStack, params: dict[str, str], attr: str
) -> None:
    with running.api("metrics") as api:
        response = api.get("/v1/metrics/active-users", params={"product": "demo", **params})
    assert response.status_code == 400
    assert response.json()["attr"] == attr


@pytest.mark.parametrize("day", ["0001-01-01", "1900-01-15", "9999-12-31"])
def test_stickiness_outside_the_stored_days_gets_400(running: RunningStack, day: str) -> None:
    with running.api("metrics") as api:
        response = api.get("/v1/metrics/stickiness", params={"product": "demo", "date": day})
    assert (response.status_code, response.json()["attr"]) == (400, "date")
