"""The replay against Kizuna's own ingest routes (broker and content service faked)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from kizuna import xuetangx
from kizuna.replay import BatchLimits, Sender, SenderConfig, pack_jobs
from services.ingest.normalize import ProductRef
from services.ingest.routes import ROUTES
from services.ingest.settings import IngestSettings
from shared.errors import install_error_handlers
from tests.ingest.fakes import RecordingPublisher, StaticKeys

WRITE_KEY = "wk_replay"


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
async def ingest(publisher: RecordingPublisher) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.settings = IngestSettings()
    app.state.publisher = publisher
    app.state.write_keys = StaticKeys({WRITE_KEY: ProductRef("ten_1", "prd_1", "UTC")})
    install_error_handlers(app)
    app.router.routes.extend(ROUTES)
    transport = httpx.ASGITransport(app=app)
    auth = (WRITE_KEY, "")
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest", auth=auth) as http:
        yield http


async def test_ingest_accepts_every_replayed_message_as_sent(
    tiny_csv: Path, ingest: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    users = list(xuetangx.iter_user_messages(tiny_csv, None, ZoneInfo("Asia/Shanghai")))
    sent = {m["messageId"]: m for user in users for m in user}

    await Sender(ingest, SenderConfig(concurrency=3)).run(pack_jobs(users, BatchLimits(50)))

    published = {event.message_id: event for event in publisher.published}
    assert published.keys() == sent.keys()
    for message_id, event in published.items():
        message = sent[message_id]
        assert event.user_id == message["userId"] and event.type == message["type"]
        assert event.group_id == (message.get("groupId") or message["context"]["groupId"])
        assert event.original_timestamp == datetime.fromisoformat(message["timestamp"])


async def test_replayed_timestamps_are_stored_exactly(
    tiny_csv: Path, ingest: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    # Without sentAt ingest does not correct for clock skew: history stays where it was.
    users = list(xuetangx.iter_user_messages(tiny_csv, None, UTC))

    await Sender(ingest, SenderConfig()).run(pack_jobs(users, BatchLimits()))

    assert publisher.published
    for event in publisher.published:
        assert event.timestamp == event.original_timestamp
