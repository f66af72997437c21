"""Image files of batch items: stored under ``data_dir/files`` and recorded in the store.

>>> sniff_size(b"not an image")
(None, None)
"""
from __future__ import annotations

import io
import mimetypes
import os
import shutil
import uuid
from pathlib import Path

from .store import Store


def sniff_size(data: bytes | Path) -> tuple[int | None, int | None]:
    """(width, height) read from an image header (bytes or a file) with Pillow, or (None, None)."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as img:
            return int(img.width), int(img.height)
    except Exception:
        return None, None


def content_type_for(file_name: str, given: str | None = None) -> str:
    if given and "/" in given and len(given) < 100:
        return given
    return mimetypes.guess_type(file_name)[0] or "application/octet-stream"


def save_image(store: Store, files_dir: Path, tenant: str, file_name: str, *, data: bytes | None = None,
               source: Path | None = None, content_type: str | None = None) -> str:
    """Store image bytes (or a copy of ``source``) and return the new file id.

    The file is written under a temp name and renamed, so a crash never leaves a half image.
    """
    file_id = str(uuid.uuid4())
    folder = Path(files_dir) / file_id[:2]
    folder.mkdir(parents=True, exist_ok=True)
    final, tmp = folder / file_id, folder / f".{file_id}.tmp"
    if data is not None:
        tmp.write_bytes(data)
    elif source is not None:
        shutil.copyfile(source, tmp)
    else:
        raise ValueError("save_image needs data or source")
    os.replace(tmp, final)
    return store.add_file(tenant, Path(file_name).name, content_type_for(file_name, content_type),
                          final.stat().st_size, str(final.relative_to(Path(files_dir).parent)),
                          file_id=file_id)
