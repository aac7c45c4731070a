"""The platform's deployment files (deploy/platform/): they parse, are complete and agree."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from modelport.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "deploy" / "platform"


@pytest.fixture
def no_modelport_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MODELPORT_* variable: they would win over the file being checked."""
    for name in list(os.environ):
        if name.startswith("MODELPORT_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((PLATFORM / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = (PLATFORM / "Dockerfile").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def _args(dockerfile: list[tuple[str, str]], instruction: str) -> list[str]:
    return [rest for word, rest in dockerfile if word == instruction]


def test_compose_services(compose: dict) -> None:
    services = compose["services"]
    assert {"postgres", "modelport"} <= set(services)
    assert "keycloak" not in services  # optional, commented out

    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in postgres["volumes"])

    modelport = services["modelport"]
    assert modelport["build"]["context"] == "../.."
    assert modelport["build"]["dockerfile"] == "deploy/platform/Dockerfile"
    assert (PLATFORM / modelport["build"]["context"] / modelport["build"]["dockerfile"]).is_file()
    assert modelport["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert any(str(p).endswith("5000") for p in modelport["ports"])


def test_compose_environment_and_volumes(compose: dict) -> None:
    modelport = compose["services"]["modelport"]
    env = modelport["environment"]
    assert env["MODELPORT_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in env["MODELPORT_DATABASE_URL"]
    assert env["MODELPORT_AUTH"] == "oidc"  # what allows binding 0.0.0.0
    assert "MODELPORT_PUBLIC_URL" in env
    config = env["MODELPORT_CONFIG"]
    mounts = {v.split(":")[1]: v for v in modelport["volumes"]}
    assert mounts[config] == f"./modelport.yml:{config}:ro"
    assert (PLATFORM / "modelport.yml").is_file()

    data_volume = mounts["/data"].split(":")[0]
    postgres_volume = compose["services"]["postgres"]["volumes"][0].split(":")[0]
    assert {data_volume, postgres_volume} <= set(compose["volumes"])


def test_dockerfile_stages_and_runtime(dockerfile: list[tuple[str, str]]) -> None:
    stages = [rest.split()[-1] for rest in _args(dockerfile, "FROM")]
    assert stages == ["builder", "runtime"]
    assert any("pip install" in r and "uv" in r for r in _args(dockerfile, "RUN"))
    assert any("--from=builder /app/.venv /app/.venv" in r for r in _args(dockerfile, "COPY"))

    users = _args(dockerfile, "USER")
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert _args(dockerfile, "EXPOSE") == ["5000"]
    assert any("/data" in r for r in _args(dockerfile, "VOLUME"))
    assert any("MODELPORT_DATA_DIR=/data" in r for r in _args(dockerfile, "ENV"))

    (healthcheck,) = _args(dockerfile, "HEALTHCHECK")
    assert "/health/ready" in healthcheck
    assert "urllib" in healthcheck
    assert "curl" not in healthcheck

    (cmd,) = _args(dockerfile, "CMD")
    assert cmd.startswith('["modelport", "up"')
    assert '"0.0.0.0"' in cmd


def test_dockerfile_uv_sync_names_existing_extras(dockerfile: list[tuple[str, str]]) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    extras = set(pyproject["project"]["optional-dependencies"])
    syncs = [r for r in _args(dockerfile, "RUN") if "uv sync" in r]
    assert syncs
    for sync in syncs:
        named = re.findall(r"--extra[= ](\S+)", sync)
        assert {"postgres", "examples"} <= set(named)
        assert set(named) <= extras, set(named) - extras
        assert "--locked" in sync
        assert "--no-dev" in sync
    assert (ROOT / "uv.lock").is_file()


def test_dockerfile_copies_exist_in_the_context(dockerfile: list[tuple[str, str]]) -> None:
    """Everything copied from the build context (the repository root) is there."""
    for copy in _args(dockerfile, "COPY"):
        if copy.startswith("--from"):
            continue
        *sources, _dest = copy.split()
        for source in sources:
            assert (ROOT / source).exists(), source


def test_dockerignore_keeps_needed_sources() -> None:
    ignored = (PLATFORM / "Dockerfile.dockerignore").read_text(encoding="utf-8").split()
    assert ".git" in ignored
    assert "**/.venv" in ignored
    for needed in ("src", "examples", "pyproject.toml", "uv.lock", "README.md"):
        assert needed not in ignored


@pytest.mark.usefixtures("no_modelport_env")
def test_example_config_is_accepted() -> None:
    """The example file passes the real validation, alone (no environment needed)."""
    settings = load_settings(PLATFORM / "modelport.yml")

    assert settings.auth == "oidc"
    assert settings.oidc is not None
    issuers = [i.issuer for i in settings.oidc.issuers]
    assert issuers
    assert all(i.startswith("https://") for i in issuers)
    assert settings.oidc_client_id

    rules = settings.oidc.role_rules
    claims = {r.claim for r in rules}
    assert {"eduperson_entitlement", "realm_access.roles", "groups"} <= claims
    granted = {role for r in rules for role in r.roles}
    assert {"user", "trainer", "publisher", "admin"} <= granted

    # the rules do what the comments say
    def roles(claim: str, value: str) -> set[str]:
        return {role for r in rules if r.claim == claim for role in r.roles_for(value)}

    member = "urn:mace:egi.eu:group:vo.example.org:role=member#aai.egi.eu"
    assert roles("eduperson_entitlement", member) == {"user", "group:vo.example.org"}
    assert {"user", "trainer", "publisher", "group:vo.ai4eosc.eu"} <= roles(
        "realm_access.roles", "access:vo.ai4eosc.eu:ap-d"
    )
    assert "trainer" not in roles("realm_access.roles", "access:vo.ai4eosc.eu:ap-b")
    assert "admin" in roles("groups", "/modelport-admins")

    assert settings.quotas.default.max_concurrent_jobs is not None
    assert "vo.example.org" in settings.quotas.groups
    assert settings.max_loaded_models >= 1
    assert settings.model_idle_timeout > 0
