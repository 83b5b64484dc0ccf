"""Every rendered manifest against real schemas, in strict mode (unknown fields are errors).

Built-in kinds: kubernetes-validate (the Kubernetes OpenAPI schemas), for the oldest Kubernetes the
chart supports and the newest the package knows. KEDA and prometheus-operator objects: the cloudcoil
models, generated from those projects' CRD schemas (types, required fields, enums, patterns); the
models ignore unknown fields, so a round trip through them must give back the input unchanged.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import kubernetes_validate
import pydantic
import pytest
import yaml
from cloudcoil.models.keda.v1alpha1 import ScaledObject, TriggerAuthentication
from cloudcoil.models.prometheus_operator.v1 import PrometheusRule, ServiceMonitor
from kubernetes_validate.utils import latest_version

from tests.deploy.chart import FULLNAME, MATRIX, ROOT, find, render

KUBERNETES_VERSIONS = ("1.27", latest_version())  # Chart.yaml: kubeVersion >=1.27
CUSTOM_KINDS: dict[tuple[str, str], type[pydantic.BaseModel]] = {
    ("keda.sh/v1alpha1", "ScaledObject"): ScaledObject,
    ("keda.sh/v1alpha1", "TriggerAuthentication"): TriggerAuthentication,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): ServiceMonitor,
    ("monitoring.coreos.com/v1", "PrometheusRule"): PrometheusRule,
}


def unknown_fields(given: Any, kept: Any, path: str = "") -> list[str]:
    """Paths present in ``given`` that the model dropped or changed."""
    if isinstance(given, dict) and isinstance(kept, dict):
        problems = []
        for key, value in given.items():
            if key not in kept:
                problems.append(f"{path}.{key}")
            else:
                problems += unknown_fields(value, kept[key], f"{path}.{key}")
        return problems
    if isinstance(given, list) and isinstance(kept, list) and len(given) == len(kept):
        return [
            problem
            for i, (a, b) in enumerate(zip(given, kept, strict=True))
            for problem in unknown_fields(a, b, f"{path}[{i}]")
        ]
    return [] if given == kept else [f"{path} (became {kept!r})"]


def validate(doc: dict[str, Any]) -> list[str]:
    """Errors of one manifest; empty when valid."""
    return list(_validate(json.dumps(doc, sort_keys=True)))


@cache
def _validate(text: str) -> tuple[str, ...]:
    """Each distinct manifest once: most objects render the same for every values file."""
    doc = json.loads(text)
    name = f"{doc['kind']}/{doc['metadata']['name']}"
    model = CUSTOM_KINDS.get((doc["apiVersion"], doc["kind"]))
    if model is not None:
        try:
            parsed = model.model_validate(doc)
        except pydantic.ValidationError as exc:
            return (f"{name}: {exc}",)
        dropped = unknown_fields(doc, parsed.model_dump(by_alias=True, exclude_unset=True))
        return tuple(f"{name}: unknown field {path}" for path in dropped)
    errors = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{name} (Kubernetes {version}): {exc.message} at {list(exc.path)}")
    return tuple(errors)


@pytest.mark.parametrize("case", MATRIX)
def test_rendered_manifests_are_valid(case: str) -> None:
    sets = ("serviceMonitor.enabled=true", "prometheusRule.enabled=true")
    docs = render(MATRIX[case], sets)
    errors = [error for doc in docs for error in validate(doc)]
    assert not errors, "\n".join(errors)
    validated = {doc["kind"] for doc in docs}
    assert {"ServiceMonitor", "PrometheusRule", "Deployment", "CronJob"} <= validated
    if case != "keda-off":
        assert {"ScaledObject", "TriggerAuthentication"} <= validated


def test_plain_manifests_in_k8s_are_valid() -> None:
    files = sorted((ROOT / "k8s").rglob("*.yaml"))
    assert files
    for path in files:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert not validate(doc), validate(doc)


@pytest.mark.parametrize(
    ("kind", "name", "edit", "complaint"),
    [
        (
            "Deployment",
            f"{FULLNAME}-importer",
            lambda d: d["spec"]["template"]["spec"].update(gracePeriod=5),
            "gracePeriod",
        ),
        (
            "CronJob",
            f"{FULLNAME}-scheduler",
            lambda d: d["spec"].update(startingDeadlineSeconds="ten"),
            "ten",
        ),
        (
            "ScaledObject",
            f"{FULLNAME}-importer",
            lambda d: d["spec"].update(minReplicas=1),
            "unknown field .spec.minReplicas",
        ),
        (
            "ScaledObject",
            f"{FULLNAME}-importer",
            lambda d: d["spec"].update(minReplicaCount="one"),
            "minReplicaCount",
        ),
        (
            "ScaledObject",
            f"{FULLNAME}-importer",
            lambda d: d["spec"]["scaleTargetRef"].pop("name"),
            "scaleTargetRef.name",
        ),
        (
            "TriggerAuthentication",
            f"{FULLNAME}-redis",
            lambda d: d["spec"]["secretTargetRef"][0].pop("key"),
            "key",
        ),
        ("ServiceMonitor", FULLNAME, lambda d: d["spec"]["endpoints"][0].update(scheme="ftp"), "scheme"),
        (
            "PrometheusRule",
            FULLNAME,
            lambda d: d["spec"]["groups"][0]["rules"][0].update({"for": "2 hours"}),
            "for",
        ),
    ],
)
def test_validation_catches_broken_manifests(kind: str, name: str, edit: Any, complaint: str) -> None:
    """The validators are not no-ops: one wrong field in a rendered object is reported."""
    docs = render(MATRIX["full"], ("serviceMonitor.enabled=true", "prometheusRule.enabled=true"))
    broken = copy.deepcopy(find(docs, kind, name))
    edit(broken)
    errors = validate(broken)
    assert errors and complaint in "\n".join(errors), errors


def test_k8s_holds_only_what_the_chart_does_not_render() -> None:
    """One source of truth: no kind/name in k8s/ is also rendered by the chart."""
    rendered = {(doc["kind"], doc["metadata"]["name"]) for case in MATRIX for doc in render(MATRIX[case])}
    for path in (ROOT / "k8s").rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            assert doc["kind"] in {"Namespace"} or (doc["kind"], doc["metadata"]["name"]) not in rendered, (
                path
            )
