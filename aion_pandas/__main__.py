"""``python -m aion_pandas`` is the ``aion-pandas`` command (see cli.py)."""
from .cli import main

raise SystemExit(main())
