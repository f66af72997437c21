"""Client settings: from the arguments, then the environment, then the embedded local service.

The API key is held in a :class:`Secret`, whose ``repr``/``str`` show at most ``aion_…abcd``; the raw
value is only read (``reveal()``) when the ``Authorization`` header is built.

>>> s = Settings.resolve(api_key="aion_0123456789abcdefWXYZ", base_url="https://api.aionvision.tech/api/v2")
>>> s.api_key
Secret('aion_…WXYZ')
>>> s.base_url
'https://api.aionvision.tech/api/v2'
"""
from __future__ import annotations

import ipaddress
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

HOSTED_BASE_URL = "https://api.aionvision.tech/api/v2"
ENV_API_KEY = "AIONVISION_API_KEY"
ENV_BASE_URL = "AIONVISION_BASE_URL"
ENV_HOME = "AION_PANDAS_HOME"
ENV_CACHE = "AION_PANDAS_CACHE_DIR"


def mask_key(key: str | None) -> str:
    """A key as it may be shown: ``aion_…`` plus its last four characters, and only for long keys.

    >>> mask_key("aion_0123456789abcdefWXYZ")
    'aion_…WXYZ'
    >>> mask_key("short")
    '…'
    >>> mask_key(None)
    'None'
    """
    if key is None:
        return "None"
    prefix = "aion_" if key.startswith("aion_") else ""
    rest = key[len(prefix):]
    tail = rest[-4:] if len(rest) >= 16 else ""
    return f"{prefix}…{tail}"


class Secret:
    """A value that never shows itself in ``repr``, ``str``, logs or tracebacks.

    >>> s = Secret("aion_0123456789abcdefWXYZ")
    >>> print(s, [s])
    aion_…WXYZ [Secret('aion_…WXYZ')]
    >>> s.reveal()[:5]
    'aion_'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The raw value (only for building the ``Authorization`` header)."""
        return self._value

    @property
    def masked(self) -> str:
        return mask_key(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked!r})"

    def __str__(self) -> str:
        return self.masked

    def __format__(self, spec: str) -> str:
        return format(self.masked, spec)

    def __eq__(self, other: object) -> bool:
        import hmac
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):  # never pickled along with a frame's attrs or a notebook's state
        raise TypeError("an API key is not picklable")

    def __copy__(self) -> "Secret":
        return self

    def __deepcopy__(self, memo: dict) -> "Secret":
        return self

    def fingerprint(self) -> str:
        """A short one-way id of the key (for cache keys; reveals nothing about it)."""
        import hashlib
        return hashlib.sha256(b"aion-pandas:" + self._value.encode()).hexdigest()[:16]


def data_dir() -> Path:
    """The per-user data dir: ``$AION_PANDAS_HOME``, else ``~/.local/share/aion-pandas``."""
    home = os.environ.get(ENV_HOME)
    return Path(home).expanduser() if home else Path.home() / ".local" / "share" / "aion-pandas"


def cache_dir() -> Path:
    """Where downloaded exports are kept: ``$AION_PANDAS_CACHE_DIR``, else ``<data dir>/cache``.

    >>> cache_dir().name
    'cache'
    """
    env = os.environ.get(ENV_CACHE)
    return Path(env).expanduser() if env else data_dir() / "cache"


def is_loopback(url: str) -> bool:
    """True when ``url`` points at this machine (127.0.0.0/8, ::1 or ``localhost``).

    >>> is_loopback("http://127.0.0.1:8765/api/v2"), is_loopback("http://example.org")
    (True, False)
    """
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Normalize a base URL (no trailing slash) and warn when plain http leaves this machine.

    >>> check_base_url("http://127.0.0.1:8765/api/v2/")
    'http://127.0.0.1:8765/api/v2'
    """
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must be an absolute http(s) URL such as {HOSTED_BASE_URL!r}, got {url!r}")
    if parts.scheme == "http" and not is_loopback(url):
        warnings.warn(f"base_url {url} uses plain http to a non-loopback host: the API key travels "
                      "unencrypted; use https", UserWarning, stacklevel=3)
    return url


@dataclass(frozen=True)
class Settings:
    """Resolved client settings. ``api_key`` is a :class:`Secret` (``None`` = use the local service)."""

    api_key: Secret | None
    base_url: str | None
    timeout: float = 30.0
    max_retries: int = 3
    cache_dir: Path = field(default_factory=cache_dir)

    @classmethod
    def resolve(cls, api_key: str | Secret | None = None, base_url: str | None = None, *,
                timeout: float = 30.0, max_retries: int = 3, cache: str | Path | None = None) -> "Settings":
        """Arguments first, then ``AIONVISION_API_KEY`` / ``AIONVISION_BASE_URL``.

        A key with no base URL means the hosted API; neither means the embedded local service
        (``api_key`` and ``base_url`` stay ``None`` and :func:`aion_pandas.client.connect` starts it).
        """
        key = api_key if api_key is not None else (os.environ.get(ENV_API_KEY) or None)
        url = base_url if base_url is not None else (os.environ.get(ENV_BASE_URL) or None)
        if isinstance(key, str):
            key = key.strip()
            if not key:
                raise ValueError(f"api_key is empty; pass a key or unset {ENV_API_KEY}")
            key = Secret(key)
        if key is not None and url is None:
            url = HOSTED_BASE_URL
        if url is not None:
            url = check_base_url(url)
        if timeout is None or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries!r}")
        return cls(api_key=key, base_url=url, timeout=float(timeout), max_retries=int(max_retries),
                   cache_dir=Path(cache).expanduser() if cache is not None else cache_dir())
