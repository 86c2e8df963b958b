import asyncio

import pytest
from starlette.requests import Request
from starlette.types import Message

from services.ingest.body import read_body
from services.ingest.errors import RequestTimeout


def stalling_request(first_chunk: bytes) -> Request:
    """A request whose client sends part of the body, then nothing."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": first_chunk, "more_body": True}
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    scope = {"type": "http", "method": "POST", "path": "/v1/track", "headers": []}
    return Request(scope, receive)


async def test_a_body_that_stops_arriving_gets_408_not_a_hung_worker() -> None:
    with pytest.raises(RequestTimeout):
        await read_body(stalling_request(b'{"userId": '), max_bytes=1000, timeout_s=0.2)
