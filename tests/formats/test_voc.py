"""Pascal VOC zips: layout, pixel conventions, round trips, files from elsewhere, bad input."""
from __future__ import annotations

import functools
import io
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pandas as pd
import pytest

from aion_pandas.errors import FormatError
from aion_pandas.formats import LossyConversionWarning
from aion_pandas.formats._vocparse import parse_documents, parse_each
from aion_pandas.formats._vocscan import scan
from aion_pandas.formats.schema import CORE_COLUMNS
from aion_pandas.formats.voc import UnplacedAnnotationWarning, read_voc, write_voc

from .helpers import boxes_by_image, write_quietly, zip_bytes


_write = functools.partial(write_quietly, write_voc)



def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """What VOC keeps: whole-pixel corners (rounded half up)."""
    out = frame.copy()
    x1, y1 = np.floor(frame["x"] + 0.5), np.floor(frame["y"] + 0.5)
    out["w"] = np.floor(frame["x"] + frame["w"] + 0.5) - x1
    out["h"] = np.floor(frame["y"] + frame["h"] + 0.5) - y1
    out["x"], out["y"] = x1, y1
    return out


def _doc(objects: str, head: str = "<filename>a.jpg</filename><size><width>100</width>"
         "<height>50</height><depth>3</depth></size>") -> str:
    return f"<annotation>{head}{objects}</annotation>"


_OBJ = ("<object><name>{n}</name><pose>Unspecified</pose><truncated>{t}</truncated>"
        "<difficult>{d}</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>"
        "<ymax>{y2}</ymax></bndbox></object>")


# ------------------------------------------------------------------------------------------------
# what the writer writes


