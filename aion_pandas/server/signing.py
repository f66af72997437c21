"""Signed, expiring download URLs (like presigned URLs): HMAC-SHA256 with a per-data-dir secret.

>>> signer = Signer(b"k" * 32)
>>> exp = 4102444800
>>> signer.verify("e1/data.csv", exp, signer.sign("e1/data.csv", exp), now=0)
>>> signer.verify("e1/data.csv", exp, "0" * 64, now=0)
Traceback (most recent call last):
...
aion_pandas.server.errors.ApiError: download signature does not match
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import time
from pathlib import Path

from .errors import ApiError

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def load_or_create_secret(data_dir: Path) -> bytes:
    """The signing secret in ``data_dir/signing_key`` (mode 0600), made on first use."""
    path = Path(data_dir) / "signing_key"
    if path.exists():
        value = bytes.fromhex(path.read_text(encoding="ascii").strip())
        if len(value) >= 32:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value.hex())
    return value


class Signer:
    """Signs ``resource`` (e.g. ``"<export_id>/<file name>"``) with an expiry (UNIX seconds)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def __repr__(self) -> str:
        return "Signer(<secret>)"

    def sign(self, resource: str, expires: int) -> str:
        message = f"{resource}\n{int(expires)}".encode("utf-8")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def verify(self, resource: str, expires: int, signature: str, now: float | None = None) -> None:
        """Raise 403 ``INVALID_SIGNATURE`` or ``URL_EXPIRED``; return None when the URL is good."""
        expected = self.sign(resource, expires)
        if not _HEX64.fullmatch(signature or "") or not hmac.compare_digest(expected, signature.lower()):
            raise ApiError(403, "INVALID_SIGNATURE", "download signature does not match")
        if (time.time() if now is None else now) > int(expires):
            raise ApiError(403, "URL_EXPIRED", "download URL has expired; export again for a fresh URL",
                           {"expired_at": int(expires)})
