"""One platform for the notebook tests: ``modelport up`` (auth = oidc, bwrap when installed)
trusting a fixture issuer, with API tokens of three users and two logical GPUs.

- alice (also a publisher) and bob: trainers (bob may hold 1 GPU at a time); carol: a user who
  may not train;
- ada: who the issuer signs the browser in as (trainer);
- ``tiny-detector`` (a pilot, installed editable here) in the catalog, to open in JupyterLab,
  and a pipeline ``chain`` (no code to open).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.auth.tokens import SCOPES, TokenStore
from modelport.catalog.setup import build_catalog_service
from modelport.settings import Settings
from tests.api.test_authorization import who
from tests.fixtures.oidc_provider import CLIENT_ID, auth_settings, rsa_key, run_idp
from tests.gateway.conftest import META
from tests.ui.test_browser_platform import SIGNED_IN_GROUPS, start_platform, stop

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROLES = {"alice": ["user", "trainer", "publisher"], "bob": ["user", "trainer"], "carol": ["user"]}


def tiny_wheel(name: str = "tinypkg", version: str = "0.1") -> tuple[str, bytes]:
    """A pure-Python wheel (file name, bytes) whose module says ``ANSWER = 42``: something to
    ``pip install`` without an index."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b"ANSWER = 42\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for path, data in files.items()
    ]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,", ""]).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
    return f"{name}-{version}-py3-none-any.whl", out.getvalue()


@dataclass
class Platform:
    """The running platform: its URL, data directory and each user's headers."""

    base: str
    data: Path
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)  # a browser session's cookie value

    def url(self, path: str) -> str:
        return self.base + path

    def start(self, user: str, **body: Any) -> dict[str, Any]:
        """Open a notebook as ``user``; its job."""
        answer = httpx.post(
            self.url("/jobs"), json={"kind": "notebook", **body}, headers=self.headers[user]
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def wait_ready(self, user: str, job_id: str, limit_s: float = 90) -> dict[str, Any]:
        """The notebook's state once JupyterLab answers through the platform."""
        deadline = time.monotonic() + limit_s
        while True:
            state = httpx.get(self.url(f"/jobs/{job_id}/notebook"), headers=self.headers[user])
            assert state.status_code == 200, state.text
            said = dict(state.json())
            if said["ready"]:
                return said
            assert said["status"] in ("queued", "running"), self.log(user, job_id)
            assert time.monotonic() < deadline, self.log(user, job_id)
            time.sleep(0.2)

    def wait_end(self, user: str, job_id: str, limit_s: float = 60) -> dict[str, Any]:
        """The job once finished."""
        deadline = time.monotonic() + limit_s
        while True:
            job = httpx.get(self.url(f"/jobs/{job_id}"), headers=self.headers[user]).json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return dict(job)
            assert time.monotonic() < deadline, self.log(user, job_id)
            time.sleep(0.2)

    def log(self, user: str, job_id: str) -> str:
        answer = httpx.get(self.url(f"/jobs/{job_id}/logs"), headers=self.headers[user])
        return "\n".join(answer.json().get("lines", [])) if answer.status_code == 200 else ""


@pytest.fixture(scope="package")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data = tmp_path_factory.mktemp("notebooks-data")
    catalog = build_catalog_service(Settings(data_dir=data))
    catalog.publish_directory(EXAMPLES / "tiny-detector", published_by=who("alice"))
    catalog.registry.publish("chain", "1.0.0", META, pipeline={"document": {"steps": []}})
    tokens = TokenStore(catalog.engine)
    with run_idp() as idp:
        idp.publish("a", rsa_key("a1"))
        idp.sign_in_as("a", groups=SIGNED_IN_GROUPS, preferred_username="ada")
        oidc = Settings(**auth_settings(idp, f"sqlite:///{data}/unused.db")).oidc
        assert oidc is not None
        proc, base = start_platform(
            data,
            limit_s=60,
            MODELPORT_AUTH="oidc",
            MODELPORT_OIDC=oidc.model_dump_json(exclude_none=True),
            MODELPORT_OIDC_CLIENT_ID=CLIENT_ID,
            MODELPORT_EXECUTOR_GPUS="2",
            MODELPORT_EXECUTOR_CPUS="4",
            MODELPORT_QUOTAS=json.dumps({"users": {"bob": {"max_gpus": 1}}}),
            MODELPORT_NOTEBOOK_MAX_HOURS="1",
        )
        platform = Platform(base, data)
        for user, roles in ROLES.items():
            scopes = [s for s in SCOPES if s != "admin"]
            issued = tokens.issue(who(user), "test", scopes, roles=roles, owner_name=user)
            platform.headers[user] = {"Authorization": f"Bearer {issued.token}"}
            session = tokens.issue(who(user), "browser session", scopes, roles=roles, session=True)
            platform.sessions[user] = session.token
        catalog.engine.dispose()
        try:
            yield platform
        finally:
            stop(proc)
