"""Writes the settings and feed parts of the chart's values.schema.json from job_importer/settings.py.

The chart renders `config` (and each component's `config`) into environment variables. The schema
lets through exactly the settings the application reads, with pydantic's own types and bounds, so
a typo or a bad value fails at `helm install` instead of at pod start. Run it after changing
settings.py (`.venv/bin/python scripts/chart_schema.py`); tests/deploy fails while it is stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from job_importer.settings import FeedSpec, Settings

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "charts" / "job-importer" / "values.schema.json"

# Set by the chart itself: connection URLs and the API token come from the Secret; the listen
# address, ports, metrics switch and feeds file follow other values.
CHART_OWNED = frozenset(
    {
        "REDIS_URL",
        "MONGODB_URL",
        "API_TOKEN",
        "API_HOST",
        "API_PORT",
        "FETCHER_METRICS_PORT",
        "IMPORTER_METRICS_PORT",
        "METRICS_ENABLED",
        "WORKER_METRICS_HOST",
        "FEEDS_FILE",
    }
)
# Read by the chart as well (KEDA's Redis keys, the CronJob's schedule, the pods' grace period):
# settable globally only, so every component and the chart agree on them.
CHART_READ = ("QUEUE_NAMESPACE", "FETCH_QUEUE", "IMPORT_QUEUE", "SCHEDULE_CRON", "WORKER_SHUTDOWN_TIMEOUT_MS")


def _property(schema: dict[str, Any]) -> dict[str, Any]:
    """One setting's schema as the chart takes it: no title/default, no null, lists also as "a,b"."""
    options = [option for option in schema.get("anyOf", [schema]) if option.get("type") != "null"]
    [option] = options
    prop = {key: value for key, value in option.items() if key not in ("title", "default", "format")}
    if prop.get("type") == "array":
        prop = {"anyOf": [prop, {"type": "string"}]}
    return prop


def settings_properties() -> dict[str, dict[str, Any]]:
    """Every setting a values file may give, by environment variable name."""
    fields = Settings.model_json_schema()["properties"]
    properties = {}
    for name, schema in fields.items():
        env = name.upper()
        if env in CHART_OWNED or schema.get("writeOnly"):  # secrets (SecretStr) come from the Secret
            continue
        properties[env] = _property(schema)
    return dict(sorted(properties.items()))


def feed_definition() -> dict[str, Any]:
    """One entry of ``feeds:``, from FeedSpec: what feeds.toml (FEEDS_FILE) takes."""
    schema = FeedSpec.model_json_schema()
    properties = {name: _property(prop) for name, prop in schema["properties"].items()}
    properties["url"] = {"type": "string", "pattern": "^https?://"}
    return {
        "description": "One feed (docs/formats.md, docs/api.md#listing-lifecycle), rendered into feeds.toml.",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": ["url"],
    }


def definitions() -> dict[str, Any]:
    properties = settings_properties()
    component = {name: prop for name, prop in properties.items() if name not in CHART_READ}
    return {
        "feed": feed_definition(),
        "settings": {
            "description": "Application settings (job_importer/settings.py, upper-cased) as environment variables.",
            "type": "object",
            "additionalProperties": False,
            "properties": properties,
        },
        "componentSettings": {
            "description": "Settings for one component; the ones the chart reads itself are global only.",
            "type": "object",
            "additionalProperties": False,
            "properties": component,
        },
    }


def main() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    schema["definitions"].update(definitions())
    schema["properties"]["feeds"]["items"] = {"$ref": "#/definitions/feed"}
    SCHEMA_PATH.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")


if __name__ == "__main__":
    main()
