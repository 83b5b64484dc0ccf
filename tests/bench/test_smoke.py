"""The benchmark at its smoke size: the report is complete and adds up (never a speed check)."""

from __future__ import annotations

from pathlib import Path

from bench import feeds
from bench.__main__ import main

PARSERS = {"feedparser, defaults", "feedparser, tuned", "fast path", "lxml tree only (ceiling)"}


def test_quick_benchmark_report_is_complete_and_sane(tmp_path: Path, capsys) -> None:
    report = main(["--quick", "--json", str(tmp_path / "report.json")])
    printed = capsys.readouterr().out
    assert "## Parse stage" in printed and "## End to end" in printed
    assert (tmp_path / "report.json").stat().st_size > 0

    assert set(report["parse"]) == {"ascii", "real"}  # both kinds of text by default
    for parse in report["parse"].values():
        assert set(parse["parsers"]) == PARSERS
        for result in parse["parsers"].values():
            rates = result["items_per_cpu_s"]
            assert 0 < rates["min"] <= rates["median"] <= rates["max"] and len(rates["runs"]) == 2

    assert "## Source formats" in printed
    assert set(report["formats"]["formats"]) == {
        "rss (fast path, with the response's URL and charset)", "jobxml", "jsonfeed", "lever", "greenhouse",
        "jsonfeed, streamed (yajl2_c)", "lever, streamed (yajl2_c)", "greenhouse, streamed (yajl2_c)",
    }  # fmt: skip
    for result in report["formats"]["formats"].values():
        assert result["feed_bytes"] > 0 and result["items_per_cpu_s"]["min"] > 0

    config = report["config"]
    total = config["feeds"] * config["items"]
    invalid = config["feeds"] * (config["items"] // feeds.INVALID_EVERY)
    changed = config["feeds"] * len(range(0, config["items"], feeds.CHANGED_EVERY))
    assert set(report["e2e"]) == {"ascii", "real"}
    results = [result for e2e in report["e2e"].values() for result in e2e["importers"].values()]
    assert len(results) == 4  # 1 and 2 importers, for each text
    for result in results:
        first, again = result["scenarios"]["first import"], result["scenarios"]["re-import, 10% changed"]
        assert first["items"] == again["items"] == total
        assert first["outcomes"] == {
            "new": total - invalid,
            "updated": 0,
            "unchanged": 0,
            "duplicates": 0,
            "failed": invalid,
        }
        assert again["outcomes"]["updated"] + again["outcomes"]["unchanged"] == total - invalid
        assert 0 < again["outcomes"]["updated"] <= changed
        for scenario in (first, again):
            for name in (
                "items_per_s",
                "our_cpu_s_per_1000_items",
                "store_cpu_s_per_1000_items",
                "redis_commands_per_item",
                "store_round_trips_per_item",
            ):
                assert scenario[name]["median"] > 0, name
            assert scenario["store_commands_by_name"]["update"] >= 1  # the chunks' bulk writes
        for service in ("fetcher", "importer", "redis", "store"):
            assert all(size > 10 * 1024 * 1024 for size in result["peak_rss_bytes"][service]), service
