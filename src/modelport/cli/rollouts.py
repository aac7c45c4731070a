"""``modelport catalog rollout ...``: rollouts of a module's aliases (``modelport.rollouts``).

``start`` (a primary, a canary and its weight, a shadow, a sticky header, the rollback policy),
``weight``, ``shadow``, ``promote``, ``rollback``, ``end``, ``status`` and ``history`` act on the
local catalog, or on a server's with ``--url`` (``$MODELPORT_URL``) and ``--token``, as
``modelport catalog alias`` does; ``--json`` prints the JSON the server answers. A local
``status`` has no live window: that lives in the memory of the server's gateway.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import typer

from modelport.cli.catalog_remote import local_service
from modelport.cli.exits import cli_errors
from modelport.cli.target import OptionalUrl, Token, remote

if TYPE_CHECKING:
    from modelport.rollouts.domain import Rollout
    from modelport.rollouts.service import RolloutService

app = typer.Typer(
    help="Rollouts of an alias: canary weights, blue-green, shadow, rollback, history.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="The module's name.")]
Alias = Annotated[str, typer.Argument(help="The alias under the rollout, e.g. stable.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(parent: typer.Typer) -> None:
    """Add the group to ``modelport catalog``."""
    parent.add_typer(app, name="rollout")


class Rollouts(Protocol):
    """The rollout operations, answered as the server's JSON (locally: the same shape)."""

    def rollout(self, name: str, alias: str) -> dict[str, Any]: ...
    def start_rollout(self, name: str, alias: str, **spec: Any) -> dict[str, Any]: ...
    def set_rollout_weight(self, name: str, alias: str, weight: float) -> dict[str, Any]: ...
    def set_rollout_shadow(self, name: str, alias: str, version: str | None) -> dict[str, Any]: ...
    def promote_rollout(self, name: str, alias: str) -> dict[str, Any]: ...
    def rollback_rollout(
        self, name: str, alias: str, reason: str | None = None
    ) -> dict[str, Any]: ...
    def end_rollout(self, name: str, alias: str) -> dict[str, Any]: ...
    def rollout_history(self, name: str, alias: str) -> list[dict[str, Any]]: ...


def _doc(rollout: Rollout) -> dict[str, Any]:
    return {**rollout.model_dump(mode="json"), "shares": rollout.weights, "live": None}


class LocalRollouts:
    """The local catalog's rollouts, in the server's JSON shape."""

    def __init__(self, service: RolloutService) -> None:
        self.service = service

    def rollout(self, name: str, alias: str) -> dict[str, Any]:
        return _doc(self.service.rollout(name, alias))

    def start_rollout(self, name: str, alias: str, **spec: Any) -> dict[str, Any]:
        from modelport.rollouts.service import RolloutSpec

        given = RolloutSpec.model_validate({k: v for k, v in spec.items() if v is not None})
        return _doc(self.service.start(name, alias, given))

    def set_rollout_weight(self, name: str, alias: str, weight: float) -> dict[str, Any]:
        return _doc(self.service.set_weight(name, alias, weight))

    def set_rollout_shadow(self, name: str, alias: str, version: str | None) -> dict[str, Any]:
        return _doc(self.service.set_shadow(name, alias, version))

    def promote_rollout(self, name: str, alias: str) -> dict[str, Any]:
        return _doc(self.service.promote(name, alias))

    def rollback_rollout(self, name: str, alias: str, reason: str | None = None) -> dict[str, Any]:
        return _doc(self.service.rollback(name, alias, reason))

    def end_rollout(self, name: str, alias: str) -> dict[str, Any]:
        self.service.end(name, alias)
        return {"ended": alias}

    def rollout_history(self, name: str, alias: str) -> list[dict[str, Any]]:
        return [e.model_dump(mode="json") for e in self.service.history(name, alias)]


@contextmanager
def open_rollouts(url: str | None, token: str | None) -> Iterator[Rollouts]:
    """A server's rollouts at ``url``, else the local catalog's (said on stderr)."""
    if url is not None:
        with remote(url, token) as client:
            yield client
        return
    from modelport.rollouts.service import RolloutService

    with cli_errors():
        yield LocalRollouts(RolloutService(local_service()))


