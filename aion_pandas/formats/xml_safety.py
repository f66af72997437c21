"""XML from outside, read safely: a ``DOCTYPE`` or ``ENTITY`` declaration is refused before
parsing, so no entity is ever expanded and no DTD fetched; then ElementTree parses.

>>> parse_xml(b"<a><b>1</b></a>").findtext("b")
'1'
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET


from aion_pandas.errors import FormatError

_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
def check_xml(data: bytes, *, where: str | None = None, member: str | None = None) -> bytes:
    """Return ``data`` as UTF-8 XML; refuse a ``DOCTYPE`` or ``ENTITY`` declaration.

    UTF-16 (with a BOM) and encodings declared in the XML declaration are re-encoded to UTF-8.

    >>> check_xml(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', where="v.zip", member="A/1.xml")
    Traceback (most recent call last):
    ...
    aion_pandas.errors.FormatError: v.zip: A/1.xml: XML with a DOCTYPE/ENTITY declaration is refused (entities are never expanded)
    """
    data = to_utf8(data, where=where, member=member)
    if b"<!" in data and _FORBIDDEN.search(data):
        raise FormatError("XML with a DOCTYPE/ENTITY declaration is refused (entities are never "
                          "expanded)", path=where, member=member)
    return data


def parse_xml(data: bytes, *, where: str | None = None, member: str | None = None) -> ET.Element:
    """One XML document parsed after :func:`check_xml`; errors name the member, line and text there.

    >>> parse_xml(b"<a>&amp;</a>").text
    '&'
    """
    data = check_xml(data, where=where, member=member)
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        reason = str(exc).rsplit(": line", 1)[0]
        text = data.split(b"\n")[line - 1][column:column + 24].decode("utf-8", "replace")
        raise FormatError(f"line {line}: not well-formed XML ({reason} at {text!r})", path=where,
                          member=member) from None


_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"'][^>]*\?>")


def to_utf8(data: bytes, *, where: str | None = None, member: str | None = None) -> bytes:
    """XML bytes re-encoded to UTF-8 (BOMs removed, the declaration's encoding honoured)."""
    if data[:1] == b"<":
        if data[:5] != b"<?xml":
            return data
        declaration = data[:data.find(b"?>", 0, 400)].lower()
        if b"encoding" not in declaration or b"utf-8" in declaration or b"utf8" in declaration:
            return data
    if data[:3] == b"\xef\xbb\xbf":
        return data[3:]
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = data.decode("utf-16")
    else:
        found = _DECLARATION.match(data[:200])
        encoding = found.group(1).decode().lower() if found else "utf-8"
        if encoding in ("utf-8", "utf8", "us-ascii", "ascii"):
            return data
        try:
            text = data.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise FormatError(f"cannot decode the XML as {encoding} ({exc})", path=where,
                              member=member) from None
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    return text.encode("utf-8")
