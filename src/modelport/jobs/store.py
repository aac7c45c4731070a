"""Persistent job records and their events (SQLAlchemy Core; SQLite or PostgreSQL).

Every status change is a compare-and-set (``UPDATE ... WHERE status IN (allowed sources)``) written
in the same transaction as its event, so concurrent actors (the scheduler, a worker process,
a cancel request) can never half-write a record or make an illegal transition.

Leases: replicas sharing a database each open the store with their own ``replica`` name. A job
started by a replica is leased to it (``lease_owner``, ``lease_expires_at``) and the replica
renews the lease while the job runs (:meth:`JobStore.renew_leases`). Only the holder may end a
running job: a replica that lost the lease (it stalled past the expiry and another replica took
the job over) can no longer record an outcome, so a stale watcher never overwrites a newer
attempt's. A running job whose lease expired was left by a dead replica; any replica takes it
over (:meth:`JobStore.take_over`), one of them only.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    func,
    insert,
    or_,
    select,
    text,
    true,
    update,
)

from modelport.auth.quotas import Usage
from modelport.db.engine import transaction
from modelport.db.locks import database_lock
from modelport.db.tables import job_events, jobs
from modelport.errors import IllegalTransition, NotFound
from modelport.jobs.domain import (
    EventKind,
    Job,
    JobEvent,
    JobKind,
    JobStatus,
    Metric,
    check_transition,
    sources_of,
    utcnow,
)
from modelport.jobs.store_leases import LeaseQueries, to_job

_JOB_COLUMNS = [c.name for c in jobs.columns]


@dataclass(frozen=True)
class JobPage:
    """One page of a job listing."""

    items: list[Job]
    total: int


def _to_event(row: Any) -> JobEvent:
    return JobEvent(
        id=row.id, job_id=row.job_id, kind=EventKind(row.kind), at=row.at, data=row.data
    )


def _lock_job(conn: Connection, job_id: str) -> None:
    """Serialise a job's event writers (PostgreSQL; SQLite has one writer anyway).

    An event's id is taken at INSERT but seen at COMMIT: without this, a reader resuming after
    the newest id it saw could miss an older id committed later by another writer.
    """
    conn.execute(select(jobs.c.id).where(jobs.c.id == job_id).with_for_update())


class JobStore(LeaseQueries):
    """Job records and events in a database.

    ``replica``: this process's name among the replicas sharing the database (None: the only
    one; leases are then neither taken nor checked). ``lease_ttl``: seconds a lease holds
    unless renewed.
    """

    def __init__(self, engine: Engine, replica: str | None = None, lease_ttl: float = 30.0) -> None:
        self.engine = engine
        self.replica = replica
        self.lease_ttl = lease_ttl

    def _tx(self) -> AbstractContextManager[Connection]:
        return transaction(self.engine)

    # -- records ---------------------------------------------------------------------------

    def create(
        self,
        job: Job,
        *,
        admit: Callable[[Usage], None] | None = None,
        window_start: datetime | None = None,
    ) -> Job:
        """Insert a new job (queued) and its first status event.

        With ``admit``, the owner's :meth:`usage` (GPU-hours since ``window_start``) is read in
        the same transaction, after taking a per-owner lock, and handed to ``admit``, which
        raises to refuse the job: two submits of one owner cannot both slip under a quota.
        """
        row = job.model_dump(mode="python")
        row["resources"] = job.resources.model_dump()
        row["status"] = job.status.value
        row["kind"] = job.kind.value
        with self._tx() as conn:
            if admit is not None:
                owner = job.owner or ""
                self._lock_owner(conn, owner)
                admit(self._usage(conn, owner, window_start or utcnow(), utcnow()))
            conn.execute(insert(jobs).values(**{k: row[k] for k in _JOB_COLUMNS}))
            self._event(conn, job.id, EventKind.STATUS, {"status": job.status.value})
        return job

    def _lock_owner(self, conn: Connection, owner: str) -> None:
        """Serialise quota checks of one owner until the transaction ends (across processes)."""
        if self.engine.dialect.name == "postgresql":
            key = zlib.crc32(f"modelport-quota:{owner}".encode())
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        else:
            # SQLite: a write (even of no row) takes the database's one write lock now, not at
            # the INSERT after the reads; other writers wait on the busy timeout
            conn.execute(update(jobs).where(jobs.c.id == "").values(owner=owner))

    def usage(self, owner: str, *, since: datetime, now: datetime | None = None) -> Usage:
        """``owner``'s queued + running jobs, GPUs they hold, GPU-hours used since ``since``."""
        with self._tx() as conn:
            return self._usage(conn, owner, since, now or utcnow())

    @staticmethod
    def _usage(conn: Connection, owner: str, since: datetime, now: datetime) -> Usage:
        active = [JobStatus.QUEUED.value, JobStatus.RUNNING.value]
        # one indexed read (owner) of the jobs that hold something now or ran in the window;
        # GPUs live in the JSON resources column, summed here rather than in dialect SQL
        rows = conn.execute(
            select(jobs.c.status, jobs.c.resources, jobs.c.started_at, jobs.c.finished_at).where(
                jobs.c.owner == owner,
                or_(
                    jobs.c.status.in_(active),
                    and_(
                        jobs.c.started_at.is_not(None),
                        or_(jobs.c.finished_at.is_(None), jobs.c.finished_at >= since),
                    ),
                ),
            )
        ).all()
        count = gpus = 0
        hours = 0.0
        for row in rows:
            gpu = int((row.resources or {}).get("gpu") or 0)
            if row.status in active:
                count += 1
                gpus += gpu
            if gpu and row.started_at is not None:
                start = max(row.started_at, since)
                end = min(row.finished_at or now, now)
                if end > start:
                    hours += gpu * (end - start).total_seconds() / 3600
        return Usage(jobs=count, gpus=gpus, gpu_hours=hours)

    def get(self, job_id: str) -> Job:
        """The job ``job_id``; NotFound if there is none."""
        with self._tx() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"job '{job_id}' not found")
        return to_job(row)

    def find(
        self,
        *,
        model: str | None = None,
        status: Sequence[JobStatus] | None = None,
        owner: str | None = None,
        dismissed: bool | None = None,
        kind: JobKind | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> JobPage:
        """Jobs, newest first, filtered by model, status, owner, dismissal and kind."""
        conditions: list[ColumnElement[bool]] = []
        if kind is not None:
            conditions.append(jobs.c.kind == kind.value)
        if dismissed is not None:
            column = jobs.c.dismissed_at
            conditions.append(column.is_not(None) if dismissed else column.is_(None))
        if model is not None:
            conditions.append(jobs.c.model == model)
        if status:
            conditions.append(jobs.c.status.in_([s.value for s in status]))
        if owner is not None:
            conditions.append(jobs.c.owner == owner)
        where = and_(true(), *conditions)
        query = (
            select(jobs)
            .where(where)
            .order_by(jobs.c.created_at.desc(), jobs.c.id)
            .limit(limit)
            .offset(offset)
        )
        with self._tx() as conn:
            rows = conn.execute(query).all()
            total = conn.execute(select(func.count()).select_from(jobs).where(where)).scalar_one()
        return JobPage([to_job(r) for r in rows], int(total))

    def admission(self) -> AbstractContextManager[None]:
        """The lock replicas sharing a cluster take to admit jobs onto it, one at a time: each
        then sees what the others started (their transitions committed) before it decides."""
        return database_lock(self.engine, "admission")

    def queue_signature(self) -> tuple[Any, ...]:
        """A cheap summary of the queue and what runs (counts, newest times): it changes when a
        job is queued, starts, ends or is cancelled, on any replica (one indexed query)."""
        watched = [JobStatus.QUEUED.value, JobStatus.RUNNING.value]
        query = (
            select(
                jobs.c.status,
                func.count(),
                func.max(jobs.c.created_at),
                func.max(jobs.c.started_at),
            )
            .where(jobs.c.status.in_(watched))
            .group_by(jobs.c.status)
            .order_by(jobs.c.status)
        )
        with self._tx() as conn:
            return tuple(tuple(row) for row in conn.execute(query).all())

    def running(self) -> list[Job]:
        """Every running job, on every replica (what holds the cluster's resources now)."""
        query = select(jobs).where(jobs.c.status == JobStatus.RUNNING.value)
        with self._tx() as conn:
            return [to_job(r) for r in conn.execute(query).all()]

    def ended_since(self, since: datetime) -> list[Job]:
        """Jobs that ran and ended (on their own or cancelled) since ``since``."""
        ended = [JobStatus.SUCCEEDED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value]
        query = select(jobs).where(
            jobs.c.status.in_(ended),
            jobs.c.started_at.is_not(None),
            jobs.c.finished_at >= since,
        )
        with self._tx() as conn:
            return [to_job(r) for r in conn.execute(query).all()]

    def recent_durations(self, limit: int = 20) -> list[float]:
        """How long the last ``limit`` jobs that ended on their own ran (seconds)."""
        ended = [JobStatus.SUCCEEDED.value, JobStatus.FAILED.value]
        query = (
            select(jobs.c.started_at, jobs.c.finished_at)
            .where(
                jobs.c.status.in_(ended),
                jobs.c.started_at.is_not(None),
                jobs.c.finished_at.is_not(None),
            )
            .order_by(jobs.c.finished_at.desc())
            .limit(limit)
        )
        with self._tx() as conn:
            rows = conn.execute(query).all()
        return [max(0.0, (r.finished_at - r.started_at).total_seconds()) for r in rows]

    def queued(self) -> list[Job]:
        """Queued jobs in admission order: highest priority first, then oldest."""
        query = (
            select(jobs)
            .where(jobs.c.status == JobStatus.QUEUED.value)
            .order_by(jobs.c.priority.desc(), jobs.c.created_at, jobs.c.id)
        )
        with self._tx() as conn:
            return [to_job(r) for r in conn.execute(query).all()]

    def transition(self, job_id: str, new: JobStatus, **fields: Any) -> Job:
        """Move a job to ``new`` (if allowed from its current state), setting ``fields`` too.

        With a replica name: a job starting is leased to this replica, and a running job may
        only be ended (or re-queued) by the replica holding its lease.
        """
        values = {"status": new.value, **fields}
        where = [jobs.c.id == job_id, jobs.c.status.in_([s.value for s in sources_of(new)])]
        if self.replica is not None:
            if new is JobStatus.RUNNING:
                values.update(lease_owner=self.replica, lease_expires_at=self._lease_end())
            else:
                values["lease_expires_at"] = None
                where.append(self._holding())
        with self._tx() as conn:
            done = conn.execute(update(jobs).where(*where).values(**values))
            if done.rowcount == 0:
                row = conn.execute(
                    select(jobs.c.status, jobs.c.lease_owner).where(jobs.c.id == job_id)
                ).first()
                if row is None:
                    raise NotFound(f"job '{job_id}' not found")
                check_transition(JobStatus(row.status), new)
                if row.status == JobStatus.RUNNING.value and row.lease_owner != self.replica:
                    raise IllegalTransition(
                        f"job {job_id}: replica {row.lease_owner} holds it now, not "
                        f"{self.replica} (its lease expired and was taken over)"
                    )
                raise IllegalTransition(f"job {job_id}: lost a race to change its status")
            data: dict[str, Any] = {"status": new.value}
            if fields.get("error"):
                data["error"] = fields["error"]
            self._event(conn, job_id, EventKind.STATUS, data)
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).one()
        return to_job(row)

    def update(self, job_id: str, **fields: Any) -> None:
        """Set fields that are not the status (executor_ref, cancel_requested, ...)."""
        with self._tx() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**fields))

    def request_cancel(self, job_id: str) -> Job:
        """Flag a running job for cancellation; Conflict if it already finished."""
        unfinished = [s.value for s in JobStatus if not s.finished]
        with self._tx() as conn:
            done = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(unfinished))
                .values(cancel_requested=True)
            )
            if done.rowcount == 0:
                row = conn.execute(select(jobs.c.status).where(jobs.c.id == job_id)).first()
                if row is None:
                    raise NotFound(f"job '{job_id}' not found")
                raise IllegalTransition(f"job is {row.status}: cannot be cancelled")
        return self.get(job_id)

    # -- progress, metrics, logs ------------------------------------------------------------

    def report(
        self,
        job_id: str,
        *,
        progress: float | None = None,
        message: str | None = None,
        metrics: dict[str, float] | None = None,
        step: int | None = None,
    ) -> None:
        """Record progress and metric points (one transaction, one event each)."""
        at = utcnow()
        with self._tx() as conn:
            _lock_job(conn, job_id)
            if progress is not None or message is not None:
                values: dict[str, Any] = {}
                if progress is not None:
                    values["progress"] = progress
                if message is not None:
                    values["progress_message"] = message
                conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))
                self._event(
                    conn,
                    job_id,
                    EventKind.PROGRESS,
                    {"progress": progress, "message": message},
                    at,
                )
            for name, value in (metrics or {}).items():
                self._event(
                    conn,
                    job_id,
                    EventKind.METRIC,
                    {"name": name, "value": value, "step": step},
                    at,
                )

    def append_logs(self, job_id: str, lines: Sequence[tuple[str, str]]) -> None:
        """Append log lines, each ``(stream, text)``."""
        if not lines:
            return
        at = utcnow()
        with self._tx() as conn:
            _lock_job(conn, job_id)
            conn.execute(
                insert(job_events),
                [
                    {
                        "job_id": job_id,
                        "kind": EventKind.LOG.value,
                        "at": at,
                        "data": {"stream": stream, "line": text},
                    }
                    for stream, text in lines
                ],
            )

    def add_event(self, job_id: str, kind: EventKind, data: dict[str, Any]) -> None:
        """Record one event."""
        with self._tx() as conn:
            _lock_job(conn, job_id)
            self._event(conn, job_id, kind, data)

    @staticmethod
    def _event(
        conn: Connection,
        job_id: str,
        kind: EventKind,
        data: dict[str, Any],
        at: datetime | None = None,
    ) -> None:
        conn.execute(
            insert(job_events).values(job_id=job_id, kind=kind.value, at=at or utcnow(), data=data)
        )

    def events(
        self,
        job_id: str,
        *,
        after: int = 0,
        kinds: Sequence[EventKind] | None = None,
        limit: int = 1000,
    ) -> list[JobEvent]:
        """Events of a job with id > ``after``, oldest first."""
        query = select(job_events).where(job_events.c.job_id == job_id, job_events.c.id > after)
        if kinds:
            query = query.where(job_events.c.kind.in_([k.value for k in kinds]))
        with self._tx() as conn:
            rows = conn.execute(query.order_by(job_events.c.id).limit(limit)).all()
        return [_to_event(r) for r in rows]

    def logs(self, job_id: str, *, offset: int = 0, limit: int = 1000) -> list[str]:
        """Log lines ``offset`` .. ``offset + limit`` of a job."""
        query = (
            select(job_events.c.data)
            .where(job_events.c.job_id == job_id, job_events.c.kind == EventKind.LOG.value)
            .order_by(job_events.c.id)
            .offset(offset)
            .limit(limit)
        )
        with self._tx() as conn:
            return [str(row.data["line"]) for row in conn.execute(query).all()]

    def metrics(self, job_id: str) -> list[Metric]:
        """Every metric point of a job, oldest first."""
        return [
            Metric(name=e.data["name"], value=e.data["value"], step=e.data.get("step"), at=e.at)
            for e in self.events(job_id, kinds=[EventKind.METRIC], limit=1_000_000)
        ]
