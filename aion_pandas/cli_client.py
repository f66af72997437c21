"""The client-side subcommands of ``aion-pandas``: ``datasets``, ``export`` and ``stats``.

They talk to the service the client is configured for (``AIONVISION_API_KEY`` /
``AIONVISION_BASE_URL``, else the embedded local service), like ``aion.connect()``.

>>> main(["export", "550e8400-...", "--format", "coco", "--dest", "exports/"])  # doctest: +SKIP
exported 550e8400-... as coco: 487 records, 245,678 bytes -> exports/dataset_550e8400.json
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

FORMATS = ("csv", "coco", "yolo", "pascal_voc")


def add_client_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Register ``datasets``, ``export`` and ``stats`` on the CLI's subparsers."""
    lst = sub.add_parser("datasets", help="list the datasets (one line each, or --json)")
    lst.add_argument("--status", choices=("pending", "processing", "ready", "failed"), default=None)
    lst.add_argument("--json", action="store_true", help="print the API's JSON records")

    exp = sub.add_parser("export", help="export a dataset and download the file")
    exp.add_argument("dataset_id")
    exp.add_argument("--format", choices=FORMATS, default="coco")
    exp.add_argument("--dest", type=Path, default=Path("."), help="folder or file path (default: .)")
    exp.add_argument("--include-failed-items", action="store_true")
    exp.add_argument("--delimiter", default=None, help="CSV delimiter (default: the dataset's)")

    stats = sub.add_parser("stats", help="print the aggregated statistics")
    stats.add_argument("--days", type=int, default=30, help="period, 1-365 days (default 30)")
    stats.add_argument("--json", action="store_true", help="print the API's JSON")


def run_client_command(args: argparse.Namespace) -> int:
    """Run one of the client subcommands; API errors become one line on stderr and exit status 1."""
    from .client import connect
    from .errors import AionError

    try:
        with contextlib.redirect_stdout(sys.stderr):  # connect()'s notice must not mix with --json
            client = connect()
        if args.command == "datasets":
            return _datasets(client, args)
        if args.command == "export":
            return _export(client, args)
        return _stats(client, args)
    except AionError as exc:  # messages carry code and request id, never the key
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1


def _datasets(client, args: argparse.Namespace) -> int:
    first = client.datasets.list(status=args.status, limit=1000)
    records = list(first.auto_paging_iter())
    if args.json:
        print(json.dumps([_record_json(r) for r in records], indent=2, default=str))
        return 0
    for ds in records:
        latest = ds.latest_export.format if ds.latest_export else "-"
        print(f"{ds.id}  {ds.status:<10} {ds.successful_items:>6}/{ds.total_items:<6} "
              f"exports {ds.export_count:<3} latest {latest:<10} {ds.name}")
    print(f"{len(records)} dataset(s)")
    return 0


def _export(client, args: argparse.Namespace) -> int:
    options = {"delimiter": args.delimiter} if args.delimiter is not None else None
    result = client.datasets.export(args.dataset_id, args.format, options=options,
                                    include_failed_items=args.include_failed_items)
    path = client.datasets.download(result, dest=args.dest, progress=sys.stderr.isatty())
    print(f"exported {result.dataset_id} as {result.format}: {result.record_count} records, "
          f"{result.file_size_bytes:,} bytes -> {path}")
    return 0


def _stats(client, args: argparse.Namespace) -> int:
    stats = client.datasets.statistics(days=args.days)
    if args.json:
        print(json.dumps(stats.raw, indent=2))
        return 0
    print(f"{stats.period_label}: {stats.total_datasets} datasets, {stats.total_items} items, "
          f"{stats.total_exports} exports, {stats.total_data_volume:,} bytes")
    print(stats.by_status.to_string())
    print(stats.by_format.to_string())
    return 0


def _record_json(record) -> dict:
    import dataclasses

    return dataclasses.asdict(record)
