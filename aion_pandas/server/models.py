"""Request and response models of the API, in families: ``*Create`` (input), ``*Public`` (output), ``*Page``.

>>> DatasetCreate(batch_id="b1", name="Q1").format_config.csv_delimiter
','
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DatasetStatus = Literal["pending", "processing", "ready", "failed"]
BatchStatus = Literal["pending", "processing", "completed", "failed"]
ItemStatus = Literal["pending", "processing", "completed", "failed"]
ExportFormat = Literal["csv", "coco", "yolo", "pascal_voc"]
SUPPORTED_FORMATS: list[str] = ["csv", "coco", "yolo", "pascal_voc"]


# ---------------------------------------------------------------- errors
class ErrorBody(BaseModel):
    code: str = Field(examples=["NOT_FOUND"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    """Every non-2xx response."""
    error: ErrorBody
    request_id: str


# ---------------------------------------------------------------- datasets
class FormatConfig(BaseModel):
    """Dataset-wide export defaults; an export's ``options`` override them."""
    model_config = ConfigDict(extra="allow")
    csv_delimiter: str = Field(",", min_length=1, max_length=1)
    include_timestamps: bool = True

    @field_validator("csv_delimiter")
    @classmethod
    def _printable_delimiter(cls, value: str) -> str:
        if value in "\r\n\"" or (not value.isprintable() and value != "\t"):
            raise ValueError("csv_delimiter must be one printable character other than a quote")
        return value


class DatasetCreate(BaseModel):
    batch_id: str = Field(min_length=1, max_length=100, examples=["550e8400-e29b-41d4-a716-446655440000"])
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(None, max_length=5000)
    format_config: FormatConfig = Field(default_factory=FormatConfig)


class LatestExport(BaseModel):
    export_id: str
    format: ExportFormat
    created_at: datetime


class DatasetPublic(BaseModel):
    """A dataset: a snapshot of a completed batch's results that can be exported."""
    id: str
    name: str
    description: str | None
    batch_id: str
    status: DatasetStatus
    created_at: datetime
    updated_at: datetime
    batch_status: BatchStatus | None
    total_items: int
    successful_items: int
    export_count: int
    supported_formats: list[ExportFormat]
    latest_export: LatestExport | None
    format_config: dict[str, Any]
    failure_reason: str | None = Field(None, description="why the dataset failed (status 'failed')")


class DatasetsPage(BaseModel):
    datasets: list[DatasetPublic]
    total_count: int
    limit: int
    offset: int
    has_more: bool


# ---------------------------------------------------------------- exports
class ExportCreate(BaseModel):
    format: ExportFormat
    options: dict[str, Any] = Field(default_factory=dict, examples=[{"delimiter": ","}])
    include_failed_items: bool = False


class ExportPublic(BaseModel):
    """A finished export. ``download_url`` is absolute, signed and expiring: it needs no API key."""
    export_id: str
    dataset_id: str
    format: ExportFormat
    status: Literal["completed"]
    record_count: int = Field(description="images (items) in the file")
    download_url: str
    file_size_bytes: int
    content_type: str
    exported_at: datetime
    expires_at: datetime


# ---------------------------------------------------------------- statistics
class DatasetStatistics(BaseModel):
    total_datasets: int
    avg_items_per_dataset: float
    total_items: int
    by_status: dict[str, int]


class FormatStatistics(BaseModel):
    count: int
    total_size: int
    avg_export_time_seconds: float


class ExportStatistics(BaseModel):
    total_exports: int
    total_data_volume: int
    by_format: dict[str, FormatStatistics]


class PopularFormat(BaseModel):
    format: ExportFormat
    usage_count: int


class Period(BaseModel):
    since: datetime
    until: datetime


class StatisticsPublic(BaseModel):
    """Datasets created and exports made in the period, for the calling tenant."""
    dataset_statistics: DatasetStatistics
    export_statistics: ExportStatistics
    popular_formats: list[PopularFormat]
    period: Period


# ---------------------------------------------------------------- batches
def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class BBox(BaseModel):
    """A box in pixels: top-left corner ``x, y`` and size, origin at the image's top-left."""
    x: float = Field(ge=0, le=1e6)
    y: float = Field(ge=0, le=1e6)
    width: float = Field(gt=0, le=1e6)
    height: float = Field(gt=0, le=1e6)


class Detection(BaseModel):
    label: str = Field(min_length=1, max_length=200, examples=["person"])
    confidence: float = Field(1.0, ge=0, le=1)
    bbox: BBox


class OutputData(BaseModel):
    """What processing found in one image."""
    description: str | None = Field(None, max_length=10000)
    tags: list[str] = Field(default_factory=list, max_length=1000)
    detections: list[Detection] = Field(default_factory=list, max_length=10000)
    width: int | None = Field(None, gt=0, le=1_000_000)
    height: int | None = Field(None, gt=0, le=1_000_000)


class BatchItemCreate(BaseModel):
    """One imported item: the image (bytes or a path under the server's import root) and its result."""
    file_name: str = Field(min_length=1, max_length=500, examples=["images/000001.jpg"])
    status: Literal["completed", "failed"] = "completed"
    output_data: OutputData | None = None
    error_message: str | None = Field(None, max_length=5000)
    image_base64: str | None = Field(None, description="the image bytes, base64")
    path: str | None = Field(None, max_length=4096, description="a file under the server's --import-root")
    content_type: str | None = Field(None, max_length=100)

    @field_validator("file_name")
    @classmethod
    def _relative_name(cls, value: str) -> str:
        parts = value.split("/")
        if value.startswith("/") or "\\" in value or any(p in ("", ".", "..") for p in parts) \
                or any(ord(ch) < 32 for ch in value):
            raise ValueError("file_name must be a relative path with '/' separators, no '..' or empty parts")
        return value


class BatchCreate(BaseModel):
    """Import a completed batch (the hosted API fills batches from uploads; this service imports them)."""
    name: str | None = Field(None, max_length=255)
    items: list[BatchItemCreate] = Field(min_length=1, max_length=200_000)


class BatchPublic(BaseModel):
    """A batch's status: items are processed into results; a completed batch can become a dataset."""
    batch_id: str
    name: str | None
    status: BatchStatus
    total_items: int
    successful_items: int
    failed_items: int
    pending_items: int
    progress_percent: float
    created_at: datetime
    completed_at: datetime | None


class BatchesPage(BaseModel):
    batches: list[BatchPublic]
    total_count: int
    limit: int
    offset: int
    has_more: bool


class BatchItemResult(BaseModel):
    """One item's result. ``output_data`` is null unless ``status`` is ``completed``."""
    item_id: str = Field(description="the item's id (stable)")
    item_index: int = Field(description="0-based position of the item in its batch")
    status: ItemStatus
    file_id: str | None = Field(description="the image: GET /user-files/{file_id}/download (null: no bytes)")
    file_name: str
    output_data: OutputData | None
    error_message: str | None = Field(description="why a failed item failed")
    processed_at: datetime | None


class BatchResultsPage(BaseModel):
    """A page of a batch's results, in item order."""
    batch_id: str
    batch_status: BatchStatus
    results: list[BatchItemResult]
    total_count: int
    limit: int
    offset: int
    has_more: bool


class Health(BaseModel):
    status: Literal["ok"]
