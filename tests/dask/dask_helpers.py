"""Helpers of the Dask tests: sorting frames for a row-for-row comparison, and worker logs."""
from __future__ import annotations

import logging

import pandas as pd

ROW_KEY = ["dataset_id", "image_id", "x", "y", "w", "h", "category_id"]


def sorted_rows(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """``frame`` (or its ``columns``) sorted by dataset, image and box, with a fresh index."""
    out = frame[columns] if columns is not None else frame
    return out.sort_values(ROW_KEY, kind="stable", na_position="first").reset_index(drop=True)


class ListHandler(logging.Handler):
    """Keeps the messages of the records it sees."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


HANDLER_NAME = "aion-dask-test-capture"


def start_capture() -> int:
    """On a worker (through ``client.run``): keep the ``aion_pandas.dask`` log records; its pid."""
    import os
    logger = logging.getLogger("aion_pandas.dask")
    logger.handlers = [h for h in logger.handlers if getattr(h, "name", None) != HANDLER_NAME]
    handler = ListHandler()
    handler.name = HANDLER_NAME
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return os.getpid()


def captured() -> list[str]:
    """On a worker: the messages kept since :func:`start_capture`."""
    logger = logging.getLogger("aion_pandas.dask")
    return [m for h in logger.handlers if getattr(h, "name", None) == HANDLER_NAME for m in h.messages]
