"""The error tree of aion-pandas.

Every error the package raises derives from :class:`AionError`. Messages name what was wrong and
where (file, member, line, field, request id) and what to do; they never show an API key.

>>> try:
...     raise FormatError("labels/a.txt line 3: expected 5 fields, got 4", path="export.zip")
... except AionError as exc:
...     print(exc)
export.zip: labels/a.txt line 3: expected 5 fields, got 4
"""
from __future__ import annotations


class AionError(Exception):
    """Base of every error raised by aion-pandas."""


class FormatError(AionError, ValueError):
    """An export file (or a frame given to a writer) is not valid for its format.

    ``path`` is the file, ``member`` the zip member, ``line`` the 1-based line where known.
    """

    def __init__(self, message: str, *, path: str | None = None, member: str | None = None,
                 line: int | None = None) -> None:
        self.path, self.member, self.line, self.reason = path, member, line, message
        where = ": ".join(p for p in (path, member) if p)
        if line is not None and member is None:
            where = f"{where} line {line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message)
