"""The training facility as the HTTP edge holds it: ready, or still being built.

``modelport serve`` of a trainable model needs the job store only when somebody trains, yet
building it (importing SQLAlchemy and Alembic, opening and migrating the database) costs a third
of a second or more before the server could answer its first prediction. So ``serve`` hands the
edge a :meth:`Facility.deferred` one: it is built in a thread of its own once the server runs,
while predictions are already answered, and the first training request waits for it.
The platform builds its facility before it listens (:meth:`Facility.ready`).

This module imports nothing heavy: only the builder it is given does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from modelport.errors import StoreError

if TYPE_CHECKING:
    from modelport.jobs.service import JobService

log = logging.getLogger(__name__)

#: How long a request waits for a facility still being built before it answers 503.
BUILD_WAIT_S = 120.0


class Facility:
    """A :class:`~modelport.jobs.service.JobService`, or the promise of one."""

    def __init__(
        self, build: Callable[[], JobService] | None = None, service: JobService | None = None
    ) -> None:
        if (build is None) == (service is None):
            raise ValueError("a facility is either built (service) or to build (build)")
        self._build = build
        self._service = service
        self._done = threading.Event()
        self._failed = False
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._lock = threading.Lock()
        if service is not None:
            self._done.set()

    @classmethod
    def ready(cls, service: JobService) -> Facility:
        """A facility already built; :meth:`begin` starts it."""
        return cls(service=service)

    @classmethod
    def deferred(cls, build: Callable[[], JobService]) -> Facility:
        """A facility :meth:`begin` builds (and starts) in the background."""
        return cls(build=build)

    @property
    def is_deferred(self) -> bool:
        """Whether it is built in the background (else it was built before the server)."""
        return self._build is not None

    def begin(self) -> None:
        """Start it: a ready one here (recovery, scheduling), a deferred one in a thread."""
        if self._build is None:
            assert self._service is not None
            self._service.start()
            return
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._construct, name="training-facility", daemon=True
            )
            self._thread.start()

    def _construct(self) -> None:
        assert self._build is not None
        try:
            service = self._build()
            with self._lock:
                if self._stopping:  # the server stopped meanwhile: it never starts
                    service.close()
                    return
                service.start()
                self._service = service
        except Exception:
            log.exception("the training facility could not start")
            self._failed = True
        finally:
            self._done.set()

    def get(self, timeout: float = BUILD_WAIT_S) -> JobService:
        """The service, once built (blocking); StoreError (503) if it could not be."""
        if not self._done.wait(timeout):
            raise StoreError("the training facility is still starting: try again shortly")
        if self._service is None:  # the cause (paths, URLs) is for the server's log only
            raise StoreError("the training facility could not start: see the server's log")
        return self._service

    def stop(self) -> None:
        """Stop it (jobs re-queued as their policy says), waiting for a build under way."""
        with self._lock:
            self._stopping = True
        if self._thread is not None:
            self._thread.join(timeout=BUILD_WAIT_S)
        with self._lock:
            service = self._service
        if service is not None:
            service.stop()
