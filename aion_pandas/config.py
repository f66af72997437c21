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
ENV_TIMEOUT = "AIONVISION_TIMEOUT"
ENV_MAX_RETRIES = "AIONVISION_MAX_RETRIES"
ENV_POLLING_INTERVAL = "AIONVISION_POLLING_INTERVAL"
ENV_POLLING_TIMEOUT = "AIONVISION_POLLING_TIMEOUT"
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


DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_POLLING_INTERVAL = 2.0
DEFAULT_POLLING_TIMEOUT = 300.0
#: the synchronous export POST may take long on big datasets: it waits at least this long
EXPORT_TIMEOUT = 300.0


def _number(name: str, given: float | int | None, default: float, kind: type = float) -> float:
    """``given``, else the environment variable ``name``, else ``default``; the name is in the error."""
    if given is not None:
        value, where = given, name.lower().replace("aionvision_", "") + "="
    else:
        raw = os.environ.get(name, "").strip()
        if not raw:
            return default
        value, where = raw, name
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where} must be a {'whole ' if kind is int else ''}number, got {value!r}") from None
    return number


@dataclass(frozen=True)
class Settings:
    """Resolved client settings. ``api_key`` is a :class:`Secret` (``None`` = use the local service).

    The official SDK's names: ``AIONVISION_TIMEOUT`` (seconds), ``AIONVISION_MAX_RETRIES``,
    ``AIONVISION_POLLING_INTERVAL`` and ``AIONVISION_POLLING_TIMEOUT`` (seconds, for ``wait``).
    """

    api_key: Secret | None
    base_url: str | None
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    cache_dir: Path = field(default_factory=cache_dir)
    polling_interval: float = DEFAULT_POLLING_INTERVAL
    polling_timeout: float = DEFAULT_POLLING_TIMEOUT

    @classmethod
    def resolve(cls, api_key: str | Secret | None = None, base_url: str | None = None, *,
                timeout: float | None = None, max_retries: int | None = None, cache: str | Path | None = None,
                polling_interval: float | None = None, polling_timeout: float | None = None) -> "Settings":
        """Arguments first, then the ``AIONVISION_*`` environment variables, then the defaults.

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
        timeout = _number(ENV_TIMEOUT, timeout, DEFAULT_TIMEOUT)
        retries = _number(ENV_MAX_RETRIES, max_retries, DEFAULT_MAX_RETRIES, int)
        interval = _number(ENV_POLLING_INTERVAL, polling_interval, DEFAULT_POLLING_INTERVAL)
        patience = _number(ENV_POLLING_TIMEOUT, polling_timeout, DEFAULT_POLLING_TIMEOUT)
        for name, value in (("timeout", timeout), ("polling_interval", interval), ("polling_timeout", patience)):
            if not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {retries!r}")
        return cls(api_key=key, base_url=url, timeout=float(timeout), max_retries=int(retries),
                   cache_dir=Path(cache).expanduser() if cache is not None else cache_dir(),
                   polling_interval=float(interval), polling_timeout=float(patience))
