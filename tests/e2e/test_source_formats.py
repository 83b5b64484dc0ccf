"""Every source format end to end: loopback HTTP -> fetcher worker -> Redis -> importer worker ->
MongoDB. First import, re-import unchanged, edited -> updated, bad entries as failed items; and
the RSS/Atom fixes (header charset, redirects and relative links, Atom ids over an old database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from devstack.feedserver import FeedServer, Reply, Request
from devstack.samplefeeds import atom_feed, sample_jobs
from job_importer.history import now
from job_importer.settings import FeedConfig, SourceFormat
from services.fetcher.normalize import normalize
from services.fetcher.parse import parse_with_feedparser
from services.importer.store import write_items
from tests.conftest import Workers, assert_adds_up, run_import

FORMATS = Path(__file__).resolve().parent.parent / "fixtures" / "formats"
SR_PAGE_1 = "/sr/postings?limit=2"
SR_PAGE_2 = "/sr/postings?limit=2&offset=2"

#: path -> (fixture, format, content type, text edited in the third run, fetched, new, failed)
CASES: dict[str, tuple[str, SourceFormat, str, bytes, int, int, int]] = {
    "/indeed.xml": ("indeed.xml", "auto", "text/xml", b"Senior Data Engineer", 3, 2, 1),
    "/zip.xml": ("ziprecruiter.xml", "auto", "application/xml", b"Auto Tech.", 1, 1, 0),
    "/jooble.xml": ("jooble.xml", "auto", "text/xml; charset=utf-8", b"Warehouse Operative", 2, 2, 0),
    "/personio.xml": ("personio.xml", "jobxml", "text/xml", b"Backend Engineer", 1, 1, 0),
    "/feed.json": ("jsonfeed11.json", "auto", "application/feed+json", b"Support Agent", 4, 3, 1),
    "/greenhouse.json": ("greenhouse.json", "greenhouse", "application/json", b"Product Designer", 2, 2, 0),
    "/lever.json": ("lever.json", "lever", "application/json", b"Platform Engineer", 2, 2, 0),
    "/ashby.json": ("ashby.json", "ashby", "application/json", b"Account Executive", 1, 1, 0),
    "/recruitee.json": ("recruitee.json", "recruitee", "application/json", b"Frontend Developer", 1, 1, 0),
    "/workable.json": ("workable.json", "workable", "application/json", b"Customer Success", 1, 1, 0),
    SR_PAGE_1: ("smartrecruiters_page1.json", "smartrecruiters", "application/json", b"Store Manager", 3, 3, 0),
    "/mapped.json": ("mapped.json", "json", "application/json", b"Line Cook", 3, 2, 1),
    "/mapped.xml": ("mapped.xml", "xml", "application/xml", b"Baker", 2, 2, 0),
}  # fmt: skip
#: The per-feed mappings of the two generic formats.
MAPPINGS: dict[str, dict[str, Any]] = {
    "/mapped.json": {
        "items": "/data/results",
        "fields": {"guid": "/ref", "title": "/role/name", "link": "/url", "city": "/where/0/city",
                   "country": "/where/0/country", "salary_min": "/pay/from", "salary_max": "/pay/to",
                   "salary_currency": "/pay/cur", "salary_period": "/pay/per"},
    },
    "/mapped.xml": {
        "items": "listings/listing",
        "fields": {"guid": "@code", "title": "heading", "city": "place/@town", "country": "place/@land",
                   "description": "text"},
    },
}  # fmt: skip


def serve(server: FeedServer, edited: bool) -> None:
    for path, (fixture, _, content_type, edit, *_counts) in CASES.items():
        data = (FORMATS / fixture).read_bytes()
        if edited:
            data = data.replace(edit, edit + b" (updated)", 1)
        server.routes[path] = lambda request, data=data, content_type=content_type: Reply(
            body=data, content_type=content_type
        )
    page_2 = (FORMATS / "smartrecruiters_page2.json").read_bytes()
    server.routes[SR_PAGE_2] = lambda request: Reply(body=page_2, content_type="application/json")


def test_each_format_imports_then_is_unchanged_then_updated(
    settings, store, broker, workers: Workers
) -> None:
    with FeedServer() as server:
        serve(server, edited=False)
        feeds = [
            FeedConfig(
                url=server.url(path),
                source=path.strip("/").split("?")[0],
                format=case[1],
                **MAPPINGS.get(path, {}),
            )
            for path, case in CASES.items()
        ]
        workers.start_both()
        first = {run["feed_url"]: run for run in run_import(settings, store, broker, feeds)}
        second = {run["feed_url"]: run for run in run_import(settings, store, broker, feeds)}
        serve(server, edited=True)
        third = {run["feed_url"]: run for run in run_import(settings, store, broker, feeds)}

    for path, (fixture, *_, fetched, new, failed) in CASES.items():
        url = server.url(path)
        got = [(run["status"], run["fetched"], run["new"], run["updated"], run["unchanged"], run["failed"])
               for run in (first[url], second[url], third[url])]  # fmt: skip
        assert got == [
            ("completed", fetched, new, 0, 0, failed),
            ("completed", fetched, 0, 0, new, failed),
            ("completed", fetched, 0, 1, new - 1, failed),
        ], fixture
        for run in (first[url], second[url], third[url]):
            assert_adds_up(run)
    assert store.jobs.count_documents({}) == sum(case[5] for case in CASES.values())
    assert [f["reason"] for f in first[server.url("/indeed.xml")]["failures"]] == ["entry has no title"]
    assert [f["reason"] for f in first[server.url("/feed.json")]["failures"]] == [
        "item is str, not an object"
    ]
    lever = store.jobs.find_one({"_id": "lever.json#5f3a1b2c-0000-4000-8000-000000000001"})
    assert lever is not None and lever["title"] == "Platform Engineer (updated)"
    assert (lever["remote"], lever["salary_min"], lever["salary_currency"], lever["salary_period"]) == (
        "hybrid", 150000.0, "USD", "year",
    )  # fmt: skip
    indeed = store.jobs.find_one({"_id": "indeed.xml#ACME-1001"})
    assert indeed is not None and (indeed["city"], indeed["region"], indeed["postal_code"]) == (
        "Austin",
        "TX",
        "78701",
    )
    assert store.jobs.count_documents({"source": "sr/postings"}) == 3  # both pages
    cook = store.jobs.find_one({"_id": "mapped.json#m-1"})
    assert cook is not None and cook["title"] == "Line Cook (updated)"
    assert (cook["city"], cook["country"], cook["salary_min"], cook["salary_currency"]) == (
        "Lyon",
        "FR",
        28000.0,
        "EUR",
    )
    assert [f["reason"] for f in first[server.url("/mapped.json")]["failures"]] == ["entry has no title"]
    baker = store.jobs.find_one({"_id": "mapped.xml#X1"})
    assert baker is not None and (baker["title"], baker["city"], baker["description"]) == (
        "Baker (updated)",
        "Graz",
        "Bread.",
    )


def test_an_unsupported_document_fails_its_run_with_a_reason(
    settings, store, broker, workers: Workers
) -> None:
    routes = {
        "/catalog.xml": lambda request: Reply(
            body=b"<catalog><book/></catalog>", content_type="application/xml"
        ),
        "/api.json": lambda request: Reply(body=b'{"results": []}', content_type="application/json"),
    }
    with FeedServer(routes) as server:  # type: ignore[arg-type]
        workers.start_both()
        runs = {
            run["feed_url"]: run
            for run in run_import(
                settings, store, broker, [FeedConfig(url=server.url(path)) for path in routes]
            )
        }
    catalog, api = runs[server.url("/catalog.xml")], runs[server.url("/api.json")]
    assert catalog["status"] == "failed" and "root element <catalog>" in catalog["error"]
    assert api["status"] == "failed" and "unsupported JSON document (keys: results" in api["error"]


def test_header_charset_and_links_relative_to_the_url_after_redirects(
    settings, store, broker, workers: Workers
) -> None:
    title = "Группа «Серебряная» ищет инженера"
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><item><title>'
        + title.encode("cp1251")
        + b"</title><link>/gulpjs/gulp/releases/tag/v3.9.0</link></item></channel></rss>"
    )

    def moved(request: Request) -> Reply:
        return Reply(status=301, headers={"Location": "/boards/ru/feed.xml"}, content_type="text/plain")

    def feed(request: Request) -> Reply:
        return Reply(body=body, content_type="text/xml; charset=windows-1251")

    with FeedServer({"/old.xml": moved, "/boards/ru/feed.xml": feed}) as server:
        workers.start_both()
        [run] = run_import(settings, store, broker, [FeedConfig(url=server.url("/old.xml"), source="ru")])
    assert run["status"] == "completed" and run["new"] == 1 and run.get("warning") is None
    [doc] = store.jobs.find({"source": "ru"})
    assert doc["title"] == title
    assert doc["link"] == server.url("/gulpjs/gulp/releases/tag/v3.9.0")
    assert doc["_id"] == f"ru#{server.url('/gulpjs/gulp/releases/tag/v3.9.0')}"


def test_an_atom_feed_imported_under_the_old_ids_is_moved_not_doubled(
    settings, store, broker, workers: Workers
) -> None:
    data = atom_feed(sample_jobs(12, seed=31))
    with FeedServer({"/atom.xml": data}) as server:
        feed = FeedConfig(url=server.url("/atom.xml"), source="atom")
        # What an earlier version stored: the same entries, identified by their links.
        old_rule = [replace(entry, guid="") for entry in parse_with_feedparser(data).entries]
        legacy = normalize(old_rule, feed).items
        write_items(store, "run-before-upgrade", feed.url, now() - timedelta(days=1), legacy)
        assert {doc["_id"] for doc in store.jobs.find()} == {item.id for item in legacy}
        workers.start_both()
        [run] = run_import(settings, store, broker, [feed])
    assert (run["status"], run["fetched"], run["new"], run["updated"], run["unchanged"]) == (
        "completed",
        12,
        0,
        0,
        12,
    )
    docs = list(store.jobs.find())
    assert len(docs) == 12
    assert all(doc["_id"].startswith("atom#tag:atomjobs.example,2026:job-") for doc in docs)
    assert all(doc["created_run"] == "run-before-upgrade" for doc in docs)
