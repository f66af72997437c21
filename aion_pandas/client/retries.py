"""The retry policy of both clients: which attempts may be repeated, how long to wait, and a shared pause
after a 429.

- GET (and other idempotent methods): connect errors, read timeouts, cut answers, 429, 500, 502, 503, 504;
- POST: only when the service cannot have acted on it: connect errors, 429, 503.

Waits back off exponentially with jitter and honour ``Retry-After`` (up to a minute; a longer one is
not waited for: the error is raised at once, it carries ``retry_after``). A 429 pauses every request
of the client until its ``Retry-After`` has passed (:class:`RateGate`), so parallel exports, image
fetches and polls back off together instead of spending the retries of each.

>>> should_retry("GET", 502), should_retry("POST", 502), should_retry("POST", 503)
(True, False, True)
"""
from __future__ import annotations

import random
import threading
import time

RETRY_STATUS_IDEMPOTENT = frozenset({429, 500, 502, 503, 504})
RETRY_STATUS_POST = frozenset({429, 503})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
MAX_RETRY_AFTER = 60.0


def should_retry(method: str, status: int | None = None, *, connect_failed: bool = False,
                 read_failed: bool = False) -> bool:
    """Whether a failed attempt may be repeated without risk of doing the work twice.

    ``connect_failed``: the request never reached the service; ``read_failed``: it may have (a read
    timeout, a connection dropped after sending): only idempotent methods are repeated then.

    >>> should_retry("POST", connect_failed=True), should_retry("POST", read_failed=True)
    (True, False)
    """
    method = method.upper()
    if connect_failed:
        return True
    if read_failed:
        return method in IDEMPOTENT
    if status is None:
        return False
    return status in (RETRY_STATUS_IDEMPOTENT if method in IDEMPOTENT else RETRY_STATUS_POST)


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 8.0, retry_after: float | None = None,
                  rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): ``Retry-After`` when given (<= 60 s),
    else ``base * 2**attempt`` capped at ``cap``, with jitter (50-100 %).

    >>> backoff_delay(0, retry_after=2.0)
    2.0
    >>> 0.25 <= backoff_delay(0) <= 0.5 and 2.0 <= backoff_delay(3) <= 4.0
    True
    """
    if retry_after is not None and 0 <= retry_after <= MAX_RETRY_AFTER:
        return float(retry_after)
    delay = min(cap, base * (2 ** attempt))
    return delay * (rng or random).uniform(0.5, 1.0)


class RateGate:
    """The moment before which a client sends nothing more (set by a 429's ``Retry-After``).

    Shared by every thread or task of one client; ``wait_time()`` is what a request still has to wait.

    >>> gate = RateGate(); gate.close_for(0.0); gate.wait_time()
    0.0
    """

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def close_for(self, seconds: float) -> None:
        """Hold every request for ``seconds`` from now (a later deadline already set is kept)."""
        with self._lock:
            self._until = max(self._until, time.monotonic() + max(0.0, seconds))

    def wait_time(self) -> float:
        """Seconds until requests may go again (0 when open)."""
        with self._lock:
            return max(0.0, self._until - time.monotonic())
