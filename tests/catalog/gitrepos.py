"""Real git repositories for the catalog tests: a fixed identity, repos built from templates."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

WILD = Path(__file__).parent / "fixtures" / "wild" / "files"


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its stdout."""
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def make_repo(
    path: Path, template: Path | None = None, files: dict[str, str] | None = None
) -> Path:
    """A git repository at ``path`` (branch ``main``) with one commit of the given files."""
    if template is not None:
        shutil.copytree(template, path)
    path.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "init", "--quiet", "--initial-branch", "main")
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "--message", "first")
    return path


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    """Commit ``files`` on the current branch and return the new HEAD."""
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", message)
    return git(repo, "rev-parse", "HEAD")


def bare_copy(repo: Path, root: Path, name: str) -> Path:
    """A bare clone of ``repo`` as ``root/name`` (what a git server serves)."""
    dest = root / name
    git(root, "clone", "--quiet", "--bare", str(repo), str(dest))
    return dest


class GitDaemon:
    """``git daemon`` serving every repository under ``root`` on 127.0.0.1 (git:// protocol)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"git://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--informative-errors",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                f"--base-path={root}",
                str(root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"git daemon exited: {self.process.stderr!r}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("git daemon did not start listening in 15 s")

    def stop(self) -> None:
        """Stop the daemon (and its per-connection children)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _module_repo(work: Path, name: str, metadata: str, *, setup_cfg: bool = False) -> Path:
    """A module repository holding a real metadata file (as the module's repository has it)."""
    repo = work / name
    repo.mkdir(parents=True)
    source = WILD / metadata
    target = "metadata.json" if metadata.endswith("metadata.json") else "ai4-metadata.yml"
    shutil.copyfile(source, repo / target)
    package = name.replace("-", "_")
    if setup_cfg:  # a DEEP-era module: pbr, setup.cfg entry points
        (repo / "setup.cfg").write_text(
            f"[metadata]\nname = {name}\n\n[entry_points]\n"
            f"deepaas.v2.model =\n    {package} = {package}.api\n"
        )
        (repo / "setup.py").write_text("import setuptools\nsetuptools.setup(pbr=True)\n")
    else:
        (repo / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "1.0.0"\n\n'
            f'[project.entry-points."deepaas.v2.model"]\n{package} = "{package}.api"\n'
        )
    return make_repo(repo)


@contextmanager
def served_catalog(tmp_path: Path) -> Iterator[str]:
    """``git://127.0.0.1:PORT/modules-catalog``: an AI4OS-style catalog with relative URLs,
    whose modules hold real metadata (``fixtures/wild``): two AI4OS accepts, two it refuses,
    and one repository that does not exist."""
    work, root = tmp_path / "work", tmp_path / "served"
    root.mkdir()
    modules = {
        # valid; links.docker_image is an image reference (ai4oshub/ai4os-demo-app)
        "ai4os-demo-app": ("003-ai4os-hub--ai4os-demo-app--ai4-metadata.yml", False),
        # valid DEEP v1 metadata.json with trailing commas (AI4OS reads it as YAML)
        "zooprocess-multiple-classifier": (
            "120-ai4os-hub--zooprocess-multiple-classifier--metadata.json",
            True,
        ),
        # refused by AI4OS: libraries: ['Pytorch']
        "ai4os-yolo-torch": ("014-ai4os-hub--ai4os-yolo-torch--ai4-metadata.yml", False),
        # refused by AI4OS: an unquoted YAML date
        "cold-coral-segmentation": (
            "025-ai4os-hub--cold-coral-segmentation--ai4-metadata.yml",
            False,
        ),
    }
    for name, (metadata, deep) in modules.items():
        bare_copy(_module_repo(work, name, metadata, setup_cfg=deep), root, name)
    gitmodules = "".join(
        f'[submodule "{name}"]\n\tpath = {name}\n\turl = ../{name}\n\tbranch = main\n'
        for name in modules
    )
    gitmodules += '[submodule "gone"]\n\tpath = gone\n\turl = ../gone\n'
    catalog = make_repo(work / "modules-catalog", files={".gitmodules": gitmodules})
    bare_copy(catalog, root, "modules-catalog")
    daemon = GitDaemon(root)
    try:
        yield f"{daemon.url}/modules-catalog"
    finally:
        daemon.stop()
