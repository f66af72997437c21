"""The spec's five dataset routes: create, list, get, export, statistics."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from ..errors import ApiError, not_found
from ..exporter import run_export
from ..models import (SUPPORTED_FORMATS, DatasetCreate, DatasetPublic, DatasetsPage, DatasetStatus,
                      ErrorEnvelope, ExportCreate, ExportPublic, StatisticsPublic)
from ..store import iso
from .deps import ERRORS, Limit, Offset, StoreDep, Tenant, public_base

router = APIRouter(tags=["datasets"], responses=ERRORS)


def dataset_public(row: dict[str, Any]) -> DatasetPublic:
    """A dataset row of the store as the API shows it."""
    latest = None
    if row.get("latest"):
        export_id, fmt, created = row["latest"].split(" ")
        latest = {"export_id": export_id, "format": fmt, "created_at": created}
    return DatasetPublic(
        id=row["id"], name=row["name"], description=row["description"], batch_id=row["batch_id"],
        status=row["status"], created_at=row["created_at"], updated_at=row["updated_at"],
        batch_status=row["batch_status"], total_items=row["total_items"],
        successful_items=row["successful_items"], export_count=row["export_count"],
        supported_formats=SUPPORTED_FORMATS, latest_export=latest,
        format_config=json.loads(row["format_config"] or "{}"), failure_reason=row["failure_reason"])


@router.post("/datasets", status_code=201, response_model=DatasetPublic,
             summary="Create a dataset from a completed batch")
def create_dataset(body: DatasetCreate, tenant: Tenant, store: StoreDep, request: Request) -> DatasetPublic:
    """Answers 201 with status ``pending`` at once; the worker snapshots the batch in the background."""
    batch = store.get_batch(tenant, body.batch_id)
    if batch is None:
        raise not_found("batch", body.batch_id)
    dataset_id = store.create_dataset(tenant, batch, body.name, body.description,
                                      body.format_config.model_dump())
    row = store.get_dataset(tenant, dataset_id)
    request.app.state.worker.wake()
    return dataset_public(row)


@router.get("/datasets", response_model=DatasetsPage, summary="List datasets, newest first")
def list_datasets(tenant: Tenant, store: StoreDep, status: DatasetStatus | None = None,
                  limit: Limit = 100, offset: Offset = 0) -> DatasetsPage:
    rows, total = store.list_datasets(tenant, status, limit, offset)
    return DatasetsPage(datasets=[dataset_public(r) for r in rows], total_count=total, limit=limit,
                        offset=offset, has_more=offset + len(rows) < total)


@router.get("/datasets/statistics/summary", response_model=StatisticsPublic,
            summary="Aggregated dataset and export statistics over the last N days")
def statistics(tenant: Tenant, store: StoreDep,
               days: Annotated[int, Query(ge=1, le=365, description="period length, 1-365")] = 30
               ) -> StatisticsPublic:
    until = datetime.now(timezone.utc).replace(microsecond=0)
    since = until - timedelta(days=days)
    raw = store.statistics(tenant, iso(since))
    by_status = {s: raw["by_status"].get(s, 0) for s in ("pending", "processing", "ready", "failed")}
    n = raw["total_datasets"]
    by_format = raw["by_format"]
    popular = sorted(by_format.items(), key=lambda kv: (-kv[1]["count"], kv[0]))
    return StatisticsPublic(
        dataset_statistics={"total_datasets": n, "total_items": raw["total_items"], "by_status": by_status,
                            "avg_items_per_dataset": round(raw["total_items"] / n, 2) if n else 0.0},
        export_statistics={"total_exports": sum(f["count"] for f in by_format.values()),
                           "total_data_volume": sum(f["total_size"] for f in by_format.values()),
                           "by_format": by_format},
        popular_formats=[{"format": f, "usage_count": v["count"]} for f, v in popular],
        period={"since": since, "until": until})


@router.get("/datasets/{dataset_id}", response_model=DatasetPublic, summary="Get one dataset")
def get_dataset(dataset_id: str, tenant: Tenant, store: StoreDep) -> DatasetPublic:
    row = store.get_dataset(tenant, dataset_id)
    if row is None:
        raise not_found("dataset", dataset_id)
    return dataset_public(row)


@router.post("/datasets/{dataset_id}/export", response_model=ExportPublic,
             responses={409: {"model": ErrorEnvelope, "description": "dataset not ready (DATASET_NOT_READY)"}},
             summary="Export a dataset to a file; returns a signed download URL")
def export_dataset(dataset_id: str, body: ExportCreate, tenant: Tenant, store: StoreDep,
                   request: Request) -> ExportPublic:
    row = store.get_dataset(tenant, dataset_id)
    if row is None:
        raise not_found("dataset", dataset_id)
    if row["status"] != "ready":
        raise ApiError(409, "DATASET_NOT_READY", f"dataset {dataset_id!r} is {row['status']}, not ready;"
                       " wait until its status is 'ready'", {"dataset_id": dataset_id, "status": row["status"]})
    state = request.app.state
    with state.export_slots:  # a few exports at a time, so memory stays bounded under load
        result = run_export(store, state.storage, state.settings, state.signer, tenant, row, body.format,
                            body.options.model_dump(exclude_unset=True), body.include_failed_items,
                            public_base(request))
    return ExportPublic(**result)
