"""Parse Pascal VOC annotation documents (pure: bytes in, columns out), safely.

XML from outside is re-encoded to UTF-8 and a ``DOCTYPE`` or ``ENTITY`` declaration is refused
before parsing (:func:`check_xml`), so no entity is ever expanded and no DTD fetched. Chunks of
plain documents are read by the scanner (:mod:`._vocscan`), any other by ElementTree, whose errors
name the member, the object and the field.

>>> doc = (b"<annotation><filename>a.jpg</filename><size><width>4</width><height>3</height>"
...        b"</size><object><name>a&amp;b</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
...        b"<xmax>3</xmax><ymax>2</ymax></bndbox></object></annotation>")
>>> parsed = parse_documents([doc], ["a.xml"], "v.zip")
>>> parsed.objects["name"].tolist(), parsed.objects["xmax"].tolist()
(['a&b'], [3.0])
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals

from aion_pandas.errors import FormatError
from aion_pandas.formats._arrowtext import float_column
from aion_pandas.formats._vocscan import scan

_BOX = ("xmin", "ymin", "xmax", "ymax")
_WORDS = {"": np.nan, "true": 1.0, "yes": 1.0, "false": 0.0, "no": 0.0}


@dataclass
class ParsedDocuments:
    """Per document ``filename``, ``width``, ``height``; per object with a box ``doc``, ``index``, ``name`` (a
    Categorical), the corners and ``difficult``/``truncated`` (0/1, NaN if absent). ``skipped``: what the
    frame has no place for, with counts; ``boxless_names``: the classes of objects without a box."""

    documents: dict[str, object] = field(default_factory=dict)
    objects: dict[str, object] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    boxless_names: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)


CHUNK = 4000  # documents scanned at a time


def parse_documents(docs: list[bytes], members: list[str], where: str) -> ParsedDocuments:
    """Parse VOC documents (``members``: their names in errors), by the scanner where it can."""
    parts = []
    for start in range(0, len(docs) or 1, CHUNK):  # no document: one empty chunk
        names = members[start:start + CHUNK]
        chunk = [check_xml(doc, where=where, member=name)
                 for doc, name in zip(docs[start:start + CHUNK], names)]
        scanned = scan(chunk)  # None on a comment or CDATA ("<!"), among other shapes
        part = ParsedDocuments(*scanned, members=names) if scanned else parse_each(chunk, names, where)
        part.objects["doc"] = part.objects["doc"] + start
        parts.append(part)
    if len(parts) == 1:
        return parts[0]
    documents = {"filename": [f for p in parts for f in p.documents["filename"]],
                 **{k: np.concatenate([p.documents[k] for p in parts]) for k in ("width", "height")}}
    objects: dict[str, object] = {k: np.concatenate([p.objects[k] for p in parts])
                                  for k in parts[0].objects if k != "name"}
    # a run without objects has empty categories of another dtype, which union_categoricals refuses
    names = [p.objects["name"] for p in parts]
    objects["name"] = union_categoricals([n for n in names if len(n)] or names[:1])
    skipped = sum((Counter(p.skipped) for p in parts), Counter())
    boxless = sorted({n for p in parts for n in p.boxless_names})
    return ParsedDocuments(documents, objects, skipped, boxless, list(members))


def parse_each(docs: list[bytes], members: list[str], where: str) -> ParsedDocuments:
    """The general path: each document (checked by :func:`check_xml`) by ElementTree, errors
    naming the member, object and field."""
    filenames: list[str | None] = []
    sizes: list[str | None] = []
    rows: dict[str, list] = {k: [] for k in ("doc", "index", "name", *_BOX, "difficult", "truncated")}
    boxless: set[str] = set()
    skipped = dict.fromkeys(("objects without <bndbox>", "<part> boxes", "<actions>",
                             "poses", "occluded flags", "<attribute> values"), 0)
    for d, (doc, member) in enumerate(zip(docs, members)):
        root = _tree(doc, where, member)  # checked by parse_documents
        if root.tag != "annotation":
            raise FormatError(f"the root element is <{root.tag}>, not <annotation>", path=where, member=member)
        filenames.append((root.findtext("filename") or "").strip() or None)
        sizes += [root.findtext("size/width"), root.findtext("size/height")]
        for k, obj in enumerate(root.iterfind("object")):
            name = obj.findtext("name")
            if name is None or not name.strip():
                raise FormatError(f"object {k + 1} has no <name>", path=where, member=member)
            skipped["<part> boxes"] += len(obj.findall("part"))
            skipped["<actions>"] += obj.find("actions") is not None
            skipped["<attribute> values"] += len(obj.findall("attributes/attribute"))  # CVAT's
            skipped["poses"] += (obj.findtext("pose") or "").strip() not in ("", "Unspecified")
            occluded = _flag(obj.findtext("occluded"))
            if occluded is None:
                raise FormatError(f"object {k + 1} occluded {obj.findtext('occluded').strip()!r} is not "
                                  "0 or 1", path=where, member=member)
            skipped["occluded flags"] += occluded == 1.0
            box = obj.find("bndbox")
            if box is None:
                skipped["objects without <bndbox>"] += 1
                boxless.add(name.strip())
                continue
            found = {"doc": d, "index": k, "name": name, **{tag: box.findtext(tag) for tag in _BOX},
                     "difficult": obj.findtext("difficult"), "truncated": obj.findtext("truncated")}
            for key, value in found.items():
                rows[key].append(value)
    doc, index = np.array(rows["doc"], dtype="int64"), np.array(rows["index"], dtype="int64")

    def fail(i: int, what: str, reason: str) -> None:
        raise FormatError(f"object {int(index[i]) + 1} {what} {reason}", path=where,
                          member=members[int(doc[i])])

    def fail_size(i: int, reason: str) -> None:  # sizes: width, height of each document
        raise FormatError(f"size/{('width', 'height')[i % 2]} {reason}", path=where, member=members[i // 2])

    objects: dict[str, object] = {"doc": doc, "index": index}
    objects["name"] = pd.Categorical([n.strip() for n in rows["name"]])
    for tag in _BOX:
        objects[tag] = _numbers(rows[tag], lambda i, reason, tag=tag: fail(i, tag, reason))
    for tag in ("difficult", "truncated"):
        objects[tag] = _flags(rows[tag], lambda i, reason, tag=tag: fail(i, tag, reason))
    size = _numbers(sizes, fail_size, optional=True).reshape(-1, 2)
    return ParsedDocuments({"filename": filenames, "width": size[:, 0], "height": size[:, 1]},
                           objects, {kind: n for kind, n in skipped.items() if n}, sorted(boxless),
                           list(members))


def _numbers(texts: list[str | None], fail, optional: bool = False) -> np.ndarray:
    """The texts as float64 (blank: NaN when ``optional``, else refused through ``fail``)."""
    array = pc.utf8_trim_whitespace(pa.array(texts, type=pa.string()))
    blank = pc.fill_null(pc.equal(array, ""), True)
    if not optional and pc.any(blank).as_py():
        fail(int(np.argmax(blank.to_numpy(zero_copy_only=False))), "is missing")
    return float_column(pc.if_else(blank, pa.scalar(None, pa.string()), array), fail)


def _flags(texts: list[str | None], fail) -> np.ndarray:
    """0/1 flags as float64 (NaN when absent), each distinct text read once by :func:`_flag`."""
    values = {text: _flag(text) for text in set(texts)}
    bad = next((i for i, text in enumerate(texts) if values[text] is None), None)
    if bad is not None:
        fail(bad, f"{texts[bad].strip()!r} is not 0 or 1")
    return np.array([values[text] for text in texts], dtype="float64")


def _flag(text: str | None) -> float | None:
    """``1``, ``true``, ``yes``, a number not 0: 1.0; ``0``, ``false``, ``no``, 0: 0.0; absent or
    blank: NaN; None for any other text."""
    value = (text or "").strip().lower()
    try:
        return _WORDS[value] if value in _WORDS else (1.0 if float(value) else 0.0)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# XML from outside

_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_DECLARATION = re.compile(rb"\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"'][^>]*\?>")


def check_xml(data: bytes, *, where: str | None = None, member: str | None = None) -> bytes:
    """Return ``data`` as UTF-8 XML; refuse a ``DOCTYPE`` or ``ENTITY`` declaration.

    A UTF-8 BOM is removed; UTF-16 (with a BOM) and the encoding the XML declaration names are
    re-encoded to UTF-8, without the declaration.

    >>> check_xml(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', where="v.zip", member="A/1.xml")
    Traceback (most recent call last):
    ...
    aion_pandas.errors.FormatError: v.zip: A/1.xml: XML with a DOCTYPE/ENTITY declaration is refused ...
    """
    if data[:3] == b"\xef\xbb\xbf":
        data = data[3:]
    elif data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        data = _as_utf8(data, "utf-16", where, member)
    else:
        found = _DECLARATION.match(data, 0, 200)  # None: no declaration, or one naming no encoding
        if found and found[1].decode().lower() not in ("utf-8", "utf8", "us-ascii", "ascii"):
            data = _as_utf8(data, found[1].decode().lower(), where, member)
    if b"<!" in data and _FORBIDDEN.search(data):
        raise FormatError("XML with a DOCTYPE/ENTITY declaration is refused (entities are never "
                          "expanded)", path=where, member=member)
    return data


def _as_utf8(data: bytes, encoding: str, where: str | None, member: str | None) -> bytes:
    """The document decoded from ``encoding`` and encoded as UTF-8, without its declaration."""
    try:
        return re.sub(r"^\s*<\?xml[^>]*\?>", "", data.decode(encoding)).encode("utf-8")
    except (LookupError, UnicodeDecodeError) as exc:
        raise FormatError(f"cannot decode the XML as {encoding} ({exc})", path=where, member=member) from None


def _tree(data: bytes, where: str | None, member: str | None) -> ET.Element:
    """A checked document parsed by ElementTree, its error naming the line and the text there."""
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        reason = str(exc).rsplit(": line", 1)[0]
        text = data.split(b"\n")[line - 1][column:column + 24].decode("utf-8", "replace")
        raise FormatError(f"line {line}: not well-formed XML ({reason} at {text!r})", path=where,
                          member=member) from None
