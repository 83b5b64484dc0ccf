"""``python -m bench.memory`` at a smoke size: every row is there and adds up (never a memory check)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.memory import main


def test_memory_benchmark_reports_every_format_and_size(tmp_path: Path, capsys) -> None:
    target = tmp_path / "memory.json"
    main(["--items", "50,120", "--formats", "rss", "--description-bytes", "200", "--json", str(target)])
    main(
        [
            "--items",
            "60",
            "--formats",
            "jobxml,greenhouse",
            "--description-bytes",
            "200",
            "--json",
            str(target.with_suffix(".2")),
        ]
    )
    rows = json.loads(target.read_text())["rows"] + json.loads(target.with_suffix(".2").read_text())["rows"]
    assert [(row["format"], row["items"]) for row in rows] == [
        ("rss", 50),
        ("rss", 120),
        ("jobxml", 60),
        ("greenhouse", 60),
    ]
    for row in rows:
        assert 0 < row["idle_rss_mb"] <= row["peak_rss_mb"] and row["after_rss_mb"] > 0
        assert row["feed_bytes"] > 0 and row["seconds"] > 0 and row["chunks"] >= 1
    assert "| greenhouse | 60 |" in capsys.readouterr().out
