"""A real Kizuna stack for integration tests: Tansu, chDB, SQLite or PostgreSQL, and the four
services as processes on free ports, started the way `kizuna run` starts them."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kizuna.stack import SERVICES, Stack, StackSettings
from services.content.bootstrap import DemoKeys
from tests.conftest import free_port


@dataclass
class RunningStack:
    stack: Stack
    demo: DemoKeys
    log_dir: Path

    def url(self, service: str) -> str:
        return self.stack.settings.url(service)

    def api(self, service: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.demo.api_key}"}
        return httpx.Client(base_url=self.url(service), headers=headers, timeout=30)

    def ingest(self, write_key: str | None = None) -> httpx.Client:
        auth = (write_key or self.demo.write_key, "")
        return httpx.Client(base_url=self.url("ingest"), auth=auth, timeout=30)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.log_dir.glob("*.log"))
        )


def start_stack(var_dir: Path, **overrides: Any) -> RunningStack:
    ports = {f"{name}_port": free_port() for name in SERVICES}
    settings = StackSettings(var_dir=var_dir, broker_port=free_port(), **ports, **overrides)
    log_dir = var_dir / "logs"
    # Short cache lifetimes so that revocations show within a test's patience; schedule rules
    # looked at twice a second.
    env = {
        "KIZUNA_WRITE_KEY_TTL_S": "1",
        "KIZUNA_AUTH_CACHE_TTL_S": "1",
        "KIZUNA_SCHEDULE_INTERVAL_S": "0.5",
    }
    stack = Stack(settings, log_dir=log_dir, service_env=env)
    try:
        demo = stack.start(ready_timeout_s=60)
    except RuntimeError:
        stack.stop()
        print(RunningStack(stack, None, log_dir).logs())  # type: ignore[arg-type]
        raise
    return RunningStack(stack, demo, log_dir)


@pytest.fixture(scope="session")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    running.stack.stop()


def eventually(check: Callable[[], Any], timeout_s: float = 30.0, every_s: float = 0.25) -> Any:
    """Call `check` until it returns a truthy value or stops raising AssertionError."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout_s} s: {check}")
        time.sleep(every_s)
