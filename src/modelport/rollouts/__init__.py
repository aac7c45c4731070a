"""Rollouts: an alias of a catalog module split between versions (canary, blue-green), with a
shadow copy of its traffic and automatic rollback. See ``docs/rollouts.md``.

``domain`` (the records and their checks, choosing a version), ``store`` (the database),
``service`` (``RolloutService``: authorized, audited changes), ``window`` (the answers of the
last seconds, per replica), ``router`` (``RolloutRouter``: the gateway's hook).
"""
