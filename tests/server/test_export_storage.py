"""The export stores on their own (a folder, S3): a file written into ``create`` is stored whole, in parts
when it is big; an error while it is written leaves no file, no temp file and no multipart upload.
"""
from __future__ import annotations

import os

import pytest

from aion_pandas.server.export_storage import PART_SIZE, FolderStorage, S3Storage, open_storage
from service_backends import s3_client

BIG = 2 * PART_SIZE + 12345  # three parts, the last a short one


@pytest.fixture
def storage(backend, tmp_path) -> FolderStorage | S3Storage:
    if backend.weed is None:
        return open_storage(tmp_path / "exports")
    return open_storage(f"s3://{backend.bucket}/{tmp_path.name}", backend.weed.endpoint)


def _stored(storage: FolderStorage | S3Storage, key: str) -> bytes | None:
    if isinstance(storage, FolderStorage):
        path = storage.path(key)
        return path.read_bytes() if path else None
    try:
        return storage.client.get_object(Bucket=storage.bucket, Key=storage.object_key(key))["Body"].read()
    except storage.client.exceptions.NoSuchKey:
        return None


def _leftovers(storage: FolderStorage | S3Storage) -> list[str]:
    """Every file or object the store holds, and (S3) every multipart upload still open."""
    if isinstance(storage, FolderStorage):
        return sorted(str(p.relative_to(storage.root)) for p in storage.root.rglob("*") if p.is_file())
    client, prefix = s3_client(storage.client.meta.endpoint_url), storage.object_key("")
    objects = client.list_objects_v2(Bucket=storage.bucket, Prefix=prefix).get("Contents", [])
    uploads = client.list_multipart_uploads(Bucket=storage.bucket, Prefix=prefix).get("Uploads", [])
    return sorted([o["Key"] for o in objects] + [f"upload {u['Key']}" for u in uploads])


@pytest.mark.parametrize("size", [0, 100, PART_SIZE, 2 * PART_SIZE, BIG])  # exact parts: no empty last part
def test_what_is_written_is_stored_whole(storage, size):
    data = os.urandom(size)
    with storage.create("e1/file.bin", "application/zip") as out:
        for start in range(0, size, 3 << 20):  # uneven writes: parts do not follow them
            out.write(memoryview(data)[start:start + (3 << 20)])
        written = out.tell()
    assert written == size
    assert _stored(storage, "e1/file.bin") == data
    assert len(_leftovers(storage)) == 1  # the file; no temp file, no open upload


@pytest.mark.parametrize("size", [100, BIG])
def test_an_error_while_writing_leaves_nothing(storage, size):
    with pytest.raises(RuntimeError, match="the writer broke"):
        with storage.create("e2/file.bin", "application/zip") as out:
            out.write(os.urandom(size))
            raise RuntimeError("the writer broke")
    assert _stored(storage, "e2/file.bin") is None
    assert _leftovers(storage) == []


def test_a_finished_upload_takes_no_more_bytes(storage):
    """A write after the block ended raises, as on a closed file, instead of going nowhere."""
    with storage.create("e3/file.bin", "text/csv") as out:
        out.write(b"a,b\n")
    with pytest.raises(ValueError):
        out.write(b"1,2\n")
    assert _stored(storage, "e3/file.bin") == b"a,b\n"
