"""Pages of list calls: ``Page`` (sync) and ``AsyncPage``, and :func:`paging`, which reads either paging
shape the APIs answer with.

>>> page = Page(items=[1, 2], total_count=3, limit=2, offset=0, has_more=True,
...             fetch=lambda offset: Page([3], 3, 2, offset, False))
>>> list(page.auto_paging_iter())
[1, 2, 3]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


def paging(data: dict[str, Any], count: int, limit: int, offset: int) -> tuple[int, int, int, bool]:
    """(total_count, limit, offset, has_more) of a page in either shape the APIs use.

    Top-level ``total_count``/``has_more`` (the Datasets API, hosted lists), or a ``pagination``
    (``page_info``) object beside the items (the hosted batch results); ``total``/``total_items`` count
    too. ``has_more`` is computed from the total when the answer leaves it out.

    >>> paging({"pagination": {"offset": 100, "limit": 100, "total": 250}}, 100, 100, 100)
    (250, 100, 100, True)
    >>> paging({"total_count": 3, "has_more": False}, 3, 100, 0)
    (3, 100, 0, False)
    """
    info = data.get("pagination") or data.get("page_info")
    info = info if isinstance(info, dict) else data
    total = next((info[k] for k in ("total_count", "total", "total_items", "count") if info.get(k) is not None),
                 None)
    limit = int(info.get("limit") or info.get("page_size") or limit)
    offset = int(info.get("offset") if info.get("offset") is not None else offset)
    more = info.get("has_more", info.get("has_next"))
    if total is None:
        total = offset + count + (1 if more else 0)
    total = int(total)
    has_more = bool(more) if more is not None else offset + count < total
    return total, limit, offset, has_more


@dataclass
class Page(Generic[T]):
    """One page of a list call; ``auto_paging_iter()`` walks this page and every later one.

    >>> page = Page(items=[1, 2], total_count=3, limit=2, offset=0, has_more=True,
    ...             fetch=lambda offset: Page([3], 3, 2, offset, False))
    >>> list(page), list(page.auto_paging_iter())
    ([1, 2], [1, 2, 3])
    """
    items: list[T]
    total_count: int
    limit: int
    offset: int
    has_more: bool
    fetch: Callable[[int], Any] | None = field(default=None, repr=False, compare=False)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> T:
        return self.items[index]

    def _next_offset(self) -> int | None:
        if not self.has_more or self.fetch is None or not self.items:
            return None
        return self.offset + len(self.items)

    def next_page(self) -> "Page[T] | None":
        """The following page, or None when this is the last one."""
        offset = self._next_offset()
        return None if offset is None else self.fetch(offset)

    def iter_pages(self) -> Iterator["Page[T]"]:
        """This page, then every following page."""
        page: Page[T] | None = self
        while page is not None:
            yield page
            page = page.next_page()

    def auto_paging_iter(self) -> Iterator[T]:
        """Every item of this page and all later pages (fetched as needed)."""
        for page in self.iter_pages():
            yield from page.items


class AsyncPage(Page[T]):
    """A page of the :class:`~aion_pandas.client.AsyncClient`: ``async for item in page.auto_paging_iter()``.

    >>> import asyncio
    >>> async def more(offset): return AsyncPage([3], 3, 2, offset, False)
    >>> async def walk(): return [i async for i in AsyncPage([1, 2], 3, 2, 0, True, more).auto_paging_iter()]
    >>> asyncio.run(walk())
    [1, 2, 3]
    """

    async def next_page(self) -> "AsyncPage[T] | None":  # type: ignore[override]
        """The following page, or None when this is the last one."""
        offset = self._next_offset()
        return None if offset is None else await self.fetch(offset)

    async def iter_pages(self) -> AsyncIterator["AsyncPage[T]"]:  # type: ignore[override]
        """This page, then every following page."""
        page: AsyncPage[T] | None = self
        while page is not None:
            yield page
            page = await page.next_page()

    async def auto_paging_iter(self) -> AsyncIterator[T]:  # type: ignore[override]
        """Every item of this page and all later pages (fetched as needed)."""
        async for page in self.iter_pages():
            for item in page.items:
                yield item
