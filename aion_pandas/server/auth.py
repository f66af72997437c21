"""API-key authentication: each configured key is a tenant; keys are compared in constant time.

The tenant id is a hash of the key, so the key itself is never stored in the database or logged.

>>> keys = KeyRing(("aion_a", "aion_b"))
>>> keys.tenant_for("aion_b") == tenant_id("aion_b"), keys.tenant_for("nope")
(True, None)
"""
from __future__ import annotations

import hashlib
import hmac
import time
from typing import Callable

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
    """``per_minute`` requests per tenant per clock minute, counted by ``count(tenant, minute)`` (the store's
    ``count_request``), so every replica on one database shares the same count.

    >>> seen = {}
    >>> limiter = RateLimiter(2, lambda t, w: seen.update({(t, w): seen.get((t, w), 0) + 1}) or seen[(t, w)])
    >>> limiter.check("t"), limiter.check("t")
    (None, None)
    """

    def __init__(self, per_minute: int, count: Callable[[str, int], int]) -> None:
        self.per_minute = per_minute
        self._count = count

    def check(self, tenant: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.time()
        window = int(now // 60)
        if self._count(tenant, window) > self.per_minute:
            retry = max(1, int((window + 1) * 60 - now + 0.999))
            raise ApiError(429, "RATE_LIMITED", f"too many requests; retry in {retry} s",
                           {"retry_after_seconds": retry}, headers={"Retry-After": str(retry)})
