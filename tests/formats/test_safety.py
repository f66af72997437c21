"""Archives and XML from outside: every refusal, with the FormatError naming file, member, reason."""
from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import zipfile

import pytest

from aion_pandas.errors import FormatError
from aion_pandas.formats._vocparse import check_xml
from aion_pandas.formats.safety import DEFAULT_LIMITS, Limits, open_archive, safe_member_name
from aion_pandas.formats.voc import read_voc
from aion_pandas.formats.yolo import read_yolo

from .helpers import zip_bytes



def _patch_sizes(data: bytes, *, file_size: int | None = None, crc: int | None = None,
                 central_only: bool = False) -> bytes:
    """Rewrite the declared uncompressed size / CRC of every member (local and central headers)."""
    out = bytearray(data)
    for signature, size_at, crc_at in ((b"PK\x01\x02", 24, 16), (b"PK\x03\x04", 22, 14)):
        if central_only and signature == b"PK\x03\x04":
            continue
        start = 0
        while (pos := out.find(signature, start)) >= 0:
            if file_size is not None:
                struct.pack_into("<I", out, pos + size_at, file_size)
            if crc is not None:
                struct.pack_into("<I", out, pos + crc_at, crc)
            start = pos + 4
    return bytes(out)


# ------------------------------------------------------------------------------------------------
# member paths


@pytest.mark.parametrize("raw, safe", [
    ("labels/a.txt", "labels/a.txt"),
    ("labels\\sub\\a.txt", "labels/sub/a.txt"),
    ("./labels//a.txt", "labels/a.txt"),
    ("labels/x/../a.txt", "labels/a.txt"),
    ("été/測試.txt", "été/測試.txt"),
    ("dir/", "dir/"),
])
def test_safe_member_names(raw, safe):
    assert safe_member_name(raw) == safe


@pytest.mark.parametrize("raw, reason", [
    ("../evil.txt", "climbs out of the archive's folder"),
    ("labels/../../evil.txt", "climbs out of the archive's folder"),
    ("..\\..\\evil.txt", "climbs out of the archive's folder"),
    ("/etc/passwd", "is absolute"),
    ("\\\\server\\share\\x.txt", "is absolute"),
    ("C:\\Windows\\x.txt", "is absolute"),
    ("c:relative.txt", "is absolute"),
])
def test_escaping_or_absolute_members_are_refused_before_reading(raw, reason, tmp_path):
    data = zip_bytes({"labels/ok.txt": "", raw: "pwned"})
    os.chdir(tmp_path)
    with pytest.raises(FormatError, match=reason) as caught:
        read_yolo(data)
    assert caught.value.path == "<bytes>" and caught.value.member == raw
    assert str(caught.value).startswith("<bytes>: ")
    assert list(tmp_path.iterdir()) == []          # nothing was ever written


def test_a_nul_in_a_name_is_refused():
    with pytest.raises(FormatError, match=r"x.zip: a\x00b.txt: the member's name holds a NUL"):
        safe_member_name("a\x00b.txt", where="x.zip")


def test_symlinks_encrypted_and_duplicate_members_are_refused():
    link = zipfile.ZipInfo("labels/link.txt")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(FormatError, match=r"<bytes>: labels/link.txt: the member is a symbolic link"):
        open_archive(zip_bytes([(link, "/etc/passwd")]))
    secret = bytearray(zip_bytes({"labels/secret.txt": "x"}))
    central = secret.find(b"PK\x01\x02")
    secret[central + 8] |= 0x1  # the "encrypted" flag bit
    with pytest.raises(FormatError, match=r"labels/secret.txt: the member is encrypted"):
        open_archive(bytes(secret))
    with pytest.raises(FormatError, match=r"labels\\a.txt: two members have this name"):
        open_archive(zip_bytes([("labels/a.txt", "1"), ("labels\\a.txt", "2")]))


# ------------------------------------------------------------------------------------------------
# sizes, ratios, counts (refused before anything is decompressed)


