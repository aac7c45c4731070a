"""The training facility held by the HTTP edge: ready, or built in the background (serve)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from modelport.errors import StoreError
from modelport.jobs.executors.local import LocalExecutor
from modelport.jobs.facility import Facility
from modelport.jobs.service import JobService
from modelport.jobs.store import JobStore


class Builder:
    """Builds a real JobService when released; counts what happened to it."""

    def __init__(self, store: JobStore, tmp_path: Path, fail: bool = False) -> None:
        self.store, self.tmp_path, self.fail = store, tmp_path, fail
        self.release = threading.Event()
        self.built: list[JobService] = []

    def __call__(self) -> JobService:
        self.release.wait(30)
        if self.fail:
            raise RuntimeError(f"cannot open {self.tmp_path}/secret.db")
        executor = LocalExecutor(self.store, cpus=1, gpus=0, cancel_grace=1.0)
        service = JobService(self.store, executor, str(self.tmp_path / "artifacts"))
        self.built.append(service)
        return service


def test_a_deferred_facility_is_built_in_the_background_and_waited_for(
    store: JobStore, tmp_path: Path
) -> None:
    build = Builder(store, tmp_path)
    facility = Facility.deferred(build)
    facility.begin()  # returns at once: the build waits for its release

    with pytest.raises(StoreError, match="still starting"):
        facility.get(timeout=0.05)
    build.release.set()
    service = facility.get()

    assert service is build.built[0]
    assert service.scheduler._thread is not None  # started: recovery ran, scheduling runs
    facility.stop()
    assert service.scheduler._thread is None


def test_a_facility_that_cannot_be_built_answers_503_without_its_cause(
    store: JobStore, tmp_path: Path
) -> None:
    build = Builder(store, tmp_path, fail=True)
    build.release.set()
    facility = Facility.deferred(build)
    facility.begin()

    with pytest.raises(StoreError) as refused:
        facility.get()
    assert "could not start" in refused.value.message
    assert str(tmp_path) not in refused.value.message  # paths stay in the server's log
    facility.stop()


def test_a_server_stopping_during_the_build_never_starts_the_facility(
    store: JobStore, tmp_path: Path
) -> None:
    build = Builder(store, tmp_path)
    facility = Facility.deferred(build)
    facility.begin()
    stopper = threading.Thread(target=facility.stop)
    stopper.start()
    build.release.set()
    stopper.join(30)

    assert not stopper.is_alive()
    assert build.built[0].scheduler._thread is None  # built, closed, never started
    with pytest.raises(StoreError, match="could not start"):
        facility.get(timeout=1)


def test_a_ready_facility_starts_with_the_server(store: JobStore, tmp_path: Path) -> None:
    executor = LocalExecutor(store, cpus=1, gpus=0, cancel_grace=1.0)
    service = JobService(store, executor, str(tmp_path / "artifacts"))
    facility = Facility.ready(service)

    assert not facility.is_deferred
    assert facility.get(timeout=0) is service
    facility.begin()
    assert service.scheduler._thread is not None
    facility.stop()
    with pytest.raises(ValueError, match="either built"):
        Facility()