def _show(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    shares = ", ".join(f"{v} {share:g} %" for v, share in doc["shares"].items())
    line = f"{doc['module']} {doc['alias']}: {doc['state']} — {shares}"
    if doc.get("shadow"):
        line += f"; shadow {doc['shadow']}"
    typer.echo(line)
    if doc.get("reason"):
        typer.echo(f"  why: {doc['reason']}")
    live = doc.get("live") or {}
    for role in ("primary", "canary", "shadow"):
        stats = live.get(role)
        if stats:
            p95 = f"{stats['p95_ms']:.0f} ms" if stats.get("p95_ms") is not None else "-"
            typer.echo(
                f"  {role} {stats['version']}: {stats['requests']} requests, "
                f"{stats['errors']} errors ({stats['error_rate']:.1%}), p95 {p95}"
            )


@app.command("start")
def start(
    name: Name,
    alias: Alias,
    canary: Annotated[str | None, typer.Option(help="The version under test.")] = None,
    weight: Annotated[float, typer.Option(help="The canary's share, percent.")] = 0.0,
    primary: Annotated[
        str | None, typer.Option(help="The main version (default: where the alias points).")
    ] = None,
    shadow: Annotated[str | None, typer.Option(help="A version getting a copy.")] = None,
    sticky_header: Annotated[
        str | None, typer.Option(help="Same value of this request header, same version.")
    ] = None,
    window: Annotated[float, typer.Option(help="Rollback window, seconds.")] = 60.0,
    min_requests: Annotated[int, typer.Option(help="Canary answers needed to judge.")] = 20,
    error_margin: Annotated[
        float, typer.Option(help="Error rate the canary may exceed the primary's by (0-1).")
    ] = 0.05,
    p95_margin_ms: Annotated[
        float | None, typer.Option(help="Milliseconds its p95 may exceed the primary's by.")
    ] = None,
    no_auto_rollback: Annotated[
        bool, typer.Option("--no-auto-rollback", help="Never roll back automatically.")
    ] = False,
    as_json: AsJson = False,
    url: OptionalUrl = None,
    token: Token = None,
) -> None:
    """Start (or replace) a rollout on an alias."""
    policy = {
        "enabled": not no_auto_rollback,
        "window_seconds": window,
        "min_requests": min_requests,
        "error_rate_margin": error_margin,
        "p95_margin_ms": p95_margin_ms,
    }
    spec = {"primary": primary, "canary": canary, "weight": weight, "shadow": shadow}
    with open_rollouts(url, token) as rollouts:
        doc = rollouts.start_rollout(
            name, alias, **spec, sticky_header=sticky_header, policy=policy
        )
    _show(doc, as_json)


@app.command("weight")
def weight(
    name: Name,
    alias: Alias,
    percent: Annotated[float, typer.Argument(help="The canary's share, 0-100 (100: switch).")],
    as_json: AsJson = False,
    url: OptionalUrl = None,
    token: Token = None,
) -> None:
    """Set the canary's weight (blue-green: 100 switches everything at once)."""
    with open_rollouts(url, token) as rollouts:
        _show(rollouts.set_rollout_weight(name, alias, percent), as_json)


@app.command("shadow")
def shadow(
    name: Name,
    alias: Alias,
    version: Annotated[str | None, typer.Argument(help="The shadow version.")] = None,
    off: Annotated[bool, typer.Option("--off", help="Stop shadowing.")] = False,
    as_json: AsJson = False,
    url: OptionalUrl = None,
    token: Token = None,
) -> None:
    """Copy the alias's traffic to a version whose answers are only recorded (or stop)."""
    if (version is None) != off:
        raise typer.BadParameter("give a VERSION, or --off")
    with open_rollouts(url, token) as rollouts:
        _show(rollouts.set_rollout_shadow(name, alias, version), as_json)


@app.command("promote")
def promote(
    name: Name, alias: Alias, as_json: AsJson = False, url: OptionalUrl = None, token: Token = None
) -> None:
    """Make the canary the primary: the alias names it from now on."""
    with open_rollouts(url, token) as rollouts:
        _show(rollouts.promote_rollout(name, alias), as_json)


@app.command("rollback")
def rollback(
    name: Name,
    alias: Alias,
    reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
    as_json: AsJson = False,
    url: OptionalUrl = None,
    token: Token = None,
) -> None:
    """Send every request back to the primary (the canary's weight goes to 0)."""
    with open_rollouts(url, token) as rollouts:
        _show(rollouts.rollback_rollout(name, alias, reason), as_json)


@app.command("end")
def end(name: Name, alias: Alias, url: OptionalUrl = None, token: Token = None) -> None:
    """End the rollout: the alias stays, naming the primary."""
    with open_rollouts(url, token) as rollouts:
        rollouts.end_rollout(name, alias)
    typer.echo(f"{name}: the rollout on {alias} ended")


@app.command("status")
def status(
    name: Name, alias: Alias, as_json: AsJson = False, url: OptionalUrl = None, token: Token = None
) -> None:
    """Show a rollout: versions, shares, shadow, state, the server's live window."""
    with open_rollouts(url, token) as rollouts:
        _show(rollouts.rollout(name, alias), as_json)


@app.command("history")
def history(
    name: Name, alias: Alias, as_json: AsJson = False, url: OptionalUrl = None, token: Token = None
) -> None:
    """The rollout's audited changes, newest first: who, when, from → to."""
    with open_rollouts(url, token) as rollouts:
        events = rollouts.rollout_history(name, alias)
    if as_json:
        typer.echo(json.dumps(events, indent=2))
        return
    for e in events:
        before, after = e.get("before") or {}, e.get("after") or {}
        moved = [
            f"{key} {before.get(key)} → {after.get(key)}"
            for key in ("primary", "canary", "weight", "shadow", "state")
            if before.get(key) != after.get(key)
        ]
        who = e.get("actor") or "local"
        why = f" ({e['reason']})" if e.get("reason") else ""
        typer.echo(f"{e['at']} {who} {e['action']}: {'; '.join(moved) or 'ended'}{why}")
