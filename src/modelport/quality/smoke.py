"""Contract smoke tests: metadata, one prediction with example arguments, one tiny training.

The prediction goes through the same steps as a served request (``prepare`` validates the
arguments, ``predict`` runs the model and encodes its result by its declared type). The training
runs as a real job: recorded in a throw-away SQLite store and run in its own process by the local
executor, exactly as ``modelport train`` runs it, with artifacts written to a temporary
directory. :func:`predict_with_examples` and :func:`train_once` are also what a module's own tests
call (the ``modelport new`` template does).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelport.contract.base import JSON_MEDIA_TYPE, Prediction, RawArgs, ServedModel, Signature
from modelport.errors import ModelportError, NotImplementedByModel
from modelport.quality.examples import example_arguments, guessed_arguments
from modelport.quality.report import CheckResult, Status
from modelport.runtime.runner import warm_model

if TYPE_CHECKING:
    from modelport.jobs.domain import Job

#: Seconds a smoke training may take before it is cancelled and the check fails.
TRAIN_TIMEOUT = 300.0
_POLL = 0.1


@dataclass
class TrainingRun:
    """A finished smoke training: the job record, the artifacts it wrote, its log lines."""

    job: Job
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """Whether the job ended in ``succeeded``."""
        return self.job.status.value == "succeeded"


def predict_with_examples(
    served: ServedModel, workdir: Path, *, warm: bool = True
) -> tuple[dict[str, Any], Prediction]:
    """Warm ``served`` and run one prediction with generated example arguments."""
    raw = example_arguments(served.predict_signature, workdir)
    kwargs = served.prepare(raw)
    if warm:
        warm_model(served)
    return raw.json, served.predict(kwargs)


def train_once(
    served: ServedModel,
    workdir: Path,
    args: dict[str, Any] | None = None,
    timeout: float = TRAIN_TIMEOUT,
) -> TrainingRun:
    """Run one training job (``args``, else generated minimal ones) through the local executor."""
    from modelport.jobs.domain import EventKind, Resources
    from modelport.jobs.setup import build_job_service, one_off_replica
    from modelport.settings import Settings

    if served.train_signature is None:
        raise NotImplementedByModel(f"model '{served.name}' cannot be trained (it has no train())")
    workdir.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        executor="local",
        data_dir=workdir,
        database_url=f"sqlite:///{workdir / 'jobs.db'}",
        artifacts_url=str(workdir / "artifacts"),
    )
    raw = RawArgs(json=dict(args)) if args is not None else None
    if raw is None:
        raw = example_arguments(served.train_signature, workdir, training=True)
    service = build_job_service(settings, replica=one_off_replica("check"))
    try:
        job = service.submit(served, raw, resources=Resources(cpu=min(1.0, settings.executor_cpus)))
        service.run_now(job.id)
        deadline = time.monotonic() + timeout
        while not (job := service.get(job.id)).status.finished:
            if time.monotonic() > deadline:
                job = service.cancel(job.id, wait=service.cancel_grace + 2)
                break
            time.sleep(_POLL)
        log = [
            str(e.data.get("line", ""))
            for e in service.events(job.id, kinds=[EventKind.LOG], limit=100_000)
        ]
        return TrainingRun(job, service.artifacts(job.id), log)
    finally:
        service.close()


def check_metadata_call(served: ServedModel) -> CheckResult:
    """The model answers its metadata (as ``GET /v2/models/{name}/`` asks it)."""
    name = "contract: metadata"
    try:
        meta = served.metadata()
        json.dumps(meta, default=str)
    except Exception as exc:
        return CheckResult(name, Status.FAILED, f"metadata() raised {type(exc).__name__}: {exc}")
    missing = [key for key in ("description", "version", "license") if not meta.get(key)]
    if missing:
        return CheckResult(
            name,
            Status.WARNING,
            f"model '{served.name}' metadata lacks: {', '.join(missing)}",
            [f"set {key} on the model class" for key in missing],
        )
    return CheckResult(name, Status.PASSED, f"model '{served.name}' {meta.get('version')}")


def _hint(signature: Signature) -> list[str]:
    guessed = guessed_arguments(signature)
    if guessed:
        return [
            f"generated values for {', '.join(guessed)} (required, no examples): declare "
            "Field(..., examples=[...]) with a value that works, and modelport check uses it"
        ]
    if not any(prop.get("examples") for prop in signature.properties.values()):
        return [
            "every argument took its default (none declares examples): declare "
            "Field(..., examples=[...]) on those a real call gives, and modelport check uses them"
        ]
    return []


def check_predict(served: ServedModel, workdir: Path) -> CheckResult:
    """Warm the model and run one prediction with example arguments; fail on any error."""
    name = "contract: predict"
    hint = _hint(served.predict_signature)
    started = time.perf_counter()
    try:
        args, prediction = predict_with_examples(served, workdir)
    except ModelportError as exc:
        details = [f"{k}: {'; '.join(v)}" for k, v in getattr(exc, "errors", {}).items()]
        return CheckResult(name, Status.FAILED, exc.message, details + hint)
    except Exception as exc:
        return CheckResult(name, Status.FAILED, f"{type(exc).__name__}: {exc}", hint)
    seconds = time.perf_counter() - started
    data: dict[str, Any] = {
        "arguments": args,
        "media_type": prediction.media_type,
        "bytes": len(prediction.content),
        "seconds": round(seconds, 3),
    }
    if prediction.media_type.startswith(JSON_MEDIA_TYPE):
        try:
            data["result"] = json.loads(prediction.content)
        except ValueError as exc:
            return CheckResult(name, Status.FAILED, f"the prediction is not valid JSON: {exc}")
    summary = f"{len(prediction.content)} bytes of {prediction.media_type} in {seconds:.2f}s"
    return CheckResult(name, Status.PASSED, summary, data=data)


def check_train(served: ServedModel, workdir: Path, timeout: float = TRAIN_TIMEOUT) -> CheckResult:
    """Run one tiny training as a job; skipped when the model has no train()."""
    name = "contract: train"
    if not served.trainable:
        return CheckResult(name, Status.SKIPPED, "the model has no train()")
    started = time.perf_counter()
    try:
        run = train_once(served, workdir, timeout=timeout)
    except ModelportError as exc:
        details = [f"{k}: {'; '.join(v)}" for k, v in getattr(exc, "errors", {}).items()]
        return CheckResult(name, Status.FAILED, exc.message, details)
    seconds = time.perf_counter() - started
    data = {
        "job": run.job.id,
        "arguments": run.job.args,
        "status": run.job.status.value,
        "result": run.job.result,
        "artifacts": run.artifacts,
        "seconds": round(seconds, 3),
    }
    if not run.succeeded:
        why = run.job.error or run.job.status.value
        assert served.train_signature is not None
        hint = _hint(served.train_signature)
        return CheckResult(name, Status.FAILED, f"the training {why}", run.log[-20:] + hint, data)
    summary = f"one step with {run.job.args} in {seconds:.1f}s, {len(run.artifacts)} artifact(s)"
    return CheckResult(name, Status.PASSED, summary, data=data)
