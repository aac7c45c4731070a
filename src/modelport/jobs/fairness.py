"""In which order queued jobs start: priorities first, then a fair share between users.

Within one priority, users take turns by **dominant resource fairness** (DRF, Ghodsi et al.
2011): a user's dominant share is the largest fraction of any resource (CPUs, GPUs) their running
jobs hold, and the next job to start is the oldest queued job of the user whose dominant share
is the smallest, counting what the order already placed ahead of it (between equal shares, the
user whose jobs used less lately goes first). One user's burst of 50 GPU
jobs therefore no longer holds the cluster while four other users wait: each user's share of
what runs evens out while they all have work queued. A user's own jobs start oldest first.

Pure functions over job records (no database, no executor): :class:`~modelport.jobs.scheduler.
Scheduler` applies the order, and the job API shows each queued job's place in it.
"""

from __future__ import annotations

import heapq
import math
import statistics
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from modelport.jobs.domain import Job, Resources

#: The owner key of jobs submitted without an owner (the CLI, a trusted caller).
NOBODY = ""


@dataclass(frozen=True)
class Capacity:
    """What the executor has in all: CPUs and GPUs (0 when it has none of a kind)."""

    cpu: float
    gpu: int

    def share(self, cpu: float, gpu: float) -> float:
        """The dominant share of ``cpu`` CPUs and ``gpu`` GPUs of this capacity."""
        shares = [cpu / self.cpu if self.cpu > 0 else 0.0]
        if self.gpu > 0:
            shares.append(gpu / self.gpu)
        return max(shares)


def fair_order(
    queued: Sequence[Job],
    running: Iterable[Job],
    capacity: Capacity,
    recent: Mapping[str, float] | None = None,
) -> list[Job]:
    """``queued`` in the order they should start (see the module's docstring).

    ``recent``: each owner's :func:`recent_usage` (dominant-resource seconds of their jobs that
    ended lately); between owners of equal shares it decides, the one who had less first (else
    the one who submitted first would win every tie, and get more than an equal share).
    """
    history = recent or {}
    used: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for job in running:
        _add(used[job.owner or NOBODY], job.resources)
    by_priority: dict[int, list[Job]] = defaultdict(list)
    for job in queued:
        by_priority[job.priority].append(job)
    order: list[Job] = []
    for priority in sorted(by_priority, reverse=True):
        order += _turns(by_priority[priority], used, capacity, history)
    return order


def _turns(
    jobs: list[Job],
    used: dict[str, list[float]],
    capacity: Capacity,
    history: Mapping[str, float],
) -> list[Job]:
    """One priority's jobs, users taking turns by dominant share (ties: the one with less recent
    use, then the older head)."""
    queues: dict[str, deque[Job]] = defaultdict(deque)
    for job in sorted(jobs, key=lambda j: (j.created_at, j.id)):
        queues[job.owner or NOBODY].append(job)

    def entry(owner: str) -> tuple[float, float, datetime, str, str]:
        head = queues[owner][0]
        share = _share(used[owner], capacity)
        return (share, history.get(owner, 0.0), head.created_at, head.id, owner)

    heap = [entry(owner) for owner in queues]
    heapq.heapify(heap)
    order: list[Job] = []
    while heap:
        owner = heapq.heappop(heap)[-1]
        job = queues[owner].popleft()
        order.append(job)
        _add(used[owner], job.resources)
        if queues[owner]:
            heapq.heappush(heap, entry(owner))
    return order


def recent_usage(ended: Iterable[Job], capacity: Capacity) -> dict[str, float]:
    """Each owner's use of the capacity by ``ended`` jobs: the seconds each ran, weighted by its
    dominant share (a job holding half the GPUs for 10 s counts 5)."""
    usage: dict[str, float] = defaultdict(float)
    for job in ended:
        if job.started_at is None or job.finished_at is None:
            continue
        seconds = max(0.0, (job.finished_at - job.started_at).total_seconds())
        weight = capacity.share(job.resources.cpu, job.resources.gpu)
        usage[job.owner or NOBODY] += seconds * (weight if weight > 0 else 1.0)
    return dict(usage)


def _add(usage: list[float], resources: Resources) -> None:
    usage[0] += resources.cpu
    usage[1] += resources.gpu
    usage[2] += 1


def _share(usage: list[float], capacity: Capacity) -> float:
    """The dominant share; the number of jobs when the capacity is unknown (turns by count)."""
    if capacity.cpu <= 0 and capacity.gpu <= 0:
        return usage[2]
    return capacity.share(usage[0], usage[1])


def estimated_start(
    position: int,
    resources: Resources,
    capacity: Capacity,
    durations: Sequence[float],
    now: datetime,
) -> datetime | None:
    """When the job at ``position`` (1: next) might start: the jobs ahead run in waves of as
    many jobs like it as fit the capacity at once, each wave as long as the median of recent
    runs (``durations``, seconds). None without a history to go on. An estimate, not a
    promise: jobs ahead may need more or less, and run shorter or longer."""
    if not durations:
        return None
    fits = [capacity.cpu / resources.cpu] if resources.cpu > 0 and capacity.cpu > 0 else []
    if resources.gpu > 0 and capacity.gpu > 0:
        fits.append(capacity.gpu / resources.gpu)
    at_once = max(1, math.floor(min(fits))) if fits else 1
    waves = (position - 1) // at_once + 1
    return now + timedelta(seconds=waves * statistics.median(durations))
