"""What the benchmark scripts share: a stack of their own on free ports, and result files."""

import json
import os
import platform
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kizuna.stack import SERVICES, Stack, StackSettings
from services.content.bootstrap import DemoKeys

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DATA = ROOT.parent / "shared" / "data" / "xuetangx-kddcup2015-dropout"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def bench_stack(
    var_dir: Path, service_env: dict[str, str] | None = None
) -> Iterator[tuple[Stack, DemoKeys]]:
    """A whole embedded stack in `var_dir` on free ports; stopped on exit."""
    ports = {f"{name}_port": free_port() for name in SERVICES}
    settings = StackSettings(var_dir=var_dir, broker_port=free_port(), **ports)
    stack = Stack(settings, log_dir=var_dir / "logs", service_env=service_env)
    demo = stack.start()
    try:
        yield stack, demo
    finally:
        stack.stop()


def machine() -> dict[str, Any]:
    return {
        "machine": platform.machine(),
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_result(name: str, result: dict[str, Any]) -> Path:
    """Write bench/results/<name>.json with the machine's description added."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({**result, **machine()}, indent=2) + "\n")
    return path
