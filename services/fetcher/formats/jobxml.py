"""The job-board XML family: ``<source>``/``<jobs>`` of ``<job>`` elements, and Personio's
``<workzag-jobs>`` of ``<position>``.

Indeed, ZipRecruiter, Jooble, Jobrapido, Talroo, WhatJobs, Adzuna and most ATS exports publish
variations of one shape: a root element, optional publisher metadata, then one element per job
whose children name its fields. The names vary; :data:`ALIASES` lists, per job field, the
element names (lower-cased local names) read for it, the first non-empty one winning. Elements
not read into a field are kept in ``extra``. docs/formats.md lists the same table.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

from job_importer.settings import FeedConfig
from services.fetcher.entries import ParsedFeed, RawEntry
from services.fetcher.formats.document import Document
from services.fetcher.formats.entry import raw_entry_from, text
from services.fetcher.formats.mapping import first, mapped
from services.fetcher.formats.xmltree import element_tree, find_items, parse_root

#: Elements that are one job each.
ITEM_NAMES = frozenset({"job", "position", "vacancy", "offer"})

ALIASES: dict[str, tuple[str, ...]] = {
    "guid": ("referencenumber", "reference_number", "reference_id", "referenceid", "reference", "id", "@id",
             "jobid", "job_id", "requisitionid", "requisition_id", "guid"),
    "link": ("url", "link", "joburl", "job_url", "jobviewurl"),
    "apply_url": ("apply_url", "applyurl", "application_url", "applicationurl", "apply"),
    "title": ("title", "name", "jobtitle", "job_title"),
    "description": ("description", "jobdescription", "job_description", "body", "content", "snippet"),
    "published": ("date", "publishdate", "publish_date", "pubdate", "posted_at", "postdate", "dateposted",
                  "date_posted", "createdat", "created_at", "updated"),
    "expires": ("expirationdate", "expiration_date", "expirydate", "expiry_date", "expire", "expires",
                "expires_at", "expiry", "validthrough", "closingdate", "closing_date"),
    "company": ("company", "company_name", "companyname", "employer", "hiringorganization", "subcompany"),
    "city": ("city", "town"),
    "region": ("state", "region", "province", "county"),
    "country": ("country", "countrycode", "country_code"),
    "postal_code": ("postalcode", "postal_code", "zip", "zipcode", "zip_code", "postcode"),
    "location": ("location", "locations", "office", "address"),
    "salary": ("salary", "compensation", "pay"),
    "salary_min": ("salary_min", "salarymin", "min_salary", "minsalary"),
    "salary_max": ("salary_max", "salarymax", "max_salary", "maxsalary"),
    "salary_currency": ("salary_currency", "salarycurrency", "currency"),
    "salary_period": ("salary_period", "salaryperiod", "salary_type", "salarytype", "period"),
    "job_type": ("jobtype", "job_type", "employmenttype", "employment_type", "type", "schedule"),
    "category": ("category", "categories", "jobcategory", "department", "recruitingcategory"),
    "remote": ("remotetype", "remote_type", "remote", "isremote", "workplacetype", "telecommute"),
    "image_url": ("logo", "companylogo", "company_logo", "image"),
}  # fmt: skip
_READ = frozenset(name for names in ALIASES.values() for name in names) | {"jobdescriptions"}


def read(document: Document, feed: FeedConfig) -> ParsedFeed:
    root, warning = parse_root(document)
    personio = personio_base(feed.url, document.url)
    elements = find_items(root, feed.items, ITEM_NAMES)
    entries = [safe_entry(element_tree(element), feed, document, personio) for element in elements]
    if warning:
        warning = f"{warning}; {len(entries)} jobs recovered"
    return ParsedFeed(entries=entries, format="jobxml", warning=warning)


def safe_entry(item: Any, feed: FeedConfig, document: Document, personio: str | None) -> RawEntry:
    try:
        return _entry(item, feed, document, personio)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:  # a shape we don't expect
        return RawEntry(problem=f"unreadable job ({type(exc).__name__}: {exc})")


def _entry(item: Any, feed: FeedConfig, document: Document, personio: str | None) -> RawEntry:
    if not isinstance(item, dict):
        return RawEntry(problem="the job element has no fields")
    values: dict[str, Any] = {field: first(item, *names) for field, names in ALIASES.items()}
    descriptions = item.get("jobdescriptions")
    if isinstance(descriptions, dict):  # Personio: <jobDescription><name/><value/></jobDescription>...
        values["description"] = _personio_description(descriptions.get("jobdescription"))
    values.update(mapped(item, feed.fields, lower=True))
    link = text(values.get("link"))
    if not link and personio and text(values.get("guid")):
        link = f"{personio}/job/{text(values['guid'])}"
    values["link"] = urljoin(document.url, link) if link and document.url else link
    read = _READ | {path.strip("/").split("/")[0].lower() for path in feed.fields.values()}
    extra = {key: value for key, value in item.items() if key not in read and isinstance(value, str)}
    return raw_entry_from(values, extra)


def personio_base(*urls: str) -> str | None:
    """https://{company}.jobs.personio.de for a Personio feed: its job pages live there."""
    for url in urls:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host.endswith((".jobs.personio.de", ".jobs.personio.com")):
            return f"{parts.scheme or 'https'}://{host}"
    return None


def _personio_description(parts: object) -> str:
    sections = parts if isinstance(parts, list) else [parts]
    html = []
    for section in sections:
        if isinstance(section, dict):
            name, value = text(section.get("name")), text(section.get("value"))
            html.append(f"<h3>{name}</h3>{value}" if name else value)
    return "\n".join(part for part in html if part)
