"""Work a service runs beside its API (Kafka consumers, schedulers): started with the app,
cancelled when it stops, and fatal when it fails."""

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Coroutine, Iterable

log = logging.getLogger(__name__)


def start(work: Coroutine[None, None, None], name: str) -> "asyncio.Task[None]":
    task = asyncio.create_task(work, name=name)
    task.add_done_callback(_stop_process_if_failed)
    return task


async def stop(tasks: Iterable["asyncio.Task[None]"]) -> None:
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _stop_process_if_failed(task: "asyncio.Task[None]") -> None:
    """Background work that died is a crash: stop the process so its supervisor restarts it."""
    if task.cancelled() or task.exception() is None:
        return
    log.error("task_crashed", extra={"task": task.get_name()}, exc_info=task.exception())
    os.kill(os.getpid(), signal.SIGTERM)
