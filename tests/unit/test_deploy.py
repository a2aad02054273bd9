"""deploy/ agrees with the code: files load, references exist, env, ports and metrics match."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from routing.config import load_config
from streams.metrics import Metrics
from streams.settings import Settings
from streams.topics import TopicNames

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
YAML_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))
WEB_PORT = Settings.model_fields["web_port"].default


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (YAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [
            self.construct_object(k, deep=deep)
            for k, _ in node.value
            if k.tag != "tag:yaml.org,2002:merge"
        ]
        dupes = {k for k in keys if keys.count(k) > 1}
        if dupes:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate keys {sorted(dupes)}", node.start_mark
            )
        return super().construct_mapping(node, deep=deep)


def load_all(path: Path) -> list[Any]:
    return [d for d in yaml.load_all(path.read_text(encoding="utf-8"), _StrictLoader) if d]


def load(path: Path) -> Any:
    docs = load_all(path)
    assert len(docs) == 1, path
    return docs[0]


def env_names() -> set[str]:
    """Every environment variable Settings reads."""
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(a).upper() for a in alias.choices)
        else:
            names.add(f"WAVEBREAK_{name.upper()}")
    return names


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    unknown = {k for k in env if k.startswith("WAVEBREAK_")} - env_names()
    assert not unknown, f"not fields of streams.settings.Settings: {unknown}"
    with monkeypatch.context() as m:
        for key in list(__import__("os").environ):
            if key.startswith("WAVEBREAK_"):
                m.delenv(key)
        for key, value in env.items():
            m.setenv(key, str(value))
        return Settings()


def exported_names() -> set[str]:
    """Sample names the worker's metrics produce (counters _total, histograms _bucket...)."""
    out = set()
    for family in Metrics.create().registry.collect():
        if family.type == "counter":
            out.add(f"{family.name}_total")
        elif family.type == "histogram":
            out.update(f"{family.name}{s}" for s in ("_bucket", "_sum", "_count"))
        else:
            out.add(family.name)
    return out


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "prometheus" / "rules").glob("*.yml")):
        groups.extend(load(path)["groups"])
    return groups


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in panels:
        yield p
        yield from _panels(p.get("panels", []))


def dashboards() -> list[dict[str, Any]]:
    paths = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
    assert paths
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


def all_exprs() -> list[str]:
    exprs = [r["expr"] for g in rule_groups() for r in g["rules"]]
    for dash in dashboards():
        exprs += [t["expr"] for p in _panels(dash["panels"]) for t in p.get("targets", [])]
        for var in dash["templating"]["list"]:
            if var["type"] == "query":
                exprs.append(var["definition"])
    return exprs


def compose() -> dict[str, Any]:
    return load(DEPLOY / "compose.yaml")  # type: ignore[no-any-return]


def workers() -> dict[str, dict[str, Any]]:
    return {
        name: s
        for name, s in compose()["services"].items()
        if s.get("build", {}).get("dockerfile") == "deploy/Dockerfile"
    }


def k8s(kind: str) -> dict[str, Any]:
    kustomization = load(K8S / "kustomization.yaml")
    found = [d for r in kustomization["resources"] for d in load_all(K8S / r) if d["kind"] == kind]
    assert len(found) == 1, kind
    return found[0]


def k8s_env() -> dict[str, str]:
    generators = load(K8S / "kustomization.yaml")["configMapGenerator"]
    literals = next(g for g in generators if g["name"] == "wavebreak-env")["literals"]
    return dict(line.split("=", 1) for line in literals)


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_yaml_loads_without_duplicate_keys(path: Path) -> None:
    assert load_all(path)


def test_dashboard_and_rules_use_only_exported_metrics() -> None:
    exported = exported_names()
    for expr in all_exprs():
        used = set(re.findall(r"\bwavebreak_[a-z0-9_]+", expr))
        assert used or expr.startswith("up{"), expr  # `up` is Prometheus's own
        assert used <= exported, f"{used - exported} not in Metrics.create(): {expr}"


def test_dashboard_covers_the_issue_panels() -> None:
    (dash,) = dashboards()
    exprs = " ".join(t["expr"] for p in _panels(dash["panels"]) for t in p.get("targets", []))
    for metric in (
        "wavebreak_contacts_in_total",
        "wavebreak_decisions_total",
        "wavebreak_wave_level",
        "wavebreak_arrival_rate",
        "wavebreak_baseline_rate",
        "wavebreak_negative_share",
        "wavebreak_senior_escalations_total",
        "wavebreak_decision_latency_seconds_bucket",
        "wavebreak_dead_letters_total",
        "wavebreak_consumer_lag",
        "wavebreak_config_info",
        "wavebreak_config_reloads_total",
    ):
        assert metric in exprs, metric
    kinds = {p["type"] for p in _panels(dash["panels"])}
    assert "state-timeline" in kinds
    ids = [p["id"] for p in _panels(dash["panels"])]
    assert len(ids) == len(set(ids))
    for p in _panels(dash["panels"]):
        for t in p.get("targets", []):
            assert t["datasource"]["uid"] == "${datasource}"


def test_rules_have_the_issue_alerts_and_k8s_carries_the_same() -> None:
    alerts = {r["alert"] for g in rule_groups() for r in g["rules"]}
    assert alerts >= {
        "WavebreakWaveStarted",
        "WavebreakNegativityWave",
        "WavebreakDeadLetterSpike",
        "WavebreakSeniorQueueOverCapacity",
        "WavebreakDecisionLatencyHigh",
        "WavebreakConsumerLagHigh",
        "WavebreakConfigReloadRefused",
        "WavebreakChannelSilent",
    }
    for g in rule_groups():
        for r in g["rules"]:
            assert r["labels"]["severity"] in ("warning", "critical")
            assert r["annotations"]["summary"] and r["annotations"]["description"]
    assert k8s("PrometheusRule")["spec"]["groups"] == rule_groups()