def test_zip_bomb_by_ratio_is_refused():
    bomb = zip_bytes({"labels/a.txt": b"\0" * (32 << 20)})  # 32 MiB of zeros -> ~32 KiB
    assert len(bomb) < 100_000
    with pytest.raises(FormatError, match=r"labels/a.txt: the member's compression ratio [\d,]+:1 "
                                          r"passes the limit of 200:1 \(a zip bomb\?\)"):
        read_yolo(bomb)


def test_members_that_share_their_bytes_are_refused():
    # the "overlapping files" zip bomb: many directory records point at the same compressed data,
    # so every ratio looks harmless while the members add up to far more than the archive
    big = "0 0.5 0.5 0.1 0.1\n" * 5000
    data = bytearray(zip_bytes({"labels/a.txt": big, "labels/b.txt": "x"}, zipfile.ZIP_STORED))
    first = data.find(b"PK\x01\x02")
    second = data.find(b"PK\x01\x02", first + 4)
    data[second + 16:second + 28] = data[first + 16:first + 28]  # a's CRC and sizes
    data[second + 42:second + 46] = data[first + 42:first + 46]  # a's local header
    with pytest.raises(FormatError, match=r"<bytes>: the members' compressed sizes add up to "
                                          r"180,000 bytes, more than the [\d,]+-byte archive: "
                                          r"members overlap"):
        open_archive(bytes(data))


def test_ratio_of_the_whole_archive_counts_too():
    members = {f"labels/{i}.txt": b"\0" * (512 << 10) for i in range(8)}  # each under the floor
    with pytest.raises(FormatError, match=r"<bytes>: the archive's compression ratio"):
        open_archive(zip_bytes(members))


def test_a_member_declaring_a_huge_size_is_refused_by_default():
    data = _patch_sizes(zip_bytes({"labels/a.txt": "0 0.5 0.5 0.1 0.1\n"}), file_size=0xFFFFFF00)
    with pytest.raises(FormatError, match=r"labels/a.txt: the member is 4,294,967,040 bytes "
                                          r"uncompressed, more than the limit of 2,147,483,648"):
        read_yolo(data)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_total_size_limit():
    members = {f"labels/{i}.txt": b"0 0.5 0.5 0.1 0.1\n" * 4000 for i in range(4)}  # 72 kB each
    limits = Limits(max_total_bytes=200_000, max_ratio=1e9)
    with pytest.raises(FormatError, match=r"the archive is 288,000 bytes uncompressed, more than "
                                          r"the limit of 200,000"):
        read_yolo(zip_bytes(members), limits=limits)
    assert len(read_yolo(zip_bytes(members), limits=Limits(max_total_bytes=300_000), class_names=["a"])) \
        == 16_000


def test_member_count_limit():
    members = {f"labels/{i}.txt": "" for i in range(5)}
    with pytest.raises(FormatError, match=r"holds 5 members, more than the limit of 4"):
        open_archive(zip_bytes(members), limits=Limits(max_members=4))


def test_a_member_inflating_past_its_declared_size_is_refused():
    data = _patch_sizes(zip_bytes({"labels/a.txt": b"0 0.5 0.5 0.1 0.1\n" * 100}), file_size=10)
    with pytest.raises(FormatError, match=r"labels/a.txt: the member inflates to more or less than "
                                          r"the 10 bytes its header declares"):
        read_yolo(data)


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_corrupt_member_is_refused(method):
    data = _patch_sizes(zip_bytes({"labels/a.txt": b"0 0.5 0.5 0.1 0.1\n"}, method), crc=12345)
    with pytest.raises(FormatError, match=r"labels/a.txt: the member is corrupt \(CRC mismatch\)"):
        read_yolo(data)


