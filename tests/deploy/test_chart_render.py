"""The chart rendered by the real helm over the values matrix, asserted on as parsed YAML."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from job_importer.settings import Settings
from tests.deploy.chart import (
    CHART,
    FULLNAME,
    MATRIX,
    NAMESPACE,
    assert_cli_accepts,
    find,
    helm,
    kinds,
    pod_spec,
    pod_template,
    render,
    workloads,
)

APP_COMPONENTS = ("api", "fetcher", "importer", "scheduler")
STANDARD_LABELS = (
    "helm.sh/chart",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
)


def component(doc: dict[str, Any]) -> str:
    return str(doc["metadata"]["labels"]["app.kubernetes.io/component"])


def config_map(docs: list[dict[str, Any]]) -> dict[str, str]:
    return dict(find(docs, "ConfigMap", f"{FULLNAME}-config")["data"])


def container(doc: dict[str, Any]) -> dict[str, Any]:
    [only] = pod_spec(doc)["containers"]
    return dict(only)


def env_of(doc: dict[str, Any], docs: list[dict[str, Any]]) -> dict[str, Any]:
    """What the container's environment holds: ConfigMap values, then its own env entries."""
    env: dict[str, Any] = {}
    for source in container(doc).get("envFrom", []):
        if "configMapRef" in source:  # a Secret of the user's (extraEnvFrom) is not rendered here
            env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
    for entry in container(doc).get("env", []):
        env[entry["name"]] = entry.get("value", entry.get("valueFrom"))
    return env


def secret_data(docs: list[dict[str, Any]]) -> dict[str, str]:
    secret = find(docs, "Secret", FULLNAME)
    return {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}


