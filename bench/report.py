"""The benchmark's table (printed) and JSON (written)."""

from __future__ import annotations

from typing import Any

MIB = 1024 * 1024


def _spread(value: dict[str, Any], fmt: str) -> str:
    return f"{value['median']:{fmt}} ({value['min']:{fmt}}-{value['max']:{fmt}})"


def _head(title: str, columns: list[str]) -> list[str]:
    """A section title and a Markdown table header (the first column left-aligned)."""
    return [title, "", "| " + " | ".join(columns) + " |", "|---|" + "---:|" * (len(columns) - 1)]


def table(report: dict[str, Any]) -> str:
    lines = [
        f"# job-importer benchmark — {report['machine']['summary']}",
        f"command: {report['command']}",
        "",
    ]
    parse = report.get("parse")
    if parse:
        lines += _head(
            f"## Parse stage: one feed, {parse['items']:,} items, {parse['feed_bytes'] / MIB:.1f} MiB; items per CPU-second (one core), median (min-max) of {report['config']['parse_runs']} runs",
            ["parser", "items/s per core"],
        )
        for name, result in parse["parsers"].items():
            lines.append(f"| {name} | {_spread(result['items_per_cpu_s'], ',.0f')} |")
        lines.append("")
    formats = report.get("formats")
    if formats:
        lines += _head(
            f"## Source formats: the same {formats['items']:,} listings in each format, read by its adapter; items per CPU-second (one core), median (min-max) of {report['config']['parse_runs']} runs",
            ["format", "MiB", "items/s per core"],
        )
        for name, result in formats["formats"].items():
            lines.append(
                f"| {name} | {result['feed_bytes'] / MIB:.1f} | {_spread(result['items_per_cpu_s'], ',.0f')} |"
            )
        lines.append("")
    e2e = report.get("e2e")
    if e2e:
        config = report["config"]
        lines += _head(
            f"## End to end: {config['feeds']} feeds x {config['items']:,} items, store: {e2e['store']}; median (min-max) of {config['runs']} runs",
            [
                "importers",
                "scenario",
                "items/s",
                "our CPU-s / 1k items (fetcher + importer)",
                "store CPU-s / 1k",
                "Redis CPU-s / 1k",
                "Redis cmds / item (server-side)",
                "store round trips / item",
            ],
        )
        for count, result in e2e["importers"].items():
            for name, s in result["scenarios"].items():
                lines.append(
                    f"| {count} | {name} | {_spread(s['items_per_s'], ',.0f')} "
                    f"| {_spread(s['our_cpu_s_per_1000_items'], '.3f')} ({s['fetcher_cpu_s_per_1000_items']['median']:.3f} + {s['importer_cpu_s_per_1000_items']['median']:.3f}) "
                    f"| {_spread(s['store_cpu_s_per_1000_items'], '.2f')} | {_spread(s['redis_cpu_s_per_1000_items'], '.3f')} "
                    f"| {_spread(s['redis_commands_per_item'], '.3f')} ({s['redis_server_commands_per_item']['median']:.3f}) | {_spread(s['store_round_trips_per_item'], '.4f')} |"
                )
        lines += [
            "",
            "Peak RSS (MiB) per process (each worker group: the dramatiq master, then its worker processes):",
            "",
        ]
        for count, result in e2e["importers"].items():
            memory = ", ".join(
                f"{name} " + "/".join(f"{size / MIB:.0f}" for size in sizes)
                for name, sizes in result["peak_rss_bytes"].items()
            )
            lines.append(f"- {count} importer(s): {memory}")
        first = next(iter(e2e["importers"].values()))
        lines += ["", "Per-run outcomes and command mix (first importer setting, last run):", ""]
        for name, s in first["scenarios"].items():
            lines.append(
                f"- {name}: {s['outcomes']}; Redis, server-side: {s['redis_server_commands_by_name']}; store: {s['store_commands_by_name']}"
            )
    return "\n".join(lines)
