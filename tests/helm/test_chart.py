"""The Helm chart in ``helm/``: lint, schema, offline rendering of every ``helm/ci`` value set, strict Kubernetes
validation of every manifest, and the properties production relies on (probes, hooks, security, grace periods).

No cluster and no helm binary: ``helm_python`` embeds the Helm SDK; ``kubernetes_validate`` holds the API schemas.
The Dockerfile is checked here too, only where it must agree with the chart (user id, port).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = ROOT / "helm"
CI_DIR = CHART_DIR / "ci"
UNSAFE_DIR = Path(__file__).resolve().parent / "unsafe"
CI_FILES = sorted(CI_DIR.glob("*.yaml"))
RELEASE = "acme"
NAMESPACE = "chorus"
# The chart's minimum (Chart.yaml kubeVersion) and the newest schemas kubernetes-validate ships.
KUBE_VERSIONS = ("1.27.0", "1.37.0")

Manifest = dict[str, Any]

# Every value set that must be refused, with the fragments the error has to name (the offending keys).
UNSAFE_EXPECTED: dict[str, tuple[str, ...]] = {
    "sqlite-two-web-replicas.yaml": ("/web/replicaCount", "/database/type", "postgresql"),
    "sqlite-with-worker.yaml": ("/worker/enabled", "/database/type"),
    "sqlite-with-hpa.yaml": ("/autoscaling/enabled", "/database/type"),
    "memory-broker-two-web-replicas.yaml": ("/web/replicaCount", "/broker/type", "redis"),
    "memory-broker-with-hpa.yaml": ("/autoscaling/enabled", "/broker/type"),
    "memory-broker-with-worker.yaml": ("/worker/enabled", "/broker/type"),
    "postgres-without-url.yaml": ("/database/url", "postgres"),
    "redis-with-bad-url.yaml": ("/broker/url", "redis"),
    "misspelt-key.yaml": ("replicaCount", "not allowed"),
    "empty-secret-key.yaml": ("/secrets/secretKey",),
    "servicemonitor-without-metrics.yaml": ("/config/telemetry/prometheus/enabled",),
}
SECRETS = {"secretKey": "test-only-secret-key-" + "k" * 24}
"""The one value every release must give (or ``existingSecret``)."""
# Custom resources kubernetes-validate has no schema for; their shape is checked by their own test.
CUSTOM_KINDS = {"ServiceMonitor", "ScaledObject", "TriggerAuthentication"}  # CRDs (Prometheus operator, KEDA)


def _load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path} must hold a mapping of values"
    return data


def _render(chart: helm_python.Chart, values: dict[str, Any]) -> list[Manifest]:
    out = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    docs: list[Manifest] = []
    for path, text in sorted(out.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc is not None:
                assert isinstance(doc, dict), f"{path} rendered a non-mapping document"
                docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART_DIR) as loaded:
        yield loaded


@pytest.fixture(scope="module")
def rendered(chart: helm_python.Chart) -> dict[str, list[Manifest]]:
    """Manifests for every ``helm/ci`` value set, keyed by file name; rendered once per module."""
    return {path.name: _render(chart, _load_yaml(path)) for path in CI_FILES}


def find(docs: list[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: list[Manifest], kind: str, name: str) -> Manifest:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, got {[d['metadata']['name'] for d in find(docs, kind)]}"
    return found[0]


def pod_specs(docs: list[Manifest]) -> Iterator[tuple[str, Manifest]]:
    for doc in docs:
        if doc["kind"] in {"Deployment", "Job"}:
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]["spec"]
        elif doc["kind"] == "Pod":
            yield f"Pod/{doc['metadata']['name']}", doc["spec"]


def test_ci_value_sets_exist() -> None:
    names = {p.name for p in CI_FILES}
    assert {"default-values.yaml", "postgres-redis-values.yaml", "existing-secret-values.yaml"} <= names


def test_lint_is_clean() -> None:
    """The defaults lack only the secret key, which nobody may leave to the chart (it would change on every render);
    with one the chart lints clean."""
    bare = helm_python.lint(CHART_DIR, strict=True)
    assert bare["errors"] and all("/secrets/secretKey" in e for e in bare["errors"]), bare["errors"]
    report = helm_python.lint(CHART_DIR, {"secrets": {"secretKey": "k" * 32}}, strict=True)
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == []


@pytest.mark.parametrize("values_file", CI_FILES, ids=lambda p: p.name)
def test_lint_with_ci_values(values_file: Path) -> None:
    report = helm_python.lint(CHART_DIR, _load_yaml(values_file), strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("values_file", CI_FILES, ids=lambda p: p.name)
def test_ci_values_pass_the_schema(chart: helm_python.Chart, values_file: Path) -> None:
    chart.validate_schema(_load_yaml(values_file))


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values_file", [p.name for p in CI_FILES])
def test_manifests_are_valid_kubernetes(
    rendered: dict[str, list[Manifest]], values_file: str, kube_version: str
) -> None:
    docs = rendered[values_file]
    assert len(docs) >= 5
    for doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} ({values_file}, {kube_version}): {exc.message}")


def values_documentation() -> list[tuple[str, str]]:
    """(dotted path, ``# --`` comment) of every documented value in values.yaml; fails on an undocumented key.

    A key is documented by the comment block right above it. A key without one must be a section (its children
    are keys); the children of a documented key (e.g. ``resources.requests``) are part of its value.
    """
    lines = (CHART_DIR / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, str, bool]] = []
    out: list[tuple[str, str]] = []
    for i, line in enumerate(lines):
        match = re.match(r"^( *)([A-Za-z][A-Za-z0-9]*):", line)
        if not match:
            continue
        indent, key = len(match.group(1)), match.group(2)
        stack = [entry for entry in stack if entry[0] < indent]
        if any(documented for _, _, documented in stack):
            continue
        path = ".".join([k for _, k, _ in stack] + [key])
        block: list[str] = []
        j = i - 1
        while j >= 0 and lines[j].lstrip().startswith("#"):
            block.insert(0, lines[j].strip())
            j -= 1
        documented = any(b.startswith("# --") for b in block)
        if documented:
            out.append((path, " ".join(block)))
        else:
            following = [n for n in lines[i + 1 :] if n.strip() and not n.lstrip().startswith("#")]
            child = re.match(r"^( *)[A-Za-z]", following[0]) if following else None
            assert child and len(child.group(1)) > indent, f"values.yaml: {path} has no '# --' comment"
        stack.append((indent, key, documented))
    return out


def test_every_value_is_commented_and_in_the_readme() -> None:
    readme = (CHART_DIR / "README.md").read_text()
    documented = values_documentation()
    assert len(documented) > 60
    missing = [path for path, _ in documented if f"| `{path}` |" not in readme]
    assert missing == [], f"README.md does not list {missing}"
    stale = set(re.findall(r"^\| `([A-Za-z0-9.]+)` \|", readme, flags=re.MULTILINE)) - {p for p, _ in documented}
    assert stale == set(), f"README.md lists values that values.yaml does not have: {stale}"


@pytest.mark.parametrize("values_file", UNSAFE_EXPECTED)
def test_unsafe_values_are_refused(chart: helm_python.Chart, values_file: str) -> None:
    values = _load_yaml(UNSAFE_DIR / values_file)
    with pytest.raises(helm_python.HelmValuesError) as schema_error:
        chart.validate_schema(values)
    for fragment in UNSAFE_EXPECTED[values_file]:
        assert fragment in str(schema_error.value), f"{values_file}: {fragment!r} not in {schema_error.value}"
    # helm install/upgrade/template validate the same way: the chart never renders such a release.
    with pytest.raises(helm_python.HelmValuesError):
        chart.render(values, name=RELEASE, namespace=NAMESPACE)


def test_every_unsafe_file_has_an_expectation() -> None:
    assert {p.name for p in UNSAFE_DIR.glob("*.yaml")} == set(UNSAFE_EXPECTED)


def test_the_same_scale_out_with_postgres_and_redis_is_accepted(chart: helm_python.Chart) -> None:
    """The refusals are about the combination, not the switches: with PostgreSQL and Redis they pass."""
    chart.validate_schema(
        {
            "database": {"type": "postgresql", "url": "postgresql://chorus@pg:5432/chorus"},
            "broker": {"type": "redis", "url": "rediss://redis:6380/0"},
            "web": {"replicaCount": 4},
            "worker": {"enabled": True},
            "autoscaling": {"enabled": True},
            "secrets": SECRETS,
        }
    )


@pytest.mark.parametrize("values_file", [p.name for p in CI_FILES])
def test_web_probes_and_grace(rendered: dict[str, list[Manifest]], values_file: str) -> None:
    docs = rendered[values_file]
    web = one(docs, "Deployment", f"{RELEASE}-chorus-web")
    spec = web["spec"]["template"]["spec"]
    (container,) = [c for c in spec["containers"] if c["name"] == "web"]
    assert container["args"] == ["serve"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    (port,) = [p for p in container["ports"] if p["name"] == "http"]
    config = one(docs, "ConfigMap", f"{RELEASE}-chorus")["data"]
    assert port["name"] == "http" and str(port["containerPort"]) == config["CHORUS_PORT"]
    assert config["CHORUS_HOST"] == "0.0.0.0"  # noqa: S104 (in a pod, the server must listen on the pod IP)
    sleep_command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep_command[0] == "sleep"
    pre_stop, grace = int(sleep_command[1]), float(config["CHORUS_SHUTDOWN_GRACE_S"])
    # The kubelet must not SIGKILL a pod still draining its WebSockets.
    assert spec["terminationGracePeriodSeconds"] >= pre_stop + grace + 1
    assert spec["terminationGracePeriodSeconds"] <= pre_stop + grace + 30
    service = one(docs, "Service", f"{RELEASE}-chorus")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    template_labels = web["spec"]["template"]["metadata"]["labels"]
    assert web["spec"]["selector"]["matchLabels"].items() <= template_labels.items()
    assert service["spec"]["selector"].items() <= template_labels.items()


@pytest.mark.parametrize("values_file", [p.name for p in CI_FILES])
def test_every_pod_is_restricted(rendered: dict[str, list[Manifest]], values_file: str) -> None:
    specs = list(pod_specs(rendered[values_file]))
    assert specs
    for where, spec in specs:
        pod_ctx = spec["securityContext"]
        assert pod_ctx["runAsNonRoot"] is True, where
        assert pod_ctx["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec.get("automountServiceAccountToken") is False, where
        mounted_volumes = {v["name"] for v in spec.get("volumes", [])}
        for container in spec["containers"] + spec.get("initContainers", []):
            ctx = container["securityContext"]
            label = f"{where}/{container['name']}"
            assert ctx["readOnlyRootFilesystem"] is True, label
            assert ctx["allowPrivilegeEscalation"] is False, label
            assert ctx["capabilities"]["drop"] == ["ALL"], label
            assert ctx["runAsNonRoot"] is True, label
            assert "add" not in ctx["capabilities"], label
            assert container["resources"]["requests"], label
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{label}: a read-only root needs a writable /tmp"
            assert set(mounts.values()) <= mounted_volumes, label


def test_default_is_embedded_single_process(rendered: dict[str, list[Manifest]]) -> None:
    docs = rendered["default-values.yaml"]
    assert find(docs, "Deployment", f"{RELEASE}-chorus-worker") == []
    assert find(docs, "Job") == [], "SQLite migrates in an init container, not in a hook Job"
    assert find(docs, "HorizontalPodAutoscaler") == []
    web = one(docs, "Deployment", f"{RELEASE}-chorus-web")
    assert web["spec"]["replicas"] == 1
    assert web["spec"]["strategy"]["type"] == "Recreate", "two pods must never write one SQLite file"
    spec = web["spec"]["template"]["spec"]
    assert [c["args"] for c in spec["initContainers"]] == [["migrate"]]
    claim = one(docs, "PersistentVolumeClaim", f"{RELEASE}-chorus-data")
    data_volume = {v["name"]: v for v in spec["volumes"]}["data"]
    assert data_volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    config = one(docs, "ConfigMap", f"{RELEASE}-chorus")["data"]
    assert config["CHORUS_DATABASE_URL"] == "sqlite:////var/lib/chorus/chorus.db"
    assert config["CHORUS_BROKER_URL"] == "memory://"
    assert config["CHORUS_RUN_WORKERS_IN_PROCESS"] == "true"
    mounts = {m["mountPath"] for m in spec["containers"][0]["volumeMounts"]}
    assert config["CHORUS_DATA_DIR"] in mounts
    secret = one(docs, "Secret", f"{RELEASE}-chorus")
    assert set(secret["data"]) == {"CHORUS_SECRET_KEY"}
    assert "CHORUS_TRUSTED_PROXIES" not in config, "no proxy is trusted unless listed"


def test_trusted_proxies_are_passed_on(rendered: dict[str, list[Manifest]]) -> None:
    config = one(rendered["postgres-redis-values.yaml"], "ConfigMap", f"{RELEASE}-chorus")["data"]
    assert config["CHORUS_TRUSTED_PROXIES"] == "10.0.0.0/8"


def test_scale_out_has_worker_hpa_pdb_and_ingress(rendered: dict[str, list[Manifest]]) -> None:
    docs = rendered["postgres-redis-values.yaml"]
    web = one(docs, "Deployment", f"{RELEASE}-chorus-web")
    assert "replicas" not in web["spec"], "the HPA owns the replica count"
    assert web["spec"]["strategy"]["type"] == "RollingUpdate"
    assert "initContainers" not in web["spec"]["template"]["spec"]
    worker = one(docs, "Deployment", f"{RELEASE}-chorus-worker")
    assert worker["spec"]["replicas"] == 2
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker"]
    assert worker["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    service = one(docs, "Service", f"{RELEASE}-chorus")
    assert not service["spec"]["selector"].items() <= worker["spec"]["template"]["metadata"]["labels"].items()
    config = one(docs, "ConfigMap", f"{RELEASE}-chorus")["data"]
    assert config["CHORUS_RUN_WORKERS_IN_PROCESS"] == "false"
    assert "CHORUS_DATABASE_URL" not in config and "CHORUS_BROKER_URL" not in config, "URLs are secrets here"
    secret = one(docs, "Secret", f"{RELEASE}-chorus")
    assert {"CHORUS_DATABASE_URL", "CHORUS_BROKER_URL", "CHORUS_SECRET_KEY", "CHORUS_AUDIT_KEY"} <= set(secret["data"])
    assert {"CHORUS_OIDC_CLIENT_SECRET", "CHORUS_LLM_API_KEY"} <= set(secret["data"])
    assert find(docs, "PersistentVolumeClaim") == []

    hpa = one(docs, "HorizontalPodAutoscaler", f"{RELEASE}-chorus-web")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": f"{RELEASE}-chorus-web",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu", "memory"}
    assert {p["metadata"]["name"] for p in find(docs, "PodDisruptionBudget")} == {
        f"{RELEASE}-chorus-web",
        f"{RELEASE}-chorus-worker",
    }

    ingress = one(docs, "Ingress", f"{RELEASE}-chorus")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "3600"
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": service["metadata"]["name"], "port": {"name": "http"}}
    assert ingress["spec"]["tls"][0]["hosts"] == ["chorus.example.com"]


def test_ingress_timeout_is_configurable_and_user_annotations_win(chart: helm_python.Chart) -> None:
    docs = _render(
        chart,
        {
            "secrets": SECRETS,
            "ingress": {
                "enabled": True,
                "websocket": {"timeoutSeconds": 7200},
                "annotations": {"nginx.ingress.kubernetes.io/proxy-send-timeout": "600"},
            }
        },
    )
    annotations = one(docs, "Ingress", f"{RELEASE}-chorus")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "7200"
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "600"
    plain = _render(chart, {"secrets": SECRETS, "ingress": {"enabled": True, "websocket": {"nginxAnnotations": False}}})
    assert "annotations" not in one(plain, "Ingress", f"{RELEASE}-chorus")["metadata"]


def test_migration_job_is_a_hook_with_its_secret_created_first(rendered: dict[str, list[Manifest]]) -> None:
    docs = rendered["postgres-redis-values.yaml"]
    job = one(docs, "Job", f"{RELEASE}-chorus-migrate")
    job_notes = job["metadata"]["annotations"]
    assert job_notes["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in job_notes["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert "serviceAccountName" not in pod, "the chart's ServiceAccount does not exist yet at pre-install time"
    (container,) = pod["containers"]
    assert container["args"] == ["migrate"]
    env = {e["name"]: e for e in container["env"]}
    ref = env["CHORUS_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    hook_secret = one(docs, "Secret", ref["name"])
    secret_notes = hook_secret["metadata"]["annotations"]
    assert secret_notes["helm.sh/hook"] == job_notes["helm.sh/hook"]
    assert int(secret_notes["helm.sh/hook-weight"]) < int(job_notes["helm.sh/hook-weight"])
    assert secret_notes["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert ref["key"] in hook_secret["data"]
    # Least privilege: the migration sees the database URL, not the session, OIDC or LLM secrets.
    assert set(hook_secret["data"]) == {"CHORUS_DATABASE_URL"}
    assert "envFrom" not in container


def test_existing_secret_replaces_the_generated_one(rendered: dict[str, list[Manifest]]) -> None:
    docs = rendered["existing-secret-values.yaml"]
    assert find(docs, "Secret") == [], "no Secret (nor hook Secret) is rendered when existingSecret is set"
    for where, spec in pod_specs(docs):
        for container in spec["containers"] + spec.get("initContainers", []):
            refs = [s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s]
            refs += [
                e["valueFrom"]["secretKeyRef"]["name"]
                for e in container.get("env", [])
                if "secretKeyRef" in e.get("valueFrom", {})
            ]
            if not where.startswith("Pod/"):
                assert refs and set(refs) == {"chorus-credentials"}, f"{where}: {refs}"
    job = one(docs, "Job", f"{RELEASE}-chorus-migrate")
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "chorus-workload"
    assert find(docs, "ServiceAccount") == []
    web = one(docs, "Deployment", f"{RELEASE}-chorus-web")
    image = web["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/chorus/chorus@sha256:" + "0123456789abcdef" * 4
    assert "checksum/secret" not in web["spec"]["template"]["metadata"]["annotations"]


def test_network_policies(rendered: dict[str, list[Manifest]]) -> None:
    docs = rendered["postgres-redis-values.yaml"]
    web_policy = one(docs, "NetworkPolicy", f"{RELEASE}-chorus-web")
    (rule,) = web_policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    sources = rule["from"]
    assert {"podSelector": {"matchLabels": {f"{RELEASE}-chorus-client": "true"}}} in sources
    assert any(
        s.get("namespaceSelector") == {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}} for s in sources
    )
    egress_ports = [p["port"] for r in web_policy["spec"]["egress"] for p in r.get("ports", [])]
    assert {53, 5432, 6379, 443} <= set(egress_ports)
    internal = one(docs, "NetworkPolicy", f"{RELEASE}-chorus-internal")
    assert "ingress" not in internal["spec"] and "Ingress" in internal["spec"]["policyTypes"]
    assert find(rendered["default-values.yaml"], "NetworkPolicy") == []


def test_helm_test_pod_checks_readyz(rendered: dict[str, list[Manifest]]) -> None:
    docs = rendered["postgres-redis-values.yaml"]
    pod = one(docs, "Pod", f"{RELEASE}-chorus-test-connection")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    command = pod["spec"]["containers"][0]["command"]
    assert command[-1] == f"http://{RELEASE}-chorus.{NAMESPACE}.svc:80/readyz"
    # Allowed through the web NetworkPolicy even with allowExternal=false.
    assert pod["metadata"]["labels"][f"{RELEASE}-chorus-client"] == "true"


def test_dockerfile_agrees_with_the_chart(chart: helm_python.Chart) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    values = chart.values
    bases = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, flags=re.MULTILINE)
    assert len(bases) == 1 and re.fullmatch(r"python:3\.11\.\d+-slim-\w+", bases[0]), bases
    assert len(re.findall(r"^FROM \$\{PYTHON_IMAGE\}", dockerfile, flags=re.MULTILINE)) == 2
    users = re.findall(r"^USER (\S+)$", dockerfile, flags=re.MULTILINE)
    assert users == [f"{values['podSecurityContext']['runAsUser']}:{values['podSecurityContext']['runAsGroup']}"]
    assert re.search(rf"^EXPOSE {values['web']['containerPort']}$", dockerfile, flags=re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["chorus"\]$', dockerfile, flags=re.MULTILINE)
    assert re.search(r'^CMD \["serve"\]$', dockerfile, flags=re.MULTILINE)
    final_stage = dockerfile.split("AS runtime", 1)[1]
    assert "build-essential" not in final_stage and "gcc" not in final_stage
    assert f"CHORUS_DATA_DIR={values['config']['dataDir']}" in final_stage


def _mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti)", quantity)
    assert match, f"memory quantities are written in binary units here; got {quantity!r}"
    return float(match.group(1)) * units[match.group(2)]


MEASURED_PEAK_MIB = 1347  # README "Performance": run-end quality at 100,000 agents


def test_the_processes_running_the_runtime_are_sized_for_its_measured_peak(
        rendered: dict[str, list[Manifest]]) -> None:
    """Before: 1 GiB limits, below the runtime's own measured peak (the pod would be OOM-killed at run end)."""
    worker = one(rendered["postgres-redis-values.yaml"], "Deployment", f"{RELEASE}-chorus-worker")
    resources = worker["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert _mebibytes(resources["requests"]["memory"]) > MEASURED_PEAK_MIB
    assert _mebibytes(resources["limits"]["memory"]) > _mebibytes(resources["requests"]["memory"])
    embedded = one(rendered["default-values.yaml"], "Deployment", f"{RELEASE}-chorus-web")  # the runtime runs here
    limits = embedded["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert _mebibytes(limits["memory"]) > MEASURED_PEAK_MIB


def test_the_secret_key_is_never_generated_at_render_time(chart: helm_python.Chart) -> None:
    """Before: an empty key rendered a new random one every time (a restart and sign-out on every GitOps sync)."""
    values = _load_yaml(CI_DIR / "default-values.yaml")
    first, second = (one(_render(chart, values), "Secret", f"{RELEASE}-chorus") for _ in range(2))
    assert first["data"] == second["data"]
    with pytest.raises(helm_python.HelmValuesError, match="secretKey"):
        _render(chart, {**values, "secrets": {"secretKey": ""}})


def test_prometheus_scrape_endpoint_and_service_monitor(rendered: dict[str, list[Manifest]]) -> None:
    docs = rendered["prometheus-values.yaml"]
    config = one(docs, "ConfigMap", f"{RELEASE}-chorus")["data"]
    assert config["OTEL_METRICS_EXPORTER"] == "otlp,prometheus"  # beside OTLP, not instead
    assert (config["OTEL_EXPORTER_PROMETHEUS_HOST"], config["OTEL_EXPORTER_PROMETHEUS_PORT"]) == ("0.0.0.0", "9464")
    pods = [one(docs, "Deployment", f"{RELEASE}-chorus-{c}")["spec"]["template"] for c in ("web", "worker")]
    for pod in pods:
        ports = {p["name"]: p["containerPort"] for p in pod["spec"]["containers"][0]["ports"]}
        assert ports["metrics"] == 9464
    service = one(docs, "Service", f"{RELEASE}-chorus-metrics")
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["ports"][0]["targetPort"] == "metrics"
    assert all(service["spec"]["selector"].items() <= pod["metadata"]["labels"].items() for pod in pods)
    monitor = one(docs, "ServiceMonitor", f"{RELEASE}-chorus")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["path"], endpoint["interval"]) == ("metrics", "/metrics", "30s")
    web_policy = one(docs, "NetworkPolicy", f"{RELEASE}-chorus-web")
    internal = one(docs, "NetworkPolicy", f"{RELEASE}-chorus-internal")
    for policy in (web_policy, internal):
        assert {"ports": [{"port": "metrics", "protocol": "TCP"}]} in policy["spec"]["ingress"]
    plain = rendered["postgres-redis-values.yaml"]
    assert find(plain, "ServiceMonitor") == [] and find(plain, "Service", f"{RELEASE}-chorus-metrics") == []
    assert "OTEL_METRICS_EXPORTER" not in one(plain, "ConfigMap", f"{RELEASE}-chorus")["data"]


def test_workers_scale_on_the_shard_queue_with_keda(rendered: dict[str, list[Manifest]]) -> None:
    docs = rendered["keda-values.yaml"]
    worker = one(docs, "Deployment", f"{RELEASE}-chorus-worker")
    assert "replicas" not in worker["spec"], "KEDA owns the worker replica count"
    scaled = one(docs, "ScaledObject", f"{RELEASE}-chorus-worker")
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                                "name": f"{RELEASE}-chorus-worker"}
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (2, 10)
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "postgresql" and trigger["metadata"]["targetQueryValue"] == "3"
    from personas.runtime.queue import QUEUE

    assert f"queue_name = '{QUEUE}'" in trigger["metadata"]["query"]  # the queue the runtime defers shards to
    auth = one(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    (ref,) = auth["spec"]["secretTargetRef"]
    assert (ref["parameter"], ref["key"]) == ("connection", "CHORUS_DATABASE_URL")
    assert ref["name"] == one(docs, "Secret", f"{RELEASE}-chorus")["metadata"]["name"]
    for other in ("postgres-redis-values.yaml", "default-values.yaml"):
        assert find(rendered[other], "ScaledObject") == []
