"""Shared test set-up.

The environment below is set before any test module imports FiftyOne, matplotlib or the client, so
the suite never touches the user's home, FiftyOne database or configured API key.
"""
from __future__ import annotations

import os
import tempfile

_SANDBOX = tempfile.mkdtemp(prefix="aion-pandas-tests-")
os.environ["HOME"] = os.path.join(_SANDBOX, "home")
os.makedirs(os.environ["HOME"], exist_ok=True)
os.environ["AION_PANDAS_HOME"] = os.path.join(_SANDBOX, "aion-home")
os.environ["MPLBACKEND"] = "Agg"
os.environ["FIFTYONE_DO_NOT_TRACK"] = "true"
os.environ["FIFTYONE_DATABASE_VALIDATION"] = "false"
os.environ["FIFTYONE_DATABASE_DIR"] = os.path.join(_SANDBOX, "fiftyone-db")
os.environ["FIFTYONE_DEFAULT_DATASET_DIR"] = os.path.join(_SANDBOX, "fiftyone-data")
os.environ["TQDM_DISABLE"] = "1"
for _name in ("AIONVISION_API_KEY", "AIONVISION_BASE_URL"):
    os.environ.pop(_name, None)
