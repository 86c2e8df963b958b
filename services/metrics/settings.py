from pydantic import Field

from shared.settings import KizunaSettings


class MetricsSettings(KizunaSettings):
    # A batch is written when it holds this many events or is this old, whichever comes first.
    # The age bounds how long an accepted event waits to be counted; a ClickHouse server with
    # many producers may want fewer, larger inserts (a longer age).
    batch_max_rows: int = Field(default=50_000, gt=0)
    batch_max_age_s: float = Field(default=0.2, gt=0)
    # While the consumer is behind (a backlog after a restart, a bulk replay) a batch may grow
    # this old instead: fewer, larger inserts cost ClickHouse less per event, and the events
    # queued behind it wait less in all.
    batch_max_age_behind_s: float = Field(default=1.0, gt=0)
    # How often the settler looks for days to count (see settle.py), and how many rows of
    # daily_events one of its statements may read: API queries wait behind each.
    settle_interval_s: float = Field(default=2.0, gt=0)
    settle_max_rows: int = Field(default=1_000_000, gt=0)
    # How often every product's accounts are scored and their snapshots kept (see scoring.py).
    health_interval_s: float = Field(default=3600.0, gt=0)
    # How long an API key → product answer from the content service is trusted.
    auth_cache_ttl_s: float = Field(default=30.0, ge=0)
    # Run the events consumer, the settler and the scorer inside this process (off only for API-only
    # replicas).
    consume: bool = True
