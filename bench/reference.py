"""Running `bench/reference_app.py` beside a stack, on its own topic of the same broker."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.common import ROOT
from shared.kafka import create_topics
from shared.settings import KizunaSettings
from shared.topics import Topic

NAMESPACE = "bench"
TOPIC = Topic(
    suffix="reference",
    partitions=4,  # as many as Kizuna's events topic
    producer="bench/reference_app.py",
    consumers=(),
    key="none",
    doc="one record per request the reference endpoint accepted",
)


@contextmanager
def reference_server(bootstrap: str, port: int, log: Path) -> Iterator[tuple[int, str]]:
    """The reference app in its own uvicorn process (one worker) on 127.0.0.1:`port`; yields
    its pid and topic. Raises RuntimeError when it does not answer within 30 s."""
    settings = KizunaSettings(kafka_bootstrap=bootstrap, kafka_namespace=NAMESPACE)
    asyncio.run(create_topics(settings, (TOPIC,)))
    topic = TOPIC.name(NAMESPACE)

    env = {"BENCH_REFERENCE_KAFKA_BOOTSTRAP": bootstrap, "BENCH_REFERENCE_TOPIC": topic}
    command = [sys.executable, "-m", "uvicorn", "bench.reference_app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", process)
        yield process.pid, topic
    finally:
        process.terminate()
        process.wait(10)


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the reference app exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the reference app did not answer within 30 s")
