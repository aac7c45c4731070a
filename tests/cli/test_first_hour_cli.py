"""The CLI a new user meets (issue #13, item 6): help without a model, options that show their
bounds, names normalised, "did you mean", ``deploy`` without ``-o``, a busy port said before any
banner, and one server URL setting, each command saying whether it acts locally or on a server."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from modelport.cli import app
from modelport.cli.arguments import describe
from tests.cli.test_cli import free_port, modelport
from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow

CLEAN_ENV = {
    "COLUMNS": "200",
    "NO_COLOR": "1",
    "MODELPORT_URL": None,
    "MODELPORT_CATALOG_URL": None,
    "MODELPORT_TOKEN": None,
}


def cli(*args: str | Path, **env: str | None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env={**CLEAN_ENV, **env})


def command_paths(command: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group under ``command`` (typer's), as the words that name it."""
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*prefix, name))


# -- 1. --help at every level, without a model ----------------------------------------------------


def test_help_works_at_every_level() -> None:
    paths = list(command_paths(typer.main.get_command(app)))
    for expected in [("predict",), ("jobs", "list"), ("catalog", "search")]:
        assert expected in paths
    for path in paths:
        result = cli(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.stdout, path
        assert "error" not in result.output.lower().split("usage:")[0], path


@pytest.mark.parametrize("command", ["predict", "train"])
def test_a_model_command_helps_without_a_model(command: str) -> None:
    result = modelport(command, "--help")  # as a user types it: a real process
    assert result.returncode == 0, result.stderr
    assert "no model named" not in result.stdout + result.stderr
    assert f"{command} [OPTIONS] [MODEL]" in " ".join(result.stdout.split())
    assert "Installed models:" in result.stdout
    assert "iris" in result.stdout
    assert f"`modelport {command} MODEL --help` lists its options" in result.stdout

    bare = cli(command)  # no model at all: the same help, and a usage error
    assert bare.exit_code == 2
    assert "Installed models:" in bare.stdout

    after_an_option = cli(command, "--help", "iris")
    assert after_an_option.exit_code == 0
    assert "Installed models:" in after_an_option.stdout


# -- 2. generated options show bounds, choices, defaults ------------------------------------------


def test_predict_help_of_a_model_shows_bounds_and_defaults() -> None:
    result = modelport("predict", "iris", "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "--sepal-length NUMBER Sepal length in cm [0<=x<=20] [required]" in text
    assert "How many species to return [1<=x<=3] [default: 3]" in text
    assert "--output/-o FILE" in text  # predict's own options are named too


def test_train_help_of_a_model_shows_exclusive_bounds() -> None:
    result = cli("train", "image-classifier", "--help")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "Gradient step size [0<x<=10] [default: 0.05]" in text
    assert "Share held out to score [0<=x<1] [default: 0.2]" in text
    assert "Passes over the training images [1<=x<=1000] [default: 30]" in text
    assert "--cpu N" in text


def test_choices_flags_and_lower_bounds_are_shown() -> None:
    result = cli("predict", "stream-anomaly", "--help")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "--protocol [tcp|udp|icmp] Transport protocol One of: tcp, udp, icmp." in text
    assert "Bytes received [x>=0] (e.g. 12000)" in text
    assert "Destination port [0<=x<=65535]" in text
    assert "Let normal records update the detector [default: --learn]" in text


def test_describe_shows_lengths_items_and_patterns() -> None:
    text = {"type": "string", "minLength": 1, "maxLength": 40, "pattern": "^[a-z]+$"}
    assert describe(text, required=True) == "[1<=length<=40] [matching ^[a-z]+$] [required]"
    listed = {
        "type": "array",
        "items": {"type": "integer", "minimum": 0, "exclusiveMaximum": 10},
        "maxItems": 5,
        "default": [1, 2],
        "description": "Bins",
    }
    assert describe(listed, required=False) == (
        "Bins Repeatable. [items<=5] [0<=each<10] [default: [1, 2]]"
    )
    optional = {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "null"}]}
    assert describe(optional, required=False) == "[x>0]"
    assert describe({"type": "integer", "maximum": 3}, required=False) == "[x<=3]"


# -- 3. names normalised, said once; invalid ones get a suggestion --------------------------------


def test_new_normalises_the_name_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("new", "my_model")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "my-model" / "src" / "my_model" / "model.py").is_file()
    assert not (tmp_path / "my_model").exists()
    said = [line for line in result.stderr.splitlines() if "'my-model'" in line]
    assert said == ["using the name 'my-model' (module names are lowercase, joined by '-')"]
    assert "{" not in result.output  # no JSON blob

    exact = cli("new", "plain-name", "--output", tmp_path / "plain")
    assert exact.exit_code == 0, exact.output
    assert "using the name" not in exact.output


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("Bad Name", "bad-name"), ("2fast", "model-2fast"), ("class", "class-model")],
)
def test_new_refuses_an_invalid_name_with_a_suggestion(
    tmp_path: Path, name: str, suggestion: str
) -> None:
    result = cli("new", name, "--output", tmp_path / "x")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr  # one plain line
    assert result.stderr.startswith(f"error: '{name}' ")
    assert f"did you mean '{suggestion}'?" in result.stderr
    assert not (tmp_path / "x").exists()


def test_new_reports_a_bad_option_on_one_plain_line(tmp_path: Path) -> None:
    result = cli("new", "fine-name", "--license", "not a licence", "--output", tmp_path / "x")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --license: ")
    assert "{" not in result.stderr


