"""Where export files live: a local folder (the default) or an S3-compatible bucket, behind one small interface.

``open_storage("s3://bucket/prefix", endpoint_url=...)`` uses boto3 with the standard AWS credential
variables; anything else is a folder. An export is written to a local temp file first, then ``put``: a
folder renames it into place, S3 uploads it (multipart for big files; boto3 aborts a failed multipart
upload, so no object appears). A store that cannot be reached raises ``StorageUnavailable`` (the API's 503).

>>> import tempfile; from pathlib import Path
>>> storage = open_storage(tempfile.mkdtemp())
>>> src = Path(tempfile.mkdtemp()) / "a.csv"; _ = src.write_text("x\\n1\\n")
>>> storage.put("e1/a.csv", src, "text/csv"), storage.describe()
(4, 'folder')
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol


class StorageUnavailable(RuntimeError):
    """The export store did not answer (down, unreachable, or refusing)."""


class ExportStorage(Protocol):
    """The operations the service needs from an export store. ``key``: ``<export_id>/<file name>``."""

    def scratch_dir(self) -> Path: ...  # where to write the temp file before ``put``
    def put(self, key: str, local_file: Path, content_type: str) -> int: ...  # the stored size
    def delete(self, key: str) -> None: ...
    def ping(self) -> None: ...  # raise StorageUnavailable unless the store answers
    def describe(self) -> str: ...


class FolderStorage:
    """Export files under ``root/<export_id>/<file name>``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path | None:
        """The file of ``key``, or None when it is missing or would leave the folder."""
        base = self.root.resolve()
        path = (base / key).resolve()
        return path if path.is_relative_to(base) and path.is_file() else None

    def scratch_dir(self) -> Path:
        return self.root

    def put(self, key: str, local_file: Path, content_type: str) -> int:
        final = self.root / key
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(local_file, final)
        return final.stat().st_size

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def ping(self) -> None:
        if self.root.exists() and not os.access(self.root, os.W_OK):
            raise StorageUnavailable(f"the export folder {self.root} is not writable")

    def describe(self) -> str:
        return "folder"


class S3Storage:
    """Export files as objects ``<prefix>/exports/<export_id>/<file name>`` in one bucket."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                 scratch: Path | None = None, public_endpoint_url: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/")
        config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=30,
                        s3={"addressing_style": "path"}, signature_version="s3v4")
        self.client = boto3.client("s3", endpoint_url=endpoint_url, config=config)
        # presigned URLs name the store as clients reach it, which may differ from how the service does
        self._presigner = boto3.client("s3", endpoint_url=public_endpoint_url, config=config) \
            if public_endpoint_url else self.client
        self._scratch = Path(scratch or tempfile.gettempdir())

    def object_key(self, key: str) -> str:
        return "/".join(p for p in (self.prefix, "exports", key) if p)

    def scratch_dir(self) -> Path:
        return self._scratch

    def put(self, key: str, local_file: Path, content_type: str) -> int:
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        size = Path(local_file).stat().st_size
        try:
            self.client.upload_file(str(local_file), self.bucket, self.object_key(key),
                                    ExtraArgs={"ContentType": content_type},
                                    Config=TransferConfig(multipart_threshold=16 << 20, multipart_chunksize=16 << 20))
        except (BotoCoreError, ClientError, OSError) as exc:
            self._forget(key)
            raise StorageUnavailable(f"the export store did not take the file ({type(exc).__name__})") from None
        return size

    def _forget(self, key: str) -> None:
        """Remove whatever a failed upload may have left (an object, or a multipart upload in progress)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.delete(key)
            uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.object_key(key))
            for upload in uploads.get("Uploads", []):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        except (BotoCoreError, ClientError):
            pass  # the store is down: nothing was completed, so no object stands behind a URL

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def size(self, key: str) -> int:
        """The stored object's size (raises StorageUnavailable when the store does not answer)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))["ContentLength"])
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"the export store did not answer ({type(exc).__name__})") from None

    def presigned_url(self, key: str, expires_in: int, file_name: str) -> str:
        """A GET URL of the object that works without credentials for ``expires_in`` seconds."""
        return self._presigner.generate_presigned_url(
            "get_object", ExpiresIn=max(1, min(int(expires_in), 7 * 24 * 3600)),
            Params={"Bucket": self.bucket, "Key": self.object_key(key),
                    "ResponseContentDisposition": f'attachment; filename="{file_name}"'})

    def ping(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"the export store did not answer ({type(exc).__name__})") from None

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def open_storage(spec: str | Path, endpoint_url: str | None = None, scratch: Path | None = None,
                 public_endpoint_url: str | None = None) -> FolderStorage | S3Storage:
    """``s3://bucket[/prefix]`` -> S3Storage; a path -> FolderStorage."""
    text = str(spec)
    if text.startswith("s3://"):
        bucket, _, prefix = text[5:].partition("/")
        if not bucket:
            raise ValueError(f"--storage {text!r}: name a bucket, as in s3://bucket/prefix")
        return S3Storage(bucket, prefix, endpoint_url, scratch, public_endpoint_url)
    return FolderStorage(Path(text))
