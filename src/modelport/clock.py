"""The one clock: aware UTC times, for every record modelport writes (a base module: it
imports nothing of modelport, so any layer may use it)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Aware UTC now."""
    return datetime.now(UTC)