def test_a_stored_member_damaged_in_place_is_named_corrupt_not_by_its_odd_line():
    # the CRCs are checked before any line error is raised: the damage is not a parse error
    members = {f"labels/{i:03d}.txt": "0 0.5 0.5 0.1 0.1\n" * 3 for i in range(200)}
    data = bytearray(zip_bytes(members, zipfile.ZIP_STORED))
    at = data.index(b"0 0.5 0.5 0.1 0.1\n" * 3, data.index(b"labels/150.txt") + 14)
    data[at + 2:at + 5] = b"x.5"
    with pytest.raises(FormatError, match=r"labels/150.txt: the member is corrupt \(CRC mismatch\)"):
        read_yolo(bytes(data))
    archive = open_archive(bytes(data))  # the bytes are checked before they are handed on
    with pytest.raises(FormatError, match=r"labels/150.txt: the member is corrupt"):
        list(archive.read_many(sorted(members)))


def test_defaults_are_sane():
    assert DEFAULT_LIMITS.max_members >= 1_000_000          # 1M images fit
    assert DEFAULT_LIMITS.max_ratio >= 100 and DEFAULT_LIMITS.max_total_bytes >= 4 << 30


def test_stored_members_and_prepended_bytes_are_read():
    data = b"#!/bin/sh\n" + zip_bytes({"labels/a.txt": "0 0.5 0.5 0.1 0.1\n"}, zipfile.ZIP_STORED)
    archive = open_archive(data)
    assert archive.read("labels/a.txt") == b"0 0.5 0.5 0.1 0.1\n"


def test_folder_with_a_link_out_is_refused(tmp_path):
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("secret")
    (tmp_path / "labels" / "b.txt").symlink_to(outside)
    with pytest.raises(FormatError, match=r"labels/b.txt: the file is a link out of the folder"):
        open_archive(tmp_path)


# ------------------------------------------------------------------------------------------------
# XML: no DOCTYPE, no entity, ever

_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<annotation><object><name>&lol3;</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax>
<ymax>2</ymax></bndbox></object></annotation>"""
_EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<annotation><filename>&xxe;</filename></annotation>"""
_PARAMETER = """<!DOCTYPE a [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><annotation/>"""
_DTD_ONLY = """<!DOCTYPE annotation SYSTEM "http://127.0.0.1:9/voc.dtd"><annotation/>"""


@pytest.mark.parametrize("doc", [_LAUGHS, _EXTERNAL, _PARAMETER, _DTD_ONLY,
                                 "<annotation><!ENTITY x 'y'></annotation>"])
def test_xml_with_doctype_or_entities_is_refused(doc):
    data = zip_bytes({"Annotations/ok.xml": "<annotation/>", "Annotations/evil.xml": doc})
    with pytest.raises(FormatError, match=r"<bytes>: Annotations/evil.xml: XML with a DOCTYPE/ENTITY "
                                          r"declaration is refused \(entities are never expanded\)"):
        read_voc(data)


def test_declarations_hidden_behind_another_encoding_are_refused():
    doc = _EXTERNAL.replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
    with pytest.raises(FormatError, match="DOCTYPE/ENTITY declaration is refused"):
        check_xml(b"\xff\xfe" + doc.encode("utf-16-le"), member="a.xml")


_BOX = "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>"


@pytest.mark.parametrize("prolog, encoding", [
    ('<?xml version="1.0" encoding="utf-8"?>', "utf-8"), ("\ufeff", "utf-8"),
    ('<?xml version="1.0" encoding="ISO-8859-1"?>', "latin-1"), ("\ufeff", "utf-16-le"),
])
def test_xml_is_reencoded_to_utf8(prolog, encoding):
    doc = f"{prolog}<annotation><filename>é.jpg</filename><object><name>café</name>{_BOX}</object></annotation>"
    frame = read_voc(zip_bytes({"Annotations/a.xml": doc.encode(encoding)}))
    assert frame[["file_name", "category"]].values.tolist() == [["é.jpg", "café"]]


def test_an_unknown_encoding_is_a_format_error():
    with pytest.raises(FormatError, match=r"a.xml: cannot decode the XML as klingon"):
        check_xml(b'<?xml version="1.0" encoding="klingon"?><a/>', member="a.xml")


def test_a_damaged_deflate_stream_is_a_format_error():
    data = bytearray(zip_bytes({"labels/a.txt": os.urandom(2000)}))
    start = data.find(b"PK\x03\x04") + 30 + len("labels/a.txt")
    data[start:start + 40] = b"\xff" * 40  # garbage in the deflate stream
    with pytest.raises(FormatError, match=r"labels/a.txt: the member (is corrupt|inflates)"):
        open_archive(bytes(data)).read("labels/a.txt")


