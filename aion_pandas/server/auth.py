"""API-key authentication: each configured key is a tenant; keys are compared in constant time.

The tenant id is a hash of the key, so the key itself is never stored in the database or logged.

>>> keys = KeyRing(("aion_a", "aion_b"))
>>> keys.tenant_for("aion_b") == tenant_id("aion_b"), keys.tenant_for("nope")
(True, None)
"""
from __future__ import annotations

import hashlib
import hmac
import threading
import time

from .errors import ApiError


def tenant_id(api_key: str) -> str:
    """The stable tenant id of a key (a SHA-256 prefix; the key cannot be read back from it)."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:32]


class KeyRing:
    """The keys the service accepts. Its repr never shows them."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        self._keys = [(k.encode("utf-8"), tenant_id(k)) for k in keys]

    def __repr__(self) -> str:
        return f"KeyRing(<{len(self._keys)} keys>)"

    def tenant_for(self, presented: str) -> str | None:
        """The tenant of ``presented``, comparing against every key in constant time."""
        given = presented.encode("utf-8")
        found = None
        for key, tenant in self._keys:
            if hmac.compare_digest(key, given):
                found = tenant
        return found


class RateLimiter:
    """A per-tenant token bucket: ``per_minute`` requests a minute, bursts up to the same number."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, tenant: str) -> None:
        if self.per_minute <= 0:
            return
        rate = self.per_minute / 60.0
        with self._lock:
            now = time.monotonic()
            tokens, last = self._buckets.get(tenant, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens < 1.0:
                retry = max(1, int((1.0 - tokens) / rate + 0.999))
                self._buckets[tenant] = (tokens, now)
                raise ApiError(429, "RATE_LIMITED", f"too many requests; retry in {retry} s",
                               {"retry_after_seconds": retry}, headers={"Retry-After": str(retry)})
            self._buckets[tenant] = (tokens - 1.0, now)
