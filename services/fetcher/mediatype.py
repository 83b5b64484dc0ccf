"""What a response's ``Content-Type`` header says: the media type and the charset.

RFC 7303 §3: for XML, a charset given in the HTTP header wins over the document's own XML
declaration (and over a BOM only when they disagree, which we leave to the decoder). Both parse
paths read the charset from here, so they agree on the one rule.
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
