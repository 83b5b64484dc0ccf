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
    for text, parse in report.get("parse", {}).items():
        lines += _head(
            f"## Parse stage, {text} text: one feed, {parse['items']:,} items, {parse['feed_bytes'] / MIB:.1f} MiB; items per CPU-second (one core), median (min-max) of {report['config']['parse_runs']} runs",
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
    for text, e2e in report.get("e2e", {}).items():
        lines += _e2e(report, text, e2e)
    for text, peer in report.get("peer", {}).items():
        lines += _peer(report, text, peer)
    load = report.get("load_average", {})
    if load:
        lines += ["", f"Load average (1/5/15 min) at start {load.get('start')}, at end {load.get('end')}"]
    return "\n".join(lines)


def _e2e(report: dict[str, Any], text: str, e2e: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if e2e:
        config = report["config"]
        lines += _head(
            f"## End to end, {text} text: {config['feeds']} feeds x {config['items']:,} items, store: {e2e['store']}; median (min-max) of {config['runs']} runs",
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
        lines.append("")
    return lines


_PEER_ROWS = (
    ("wall s", "wall_s", ".1f"),
    ("items/s", "items_per_s", ",.0f"),
    ("own CPU-s per 1k items", "own_cpu_s_per_1000_items", ".3f"),
    ("... producer vs fetcher + command", "producer_cpu_s_per_1000_items", ".3f"),
    ("... of which the triggering command", "trigger_cpu_s_per_1000_items", ".3f"),
    ("... worker vs importer", "worker_cpu_s_per_1000_items", ".3f"),
    ("store CPU-s per 1k items", "store_cpu_s_per_1000_items", ".3f"),
    ("store round trips per item", "store_round_trips_per_item", ".4f"),
    ("Redis CPU-s per 1k items", "redis_cpu_s_per_1000_items", ".3f"),
    ("Redis commands per item (server-side)", "redis_commands_per_item", ".3f"),
)


def _peer(report: dict[str, Any], text: str, peer: dict[str, Any]) -> list[str]:
    """The seed design against this project: one row per figure and scenario, with the ratio."""
    config = report["config"]
    sides = peer["sides"]
    lines = _head(
        f"## Against the seed design, {text} text: {config['feeds']} feeds x {config['items']:,} items, store: {peer['store']}; "
        f"medians of {config['runs']} interleaved runs (seed with its limiter on: {config['limited_runs']} run(s))",
        [
            "scenario: figure",
            "seed, limiter on",
            "seed, limiter off",
            "this project",
            "ratio (ours / seed off)",
        ],
    )
    for scenario, ours in sides["ours"].items():
        seed = sides["seed, limiter off"][scenario]
        limited = sides.get("seed, limiter on", {}).get(scenario)
        for label, key, fmt in _PEER_ROWS:
            on = f"{limited[key]['median']:{fmt}}" if limited else "-"
            base = seed[key]["median"]
            ratio = f"{ours[key]['median'] / base:.2f}" if base else "-"
            lines.append(
                f"| {scenario}: {label} | {on} | {base:{fmt}} | {_spread(ours[key], fmt)} | {ratio} |"
            )
    lines.append("")
    return lines
