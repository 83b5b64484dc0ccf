"""The benchmark's feeds: Jobicy-shaped, with a few invalid items, and edited copies for re-runs."""

from __future__ import annotations

from dataclasses import replace

from devstack.samplefeeds import SampleJob, edited, jobicy_feed, sample_jobs

INVALID_EVERY = 100  # one item in a hundred has no identity (a failed item, by design)
CHANGED_EVERY = 10  # on a re-run, one item in ten has new content


def jobs(
    count: int, description_bytes: int, *, start: int, seed: int, text: str = "ascii"
) -> list[SampleJob]:
    """``text``: "ascii" or "real" (non-ASCII as real feeds carry it, see devstack.samplefeeds)."""
    items = sample_jobs(count, start=start, seed=seed, description_bytes=description_bytes, text=text)
    return [
        replace(job, guid="", link="") if position % INVALID_EVERY == INVALID_EVERY - 1 else job
        for position, job in enumerate(items)
    ]


def feed(
    jobs: list[SampleJob],
    *,
    changed: bool = False,
    changed_every: int = CHANGED_EVERY,
    host: str = "jobicy.example",
) -> bytes:
    """The feed's bytes; ``changed``: every ``changed_every``-th item edited (same identity, new
    content)."""
    if changed:
        jobs = [edited(job) if position % changed_every == 0 else job for position, job in enumerate(jobs)]
    return jobicy_feed(jobs, host=host)
