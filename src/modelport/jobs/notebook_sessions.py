"""The secrets of the notebooks a replica runs: made when each starts, forgotten when it ends.

When a notebook's process starts it asks, through its job's channel, for its secrets
(:meth:`NotebookSessions.secrets`, the executor's ``notebook`` hook): a random Jupyter token,
which the proxy presents upstream (:mod:`modelport.api.notebooks`) and the browser never needs,
and, when sign-in is on, an API token of the owner's for ``MODELPORT_TOKEN`` — scoped as the
owner's session was when they started it (never ``admin``), expiring with the notebook's
maximum lifetime, and revoked as soon as the job ends (:meth:`release`, the executor's end
hook). They live in this replica's memory only: its sockets are local, so only it can proxy.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from modelport.errors import InvalidInput
from modelport.jobs.domain import JobKind
from modelport.jobs.notebook_paths import notebook_home, socket_dir, socket_path

if TYPE_CHECKING:
    from modelport.auth.tokens import TokenStore
    from modelport.jobs.store import JobStore

log = logging.getLogger(__name__)

#: A notebook's token outlives its maximum lifetime by this much (the job's end revokes it).
TOKEN_SLACK: Final = timedelta(minutes=5)


@dataclass(frozen=True)
class Session:
    """One running notebook's secrets."""

    jupyter_token: str
    owner: str | None
    api_token_id: str | None = None


class NotebookSessions:
    """The running notebooks' secrets on this replica."""

    def __init__(
        self, store: JobStore, tokens: TokenStore | None, platform_url: str, data_dir: Path
    ) -> None:
        """``tokens``: where the owners' notebook tokens are issued (None: sign-in is off, and
        the platform needs none); ``platform_url``: what ``MODELPORT_URL`` says; ``data_dir``:
        the platform's, which holds the notebook homes."""
        self.store = store
        self.data_dir = data_dir
        self.tokens = tokens
        self.platform_url = platform_url
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def secrets(self, job_id: str) -> dict[str, Any]:
        """A notebook job's secrets (its channel's ``notebook`` call): new ones each start."""
        job = self.store.get(job_id)
        if job.kind is not JobKind.NOTEBOOK:
            raise InvalidInput({"op": ["only a notebook job has notebook secrets"]})
        env = {"MODELPORT_URL": self.platform_url}
        token_id = None
        grant = job.args.get("grant") or {}
        if self.tokens is not None and job.owner is not None and grant.get("scopes"):
            issued = self.tokens.issue(
                job.owner,
                f"notebook {job_id}",
                [s for s in grant["scopes"] if s != "admin"] or ["read"],
                timedelta(seconds=float(job.args["max_lifetime"])) + TOKEN_SLACK,
                roles=grant.get("roles", ()),
                groups=grant.get("groups", ()),
                owner_name=grant.get("name"),
            )
            env["MODELPORT_TOKEN"] = issued.token
            token_id = issued.record.id
        session = Session(secrets.token_urlsafe(32), job.owner, token_id)
        with self._lock:
            earlier = self._sessions.get(job_id)
            self._sessions[job_id] = session
        if earlier is not None:  # a re-run of the job: the first run's token goes
            self._revoke(earlier)
        return {
            "jupyter_token": session.jupyter_token,
            "env": env,
            "home": str(notebook_home(self.data_dir, job.owner)),
            "socket": str(socket_path(job_id)),
        }

    def session(self, job_id: str) -> Session | None:
        """The secrets of a notebook running here (None: it does not run here, or no more)."""
        with self._lock:
            return self._sessions.get(job_id)

    def release(self, job_id: str) -> None:
        """Forget a job's secrets, revoke its owner's token and remove its socket's directory
        (the job ended; any job's end is told, a training's changes nothing)."""
        with self._lock:
            session = self._sessions.pop(job_id, None)
        if session is not None:
            self._revoke(session)
            shutil.rmtree(socket_dir(job_id), ignore_errors=True)

    def _revoke(self, session: Session) -> None:
        if self.tokens is None or session.api_token_id is None:
            return
        try:
            self.tokens.revoke(session.api_token_id, None)
        except Exception:  # it expires on its own: log, never fail the job's end
            log.exception("cannot revoke notebook token %s", session.api_token_id)
