"""``modelport catalog ... --url``: a real server's catalog prints as the local one does."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from click.testing import Result
from typer.testing import CliRunner

from modelport.api import create_app
from modelport.catalog.setup import build_catalog_service, seed_examples
from modelport.cli.catalog import app
from modelport.contract import discovery
from modelport.runtime import ModelRuntime
from modelport.runtime.metrics import ServingMetrics
from modelport.settings import Settings
from tests.cli.test_catalog_cli import git_repo, module, needs_git
from tests.cli.test_cli import free_port

pytestmark = pytest.mark.slow

__all__ = ["module"]  # the fixture, shared with the local tests


class ThreadServer:
    """The real app (catalog on, auth off) under uvicorn in a thread, on ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        settings = Settings(data_dir=data_dir, catalog=True, port=free_port())
        runtime = ModelRuntime([discovery.load("echo")], settings, ServingMetrics())
        runtime.warm_all()
        catalog = build_catalog_service(settings)
        seed_examples(catalog, pilots=False)
        application = create_app(settings, runtime, None, catalog)
        config = uvicorn.Config(
            application, host="127.0.0.1", port=settings.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{settings.port}"

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive(), "the server stopped"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("MODELPORT_DATA_DIR", str(data))  # the local CLI reads the server's store
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("MODELPORT_CATALOG_URL", "MODELPORT_URL", "MODELPORT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return data


@pytest.fixture
def server(data_dir: Path) -> Iterator[ThreadServer]:
    with ThreadServer(data_dir) as running:
        yield running


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def both(server: ThreadServer, *args: str | Path) -> tuple[Result, Result]:
    """The command run locally, then against the server."""
    local, remote = cli(*args), cli(*args, "--url", server.url)
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    return local, remote


def test_reads_print_as_locally(server: ThreadServer) -> None:
    for args in (
        ("search",),
        ("search", "iris", "--library", "Scikit-learn"),
        ("search", "nothing-like-this"),
        ("show", "iris"),
        ("show", "iris", "--version", "latest"),
        ("versions", "iris"),
    ):
        local, remote = both(server, *args)
        assert remote.stdout == local.stdout, args
        assert ("1.0.0" in remote.stdout) != (args[1:2] == ("nothing-like-this",)), args

    local, remote = both(server, "search", "--json")
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    local, remote = both(server, "versions", "iris", "--json")
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    local, remote = both(server, "show", "iris", "--json")
    shown = json.loads(remote.stdout)  # the server's JSON: the module with its latest version
    assert shown["module"]["latest"]["version"] == "1.0.0"
    assert shown["version"] == json.loads(local.stdout)["version"]


def test_the_catalog_url_is_the_one_server_setting(
    server: ThreadServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPORT_DATA_DIR", str(tmp_path / "elsewhere"))
    local = cli("search")
    assert "No modules match." in local.stdout
    assert local.stderr.startswith(f"local catalog store: {tmp_path / 'elsewhere'} ")
    monkeypatch.setenv("MODELPORT_URL", server.url)  # as for jobs: the same server
    remote = cli("search")
    assert "iris" in remote.stdout
    assert remote.stderr.splitlines() == [f"server: {server.url}"]


def test_the_catalog_url_variable_still_works_with_a_warning(
    server: ThreadServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPORT_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("MODELPORT_CATALOG_URL", server.url)
    old = cli("search")
    assert "iris" in old.stdout
    assert old.stderr.splitlines() == [
        "warning: MODELPORT_CATALOG_URL is deprecated: set MODELPORT_URL (or pass --url)",
        f"server: {server.url}",
    ]
    both = cli("search", "--url", server.url)  # the same URL given the new way: no warning
    assert both.stderr.splitlines() == [f"server: {server.url}"]
    monkeypatch.setenv("MODELPORT_URL", "http://127.0.0.1:9")
    ignored = cli("search")  # the new variable wins, and the old one is said to be ignored
    assert ignored.exit_code == 2
    assert ignored.stderr.splitlines()[:2] == [
        "warning: MODELPORT_CATALOG_URL is deprecated and ignored: using http://127.0.0.1:9 "
        "(--url or MODELPORT_URL)",
        "server: http://127.0.0.1:9",
    ]


def test_alias_and_deprecate(server: ThreadServer) -> None:
    aliased = cli("alias", "iris", "stable", "1.0.0", "--url", server.url)
    assert aliased.exit_code == 0, aliased.output
    assert aliased.stdout == "iris: stable → 1.0.0\n"
    assert "stable → 1.0.0" in cli("show", "iris").stdout

    flagged = cli("deprecate", "iris", "--message", "use iris2", "--url", server.url)
    assert flagged.exit_code == 0, flagged.output
    assert flagged.stdout == "iris: deprecated (use iris2)\n"
    local, remote = both(server, "search")
    assert remote.stdout == local.stdout
    assert "No modules match." in remote.stdout
    local, remote = both(server, "search", "--deprecated")
    assert remote.stdout == local.stdout
    assert "(deprecated)" in remote.stdout

    undone = cli("deprecate", "iris", "--undo", "--url", server.url)
    assert undone.stdout == "iris: not deprecated\n"
    assert "deprecated" not in cli("show", "iris").stdout


def test_pull_matches_the_local_pull(
    server: ThreadServer, module: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = cli(
        "publish", module, "--artifact", "weights/model.bin", "--artifact", "labels.txt"
    )
    assert published.exit_code == 0, published.output
    monkeypatch.chdir(tmp_path)
    local = cli("pull", "plant-classifier", "--dest", "here")
    remote = cli("pull", "plant-classifier", "--dest", "there", "--url", server.url)
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    assert remote.stdout.replace("there", "here") == local.stdout
    assert "weights/model.bin (3000 bytes, sha256 ok)" in remote.stdout
    for name in ("weights/model.bin", "labels.txt", "ai4-metadata.yml"):
        assert (tmp_path / "there" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()

    iris = cli("pull", "iris", "--url", server.url)  # no artifacts: the metadata alone
    assert iris.exit_code == 0, iris.output
    assert iris.stdout == "pulled iris 1.0.0 into iris-1.0.0\n"
    assert (tmp_path / "iris-1.0.0" / "ai4-metadata.yml").is_file()

    (tmp_path / "a-file").write_text("")
    clash = cli("pull", "iris", "--dest", "a-file", "--url", server.url)
    assert clash.exit_code == 2
    assert "a-file exists and is not a directory" in clash.stderr


@needs_git
def test_publish_a_git_repository(server: ThreadServer, tmp_path: Path) -> None:
    url = git_repo(tmp_path / "gamma", "gamma-model")
    args = ("--ref", "main", "--version", "1.0.0", "--url", server.url)
    result = cli("publish", url, *args, "--visibility", "group", "--group", "team")
    assert result.exit_code == 0, result.output
    assert result.stdout == "published gamma-model 1.0.0 (0 artifacts)\n"
    doc = json.loads(cli("show", "gamma-model", "--json").stdout)
    assert doc["version"]["source_url"] == url
    assert len(doc["version"]["commit"]) == 40
    assert (doc["module"]["visibility"], doc["module"]["groups"]) == ("group", ["team"])

    again = cli("publish", url, *args)
    assert again.exit_code == 2
    assert "error: 409: " in again.stderr
    assert "Publish it as a new version (--version)." in again.stderr


def test_publish_a_local_directory_to_a_server(server: ThreadServer, module: Path) -> None:
    (module / ".git").mkdir()  # left out of what is sent, as caches are
    (module / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (module / "__pycache__").mkdir()
    (module / "__pycache__" / "x.pyc").write_bytes(b"\0")
    result = cli("publish", module, "--version", "1.2.1", "--url", server.url)
    assert result.exit_code == 0, result.output
    assert result.stdout == "published plant-classifier 1.2.1 (0 artifacts)\n"
    doc = json.loads(cli("show", "plant-classifier", "--json").stdout)
    assert doc["version"]["version"] == "1.2.1"
    assert doc["version"]["source_url"] is None  # it came from nowhere the server could reach
    again = cli("publish", module, "--version", "1.2.1", "--url", server.url)
    assert again.exit_code == 2
    assert "error: 409: " in again.stderr


def test_errors_end_with_the_status(server: ThreadServer, module: Path) -> None:
    missing = (("show", "nope"), ("versions", "nope"), ("pull", "nope"))
    for args in (*missing, ("show", "iris", "--version", "9.9.9")):
        result = cli(*args, "--url", server.url)
        assert result.exit_code == 2, args
        said, error = result.stderr.splitlines()  # where it acted, then what went wrong
        assert said == f"server: {server.url}"
        assert error.startswith("error: 404: "), result.stderr
    alias = cli("alias", "iris", "stable", "9.9.9", "--url", server.url)
    assert alias.exit_code == 2
    assert alias.stderr.splitlines()[1].startswith("error: 404: "), alias.stderr

    with_ref = cli("publish", module, "--ref", "main", "--url", server.url)
    assert with_ref.exit_code == 2
    assert "a local directory has none" in with_ref.stderr
    not_git = cli("publish", "no-such-thing", "--url", server.url)
    assert not_git.exit_code == 2
    assert "is neither a directory nor a git URL" in not_git.stderr
    artifacts = cli("publish", "https://x.test/m.git", "--artifact", "a", "--url", server.url)
    assert artifacts.exit_code == 2
    assert "not supported with --url" in artifacts.stderr


def test_an_unreachable_server_is_a_usage_error(data_dir: Path) -> None:
    result = cli("search", "--url", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 2
    assert "cannot connect to http://127.0.0.1:" in result.stderr