# -- 4. did you mean -------------------------------------------------------------------------------


def test_a_mistyped_command_gets_a_suggestion() -> None:
    result = cli("predcit", "iris")
    assert result.exit_code == 2
    assert "Did you mean 'predict'?" in result.output
    nested = cli("catalog", "serch")
    assert nested.exit_code == 2
    assert "Did you mean 'search'?" in nested.output
    option = cli("predict", "iris", "--sepal-lenght", "5")  # a model's generated option
    assert option.exit_code == 2
    assert "No such option '--sepal-lenght'" in option.stderr
    assert "'--sepal-length'" in option.stderr.split("Did you mean")[1]


@pytest.mark.parametrize("command", ["predict", "train", "metadata"])
def test_a_mistyped_model_gets_close_matches(command: str) -> None:
    result = cli(command, "iriss")
    assert result.exit_code == 2
    assert "no model named 'iriss'; did you mean 'iris'?" in result.stderr
    assert "installed: " in result.stderr
    assert "image-classifier" in result.stderr
    far = cli(command, "zzzzzz")
    assert far.exit_code == 2
    assert "no model named 'zzzzzz' (installed: " in far.stderr  # nothing close: no guess


def test_serve_a_mistyped_model_gets_close_matches() -> None:
    result = modelport("serve", "image-clasifier", "--port", str(free_port()))
    assert result.returncode == 2
    assert "; did you mean 'image-classifier'" in result.stderr
    assert "serving" not in result.stderr


def test_deploy_a_mistyped_platform_or_model_gets_a_suggestion(tmp_path: Path) -> None:
    platform = cli("deploy", "dokcer", "iris", "-o", tmp_path)
    assert platform.exit_code == 2
    assert "did you mean 'docker'?" in platform.stderr
    model = cli("deploy", "docker", "irs", "-o", tmp_path)
    assert model.exit_code == 2
    assert "no model named 'irs'; did you mean 'iris'?" in model.stderr


# -- 5. deploy writes to ./deploy/<platform> by default -------------------------------------------


def test_deploy_writes_under_deploy_platform_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("deploy", "docker", "iris")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "deploy" / "docker" / "Dockerfile").is_file()
    slurm = cli("deploy", "slurm", "iris")
    assert slurm.exit_code == 0, slurm.output
    assert sorted(p.name for p in (tmp_path / "deploy").iterdir()) == ["docker", "slurm"]
    assert "deploy/docker/Dockerfile" in result.stdout
    chosen = cli("deploy", "docker", "iris", "-o", tmp_path / "elsewhere")
    assert chosen.exit_code == 0, chosen.output
    assert (tmp_path / "elsewhere" / "Dockerfile").is_file()


# -- 6. a busy port: one clear line, before any banner ---------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


@pytest.mark.parametrize("command", [["serve", "iris"], ["up", "--no-seed"]])
def test_a_busy_port_is_one_clear_error_before_the_banner(
    busy_port: int, command: list[str], tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "modelport", *command, "--port", str(busy_port)],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(MODELPORT_DATA_DIR=str(tmp_path / "data")),
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: port {busy_port} on 127.0.0.1 is already in use (another modelport or program "
        "listens there): stop it, or pick another port with --port N (or MODELPORT_PORT=N)"
    ]
    assert "Errno" not in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "data").exists()  # refused before building anything


def test_serve_on_port_0_names_the_port_it_got() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelport", "serve", "iris", "--port", "0", "--no-warm"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=subprocess_env(),
    )
    try:
        assert proc.stderr is not None
        banner = ""
        while "modelport serving" not in banner:
            line = proc.stderr.readline()
            assert line, f"the server stopped: {banner}"
            banner += line
        found = re.search(r"on (http://127\.0\.0\.1:(\d+))/v2/models/", banner)
        assert found is not None, banner
        assert found.group(2) != "0"
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"{found.group(1)}/v2/models/")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.05)
        assert answer.status_code == 200
        assert [m["id"] for m in answer.json()["models"]] == ["iris"]
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


# -- 7. one server URL setting; each command says where it acts ----------------------------------


def test_jobs_say_which_server_they_talk_to() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nobody there: the line comes first all the same
    for result in (cli("jobs", "list", "--url", url), cli("jobs", "list", MODELPORT_URL=url)):
        assert result.exit_code == 2
        assert result.stderr.splitlines()[0] == f"server: {url}"
        assert url in result.stderr.splitlines()[1]


def test_the_local_catalog_says_where_its_store_is(tmp_path: Path) -> None:
    result = cli("catalog", "search", MODELPORT_DATA_DIR=str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"local catalog store: {tmp_path} (--url or MODELPORT_URL for a server's)"
    ]
    sqlite = cli(
        "catalog",
        "versions",
        "iris",
        MODELPORT_DATA_DIR=str(tmp_path),
        MODELPORT_DATABASE_URL="postgresql://me:secret@db.example/mp",
    )
    first = sqlite.stderr.splitlines()[0]
    assert first.startswith("local catalog store: postgresql://me:***@db.example/mp")
    assert "secret" not in sqlite.output


def test_train_says_it_uses_the_local_job_store(tmp_path: Path) -> None:
    result = modelport_env(tmp_path, "train", "image-classifier", "--data", "nowhere.zip")
    assert f"local job store: {tmp_path / 'data'}" in result.stderr


def modelport_env(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelport", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(MODELPORT_DATA_DIR=str(tmp_path / "data")),
        check=False,
    )
