"""Browser sign-ins between the redirect to the provider and its callback, in the database.

Every replica of the platform can finish a sign-in another started. A pending sign-in is found
by the SHA-256 of its ``state`` and belongs to the browser that started it: the start sets a
random binding in a short-lived HttpOnly cookie, and only the SHA-256 of that binding is stored;
the callback must bring the same cookie (a sign-in link opened in another browser — login CSRF,
session fixation — is refused). Each client (address) holds at most ``per_client`` pending
sign-ins: a flood evicts only the flooder's own oldest, never someone else's.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, insert, select

from modelport.clock import utcnow
from modelport.db.engine import transaction
from modelport.db.tables import pending_signins

PER_CLIENT = 20


def digest(value: str) -> str:
    """SHA-256, hex: what is stored instead of a state or binding."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class PendingLogin:
    """A sign-in between the redirect to the provider and its callback."""

    verifier: str
    nonce: str
    next_path: str
    redirect_uri: str


class PendingSignins:
    """The pending sign-ins table."""

    def __init__(
        self,
        engine: Engine,
        lifetime: timedelta = timedelta(minutes=10),
        per_client: int = PER_CLIENT,
    ) -> None:
        self.engine = engine
        self.lifetime = lifetime
        self.per_client = per_client

    def add(self, state: str, binding: str, client: str, login: PendingLogin) -> None:
        """Remember a sign-in; the client's oldest go first beyond its cap."""
        now = utcnow()
        client = client[:100]
        with transaction(self.engine) as conn:
            conn.execute(delete(pending_signins).where(pending_signins.c.expires_at <= now))
            mine = select(func.count()).where(pending_signins.c.client == client)
            excess = int(conn.execute(mine).scalar_one()) - self.per_client + 1
            if excess > 0:
                oldest = (
                    select(pending_signins.c.state_hash)
                    .where(pending_signins.c.client == client)
                    .order_by(pending_signins.c.expires_at)
                    .limit(excess)
                )
                stale = list(conn.execute(oldest).scalars())
                conn.execute(delete(pending_signins).where(pending_signins.c.state_hash.in_(stale)))
            conn.execute(
                insert(pending_signins).values(
                    state_hash=digest(state),
                    binding_hash=digest(binding),
                    client=client,
                    verifier=login.verifier,
                    nonce=login.nonce,
                    next_path=login.next_path,
                    redirect_uri=login.redirect_uri,
                    expires_at=now + self.lifetime,
                )
            )

    def take(self, state: str, binding: str | None) -> tuple[PendingLogin | None, bool]:
        """Consume the sign-in ``state`` names (once): (it or None, whether this browser began
        it). An unknown or expired state gives (None, False)."""
        now: datetime = utcnow()
        with transaction(self.engine) as conn:
            row = conn.execute(
                select(pending_signins).where(pending_signins.c.state_hash == digest(state))
            ).first()
            if row is None:
                return None, False
            conn.execute(
                delete(pending_signins).where(pending_signins.c.state_hash == row.state_hash)
            )
        if row.expires_at <= now:
            return None, False
        login = PendingLogin(row.verifier, row.nonce, row.next_path, row.redirect_uri)
        same_browser = binding is not None and hmac.compare_digest(
            row.binding_hash, digest(binding)
        )
        return login, same_browser
