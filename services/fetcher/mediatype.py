"""What a response's ``Content-Type`` header says: the media type and the charset.

RFC 7303 §3: for XML, a charset given in the HTTP header wins over the document's own XML
declaration. A byte order mark wins over both (:func:`xml_charset`): it can't be there by
accident, while a header's charset is often a server's default. Every XML reader takes the
charset from here, so all agree on the one rule.
"""

from __future__ import annotations

import codecs
from email.message import Message


def media_type(content_type: str) -> str:
    """``application/rss+xml`` from ``Application/RSS+XML; charset=utf-8``; "" when absent."""
    return content_type.split(";", 1)[0].strip().lower()


_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def xml_charset(body: bytes, content_type: str) -> str | None:
    """The charset an XML body is to be decoded with when the header decides it: the header's,
    unless the body starts with a BOM (None: the parser sniffs the BOM, else the declaration)."""
    if body.startswith(_BOMS):
        return None
    return header_charset(content_type)


def header_charset(content_type: str) -> str | None:
    """The charset the header names, as a Python codec name; None when absent or unknown."""
    if "charset" not in content_type.lower():
        return None
    message = Message()
    message["content-type"] = content_type
    charset = message.get_param("charset")
    if not isinstance(charset, str) or not charset.strip():
        return None
    try:
        return codecs.lookup(charset.strip().strip("'\"")).name
    except LookupError:
        return None
