"""Webhook calls to a real local HTTP server: signed, retried after a 500, given up after the
last attempt."""

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.rules.models import Delivery
from services.rules.webhooks import Sender

SECRET = "s3cret-s3cret-s3cret"


class Receiver:
    """Answers each POST with the next status of `answers` (200 once they run out)."""

    def __init__(self, answers: list[int]) -> None:
        self.answers = answers
        self.calls: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((dict(self.headers), body))
                self.send_response(receiver.answers.pop(0) if receiver.answers else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver([500])
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()


async def queue(sessions: async_sessionmaker[AsyncSession], url: str) -> int:
    async with sessions() as session:
        delivery = Delivery(url=url, payload={"event": "task.created", "n": 1}, secret=SECRET)
        session.add(delivery)
        await session.commit()
        return delivery.id


async def test_a_signed_call_is_retried_after_a_500(
    sessions: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    await queue(sessions, receiver.url)
    async with httpx.AsyncClient() as client:
        sender = Sender(sessions, client, interval_s=0.01, retry_base_s=0.0, max_attempts=3)
        assert await sender.send_due() == 1  # answered 500
        assert await sender.send_due() == 1  # due again at once (no backoff here), answered 200
        assert await sender.send_due() == 0

    assert len(receiver.calls) == 2
    for headers, body in receiver.calls:
        signed = headers["X-Kizuna-Timestamp"].encode() + b"." + body
        expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
        assert headers["X-Kizuna-Signature"] == f"sha256={expected}"
        assert json.loads(body) == {"event": "task.created", "n": 1}
    async with sessions() as session:
        [delivery] = await session.scalars(select(Delivery))
        assert (delivery.status, delivery.attempts, delivery.last_error) == (
            "delivered",
            2,
            "answered 500",
        )


async def test_backoff_waits_and_the_last_failure_gives_up(
    sessions: async_sessionmaker[AsyncSession], receiver: Receiver
) -> None:
    receiver.answers[:] = [500, 503, 500]
    await queue(sessions, receiver.url)
    async with httpx.AsyncClient() as client:
        sender = Sender(sessions, client, interval_s=0.01, retry_base_s=3600, max_attempts=2)
        assert await sender.send_due() == 1
        assert await sender.send_due() == 0  # the next try is an hour away
        async with sessions() as session:
            [delivery] = await session.scalars(select(Delivery))
            waited = delivery.next_at - datetime.now(UTC)
            assert 3500 < waited.total_seconds() <= 3600
            delivery.next_at = datetime.now(UTC)
            await session.commit()
        assert await sender.send_due() == 1

    async with sessions() as session:
        [delivery] = await session.scalars(select(Delivery))
        assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert len(receiver.calls) == 2
