"""Deployment artifacts: Dockerfile and context, Kubernetes manifests, Slurm scripts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from modelport.deploy import DeployOptions, Platform, resolve_target, write_artifacts
from modelport.deploy.target import dns_label
from modelport.errors import NotFound
from modelport.scaffold import ProjectOptions, render_project


@pytest.fixture
def module(tmp_path: Path) -> Path:
    dest = tmp_path / "leaf-counter"
    render_project(ProjectOptions("leaf-counter"), dest)
    (dest / ".venv").mkdir()
    (dest / ".venv" / "junk").write_text("x")
    return dest


def test_a_module_directory_is_read_with_its_metadata(module: Path) -> None:
    target = resolve_target(str(module))
    assert (target.name, target.spec, target.version) == ("leaf-counter", "leaf-counter", "0.1.0")
    assert target.source_dir == module.resolve()
    assert (target.cpu, target.memory_mb) == (1.0, 512)


def test_an_installed_model_is_found_by_name_or_import_path() -> None:
    by_name = resolve_target("iris")
    assert by_name.spec == "iris"
    assert by_name.requirement is not None
    assert by_name.requirement.startswith("modelport[examples]==")
    by_path = resolve_target("modelport.examples.iris:IrisClassifier")
    assert by_path.name == "iris-classifier"
    assert by_path.requirement == by_name.requirement
    with pytest.raises(NotFound):
        resolve_target("no-such-model")


def test_docker_copies_the_module_and_writes_a_dockerfile(module: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_artifacts(Platform.DOCKER, str(module), out)
    assert (out / "module" / "pyproject.toml").is_file()
    assert (out / "module" / "src" / "leaf_counter" / "model.py").is_file()
    assert not (out / "module" / ".venv").exists()
    assert "**/.git" in (out / ".dockerignore").read_text().splitlines()
    text = (out / "Dockerfile").read_text()
    assert re.search(r"^ARG CPU_BASE_IMAGE=python:3\.11-slim$", text, re.M)
    assert re.search(r"^ARG GPU_BASE_IMAGE=nvidia/cuda:\S+-runtime-ubuntu24\.04$", text, re.M)
    assert "FROM ${CPU_BASE_IMAGE} AS base-cpu" in text
    assert "FROM ${GPU_BASE_IMAGE} AS base-gpu" in text
    assert "FROM base-${VARIANT}" in text
    assert "COPY module/ /app/module/" in text
    assert re.search(r"^EXPOSE 5000$", text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n.*/health/ready", text, re.M)
    assert re.search(r"^USER modelport$", text, re.M)
    cmd = [line for line in text.splitlines() if line.startswith("CMD ")]
    assert cmd == [
        'CMD ["modelport", "serve", "leaf-counter", "--host", "0.0.0.0", "--port", "5000", '
        '"--allow-insecure-bind"]'
    ]
    assert "# --allow-insecure-bind:" in text  # and why


def test_docker_for_an_installed_model_pip_installs_it(tmp_path: Path) -> None:
    write_artifacts(Platform.DOCKER, "iris", tmp_path)
    text = (tmp_path / "Dockerfile").read_text()
    assert 'RUN pip install "${MODELPORT_SPEC}" "modelport[examples]==' in text
    assert not (tmp_path / "module").exists()


def test_kubernetes_manifests(module: Path, tmp_path: Path) -> None:
    options = DeployOptions(
        gpus=2, replicas=3, train_args=["--epochs", "5"], artifacts_url="s3://b/p", cpu=0.5
    )
    written = write_artifacts(Platform.KUBERNETES, str(module), tmp_path, options)
    docs = {}
    for path in written:
        (doc,) = list(yaml.safe_load_all(path.read_text()))
        docs[doc["kind"]] = doc
    assert set(docs) == {"Deployment", "Service", "Job", "Kustomization"}

    deployment = docs["Deployment"]
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "leaf-counter:0.1.0"
    assert container["command"] == ["modelport", "serve", "leaf-counter"]
    assert "--allow-insecure-bind" in container["args"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    limits = {"cpu": "500m", "memory": "512Mi", "nvidia.com/gpu": 2}
    assert container["resources"] == {"requests": limits, "limits": limits}
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["template"]["metadata"]["labels"] == labels

    service = docs["Service"]
    assert service["spec"]["selector"] == labels
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]

    job = docs["Job"]
    (train,) = job["spec"]["template"]["spec"]["containers"]
    assert train["command"][:3] == ["modelport", "train", "leaf-counter"]
    assert train["command"][-2:] == ["--gpu", "2"]
    assert train["args"] == ["--epochs", "5"]
    assert {"name": "MODELPORT_ARTIFACTS_URL", "value": "s3://b/p"} in train["env"]
    assert train["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert docs["Kustomization"]["resources"] == [
        "deployment.yaml",
        "service.yaml",
        "training-job.yaml",
    ]


def test_kubernetes_without_gpus_or_training(tmp_path: Path) -> None:
    options = DeployOptions(train=False, image="registry.example/iris:1")
    written = write_artifacts(Platform.KUBERNETES, "iris", tmp_path, options)
    assert [p.name for p in written] == ["deployment.yaml", "service.yaml", "kustomization.yaml"]
    deployment = yaml.safe_load((tmp_path / "deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example/iris:1"
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "2048Mi"}


def test_slurm_scripts(module: Path, tmp_path: Path) -> None:
    options = DeployOptions(gpus=1, cpu=4, memory_mb=8000, time_limit="2:00:00", partition="gpu")
    written = write_artifacts(Platform.SLURM, str(module), tmp_path, options)
    assert [p.name for p in written] == ["predict.sbatch", "train.sbatch"]
    predict = (tmp_path / "predict.sbatch").read_text()
    assert predict.startswith("#!/bin/bash\n")
    for line in (
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=8000M",
        "#SBATCH --time=2:00:00",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --partition=gpu",
        'srun modelport predict leaf-counter "$@"',
    ):
        assert line in predict.splitlines()
    train = (tmp_path / "train.sbatch").read_text()
    assert 'srun modelport train leaf-counter --cpu 4 --gpu 1 "$@"' in train.splitlines()
    assert (tmp_path / "train.sbatch").stat().st_mode & 0o111


def test_slurm_refuses_a_bad_time_limit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="time limit"):
        write_artifacts(Platform.SLURM, "iris", tmp_path, DeployOptions(time_limit="soon"))


@pytest.mark.parametrize(
    ("name", "label"),
    [("Plant_Classifier", "plant-classifier"), ("--", "model"), ("a" * 80, "a" * 63)],
)
def test_dns_label(name: str, label: str) -> None:
    assert dns_label(name) == label
