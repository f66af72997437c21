"""The ``aion-pandas`` command (also ``python -m aion_pandas``): ``serve``, ``demo``, ``import-batch``,
and the client's ``datasets``, ``export`` and ``stats`` (in :mod:`aion_pandas.cli_client`).

>>> main(["--version"])  # doctest: +SKIP
aion-pandas 0.1.0
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from . import __version__
from .cli_deploy import add_backend_options, add_deploy_commands


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aion-pandas", description="Aionvision datasets in pandas, "
                                     "FiftyOne and Jupyter, and a self-hostable Datasets API service.")
    parser.add_argument("--version", action="version", version=f"aion-pandas {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the Datasets API service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port (see server.json)")
    serve.add_argument("--data-dir", type=Path, default=None,
                       help="SQLite, images and exports (default: $AION_PANDAS_HOME or ~/.local/share/aion-pandas)")
    serve.add_argument("--demo", action="store_true", help="seed demo batches and datasets on first start")
    serve.add_argument("--api-key", action="append", default=[], metavar="KEY",
                       help="accepted key, one tenant each; repeat for several (default: $AION_PANDAS_SERVER_API_KEYS,"
                       " newline-separated, else DIR/api_key)")
    serve.add_argument("--public-url", default=None, help="absolute root URL used in download links")
    serve.add_argument("--import-root", type=Path, default=None,
                       help="POST /batches may reference image paths under this folder")
    serve.add_argument("--url-ttl", type=int, default=24 * 3600, help="seconds a download URL stays valid")
    serve.add_argument("--rate-limit", type=int, default=0, help="requests per minute per key (0: none)")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    add_backend_options(serve)

    demo = sub.add_parser("demo", help="start the local service with demo data and JupyterLab")
    demo.add_argument("--data-dir", type=Path, default=None)
    demo.add_argument("--notebook", type=Path, default=None, help="default: notebooks/quickstart.ipynb")
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser")
    demo.add_argument("--port", type=int, default=8888, help="JupyterLab's port")

    imp = sub.add_parser("import-batch", help="import a COCO detection set as a completed batch")
    imp.add_argument("--coco", type=Path, required=True, help="COCO annotations JSON")
    imp.add_argument("--images", type=Path, required=True, help="folder the COCO file_names are relative to")
    imp.add_argument("--name", default=None, help="batch name (default: the JSON file's stem)")
    imp.add_argument("--data-dir", type=Path, default=None, help="import straight into this data dir")
    imp.add_argument("--base-url", default=None, help="or import through a running service's API")
    imp.add_argument("--api-key", default=None, help="key of the tenant (default: env or DIR/api_key)")
    add_deploy_commands(sub)
    from .cli_client import add_client_commands

    add_client_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "import-batch":
        return _import_batch(args)
    if args.command in ("db", "worker"):
        from .cli_deploy import run_db, run_worker

        return run_db(args) if args.command == "db" else run_worker(args)
    from .cli_client import run_client_command

    return run_client_command(args)


def _serve(args: argparse.Namespace) -> int:
    from .embedded import default_data_dir
    from .server.serve import serve
    from .cli_deploy import backend_settings
    from .server.database import SchemaBehind
    from .server.settings import Settings, load_or_create_api_key

    data_dir = Path(args.data_dir or default_data_dir()).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    from .embedded import KEYS_ENV

    given = args.api_key or os.environ.get(KEYS_ENV, "").split()
    keys = list(dict.fromkeys(k.strip() for k in given if k.strip()))
    if not keys:
        key, created = load_or_create_api_key(data_dir)
        keys = [key]
        if created:
            print(f"Your API key (saved in {data_dir / 'api_key'}, shown only this once):\n  {key}", flush=True)
        else:
            print(f"Using the API key in {data_dir / 'api_key'}", flush=True)
    settings = Settings(data_dir=data_dir, api_keys=tuple(keys), public_url=args.public_url,
                        url_ttl_seconds=args.url_ttl, rate_limit_per_minute=args.rate_limit,
                        import_root=args.import_root.resolve() if args.import_root else None,
                        **backend_settings(args))

    def ready(info: dict) -> None:
        print(f"aion-pandas service listening: {info['base_url']}  (data: {data_dir})", flush=True)

    try:
        serve(settings, args.host, args.port, demo=args.demo, log_level=args.log_level, on_ready=ready)
    except SchemaBehind as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno in (98, 48, 13, 99):  # address in use / permission / not available
            print(f"serve: cannot listen on {args.host}:{args.port}: {exc.strerror}; choose another --port "
                  f"(0 picks a free one)", file=sys.stderr)
            return 1
        raise
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .embedded import ensure_local_service, stop_local_service

    service = ensure_local_service(args.data_dir, demo=True)
    print(f"Local Datasets API: {service.base_url} ({'started' if service.started else 'already running'},"
          f" pid {service.pid}, data in {service.data_dir})", flush=True)
    notebook = args.notebook or _default_notebook()
    env = {**os.environ, "AIONVISION_BASE_URL": service.base_url, "AIONVISION_API_KEY": service.api_key}
    cmd = [sys.executable, "-m", "jupyterlab", str(notebook), f"--port={args.port}"]
    if args.no_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    if not notebook.exists():
        print(f"note: {notebook} does not exist; JupyterLab opens without it", file=sys.stderr)
        cmd.remove(str(notebook))
    if shutil.which("jupyter") is None and not _has_module("jupyterlab"):
        print("JupyterLab is not installed: pip install 'aion-pandas[widgets]'", file=sys.stderr)
        return 1
    lab = subprocess.Popen(cmd, env=env)
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        return lab.wait()
    except (KeyboardInterrupt, SystemExit):
        lab.terminate()
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            lab.kill()
        return 0
    finally:
        if service.started:  # the service this command started ends with it
            stop_local_service(service)


def _default_notebook() -> Path:
    """notebooks/quickstart.ipynb of the current folder, else of the source checkout this package is in."""
    here = Path.cwd() / "notebooks" / "quickstart.ipynb"
    checkout = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"
    return here if here.exists() or not checkout.exists() else checkout


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _import_batch(args: argparse.Namespace) -> int:
    from .server.coco_import import import_coco

    try:
        batch = import_coco(args.coco, args.images, name=args.name, data_dir=args.data_dir,
                            base_url=args.base_url, api_key=args.api_key)
    except (OSError, ValueError) as exc:
        print(f"import-batch: {exc}", file=sys.stderr)
        return 2
    print(f"imported batch {batch['batch_id']}: {batch['total_items']} items, "
          f"{batch['successful_items']} completed, status {batch['status']}")
    return 0