# ------------------------------------------------------------------------------------------------
# the central directory, read as columns


def test_a_signature_inside_names_and_comments_does_not_confuse_the_directory():
    tricky = zipfile.ZipInfo("labels/aPK\x01\x02b.txt")
    commented = zipfile.ZipInfo("labels/c.txt")
    commented.comment = b"PK\x01\x02" + b"\0" * 60  # looks like a record, inside a record
    data = zip_bytes([(tricky, "x"), ("labels/é.txt", "y"), (commented, "z")])
    archive = open_archive(data)
    expected = zipfile.ZipFile(io.BytesIO(data))
    assert archive.names == sorted(expected.namelist())
    assert [archive.read(n) for n in archive.names] == [expected.read(n) for n in archive.names]


def test_names_without_the_utf8_flag_are_cp437_as_zipfile_reads_them():
    data = zip_bytes({"labels/x.txt": "q"}).replace(b"labels/x.txt", b"labels/\x82.txt")
    assert open_archive(data).names == zipfile.ZipFile(io.BytesIO(data)).namelist() == ["labels/é.txt"]


def test_zip64_archives_with_more_than_65535_members_are_read():
    members = {f"labels/{i:05d}.txt": f"{i % 7} 0.5 0.5 0.1 0.1\n" for i in range(70_000)}
    data = zip_bytes(members, zipfile.ZIP_STORED)
    assert b"PK\x06\x06" in data[-200:]  # the ZIP64 end record
    archive = open_archive(data)
    assert len(archive.names) == 70_000
    assert list(archive.read_many(archive.names)) == [v.encode() for _, v in sorted(members.items())]


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_batch_reads_check_every_member_like_single_reads(method):
    good = zip_bytes({"labels/a.txt": "0 0.5 0.5 0.1 0.1\n", "labels/b.txt": ""}, method)
    assert list(open_archive(good).read_many(["labels/a.txt", "labels/b.txt"])) == \
        [b"0 0.5 0.5 0.1 0.1\n", b""]
    corrupt = _patch_sizes(good, crc=12345)
    with pytest.raises(FormatError, match=r"labels/a.txt: the member is corrupt \(CRC mismatch\)"):
        list(open_archive(corrupt).read_many(["labels/a.txt", "labels/b.txt"]))
    longer = _patch_sizes(good, file_size=10, central_only=True)
    with pytest.raises(FormatError, match=r"labels/a.txt: the member inflates to more or less than "
                                          r"the 10 bytes"):
        list(open_archive(longer).read_many(["labels/a.txt"]))


def test_a_member_pointing_outside_the_archive_is_refused():
    data = bytearray(zip_bytes({"labels/a.txt": "0 0.5 0.5 0.1 0.1\n"}))
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 42, len(data) + 1000)  # the local header's offset
    with pytest.raises(FormatError, match=r"labels/a.txt: the member's local header is missing"):
        open_archive(bytes(data)).read("labels/a.txt")


@pytest.mark.parametrize("names", [
    ["a.txt", "b.TXT", "c.Txt", "d.jpg", "e.txt.jpg", "txt", ".txt"],
    ["labels/a.txt", "labels/b.jpg", "train/labels/c.txt", "x/labelsx/d.txt", "labels.txt",
     "z/labels/y/e.TXT", "Labels/f.txt"],
    [f"labels/{i:03d}.{'txt' if i % 7 else 'jpg'}" for i in range(300)] + ["classes.txt", "data.yaml"],
    [f"{folder}/labels/{i:02d}.txt" for folder in "abc" for i in range(40)] + ["b.jpg", "c.jpg"],
])
def test_names_ending_matches_the_plain_python_filter(names):
    archive = open_archive(zip_bytes({n: "" for n in names}))
    expected = [n for n in archive.names if n.lower().endswith(".txt")]
    assert archive.names_ending(".txt") == expected
    assert archive.names_ending(".TXT") == expected
    assert archive.names_ending(".txt", ".jpg") == \
        [n for n in archive.names if n.lower().endswith((".txt", ".jpg"))]
    assert archive.names_ending(".png") == []


