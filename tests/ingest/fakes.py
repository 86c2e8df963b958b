"""Stand-ins for the broker and the content service, for ingest's unit tests only."""

from services.ingest.errors import InvalidWriteKey
from services.ingest.normalize import ProductRef
from shared.errors import Unavailable
from shared.events import Event


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[Event] = []
        self.down = False
        self.ready = True

    async def publish(self, events: list[Event]) -> None:
        if self.down:
            raise Unavailable("down", code="broker_unavailable", headers={"Retry-After": "5"})
        self.published.extend(events)

    async def stop(self) -> None:
        pass


class StaticKeys:
    def __init__(self, keys: dict[str, ProductRef]) -> None:
        self._keys = keys

    async def resolve(self, write_key: str) -> ProductRef:
        if write_key not in self._keys:
            raise InvalidWriteKey("unknown or revoked write key")
        return self._keys[write_key]
