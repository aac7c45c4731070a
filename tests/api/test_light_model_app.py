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


def test_a_model_app_without_auth_loads_no_oidc_database_or_catalog() -> None:
    found = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(found.stdout.strip().splitlines()[-1]) == []
