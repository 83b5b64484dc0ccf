"""Realistic sample feeds (Jobicy-shaped RSS, a plain RSS board, Atom), deterministic by seed.

Used to build the bundled demo feeds, by the tests and by the benchmarks.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import quote
from xml.sax.saxutils import escape

from devstack.realtext import LOCALES, SALARIES, SKILLS

TITLES = [
    "Senior Python Engineer", "Data Scientist", "Product Designer", "Social Media Manager",
    "Copywriter", "Account Executive", "Engineering Manager", "DevOps Engineer",
    "Customer Success Lead", "Machine Learning Engineer", "Content Strategist", "QA Analyst",
]  # fmt: skip
COMPANIES = ["Acme Remote", "Globex", "Initech", "Umbrella Labs", "Hooli", "Stark Digital", "Wayne Analytics"]
LOCATIONS = ["USA", "Europe", "Anywhere", "France", "UK", "Canada", "LATAM", "APAC"]
JOB_TYPES = ["Full-Time", "Part-Time", "Contract", "Internship"]
CATEGORIES = ["Data Science", "Design & Multimedia", "Copywriting", "Business", "Management", "SMM"]
BASE_TIME = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

TEXTS = ("ascii", "real")  # sample_jobs(text=...): pure ASCII, or real text as job feeds carry it


@dataclass(frozen=True)
class SampleJob:
    number: int
    title: str
    company: str
    location: str
    job_type: str
    category: str
    description: str
    published: datetime
    guid: str | None = None  # None: derived from the number; "" : left out (a broken item)
    link: str | None = None


def sample_jobs(
    count: int, *, start: int = 1000, seed: int = 7, description_bytes: int = 600, text: str = "ascii"
) -> list[SampleJob]:
    """``count`` listings; ``text="real"``: with the non-ASCII text real feeds carry (``LOCALES``)."""
    if text == "real":
        return _real_text_jobs(count, start, seed, description_bytes)
    if text != "ascii":
        raise ValueError(f"text must be one of {TEXTS}, not {text!r}")
    rng = random.Random(seed)
    jobs = []
    for offset in range(count):
        number = start + offset
        title = rng.choice(TITLES)
        paragraphs = []
        size = 0
        while size < description_bytes:
            sentence = (
                f"<p>{escape(title)} at {rng.choice(COMPANIES)}: you will own {rng.choice(['pipelines', 'campaigns', 'roadmaps', 'dashboards'])} "
                f"and work with a team across {rng.choice(LOCATIONS)}. Requirements: {rng.randint(2, 9)}+ years, "
                f"<strong>{rng.choice(['Python', 'SQL', 'Figma', 'Go', 'Excel'])}</strong>, clear writing.</p>"
            )
            paragraphs.append(sentence)
            size += len(sentence)
        jobs.append(
            SampleJob(
                number=number,
                title=f"{title} #{number}",
                company=rng.choice(COMPANIES),
                location=rng.choice(LOCATIONS),
                job_type=rng.choice(JOB_TYPES),
                category=rng.choice(CATEGORIES),
                description="".join(paragraphs),
                published=BASE_TIME - timedelta(minutes=17 * offset),
            )
        )
    return jobs


def _real_text_jobs(count: int, start: int, seed: int, description_bytes: int) -> list[SampleJob]:
    rng = random.Random(seed)
    weights = [locale.weight for locale in LOCALES]
    jobs = []
    for offset in range(count):
        locale = rng.choices(LOCALES, weights)[0]
        title, company = rng.choice(locale.titles), rng.choice(locale.companies)
        paragraphs: list[str] = []
        size = 0
        while size < description_bytes:
            sentence = locale.sentence.format(
                title=escape(title), company=rng.choice(locale.companies), thing=rng.choice(locale.things),
                place=rng.choice(locale.locations), years=rng.randint(2, 9), skill=rng.choice(SKILLS),
                salary=rng.choice(SALARIES),
            )  # fmt: skip
            paragraphs.append(sentence)
            size += len(sentence.encode())
        jobs.append(
            SampleJob(
                number=start + offset,
                title=f"{title} #{start + offset}",
                company=company,
                location=rng.choice(locale.locations),
                job_type=rng.choice(JOB_TYPES),
                category=rng.choice(CATEGORIES),
                description="".join(paragraphs),
                published=BASE_TIME - timedelta(minutes=17 * offset),
            )
        )
    return jobs


def edited(job: SampleJob, note: str = "(updated)") -> SampleJob:
    """The same listing with changed content (same identity)."""
    return replace(job, title=f"{job.title} {note}", description=job.description + f"<p>{note}</p>")


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _slug(title: str) -> str:
    slug = title.lower().replace(" ", "-").replace("#", "")
    return slug if slug.isascii() else quote(slug, safe="-")  # as real sites percent-encode them


def jobicy_item(job: SampleJob, host: str = "jobicy.example") -> str:
    link = job.link if job.link is not None else f"https://{host}/jobs/{job.number}-{_slug(job.title)}"
    guid = job.guid if job.guid is not None else f"https://{host}/?post_type=job_listing&p={job.number}"
    parts = [
        "<item>",
        f"<title>{escape(job.title)}</title>" if job.title else "",
        f"<id>{job.number}</id>" if guid else "",
        f"<link>{escape(link)}</link>" if link else "",
        f"<pubDate>{format_datetime(job.published)}</pubDate>",
        f'<guid isPermaLink="false">{escape(guid)}</guid>' if guid else "",
        f"<description>{_cdata(job.description)}</description>",
        f"<content:encoded>{_cdata(job.description + '<p>Apply on the company site.</p>')}</content:encoded>",
        f'<media:content url="https://{host}/logos/{job.number % 50}.png" medium="image"/>',
        f"<job_listing:location>{escape(job.location)}</job_listing:location>",
        f"<job_listing:job_type>{escape(job.job_type)}</job_listing:job_type>",
        f"<job_listing:company>{escape(job.company)}</job_listing:company>",
        f"<category>{escape(job.category)}</category>",
        "</item>",
    ]
    return "\n".join(part for part in parts if part)


def jobicy_feed(jobs: list[SampleJob], *, title: str = "Remote Jobs", host: str = "jobicy.example") -> bytes:
    items = "\n".join(jobicy_item(job, host) for job in jobs)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:media="http://search.yahoo.com/mrss/" xmlns:job_listing="https://jobicy.com" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>{escape(title)}</title>\n<link>https://{host}</link>\n"
        f"<description>{escape(title)}</description>\n<language>en-US</language>\n{items}\n"
        "</channel>\n</rss>\n"
    ).encode()


def plain_rss_feed(jobs: list[SampleJob], *, host: str = "highered.example") -> bytes:
    """A board without the job_listing namespace (HigherEdJobs-like)."""
    items = []
    for job in jobs:
        link = job.link if job.link is not None else f"https://{host}/details.cfm?JobCode={job.number}"
        items.append(
            "<item>"
            + (f"<title>{escape(job.title)}</title>" if job.title else "")
            + f"<link>{escape(link)}</link>"
            + f"<description>{escape(job.description)}</description>"
            + f"<pubDate>{format_datetime(job.published)}</pubDate>"
            + (f"<guid>{escape(job.guid if job.guid is not None else link)}</guid>" if job.guid != "" else "")
            + "</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>Higher-ed jobs</title><link>https://{host}</link><description>Jobs</description>"
        + "\n".join(items)
        + "</channel></rss>\n"
    ).encode()


def atom_feed(jobs: list[SampleJob], *, host: str = "atomjobs.example") -> bytes:
    entries = []
    for job in jobs:
        entries.append(
            "<entry>"
            f"<title>{escape(job.title)}</title>"
            f'<link href="https://{host}/job/{job.number}"/>'
            f"<id>tag:{host},2026:job-{job.number}</id>"
            f"<updated>{job.published.isoformat()}</updated>"
            f"<author><name>{escape(job.company)}</name></author>"
            f'<category term="{escape(job.category)}"/>'
            f'<summary type="html">{escape(job.description)}</summary>'
            "</entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Atom jobs</title><id>tag:{host},2026:feed</id><updated>{BASE_TIME.isoformat()}</updated>"
        + "\n".join(entries)
        + "</feed>\n"
    ).encode()


def jobxml_feed(jobs: list[SampleJob], *, host: str = "jobxml.example") -> bytes:
    """An Indeed-shaped job-board XML feed (``<source>`` of ``<job>``) of the same listings."""
    items = []
    for job in jobs:
        reference = job.guid if job.guid is not None else f"JX-{job.number}"
        parts = [
            "<job>",
            f"<title>{_cdata(job.title)}</title>" if job.title else "",
            f"<date>{_cdata(format_datetime(job.published))}</date>",
            f"<referencenumber>{_cdata(reference)}</referencenumber>" if reference else "",
            f"<url>{_cdata(f'https://{host}/jobs/{job.number}')}</url>" if job.link != "" else "",
            f"<company>{_cdata(job.company)}</company>",
            f"<city>{_cdata(job.location)}</city><state>{_cdata('CA')}</state><country>{_cdata('US')}</country>",
            f"<postalcode>{_cdata(str(90000 + job.number % 1000))}</postalcode>",
            f"<description>{_cdata(job.description)}</description>",
            f"<salary>{_cdata(f'${50 + job.number % 100}k per year')}</salary>",
            f"<jobtype>{_cdata(job.job_type)}</jobtype><category>{_cdata(job.category)}</category>",
            "</job>",
        ]
        items.append("".join(part for part in parts if part))
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<source><publisher>Sample board</publisher>'
        f"<publisherurl>https://{host}</publisherurl>\n" + "\n".join(items) + "\n</source>\n"
    ).encode()


def json_feed(jobs: list[SampleJob], *, host: str = "jsonfeed.example") -> bytes:
    """A JSON Feed 1.1 of the same listings."""
    items = [
        {
            "id": job.guid if job.guid is not None else f"job-{job.number}",
            "url": f"https://{host}/jobs/{job.number}",
            "title": job.title,
            "content_html": job.description,
            "date_published": job.published.isoformat(),
            "authors": [{"name": job.company}],
            "tags": [job.category],
        }
        for job in jobs
    ]
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Sample jobs", "items": items}
    return json.dumps(feed).encode()


def lever_json(jobs: list[SampleJob], *, site: str = "sample") -> bytes:
    """Lever's postings API answer (``?mode=json``) for the same listings."""
    postings = [
        {
            "id": job.guid if job.guid is not None else f"00000000-0000-4000-8000-{job.number:012d}",
            "text": job.title,
            "hostedUrl": f"https://jobs.lever.co/{site}/{job.number}",
            "applyUrl": f"https://jobs.lever.co/{site}/{job.number}/apply",
            "createdAt": int(job.published.timestamp() * 1000),
            "categories": {"commitment": job.job_type, "department": job.category, "location": job.location},
            "description": job.description,
            "descriptionPlain": job.title,
            "lists": [],
            "workplaceType": "remote",
            "salaryRange": {"currency": "USD", "interval": "per-year-salary", "min": 50000, "max": 90000},
        }
        for job in jobs
    ]
    return json.dumps(postings).encode()


def greenhouse_json(jobs: list[SampleJob], *, board: str = "sample") -> bytes:
    """Greenhouse's job board answer (``/v1/boards/{board}/jobs?content=true``) for the same
    listings: the description entity-escaped once more, as Greenhouse sends it."""
    postings: list[dict[str, object]] = [
        {
            "absolute_url": ""
            if job.link == ""
            else f"https://boards.greenhouse.io/{board}/jobs/{job.number}",
            "internal_job_id": 3_000_000 + job.number,
            "location": {"name": job.location},
            "metadata": None,
            "id": job.guid if job.guid is not None else 4_000_000 + job.number,
            "updated_at": job.published.isoformat(),
            "requisition_id": f"R-{job.number}",
            "title": job.title,
            "company_name": job.company,
            "first_published": job.published.isoformat(),
            "content": escape(job.description),
            "departments": [{"id": 45, "name": job.category, "child_ids": [], "parent_id": None}],
            "offices": [
                {"id": 7, "name": job.location, "location": job.location, "child_ids": [], "parent_id": None}
            ],
        }
        for job in jobs
    ]
    return json.dumps({"jobs": postings, "meta": {"total": len(postings)}}).encode()
