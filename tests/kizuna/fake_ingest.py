"""A real FastAPI app that speaks the `/v1/batch` contract and records what it receives.

It answers the statuses queued in `IngestRecorder.statuses` first, then 200. Tests drive it
in-process (httpx.ASGITransport) or on a real port (`serve`, uvicorn in a thread).
"""

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class IngestRecorder:
    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    authorizations: set[str] = field(default_factory=set)

    def accepted_messages(self) -> list[dict[str, Any]]:
        return [message for body in self.accepted for message in body["batch"]]


def make_ingest_app(recorder: IngestRecorder) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/batch")
    async def batch(request: Request) -> JSONResponse:
        body = await request.json()
        recorder.received.append(body)
        recorder.authorizations.add(request.headers.get("authorization", ""))
        status = recorder.statuses.pop(0) if recorder.statuses else 200
        return _answer(status, body, recorder)

    return app


def _answer(status: int, body: dict[str, Any], recorder: IngestRecorder) -> JSONResponse:
    if status == 200:
        recorder.accepted.append(body)
        return JSONResponse({"success": True})
    if status == 503:
        error = {
            "type": "unavailable",
            "code": "broker_unavailable",
            "detail": "down",
            "attr": None,
        }
        return JSONResponse(error, status_code=503, headers={"Retry-After": "0"})
    invalid: dict[str, Any] = {
        "type": "validation_error",
        "code": "invalid_event",
        "detail": "event is required",
        "attr": "batch.0.event",
        "errors": [{"index": 0, "code": "invalid_event"}],
    }
    return JSONResponse(invalid, status_code=status)


class ThreadedServer:
    """uvicorn on a free port of 127.0.0.1, in a daemon thread."""

    def __init__(self, app: FastAPI) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    def start(self, timeout_s: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the test ingest server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
