"""The self-hostable Datasets API service: ``create_app(Settings(...))`` or ``python -m aion_pandas serve``.

>>> from aion_pandas.server import Settings, create_app
"""
from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
