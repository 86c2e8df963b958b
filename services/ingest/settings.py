from pydantic import Field

from shared.settings import KizunaSettings


class IngestSettings(KizunaSettings):
    max_event_bytes: int = Field(default=32 * 1024, gt=0)
    # Applies to the decompressed body too, so a small gzip body cannot expand without bound.
    max_request_bytes: int = Field(default=500 * 1024, gt=0)
    # A corrected timestamp further than this past receivedAt is replaced by receivedAt.
    max_future_skew_s: float = Field(default=600.0, ge=0)
    # Write keys are re-checked with the content service this often; a revoked key stops
    # working within write_key_ttl_s + dependency_timeout_s.
    write_key_ttl_s: float = Field(default=30.0, gt=0)
    unknown_write_key_ttl_s: float = Field(default=5.0, ge=0)
    retry_after_s: int = Field(default=5, ge=1)
    # A client that has not sent its whole body by then gets 408, freeing the worker.
    body_timeout_s: float = Field(default=10.0, gt=0)
