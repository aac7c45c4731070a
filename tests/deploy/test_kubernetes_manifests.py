"""The Kubernetes deployment (deploy/kubernetes/): built as kustomize builds it, valid against
Kubernetes' own schemas, confined, and consistent with the code it runs.

``kubectl`` is not needed: :func:`build` is a small kustomize for the subset the files use
(resources, images, namespace) and refuses anything else; where kubectl is installed, its
``kubectl kustomize`` must agree. The slow test at the end starts what the manifests start -- the
migration Job's command, then the Deployment's -- with their environment, on a real PostgreSQL.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate  # type: ignore[import-untyped, unused-ignore]
import pytest
import yaml

from modelport.api.auth import OPEN_PATHS
from modelport.settings import CONFIG_ENV, Settings, load_settings
from tests.jobs.conftest import postgresql_url

__all__ = ["postgresql_url"]  # the fixture: a fresh PostgreSQL database

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
BASE = KUBERNETES / "base"
OVERLAY = KUBERNETES / "overlays" / "example"
SECRET_EXAMPLE = KUBERNETES / "secret.example.yaml"
DOCKERFILE = ROOT / "deploy" / "platform" / "Dockerfile"

#: The Kubernetes version the built objects are validated against (its schemas ship offline
#: with kubernetes-validate): the oldest minor release the manifests promise to work on.
K8S_VERSION = "1.32.0"
SECRET = "modelport-secrets"
KUSTOMIZE_KEYS = {"apiVersion", "kind", "resources", "images", "namespace"}
CLUSTER_SCOPED = {"Namespace"}
#: Environment variables that are not modelport settings, and who reads them.
OTHER_ENV = {
    "FORWARDED_ALLOW_IPS": "uvicorn: addresses trusted for X-Forwarded-*",
    "AWS_ENDPOINT_URL": "botocore (s3fs): the object store's endpoint",
    "AWS_ACCESS_KEY_ID": "botocore (s3fs)",
    "AWS_SECRET_ACCESS_KEY": "botocore (s3fs)",
    "RAY_AUTH_MODE": "Ray: token authentication",
    "RAY_AUTH_TOKEN": "Ray: the token",
    "HOME": "Ray's pods: a writable home (the root filesystem is read-only)",
}
#: MODELPORT_* names that are not Settings fields but are read by modelport.
NOT_FIELDS = {
    CONFIG_ENV,  # the config file, read by load_settings
    # `migrate` is being added to Settings beside this file (auto | wait); allowed by name
    # until it is there, so the manifests can use it already
    "MODELPORT_MIGRATE",
}
SENSITIVE = re.compile(r"SECRET|PASSWORD|TOKEN|KEY|DATABASE_URL|CREDENTIAL")


# -- a small kustomize --------------------------------------------------------------------------


def build(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize directory`` yields, for the keys the files use."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unsupported = set(kustomization) - KUSTOMIZE_KEYS
    if unsupported:
        raise ValueError(f"{directory}: this test's kustomize does not do {sorted(unsupported)}")
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            objects.extend(build(path))
        else:
            documents = yaml.safe_load_all(path.read_text(encoding="utf-8"))
            objects.extend(doc for doc in documents if doc)
    for image in kustomization.get("images", []):
        for obj in objects:
            _set_image(obj, image)
    namespace = kustomization.get("namespace")
    if namespace:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = namespace
    ids = [(obj["kind"], obj["metadata"]["name"]) for obj in objects]
    assert len(ids) == len(set(ids)), f"{directory}: duplicate objects"
    return objects


def split_image(image: str) -> tuple[str, str | None]:
    """(name, tag): a registry's port (host:5000/name) is not a tag."""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return image, None
    return name, tag


