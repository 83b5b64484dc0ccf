"""skaffold.yaml against the chart and the Dockerfiles (no skaffold binary is available here).

What skaffold would do is replayed: its image templates filled in as skaffold fills them, its dev
profile's JSON patches applied, and the chart rendered by the real helm with the result.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml

from tests.deploy.chart import ROOT, default_values, find, kinds, pod_spec, render, values_schema, workloads

SKAFFOLD = ROOT / "skaffold.yaml"


def config() -> dict[str, Any]:
    return dict(yaml.safe_load(SKAFFOLD.read_text(encoding="utf-8")))


def sanitized(image: str) -> str:
    """Skaffold's template key for an image name: "-" and "/" become "_"."""
    return re.sub(r"[-/]", "_", image)


def is_value(dotted: str) -> bool:
    """A key of values.yaml, or a setting under `config` (values.schema.json lists those)."""
    section, _, setting = dotted.partition(".")
    if section == "config" and setting in values_schema()["definitions"]["settings"]["properties"]:
        return True
    node: Any = default_values()
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def apply_patches(document: dict[str, Any], patches: list[dict[str, Any]]) -> dict[str, Any]:
    """RFC 6902 add/remove/replace, as skaffold applies a profile's patches."""
    result = copy.deepcopy(document)
    for patch in patches:
        *parents, last = [
            part.replace("~1", "/").replace("~0", "~") for part in patch["path"].lstrip("/").split("/")
        ]
        node: Any = result
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if patch["op"] == "remove":
            assert last in node, f"patch removes missing {patch['path']}"
            del node[last]
        elif patch["op"] in ("add", "replace"):
            node[last] = patch["value"]
        else:
            raise AssertionError(f"unsupported patch op {patch['op']}")
    return result


def fill(templates: dict[str, str], images: dict[str, dict[str, str]]) -> tuple[str, ...]:
    """--set arguments from setValueTemplates, with IMAGE_REPO/TAG/DIGEST_<image> filled in."""
    values = {}
    for image, parts in images.items():
        for part, value in parts.items():
            values[f"IMAGE_{part}_{sanitized(image)}"] = value
    sets = []
    for key, template in templates.items():
        text = re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda match: values[match.group(1)], template)
        sets.append(f"{key}={text}")
    return tuple(sets)


def release() -> dict[str, Any]:
    [only] = config()["deploy"]["helm"]["releases"]
    return dict(only)


def test_artifacts_are_the_charts_images_built_from_the_dockerfiles() -> None:
    artifacts = config()["build"]["artifacts"]
    images = default_values()["image"]
    assert {artifact["image"] for artifact in artifacts} == {
        images["fetcher"]["repository"],
        images["importer"]["repository"],
    }
    for artifact in artifacts:
        assert (ROOT / artifact["context"]).resolve() == ROOT
        dockerfile = ROOT / artifact["context"] / artifact["docker"]["dockerfile"]
        assert dockerfile.is_file(), dockerfile
        assert artifact["image"].endswith(dockerfile.parent.name)  # job-importer-fetcher <- services/fetcher


def test_importer_image_is_built_on_the_fetcher_image_of_the_same_build() -> None:
    """services/importer/Dockerfile is FROM ${FETCHER_IMAGE}: skaffold must pass that build arg."""
    artifacts = {artifact["image"]: artifact for artifact in config()["build"]["artifacts"]}
    [required] = artifacts["job-importer-importer"]["requires"]
    assert required["image"] in artifacts and required["image"] == "job-importer-fetcher"
    dockerfile = (ROOT / artifacts["job-importer-importer"]["docker"]["dockerfile"]).read_text(
        encoding="utf-8"
    )
    assert f"FROM ${{{required['alias']}}}" in dockerfile


def test_release_deploys_this_chart_into_the_k8s_namespace() -> None:
    spec = release()
    assert (ROOT / spec["chartPath"] / "Chart.yaml").is_file()
    assert (
        yaml.safe_load((ROOT / spec["chartPath"] / "Chart.yaml").read_text(encoding="utf-8"))["name"]
        == "job-importer"
    )
    raw = config()["manifests"]["rawYaml"]
    namespaces = [
        doc["metadata"]["name"]
        for path in raw
        for doc in yaml.safe_load_all((ROOT / path).read_text(encoding="utf-8"))
    ]
    assert namespaces == [spec["namespace"]]


def test_value_templates_name_real_values_and_real_artifacts() -> None:
    spec = release()
    artifacts = {sanitized(artifact["image"]) for artifact in config()["build"]["artifacts"]}
    for key, template in spec["setValueTemplates"].items():
        assert is_value(key), f"{key} is not a value of the chart"
        for variable in re.findall(r"\{\{\s*\.(\w+)\s*\}\}", template):
            match = re.fullmatch(r"IMAGE_(REPO|TAG|DIGEST)_(\w+)", variable)
            assert match and match.group(2) in artifacts, variable


DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("profile", [None, "dev"])
def test_skaffold_deploy_renders_the_built_images(profile: str | None) -> None:
    document = config()
    if profile:
        [chosen] = [p for p in document["profiles"] if p["name"] == profile]
        document = apply_patches(document, chosen["patches"])
    [spec] = document["deploy"]["helm"]["releases"]
    built = {
        artifact["image"]: {
            "REPO": f"registry.example/{artifact['image']}",
            "TAG": "abc1234",
            "DIGEST": DIGEST,
        }
        for artifact in document["build"]["artifacts"]
    }
    sets = fill(spec["setValueTemplates"], built)
    for key, value in spec.get("setValues", {}).items():
        assert is_value(key), f"{profile}: {key} is not a value of the chart"
        sets += (f"{key}={str(value).lower() if isinstance(value, bool) else value}",)
    docs = render(sets=sets, release=spec["name"], namespace=spec["namespace"])
    for doc in workloads(docs):
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        if component in ("redis", "mongodb"):
            continue
        image = "job-importer-importer" if component == "importer" else "job-importer-fetcher"
        expected = (
            f"registry.example/{image}@{DIGEST}" if profile is None else f"registry.example/{image}:abc1234"
        )
        assert pod_spec(doc)["containers"][0]["image"] == expected
    scaled = ("ScaledObject", "job-importer-importer") in kinds(docs)
    assert scaled == (profile is None)  # the dev cluster has no KEDA
    for forward in document["portForward"]:
        service = find(docs, "Service", forward["resourceName"])
        assert forward["namespace"] == spec["namespace"]
        assert forward["port"] in {port["port"] for port in service["spec"]["ports"]}
