import base64
import gzip
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import orjson
import pytest
from fastapi import FastAPI

from services.ingest.app import create_app
from services.ingest.normalize import ProductRef
from services.ingest.routes import ROUTES
from services.ingest.settings import IngestSettings
from shared.errors import install_error_handlers
from tests.ingest.fakes import RecordingPublisher, StaticKeys

WRITE_KEY = "wk_test"
PRODUCT = ProductRef("ten_1", "prd_1", "UTC")


def make_event(**overrides: Any) -> dict[str, Any]:
    return {"type": "track", "event": "opened", "userId": "u1", **overrides}


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
async def client(publisher: RecordingPublisher) -> AsyncIterator[httpx.AsyncClient]:
    # The routes alone, with the broker and content service replaced by fakes.
    app = FastAPI()
    app.state.settings = IngestSettings()
    app.state.publisher = publisher
    app.state.write_keys = StaticKeys({WRITE_KEY: PRODUCT})
    install_error_handlers(app)
    app.router.routes.extend(ROUTES)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        yield http


@pytest.mark.parametrize("call", ["track", "identify", "page", "screen"])
async def test_single_calls_are_accepted(
    client: httpx.AsyncClient, publisher: RecordingPublisher, call: str
) -> None:
    response = await client.post(f"/v1/{call}", json=make_event(), headers=basic(WRITE_KEY))
    assert response.status_code == 200
    assert response.json() == {"success": True}
    assert [e.type for e in publisher.published] == [call]


async def test_group_and_alias_need_their_ids(client: httpx.AsyncClient) -> None:
    group = await client.post("/v1/group", json={"userId": "u1"}, headers=basic(WRITE_KEY))
    alias = await client.post("/v1/alias", json={"userId": "u1"}, headers=basic(WRITE_KEY))
    assert group.status_code == 400
    assert group.json()["detail"] == "a group call needs `groupId`"
    assert alias.status_code == 400


