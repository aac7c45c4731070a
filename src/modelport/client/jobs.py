"""The client's training jobs: ``/jobs/...``, their events and artifacts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from modelport import errors
from modelport.client.events import JobEvent, follow_events
from modelport.client.files import jsonable, write_response
from modelport.client.transport import Transport, segment


class JobCalls:
    """Training jobs: submit, follow, list, cancel, retry, artifacts; notebooks (a part of
    :class:`Client`)."""

    _transport: Transport

    def train(
        self,
        model: str,
        /,
        *,
        resources: Mapping[str, Any] | None = None,
        priority: int = 0,
        max_attempts: int = 1,
        version: str | None = None,
        **args: Any,
    ) -> dict[str, Any]:
        """Submit a training job (``args`` are the model's training arguments); the new job.

        ``version`` picks a catalog version or alias on a platform server (default: latest).
        """
        body: dict[str, Any] = {
            "model": model,
            "args": jsonable(args),
            "priority": priority,
            "max_attempts": max_attempts,
        }
        if resources is not None:
            body["resources"] = dict(resources)
        if version is not None:
            body["version"] = version
        return self._transport.document("POST", "/jobs", json=body)

    def notebook(
        self,
        module: str | None = None,
        /,
        *,
        version: str | None = None,
        resources: Mapping[str, Any] | None = None,
        idle_minutes: float | None = None,
        max_hours: float | None = None,
    ) -> dict[str, Any]:
        """Open a notebook (JupyterLab on the platform; on ``module``: its source checked out
        in the home); the new job. See :meth:`wait_notebook`."""
        body: dict[str, Any] = {"kind": "notebook", "model": module, "version": version}
        body |= {"idle_minutes": idle_minutes, "max_hours": max_hours}
        if resources is not None:
            body["resources"] = dict(resources)
        return self._transport.document("POST", "/jobs", json=body)

    def notebook_state(self, job_id: str) -> dict[str, Any]:
        """A notebook's state: ``ready``, ``url`` (JupyterLab, through the platform), limits."""
        return self._transport.document("GET", f"/jobs/{segment(job_id)}/notebook")

    def wait_notebook(
        self, job_id: str, timeout: float = 300, poll: float = 0.25
    ) -> dict[str, Any]:
        """Wait until JupyterLab answers; its state. ``JobFailed`` if the notebook ends first,
        TimeoutError past ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.notebook_state(job_id)
            if state["ready"]:
                return state
            if state["status"] in ("succeeded", "failed", "cancelled"):
                job = self.job(job_id)
                reason = job.get("error") or state["status"]
                raise errors.JobFailed(
                    f"notebook {job_id} ended before it was ready: {reason}", job
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"notebook {job_id} not ready after {timeout:g} s")
            time.sleep(poll)

    def job(self, job_id: str) -> dict[str, Any]:
        """A job: status, progress, result or error, ..."""
        return self._transport.document("GET", f"/jobs/{segment(job_id)}")

    def jobs(
        self,
        model: str | None = None,
        status: str | Sequence[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """A page of jobs, newest first: ``{"jobs": [...], "total", "limit", "offset"}``."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if model is not None:
            params["model"] = model
        if status is not None:
            params["status"] = [status] if isinstance(status, str) else list(status)
        return self._transport.document("GET", "/jobs", params=params)

    def logs(self, job_id: str, offset: int = 0, limit: int = 1000) -> dict[str, Any]:
        """Log lines from ``offset``: ``{"lines": [...], "offset", "next_offset"}``."""
        params = {"offset": offset, "limit": limit}
        return self._transport.document("GET", f"/jobs/{segment(job_id)}/logs", params=params)

    def metrics(self, job_id: str) -> list[dict[str, Any]]:
        """A job's metric points (``name``, ``value``, ``step``, ...)."""
        return self._transport.documents("GET", f"/jobs/{segment(job_id)}/metrics")

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a job (Conflict if it has already finished); the job."""
        return self._transport.document("POST", f"/jobs/{segment(job_id)}/cancel")

    def retry(self, job_id: str) -> dict[str, Any]:
        """Run a finished job again; the new job."""
        return self._transport.document("POST", f"/jobs/{segment(job_id)}/retry")

    def events(self, job_id: str, after: int = 0, *, reconnects: int = 3) -> Iterator[JobEvent]:
        """Follow a job's events after event id ``after``, up to and including the ``end`` event.

        Each event is ``{"id": int, "event": "status"|"progress"|"metric"|"log"|"artifact"|"end",
        "data": dict}``. A dropped connection is resumed with ``Last-Event-ID``, at most
        ``reconnects`` times in a row without a new event in between.
        """
        return follow_events(self._transport, job_id, after, reconnects, deadline=None)

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        on_event: Callable[[JobEvent], object] | None = None,
        *,
        raise_on_failure: bool = True,
    ) -> dict[str, Any]:
        """Follow a job's events until it ends; the final job. TimeoutError past ``timeout`` s.

        A job that ended ``failed`` or ``cancelled`` raises :class:`~modelport.errors.ModelError`
        naming the job, its status and its error; with ``raise_on_failure=False`` it is
        returned like a succeeded one (check its ``status``).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        for event in follow_events(self._transport, job_id, 0, 3, deadline=deadline):
            if on_event is not None:
                on_event(event)
        job = self.job(job_id)
        status = job.get("status")
        if raise_on_failure and status in ("failed", "cancelled"):
            reason = job.get("error") or status
            raise errors.JobFailed(f"job {job_id} ({job.get('model')}) {status}: {reason}", job)
        return job

    def artifacts(self, job_id: str) -> list[dict[str, Any]]:
        """The files a job wrote: ``[{"name", "size", "href"}]``."""
        return self._transport.documents("GET", f"/jobs/{segment(job_id)}/artifacts")

    def download_artifact(self, job_id: str, name: str, dest: Path) -> Path:
        """Stream one of a job's artifacts to ``dest`` (a file, or a directory to write it in)."""
        target = dest / PurePosixPath(name).name if dest.is_dir() else dest
        path = f"/jobs/{segment(job_id)}/artifacts/{quote(name, safe='/')}"
        with self._transport.stream("GET", path) as response:
            write_response(response, target)
        return target
