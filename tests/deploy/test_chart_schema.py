"""values.schema.json refuses bad values before anything reaches a cluster, and stays in step with settings.py."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from job_importer.settings import Settings
from tests.deploy.chart import (
    CHART,
    FULLNAME,
    NAMESPACE,
    RELEASE,
    default_values,
    helm,
    render_error,
    values_schema,
)

ROOT = CHART.parents[1]


def chart_schema_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chart_schema", ROOT / "scripts" / "chart_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("assignment", "complaint"),
    [
        ("config.WORKER_CONCURRENCY=0", "config.WORKER_CONCURRENCY: Must be greater than or equal to 1"),
        ("config.WORKR_CONCURRENCY=4", "Additional property WORKR_CONCURRENCY is not allowed"),
        ("config.REDIS_URL=redis://elsewhere:6379", "Additional property REDIS_URL is not allowed"),
        ("config.FETCH_MAX_REDIRECTS=many", "config.FETCH_MAX_REDIRECTS: Invalid type"),
        ("importer.config.IMPORT_QUEUE=other", "Additional property IMPORT_QUEUE is not allowed"),
        ("keda.minReplicaCount=-1", "keda.minReplicaCount: Must be greater than or equal to 0"),
        ("keda.messagesPerReplica=0", "keda.messagesPerReplica: Must be greater than or equal to 1"),
        ("keda.redis.address=redis://host:6379", "keda.redis.address: Does not match pattern"),
        ("image.pullPolicy=Sometimes", "image.pullPolicy must be one of the following"),
        ("image.fetcher.digest=latest", "image.fetcher.digest: Does not match pattern"),
        ("secrets.redisUrl=http://redis:6379", "secrets.redisUrl: Does not match pattern"),
        ("api.port=70000", "api.port: Must be less than or equal to 65535"),
        ("prometheusRule.feedFailingFor=2 hours", "prometheusRule.feedFailingFor: Does not match pattern"),
        ("feeds[0].url=ftp://feeds.example/jobs", "feeds.0.url: Does not match pattern"),
        ("redis.persistence.size=lots", "redis.persistence.size: Does not match pattern"),
        ("replicaCount=3", "Additional property replicaCount is not allowed"),
    ],
)
def test_schema_rejects_bad_values(assignment: str, complaint: str) -> None:
    error = render_error(assignment)
    assert "values don't meet the specifications of the schema" in error
    assert complaint in error, error


@pytest.mark.parametrize(
    ("assignments", "complaint"),
    [
        (
            ("keda.minReplicaCount=5", "keda.maxReplicaCount=2"),
            "keda.maxReplicaCount (2) must be at least keda.minReplicaCount (5)",
        ),
        (
            ("secrets.existingSecret=conn",),
            "keda.redis.address (host:port) is required with secrets.existingSecret",
        ),
        (("redis.enabled=false",), "Redis: set secrets.redisUrl, or secrets.existingSecret"),
        (("mongodb.enabled=false",), "MongoDB: set secrets.mongodbUrl, or secrets.existingSecret"),
        (
            ("secrets.keys.redisPassword=",),
            "secrets.keys.redisPassword names the in-chart Redis's password key",
        ),
    ],
)
def test_templates_reject_inconsistent_values(assignments: tuple[str, ...], complaint: str) -> None:
    assert complaint in render_error(*assignments)


def test_schema_settings_are_generated_from_settings_py() -> None:
    """Rerun scripts/chart_schema.py after changing job_importer/settings.py when this fails."""
    generated = chart_schema_script().definitions()
    definitions = values_schema()["definitions"]
    assert definitions["settings"] == generated["settings"]
    assert definitions["componentSettings"] == generated["componentSettings"]


def test_every_setting_is_settable_or_set_by_the_chart() -> None:
    script = chart_schema_script()
    settable = set(values_schema()["definitions"]["settings"]["properties"])
    for name, field in Settings.model_fields.items():
        env = name.upper()
        secret = "SecretStr" in repr(field.annotation)
        assert env in settable or env in script.CHART_OWNED or secret, (
            f"{env} cannot be set through the chart"
        )


def test_values_yaml_keeps_the_application_defaults() -> None:
    """The settings values.yaml spells out (because the chart reads them) equal settings.py's defaults."""
    defaults = Settings.model_construct()
    config = default_values()["config"]
    assert set(config) == set(chart_schema_script().CHART_READ)
    for env, value in config.items():
        assert value == getattr(defaults, env.lower()), env
    values = default_values()
    assert values["fetcher"]["metricsPort"] == defaults.fetcher_metrics_port
    assert values["importer"]["metricsPort"] == defaults.importer_metrics_port
    assert values["metrics"]["enabled"] == defaults.metrics_enabled


def notes_of(tmp_path: Path, *sets: str) -> str:
    """NOTES.txt, rendered through a copy of the chart (helm template skips NOTES)."""
    copy = tmp_path / f"chart-{len(list(tmp_path.iterdir()))}"
    shutil.copytree(CHART, copy)
    (copy / "templates" / "notes-preview.yaml").write_text(
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include "job-importer/templates/NOTES.txt" . | quote }}\n',
        encoding="utf-8",
    )
    result = helm(
        "template",
        RELEASE,
        str(copy),
        "--namespace",
        NAMESPACE,
        "--show-only",
        "templates/notes-preview.yaml",
        *(arg for assignment in sets for arg in ("--set", assignment)),
    )
    assert result.returncode == 0, result.stderr
    return str(yaml.safe_load(result.stdout)["data"]["notes"])


def test_notes_tell_how_to_reach_and_drive_the_release(tmp_path: Path) -> None:
    notes = notes_of(tmp_path)
    assert f"port-forward svc/{FULLNAME}-api 8000:8000" in notes
    assert f"exec deploy/{FULLNAME}-fetcher -- job-importer import" in notes
    assert "scaled by KEDA on dramatiq:import" in notes
    assert "{{" not in notes and "<no value>" not in notes
    assert (
        "then http://127.0.0.1:8000/ui/" in notes
        and "No API token is set, so the UI (and the API) can only read" in notes
    )
    assert f"helm test {RELEASE} --namespace {NAMESPACE}" in notes
    with_token = notes_of(tmp_path, "secrets.apiToken=s3cret")
    assert (
        f"kubectl --namespace {NAMESPACE} get secret {FULLNAME} -o jsonpath='{{.data.api-token}}' | base64 -d"
        in with_token
    )
    assert "s3cret" not in with_token and "can only read" not in with_token