def test_layout_and_xml_of_one_image(sample_frame):
    archive = zipfile.ZipFile(io.BytesIO(_write(sample_frame)))
    names = sorted(archive.namelist())
    assert names == ["Annotations/train/été/a.xml", "Annotations/val/b 2.xml",
                     "Annotations/測試/c.xml", "classes.txt", "manifest.csv"]
    assert archive.read("classes.txt").decode().splitlines() == ["cat", "chien", "自転車", "root"]
    root = ET.fromstring(archive.read("Annotations/測試/c.xml"))
    assert root.findtext("filename") == "c.jpg"
    assert (root.findtext("size/width"), root.findtext("size/height")) == ("1000", "750")
    first = root.findall("object")[0]
    assert first.findtext("name") == "chien"
    # 333.33,250 66.67x125.5 -> corners 333,250 - 400,376 (0-based, rounded half up)
    assert [first.findtext(f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")] == \
        ["333", "250", "400", "376"]
    assert (first.findtext("difficult"), first.findtext("truncated")) == ("0", "0")
    empty = ET.fromstring(archive.read("Annotations/val/b 2.xml"))
    assert empty.findall("object") == [] and empty.findtext("size/width") == "320"


def test_names_are_escaped():
    frame = pd.DataFrame({"file_name": ["<a&b>.jpg"], "width": [10], "height": [10],
                          "category": ['fish & "chips" <x>'], "x": [1.0], "y": [1.0], "w": [2.0],
                          "h": [2.0]})
    archive = zipfile.ZipFile(io.BytesIO(_write(frame)))
    member = [n for n in archive.namelist() if n.startswith("Annotations/")][0]
    root = ET.fromstring(archive.read(member))
    assert root.findtext("object/name") == 'fish & "chips" <x>'
    assert root.findtext("filename") == "_a&b_.jpg"
    assert read_voc(archive.fp.getvalue())["category"].astype(str).tolist() == ['fish & "chips" <x>']


def test_writer_warns_what_voc_cannot_carry(sample_frame):
    with pytest.warns(LossyConversionWarning, match=r"pascal_voc cannot carry: score \(5 boxes\), "
                                                    r"iscrowd \(1 box\)"):
        write_voc(sample_frame, io.BytesIO())


# ------------------------------------------------------------------------------------------------
# pixel conventions


@pytest.mark.parametrize("one_based, corners", [
    (False, ["10", "20", "110", "70"]),   # corners 10.4 -> 10 and 110.4 -> 110
    (True, ["12", "21", "111", "70"]),
])
def test_corner_conventions(one_based, corners):
    frame = pd.DataFrame({"file_name": ["a.jpg"], "width": [640], "height": [480], "category": ["c"],
                          "x": [10.4], "y": [20.25], "w": [100.0], "h": [50.0]})
    if one_based:
        frame["x"] = 10.6  # rounds to 11, written 12 (devkit pixels count from 1)
    archive = zipfile.ZipFile(io.BytesIO(_write(frame, one_based=one_based)))
    root = ET.fromstring(archive.read("Annotations/a.xml"))
    got = [root.findtext(f"object/bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")]
    assert got == corners
    back = read_voc(archive.fp.getvalue(), one_based=one_based)
    expected = _rounded(frame)
    assert back[["x", "y", "w", "h"]].iloc[0].tolist() == expected[["x", "y", "w", "h"]].iloc[0].tolist()


def test_a_one_based_file_read_as_zero_based_is_within_one_pixel(sample_frame):
    data = _write(sample_frame, one_based=True)
    right, shifted = read_voc(data, one_based=True), read_voc(data)
    boxes = sample_frame["x"].notna()
    diff = (shifted.loc[boxes, ["x", "y", "w", "h"]] - right.loc[boxes, ["x", "y", "w", "h"]]).to_numpy()
    assert np.array_equal(diff[:, :2], np.ones_like(diff[:, :2]))
    assert np.array_equal(diff[:, 2:], -np.ones_like(diff[:, 2:]))


# ------------------------------------------------------------------------------------------------
# round trips


def test_round_trip_keeps_images_boxes_to_the_pixel_and_extras(sample_frame):
    frame = read_voc(_write(sample_frame))
    assert list(frame.columns[:12]) == list(CORE_COLUMNS)
    assert boxes_by_image(frame, 6) == boxes_by_image(_rounded(sample_frame), 6)
    for column in ("image_id", "file_name", "width", "height", "description", "image_url",
                   "item_id", "item_status", "dataset_id"):
        assert frame[column].tolist() == sample_frame[column].tolist(), column
    assert frame["tags"].tolist() == sample_frame["tags"].tolist()
    assert frame["difficult"].tolist() == [False, False, pd.NA, False, False, False]
    assert frame["score"].isna().all() and frame["category_id"].isna().all()
    assert list(frame["category"].cat.categories) == ["cat", "chien", "自転車", "root"]  # root: no box
    assert frame.attrs["format"] == "pascal_voc"


def test_difficult_and_truncated_round_trip(sample_frame):
    frame = sample_frame.copy()
    frame["difficult"] = pd.array([True, False, None, False, True, False], dtype="boolean")
    frame["truncated"] = pd.array([False, True, None, True, False, False], dtype="boolean")
    back = read_voc(_write(frame))
    assert back["difficult"].tolist() == frame["difficult"].tolist()
    assert back["truncated"].tolist() == frame["truncated"].tolist()


# ------------------------------------------------------------------------------------------------
# files from elsewhere: the fast scanner and lxml agree


_DOCS = [
    _doc(_OBJ.format(n="dog", t=0, d=1, x1=1, y1=2, x2=30, y2=40)
         + _OBJ.format(n="cat &amp; co", t=1, d=0, x1=5.5, y1=6, x2=7, y2=8)),
    _doc(""),                                                                   # no object
    _doc("<object><name>dog</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax>"
         "<ymax>4</ymax></bndbox></object>"),                                  # FiftyOne's order
    _doc("<object><bndbox><ymax>4</ymax><xmax>3</xmax><ymin>2</ymin><xmin>1</xmin></bndbox>"
         "<difficult>1</difficult><name> dog </name><truncated>0</truncated></object>"),
    '<?xml version="1.0"?>\n' + _doc(
        "\n  <object>\n    <name>\n      bird\n    </name>\n    <pose>Unspecified</pose>\n"
        "    <truncated>0</truncated>\n    <difficult>0</difficult>\n    <bndbox>\n"
        "      <xmin> 10 </xmin>\n      <ymin>20</ymin>\n      <xmax>30</xmax>\n"
        "      <ymax>40</ymax>\n    </bndbox>\n  </object>\n"),
    _doc(_OBJ.format(n="&#233;t&#xE9;", t=0, d=0, x1=0, y1=0, x2=1, y2=1),
         head="<owner><name>Fabio</name></owner><size><width>9</width><height>9</height></size>"),
    _doc("<object><name>a</name><difficult/><bndbox><xmin>1</xmin><ymin>1</ymin>"
         "<xmax>2</xmax><ymax>2</ymax></bndbox></object>"),                  # empty flag
    _doc(_OBJ.format(n="dog", t=0, d=0, x1=1, y1=2, x2=3, y2=4) + "<filename>late.jpg</filename>",
         head="<size><width>9</width><height>9</height></size>"),            # filename last
    _doc(_OBJ.format(n="dog", t=0, d=0, x1=1, y1=2, x2=3, y2=4).replace(
        "</object>", "<attributes><attribute><name>color</name><value>red</value></attribute>"
                     "</attributes></object>")),                             # CVAT's attributes
]
_LEFT_TO_ELEMENTTREE = {_DOCS[3], _DOCS[6], _DOCS[8]}  # fields shuffled, a self-closed flag, attributes


def _elementtree(doc: str) -> list[tuple]:
    """The objects of a document as the standard library reads them (an independent parse)."""
    root = ET.fromstring(doc)
    flag = {"1": 1.0, "0": 0.0}
    return [(obj.findtext("name").strip(),
             *[float(obj.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")],
             *[flag.get((obj.findtext(k) or "").strip(), np.nan) for k in ("difficult", "truncated")])
            for obj in root.iter("object")]


@pytest.mark.parametrize("doc", _DOCS)
def test_documents_from_other_writers_read_as_elementtree_reads_them(doc):
    parsed = parse_documents([doc.encode()], ["a.xml"], "v.zip")
    o = parsed.objects
    got = list(zip(o["name"].tolist(), *[o[k].tolist() for k in
                                         ("xmin", "ymin", "xmax", "ymax", "difficult", "truncated")]))
    want = _elementtree(doc)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g[0] == w[0] and np.allclose(g[1:], w[1:], equal_nan=True)
    assert o["doc"].tolist() == [0] * len(want) and o["index"].tolist() == list(range(len(want)))
    root = ET.fromstring(doc)
    assert parsed.documents["filename"] == [root.findtext("filename")]
    width = root.findtext("size/width")
    assert np.array_equal(parsed.documents["width"], [float(width) if width else np.nan],
                          equal_nan=True)


@pytest.mark.parametrize("doc", _DOCS)
def test_the_scanner_and_elementtree_read_the_same(doc):
    """The scanner reads the orders the devkit, LabelImg, FiftyOne and our writer use; the others
    it leaves to ElementTree."""
    data = [doc.encode()]
    scanned = scan(data)
    if doc in _LEFT_TO_ELEMENTTREE:
        assert scanned is None
        return
    assert scanned is not None
    (documents, objects), tree = scanned, parse_each(data, ["a.xml"], "v.zip")
    for key in ("doc", "index", "xmin", "ymin", "xmax", "ymax", "difficult", "truncated"):
        assert np.array_equal(objects[key], tree.objects[key], equal_nan=True), key
    assert objects["name"].tolist() == tree.objects["name"].tolist()
    assert documents["filename"] == tree.documents["filename"]
    assert np.array_equal(documents["width"], tree.documents["width"], equal_nan=True)


@pytest.mark.parametrize("doc", [
    _doc("<!-- a comment --><object><name>a</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
         "<xmax>2</xmax><ymax>2</ymax></bndbox></object>"),
    _doc("<object><name><![CDATA[a<b]]></name><bndbox><xmin>1</xmin><ymin>1</ymin>"
         "<xmax>2</xmax><ymax>2</ymax></bndbox></object>"),
    _doc('<object id="7"><name>a</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax>'
         "<ymax>2</ymax></bndbox></object>"),
])
def test_unusual_documents_are_read(doc):
    if "<!" not in doc:  # comments and CDATA are kept from the scanner by its caller
        assert scan([doc.encode()]) is None
    frame = read_voc(zip_bytes({"Annotations/a.xml": doc}))
    assert frame[["x", "y", "w", "h"]].iloc[0].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert frame["category"].astype(str).iloc[0] in ("a", "a<b")
    assert len(frame) == 1


def test_what_the_frame_has_no_place_for_is_counted_in_one_warning():
    person = ("<object><name>person</name><pose>Left</pose><occluded>1</occluded><bndbox>"
              "<xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox>"
              "<part><name>hand</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>3</xmax>"
              "<ymax>3</ymax></bndbox></part><part><name>head</name><bndbox><xmin>2</xmin>"
              "<ymin>2</ymin><xmax>3</xmax><ymax>3</ymax></bndbox></part>"
              "<actions><jumping>1</jumping></actions>"
              "<attributes><attribute><name>color</name><value>red</value></attribute></attributes>"
              "</object>")
    boxless = "<object><name>dog</name><pose>Unspecified</pose></object>"
    assert scan([_doc(person).encode()]) is None and scan([_doc(boxless).encode()]) is None
    with pytest.warns(UnplacedAnnotationWarning) as caught:
        frame = read_voc(zip_bytes({"Annotations/a.xml": _doc(person + boxless),
                                    "Annotations/b.xml": _doc(boxless)}))
    message = str(caught[0].message)
    for counted in ("2 objects without <bndbox>", "2 <part> boxes", "1 <actions>", "1 poses",
                    "1 occluded flags", "1 <attribute> values"):
        assert counted in message
    assert len(caught) == 1
    assert frame[["x", "y", "w", "h"]].iloc[0].tolist() == [1.0, 1.0, 8.0, 8.0]
    assert len(frame) == 2 and frame["x"].isna().tolist() == [False, True]  # b.xml: image kept
    assert "dog" in frame["category"].cat.categories


def test_without_manifest_images_are_numbered_by_file_name():
    data = zip_bytes({"VOC/Annotations/b.xml": _doc(_OBJ.format(n="x", t=0, d=0, x1=1, y1=2, x2=3, y2=4),
                                               head="<filename>b.jpg</filename>"),
                 "VOC/Annotations/a.xml": _doc("", head="<size><width>5</width><height>6</height></size>")})
    frame = read_voc(data)
    assert frame["file_name"].tolist() == ["a", "b.jpg"]          # a: no <filename>, named by file
    assert frame["image_id"].tolist() == [1, 2]
    assert frame["width"].tolist() == [5, pd.NA]
    assert frame[["x", "y", "w", "h"]].iloc[1].tolist() == [1.0, 2.0, 2.0, 2.0]


def test_other_encodings_and_windows_separators():
    latin = ('<?xml version="1.0" encoding="ISO-8859-1"?>' + _doc(
        _OBJ.format(n="café", t=0, d=0, x1=1, y1=1, x2=2, y2=2))).encode("latin-1")
    utf16 = ("\ufeff" + _doc(_OBJ.format(n="ünï", t=0, d=0, x1=1, y1=1, x2=2, y2=2))).encode("utf-16-le")
    frame = read_voc(zip_bytes({"Annotations\\sub\\a.xml": latin, "Annotations\\sub\\b.xml": b"\xff\xfe" + utf16[2:]}))
    assert frame["category"].astype(str).tolist() == ["café", "ünï"]


@pytest.mark.parametrize("doc, message", [
    ("<annotation><object><name>a</name></annotation>", r"bad.xml: line 1: not well-formed XML"),
    (_doc("<object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>"
          "</object>"), r"bad.xml: object 1 has no <name>"),
    (_doc(_OBJ.format(n="a", t=0, d=0, x1="one", y1=1, x2=2, y2=2)),
     r"bad.xml: object 1 xmin 'one' is not a number"),
    (_doc(_OBJ.format(n="a", t=0, d="maybe", x1=1, y1=1, x2=2, y2=2)),
     r"bad.xml: object 1 difficult 'maybe' is not 0 or 1"),
    (_doc(_OBJ.format(n="a", t=0, d=0, x1=5, y1=1, x2=2, y2=2)),
     r"bad.xml: object 1: xmax/ymax lie before xmin/ymin"),
    (_doc(_OBJ.format(n="a", t=0, d=0, x1=1, y1=1, x2="inf", y2=2)),
     r"bad.xml: object 1: a corner is not a finite number"),
    (_doc(_OBJ.format(n="a", t=0, d=0, x1="-inf", y1=1, x2=2, y2=2)),
     r"bad.xml: object 1: a corner is not a finite number"),
    (_doc(_OBJ.format(n="a", t=0, d=0, x1=1, y1="nan", x2=2, y2=2)),
     r"bad.xml: object 1: a corner is not a finite number"),
    (_doc(_OBJ.format(n="a", t=0, d=0, x1=1, y1=1, x2=2, y2=2),
          head="<size><width>inf</width><height>3</height></size>"),
     r"bad.xml: size/width is not a finite number"),
    ("<root/>", r"bad.xml: the root element is <root>, not <annotation>"),
    (_doc(_OBJ.format(n="&nbsp;", t=0, d=0, x1=1, y1=1, x2=2, y2=2)), r"bad.xml: .*nbsp"),
])
def test_bad_documents_name_the_member(doc, message):
    data = zip_bytes({"Annotations/ok.xml": _DOCS[0], "Annotations/bad.xml": doc})
    with pytest.raises(FormatError, match=message) as caught:
        read_voc(data)
    assert caught.value.member == "Annotations/bad.xml"


@pytest.mark.parametrize("scanner", [True, False])
def test_a_run_of_documents_without_objects_joins_the_runs_with_objects(scanner):
    """Documents are parsed in runs of CHUNK: a run whose documents hold no object (a mostly
    empty batch, as the service exports one) must join the others, names included."""
    from aion_pandas.formats._vocparse import CHUNK
    empty = _doc("").encode()
    one = _doc(_OBJ.format(n="cat", t=0, d=0, x1=1, y1=2, x2=5, y2=6)).encode()
    if not scanner:  # a comment keeps the scanner away: ElementTree parses every run
        empty, one = (d.replace(b"<annotation>", b"<annotation><!-- x -->") for d in (empty, one))
    docs = [empty] * CHUNK + [one]
    parsed = parse_documents(docs, [f"{i}.xml" for i in range(len(docs))], "v.zip")
    assert parsed.objects["name"].tolist() == ["cat"]
    assert parsed.objects["doc"].tolist() == [CHUNK]
