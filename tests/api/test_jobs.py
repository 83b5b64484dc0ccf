"""Browsing imported jobs: filters, text search, pagination, one job."""

from __future__ import annotations

import uuid
from dataclasses import replace
from urllib.parse import quote

import httpx
import pytest

from devstack.samplefeeds import jobxml_feed, sample_jobs
from tests.api.helpers import serve, start, wait_finished
from tests.api_server import Stack

COMPANY = "Quetzal Widgets (API test)"


@pytest.fixture(scope="module")
def imported(stack: Stack) -> list[str]:
    """12 jobs of one unusual company, 3 of them 'C++ (senior)' roles in Lisbon; ids returned."""
    jobs = sample_jobs(12, start=50_000, seed=9)
    jobs = [
        replace(job, company=COMPANY, location="Portugal" if i < 5 else "Remote")
        for i, job in enumerate(jobs)
    ]
    for i in (1, 4, 7):
        jobs[i] = replace(
            jobs[i], title=f"C++ (senior) developer #{jobs[i].number}", location="Lisbon", job_type="Contract"
        )
    with stack.api.client(stack.token) as client:
        [run_id] = start(client, serve(stack, jobs))
        assert wait_finished(client, run_id)["new"] == 12
    return [f"127.0.0.1#https://jobicy.example/?post_type=job_listing&p={job.number}" for job in jobs]


def test_filter_by_company_and_location_any_case(anon: httpx.Client, imported: list[str]) -> None:
    page = anon.get("/jobs", params={"company": "quetzal widgets (api", "page_size": 200}).json()
    assert page["total"] == 12 and {job["company"] for job in page["items"]} == {COMPANY}
    lisbon = anon.get("/jobs", params={"company": "Quetzal", "location": "lisb"}).json()
    assert lisbon["total"] == 3
    contract = anon.get("/jobs", params={"company": "Quetzal", "job_type": "contract"}).json()
    assert contract["total"] >= 3 and all(job["job_type"] == "Contract" for job in contract["items"])


def test_text_search_is_literal_even_with_pattern_characters(anon: httpx.Client, imported: list[str]) -> None:
    found = anon.get("/jobs", params={"q": "c++ (SENIOR)"}).json()
    assert found["total"] == 3 and all(job["title"].startswith("C++ (senior)") for job in found["items"])
    assert anon.get("/jobs", params={"q": ".*"}).json()["total"] == 0  # not a regular expression
    assert anon.get("/jobs", params={"q": "(unclosed"}).status_code == 200
    by_company = anon.get("/jobs", params={"q": "quetzal", "page_size": 200}).json()
    assert by_company["total"] == 12


def test_source_filter_is_exact_and_pages_do_not_overlap(anon: httpx.Client, imported: list[str]) -> None:
    assert anon.get("/jobs", params={"source": "127.0.0"}).json()["total"] == 0
    pages = [
        anon.get(
            "/jobs", params={"source": "127.0.0.1", "company": "Quetzal", "page": n, "page_size": 5}
        ).json()
        for n in (1, 2, 3)
    ]
    ids = [job["id"] for page in pages for job in page["items"]]
    assert [len(page["items"]) for page in pages] == [5, 5, 2]
    assert sorted(ids) == sorted(imported)


def test_one_job_by_its_url_encoded_id(anon: httpx.Client, imported: list[str]) -> None:
    job = anon.get(f"/jobs/{quote(imported[1], safe='')}").json()
    assert job["id"] == imported[1] and job["title"].startswith("C++ (senior)")
    assert job["description"].startswith("<p>")  # stored raw; the UI renders it as text
    assert job["guid"] == imported[1].split("#", 1)[1]
    missing = anon.get(f"/jobs/{quote('127.0.0.1#nope', safe='')}")
    assert missing.status_code == 404 and missing.json() == {"detail": "no job with id '127.0.0.1#nope'"}


@pytest.mark.parametrize("params", [{"page_size": 500}, {"q": ""}, {"company": "x" * 201}, {"page": -1}])
def test_bad_job_queries_get_a_422(anon: httpx.Client, params: dict[str, object]) -> None:
    response = anon.get("/jobs", params=params)
    assert response.status_code == 422 and response.json()["detail"][0]["msg"]


def test_expired_listings_show_only_when_asked_for(stack: Stack, anon: httpx.Client) -> None:
    company = "Expiring Catalog Co (API test)"
    jobs = [replace(job, company=company) for job in sample_jobs(4, start=52_000, seed=10)]
    path = f"/{uuid.uuid4().hex[:8]}-catalog.xml"
    stack.feeds.routes[path] = jobxml_feed(jobs)
    with stack.api.client(stack.token) as client:
        [first] = start(client, stack.feeds.url(path))
        assert wait_finished(client, first)["new"] == 4
        stack.feeds.routes[path] = jobxml_feed(jobs[1:])  # the first job closed
        [second] = start(client, stack.feeds.url(path))
        run = wait_finished(client, second)
    assert (run["unchanged"], run["expired"], run["reactivated"], run["active_listings"]) == (3, 1, 0, 3)

    def titles(**params: str) -> set[str]:
        page = anon.get("/jobs", params={"company": company, **params}).json()
        assert page["total"] == len(page["items"])
        return {job["title"] for job in page["items"]}

    assert titles() == titles(status="active") == {job.title for job in jobs[1:]}
    assert titles(status="expired") == {jobs[0].title}
    assert titles(status="all") == {job.title for job in jobs}
    assert anon.get("/jobs", params={"status": "gone"}).status_code == 422
    [closed] = anon.get("/jobs", params={"company": company, "status": "expired"}).json()["items"]
    assert (closed["status"], closed["expired_reason"]) == ("expired", "missing from feed")
    full = anon.get(f"/jobs/{quote(closed['id'], safe='')}").json()
    assert (full["status"], full["expired_reason"], full["last_seen_run"]) == (
        "expired",
        "missing from feed",
        first,
    )
    assert full["expired_at"] is not None
