import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
XUETANGX = REPO.parent / "shared" / "data" / "xuetangx-kddcup2015-dropout"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def xuetangx_dir() -> Path:
    """The real dataset beside the checkout; tests that need it skip when it is absent."""
    if not (XUETANGX / "usage_daily.csv").exists():
        pytest.skip(f"dataset not found at {XUETANGX}")
    return XUETANGX
