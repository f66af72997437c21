"""Parse Pascal VOC annotation documents (pure: bytes in, columns out), safely.

Every document passes :func:`~aion_pandas.formats.safety.check_xml` (a DOCTYPE or ENTITY
declaration is refused; nothing is ever expanded), then lxml parses it with
``resolve_entities=False, no_network=True, load_dtd=False``. Errors name the member, the object
and the field.

>>> doc = (b"<annotation><filename>a.jpg</filename><size><width>4</width><height>3</height>"
...        b"</size><object><name>a&amp;b</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
...        b"<xmax>3</xmax><ymax>2</ymax></bndbox></object></annotation>")
>>> parsed = parse_documents([doc], ["a.xml"], "v.zip")
>>> parsed.objects["name"].tolist(), parsed.objects["xmax"].tolist()
(['a&b'], [3.0])
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from aion_pandas.errors import FormatError
from aion_pandas.formats.safety import parse_xml

_BOX = ("xmin", "ymin", "xmax", "ymax")
_FLAGS = ("difficult", "truncated", "occluded")
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


@dataclass
class ParsedDocuments:
    """Per document: ``filename`` (str or None), ``width``, ``height`` (float, NaN if absent).
    Per object with a box: ``doc`` (document position), ``index`` (object index in its document),
    ``name`` (a Categorical), ``xmin, ymin, xmax, ymax`` (float), ``difficult``, ``truncated``
    (float 0/1, NaN if absent). ``skipped``: what has no place in the frame, by kind, with counts
    (objects without a box, ``part`` boxes, ``actions``, poses and occlusion flags);
    ``boxless_names``: the class names of objects without a box (still categories)."""

    documents: dict[str, object] = field(default_factory=dict)
    objects: dict[str, object] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    boxless_names: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)


def parse_documents(docs: list[bytes], members: list[str], where: str) -> ParsedDocuments:
    """Parse VOC documents (``members``: their names in errors); see the module doc."""
    filenames: list[str | None] = []
    sizes: list[float] = []
    rows: dict[str, list] = {k: [] for k in ("doc", "index", "name", *_BOX, *_FLAGS[:2])}
    boxless: set[str] = set()
    skipped = dict.fromkeys(("objects without <bndbox>", "<part> boxes", "<actions>",
                             "poses", "occluded flags"), 0)
    for d, (doc, member) in enumerate(zip(docs, members)):
        root = parse_xml(doc, where=where, member=member)
        if root.tag != "annotation":
            raise FormatError(f"the root element is <{root.tag}>, not <annotation>", path=where,
                              member=member)
        filename = root.findtext("filename")
        filenames.append(filename.strip() if filename and filename.strip() else None)
        for tag in ("size/width", "size/height"):
            sizes.append(_number(root.findtext(tag), tag, where, member, optional=True))
        for k, obj in enumerate(root.iterfind("object")):
            label = f"object {k + 1}"
            fields = {child.tag: child for child in obj}
            name = fields["name"].text if "name" in fields else None
            if name is None or not name.strip():
                raise FormatError(f"{label} has no <name>", path=where, member=member)
            skipped["<part> boxes"] += sum(1 for child in obj if child.tag == "part")
            skipped["<actions>"] += "actions" in fields
            pose = fields["pose"].text if "pose" in fields else None
            skipped["poses"] += bool(pose and pose.strip() not in ("", "Unspecified"))
            skipped["occluded flags"] += _flag(_text(fields, "occluded"), f"{label} occluded",
                                               where, member) == 1.0
            box = fields.get("bndbox")
            if box is None:
                skipped["objects without <bndbox>"] += 1
                boxless.add(name.strip())
                continue
            corners = {child.tag: child.text for child in box}
            rows["doc"].append(d)
            rows["index"].append(k)
            rows["name"].append(name.strip())
            for tag in _BOX:
                rows[tag].append(_number(corners.get(tag), f"{label} {tag}", where, member))
            for tag in ("difficult", "truncated"):
                rows[tag].append(_flag(_text(fields, tag), f"{label} {tag}", where, member))
    objects: dict[str, object] = {k: np.array(v, dtype="float64") for k, v in rows.items()
                                  if k not in ("doc", "index", "name")}
    objects["doc"] = np.array(rows["doc"], dtype="int64")
    objects["index"] = np.array(rows["index"], dtype="int64")
    objects["name"] = pd.Categorical(rows["name"])
    size = np.array(sizes, dtype="float64").reshape(-1, 2)
    return ParsedDocuments({"filename": filenames, "width": size[:, 0], "height": size[:, 1]},
                           objects, {kind: n for kind, n in skipped.items() if n}, sorted(boxless),
                           list(members))


def _text(fields: dict, tag: str) -> str | None:
    element = fields.get(tag)
    return None if element is None else element.text


def _number(text: str | None, what: str, where: str, member: str, optional: bool = False) -> float:
    if text is None or not text.strip():
        if optional:
            return float("nan")
        raise FormatError(f"{what} is missing", path=where, member=member)
    try:
        return float(text)
    except ValueError:
        raise FormatError(f"{what} {text.strip()!r} is not a number", path=where,
                          member=member) from None


def _flag(text: str | None, what: str, where: str, member: str) -> float:
    if text is None or not text.strip():
        return float("nan")
    value = text.strip().lower()
    if value in _TRUE:
        return 1.0
    if value in _FALSE:
        return 0.0
    try:
        return 1.0 if float(value) else 0.0
    except ValueError:
        raise FormatError(f"{what} {text.strip()!r} is not 0 or 1", path=where,
                          member=member) from None
