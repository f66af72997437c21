"""Shared test set-up.

The environment below is set before any test module imports FiftyOne, matplotlib or the client, so
the suite never touches the user's home, FiftyOne database or configured API key.
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
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
for _name in ("AIONVISION_API_KEY", "AIONVISION_BASE_URL", "AION_PANDAS_DATABASE_URL", "AION_PANDAS_STORAGE",
              "AION_PANDAS_S3_ENDPOINT_URL", "AION_PANDAS_S3_PUBLIC_ENDPOINT_URL", "AION_PANDAS_SIGNING_SECRET"):
    os.environ.pop(_name, None)


def _remove_sandbox() -> None:
    """Remove the sandbox (about 300 MB, mostly the FiftyOne database) when the session ends.

    Registered before FiftyOne is imported, so it runs after FiftyOne's own exit handlers (which
    still talk to the database). The database lives inside the sandbox, so its ``mongod`` is
    stopped first. Set ``AION_PANDAS_KEEP_TEST_SANDBOX=1`` to keep the sandbox for a post-mortem.
    """
    if os.environ.get("AION_PANDAS_KEEP_TEST_SANDBOX"):
        return
    database = sys.modules.get("fiftyone.core.odm.database")
    if getattr(database, "_db_service", None) is not None:
        database._db_service.stop()
    _wait_for_processes_using(_SANDBOX, timeout=60)
    shutil.rmtree(_SANDBOX, ignore_errors=True)


atexit.register(_remove_sandbox)


def _wait_for_processes_using(path: str, timeout: float) -> None:
    """Wait until no process has ``path`` in its command line (mongod's --dbpath); then kill leftovers."""
    try:
        import psutil
    except ImportError:  # FiftyOne depends on psutil; without FiftyOne there is no database
        return
    mine = os.getpid()
    users = [proc for proc in psutil.process_iter(["cmdline"])
             if proc.pid != mine and any(path in part for part in proc.info["cmdline"] or ())]
    _, alive = psutil.wait_procs(users, timeout=timeout)
    for proc in alive:
        proc.kill()
    psutil.wait_procs(alive, timeout=10)


# ----------------------------------------------------------------------------------------------
# The real Datasets API service (engineer A): a `python -m aion_pandas serve` subprocess on loopback.
import dataclasses  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

SERVICE_KEY = "aion_test_tenant_one_0123456789abcdef"
OTHER_SERVICE_KEY = "aion_test_tenant_two_fedcba9876543210"


@dataclasses.dataclass
class RunningService:
    """A service started for tests. ``base_url`` ends in /api/v2; ``root_url`` is http://127.0.0.1:PORT."""
    base_url: str
    root_url: str
    api_key: str = dataclasses.field(repr=False)
    other_api_key: str = dataclasses.field(repr=False)
    data_dir: Path
    process: subprocess.Popen = dataclasses.field(repr=False)

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def other_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.other_api_key}"}

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


# ----------------------------------------------------------------------------------------------
# The backends every service test runs on: SQLite + a folder, and PostgreSQL + S3 (SeaweedFS).
from service_backends import S3_ENV, Backend, PostgresCluster, WeedServer, s3_client  # noqa: E402

os.environ.update(S3_ENV)
#: test folders whose service tests run on both backends; elsewhere the service is SQLite + folder only
BOTH_BACKENDS = ("tests/server/", "tests/client/")
BACKENDS = ("sqlite", "postgres-s3")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "backends(*names): run only on these backends (sqlite, postgres-s3)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses a service gets the ``backend`` parameter (one session fixture per backend)."""
    if "backend" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("backends")
    path = str(metafunc.definition.path).replace(os.sep, "/")
    names = marker.args if marker else BACKENDS if any(d in path for d in BOTH_BACKENDS) else ("sqlite",)
    metafunc.parametrize("backend", names, indirect=True, scope="session")


@pytest.fixture(scope="session")
def postgres_cluster():
    """A throwaway PostgreSQL cluster for the session (Debian's binaries, a temp dir, a free port)."""
    cluster = PostgresCluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def weed_server(tmp_path_factory: pytest.TempPathFactory):
    """A real S3-compatible store for the session: ``weed server -s3`` on free ports."""
    server = WeedServer(tmp_path_factory.mktemp("weed"))
    s3_client(server.endpoint).create_bucket(Bucket="aion-tests")
    yield server
    server.kill()


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Backend:
    """The backend of the services a test starts (parametrized by ``pytest_generate_tests``)."""
    name = getattr(request, "param", "sqlite")
    if name == "sqlite":
        return Backend("sqlite")
    return Backend(name, request.getfixturevalue("postgres_cluster"), request.getfixturevalue("weed_server"))


def _launch(data_dir: Path, *, demo: bool, api_keys: tuple[str, ...], extra_args: tuple[str, ...] = (),
            backend: Backend | None = None) -> RunningService:
    from aion_pandas.embedded import start_server_process

    extra_args = (*(backend.args_for(data_dir) if backend else ()), *extra_args)
    proc, info = start_server_process(data_dir, demo=demo, api_keys=api_keys, extra_args=extra_args,
                                      detached=False, timeout=120)
    base = info["base_url"]
    return RunningService(base, base.rsplit("/api/", 1)[0], api_keys[0], api_keys[-1], Path(data_dir), proc)


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory, backend: Backend):
    """The shared demo service (first key: full demo; second key: its own small demo batch), on ``backend``."""
    running = _launch(tmp_path_factory.mktemp(f"aion-service-{backend.name}"), demo=True,
                      api_keys=(SERVICE_KEY, OTHER_SERVICE_KEY), backend=backend)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def service_keys() -> tuple[str, str]:
    """The two tenants' keys every test service accepts: (first tenant, second tenant)."""
    return SERVICE_KEY, OTHER_SERVICE_KEY


@pytest.fixture(scope="session")
def launch_service(backend: Backend):
    """Session factory: ``launch_service(data_dir, demo=True, api_keys=...)`` -> RunningService.

    Tests that export or create must not change the shared ``service``'s counts; a module-scoped
    fixture of their own uses this. Every service launched is stopped at the end of the session.
    """
    started: list[RunningService] = []

    def launch(data_dir: Path, demo: bool = True,
               api_keys: tuple[str, ...] = (SERVICE_KEY, OTHER_SERVICE_KEY)) -> RunningService:
        running = _launch(Path(data_dir), demo=demo, api_keys=tuple(api_keys), backend=backend)
        started.append(running)
        return running

    yield launch
    for running in started:
        running.stop()


@pytest.fixture
def start_service(tmp_path: Path, backend: Backend):
    """Factory: ``start_service(data_dir=None, demo=False, api_keys=(...), extra_args=())`` -> RunningService.

    Same ``data_dir`` twice = a restart on the same data. Every service started is stopped afterwards.
    """
    started: list[RunningService] = []

    def start(data_dir: Path | None = None, demo: bool = False,
              api_keys: tuple[str, ...] = (SERVICE_KEY, OTHER_SERVICE_KEY),
              extra_args: tuple[str, ...] = ()) -> RunningService:
        running = _launch(Path(data_dir or tmp_path / f"service-{len(started)}"), demo=demo,
                          api_keys=tuple(api_keys), extra_args=tuple(extra_args), backend=backend)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