def test_a_name_running_past_the_central_directory_is_a_format_error():
    data = bytearray(zip_bytes({"labels/a.txt": "0 0.5 0.5 0.1 0.1\n"}))
    record = data.rindex(b"PK\x01\x02")
    data[record + 28:record + 30] = (5000).to_bytes(2, "little")  # the name's length
    with pytest.raises(FormatError, match="not a readable zip .*name runs past"):
        open_archive(bytes(data))


@pytest.mark.parametrize("damage", [b"0.600000", b"0.5x0000"])
def test_a_member_damaged_in_place_is_corrupt_not_read(damage):
    # "0.600000" still parses (and would be read as a box moved by 0.1): only the CRC tells
    line = b"0 0.500000 0.500000 0.100000 0.100000\n"
    members = {f"labels/{i:03d}.txt": line * 3 for i in range(200)}
    data = bytearray(zip_bytes(members, zipfile.ZIP_STORED))
    at = data.index(line * 3, data.index(b"labels/150.txt") + 14)
    data[at + 2:at + 10] = damage
    with pytest.raises(FormatError, match=r"labels/150.txt: the member is corrupt \(CRC mismatch\)"):
        read_yolo(bytes(data))


@pytest.mark.parametrize("names", ["a\n5\n", "a\nb\n"])
def test_a_class_damaged_in_place_is_corrupt_before_it_names_anything(names):
    # the class 0 -> 9: with names "a", "5" it would make a repeated category name, with "a", "b"
    # a warning about classes past the names; the CRC check comes first in both
    line = b"0 0.500000 0.500000 0.100000 0.100000\n"
    members = {f"labels/{i:03d}.txt": line * 3 for i in range(20)}
    members["classes.txt"] = names
    data = bytearray(zip_bytes(members, zipfile.ZIP_STORED))
    at = data.index(line * 3, data.index(b"labels/015.txt") + 14)
    data[at:at + 1] = b"9"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FormatError, match=r"labels/015.txt: the member is corrupt \(CRC mismatch\)"):
            read_yolo(bytes(data))


def test_every_name_that_needs_normalizing_is_caught_by_the_directory_s_one_search():
    # the archive check sends only names matching _SUSPECT through safe_member_name: every other
    # name must be one that safe_member_name keeps as it is
    import itertools

    from aion_pandas.formats.safety import _SUSPECT
    alphabet = ["a", ".", "/", "\\", ":", "\x00", "é"]
    names = ["".join(p) for n in range(6) for p in itertools.product(alphabet, repeat=n)]
    passed = [name for name in names if not _SUSPECT.search(name)]
    assert len(passed) > 500  # the plain ones: a, a/a, é.a, ...
    for name in passed:
        assert safe_member_name(name) == name
    members = {"ok/a.txt": "", "x\\y.txt": "", "b/./c.txt": ""}  # among plain names, normalized
    assert open_archive(zip_bytes(members)).names == ["b/c.txt", "ok/a.txt", "x/y.txt"]


def test_a_folder_file_is_measured_as_it_is_read(tmp_path):
    """The walk takes no sizes: each file's is checked against the limit when it is read."""
    (tmp_path / "labels").mkdir()
    label = tmp_path / "labels" / "a.txt"
    label.write_text("0 0.5 0.5 0.1 0.1\n")
    archive = open_archive(tmp_path, limits=Limits(max_member_bytes=40))
    assert archive.read("labels/a.txt") == b"0 0.5 0.5 0.1 0.1\n"
    label.write_text("0 0.5 0.5 0.1 0.1\n" * 3)  # 54 bytes, past the limit since the walk
    assert archive.size("labels/a.txt") == 54
    with pytest.raises(FormatError, match="labels/a.txt: the file is larger than the limit of 40 bytes"):
        archive.read("labels/a.txt")
