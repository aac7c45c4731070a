"""The scheduler's loop: it looks at the queue only when something changed, on any replica."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from modelport.jobs.domain import Job, Resources
from modelport.jobs.executors.local import LocalExecutor
from modelport.jobs.scheduler import Scheduler
from modelport.jobs.store import JobStore

WAITS = Resources(cpu=64)  # more than the executor has: stays queued


def wait_for(check: Callable[[], bool], limit_s: float = 20) -> bool:
    deadline = time.monotonic() + limit_s
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    return check()


def test_an_unchanged_queue_is_not_read_again_and_a_change_anywhere_is(
    open_engine: Callable[[], Engine], tmp_path: Path
) -> None:
    here = JobStore(open_engine(), replica="here")
    elsewhere = JobStore(open_engine(), replica="elsewhere")  # another replica's view
    for _ in range(3):
        here.create(Job(model="m", model_spec="m", resources=WAITS))
    scheduler = Scheduler(here, LocalExecutor(here, cpus=2, gpus=0, cancel_grace=1), interval=0.02)
    scheduler.start()
    try:
        assert wait_for(lambda: len(scheduler.view.positions) == 3)
        looked = scheduler.view.at
        time.sleep(0.5)  # ~25 checks of an unchanged queue
        assert scheduler.view.at == looked  # none of them read the queue

        added = elsewhere.create(Job(model="m", model_spec="m", resources=WAITS))

        assert wait_for(lambda: added.id in scheduler.view.positions)
        assert scheduler.view.positions[added.id] == 4
    finally:
        scheduler.stop()
