"""The PyTorch pilot: the shipped network, fine-tuning through real jobs of the training
facility (local executor, worker processes), resuming a killed job's retry from its checkpoint,
and serving the fine-tuned weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")  # installed beside the lock: scripts/torch
pytest.importorskip("image_classifier_torch")

from image_classifier.dataset import digit_image, make_demo_zip  # noqa: E402
from image_classifier_torch.model import MODEL_ARTIFACT  # noqa: E402
from image_classifier_torch.net import PRETRAINED, Classifier  # noqa: E402
from modelport.catalog.files import load_metadata  # noqa: E402
from modelport.contract import discovery  # noqa: E402
from modelport.contract.base import RawArgs, ServedModel  # noqa: E402
from modelport.contract.files import UploadedFile  # noqa: E402
from modelport.contract.typed import MODEL_DIR_ENV  # noqa: E402
from modelport.jobs.domain import EventKind, Job, JobStatus  # noqa: E402
from modelport.jobs.service import JobService  # noqa: E402
from modelport.jobs.setup import build_job_service  # noqa: E402
from modelport.settings import Settings  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
NAME = "image-classifier-torch"


def predict(model: ServedModel, image: Path, **args: object) -> list[dict[str, object]]:
    """Call predict as the server does: an upload plus query arguments."""
    raw = RawArgs(json=dict(args))
    raw.add("image", UploadedFile("image", str(image), "image/png", image.name))
    result: list[dict[str, object]] = json.loads(model.predict(model.prepare(raw)).content)
    return result


@pytest.fixture
def facility(tmp_path: Path) -> Iterator[JobService]:
    """The training facility as ``modelport up`` has it (worker processes, their channels)."""
    service = build_job_service(Settings(data_dir=tmp_path / "data", executor_cpus=2))
    service.start()
    yield service
    service.stop()


def submit(service: JobService, **args: object) -> Job:
    model = discovery.load(NAME)
    return service.submit(model, RawArgs(json=args))


def wait(
    service: JobService, job_id: str, until: Callable[[Job], bool], limit_s: float = 240
) -> Job:
    deadline = time.monotonic() + limit_s
    while not until(job := service.store.get(job_id)):
        assert time.monotonic() < deadline, f"job {job_id}: {job.status}, {job.progress_message}"
        time.sleep(0.05)
    return job


def held_out(tmp_path: Path, digits: tuple[int, ...]) -> list[tuple[Path, str]]:
    """Images of ``digits`` the demo set does not hold (it takes the first 60 of each)."""
    test = make_demo_zip(tmp_path / "test.zip", digits=digits, per_class=15, offset=100)
    with zipfile.ZipFile(test) as archive:
        archive.extractall(tmp_path / "test")
    return [(p, p.parent.name) for p in sorted((tmp_path / "test").glob("*/*.png"))]


def test_the_shipped_network_reads_digits_drawn_as_images(tmp_path: Path) -> None:
    from sklearn.datasets import load_digits

    assert PRETRAINED.stat().st_size < 200_000
    model = discovery.load(NAME)
    model.warm()
    digits = load_digits()
    hits = 0
    for i in range(1747, 1797):
        path = tmp_path / f"{i}.png"
        digit_image(digits.data[i]).save(path)
        top = predict(model, path, top_k=3)
        assert len(top) == 3
        assert top[0]["probability"] >= top[1]["probability"] >= top[2]["probability"]  # type: ignore[operator]
        hits += top[0]["label"] == f"digit-{digits.target[i]}"
    assert hits / 50 > 0.85


@pytest.mark.slow
def test_fine_tuning_through_a_job_then_serving_its_weights(
    facility: JobService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = submit(facility, data="demo", epochs=8, patience=8)
    done = wait(facility, job.id, lambda j: j.status.finished)
    assert done.status is JobStatus.SUCCEEDED, (done.error, facility.store.logs(job.id)[-20:])
    assert done.result is not None
    assert done.result["classes"] == ["digit-0", "digit-1", "digit-7"]
    assert done.result["validation_accuracy"] >= 0.9
    series = facility.store.metrics(job.id)
    assert [m.step for m in series if m.name == "validation_accuracy"] == list(range(1, 9))
    names = {a["name"] for a in facility.artifacts(job.id)}
    assert {MODEL_ARTIFACT, "summary.json", "checkpoints/last.pt"} <= names

    # a version published from the job is served with its artifacts in $MODELPORT_MODEL_DIR
    assert done.artifacts_url is not None
    monkeypatch.setenv(MODEL_DIR_ENV, done.artifacts_url)
    tuned = discovery.load(NAME)
    tuned.warm()
    images = held_out(tmp_path, (0, 1, 7))
    hits = sum(predict(tuned, image)[0]["label"] == label for image, label in images)
    assert hits / len(images) >= 0.9  # 45 images it never saw
    assert len(predict(tuned, images[0][0], top_k=10)) == 3  # only its own classes


@pytest.mark.slow
def test_a_killed_job_retried_resumes_from_its_last_checkpoint(facility: JobService) -> None:
    epochs = 12
    job = submit(facility, data="demo", epochs=epochs, patience=epochs)

    def checkpoints(j: Job) -> int:
        return len(
            [
                e
                for e in facility.store.events(j.id, kinds=[EventKind.ARTIFACT])
                if "checkpoints/" in e.data["name"]
            ]
        )

    running = wait(facility, job.id, lambda j: j.status.finished or checkpoints(j) >= 3)
    assert running.status is JobStatus.RUNNING
    assert running.executor_ref is not None
    os.killpg(int(running.executor_ref.removeprefix("pid:")), signal.SIGKILL)  # a crash
    failed = wait(facility, job.id, lambda j: j.status.finished)
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert "SIGKILL" in failed.error

    retried = facility.retry(job.id)
    done = wait(facility, retried.id, lambda j: j.status.finished)
    assert done.status is JobStatus.SUCCEEDED, (done.error, facility.store.logs(retried.id)[-20:])
    assert done.result is not None
    resumed = done.result["resumed_after_epoch"]
    assert resumed >= 3
    assert done.result["epochs_run"] == epochs - resumed  # fewer epochs run
    assert any("resuming after epoch" in line for line in facility.store.logs(retried.id))


def test_a_checkpoint_of_other_data_is_not_resumed_from() -> None:
    from image_classifier_torch.data import Images
    from image_classifier_torch.fit import FitConfig, fit

    x = torch.rand(40, 1, 32, 32)
    first = Images(x, torch.tensor([0, 1] * 20), ["a", "b"])
    saved: list[bytes] = []
    config = FitConfig(epochs=2, batch_size=8, patience=2)
    cpu = torch.device("cpu")
    fit(Classifier(first.classes), first, config, device=cpu, save_checkpoint=saved.append)
    other = Images(x, torch.tensor([0, 1] * 20), ["c", "d"])
    again = fit(Classifier(other.classes), other, config, device=cpu, resume=saved[-1])
    assert (again.resumed_from, again.epochs_run) == (0, 2)
    same = fit(
        Classifier(first.classes),
        first,
        FitConfig(epochs=3, batch_size=8, patience=3),
        device=cpu,
        resume=saved[-1],
    )
    assert (same.resumed_from, same.epochs_run) == (2, 1)


def test_the_pilot_passes_modelport_check_strict() -> None:
    found = subprocess.run(
        [sys.executable, "-m", "modelport", "check", "--strict", str(PROJECT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert found.returncode == 0, found.stdout + found.stderr
    metadata = load_metadata(PROJECT)
    assert "Transfer Learning" in metadata.tasks
    assert metadata.license == "Apache-2.0"
