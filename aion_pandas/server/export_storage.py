"""Where export files live: a local folder (the default) or an S3-compatible bucket, behind one small interface.

``open_storage("s3://bucket/prefix", endpoint_url=...)`` uses boto3 with the standard AWS credential
variables; anything else is a folder. An export is written straight into ``create(key, content_type)``:
a folder writes a hidden temp file and renames it into place; S3 sends what is written as it comes (one
PUT for a small file, else a multipart upload whose parts go up while the next is written). Either way the
file appears only when the block ends without an error; on an error nothing appears (the multipart upload
is aborted). A store that cannot be reached raises ``StorageUnavailable`` (the API's 503).

>>> import tempfile
>>> storage = open_storage(tempfile.mkdtemp())
>>> with storage.create("e1/a.csv", "text/csv") as out:
...     _ = out.write(b"x\\n1\\n")
...     size = out.tell()  # the bytes written so far
>>> size, storage.path("e1/a.csv").read_bytes(), storage.describe()
(4, b'x\\n1\\n', 'folder')
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any, BinaryIO, Protocol

PART_SIZE = 16 << 20  # bytes per part of a multipart upload (S3 wants 5 MiB at least, but the last)


class StorageUnavailable(RuntimeError):
    """The export store did not answer (down, unreachable, or refusing)."""


class ExportStorage(Protocol):
    """The operations the service needs from an export store. ``key``: ``<export_id>/<file name>``."""

    # a binary file whose bytes are stored at ``key`` when the block ends cleanly, and nowhere on an error
    def create(self, key: str, content_type: str) -> AbstractContextManager[BinaryIO]: ...
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

    @contextmanager
    def create(self, key: str, content_type: str) -> Iterator[BinaryIO]:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{key.replace('/', '.')}.partial"
        try:
            with open(tmp, "wb") as out:
                yield out
                out.flush()
                os.fsync(out.fileno())
            final = self.root / key
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)

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
                 public_endpoint_url: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/")
        config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=30,
                        s3={"addressing_style": "path"}, signature_version="s3v4")
        self.client = boto3.client("s3", endpoint_url=endpoint_url, config=config)
        # presigned URLs name the store as clients reach it, which may differ from how the service does
        self._presigner = boto3.client("s3", endpoint_url=public_endpoint_url, config=config) \
            if public_endpoint_url else self.client

    def object_key(self, key: str) -> str:
        return "/".join(p for p in (self.prefix, "exports", key) if p)

    @contextmanager
    def create(self, key: str, content_type: str) -> Iterator[BinaryIO]:
        upload = _Upload(self.client, self.bucket, self.object_key(key), content_type)
        try:
            yield upload  # type: ignore[misc]
            upload.finish()
        except BaseException:
            upload.abort()
            raise

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


class _Upload:
    """The file ``S3Storage.create`` hands out: what is written goes to one object, as one PUT when it stays
    under ``PART_SIZE``, else as a multipart upload whose parts go up on one thread while the caller writes
    the next (one part in flight, so two parts at most are held). ``finish`` completes it; ``abort`` aborts
    the multipart upload and deletes the key, so no object stands behind a URL (if the store is down meanwhile,
    an incomplete upload may stay: the deployment's bucket rule AbortIncompleteMultipartUpload sweeps it).
    Parts carry a CRC32 checksum that the store verifies. Closed after either: a later write raises."""

    closed = False  # what a file-like writer (pyarrow's) asks before writing

    def __init__(self, client: Any, bucket: str, key: str, content_type: str) -> None:
        self._client, self._object, self._content_type = client, {"Bucket": bucket, "Key": key}, content_type
        self._buffer, self._size = bytearray(), 0
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="aion-s3-part")  # its thread starts with a part
        self._in_flight: Future | None = None

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a finished or aborted export upload")
        view = memoryview(data).cast("B")
        written = view.nbytes
        self._size += written
        while view.nbytes:  # parts of exactly PART_SIZE: a big write is not held twice
            room = PART_SIZE - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) == PART_SIZE:
                self._send(self._buffer)
                self._buffer = bytearray()
        return written

    def tell(self) -> int:
        return self._size

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        pass

    def _send(self, part: bytearray) -> None:
        if self._upload_id is None:
            self._upload_id = _call(self._client.create_multipart_upload, **self._object,
                                    ContentType=self._content_type, ChecksumAlgorithm="CRC32")["UploadId"]
        self._wait()
        number = len(self._parts) + 1
        self._in_flight = self._pool.submit(_call, self._client.upload_part, **self._object, Body=part,
                                            UploadId=self._upload_id, PartNumber=number, ChecksumAlgorithm="CRC32")
        self._parts.append({"PartNumber": number})

    def _wait(self) -> None:
        """Wait for the part in flight and record its ETag (raises what its upload raised)."""
        if self._in_flight is not None:
            done, self._in_flight = self._in_flight.result(), None
            self._parts[-1].update({k: done[k] for k in ("ETag", "ChecksumCRC32") if k in done})

    def finish(self) -> None:
        self.closed = True
        if self._upload_id is None:
            _call(self._client.put_object, **self._object, Body=self._buffer, ContentType=self._content_type)
        else:
            if self._buffer:
                self._send(self._buffer)
            self._wait()
            _call(self._client.complete_multipart_upload, **self._object, UploadId=self._upload_id,
                  MultipartUpload={"Parts": self._parts})
        self._pool.shutdown()

    def abort(self) -> None:
        """Drop what was sent. The key is deleted too: a PUT or a completion that the store took but whose
        answer was lost (a time-out) would otherwise leave an object that no export row names."""
        self.closed = True
        if self._in_flight is not None:
            self._in_flight.exception()  # wait for it, whatever it did
        self._pool.shutdown()
        calls = [(self._client.delete_object, {})]
        if self._upload_id is not None:
            calls.insert(0, (self._client.abort_multipart_upload, {"UploadId": self._upload_id}))
        for operation, params in calls:
            with suppress(StorageUnavailable):
                _call(operation, **self._object, **params)


def _call(operation: Any, **params: Any) -> Any:
    """One S3 call; a store that does not take it raises StorageUnavailable."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return operation(**params)
    except (BotoCoreError, ClientError) as exc:
        raise StorageUnavailable(f"the export store did not take the file ({type(exc).__name__})") from None


def open_storage(spec: str | Path, endpoint_url: str | None = None,
                 public_endpoint_url: str | None = None) -> FolderStorage | S3Storage:
    """``s3://bucket[/prefix]`` -> S3Storage; a path -> FolderStorage."""
    text = str(spec)
    if text.startswith("s3://"):
        bucket, _, prefix = text[5:].partition("/")
        if not bucket:
            raise ValueError(f"--storage {text!r}: name a bucket, as in s3://bucket/prefix")
        return S3Storage(bucket, prefix, endpoint_url, public_endpoint_url)
    return FolderStorage(Path(text))
