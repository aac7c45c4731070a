"""Choosing the sandbox, and what the bwrap command confines (with the real bwrap)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modelport.sandbox import SandboxSpec, SandboxUnavailable, choose_sandbox
from modelport.sandbox.bwrap import BwrapSandbox, python_paths
from modelport.sandbox.none import NoSandbox

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None and os.environ.get("CI") != "true",
    reason="needs bubblewrap (apt-get install bubblewrap); CI installs it",
)


def test_none_runs_the_command_as_it_is() -> None:
    assert NoSandbox().command(["python", "-V"], SandboxSpec()) == ["python", "-V"]
    assert choose_sandbox("none").confines is False


def test_auto_without_bwrap_warns_loudly_and_does_not_confine(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with caplog.at_level(logging.WARNING):
        chosen = choose_sandbox("auto")
    assert chosen.confines is False
    assert "MODULE CODE IS NOT SANDBOXED: bubblewrap (bwrap) is not installed" in caplog.text
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        choose_sandbox("bwrap")


def test_a_bwrap_that_cannot_create_namespaces_is_said_so(tmp_path: Path) -> None:
    broken = tmp_path / "bwrap"
    broken.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n"
    )
    broken.chmod(0o755)
    with pytest.raises(SandboxUnavailable, match="No permissions to creating new namespace"):
        BwrapSandbox(str(broken)).check()


def test_the_python_environment_is_bound_once_each_and_never_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = python_paths()
    assert any(Path(sys.prefix).resolve().is_relative_to(p) for p in paths)
    for i, path in enumerate(paths):  # nothing inside another bound path
        assert not any(path.is_relative_to(q) for q in paths[:i])
    # `python -m modelport up` run from its data directory puts that directory on sys.path
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.syspath_prepend(str(data))
    assert data in python_paths()
    assert data not in python_paths((data.resolve(),))
    assert tmp_path not in python_paths((data.resolve(),))  # nor a directory holding it


@needs_bwrap
def test_inside_bwrap_only_what_the_spec_names_is_there(tmp_path: Path) -> None:
    visible, writable, hidden = tmp_path / "visible", tmp_path / "writable", tmp_path / "hidden"
    for path in (visible, writable, hidden):
        path.mkdir()
        (path / "f").write_text(path.name)
    spec = SandboxSpec(read_only=(visible,), writable=(writable,), workdir=writable)
    script = (
        "import os, pathlib, socket\n"
        f"print(pathlib.Path('{visible}/f').read_text())\n"
        f"print(os.path.exists('{hidden}/f'))\n"
        f"pathlib.Path('{writable}/out').write_text('ok')\n"
        "try:\n"
        f"    pathlib.Path('{visible}/out').write_text('no')\n"
        "except OSError as exc:\n"
        "    print('read-only', exc.errno)\n"
        "print(os.getcwd(), os.getpid())\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=1)\n"
        "except OSError:\n"
        "    print('no network')\n"
    )
    cmd = BwrapSandbox().command([sys.executable, "-c", script], spec)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:3] == ["visible", "False", "read-only 30"]
    assert out[3] == f"{writable} 2"  # its working directory; pid 2 in its own namespace
    assert out[4] == "no network"
    assert (writable / "out").read_text() == "ok"
    assert not (visible / "out").exists()
