"""The quality gate on generated module projects, good and broken."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from modelport.errors import NotFound
from modelport.quality import CheckOptions, Report, Status, linters, run_checks
from modelport.scaffold import ProjectOptions, render_project

FAST = CheckOptions(train=False, lint=False)


def project(tmp_path: Path, name: str = "demo-model") -> Path:
    """A fresh project from the template."""
    dest = tmp_path / name
    render_project(ProjectOptions(name, summary="A demo."), dest)
    return dest


def by_name(report: Report) -> dict[str, Status]:
    return {r.name: r.status for r in report.results}


def test_the_template_passes_the_fast_checks(tmp_path: Path) -> None:
    report = run_checks(project(tmp_path), FAST)
    statuses = by_name(report)
    assert statuses == {
        "metadata": Status.PASSED,
        "license": Status.PASSED,
        "project": Status.PASSED,
        "entry point: demo-model": Status.PASSED,
        "contract: metadata": Status.PASSED,
        "contract: predict": Status.PASSED,
        "contract: train": Status.SKIPPED,
    }
    predict = next(r for r in report.results if r.name == "contract: predict")
    assert predict.data["arguments"] == {"x": 2.0}
    assert predict.data["result"]["value"] == pytest.approx(5.0)
    assert not report.failed(strict=True)
    assert "demo_model" not in sys.modules  # the project's code is forgotten afterwards


def test_invalid_metadata_fails_but_the_model_is_still_tried(tmp_path: Path) -> None:
    path = project(tmp_path)
    meta = path / "ai4-metadata.yml"
    meta.write_text(meta.read_text().replace("  - Regression", "  - Fortune telling"))
    report = run_checks(path, FAST)
    statuses = by_name(report)
    assert statuses["metadata"] is Status.FAILED
    assert statuses["project"] is Status.SKIPPED
    assert statuses["contract: predict"] is Status.PASSED
    assert any("tasks.0" in line for line in report.results[0].details)
    assert report.failed()


def test_a_license_is_required_and_must_be_spdx(tmp_path: Path) -> None:
    path = project(tmp_path)
    pyproject = path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('license = "Apache-2.0"\n', ""))
    meta = path / "ai4-metadata.yml"
    meta.write_text(meta.read_text().replace("license: Apache-2.0\n", ""))
    assert by_name(run_checks(path, FAST))["license"] is Status.FAILED

    pyproject.write_text(
        pyproject.read_text().replace("[project]\n", '[project]\nlicense = "Apache 2"\n')
    )
    result = next(r for r in run_checks(path, FAST).results if r.name == "license")
    assert result.status is Status.FAILED
    assert "Apache 2" in result.details[0]


def test_a_missing_license_file_is_a_warning_that_strict_fails(tmp_path: Path) -> None:
    path = project(tmp_path)
    (path / "LICENSE").unlink()
    report = run_checks(path, FAST)
    assert by_name(report)["license"] is Status.WARNING
    assert not report.failed()
    assert report.failed(strict=True)
    assert report.to_dict(strict=True)["passed"] is False


def test_a_model_that_raises_fails_the_predict_check(tmp_path: Path) -> None:
    path = project(tmp_path)
    model = path / "src" / "demo_model" / "model.py"
    model.write_text(
        model.read_text().replace(
            "slope, intercept = self.weights", "1 / 0\n        slope, intercept = self.weights"
        )
    )
    result = next(r for r in run_checks(path, FAST).results if r.name == "contract: predict")
    assert result.status is Status.FAILED
    assert "ZeroDivisionError" in result.summary


def test_an_entry_point_that_does_not_import_fails(tmp_path: Path) -> None:
    path = project(tmp_path)
    pyproject = path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("demo_model.model:", "demo_model.nowhere:"))
    report = run_checks(path, FAST)
    result = next(r for r in report.results if r.name.startswith("entry point"))
    assert result.status is Status.FAILED
    assert "nowhere" in result.summary
    assert "contract: predict" not in by_name(report)


def test_an_image_model_gets_a_png(tmp_path: Path) -> None:
    path = project(tmp_path)
    model = path / "src" / "demo_model" / "model.py"
    text = model.read_text().replace(
        "from modelport import Field,", "from modelport import Field, File,"
    )
    text = text.replace(
        "        x: float = Field(", "        image: File,\n        x: float = Field("
    )
    text = text.replace(
        '"""The estimated ``y`` for ``x``."""',
        '"""The estimated ``y``."""\n        assert image.read_bytes().startswith(b"\\x89PNG")',
    )
    model.write_text(text)
    result = next(r for r in run_checks(path, FAST).results if r.name == "contract: predict")
    assert result.status is Status.PASSED, result.summary


def test_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        run_checks(tmp_path / "absent")
    with pytest.raises(NotFound):
        run_checks(tmp_path)


def test_linters_that_are_not_installed_are_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(linters, "tool_command", lambda name: None)
    report = run_checks(project(tmp_path), CheckOptions(train=False))
    assert by_name(report)["lint: ruff"] is Status.SKIPPED
    assert by_name(report)["security: bandit"] is Status.SKIPPED
    assert "not installed" in report.results[-1].summary
    assert not report.failed()


@pytest.mark.skipif(linters.tool_command("ruff") is None, reason="ruff is not installed")
def test_ruff_findings_are_warnings(tmp_path: Path) -> None:
    path = project(tmp_path)
    (path / "src" / "demo_model" / "extra.py").write_text("import os\n")
    result = linters.check_ruff(path)
    assert result.status is Status.WARNING
    assert result.data["codes"] == {"F401": 1}
    assert result.details[0].startswith("src/demo_model/extra.py:1: F401")


@pytest.mark.skipif(linters.tool_command("bandit") is None, reason="bandit is not installed")
def test_bandit_high_severity_fails_and_tests_are_not_scanned(tmp_path: Path) -> None:
    path = project(tmp_path)
    assert linters.check_bandit(path).status is Status.PASSED  # the tests' asserts are not findings
    (path / "src" / "demo_model" / "shell.py").write_text(
        "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"
    )
    result = linters.check_bandit(path)
    assert result.status is Status.FAILED
    assert result.data["severity"]["HIGH"] == 1


@pytest.mark.slow
def test_the_full_gate_trains_one_step_through_the_local_executor(tmp_path: Path) -> None:
    report = run_checks(project(tmp_path))
    assert not report.failed(strict=True), json.dumps(report.to_dict(), indent=2, default=str)
    train = next(r for r in report.results if r.name == "contract: train")
    assert train.status is Status.PASSED
    assert train.data["arguments"] == {"data": "", "epochs": 1, "lr": 0.05}
    assert train.data["status"] == "succeeded"
    assert [a["name"] for a in train.data["artifacts"]] == ["weights.json"]


@pytest.mark.slow
def test_a_failing_training_fails_the_gate_with_its_log(tmp_path: Path) -> None:
    path = project(tmp_path)
    model = path / "src" / "demo_model" / "model.py"
    model.write_text(
        model.read_text().replace(
            "points = _read_points",
            "print('about to fail')\n"
            "        raise RuntimeError('no data today')\n"
            "        points = _read_points",
        )
    )
    report = run_checks(path, CheckOptions(lint=False))
    train = next(r for r in report.results if r.name == "contract: train")
    assert train.status is Status.FAILED
    assert "no data today" in train.summary
    assert "about to fail" in train.details


def test_a_failure_with_guessed_arguments_says_to_declare_examples(tmp_path: Path) -> None:
    path = project(tmp_path)
    model = path / "src" / "demo_model" / "model.py"
    text = model.read_text().replace(
        '        x: float = Field(ge=-1e6, le=1e6, description="The input value", examples=[2.0]),',
        "        x: float = Field(ge=-1e6, le=1e6),\n        url: str = Field(),",
    )
    text = text.replace(
        '"""The estimated ``y`` for ``x``."""',
        '"""The estimated ``y``."""\n        raise ValueError(url)',
    )
    model.write_text(text)
    result = next(r for r in run_checks(path, FAST).results if r.name == "contract: predict")
    assert result.status is Status.FAILED
    assert result.summary == "ValueError: example"
    assert "generated values for x, url" in result.details[-1]
