"""The docs runner: blocks in order in one shell, failures named by line, markers honoured."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.docs import runner

FENCE = "```"


def document(tmp_path: Path, *parts: str) -> Path:
    path = tmp_path / "guide.md"
    path.write_text("\n".join(parts) + "\n")
    return path


def block(language: str, code: str) -> str:
    return f"{FENCE}{language}\n{code}\n{FENCE}\n"


def run(path: Path, tmp_path: Path) -> runner.Failure | None:
    cwd, scratch = tmp_path / "cwd", tmp_path / "scratch"
    cwd.mkdir()
    scratch.mkdir()
    return runner.run(path, cwd, scratch, dict(os.environ), timeout=60)


def test_blocks_share_a_shell_and_a_directory_and_python_runs_there(tmp_path: Path) -> None:
    path = document(
        tmp_path,
        "# Guide",
        block("bash", "mkdir data && cd data\nNAME=leaf\necho 41 > count.txt"),
        block("text", "this is output, never run: exit 1"),
        block(
            "python",
            "from pathlib import Path\nPath('answer.txt').write_text("
            "str(int(Path('count.txt').read_text()) + 1))",
        ),
        block(
            "bash", 'test "$NAME" = leaf\ntest "$(cat answer.txt)" = 42\ntest "${PWD##*/}" = data'
        ),
    )
    assert run(path, tmp_path) is None
    assert (tmp_path / "cwd" / "data" / "answer.txt").read_text() == "42"


def test_a_python_block_runs_as_pasted_into_python_in_that_directory(tmp_path: Path) -> None:
    path = document(
        tmp_path,
        block("bash", "echo 'ANSWER = 42' > helper.py"),
        block("python", "import helper\nassert helper.ANSWER == 42"),
    )
    assert run(path, tmp_path) is None


def test_a_failing_block_is_named_by_its_line_with_its_output(tmp_path: Path) -> None:
    path = document(
        tmp_path,
        "# Guide",
        "",
        block("bash", "echo one"),
        block("bash", "echo two\nls no-such-file\necho never"),
        block("bash", "touch not-reached"),
    )
    failure = run(path, tmp_path)
    assert failure is not None
    assert failure.block.line == 7
    assert failure.returncode != 0
    assert "two" in failure.output
    assert "never" not in failure.output
    assert "guide.md:7" in str(failure)
    assert not (tmp_path / "cwd" / "not-reached").exists()


def test_a_python_exception_fails_its_block(tmp_path: Path) -> None:
    path = document(tmp_path, block("python", "raise RuntimeError('the job failed')"))
    failure = run(path, tmp_path)
    assert failure is not None
    assert failure.block.language == "python"
    assert "RuntimeError: the job failed" in failure.output


def test_only_a_visible_marker_right_before_a_block_leaves_it_out(tmp_path: Path) -> None:
    path = document(
        tmp_path,
        "<!-- not run: installs from PyPI -->",
        block("bash", "exit 3"),
        "<!-- a comment that is not the marker -->",
        block("bash", "echo ran > ran.txt"),
    )
    [left_out, ran] = runner.blocks(path)
    assert left_out.not_run == "installs from PyPI"
    assert ran.not_run is None
    assert run(path, tmp_path) is None
    assert (tmp_path / "cwd" / "ran.txt").exists()


def test_an_unmarked_server_start_is_refused(tmp_path: Path) -> None:
    path = document(tmp_path, "# Guide", block("bash", "modelport up --port 5000"))
    with pytest.raises(ValueError, match=r"guide\.md:2: this block starts a server"):
        runner.steps(path)


@pytest.fixture
def http_base(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "here.txt").write_text("hello")

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path / "site"), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()


def test_curl_fails_its_block_on_an_http_error(tmp_path: Path, http_base: str) -> None:
    path = document(
        tmp_path,
        block("bash", f"curl {http_base}/here.txt"),
        block("bash", f"curl {http_base}/missing.txt"),
    )
    failure = run(path, tmp_path)
    assert failure is not None
    assert failure.block.line == 5
    assert "404" in failure.output


def test_a_block_that_never_ends_is_stopped_and_named(tmp_path: Path) -> None:
    path = document(tmp_path, block("bash", "echo started\nsleep 600"))
    cwd, scratch = tmp_path / "cwd", tmp_path / "scratch"
    cwd.mkdir()
    scratch.mkdir()
    failure = runner.run(path, cwd, scratch, dict(os.environ), timeout=2)
    assert failure is not None
    assert failure.returncode is None
    assert "started" in failure.output
    assert "ran out of time" in str(failure)
