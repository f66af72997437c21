"""Where the labels, images, class names and splits of a YOLO dataset are, by the layout's rules.

Layouts (a folder or a zip, at any depth; the README's YOLO section draws them): Ultralytics (``data.yaml``,
``images/<split>/`` beside ``labels/<split>/``), Darknet (``obj.data``, ``obj.names``, list files, labels
beside images), loose label files with ``classes.txt`` or ``obj.names``, and ours. An image's label file: its
last ``images/`` made ``labels/``, else the ``.txt`` beside it, else the one label file with its stem (not
under ``labels/`` for an image under ``images/``: those pair by path alone, as Ultralytics pairs them). Its
split: the data.yaml/obj.data entry listing it, else a folder named ``train``, ``val``/``valid`` or ``test``.

>>> split_of_path("images/valid/a.jpg"), label_of_image("ds/images/train/a.jpg")
('val', 'ds/labels/train/a.txt')
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from aion_pandas.errors import FormatError
from aion_pandas.formats.manifest import is_image
from aion_pandas.formats.safety import SafeArchive

YAML_NAMES = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")
LIST_NAMES = ("classes.txt", "obj.names", "_darknet.labels")  # the last: Roboflow's Darknet export
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val",
               "validation": "val", "test": "test", "testing": "test"}
_NOT_LABELS = {"classes.txt", "images.txt", "requirements.txt",  # and readme*.txt, license*.txt
               *(f"{s}.txt" for s in SPLIT_NAMES), "trainval.txt"}
_SMALL_FILE = 16 << 20


def split_of_path(name: str) -> str | None:
    """The split a folder of ``name`` says (``train``, ``val``, ``test``), else ``None``."""
    return next((SPLIT_NAMES[p] for p in reversed(name.lower().split("/")[:-1]) if p in SPLIT_NAMES), None)


def _under(name: str, folder: str) -> bool:
    return name.startswith(folder + "/") or f"/{folder}/" in name


def label_of_image(name: str) -> str:
    """The Ultralytics label file of an image: its last ``images/`` folder becomes ``labels/``."""
    return re.sub(r"^((?:.*/)?)images/", r"\1labels/", name, flags=re.DOTALL).rsplit(".", 1)[0] + ".txt"


@dataclass
class Config:
    """What the data.yaml (Ultralytics) or obj.data (Darknet) says: each split's entries (members or
    folders) and the class names (else those of classes.txt or obj.names; ``None`` without any)."""

    splits: dict[str, list[str]]
    names: list[str] | None


def read_config(archive: SafeArchive, names: list[str] | None = None) -> Config:
    """The dataset's :class:`Config`; ``names`` given are the class names (none are read)."""
    splits: dict[str, list[str]] = {}
    found = archive.named(*YAML_NAMES, "obj.data", *LIST_NAMES)  # shallowest first
    yamls = archive.names_ending(".yaml", ".yml")
    config = _first(found, YAML_NAMES) or (yamls[0] if len(yamls) == 1 else None)  # coco128.yaml: the only one
    if config is not None:
        data = _load_yaml(archive, config)
        if isinstance(data, dict):
            if data.get("kpt_shape"):  # a box and 2-D keypoints would pass as a polygon
                raise FormatError("a pose dataset (kpt_shape) is not read", path=archive.where, member=config)
            folder = posixpath.dirname(config)
            root = data.get("path")
            if isinstance(root, str) and not root.startswith("/") and root not in (".", ""):
                folder = posixpath.normpath(posixpath.join(folder, root))
            for key in ("train", "val", "test"):
                value = data.get(key)
                values = value if isinstance(value, list) else [value] if isinstance(value, str) else []
                splits[key] = [_resolve(folder, str(v), archive) for v in values]
            if names is None:
                names = _yaml_names(data, archive, config)
    darknet = _first(found, ("obj.data",))
    if darknet is not None:
        folder = posixpath.dirname(darknet)
        for line in text_of(archive, darknet).splitlines():
            key, _, value = line.partition("=")
            key = SPLIT_NAMES.get(key.strip().lower())
            if key and value.strip():
                splits.setdefault(key, []).append(_resolve(folder, value.strip(), archive))
    listing = _first(found, LIST_NAMES) if names is None else None  # a blank line keeps its index, as its name
    if listing is not None:
        names = [n.strip() or str(i) for i, n in enumerate(text_of(archive, listing).rstrip().splitlines())]
    return Config(splits, names)


