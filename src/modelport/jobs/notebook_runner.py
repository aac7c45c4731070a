"""A notebook job's process: JupyterLab on a Unix socket, until idle, too old or cancelled.

It runs in the job's worker (:func:`modelport.jobs.worker.run_job`), confined as a training is,
so JupyterLab and its kernels are too: the owner's home and data area, the GPUs given, the
memory cap. It asks the platform for its secrets through the job's channel (Jupyter's token,
the owner's short-lived token for ``MODELPORT_TOKEN``, where its home and socket are), starts
``python -m jupyterlab`` on that socket under the platform's prefix, and then every ``poll``
seconds reads Jupyter's ``/api/status`` and ``/api/kernels``: no activity and no busy kernel for
``idle_timeout`` seconds, or ``max_lifetime`` seconds since it started, stops it. A cancel
(SIGTERM, :class:`~modelport.jobs.worker.Terminated`) stops it too.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import httpx

from modelport.contract.typed import MODEL_DIR_ENV
from modelport.jobs.domain import Job
from modelport.jobs.notebook_paths import base_url, socket_path
from modelport.jobs.recorder import JobRecorder

#: How long JupyterLab may take to answer before the notebook fails.
START_TIMEOUT: Final = 90.0
#: After SIGTERM (Jupyter shuts its kernels down), how long before SIGKILL.
STOP_GRACE: Final = 10.0
#: The kernel environment's pointer to the owner's data area.
DATA_AREA_ENV: Final = "MODELPORT_DATA_AREA"
#: Where ``pip install`` in a notebook puts packages (PIP_TARGET), in the home: kept between
#: notebooks, importable after the module's checkout and before the platform's environment.
PACKAGES: Final = ".local/notebook-packages"
#: The platform's JupyterLab settings, in the sandbox's private /tmp (JUPYTER_CONFIG_PATH): the
#: news announcements off (their prompt would ask to fetch from the internet).
PLATFORM_CONFIG: Final = Path("/tmp/modelport-jupyter")  # noqa: S108 - the sandbox's own /tmp
PAGE_CONFIG: Final = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}


class NotebookFailed(Exception):
    """JupyterLab did not start (its own words are in the job's log)."""


@dataclass(frozen=True)
class Layout:
    """Where a notebook runs: its owner's home (its root and working directory) and socket."""

    home: Path
    socket: Path

    @classmethod
    def given(cls, job: Job, said: Mapping[str, Any]) -> Layout:
        """As the platform said with the secrets (else: the home the executor made ``$HOME``
        and this machine's socket directory)."""
        home = said.get("home") or os.environ.get("HOME") or os.getcwd()
        return cls(Path(home), Path(said.get("socket") or socket_path(job.id)))


def jupyter_command(job: Job, layout: Layout) -> list[str]:
    """``python -m jupyterlab`` on the job's socket, served under ``/notebooks/<id>/``: no
    browser, no terminals (a kernel is the one way in), no news, update checks or extension
    installs (the sandbox has no business fetching them); its own log at warnings (its
    requests and paths are not the owner's business)."""
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",  # a container's user is often root; the sandbox confines it anyway
        f"--ServerApp.sock={layout.socket}",
        "--ServerApp.sock_mode=0600",
        f"--ServerApp.base_url={base_url(job.args, job.id)}",
        f"--ServerApp.root_dir={layout.home}",
        "--ServerApp.log_level=WARN",
        "--ServerApp.terminals_enabled=False",
        "--ServerApp.jpserver_extensions={'jupyter_lsp': False, 'jupyter_server_terminals': False}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]


def jupyter_env(
    job: Job, layout: Layout, token: str, given: Mapping[str, str], area: Path | None
) -> dict[str, str]:
    """JupyterLab's (and its kernels') environment: the worker's (nothing of the platform's),
    Jupyter's directories in the home, the platform's URL and the owner's token (``given``),
    the data area, and first on the import path the module's source (an editable install),
    then the packages ``pip install`` put in the home."""
    home = str(layout.home)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_WORKER_")}
    env.update(
        HOME=home,
        JUPYTER_TOKEN=token,
        JUPYTER_CONFIG_DIR=f"{home}/.jupyter",
        JUPYTER_DATA_DIR=f"{home}/.local/share/jupyter",
        JUPYTER_RUNTIME_DIR="/tmp/jupyter-runtime",  # noqa: S108 - the sandbox's private /tmp
        JUPYTER_CONFIG_PATH=str(PLATFORM_CONFIG),
        PYTHONUNBUFFERED="1",
    )
    env.update({k: v for k, v in given.items() if k.startswith("MODELPORT_")})
    if area is not None:
        env[DATA_AREA_ENV] = str(area)
    if job.model_dir:  # the module's version's artifacts, as its model reads them
        env[MODEL_DIR_ENV] = job.model_dir
    packages = layout.home / PACKAGES
    env["PIP_TARGET"] = str(packages)  # the environment is read-only: pip installs here
    first = [str(packages)]
    checkout = job.args.get("checkout")
    if checkout:  # ~/<module>/src (a src layout) or ~/<module>, first of all
        root = layout.home / str(checkout)
        first.insert(0, str(root / "src" if (root / "src").is_dir() else root))
    env["PYTHONPATH"] = os.pathsep.join([*first, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def link_data_area(home: Path, area: Path | None) -> None:
    """``~/data``: the owner's data area (read-only in the sandbox), unless the home has one."""
    link = home / "data"
    if area is not None and area.is_dir() and not link.exists() and not link.is_symlink():
        with contextlib.suppress(OSError):
            link.symlink_to(area, target_is_directory=True)


def run_notebook(job: Job, store: JobRecorder, area: Path | None) -> dict[str, Any]:
    """Serve JupyterLab until it is stopped; the job's result (why it stopped, how long it ran).

    Raises NotebookFailed when it does not start, and lets ``Terminated`` (a cancel) through
    once JupyterLab has stopped."""
    ask = getattr(store, "notebook_secrets", None)
    given: dict[str, Any] = ask() if callable(ask) else {}
    token = str(given.get("jupyter_token") or secrets.token_urlsafe(32))
    layout = Layout.given(job, given)
    home, sock = layout.home, layout.socket
    home.mkdir(parents=True, exist_ok=True)
    link_data_area(home, area)
    labconfig = PLATFORM_CONFIG / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()  # a stale one from an earlier run of the job
    began = time.monotonic()
    said = {k: str(v) for k, v in given.get("env", {}).items()}
    env = jupyter_env(job, layout, token, said, area)
    process = subprocess.Popen(  # noqa: S603 - our own command, no shell
        jupyter_command(job, layout), env=env, cwd=home, stdin=subprocess.DEVNULL
    )
    client = httpx.Client(
        transport=httpx.HTTPTransport(uds=str(sock)),
        base_url=f"http://localhost{base_url(job.args, job.id)}",
        headers={"Authorization": f"token {token}"},
        timeout=10.0,
    )
    try:
        _wait_ready(process, client)
        took = time.monotonic() - began
        print(f"JupyterLab is ready ({took:.1f} s): open it from the job's page", flush=True)
        store.report(job.id, message="JupyterLab is ready")
        stopped = _watch(process, client, job.args)
        return {"stopped": stopped, "uptime_s": round(time.monotonic() - began, 1)}
    finally:
        client.close()
        _stop(process)


def _wait_ready(process: subprocess.Popen[bytes], client: httpx.Client) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotebookFailed(f"JupyterLab exited with status {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if client.get("api/status").status_code == 200:
                return
        time.sleep(0.05)
    raise NotebookFailed(f"JupyterLab did not answer within {START_TIMEOUT:g} s")


def _watch(process: subprocess.Popen[bytes], client: httpx.Client, args: Mapping[str, Any]) -> str:
    """Wait until it should stop; why (``idle``, ``max_lifetime``)."""
    idle_timeout, max_lifetime = float(args["idle_timeout"]), float(args["max_lifetime"])
    poll = float(args.get("poll", 5.0))
    started = time.time()
    last_active = started
    while True:
        if process.poll() is not None:
            raise NotebookFailed(f"JupyterLab exited with status {process.returncode}")
        now = time.time()
        if now - started >= max_lifetime:
            print(
                f"stopping: the notebook reached its maximum lifetime ({max_lifetime:g} s)",
                flush=True,
            )
            return "max_lifetime"
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            last_active = max(last_active, _last_activity(client, now))
        if now - last_active >= idle_timeout:
            print(f"stopping: the notebook was idle for {idle_timeout:g} s", flush=True)
            return "idle"
        time.sleep(min(poll, max(0.05, idle_timeout / 4)))


def _last_activity(client: httpx.Client, now: float) -> float:
    """When JupyterLab last saw activity (a request, a kernel message); ``now`` while a kernel
    is busy (a long computation sends nothing, yet the notebook is in use)."""
    kernels = client.get("api/kernels", params={"no_track_activity": "1"}).json()
    if any(k.get("execution_state") == "busy" for k in kernels):
        return now
    said = client.get("api/status").json()["last_activity"]
    return datetime.fromisoformat(said.replace("Z", "+00:00")).timestamp()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (Jupyter shuts its kernels down), SIGKILL after the grace."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
