"""aion-pandas: computer-vision datasets from the Aionvision Datasets API in pandas, FiftyOne and Jupyter.

>>> import aion_pandas as aion
>>> client = aion.connect()                 # the embedded local service when nothing is configured
>>> df = aion.datasets()                    # one row per dataset
>>> frame = df.aion.load("coco")            # one row per box, every export format alike

Importing the package registers the ``df.aion`` accessor. Everything else loads on first use, so
``import aion_pandas`` stays cheap and optional extras (FiftyOne, widgets) are imported only when used.
"""
from __future__ import annotations

import importlib
from typing import Any

from . import accessor as _accessor  # noqa: F401  (registers df.aion)
from .errors import AionError, FormatError

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily, on first attribute access)
_LAZY: dict[str, str] = {
    # client and frames
    "connect": "aion_pandas.client",
    "Client": "aion_pandas.client",
    "AsyncClient": "aion_pandas.client",
    "default_client": "aion_pandas.client",
    "datasets": "aion_pandas.frames",
    "statistics": "aion_pandas.frames",
    # formats
    "read_export": "aion_pandas.reading",
    "read_coco": "aion_pandas.formats",
    "read_yolo": "aion_pandas.formats",
    "read_voc": "aion_pandas.formats",
    "read_csv": "aion_pandas.formats",
    "write_export": "aion_pandas.formats",
    "read_parquet": "aion_pandas.parquet",
    "to_parquet": "aion_pandas.parquet",
    "to_xyxy": "aion_pandas.formats",
    "from_xyxy": "aion_pandas.formats",
    "to_cxcywh_norm": "aion_pandas.formats",
    "from_cxcywh_norm": "aion_pandas.formats",
    # annotation analysis
    "compare": "aion_pandas.analysis",
    # FiftyOne and widgets
    "to_fiftyone": "aion_pandas.fiftyone",
    "launch_app": "aion_pandas.fiftyone",
    "panel": "aion_pandas.widgets",
    # the error tree
    "errors": "aion_pandas.errors",
}

__all__ = ["AionError", "FormatError", "__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'aion_pandas' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if module.endswith("." + name) else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
