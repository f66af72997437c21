"""File responses with HTTP Range support whose range errors still carry the error envelope.

>>> DownloadResponse.__mro__[1].__name__
'FileResponse'
"""
from __future__ import annotations

import os
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import FileResponse, JSONResponse, MalformedRangeHeader, RangeNotSatisfiable

from .errors import envelope


class DownloadResponse(FileResponse):
    """A FileResponse (Range, If-Range, HEAD) that answers a bad range with the envelope (400/416)."""

    chunk_size = 1 << 20  # Starlette's 64 KiB reads each hop to a thread: 1 MiB cuts the service's CPU

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        http_range = Headers(scope=scope).get("range")
        if http_range is not None:
            rid = scope.get("state", {}).get("request_id", "")
            size = os.stat(self.path).st_size
            try:
                self._parse_range_header(http_range, size)
            except MalformedRangeHeader as exc:
                body = envelope("BAD_REQUEST", f"bad Range header: {exc.content}", {"range": http_range[:200]}, rid)
                return await JSONResponse(body, status_code=400)(scope, receive, send)
            except RangeNotSatisfiable:
                body = envelope("RANGE_NOT_SATISFIABLE", f"range outside the file's {size} bytes",
                                {"size": size}, rid)
                response = JSONResponse(body, status_code=416, headers={"Content-Range": f"bytes */{size}"})
                return await response(scope, receive, send)
        await super().__call__(scope, receive, send)