@pytest.mark.parametrize("case", MATRIX)
def test_helm_lint_strict_passes(case: str) -> None:
    args = ["lint", "--strict", str(CHART), "--namespace", NAMESPACE]
    for name in MATRIX[case]:
        args += ["--values", str(CHART / "ci" / name)]
    result = helm(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_defaults_render_the_whole_system_with_in_chart_databases_and_keda() -> None:
    docs = render()
    expected = {
        ("Deployment", f"{FULLNAME}-api"),
        ("Deployment", f"{FULLNAME}-fetcher"),
        ("Deployment", f"{FULLNAME}-importer"),
        ("CronJob", f"{FULLNAME}-scheduler"),
        ("StatefulSet", f"{FULLNAME}-redis"),
        ("StatefulSet", f"{FULLNAME}-mongodb"),
        ("ScaledObject", f"{FULLNAME}-importer"),
        ("TriggerAuthentication", f"{FULLNAME}-redis"),
        ("Secret", FULLNAME),
        ("ConfigMap", f"{FULLNAME}-config"),
        ("ConfigMap", f"{FULLNAME}-dashboard"),
        ("ServiceAccount", FULLNAME),
    }
    assert expected <= kinds(docs)
    assert not {kind for kind, _ in kinds(docs)} & {"ServiceMonitor", "PrometheusRule"}
    # KEDA owns the importer's replica count; a rendered count would fight the HPA on every upgrade.
    assert "replicas" not in find(docs, "Deployment", f"{FULLNAME}-importer")["spec"]


@pytest.mark.parametrize("case", MATRIX)
def test_every_object_has_the_standard_labels_and_selectors_match_pods(case: str) -> None:
    docs = render(MATRIX[case])
    for doc in docs:
        labels = doc["metadata"].get("labels", {})
        missing = [label for label in STANDARD_LABELS if label not in labels]
        assert not missing, f"{doc['kind']}/{doc['metadata']['name']} lacks {missing}"
    pods = {component(doc): pod_template(doc)["metadata"]["labels"] for doc in workloads(docs)}
    for doc in workloads(docs):
        if doc["kind"] != "CronJob":
            selector = doc["spec"]["selector"]["matchLabels"]
            assert selector.items() <= pod_template(doc)["metadata"]["labels"].items()
    selectors = [doc["spec"]["selector"] for doc in docs if doc["kind"] == "Service"]
    selectors += [doc["spec"]["podSelector"]["matchLabels"] for doc in docs if doc["kind"] == "NetworkPolicy"]
    selectors += [
        doc["spec"]["selector"]["matchLabels"] for doc in docs if doc["kind"] == "PodDisruptionBudget"
    ]
    for selector in selectors:
        matched = [name for name, labels in pods.items() if selector.items() <= labels.items()]
        assert len(matched) == 1, f"selector {selector} matches {matched}"


def test_scaled_object_scales_the_importer_on_dramatiqs_message_hashes() -> None:
    docs = render()
    scaled = find(docs, "ScaledObject", f"{FULLNAME}-importer")
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    assert component(find(docs, "Deployment", target["name"])) == "importer"
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 10)
    assert (spec["pollingInterval"], spec["cooldownPeriod"]) == (15, 300)
    scale_down = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    assert scale_down["stabilizationWindowSeconds"] == 300
    triggers = {trigger["name"]: trigger for trigger in spec["triggers"]}
    assert {name: t["metadata"]["listName"] for name, t in triggers.items()} == {
        "queued": "dramatiq:import.msgs",
        "delayed": "dramatiq:import.DQ.msgs",
    }
    modifiers = spec["advanced"]["scalingModifiers"]
    assert modifiers["formula"] == "queued + delayed"
    assert (modifiers["target"], modifiers["metricType"]) == ("20", "AverageValue")
    redis_service = find(docs, "Service", f"{FULLNAME}-redis")
    for trigger in triggers.values():
        assert trigger["type"] == "redis"
        # KEDA's operator lives in another namespace: the in-chart Service by its full DNS name.
        assert trigger["metadata"]["address"] == f"{FULLNAME}-redis.{NAMESPACE}.svc.cluster.local:6379"
        assert redis_service["spec"]["ports"][0]["port"] == 6379
        assert (trigger["metadata"]["databaseIndex"], trigger["metadata"]["enableTLS"]) == ("0", "false")
        auth = find(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    [secret_ref] = auth["spec"]["secretTargetRef"]
    assert secret_ref["parameter"] == "password"
    assert secret_ref["name"] == FULLNAME
    data = secret_data(docs)
    assert data[secret_ref["key"]] and data["redis-url"].startswith(f"redis://:{data[secret_ref['key']]}@")


def test_scaled_object_follows_the_configured_queue_names_and_values() -> None:
    docs = render(MATRIX["full"])
    spec = find(docs, "ScaledObject", f"{FULLNAME}-importer")["spec"]
    assert {t["metadata"]["listName"] for t in spec["triggers"]} == {
        "jobs:chunks.msgs",
        "jobs:chunks.DQ.msgs",
    }
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (0, 30)
    assert spec["advanced"]["scalingModifiers"]["target"] == "40"
    assert config_map(docs)["QUEUE_NAMESPACE"] == "jobs" and config_map(docs)["IMPORT_QUEUE"] == "chunks"


def test_keda_reads_an_external_redis_from_its_url() -> None:
    docs = render(MATRIX["external"])
    [trigger, *_] = find(docs, "ScaledObject", f"{FULLNAME}-importer")["spec"]["triggers"]
    assert trigger["metadata"]["address"] == "redis.example.internal:6380"
    assert (trigger["metadata"]["databaseIndex"], trigger["metadata"]["enableTLS"]) == ("2", "true")
    assert secret_data(docs)["redis-password"] == "s3cret-pass"
    assert not {kind for kind, _ in kinds(docs)} & {"StatefulSet"}
    assert secret_data(docs)["api-token"] == "an-api-token"


def test_existing_secret_is_used_everywhere_and_nothing_is_generated() -> None:
    docs = render(MATRIX["existing-secret"])
    assert ("Secret", FULLNAME) not in kinds(docs)
    assert not [doc for doc in docs if doc["kind"] == "StatefulSet"]
    for doc in workloads(docs):
        env = env_of(doc, docs)
        assert env["REDIS_URL"]["secretKeyRef"] == {"name": "job-importer-connections", "key": "REDIS_URL"}
        assert env["MONGODB_URL"]["secretKeyRef"] == {
            "name": "job-importer-connections",
            "key": "MONGODB_URL",
        }
        assert "API_TOKEN" not in env  # keys.apiToken is empty
    [trigger, *_] = find(docs, "ScaledObject", f"{FULLNAME}-importer")["spec"]["triggers"]
    assert trigger["metadata"]["address"] == "redis-master.data.svc.cluster.local:6379"
    assert trigger["metadata"]["databaseIndex"] == "1"
    auth = find(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    assert auth["spec"]["secretTargetRef"][0] == {
        "parameter": "password",
        "name": "job-importer-connections",
        "key": "REDIS_PASSWORD",
    }


def test_keda_off_means_a_plain_replica_count() -> None:
    docs = render(MATRIX["keda-off"])
    assert not {kind for kind, _ in kinds(docs)} & {"ScaledObject", "TriggerAuthentication"}
    assert find(docs, "Deployment", f"{FULLNAME}-importer")["spec"]["replicas"] == 3


@pytest.mark.parametrize("case", MATRIX)
def test_worker_grace_period_covers_the_worker_shutdown_timeout(case: str) -> None:
    docs = render(MATRIX[case])
    for name in ("fetcher", "importer"):
        doc = find(docs, "Deployment", f"{FULLNAME}-{name}")
        timeout_ms = int(env_of(doc, docs)["WORKER_SHUTDOWN_TIMEOUT_MS"])
        grace_s = pod_spec(doc)["terminationGracePeriodSeconds"]
        assert grace_s * 1000 >= timeout_ms + 10_000, (name, grace_s, timeout_ms)
    if case == "full":  # 120.5 s rounds up, plus the 15 s margin
        assert (
            pod_spec(find(docs, "Deployment", f"{FULLNAME}-importer"))["terminationGracePeriodSeconds"] == 136
        )


def checksums(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        doc["metadata"]["name"]: {
            key: value
            for key, value in pod_template(doc)["metadata"]["annotations"].items()
            if key.startswith("checksum/")
        }
        for doc in workloads(docs)
    }


def test_checksum_annotations_roll_pods_on_config_and_secret_changes_only() -> None:
    base = checksums(render())
    assert all(set(sums) == {"checksum/config", "checksum/secret"} for sums in base.values()), base
    config_changed = checksums(render(sets=("config.WORKER_BATCH_SIZE=7",)))
    secret_changed = checksums(render(sets=("secrets.apiToken=new-token",)))
    unrelated = checksums(render(sets=("api.replicas=5",)))
    for name, sums in base.items():
        assert config_changed[name]["checksum/config"] != sums["checksum/config"], name
        assert config_changed[name]["checksum/secret"] == sums["checksum/secret"], name
        assert secret_changed[name]["checksum/secret"] != sums["checksum/secret"], name
        assert unrelated[name] == sums, name


@pytest.mark.parametrize("case", MATRIX)
def test_every_pod_is_locked_down(case: str) -> None:
    """Non-root, read-only root filesystem, no privilege escalation, no capabilities, limits set."""
    for doc in workloads(render(MATRIX[case])):
        spec = pod_spec(doc)
        name = doc["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for box in spec["containers"]:
            context = box["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert box["resources"]["requests"]["cpu"] and box["resources"]["requests"]["memory"], name
            assert box["resources"]["limits"]["memory"], name


@pytest.mark.parametrize("case", MATRIX)
def test_tmp_is_a_writable_empty_dir_for_every_app_pod(case: str) -> None:
    """The root filesystem is read-only; the workers' Prometheus multiprocess files go under /tmp."""
    docs = render(MATRIX[case])
    for doc in workloads(docs):
        if component(doc) not in APP_COMPONENTS:
            continue
        empty_dirs = {volume["name"] for volume in pod_spec(doc)["volumes"] if "emptyDir" in volume}
        mounts = {mount["mountPath"]: mount["name"] for mount in container(doc)["volumeMounts"]}
        assert mounts["/tmp"] in empty_dirs
        # A fixed multiprocess directory would outlive a container restart inside the emptyDir.
        assert not {"dramatiq_prom_db", "PROMETHEUS_MULTIPROC_DIR"} & set(env_of(doc, docs))


def test_probes_hit_the_api_health_endpoints_and_the_worker_metrics_ports() -> None:
    docs = render()
    api = container(find(docs, "Deployment", f"{FULLNAME}-api"))
    ports = {port["name"]: port["containerPort"] for port in api["ports"]}
    assert ports == {"http": int(config_map(docs)["API_PORT"])}
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert api["startupProbe"]["httpGet"]["path"] == "/healthz"
    for name, setting in (("fetcher", "FETCHER_METRICS_PORT"), ("importer", "IMPORTER_METRICS_PORT")):
        box = container(find(docs, "Deployment", f"{FULLNAME}-{name}"))
        assert {port["name"]: port["containerPort"] for port in box["ports"]} == {
            "metrics": int(config_map(docs)[setting])
        }
        assert box["livenessProbe"]["tcpSocket"] == {"port": "metrics"}
        assert box["startupProbe"]["tcpSocket"] == {"port": "metrics"}
        service = find(docs, "Service", f"{FULLNAME}-{name}")
        assert service["spec"]["ports"][0]["targetPort"] == "metrics"


def test_metrics_off_drops_worker_ports_probes_and_scrape_targets() -> None:
    docs = render(sets=("metrics.enabled=false", "serviceMonitor.enabled=true"))
    assert config_map(docs)["METRICS_ENABLED"] == "false"
    for name in ("fetcher", "importer"):
        box = container(find(docs, "Deployment", f"{FULLNAME}-{name}"))
        assert "ports" not in box and "livenessProbe" not in box
        assert ("Service", f"{FULLNAME}-{name}") not in kinds(docs)
    assert "ServiceMonitor" not in {kind for kind, _ in kinds(docs)}


def extra_env_names(case: str) -> set[str]:
    names: set[str] = set()
    for name in MATRIX[case]:
        values = yaml.safe_load((CHART / "ci" / name).read_text(encoding="utf-8"))
        names |= {entry["name"] for entry in values.get("extraEnv", [])}
    return names


@pytest.mark.parametrize("case", MATRIX)
def test_rendered_settings_are_read_by_the_application(case: str, tmp_path: Path) -> None:
    """Every environment variable the chart sets is a setting, and Settings parses its value."""
    docs = render(MATRIX[case])
    fields = {name.upper() for name in Settings.model_fields}
    feeds = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "ConfigMap"}.get(
        f"{FULLNAME}-feeds"
    )
    for doc in workloads(docs):
        if component(doc) not in APP_COMPONENTS:
            continue
        env = env_of(doc, docs)
        unknown = set(env) - fields - extra_env_names(case)  # extraEnv is for variables of others
        assert not unknown, f"{doc['metadata']['name']} sets {unknown}, which no setting reads"
        from_secret = {name for name, value in env.items() if isinstance(value, dict)}
        assert {"REDIS_URL", "MONGODB_URL"} <= from_secret
        for name in from_secret:
            assert "secretKeyRef" in env.pop(name)
        if "FEEDS_FILE" in env:
            assert feeds is not None
            (tmp_path / "feeds.toml").write_text(feeds["data"]["feeds.toml"], encoding="utf-8")
            env["FEEDS_FILE"] = str(tmp_path / "feeds.toml")
        values = {name.lower(): value for name, value in env.items() if name.upper() in fields}
        settings = Settings.model_validate(values)
        if case == "full":
            configs = settings.feed_configs()
            assert [feed.url for feed in configs] == [
                "https://jobicy.com/?feed=job_feed",
                'https://example.org/jobs.atom?a=1&b="2"',
                "https://boards.example/export.json",
                "https://news.example/jobs.rss",
                "https://news.example/paused.rss",
            ]
            assert configs[0].source == "jobicy"
            mapped = configs[2]
            assert (mapped.format, mapped.items, mapped.fields) == (
                "json", "/data/jobs", {"guid": "/ref", "title": "/role/name"}
            )  # fmt: skip
            assert (mapped.expire_missing, mapped.expire_max_fraction) == (True, 0.25)
            assert (configs[3].expire_missing, configs[3].expire_after_days) == (None, 14)
            specs = settings.feed_specs()  # what the feed registry takes (job_importer/feed_registry.py)
            assert mapped.headers == {"Authorization": "boards-token", "X-Api-Key": "BOARDS_API_KEY"}
            assert (specs[2].schedule, specs[0].schedule, specs[4].enabled) == ("*/30 * * * *", None, False)
            assert settings.fetch_max_bytes == 52_428_800 and settings.fetch_read_timeout_s == 12.5
            if component(doc) == "importer":
                assert (settings.worker_concurrency, settings.worker_processes) == (16, 2)


def test_scheduler_cronjob_enqueues_each_configured_slot_once() -> None:
    docs = render(MATRIX["full"])
    cron = find(docs, "CronJob", f"{FULLNAME}-scheduler")
    assert cron["spec"]["schedule"] == config_map(docs)["SCHEDULE_CRON"] == "*/15 * * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["timeZone"] == "Etc/UTC"  # the scheduler's slots are UTC
    assert container(cron)["args"] == ["schedule", "--once"]
    assert pod_spec(cron)["restartPolicy"] == "Never"


@pytest.mark.parametrize("case", MATRIX)
def test_containers_run_commands_the_cli_has(case: str) -> None:
    for doc in workloads(render(MATRIX[case])):
        if component(doc) in APP_COMPONENTS:
            assert_cli_accepts(container(doc)["args"])


def test_in_chart_redis_keeps_an_append_only_file_behind_a_password() -> None:
    docs = render()
    redis = container(find(docs, "StatefulSet", f"{FULLNAME}-redis"))
    args = redis["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    # A limit under the container's, and never evict: writes fail (and the workers wait) instead.
    assert (args[args.index("--maxmemory") + 1], args[args.index("--maxmemory-policy") + 1]) == (
        "768mb",
        "noeviction",
    )
    [claim] = find(docs, "StatefulSet", f"{FULLNAME}-redis")["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert {mount["mountPath"] for mount in redis["volumeMounts"]} == {"/data"}
    data = secret_data(docs)
    assert data["mongodb-url"].startswith(
        f"mongodb://root:{data['mongodb-root-password']}@{FULLNAME}-mongodb."
    )
    given = secret_data(render(sets=("redis.password=fixed-password",)))
    assert (
        given["redis-url"] == f"redis://:fixed-password@{FULLNAME}-redis.{NAMESPACE}.svc.cluster.local:6379/0"
    )


def test_network_policies_admit_only_the_expected_peers() -> None:
    docs = render()
    redis = find(docs, "NetworkPolicy", f"{FULLNAME}-redis")["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}} in redis
    assert {
        "podSelector": {
            "matchLabels": {"app.kubernetes.io/name": "job-importer", "app.kubernetes.io/instance": "rel"}
        }
    } in redis
    assert find(docs, "NetworkPolicy", f"{FULLNAME}-scheduler")["spec"]["ingress"] == []
    for worker in ("fetcher", "importer"):  # scraped by Prometheus's namespace only, unless told otherwise
        [rule] = find(docs, "NetworkPolicy", f"{FULLNAME}-{worker}")["spec"]["ingress"]
        assert rule["from"] == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ]
    assert config_map(docs)["WORKER_METRICS_HOST"] == "0.0.0.0"
    full = render(MATRIX["full"])
    api = find(full, "NetworkPolicy", f"{FULLNAME}-api")["spec"]["ingress"][0]["from"]
    names = [peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in api]
    assert names == ["ingress-nginx", "monitoring"]  # callers, and Prometheus for /metrics


def test_service_monitor_scrapes_the_api_and_both_worker_services() -> None:
    docs = render(MATRIX["full"])
    monitor = find(docs, "ServiceMonitor", FULLNAME)
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    selector = monitor["spec"]["selector"]
    [expression] = selector["matchExpressions"]
    selected = [
        doc
        for doc in docs
        if doc["kind"] == "Service"
        and selector["matchLabels"].items() <= doc["metadata"]["labels"].items()
        and doc["metadata"]["labels"]["app.kubernetes.io/component"] in expression["values"]
    ]
    assert {component(doc) for doc in selected} == {"api", "fetcher", "importer"}
    endpoint_ports = {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]}
    for service in selected:
        assert {port["name"] for port in service["spec"]["ports"]} & endpoint_ports, service["metadata"][
            "name"
        ]


def test_dashboard_config_map_carries_the_dashboard_file_for_the_grafana_sidecar() -> None:
    docs = render(MATRIX["full"])
    dashboard = find(docs, "ConfigMap", f"{FULLNAME}-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["metadata"]["annotations"] == {"grafana_folder": "Jobs"}
    shipped = json.loads((CHART / "dashboards" / "job-importer.json").read_text(encoding="utf-8"))
    assert json.loads(dashboard["data"]["job-importer.json"]) == shipped
    assert ("ConfigMap", f"{FULLNAME}-dashboard") not in kinds(render(sets=("dashboard.enabled=false",)))


def test_image_references() -> None:
    defaults = render()
    assert container(find(defaults, "Deployment", f"{FULLNAME}-api"))["image"] == "job-importer-fetcher:0.1.0"
    assert (
        container(find(defaults, "Deployment", f"{FULLNAME}-importer"))["image"]
        == "job-importer-importer:0.1.0"
    )
    full = render(MATRIX["full"])
    digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    for name in ("api", "fetcher"):
        image = container(find(full, "Deployment", f"{FULLNAME}-{name}"))["image"]
        assert image == f"registry.example.com/jobs/job-importer-fetcher@{digest}"
    assert container(find(full, "CronJob", f"{FULLNAME}-scheduler"))["image"].endswith(f"fetcher@{digest}")
    importer = container(find(full, "Deployment", f"{FULLNAME}-importer"))["image"]
    assert importer == "registry.example.com/jobs/job-importer-importer:1.2.3"


@pytest.mark.parametrize("case", MATRIX)
def test_every_object_names_its_namespace(case: str) -> None:
    """checkov CKV_K8S_21: no object may land in whatever namespace kubectl happens to use."""
    for doc in render(MATRIX[case]):
        assert doc["metadata"].get("namespace") == NAMESPACE, f"{doc['kind']}/{doc['metadata']['name']}"


def test_keda_falls_back_to_a_fixed_replica_count_when_it_cannot_read_the_queue() -> None:
    scaled = find(render(), "ScaledObject", f"{FULLNAME}-importer")
    assert scaled["spec"]["fallback"] == {"failureThreshold": 3, "replicas": 2}
    custom = find(render(sets=("keda.fallback.replicas=4",)), "ScaledObject", f"{FULLNAME}-importer")
    assert custom["spec"]["fallback"]["replicas"] == 4
    off = find(render(sets=("keda.fallback.enabled=false",)), "ScaledObject", f"{FULLNAME}-importer")
    assert "fallback" not in off["spec"]


def test_the_registry_override_reaches_the_database_images_too() -> None:
    docs = render(sets=("image.registry=mirror.example.com/jobs/",))
    assert (
        container(find(docs, "StatefulSet", f"{FULLNAME}-redis"))["image"]
        == "mirror.example.com/jobs/redis:7.4.2"
    )
    assert (
        container(find(docs, "StatefulSet", f"{FULLNAME}-mongodb"))["image"]
        == "mirror.example.com/jobs/mongo:8.0.4"
    )
    assert container(find(render(), "StatefulSet", f"{FULLNAME}-redis"))["image"] == "redis:7.4.2"


def test_helm_test_hook_checks_that_the_api_answers() -> None:
    pod = find(render(), "Pod", f"{FULLNAME}-test-api")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    [check] = pod["spec"]["containers"]
    assert check["image"] == "job-importer-fetcher:0.1.0" and check["command"] == ["python", "-c"]
    assert f"http://{FULLNAME}-api.{NAMESPACE}.svc.cluster.local:8000/readyz" in check["args"][0]
    assert check["securityContext"]["readOnlyRootFilesystem"] is True
    assert ("Pod", f"{FULLNAME}-test-api") not in kinds(render(sets=("tests.enabled=false",)))


def test_gitops_renders_are_stable_with_an_existing_secret() -> None:
    """Argo CD and Flux render with `helm template`, where `lookup` finds nothing: generated
    passwords would change on every render. With secrets.existingSecret nothing is generated."""
    files = MATRIX["existing-secret"]
    first, second = (
        helm(
            "template",
            "rel",
            str(CHART),
            "--namespace",
            NAMESPACE,
            *[a for f in files for a in ("--values", str(CHART / "ci" / f))],
        )
        for _ in range(2)
    )
    assert first.returncode == 0 and first.stdout == second.stdout


def test_extension_values_reach_every_app_pod() -> None:
    docs = render(MATRIX["full"])
    for doc in workloads(docs):
        if component(doc) not in APP_COMPONENTS:
            continue
        spec, app = pod_spec(doc), container(doc)
        assert {"name": "HTTPS_PROXY", "value": "http://proxy.example.com:3128"} in app["env"]
        assert {"secretRef": {"name": "feed-credentials"}} in app["envFrom"]
        assert {"name": "ca", "configMap": {"name": "corporate-ca"}} in spec["volumes"]
        assert {"name": "ca", "mountPath": "/etc/ssl/corporate", "readOnly": True} in app["volumeMounts"]
        assert spec["priorityClassName"] == "jobs-high"
        [spread] = spec["topologySpreadConstraints"]
        assert spread["topologyKey"] == "topology.kubernetes.io/zone"
        assert spread["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == component(doc)
    defaults = render()
    assert all("priorityClassName" not in pod_spec(doc) for doc in workloads(defaults))


def test_the_ingress_is_optional_and_routes_to_the_api() -> None:
    assert not [doc for doc in render() if doc["kind"] == "Ingress"]
    ingress = find(render(MATRIX["full"]), "Ingress", f"{FULLNAME}-api")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    [rule] = ingress["spec"]["rules"]
    assert rule["host"] == "jobs.example.com"
    [path] = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": f"{FULLNAME}-api", "port": {"number": 8000}}
    assert ingress["spec"]["tls"] == [{"secretName": "jobs-example-com-tls", "hosts": ["jobs.example.com"]}]


def test_service_monitor_relabelings_apply_to_both_endpoints() -> None:
    docs = render(
        sets=(
            "serviceMonitor.enabled=true",
            "serviceMonitor.relabelings[0].targetLabel=cluster",
            "serviceMonitor.relabelings[0].replacement=eu-1",
            "serviceMonitor.metricRelabelings[0].action=drop",
            "serviceMonitor.metricRelabelings[0].regex=python_gc_.*",
            "serviceMonitor.metricRelabelings[0].sourceLabels[0]=__name__",
        )
    )
    endpoints = find(docs, "ServiceMonitor", FULLNAME)["spec"]["endpoints"]
    assert len(endpoints) == 2
    for endpoint in endpoints:
        assert endpoint["relabelings"] == [{"targetLabel": "cluster", "replacement": "eu-1"}]
        assert endpoint["metricRelabelings"] == [
            {"action": "drop", "regex": "python_gc_.*", "sourceLabels": ["__name__"]}
        ]
