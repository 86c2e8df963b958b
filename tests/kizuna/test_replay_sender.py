"""Packing messages into requests, and posting them to a real (in-process) ingest app."""

import asyncio
import base64
import socket
from collections import defaultdict
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from kizuna import xuetangx
from kizuna.replay import (
    BatchLimits,
    BatchRejected,
    Job,
    ReplayStats,
    Sender,
    SenderConfig,
    ServerUnreachable,
    pack_jobs,
)

from .fake_ingest import IngestRecorder, make_ingest_app

SMALL_BATCHES = BatchLimits(max_events=50)
FAST = SenderConfig(concurrency=4, stall_timeout_s=2.0, first_backoff_s=0.01, max_backoff_s=0.05)


def make_user(user_id: str, tracks: int) -> list[dict[str, Any]]:
    group = {"type": "group", "messageId": f"{user_id}-group", "userId": user_id, "groupId": "C1"}
    return [group] + [
        {"type": "track", "event": "video", "messageId": f"{user_id}-{i}", "userId": user_id}
        for i in range(tracks)
    ]


def ids_of(job: Job) -> list[list[str]]:
    return [[orjson.loads(data)["messageId"] for data in batch.messages] for batch in job]


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://ingest", auth=("wk_test", ""))


async def replay(
    users: list[list[dict[str, Any]]],
    app: FastAPI,
    limits: BatchLimits = SMALL_BATCHES,
    config: SenderConfig = FAST,
) -> ReplayStats:
    async with client_for(app) as client:
        return await Sender(client, config).run(pack_jobs(users, limits))


def test_small_users_share_a_batch_and_are_never_split() -> None:
    users = [make_user("a", 3), make_user("b", 3), make_user("c", 3)]

    jobs = list(pack_jobs(users, BatchLimits(max_events=10)))

    assert [ids_of(job) for job in jobs] == [
        [["a-group", "a-0", "a-1", "a-2", "b-group", "b-0", "b-1", "b-2"]],
        [["c-group", "c-0", "c-1", "c-2"]],
    ]


def test_user_bigger_than_a_batch_becomes_a_chain_whose_tail_is_shared() -> None:
    users = [make_user("a", 2), make_user("big", 24), make_user("c", 2)]

    jobs = list(pack_jobs(users, BatchLimits(max_events=10)))

    assert len(jobs) == 2
    assert ids_of(jobs[0]) == [["a-group", "a-0", "a-1"]]
    big = [f"big-{i}" for i in range(24)]
    assert ids_of(jobs[1]) == [
        ["big-group", *big[:9]],
        big[9:19],
        [*big[19:], "c-group", "c-0", "c-1"],
    ]
    assert [batch.tracks for batch in jobs[1]] == [9, 10, 7]


def test_batches_stay_under_the_body_size_limit(tiny_csv: Path) -> None:
    limits = BatchLimits(max_events=500, max_body_bytes=4_000)
    users = xuetangx.iter_user_messages(tiny_csv, None, UTC)

    batches = [batch for job in pack_jobs(users, limits) for batch in job]

    assert all(len(b.body()) <= 4_000 for b in batches)
    assert sum(batch.tracks for batch in batches) == sum(
        course.events for course in xuetangx.summarize(tiny_csv).values()
    )


def test_event_over_the_size_limit_is_a_bug_not_a_request() -> None:
    user = make_user("a", 1)
    user[1]["properties"] = {"blob": "x" * 40_000}

    with pytest.raises(ValueError, match="a-0 is"):
        list(pack_jobs([user], BatchLimits()))


async def test_batch_answered_503_is_retried_identically_and_every_message_arrives(
    tiny_csv: Path, recorder: IngestRecorder
) -> None:
    recorder.statuses = [503]
    users = list(xuetangx.iter_user_messages(tiny_csv, None, UTC))

    stats = await replay(users, make_ingest_app(recorder), BatchLimits(max_events=50))

    rejected = recorder.received[0]
    retried = [body for body in recorder.accepted if body["batch"] == rejected["batch"]]
    assert len(retried) == 1
    sent = [message for user in users for message in user]
    assert sorted(recorder.accepted_messages(), key=str) == sorted(sent, key=str)
    assert stats.retries == 1 and stats.tracks == sum(m["type"] == "track" for m in sent)


async def test_each_users_messages_arrive_in_order_across_concurrent_requests(
    tiny_csv: Path, recorder: IngestRecorder
) -> None:
    users = list(xuetangx.iter_user_messages(tiny_csv, None, UTC))

    await replay(users, make_ingest_app(recorder), BatchLimits(max_events=20))

    arrived: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for message in recorder.accepted_messages():
        arrived[message["userId"]].append(message)
    assert dict(arrived) == {user[0]["userId"]: user for user in users}


async def test_requests_use_basic_auth_with_the_write_key(recorder: IngestRecorder) -> None:
    await replay([make_user("a", 1)], make_ingest_app(recorder))

    assert recorder.authorizations == {"Basic " + base64.b64encode(b"wk_test:").decode()}


async def test_no_more_than_concurrency_requests_are_in_flight() -> None:
    in_flight, peak = 0, 0
    app = FastAPI()

    @app.post("/v1/batch")
    async def batch(request: Request) -> JSONResponse:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return JSONResponse({"success": True})

    users = [make_user(str(i), 9) for i in range(40)]
    stats = await replay(users, app, BatchLimits(max_events=10), FAST)

    assert stats.batches == 40 and peak == FAST.concurrency


@pytest.mark.parametrize(("status", "expected"), [(400, "code=invalid_event"), (401, "write-key")])
async def test_batch_refused_by_the_server_stops_the_replay(
    recorder: IngestRecorder, status: int, expected: str
) -> None:
    recorder.statuses = [status]
    users = [make_user(str(i), 5) for i in range(20)]

    with pytest.raises(BatchRejected, match=expected) as raised:
        await replay(users, make_ingest_app(recorder), BatchLimits(max_events=10))
    assert f"HTTP {status}" in str(raised.value)
    assert "attr=batch.0.event" in str(raised.value) or status == 401


async def test_broker_unavailable_for_longer_than_the_stall_timeout_gives_up(
    recorder: IngestRecorder,
) -> None:
    recorder.statuses = [503] * 100_000
    config = SenderConfig(concurrency=2, stall_timeout_s=0.3)

    with pytest.raises(ServerUnreachable, match="no batch acknowledged"):
        await replay([make_user("a", 1)], make_ingest_app(recorder), config=config)
    assert not recorder.accepted


async def test_nothing_listening_gives_up_after_the_stall_timeout() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: connections are refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = SenderConfig(concurrency=2, stall_timeout_s=1.0, first_backoff_s=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()

    async with httpx.AsyncClient(base_url=url, auth=("wk_test", "")) as client:
        with pytest.raises(ServerUnreachable, match="kizuna run"):
            await Sender(client, config).run(pack_jobs([make_user("a", 1)], BatchLimits()))
    assert 0.5 < loop.time() - started < 5
