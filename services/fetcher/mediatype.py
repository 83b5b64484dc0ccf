"""What a response's ``Content-Type`` header says: the media type and the charset.

RFC 7303 §3: for XML, a charset given in the HTTP header wins over the document's own XML
declaration; a byte order mark wins over both (§3.3, and the WHATWG encoding sniffing rule),
since a server's default ``charset=utf-8`` is often wrong and a BOM never is. Both parse paths
and every format read the charset from :func:`document_charset`, so they agree on the one rule.
"""

from __future__ import annotations

import codecs
from email.message import Message


def media_type(content_type: str) -> str:
    """``application/rss+xml`` from ``Application/RSS+XML; charset=utf-8``; "" when absent."""
    return content_type.split(";", 1)[0].strip().lower()


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


#: Byte order marks; a document that starts with one is decoded by it, whatever the header says.
BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def document_charset(content_type: str, body: bytes) -> str | None:
    """The charset to decode ``body`` with: None when it starts with a BOM (the decoders follow
    the BOM) or the header names none (then the declaration counts), else the header's."""
    if body.startswith(BOMS):
        return None
    return header_charset(content_type)
