"""One downloaded document as the format adapters see it: the bytes and what the response said."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.fetcher.mediatype import media_type, xml_charset


@dataclass(frozen=True)
class Document:
    body: bytes
    content_type: str = ""  # the Content-Type header as sent
    url: str = ""  # the final URL, after redirects: the base of relative links

    @property
    def media_type(self) -> str:
        return media_type(self.content_type)

    @property
    def charset(self) -> str | None:
        """The charset to decode XML with when the response decides it (a BOM overrides it)."""
        return xml_charset(self.body, self.content_type)


#: Downloads one more page of a paginated source (the URL of the page): for API adapters.
FetchPage = Callable[[str], Document]