def label_members(archive: SafeArchive, config: Config) -> tuple[list[str], list[str]]:
    """The label files, and the other ``.txt`` files that are neither labels nor lists, to be
    reported: with a ``labels/`` folder, every ``.txt`` outside it but the list files."""
    listed = {e for entries in config.splits.values() for e in entries if e.lower().endswith(".txt")}  # lists
    texts = [n for n in archive.names_ending(".txt") if n not in listed]
    in_labels = [n for n in texts if _under(n, "labels")  # labels/test.txt is a label
                 and n.rsplit("/", 1)[-1].lower() != "classes.txt"]
    if in_labels:  # the labels are there: any other .txt (beside an image or not) is not read
        texts = sorted(set(texts) - set(in_labels))
    named = {n for n in texts if (base := n.rsplit("/", 1)[-1].lower()) in _NOT_LABELS  # list files by name...
             or base.startswith(("readme", "license"))}
    lists = {n for n in named if n.rsplit("/", 1)[-1].lower() != "classes.txt"}  # ...train.txt by train.jpg:
    stems = {posixpath.splitext(n)[0] for n in archive.names if is_image(n)} if lists else set()  # a label
    texts = [n for n in texts if n not in named or n in lists and n[:-4] in stems]
    return (in_labels, texts) if in_labels else (texts, [])


def image_splits(archive: SafeArchive, images: list[str], config: Config) -> dict[str, str | None]:
    """Each image's split, from the data.yaml/obj.data entries, else from its folders (else None)."""
    out: dict[str, str | None] = {}
    for split, entries in config.splits.items():
        for entry in entries:
            if entry in archive and entry.lower().endswith(".txt"):  # a list file
                listed = {_resolve(posixpath.dirname(entry), line.strip(), archive).rsplit(".", 1)[0]
                          for line in text_of(archive, entry).splitlines() if line.strip()}
                for name in images:  # by stem: a label file takes its listed image's split
                    if name.rsplit(".", 1)[0] in listed:
                        out.setdefault(name, split)
            else:
                prefix = entry.rstrip("/") + "/"
                for name in images:
                    if name.startswith(prefix) or name.replace("/labels/", "/images/").startswith(prefix):
                        out.setdefault(name, split)
    for name in images:
        out.setdefault(name, split_of_path(name))
    return out


def _resolve(folder: str, path: str, archive: SafeArchive) -> str:
    """A path from a list file or data.yaml as a member: relative to the file's folder, the root,
    or (absolute, or under ``data/``) by its tail."""
    path = re.sub(r"^(?:\./)+", "", path.replace("\\", "/"))
    parts = path.strip("/").split("/")
    for k in range(len(parts)):  # data/train.txt may be train.txt beside obj.data
        tail = "/".join(parts[k:])
        for candidate in (posixpath.normpath(posixpath.join(folder, tail)), posixpath.normpath(tail)):
            if candidate in archive or archive.has_folder(candidate):
                return candidate
    return posixpath.normpath(posixpath.join(folder, path))


def _first(members: list[str], names: tuple[str, ...]) -> str | None:
    """The first of ``members`` with one of these file names."""
    return next((m for m in members if m.rsplit("/", 1)[-1].lower() in names), None)


def _load_yaml(archive: SafeArchive, name: str) -> object:
    import yaml  # here, not at import: only datasets with a data.yaml need it
    try:
        return yaml.safe_load(text_of(archive, name))
    except yaml.YAMLError as exc:
        raise FormatError(f"not valid YAML ({exc})", path=archive.where, member=name) from None


def _yaml_names(data: dict, archive: SafeArchive, name: str) -> list[str] | None:
    names = data.get("names")
    if names is None:
        return None
    if isinstance(names, dict):
        try:
            indexed = {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError):
            raise FormatError("names must map class indices to names", path=archive.where,
                              member=name) from None
        return [indexed.get(i, str(i)) for i in range(max(indexed, default=-1) + 1)]
    if isinstance(names, list):
        return [str(v) for v in names]
    raise FormatError("names must be a list or a mapping", path=archive.where, member=name)


def text_of(archive: SafeArchive, name: str) -> str:
    """A small text member (a list, a config), decoded; its size checked before it is read and
    after (a folder's file may grow in between)."""
    if archive.size(name) > _SMALL_FILE or len(data := archive.read(name)) > _SMALL_FILE:
        raise FormatError(f"larger than {_SMALL_FILE:,} bytes", path=archive.where, member=name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"not UTF-8 text ({exc})", path=archive.where, member=name) from None


def pair_images(labels: list[str], pictures: list[str]) -> dict[str, str]:
    """Each image's label file (image member -> label member) by the rules of the module doc."""
    free = set(labels)  # the label files no image has taken yet
    by_stem: dict[str, list[str]] = {}
    for label in labels:
        by_stem.setdefault(posixpath.basename(label)[:-4], []).append(label)
    out: dict[str, str] = {}
    for picture in pictures:
        for candidate in (label_of_image(picture), picture.rsplit(".", 1)[0] + ".txt"):
            if candidate in free:
                out[picture] = candidate
                free.remove(candidate)
                break
    for picture in pictures:
        if picture not in out:
            same = [n for n in by_stem.get(posixpath.basename(picture).rsplit(".", 1)[0], []) if n in free]
            if len(same) == 1 and not (_under(picture, "images") and _under(same[0], "labels")):
                out[picture] = same[0]
                free.remove(same[0])
    return out

