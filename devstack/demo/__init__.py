"""The bundled demo feeds: several hundred realistic items, a few of them broken on purpose.

Regenerate with ``python -m devstack.demo``; `job-importer demo` serves them on loopback.
"""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from pathlib import Path

from devstack.samplefeeds import atom_feed, jobicy_feed, plain_rss_feed, sample_jobs

#: file name -> source (the provider half of every job id)
DEMO_FEEDS = {
    "jobicy-remote.xml": "demo-jobicy",
    "jobicy-data-science.xml": "demo-jobicy",
    "higher-ed.xml": "demo-highered",
    "atom-board.xml": "demo-atom",
}


def build() -> dict[str, bytes]:
    remote = sample_jobs(240, start=1000, seed=1)
    remote[10] = replace(remote[10], guid="", link="")  # no identity at all
    remote[20] = replace(remote[20], title="")  # no title
    remote[30] = replace(remote[30], description="<p>" + "x" * 120_000 + "</p>")  # description over the cap
    science = sample_jobs(80, start=2000, seed=2)
    higher = sample_jobs(120, start=3000, seed=3, description_bytes=300)
    higher[5] = replace(higher[5], title="")
    atom = sample_jobs(60, start=4000, seed=4, description_bytes=400)
    return {
        "jobicy-remote.xml": jobicy_feed(remote, title="Remote jobs (demo)"),
        "jobicy-data-science.xml": jobicy_feed(science, title="Data science jobs (demo)"),
        "higher-ed.xml": plain_rss_feed(higher),
        "atom-board.xml": atom_feed(atom),
    }


def load() -> dict[str, bytes]:
    """The bundled files, as shipped with the package."""
    folder = resources.files(__name__)
    return {name: folder.joinpath(name).read_bytes() for name in DEMO_FEEDS}


def write(folder: Path) -> None:
    for name, body in build().items():
        (folder / name).write_bytes(body)
