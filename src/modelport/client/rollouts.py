"""The client's rollouts: ``/catalog/modules/{name}/rollouts/...`` (see ``api/rollouts.py``)."""

from __future__ import annotations

from typing import Any

from modelport.client.transport import Transport, segment


class RolloutCalls:
    """Rollouts of a module's aliases: start, weight, shadow, promote, roll back, end, status
    and history (a part of :class:`Client`); each answers the server's JSON."""

    _transport: Transport

    def _rollout_path(self, name: str, alias: str, tail: str = "") -> str:
        return f"/catalog/modules/{segment(name)}/rollouts/{segment(alias)}{tail}"

    def rollout(self, name: str, alias: str) -> dict[str, Any]:
        """A rollout, with the server's window (``live``)."""
        return self._transport.document("GET", self._rollout_path(name, alias))

    def start_rollout(self, name: str, alias: str, **spec: Any) -> dict[str, Any]:
        """Start (or replace) a rollout: ``primary``, ``canary``, ``weight``, ``shadow``,
        ``sticky_header``, ``policy`` (a dict)."""
        body = {key: value for key, value in spec.items() if value is not None}
        return self._transport.document("PUT", self._rollout_path(name, alias), json=body)

    def set_rollout_weight(self, name: str, alias: str, weight: float) -> dict[str, Any]:
        """Give the canary ``weight`` percent."""
        path = self._rollout_path(name, alias, "/weight")
        return self._transport.document("POST", path, json={"weight": weight})

    def set_rollout_shadow(self, name: str, alias: str, version: str | None) -> dict[str, Any]:
        """Shadow to ``version`` (None: stop)."""
        path = self._rollout_path(name, alias, "/shadow")
        return self._transport.document("POST", path, json={"version": version})

    def promote_rollout(self, name: str, alias: str) -> dict[str, Any]:
        """Make the canary the primary."""
        return self._transport.document("POST", self._rollout_path(name, alias, "/promote"))

    def rollback_rollout(self, name: str, alias: str, reason: str | None = None) -> dict[str, Any]:
        """Send everything back to the primary."""
        path = self._rollout_path(name, alias, "/rollback")
        return self._transport.document("POST", path, json={"reason": reason})

    def end_rollout(self, name: str, alias: str) -> dict[str, Any]:
        """End the rollout (the alias stays at the primary)."""
        return self._transport.document("DELETE", self._rollout_path(name, alias))

    def rollout_history(self, name: str, alias: str) -> list[dict[str, Any]]:
        """The rollout's audited changes, newest first."""
        return self._transport.documents("GET", self._rollout_path(name, alias, "/history"))