async def test_write_key_in_body_is_accepted(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    body = {"batch": [make_event()], "writeKey": WRITE_KEY}
    response = await client.post("/v1/batch", json=body)
    assert response.status_code == 200
    assert publisher.published[0].product_id == "prd_1"


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, "missing_write_key"), (basic("wk_other"), "invalid_write_key")],
)
async def test_a_missing_or_unknown_write_key_is_rejected_with_401(
    client: httpx.AsyncClient, headers: dict[str, str], code: str
) -> None:
    response = await client.post("/v1/track", json=make_event(), headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert set(response.json()) >= {"type", "code", "detail", "attr"}


async def test_text_plain_body_from_send_beacon_is_read_as_json(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    headers = {**basic(WRITE_KEY), "Content-Type": "text/plain;charset=UTF-8"}
    response = await client.post("/v1/track", content=orjson.dumps(make_event()), headers=headers)
    assert response.status_code == 200
    assert len(publisher.published) == 1


async def test_gzip_body_is_accepted(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    body = gzip.compress(orjson.dumps({"batch": [make_event(), make_event(userId="u2")]}))
    headers = {**basic(WRITE_KEY), "Content-Encoding": "gzip"}
    response = await client.post("/v1/batch", content=body, headers=headers)
    assert response.status_code == 200
    assert [e.user_id for e in publisher.published] == ["u1", "u2"]


async def test_gzip_bomb_over_the_decompressed_cap_is_rejected_with_413(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    padding = "x" * (600 * 1024)
    body = gzip.compress(orjson.dumps({"batch": [make_event(properties={"p": padding})]}))
    assert len(body) < 10 * 1024
    headers = {**basic(WRITE_KEY), "Content-Encoding": "gzip"}
    response = await client.post("/v1/batch", content=body, headers=headers)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert publisher.published == []


async def test_batch_over_500kb_is_rejected_with_413(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    events = [make_event(properties={"p": "y" * 20_000}) for _ in range(30)]
    response = await client.post("/v1/batch", json={"batch": events}, headers=basic(WRITE_KEY))
    assert response.status_code == 413
    assert publisher.published == []


async def test_event_over_32kb_is_rejected_with_413(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    event = make_event(properties={"p": "z" * (33 * 1024)})
    response = await client.post("/v1/track", json=event, headers=basic(WRITE_KEY))
    assert response.status_code == 413
    assert publisher.published == []


async def test_event_of_32kb_in_a_batch_is_named_and_the_others_accepted(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    events = [make_event(), make_event(properties={"p": "z" * (33 * 1024)})]
    response = await client.post("/v1/batch", json={"batch": events}, headers=basic(WRITE_KEY))
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "payload_too_large"
    assert response.json()["errors"][0]["attr"] == "batch.1"
    assert len(publisher.published) == 1


async def test_invalid_events_are_named_and_valid_ones_of_the_batch_accepted(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    events = [
        make_event(messageId="ok-1"),
        make_event(event=None),
        {"type": "track", "event": "x"},
        make_event(type="purchase"),
        make_event(messageId="ok-2", timestamp="not a time"),
        make_event(messageId="ok-3"),
    ]
    response = await client.post("/v1/batch", json={"batch": events}, headers=basic(WRITE_KEY))
    body = response.json()
    assert response.status_code == 400
    assert body["code"] == "invalid_events"
    assert body["accepted"] == 2
    assert [(e["index"], e["attr"]) for e in body["errors"]] == [
        (1, "batch.1.event"),
        (2, "batch.2.userId"),
        (3, "batch.3.type"),
        (4, "batch.4.timestamp"),
    ]
    assert [e.message_id for e in publisher.published] == ["ok-1", "ok-3"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b'{"batch": [', "invalid_json"),
        (b"[1, 2]", "invalid_body"),
        (b'{"batch": []}', "invalid_body"),
        (b'{"batch": {"type": "track"}}', "invalid_body"),
    ],
)
async def test_malformed_bodies_get_400(client: httpx.AsyncClient, body: bytes, code: str) -> None:
    response = await client.post("/v1/batch", content=body, headers=basic(WRITE_KEY))
    assert response.status_code == 400
    assert response.json()["code"] == code


@pytest.mark.parametrize("call", ["track", "identify"])
async def test_a_single_call_that_is_not_json_gets_400_invalid_json(
    client: httpx.AsyncClient, publisher: RecordingPublisher, call: str
) -> None:
    response = await client.post(f"/v1/{call}", content=b'{"event": ', headers=basic(WRITE_KEY))
    assert (response.status_code, response.json()["code"]) == (400, "invalid_json")
    assert response.json()["detail"].startswith("the body is not valid JSON")
    assert publisher.published == []


async def test_numeric_ids_are_kept_as_strings(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    event = make_event(userId=4365, context={"groupId": 1038})
    response = await client.post("/v1/track", json=event, headers=basic(WRITE_KEY))
    assert response.status_code == 200
    assert (publisher.published[0].user_id, publisher.published[0].group_id) == ("4365", "1038")


async def test_broker_down_gives_503_with_retry_after(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    publisher.down = True
    response = await client.post("/v1/track", json=make_event(), headers=basic(WRITE_KEY))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "broker_unavailable"


async def test_an_authorization_header_that_is_not_ascii_falls_back_to_the_body_write_key(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    body = orjson.dumps({**make_event(), "writeKey": WRITE_KEY})
    headers = {"Authorization": "Basic é".encode()}

    response = await client.post("/v1/track", content=body, headers=headers)

    assert response.status_code == 200
    assert len(publisher.published) == 1


@pytest.mark.parametrize("path", ["/v1/track", "/v1/batch"])
async def test_a_get_on_a_tracking_route_gets_405_in_the_error_shape(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, headers=basic(WRITE_KEY))
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert set(response.json()) >= {"type", "code", "detail", "attr"}


async def test_cors_preflight_allows_any_origin() -> None:
    app = create_app(IngestSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        response = await http.options(
            "/v1/batch",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,authorization",
            },
        )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "timestamp", ["1899-12-31T00:00:00Z", "2300-01-01T00:00:00Z", "yesterday", 10**15]
)
async def test_timestamps_the_warehouse_cannot_store_are_refused(
    client: httpx.AsyncClient, publisher: RecordingPublisher, timestamp: object
) -> None:
    event = make_event(timestamp=timestamp)
    response = await client.post("/v1/track", json=event, headers=basic(WRITE_KEY))
    assert response.status_code == 400
    assert response.json()["attr"] == "timestamp"
    assert publisher.published == []


async def test_a_malformed_batch_sent_at_is_named(client: httpx.AsyncClient) -> None:
    body = {"batch": [make_event()], "sentAt": "soon"}
    response = await client.post("/v1/batch", json=body, headers=basic(WRITE_KEY))
    assert response.status_code == 400
    assert (response.json()["code"], response.json()["attr"]) == ("invalid_body", "sentAt")


async def test_json_nested_deeper_than_32_levels_is_refused(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    nested: object = "leaf"
    for _ in range(40):
        nested = [nested]
    events = [make_event(properties={"deep": nested}), make_event()]
    response = await client.post("/v1/batch", json={"batch": events}, headers=basic(WRITE_KEY))
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "batch.0.properties"
    assert len(publisher.published) == 1

    deep_context = {"batch": [make_event()], "context": {"deep": nested}}
    response = await client.post("/v1/batch", json=deep_context, headers=basic(WRITE_KEY))
    assert (response.status_code, response.json()["code"]) == (400, "invalid_body")


async def test_the_batch_context_counts_towards_each_events_32kb(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    body = {"batch": [make_event(), make_event()], "context": {"blob": "c" * (32 * 1024)}}
    response = await client.post("/v1/batch", json=body, headers=basic(WRITE_KEY))
    assert response.status_code == 400
    assert [e["code"] for e in response.json()["errors"]] == ["payload_too_large"] * 2
    assert publisher.published == []


@pytest.mark.parametrize("key", ["nope/", "../../healthz", "k" * 300, "wk with space"])
async def test_write_keys_that_cannot_be_keys_get_401(client: httpx.AsyncClient, key: str) -> None:
    response = await client.post("/v1/track", json={**make_event(), "writeKey": key})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"


async def test_a_malformed_basic_header_falls_back_to_the_body_write_key(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Authorization": "Basic %%%"}
    body = {**make_event(), "writeKey": WRITE_KEY}
    assert (await client.post("/v1/track", json=body, headers=headers)).status_code == 200


async def test_concatenated_gzip_members_are_one_body_and_truncated_gzip_is_refused(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    whole = orjson.dumps({"batch": [make_event()]})
    headers = {**basic(WRITE_KEY), "Content-Encoding": "gzip"}
    two_members = gzip.compress(whole[:10]) + gzip.compress(whole[10:])
    truncated = gzip.compress(whole)[:-6]
    assert (await client.post("/v1/batch", content=two_members, headers=headers)).status_code == 200
    response = await client.post("/v1/batch", content=truncated, headers=headers)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_body")
    assert len(publisher.published) == 1


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_timestamps_that_overflow_on_conversion_get_400(
    client: httpx.AsyncClient, timestamp: str
) -> None:
    response = await client.post(
        "/v1/track", json=make_event(timestamp=timestamp), headers=basic(WRITE_KEY)
    )
    assert response.status_code == 400


async def test_an_empty_user_id_beside_an_anonymous_id_is_absent(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    event = make_event(userId="", anonymousId="anon-1")
    assert (await client.post("/v1/track", json=event, headers=basic(WRITE_KEY))).status_code == 200
    published = publisher.published[0]
    assert (published.user_id, published.anonymous_id) == ("anon-1", "anon-1")


@pytest.mark.parametrize("field", ["properties", "traits", "context"])
async def test_json_fields_that_are_not_objects_are_named(
    client: httpx.AsyncClient, field: str
) -> None:
    response = await client.post(
        "/v1/track", json=make_event(**{field: [1, 2]}), headers=basic(WRITE_KEY)
    )
    assert (response.status_code, response.json()["attr"]) == (400, field)


async def test_many_brackets_that_nest_shallowly_are_accepted(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    wide = {f"k{i}": {"v": [i]} for i in range(100)}
    response = await client.post(
        "/v1/track", json=make_event(properties=wide), headers=basic(WRITE_KEY)
    )
    assert response.status_code == 200
    assert msgspec.json.decode(publisher.published[0].properties) == wide


async def test_a_batch_context_group_names_the_account_of_every_call(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    body = {"batch": [make_event(), make_event(context={"groupId": "own"})]}
    body["context"] = {"groupId": "acme"}
    response = await client.post("/v1/batch", json=body, headers=basic(WRITE_KEY))
    assert response.status_code == 200
    assert [event.group_id for event in publisher.published] == ["acme", "own"]


async def test_pathologically_deep_json_gets_400_not_a_crash(client: httpx.AsyncClient) -> None:
    depth = 100_000
    body = b'{"batch": [{"type": "track", "event": "e", "userId": "u", "properties": {"a": '
    body += b"[" * depth + b"]" * depth + b"}}]}"
    response = await client.post("/v1/batch", content=body, headers=basic(WRITE_KEY))
    assert response.status_code == 400
