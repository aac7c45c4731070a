#!/usr/bin/env python3
"""What an idle queue costs the scheduler: 2,000 queued jobs that cannot start yet.

    .venv/bin/python bench/scheduler_idle.py [--jobs 2000] [--database-url URL]

A full look (read the queue and what runs, order it fairly, try to start) against the check the
scheduler's loop makes every second instead, which reads the queue only when that check says
something changed (jobs/scheduler.py). CPU time of this process, medians of 10 and 100 calls.
Default: SQLite in a temporary directory.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from modelport.db import connect
from modelport.jobs.domain import Job, Resources
from modelport.jobs.executors.local import LocalExecutor
from modelport.jobs.scheduler import Scheduler
from modelport.jobs.store import JobStore


def cpu_ms(call: object, times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.process_time()
        call()  # type: ignore[operator]
        samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--database-url")
    args = ap.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    store = JobStore(connect(url), replica="bench")
    for n in range(args.jobs):  # more CPUs than the executor has: they all wait
        store.create(Job(model="m", model_spec="m", owner=f"u{n % 4}", resources=Resources(cpu=64)))
    scheduler = Scheduler(store, LocalExecutor(store, cpus=2, gpus=0, cancel_grace=1))
    look = cpu_ms(scheduler.tick, 10)
    check = cpu_ms(scheduler._changed, 100)
    print(f"{args.jobs} queued: a full look {look:.1f} ms CPU, the check {check:.2f} ms CPU")
    print(f"idle cost at one check a second: {check / 10:.3f} % of a core (was {look / 10:.1f} %)")


if __name__ == "__main__":
    main()
