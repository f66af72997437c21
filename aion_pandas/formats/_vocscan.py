"""The fast path of the VOC reader: documents of the plain shape VOC writers produce, read with a
few ``re.findall`` passes over a chunk of documents joined.

Plain: objects with one ``name`` and one ``bndbox``, their fields in the order the devkit, LabelImg,
FiftyOne and our writer put them, no comments, CDATA, processing instructions, unknown entities,
``<part>``, ``<actions>``, ``<attributes>``, ``<occluded>`` or poses. Any other shape ends in a count
that does not add up, and :func:`scan` returns ``None``: the caller then parses with ElementTree
(``_vocparse.parse_each``). ``tests/formats/test_voc.py`` holds both to the same reads.

>>> doc = (b"<annotation><filename>a.jpg</filename><size><width>4</width><height>3</height>"
...        b"</size><object><name>a&amp;b</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
...        b"<xmax>3</xmax><ymax>2</ymax></bndbox></object></annotation>")
>>> scan([doc])[1]["name"].tolist()
['a&b']
"""
from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

_BOX = ("xmin", "ymin", "xmax", "ymax")
_FLAGS = ("difficult", "truncated")
_TAG = {tag: re.compile(rb"<%s>([^<]*)</%s>" % (tag.encode(), tag.encode()))
        for tag in ("filename", "width", "height")}
_NOT_PLAIN = (b"<!", b"<part>", b"<actions>", b"<attributes>", b"<occluded>", b"<?xml-")


def scan(docs: list[bytes]) -> tuple[dict, dict] | None:
    """``(documents, objects)`` of a chunk of checked UTF-8 documents when all are plain, else ``None``
    (a count that does not add up: never a wrong read)."""
    joined = b"\x00".join(docs)
    if not _plain(joined, docs):
        return None
    per_doc = np.fromiter((b.count(b"<object>") for b in docs), dtype="int64", count=len(docs))
    n = int(per_doc.sum())
    columns = _objects_in_order(joined, n) if joined.count(b"</object>") == n else None
    if columns is None:
        return None
    columns["doc"] = np.repeat(np.arange(len(docs)), per_doc)
    columns["index"] = np.arange(n) - np.repeat(np.cumsum(per_doc) - per_doc, per_doc)
    heads = b"\x00".join([b.partition(b"<object>")[0] for b in docs])
    found = {tag: _TAG[tag].findall(heads) for tag in ("filename", "width", "height")}
    if len(found["filename"]) != len(docs):  # one missing before the objects: each document searched
        matches = [_TAG["filename"].search(doc) for doc in docs]
        found["filename"] = [match.group(1) if match else b"" for match in matches]
    if len(found["width"]) != len(docs) or len(found["height"]) != len(docs):
        return None  # a document without its size, or with two
    sizes = {tag: _numbers(found[tag]) for tag in ("width", "height")}
    if sizes["width"] is None or sizes["height"] is None:
        return None
    try:
        names = [html.unescape(raw.decode("utf-8").strip()) or None for raw in found["filename"]]
    except UnicodeDecodeError:
        return None
    return {"filename": names, **sizes}, columns


def _plain(joined: bytes, docs: list[bytes]) -> bool:
    """Whether the documents hold nothing the scanner leaves to ElementTree (``<!``: a comment
    hides objects from XML, not from regular expressions)."""
    if any(mark in joined for mark in _NOT_PLAIN):
        return False
    if joined.count(b"<pose>") != joined.count(b"<pose>Unspecified</pose>"):
        return False
    if not all(b.startswith(_STARTS) and b.rstrip().endswith(b"</annotation>") for b in docs):
        return False
    return b"&" not in joined or not _BAD_REFERENCE.search(joined)


_STARTS = (b"<annotation>", b"<?xml")
_BAD_REFERENCE = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)")
_S = rb"\s*+"
_NAME = _S + rb"([^<\s](?:[^<]*[^<\s])?)" + _S  # blanks around it left out
_NUMBER = _S + rb"([^<\s]*+)" + _S  # possessive (Python 3.11+): a third faster
_BNDBOX = (b"<bndbox>", b"<xmin>%s</xmin>", b"<ymin>%s</ymin>", b"<xmax>%s</xmax>",
           b"<ymax>%s</ymax>", b"</bndbox>", b"</object>")


def _compile(*elements: bytes) -> re.Pattern[bytes]:
    """An object whose elements come in this order (``%n``: the name, ``%s``: a number, blanks
    around it), blanks between."""
    pattern = _S.join(e.replace(b"%n", _NAME).replace(b"%s", _NUMBER) for e in elements)
    try:
        return re.compile(pattern)
    except re.error:  # Python 3.10: no possessive quantifiers
        return re.compile(pattern.replace(b"*+", b"*"))


_IN_ORDER = [  # VOC devkit / LabelImg / ours, then FiftyOne's
    (_compile(b"<object>", b"<name>%n</name>", b"<pose>[^<]*+</pose>", b"<truncated>%s</truncated>",
              b"<difficult>%s</difficult>", *_BNDBOX),
     ("name", "truncated", "difficult", *_BOX)),
    (_compile(b"<object>", b"<name>%n</name>", *_BNDBOX), ("name", *_BOX)),
]


def _objects_in_order(joined: bytes, n: int) -> dict[str, np.ndarray] | None:
    """One ``findall`` when every object has the fields in a known order; the matches become one
    tab-separated text that pyarrow parses."""
    for pattern, fields in _IN_ORDER:
        found = pattern.findall(joined)
        if len(found) != n:
            continue
        table = b"\n".join(map(b"\t".join, found)) + b"\n" if found else b""
        columns = _parse_table(table, fields, n)
        if columns is not None:
            return columns
    return None


def _parse_table(table: bytes, fields: tuple[str, ...], n: int) -> dict[str, np.ndarray] | None:
    if n == 0:
        return {**{tag: np.array([], dtype="float64") for tag in (*_BOX, *_FLAGS)}, "name": pd.Categorical([])}
    types = {name: pa.string() if name == "name" else pa.float64() for name in fields}
    try:
        parsed = pacsv.read_csv(
            pa.BufferReader(table),
            read_options=pacsv.ReadOptions(column_names=list(fields), use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False))
    except pa.ArrowInvalid:
        return None
    if parsed.num_rows != n:
        return None
    out: dict[str, np.ndarray] = {}
    dictionary = parsed.column("name").combine_chunks().dictionary_encode()  # never blank: _NAME
    categories = [html.unescape(v).strip() for v in dictionary.dictionary.to_pylist()]
    codes = dictionary.indices.to_numpy()
    if len(set(categories)) == len(categories):
        out["name"] = pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype="str"))
    else:  # two spellings of one name (blanks, character references)
        out["name"] = pd.Categorical(np.array(categories, dtype=object)[codes])
    out.update((tag, parsed.column(tag).to_numpy() if tag in fields else np.full(n, np.nan))
               for tag in (*_BOX, *_FLAGS))
    return None if any(np.isnan(out[tag]).any() for tag in _BOX) else out


def _numbers(values: list[bytes]) -> np.ndarray | None:
    try:
        text = pc.utf8_trim_whitespace(pa.array(values, type=pa.binary()).cast(pa.string()))
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
