"""Request and response models of the API, in families: ``*Create`` (input), ``*Public`` (output), ``*Page``.

>>> DatasetCreate(batch_id="b1", name="Q1").format_config.csv_delimiter
','
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal, Union
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

DatasetStatus = Literal["pending", "processing", "ready", "failed"]
#: the hosted ``BatchStatus``
BatchStatus = Literal["pending", "processing", "completed", "failed", "cancelled", "partially_completed"]
#: item statuses as the hosted results name them (``success``, not ``completed``)
ItemStatus = Literal["pending", "processing", "success", "failed"]
_SEG = r"(?:[^/\\\x00-\x1f.][^/\\\x00-\x1f]*|\.[^/\\\x00-\x1f.][^/\\\x00-\x1f]*|\.\.[^/\\\x00-\x1f]+)"
#: a relative path of names, '/' between them: no empty, '.' or '..' part, no backslash or control character
FILE_NAME = f"^{_SEG}(?:/{_SEG})*$"
#: one ASCII character other than a control character or a quote, or a tab (a CSV delimiter; the CSV
#: writer takes ASCII only)
DELIMITER = r"^[\t\x20\x21\x23-\x7e]+$"
ExportFormat = Literal["csv", "coco", "yolo", "pascal_voc"]
SUPPORTED_FORMATS: list[str] = ["csv", "coco", "yolo", "pascal_voc"]


# ---------------------------------------------------------------- errors
class ErrorBody(BaseModel):
    code: str = Field(examples=["NOT_FOUND"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    """Every non-2xx response (but the user-file download's, see :class:`UserFilesError`)."""
    error: ErrorBody
    request_id: str


class UserFilesError(BaseModel):
    """The hosted ``UserFilesError``: the error of ``GET /user-files/{image_id}/download``."""
    error: str = Field(description="the error code", examples=["NOT_FOUND"])
    message: str
    details: dict[str, Any] | None = None
    request_id: str


# ---------------------------------------------------------------- datasets
#: request bodies take JSON as typed: no 0 for false, no "1" for 1 (what the schema says is what is accepted)
STRICT = ConfigDict(strict=True)


def _whole_number(value: Any) -> Any:
    """JSON's integers include ``4866.0`` (a number with no fraction): taken as 4866 in strict models."""
    if isinstance(value, float) and not isinstance(value, bool) and value.is_integer():
        return int(value)
    return value


#: an image side in pixels
PixelSize = Annotated[int, Field(gt=0, le=1_000_000), BeforeValidator(_whole_number)]


class FormatConfig(BaseModel):
    """Dataset-wide export defaults; an export's ``options`` override them."""
    model_config = ConfigDict(extra="allow", strict=True)
    csv_delimiter: str = Field(",", min_length=1, max_length=1, pattern=DELIMITER,
                               description="one ASCII character, not a quote or a control character (tab is fine)")
    include_timestamps: bool = True


class DatasetCreate(BaseModel):
    model_config = STRICT
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
def _optional(description: str, **kw: Any) -> Any:
    """An option that may be left out (no ``default: null`` in the schema: null is not a value)."""
    return Field(None, description=description, json_schema_extra=lambda schema: schema.pop("default", None), **kw)


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CsvOptions(_Options):
    """CSV options; unset ones come from the dataset's ``format_config``."""
    delimiter: str = _optional("one ASCII character, not a quote or a control character (tab is fine)",
                               min_length=1, max_length=1,
                               pattern=DELIMITER)
    include_timestamps: bool = _optional("add the items' processed_at column")


class PascalVocOptions(_Options):
    one_based: bool = _optional("VOC devkit corners (xmin = x + 1); default: 0-based")


class NoOptions(_Options):
    """This format takes no options."""


class _ExportBase(BaseModel):
    model_config = STRICT
    include_failed_items: bool = False


class CsvExport(_ExportBase):
    format: Literal["csv"]
    options: CsvOptions = Field(default_factory=CsvOptions, examples=[{"delimiter": ","}])


class CocoExport(_ExportBase):
    format: Literal["coco"]
    options: NoOptions = Field(default_factory=NoOptions)


class YoloExport(_ExportBase):
    format: Literal["yolo"]
    options: NoOptions = Field(default_factory=NoOptions)


class PascalVocExport(_ExportBase):
    format: Literal["pascal_voc"]
    options: PascalVocOptions = Field(default_factory=PascalVocOptions)


#: the export request: ``options`` are documented (and checked) per ``format``
ExportCreate = Annotated[Union[CsvExport, CocoExport, YoloExport, PascalVocExport], Field(discriminator="format")]


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
    model_config = STRICT
    x: float = Field(ge=0, le=1e6)
    y: float = Field(ge=0, le=1e6)
    width: float = Field(gt=0, le=1e6)
    height: float = Field(gt=0, le=1e6)


class Detection(BaseModel):
    model_config = STRICT
    label: str = Field(min_length=1, max_length=200, examples=["person"])
    confidence: float = Field(1.0, ge=0, le=1)
    bbox: BBox


class OutputData(BaseModel):
    """What processing found in one image; an image with detections has its ``width`` and ``height``."""
    model_config = ConfigDict(strict=True, json_schema_extra={
        "if": {"required": ["detections"], "properties": {"detections": {"minItems": 1}}},
        "then": {"required": ["width", "height"],
                 "properties": {"width": {"type": "integer"}, "height": {"type": "integer"}}}})
    description: str | None = Field(None, max_length=10000)
    tags: list[str] = Field(default_factory=list, max_length=1000)
    detections: list[Detection] = Field(default_factory=list, max_length=10000)
    width: PixelSize | None = None
    height: PixelSize | None = None

    @model_validator(mode="after")
    def _sized(self) -> "OutputData":
        if self.detections and (self.width is None or self.height is None):
            raise ValueError("width and height are needed for an item with detections (boxes are in pixels)")
        return self


class BatchItemCreate(BaseModel):
    """One imported item: the image (bytes or a path under the server's import root) and its result."""
    model_config = STRICT
    file_name: str = Field(min_length=1, max_length=500, examples=["images/000001.jpg"], pattern=FILE_NAME,
                           description="a relative path with '/' separators; no empty, '.' or '..' parts")
    status: Literal["completed", "failed"] = "completed"
    output_data: OutputData | None = None
    error_message: str | None = Field(None, max_length=5000)
    image_base64: str | None = Field(None, description="the image bytes, base64",
                                     pattern=r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
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
    model_config = STRICT
    name: str | None = Field(None, max_length=255)
    items: list[BatchItemCreate] = Field(min_length=1, max_length=200_000)


class BatchPublic(BaseModel):
    """The hosted ``BatchStatusResponse`` (every field), plus ``name`` (this project's)."""
    batch_id: UUID
    status: BatchStatus
    total_items: int
    processed_items: int
    successful_items: int
    failed_items: int
    success_rate: float = Field(description="successful / processed items (0-1)")
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    estimated_completion_time: datetime | None
    progress_percentage: float = Field(ge=0, le=100)
    avg_processing_time_ms: int | None
    name: str | None = Field(None, description="extension: the name given at import")
    pending_items: int = Field(0, description="extension: items not processed yet")


class BatchesPage(BaseModel):
    """Extension: a page of batches (the hosted API lists none)."""
    batches: list[BatchPublic]
    total_count: int
    limit: int
    offset: int
    has_more: bool


class BatchItemResult(BaseModel):
    """The hosted ``BatchItemResult``; ``output_data`` (null unless ``success``) holds the detections."""
    item_id: UUID
    item_index: int = Field(description="0-based position of the item in its batch")
    status: ItemStatus
    input_data: dict[str, Any] | None = Field(description="file_name and file_id of the image")
    output_data: OutputData | None
    error_message: str | None = Field(description="why a failed item failed")
    processing_time_ms: int | None
    stored_image_url: str | None = Field(description="GET it (with the key) for the image: /data/batch-images/{item_id}")
    file_id: str | None = Field(description="extension: GET /user-files/{file_id}/download (null: no bytes)")
    file_name: str = Field(description="extension: the image's file name")
    processed_at: datetime | None = Field(description="extension")


class Pagination(BaseModel):
    offset: int
    limit: int
    total_count: int
    has_more: bool


class ResultsSummary(BaseModel):
    total_items: int
    successful_items: int
    failed_items: int
    pending_items: int


class BatchResultsPage(BaseModel):
    """The hosted ``BatchResultsResponse``: a page of results in item order, ``pagination`` and ``summary``."""
    batch_id: UUID
    status: BatchStatus
    results: list[BatchItemResult]
    pagination: Pagination
    summary: ResultsSummary


class Health(BaseModel):
    status: Literal["ok"]
