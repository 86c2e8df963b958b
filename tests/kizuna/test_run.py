"""`kizuna run` as a user runs it: it comes up, restarts what crashes, and stops on SIGTERM."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.integration.conftest import eventually

pytestmark = pytest.mark.integration

SERVICES = ("ingest", "metrics", "rules", "content")


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def pids_in(log: Path, service: str) -> list[int]:
    found = re.findall(rf"service_started service={service} pid=(\d+)", log.read_text())
    return [int(pid) for pid in found]


def test_kizuna_run_restarts_a_crashed_service_and_stops_cleanly(tmp_path: Path) -> None:
    ports = {service: free_port() for service in SERVICES}
    env = {
        **os.environ,
        "KIZUNA_VAR_DIR": str(tmp_path / "var"),
        "KIZUNA_BROKER_PORT": str(free_port()),
    }
    env.update({f"KIZUNA_{s.upper()}_PORT": str(port) for s, port in ports.items()})
    env.pop("KIZUNA_KAFKA_BOOTSTRAP", None)
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        run = subprocess.Popen(
            [sys.executable, "-m", "kizuna.cli", "run"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        urls = {s: f"http://127.0.0.1:{port}" for s, port in ports.items()}
        eventually(lambda: "Kizuna is running" in log.read_text(), timeout_s=90)
        assert all(healthy(url) for url in urls.values())
        keys = (tmp_path / "var" / "demo-keys.json").read_text()
        assert "write_key" in keys and "api_key" in keys

        [first] = pids_in(log, "rules")
        os.kill(first, signal.SIGKILL)
        eventually(lambda: len(pids_in(log, "rules")) == 2, timeout_s=20)
        eventually(lambda: healthy(urls["rules"]), timeout_s=30)

        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=30) == 0
        children = [pid for s in SERVICES for pid in pids_in(log, s)]
        time.sleep(0.5)
        assert not any(_alive(pid) for pid in children)
        assert not any(healthy(url) for url in urls.values())
    finally:
        if run.poll() is None:
            run.kill()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie of an exited child still has a pid; it is not running.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def test_kizuna_run_refuses_a_taken_port_with_a_plain_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "KIZUNA_VAR_DIR": str(tmp_path / "var"),
            "KIZUNA_INGEST_PORT": str(port),
        }
        done = subprocess.run(
            [sys.executable, "-m", "kizuna.cli", "run"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert f"port(s) in use: {port} (ingest)" in done.stderr
    assert "Traceback" not in done.stderr