def test_dockerfile_agrees_with_the_code() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    for src in re.findall(r"^COPY (?!--)(\S+)", text, re.M):
        assert (ROOT / src).exists(), src
    assert re.search(rf"^EXPOSE {WEB_PORT}$", text, re.M)
    assert f"127.0.0.1:{WEB_PORT}/healthz" in text
    env = dict(re.findall(r"(WAVEBREAK_[A-Z_]+)=(\S+)", text))
    assert set(env) <= env_names()
    assert env["WAVEBREAK_WEB_PORT"] == str(WEB_PORT)
    assert re.search(r"^ENTRYPOINT \[\"wavebreak\"\]$", text, re.M)


def test_compose_workers_agree_with_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose()["services"]
    kafka = services["kafka"]["environment"]
    assert "controller" in kafka["KAFKA_PROCESS_ROLES"] and "zookeeper" not in str(services)
    ws = workers()
    assert len(ws) == 2
    app_ids = set()
    for name, svc in ws.items():
        assert (DEPLOY / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file()
        settings = settings_from(svc["environment"], monkeypatch)
        assert settings.web_port == WEB_PORT
        assert any(p.endswith(f":{settings.web_port}") for p in svc["ports"]), name
        host = settings.bootstrap_servers.split(",")[0].split(":")[0]
        assert host in services, f"{name} talks to {host}, not a compose service"
        mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in svc["volumes"])
        assert settings.config_path in mounts.values()
        for src in mounts:
            load_config(DEPLOY / src)  # the mounted routing config is valid
        app_ids.add(settings.app_id)
    assert len(app_ids) == 1  # one consumer group


def test_compose_mounts_and_prometheus_targets_exist() -> None:
    services = compose()["services"]
    for svc in services.values():
        for volume in svc.get("volumes", []):
            src = volume.split(":", 1)[0]
            assert (DEPLOY / src).exists(), src
    prom = load(DEPLOY / "prometheus" / "prometheus.yml")
    (job,) = prom["scrape_configs"]
    assert job["job_name"] == "wavebreak"  # WavebreakWorkerDown selects on it
    targets = job["static_configs"][0]["targets"]
    assert sorted(targets) == sorted(f"{w}:{WEB_PORT}" for w in workers())
    mounts = dict(v.split(":")[:2] for v in services["prometheus"]["volumes"])
    assert mounts["./prometheus/rules"] == "/etc/prometheus/rules"
    assert all(r.startswith("/etc/prometheus/rules/") for r in prom["rule_files"])
    provider = load(DEPLOY / "grafana" / "provisioning" / "dashboards" / "wavebreak.yaml")
    grafana = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    assert grafana["./grafana/dashboards"] == provider["providers"][0]["options"]["path"]
    datasource = load(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml")
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


def test_kustomization_references_exist_and_config_is_valid() -> None:
    kustomization = load(K8S / "kustomization.yaml")
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    for generator in kustomization["configMapGenerator"]:
        for f in generator.get("files", []):
            assert (K8S / f).is_file(), f
    load_config(K8S / "routing.yaml")


def test_k8s_deployment_agrees_with_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    env = k8s_env()
    settings = settings_from(env, monkeypatch)
    deployment = k8s("Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert {e["name"] for e in container["env"]} <= env_names()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"web": settings.web_port}
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "web"}
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == "web"
    assert (
        container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    )
    # WAVEBREAK_CONFIG names the ConfigMap's file where the ConfigMap is mounted.
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    routing = next(n for n, v in volumes.items() if "configMap" in v)
    assert volumes[routing]["configMap"]["name"] == "wavebreak-routing"
    assert settings.config_path == f"{mounts[routing]}/routing.yaml"
    # The Service and the PodMonitor find the pods and their web port.
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = k8s("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    monitor = k8s("PodMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "web"
    assert monitor["spec"]["podMetricsEndpoints"][0]["path"] == "/metrics"


def test_keda_scales_the_workers_consumer_group(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from(k8s_env(), monkeypatch)
    scaled = k8s("ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == k8s("Deployment")["metadata"]["name"]
    topics = TopicNames.from_settings(settings)
    triggers = scaled["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {"kafka"}
    # Both stages' groups: normalize on raw and route on normalized (faust's own group
    # reads only the load ticks).
    assert {(t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in triggers} == {
        (settings.normalize_group_id, topics.raw),
        (settings.route_group_id, topics.normalized),
    }
    assert {t["metadata"]["bootstrapServers"] for t in triggers} == {settings.bootstrap_servers}
    # More workers than partitions would sit idle.
    assert scaled["spec"]["maxReplicaCount"] <= settings.partitions
    assert scaled["spec"]["minReplicaCount"] >= 1


def test_wheel_carries_the_example_configs_where_the_default_config_looks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sys
    import tomllib

    from streams import config_source

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data_files = pyproject["tool"]["setuptools"]["data-files"]
    shipped = data_files["share/wavebreak/config"]
    assert "config/open.yaml" in shipped
    for name in shipped:
        load_config(ROOT / name)
    # An installed wheel: no checkout beside the package, the examples under the prefix.
    installed = tmp_path / "share" / "wavebreak" / "config"
    installed.mkdir(parents=True)
    (installed / "open.yaml").write_text((ROOT / "config" / "open.yaml").read_text())
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setattr(config_source, "__file__", str(tmp_path / "lib" / "streams" / "x.py"))
    assert config_source._default_config() == installed / "open.yaml"
