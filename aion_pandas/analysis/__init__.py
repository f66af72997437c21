"""Annotation analysis on the canonical frame: a summary, health checks and a comparison (vectorized).

``frame.aion.summary()``, ``frame.aion.check()`` and :func:`compare` call these; the figures are in
:mod:`aion_pandas.plots_annotations`.

>>> frame = aion.read_export("instances.json")   # doctest: +SKIP
>>> check(frame)["kind"].value_counts()          # doctest: +SKIP
"""
from __future__ import annotations

from .checks import FINDING_COLUMNS, KINDS, check
from .comparison import compare
from .summaries import Summary, summary

__all__ = ["FINDING_COLUMNS", "KINDS", "Summary", "check", "compare", "summary"]
