from collections.abc import Iterator
from pathlib import Path

import pytest

from kizuna import xuetangx

from .fake_ingest import IngestRecorder, ThreadedServer, make_ingest_app
from .xuetangx_factories import TINY_ROWS, write_dataset


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    """A dataset directory holding TINY_ROWS as usage_daily.csv."""
    return write_dataset(tmp_path / "xuetangx", TINY_ROWS)


@pytest.fixture
def tiny_csv(tiny_dir: Path) -> Path:
    return tiny_dir / xuetangx.USAGE_FILE


@pytest.fixture
def real_csv(xuetangx_dir: Path) -> Path:
    """The real usage_daily.csv; `xuetangx_dir` skips when the dataset is absent."""
    return xuetangx_dir / xuetangx.USAGE_FILE


@pytest.fixture
def recorder() -> IngestRecorder:
    return IngestRecorder()


@pytest.fixture
def ingest_url(recorder: IngestRecorder) -> Iterator[str]:
    """The recording ingest app served by uvicorn on a real port."""
    server = ThreadedServer(make_ingest_app(recorder))
    server.start()
    yield server.url
    server.stop()
