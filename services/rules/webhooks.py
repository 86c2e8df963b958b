"""Webhook calls, from the outbox table `webhook_deliveries`, retried with backoff.

Each call POSTs the JSON payload with `X-Kizuna-Timestamp` (Unix seconds) and
`X-Kizuna-Signature: sha256=<hex>`, the HMAC-SHA256 of "<timestamp>.<body>" under the rule's
secret: the receiver recomputes it and refuses old timestamps. A 2xx answer delivers it; any
other answer or a network error tries again after retry_base_s × 2^(attempt - 1), up to
max_attempts, then the delivery is marked failed.
"""

import asyncio
import hashlib
import hmac
import json
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.rules.models import Delivery

log = logging.getLogger(__name__)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class Sender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: httpx.AsyncClient,
        interval_s: float,
        retry_base_s: float,
        max_attempts: int,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._interval_s = interval_s
        self._retry_base_s = retry_base_s
        self._max_attempts = max_attempts
        self.delivered = 0

    async def run(self) -> None:
        while True:
            try:
                await self.send_due()
            except Exception:  # the database may be away for a moment; try again later
                log.exception("webhook_pass_failed")
            await asyncio.sleep(self._interval_s)

    async def send_due(self) -> int:
        """Make every call that is due; returns how many were made."""
        now = datetime.now(UTC)
        async with self._sessions() as session:
            due = list(
                await session.scalars(
                    select(Delivery)
                    .where(Delivery.status == "pending", Delivery.next_at <= now)
                    .order_by(Delivery.id)
                    .limit(100)
                )
            )
            for delivery in due:
                await self._send(delivery)
            await session.commit()
        return len(due)

    async def _send(self, delivery: Delivery) -> None:
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Kizuna-Webhooks/1",
            "X-Kizuna-Timestamp": stamp,
            "X-Kizuna-Signature": signature(delivery.secret, stamp, body),
            "X-Kizuna-Delivery": str(delivery.id),
        }
        delivery.attempts += 1
        try:
            response = await self._client.post(delivery.url, content=body, headers=headers)
            error = "" if response.is_success else f"answered {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if not error:
            delivery.status = "delivered"
            self.delivered += 1
            return
        delivery.last_error = error[:2000]
        if delivery.attempts >= self._max_attempts:
            delivery.status = "failed"
            log.warning("webhook_failed", extra={"delivery": delivery.id, "error": error})
            return
        wait = self._retry_base_s * 2 ** (delivery.attempts - 1)
        delivery.next_at = datetime.now(UTC) + timedelta(seconds=wait)
