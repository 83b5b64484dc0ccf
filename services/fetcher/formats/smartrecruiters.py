"""SmartRecruiters' Posting API: ``GET api.smartrecruiters.com/v1/companies/{id}/postings``, paginated.

Each page is ``{"offset", "limit", "totalFound", "content": [{"id", "name" (the title),
"refNumber", "releasedDate", "company": {"identifier", "name"}, "location": {"city", "region",
"country", "postalCode", "remote", "hybrid", "fullLocation"}, "typeOfEmployment": {"label"},
"department": {"label"}, "function": {"label"}, "experienceLevel": {"label"}, "ref"}]}``.
The next page is asked for with ``offset`` moved on by the page's length until ``totalFound``
items have been read (at most :data:`MAX_PAGES` pages). The list has no job descriptions; the
posting's public page is ``jobs.smartrecruiters.com/{company}/{id}``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from job_importer.settings import FeedConfig
from services.fetcher.entries import ParsedFeed
from services.fetcher.formats import jsonitems
from services.fetcher.formats.document import Document, FetchPage
from services.fetcher.formats.entry import obj, text

MAX_PAGES = 200
PAGE_SIZE = 100  # the API's largest page


def values(posting: dict[str, Any]) -> dict[str, Any]:
    location = obj(posting.get("location"))
    company = obj(posting.get("company"))
    identifier, number = text(company.get("identifier")), text(posting.get("id"))
    remote = "remote" if location.get("remote") else "hybrid" if location.get("hybrid") else None
    return {
        "guid": posting.get("id"),
        "link": f"https://jobs.smartrecruiters.com/{identifier}/{number}" if identifier and number else None,
        "title": posting.get("name"),
        "published": posting.get("releasedDate"),
        "company": company.get("name"),
        "location": location.get("fullLocation"),
        "city": location.get("city"),
        "region": location.get("region"),
        "country": text(location.get("country")).upper() or None,
        "postal_code": location.get("postalCode"),
        "remote": remote,
        "job_type": posting.get("typeOfEmployment"),
        "category": posting.get("department") or posting.get("function"),
    }


def read(document: Document, feed: FeedConfig, fetch_page: FetchPage) -> ParsedFeed:
    pointer = feed.items or "/content"
    data = jsonitems.load(document)
    postings = list(jsonitems.item_list(data, pointer, document, "a SmartRecruiters postings page"))
    total = data.get("totalFound") if isinstance(data, dict) else None
    url = document.url or feed.url
    warning = None
    pages = 1
    while isinstance(total, int) and len(postings) < total:
        if pages >= MAX_PAGES:
            warning = f"stopped after {MAX_PAGES} pages: {len(postings)} of {total} postings read"
            break
        page = jsonitems.load(fetch_page(_with_offset(url, len(postings))))
        more = jsonitems.item_list(page, pointer, document, "a SmartRecruiters postings page")
        if not more:
            warning = f"the API stopped at {len(postings)} of {total} postings"
            break
        postings.extend(more)
        pages += 1
    result = jsonitems.parsed(postings, feed, values, "smartrecruiters")
    result.warning = warning
    return result


def _with_offset(url: str, offset: int) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("limit", str(PAGE_SIZE))
    query["offset"] = str(offset)
    return urlunsplit(parts._replace(query=urlencode(query)))
