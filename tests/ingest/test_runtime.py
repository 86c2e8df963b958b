import gc
from collections.abc import Iterator

import pytest

from services.ingest.runtime import GC_YOUNG_THRESHOLD, settle_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_settle_gc_freezes_what_exists_and_makes_young_collections_rarer() -> None:
    survivor = [object() for _ in range(1000)]

    settle_gc()

    assert gc.get_freeze_count() >= len(survivor)
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
