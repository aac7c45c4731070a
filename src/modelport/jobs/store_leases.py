"""Job leases in the database: the part of :class:`~modelport.jobs.store.JobStore` that says
which replica holds which running job (see that module's docstring for the rules)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select, update

from modelport.db.tables import jobs
from modelport.jobs.domain import Job, JobStatus, Resources, utcnow


def to_job(row: Any) -> Job:
    """A job record as read from its row."""
    data = dict(row._mapping)
    data["resources"] = Resources.model_validate(data["resources"] or {})
    return Job.model_validate(data)


@dataclass(frozen=True)
class TakenOver:
    """A running job this replica now holds, and who held it before (None: nobody, a record
    from before leases existed)."""

    job: Job
    previous_owner: str | None


class LeaseQueries:
    """Renewing, checking and taking over leases; :class:`~modelport.jobs.store.JobStore` is
    one (its ``replica``, ``lease_ttl`` and transactions)."""

    replica: str | None
    lease_ttl: float

    def _tx(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _lease_end(self) -> datetime:
        return utcnow() + timedelta(seconds=self.lease_ttl)

    def _holding(self) -> ColumnElement[bool]:
        """The job is not running, or this replica holds it (or nobody does: an old record)."""
        return or_(
            jobs.c.status != JobStatus.RUNNING.value,
            jobs.c.lease_owner == self.replica,
            jobs.c.lease_owner.is_(None),
        )

    def _mine(self) -> ColumnElement[bool]:
        return and_(jobs.c.status == JobStatus.RUNNING.value, jobs.c.lease_owner == self.replica)

    def renew_leases(self) -> set[str]:
        """Extend the lease of every running job this replica holds; their ids."""
        if self.replica is None:
            return set()
        with self._tx() as conn:
            held = {r.id for r in conn.execute(select(jobs.c.id).where(self._mine())).all()}
            if held:
                conn.execute(
                    update(jobs)
                    .where(self._mine(), jobs.c.id.in_(held))
                    .values(lease_expires_at=self._lease_end())
                )
        return held

    def cancels_requested(self) -> set[str]:
        """Running jobs this replica holds that somebody (on any replica) asked to cancel."""
        if self.replica is None:
            return set()
        query = select(jobs.c.id).where(self._mine(), jobs.c.cancel_requested.is_(True))
        with self._tx() as conn:
            return {r.id for r in conn.execute(query).all()}

    def take_over(self, *, own: bool = False) -> list[TakenOver]:
        """Claim the running jobs left by dead replicas: those whose lease expired (or that never
        had one); with ``own``, also those leased to this replica's name (an earlier run of this
        replica, at its start). Each job is claimed by one replica only (a compare-and-set)."""
        if self.replica is None and not own:
            return []  # the only process: every lease-less running job is its own
        now = utcnow()
        left = or_(jobs.c.lease_expires_at.is_(None), jobs.c.lease_expires_at < now)
        if own and self.replica is not None:
            left = or_(left, jobs.c.lease_owner == self.replica)
        running = jobs.c.status == JobStatus.RUNNING.value
        claimed: list[TakenOver] = []
        with self._tx() as conn:
            found = conn.execute(select(jobs.c.id, jobs.c.lease_owner).where(running, left))
            candidates = found.all()
        for candidate in candidates:
            with self._tx() as conn:
                done = conn.execute(
                    update(jobs)
                    .where(jobs.c.id == candidate.id, running, left)
                    .values(lease_owner=self.replica, lease_expires_at=self._lease_end())
                )
                if done.rowcount == 1:
                    row = conn.execute(select(jobs).where(jobs.c.id == candidate.id)).one()
                    claimed.append(TakenOver(to_job(row), candidate.lease_owner))
        return claimed
