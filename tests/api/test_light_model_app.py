"""A process that serves models itself (``serve`` without auth, a catalog module's worker) loads
no more than it needs: not the OIDC stack, the database or the catalog (each costs start time
and memory in every worker)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import subprocess_env

PROBE = """
import json, sys
from modelport.apps.model import model_app
from modelport.contract import discovery
from modelport.settings import Settings
app = model_app(Settings(), [discovery.load("iris"), discovery.load("echo")])
heavy = ("jwt", "cryptography", "sqlalchemy", "httpx", "modelport.catalog", "modelport.jobs.store")
print(json.dumps(sorted(name for name in heavy if name in sys.modules)))
"""


def probe(program: str) -> object:
    """What ``program`` prints last, as JSON, run in a fresh interpreter."""
    found = subprocess.run(
        [sys.executable, "-c", program],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(found.stdout.strip().splitlines()[-1])


def test_a_model_app_without_auth_loads_no_oidc_database_or_catalog() -> None:
    assert probe(PROBE) == []


SERVE_PROBE = """
import json, sys
from modelport.cli.serve import _serving_app
from modelport.settings import Settings
app, names = _serving_app(Settings(), ["trainer"])
heavy = ("sqlalchemy", "alembic", "modelport.jobs.store", "modelport.jobs.service")
print(json.dumps([names, sorted(name for name in heavy if name in sys.modules)]))
"""


def test_serve_of_a_trainable_model_opens_the_job_store_only_once_it_runs() -> None:
    # the job store (SQLAlchemy, Alembic, migrations) is built after the server listens
    assert probe(SERVE_PROBE) == [["trainer"], []]