def _set_image(node: Any, image: dict[str, str]) -> None:
    """kustomize's images: every container list, at any depth (custom resources too)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                for container in value:
                    name, tag = split_image(container["image"])
                    if name == image["name"]:
                        tag = image.get("newTag", tag)
                        new = image.get("newName", name)
                        container["image"] = f"{new}:{tag}" if tag else new
            else:
                _set_image(value, image)
    elif isinstance(node, list):
        for item in node:
            _set_image(item, image)


# -- what the built objects hold ----------------------------------------------------------------


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return build(BASE)


@pytest.fixture(scope="module")
def overlay() -> list[dict[str, Any]]:
    return build(OVERLAY)


def only(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"{kind} {name or ''}: {len(found)} found"
    return found[0]


def pod_templates(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every pod template, by a readable name: the workloads' and the RayCluster's."""
    templates = {}
    for obj in objects:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in ("Deployment", "Job"):
            templates[name] = obj["spec"]["template"]
        elif obj["kind"] == "RayCluster":
            templates[f"{name}/head"] = obj["spec"]["headGroupSpec"]["template"]
            for group in obj["spec"]["workerGroupSpecs"]:
                templates[f"{name}/{group['groupName']}"] = group["template"]
    return templates


def containers(
    objects: list[dict[str, Any]],
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(where, pod spec, container) for every container of every pod template."""
    for where, template in pod_templates(objects).items():
        spec = template["spec"]
        for container in spec.get("initContainers", []) + spec["containers"]:
            yield f"{where}/{container['name']}", spec, container


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def selected(selector: dict[str, Any], objects: list[dict[str, Any]]) -> list[str]:
    return [
        where
        for where, template in pod_templates(objects).items()
        if selects(selector, template["metadata"]["labels"])
    ]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {var["name"]: var for var in container.get("env", [])}


def platform(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = only(objects, "Deployment", "modelport")["spec"]["template"]["spec"][
        "containers"
    ]
    return dict(container)


# -- the tests ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("directory", [BASE, OVERLAY], ids=["base", "overlay"])
def test_builds_as_kubectl_kustomize_does(directory: Path) -> None:
    done = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    theirs = [doc for doc in yaml.safe_load_all(done.stdout) if doc]

    def key(obj: dict[str, Any]) -> tuple[str, str]:
        return obj["kind"], obj["metadata"]["name"]

    assert sorted(build(directory), key=key) == sorted(theirs, key=key)


def test_kustomize_refuses_what_it_cannot_build(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\npatches: []\n")
    with pytest.raises(ValueError, match="patches"):
        build(tmp_path)


@pytest.mark.parametrize("directory", [BASE, OVERLAY], ids=["base", "overlay"])
def test_every_object_is_valid_kubernetes(directory: Path) -> None:
    """Strict schemas of the pinned version; the RayCluster's pod templates as PodTemplates."""
    errors: list[str] = []
    for obj in build(directory):
        checked: list[dict[str, Any]]
        if obj["kind"] == "RayCluster":
            checked = [
                {
                    "apiVersion": "v1",
                    "kind": "PodTemplate",
                    "metadata": {"name": where},
                    "template": template,
                }
                for where, template in pod_templates([obj]).items()
            ]
        else:
            checked = [obj]
        for item in checked:
            try:
                kubernetes_validate.validate(item, K8S_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = "/".join(str(p) for p in exc.absolute_path)
                name = f"{item['kind']} {item['metadata']['name']}"
                errors.append(f"{name}: {exc.message} at {where}")
    assert not errors, "\n".join(errors)


def test_raycluster_has_a_head_and_a_gpu_worker_group(base: list[dict[str, Any]]) -> None:
    cluster = only(base, "RayCluster")
    assert cluster["apiVersion"] == "ray.io/v1"
    spec = cluster["spec"]
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    (ray,) = [p["version"] for p in lock["package"] if p["name"] == "ray"]
    assert spec["rayVersion"] == ray, "Ray Client needs the image's Ray: the one in uv.lock"

    head = spec["headGroupSpec"]
    assert all(isinstance(v, str) for v in head["rayStartParams"].values())
    (head_container,) = head["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in head_container["ports"]}
    assert {"gcs-server", "dashboard", "client"} <= set(ports)

    groups = spec["workerGroupSpecs"]
    assert groups
    for group in groups:
        assert group["groupName"]
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        assert all(isinstance(v, str) for v in group["rayStartParams"].values())
    gpus = [
        c["resources"]
        for g in groups
        for c in g["template"]["spec"]["containers"]
        if "nvidia.com/gpu" in c["resources"].get("limits", {})
    ]
    assert gpus, "no worker group asks for GPUs"
    for resources in gpus:
        assert int(resources["limits"]["nvidia.com/gpu"]) >= 1
        # an extended resource's request, when given, must equal its limit
        limit = resources["limits"]["nvidia.com/gpu"]
        assert resources.get("requests", {}).get("nvidia.com/gpu", limit) == limit

    # the platform joins the head Service KubeRay creates (<name>-head-svc) as a Ray Client
    env = env_of(platform(base))
    assert env["MODELPORT_EXECUTOR"]["value"] == "ray"
    address = f"ray://{cluster['metadata']['name']}-head-svc:{ports['client']}"
    assert env["MODELPORT_RAY_ADDRESS"]["value"] == address
    for _, _, container in containers([cluster]):
        assert env_of(container)["RAY_AUTH_MODE"]["value"] == env["RAY_AUTH_MODE"]["value"]
        token = env_of(container)["RAY_AUTH_TOKEN"]["valueFrom"]
        assert token == env["RAY_AUTH_TOKEN"]["valueFrom"], "one token for Ray and the platform"


def test_every_pod_is_confined_and_sized(base: list[dict[str, Any]]) -> None:
    """Restricted pod security; requests and limits; a writable /tmp; no service links (they
    would set MODELPORT_PORT=tcp://... from the Service `modelport`, which Settings refuses)."""
    seen = 0
    for where, spec, container in containers(base):
        seen += 1
        pod, own = spec.get("securityContext", {}), container.get("securityContext", {})
        assert own.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, where
        assert own.get("runAsUser", pod.get("runAsUser")) == dockerfile_uid(), where
        seccomp = own.get("seccompProfile", pod.get("seccompProfile"))
        assert seccomp == {"type": "RuntimeDefault"}, where
        assert own["allowPrivilegeEscalation"] is False, where
        assert own["readOnlyRootFilesystem"] is True, where
        assert own["capabilities"]["drop"] == ["ALL"], where
        assert not own["capabilities"].get("add"), where
        assert spec["automountServiceAccountToken"] is False, where
        assert spec["enableServiceLinks"] is False, where
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{where}: {kind}"
        volumes = {v["name"]: v for v in spec["volumes"]}
        tmp = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert tmp, f"{where}: no writable /tmp"
        assert "emptyDir" in volumes[tmp[0]["name"]], where
    assert seen >= 4  # the platform, the migration, the Ray head and a worker


def test_long_running_containers_have_probes(base: list[dict[str, Any]]) -> None:
    for where, _, container in containers(base):
        if where.startswith("Job/"):
            continue  # runs to completion
        assert "readinessProbe" in container, where
        assert "livenessProbe" in container, where


def test_platform_deployment(base: list[dict[str, Any]]) -> None:
    deployment = only(base, "Deployment", "modelport")
    assert deployment["spec"]["replicas"] == 2
    container = platform(base)
    assert container["command"] == ["modelport", "up", "--host", "0.0.0.0", "--port", "5000"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == 5000 == dockerfile_expose()

    probes = {name: container[name]["httpGet"] for name in ("readinessProbe", "livenessProbe")}
    assert probes["readinessProbe"]["path"] == "/health/ready"
    assert probes["livenessProbe"]["path"] == "/health/live"
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    for probe in [*probes.values(), container["startupProbe"]["httpGet"]]:
        assert probe["path"] in OPEN_PATHS, "a probe sends no credentials"
        assert ports[probe["port"]] == 5000

    env = env_of(container)
    assert env["MODELPORT_MIGRATE"]["value"] == "wait"  # the Job migrates, replicas wait
    assert env["MODELPORT_AUTH"]["value"] == "oidc"  # what allows binding 0.0.0.0
    assert int(env["MODELPORT_JOB_CHANNEL_PORT"]["value"]) == ports["job-channel"]

    spec = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    config = Path(env[CONFIG_ENV]["value"])
    configmap = volumes[mounts[str(config.parent)]["name"]]["configMap"]["name"]
    assert config.name in only(base, "ConfigMap", configmap)["data"]
    data = volumes[mounts[env["MODELPORT_DATA_DIR"]["value"]]["name"]]
    claim = data["persistentVolumeClaim"]["claimName"]
    assert only(base, "PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteMany"]

    job = only(base, "Job", "modelport-db-upgrade")["spec"]["template"]["spec"]
    (migration,) = job["containers"]
    assert migration["command"] == ["modelport", "db", "upgrade"]
    assert migration["image"] == container["image"], "the Job migrates to the replicas' schema"
    assert env_of(migration)["MODELPORT_DATABASE_URL"] == env["MODELPORT_DATABASE_URL"]


def test_overlay_pins_one_image_at_a_fixed_tag(
    base: list[dict[str, Any]], overlay: list[dict[str, Any]]
) -> None:
    kustomization = yaml.safe_load((OVERLAY / "kustomization.yaml").read_text(encoding="utf-8"))
    (image,) = kustomization["images"]
    assert {split_image(c["image"])[0] for _, _, c in containers(base)} == {image["name"]}
    built = {c["image"] for _, _, c in containers(overlay)}
    assert len(built) == 1, "the replicas, the Job and Ray run one build"
    name, tag = split_image(built.pop())
    assert name == image["newName"]
    assert tag
    assert tag != "latest"
    for obj in overlay:
        if obj["kind"] not in CLUSTER_SCOPED:
            assert obj["metadata"]["namespace"] == kustomization["namespace"]


def test_secrets_are_referenced_never_inlined(overlay: list[dict[str, Any]]) -> None:
    assert not [o for o in overlay if o["kind"] == "Secret"], "the operator creates the Secret"
    example = yaml.safe_load(SECRET_EXAMPLE.read_text(encoding="utf-8"))
    kubernetes_validate.validate(example, K8S_VERSION, strict=True)
    assert example["metadata"]["name"] == SECRET
    for directory in (BASE, OVERLAY):
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text("utf-8"))
        listed = {(directory / entry).resolve() for entry in kustomization["resources"]}
        assert SECRET_EXAMPLE.resolve() not in listed
    for value in example["stringData"].values():
        assert "CHANGE-ME" in value or "example" in value, f"a real value? {value!r}"

    referenced = set()
    for where, _, container in containers(overlay):
        for name, var in env_of(container).items():
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if SENSITIVE.search(name):
                assert ref, f"{where}: {name} is inlined"
            if ref:
                assert ref["name"] == SECRET, where
                referenced.add(ref["key"])
    assert referenced == set(example["stringData"]), "secret.example.yaml lists every key used"


def test_the_pdb_and_the_service_select_the_platforms_pods(base: list[dict[str, Any]]) -> None:
    deployment = only(base, "Deployment", "modelport")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selects(deployment["spec"]["selector"], labels)
    pdb = only(base, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert selected(pdb["spec"]["selector"], base) == ["Deployment/modelport"]
    service = only(base, "Service", "modelport")
    assert selected({"matchLabels": service["spec"]["selector"]}, base) == ["Deployment/modelport"]
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in platform(base)["ports"]}


def test_network_policies(base: list[dict[str, Any]]) -> None:
    """Each policy and each peer selects pods that exist; the ports are the pods' own."""
    policies = {o["metadata"]["name"]: o["spec"] for o in base if o["kind"] == "NetworkPolicy"}
    pods = set(pod_templates(base))
    deny = policies.pop("modelport-default-deny")
    assert deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny
    assert "egress" not in deny
    assert set(selected(deny["podSelector"], base)) == pods, "every pod starts from nothing"

    opened: dict[str, set[int]] = {}
    for name, spec in policies.items():
        targets = selected(spec["podSelector"], base)
        assert targets, f"{name} selects no pod"
        for rule in spec.get("ingress", []) + spec.get("egress", []):
            for peer in rule.get("from", []) + rule.get("to", []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    assert selected(peer["podSelector"], base), f"{name}: a peer selects no pod"
        for rule in spec.get("ingress", []):
            for port in rule.get("ports", []):
                for target in targets:
                    opened.setdefault(target, set()).add(port["port"])
                    assert port["port"] in container_ports(base, target), f"{name}: {target}"

    assert opened["Deployment/modelport"] == {5000, 5001}  # HTTP, the job channel
    ingress = policies["modelport-platform-ingress"]["ingress"]
    assert [peer["namespaceSelector"] for rule in ingress for peer in rule["from"]] == [
        {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    ]
    egress = policies["modelport-platform-egress"]["egress"]
    ports = {p["port"] for rule in egress for p in rule["ports"]}
    assert {53, 5432, 443, 10001} == ports  # DNS, PostgreSQL, storage + OIDC, Ray Client
    migration = policies["modelport-migration-egress"]["egress"]
    assert {p["port"] for rule in migration for p in rule["ports"]} == {53, 5432}
    assert opened["RayCluster/modelport-ray/head"] >= {10001}  # Ray Client, from the platform
    assert "Job/modelport-db-upgrade" not in opened, "nothing connects to the migration"


def container_ports(objects: list[dict[str, Any]], where: str) -> set[int]:
    template = pod_templates(objects)[where]
    return {p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])}


def test_env_names_are_settings(base: list[dict[str, Any]]) -> None:
    for where, _, container in containers(base):
        for name in env_of(container):
            if name.startswith("MODELPORT_") and name not in NOT_FIELDS:
                field = name.removeprefix("MODELPORT_").lower()
                assert field in Settings.model_fields, f"{where}: {name} is no setting"
            elif not name.startswith("MODELPORT_"):
                assert name in OTHER_ENV, f"{where}: {name}: who reads it?"


def test_configmap_and_literal_env_are_accepted(
    base: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ConfigMap's modelport.yml and the Deployment's literal MODELPORT_* values pass the
    real validation together (secrets apart: they come from the operator's Secret)."""
    for name in list(os.environ):
        if name.startswith("MODELPORT_"):
            monkeypatch.delenv(name)
    config = tmp_path / "modelport.yml"
    config.write_text(only(base, "ConfigMap")["data"]["modelport.yml"], encoding="utf-8")
    literal = {n: v["value"] for n, v in env_of(platform(base)).items() if "value" in v}
    for name, value in literal.items():
        # every setting among them (MODELPORT_MIGRATE too, once Settings has it)
        if name.removeprefix("MODELPORT_").lower() in Settings.model_fields:
            monkeypatch.setenv(name, value)
    settings = load_settings(config)
    assert settings.auth == "oidc"
    assert settings.oidc is not None
    assert all(i.issuer.startswith("https://") for i in settings.oidc.issuers)
    assert settings.executor == "ray"
    assert settings.public_url
    assert settings.public_url.startswith("https://")


@pytest.mark.slow
def test_the_commands_are_real(base: list[dict[str, Any]]) -> None:
    program, *args = platform(base)["command"]
    assert program == "modelport"
    done = modelport(args[0], "--help")
    assert done.returncode == 0, done.stderr
    for flag in (a for a in args if a.startswith("--")):
        assert flag in done.stdout
    if not has_db_command():
        pytest.skip("`modelport db` is not in this modelport yet")
    job = only(base, "Job")["spec"]["template"]["spec"]["containers"][0]["command"]
    done = modelport(*job[1:], "--help")
    assert done.returncode == 0, done.stderr


def modelport(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed CLI, as the image runs it (its console script), with ``args``."""
    command = [str(Path(sys.executable).parent / "modelport"), *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)


def has_db_command() -> bool:
    """Whether this modelport has ``modelport db`` (added beside these manifests)."""
    return re.search(r"^\W*db\s", modelport("--help").stdout, re.MULTILINE) is not None


# -- the pods' commands, run ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pod_environment(
    objects: list[dict[str, Any]],
    spec: dict[str, Any],
    container: dict[str, Any],
    secrets: dict[str, str],
    root: Path,
) -> dict[str, str]:
    """The container's environment as the pod would have it, each volume a directory under
    ``root`` (a ConfigMap's files written), paths in values moved there."""
    volumes = {v["name"]: v for v in spec["volumes"]}
    moved: dict[str, str] = {}
    for mount in container["volumeMounts"]:
        directory = root / mount["name"]
        directory.mkdir(parents=True, exist_ok=True)
        configmap = volumes[mount["name"]].get("configMap")
        if configmap:
            for file, text in only(objects, "ConfigMap", configmap["name"])["data"].items():
                (directory / file).write_text(text, encoding="utf-8")
        moved[mount["mountPath"]] = str(directory)

    def relocate(value: str) -> str:
        for path, directory in moved.items():
            if value == path or value.startswith(path + "/"):
                return directory + value[len(path) :]
        return value

    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env["TMPDIR"] = moved["/tmp"]
    env["HOME"] = moved.get("/data", moved["/tmp"])  # the image's HOME is /data
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = relocate(var["value"])
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            if ref["key"] in secrets:
                env[var["name"]] = secrets[ref["key"]]
            else:
                assert ref.get("optional"), f"{var['name']}: the Secret lacks {ref['key']}"
    return env


@pytest.mark.slow
def test_the_job_migrates_and_the_waiting_replica_then_starts(
    base: list[dict[str, Any]], postgresql_url: str, tmp_path: Path
) -> None:
    """A replica started first waits (MODELPORT_MIGRATE=wait); the migration Job's command
    with its environment migrates; the replica becomes ready, its probes open.

    Ray apart: there is no Ray cluster here, so this replica trains locally."""
    if not has_db_command():
        pytest.skip("`modelport db` is not in this modelport yet")
    secrets = {
        "database-url": postgresql_url,
        "artifacts-url": str(tmp_path / "object-store" / "artifacts"),
        "catalog-artifacts-url": str(tmp_path / "object-store" / "catalog"),
        "ray-auth-token": "0" * 64,
    }
    deployment = only(base, "Deployment", "modelport")["spec"]["template"]["spec"]
    container = copy.deepcopy(platform(base))
    env = pod_environment(base, deployment, container, secrets, tmp_path / "replica")
    env["MODELPORT_EXECUTOR"] = "local"
    del env["MODELPORT_RAY_ADDRESS"]
    env["MODELPORT_JOB_CHANNEL_PORT"] = str(free_port())
    port = free_port()
    command = [*container["command"]]
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    log = (tmp_path / "replica.log").open("w")
    replica = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        job = only(base, "Job")["spec"]["template"]["spec"]
        (migration,) = job["containers"]
        job_env = pod_environment(base, job, migration, secrets, tmp_path / "job")
        done = subprocess.run(
            migration["command"],
            check=False,
            env=job_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "migrated" in done.stdout

        url = f"http://127.0.0.1:{port}"
        ready = wait_ready(f"{url}/health/ready", replica, limit=120)
        assert ready, (tmp_path / "replica.log").read_text()
        assert httpx.get(f"{url}/health/live", timeout=5).status_code == 200
        assert httpx.get(f"{url}/jobs", timeout=5).status_code == 401  # auth is on
    finally:
        replica.terminate()
        try:
            replica.wait(timeout=30)
        except subprocess.TimeoutExpired:
            replica.kill()
            replica.wait()
        log.close()


def wait_ready(url: str, process: subprocess.Popen[bytes], limit: float) -> bool:
    """Poll ``url`` until it answers 200 (True), the process exits or ``limit`` s pass."""
    import time

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    return False


def dockerfile_uid() -> int:
    found = re.search(r"useradd [^\n]*--uid (\d+)", DOCKERFILE.read_text(encoding="utf-8"))
    assert found
    return int(found.group(1))


def dockerfile_expose() -> int:
    found = re.search(r"^EXPOSE (\d+)$", DOCKERFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert found
    return int(found.group(1))
