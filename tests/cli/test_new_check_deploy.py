"""``modelport new``, ``check`` and ``deploy`` through the command line, with their exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from modelport.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200", "NO_COLOR": "1"})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def project(tmp_path: Path) -> Path:
    code, _, err = invoke(
        "new", "bark-beetle", "--output", str(tmp_path / "bb"), "--summary", "Hi."
    )
    assert code == 0, err
    assert "pip install" in err
    return tmp_path / "bb"


def test_new_writes_the_project(project: Path) -> None:
    assert (project / "src" / "bark_beetle" / "model.py").is_file()
    assert (project / "ai4-metadata.yml").is_file()
    code, out, _ = invoke("catalog", "validate", str(project))
    assert code == 0, out


def test_new_refuses_a_bad_name_and_an_existing_directory(project: Path) -> None:
    code, _, err = invoke("new", "Bad Name", "--output", str(project.parent / "x"))
    assert code == 2
    assert "name" in err
    code, _, err = invoke("new", "bark-beetle", "--output", str(project))
    assert code == 2
    assert "not empty" in err


def test_check_passes_and_reports_json(project: Path) -> None:
    code, out, _ = invoke("check", str(project), "--no-train", "--json", "--strict")
    assert code == 0, out
    report = json.loads(out)
    assert report["passed"] is True
    assert report["strict"] is True
    assert {c["name"] for c in report["checks"]} >= {"metadata", "license", "contract: predict"}


def test_check_prints_one_line_per_check(project: Path) -> None:
    code, out, _ = invoke("check", str(project), "--no-train", "--no-lint")
    assert code == 0
    assert "PASS metadata: 'Bark beetle' is valid" in out
    assert "SKIP contract: train: --no-train" in out
    assert out.rstrip().endswith("passed (6 passed, 1 skipped)")


def test_check_exit_codes(project: Path, tmp_path: Path) -> None:
    (project / "LICENSE").unlink()
    assert invoke("check", str(project), "--no-train", "--no-lint")[0] == 0  # a warning
    code, out, _ = invoke("check", str(project), "--no-train", "--no-lint", "--strict")
    assert code == 1
    assert "WARN license" in out
    (project / "ai4-metadata.yml").write_text("title: only\n")
    code, out, _ = invoke("check", str(project), "--no-train", "--no-lint")
    assert code == 1
    assert "FAIL metadata" in out
    code, _, err = invoke("check", str(tmp_path / "nowhere"))
    assert code == 2
    assert "not a module project" in err


@pytest.mark.parametrize(
    ("platform", "files"),
    [
        ("docker", ["module", "Dockerfile", ".dockerignore"]),
        (
            "kubernetes",
            ["deployment.yaml", "service.yaml", "training-job.yaml", "kustomization.yaml"],
        ),
        ("ray", ["serve-config.yaml"]),
        ("slurm", ["predict.sbatch", "train.sbatch"]),
    ],
)
def test_deploy_writes_the_artifacts(
    project: Path, tmp_path: Path, platform: str, files: list[str]
) -> None:
    out = tmp_path / "out"
    code, stdout, err = invoke(
        "deploy", platform, str(project), "--output", str(out), "--gpus", "1"
    )
    assert code == 0, err
    assert [Path(line).name for line in stdout.splitlines()] == files
    for name in files:
        if name.endswith(".yaml"):
            assert list(yaml.safe_load_all((out / name).read_text()))


def test_deploy_kubernetes_takes_training_arguments(tmp_path: Path) -> None:
    args = ["deploy", "kubernetes", "iris", "-o", str(tmp_path), "--train-arg", "--epochs"]
    code, _, err = invoke(*args, "--train-arg", "3", "--memory-mb", "300", "--replicas", "2")
    assert code == 0, err
    job = yaml.safe_load((tmp_path / "training-job.yaml").read_text())
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["--epochs", "3"]
    deployment = yaml.safe_load((tmp_path / "deployment.yaml").read_text())
    assert deployment["spec"]["replicas"] == 2


def test_deploy_usage_errors(tmp_path: Path) -> None:
    code, _, err = invoke("deploy", "heroku", "iris", "-o", str(tmp_path))
    assert code == 2
    assert "docker, kubernetes, ray, slurm" in err
    code, _, err = invoke("deploy", "docker", "no-such-model", "-o", str(tmp_path))
    assert code == 2
    assert "no model named" in err
    code, _, err = invoke("deploy", "slurm", "iris", "-o", str(tmp_path), "--time", "later")
    assert code == 2
    assert "time limit" in err
