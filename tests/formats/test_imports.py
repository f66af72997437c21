"""The format modules imported by many threads at once, as the service's exporter does on its first
exports: no thread may meet a half-imported module (a package importing them all in its
``__init__`` deadlocked Python's import locks)."""
from __future__ import annotations

import subprocess
import sys

_RACE = """
import importlib, threading
import msgspec, numpy, pandas, pyarrow  # the heavy imports first: only ours race
names = [f"aion_pandas.formats.{m}" for m in ("voc", "yolo", "csv", "coco")] * 2
barrier, errors = threading.Barrier(len(names)), []
def run(name):
    barrier.wait()
    try:
        importlib.import_module(name)
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=run, args=(name,)) for name in names]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(errors)
"""


def test_threads_importing_the_format_modules_at_once_all_succeed():
    for _ in range(3):  # a fresh interpreter each time: nothing imported yet
        done = subprocess.run([sys.executable, "-c", _RACE], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "[]"
