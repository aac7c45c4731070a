"""Live side-by-side comparison of DEEPaaS 2.6.0 and modelport on the same module.

For a probe module (``tests/fixtures/probe_site``, one ``deepaas.v2.model`` entry
point each), ``pair("probe-formats")`` starts two real servers on 127.0.0.1,
each a subprocess with its own working directory and ``TMPDIR`` (modelport also
gets its own ``MODELPORT_DATA_DIR``, so it starts without trainings, like DEEPaaS):

* DEEPaaS 2.6.0: ``deepaas-run --listen-ip 127.0.0.1 --listen-port N --model-name <m>``
  (the ``deepaas-run`` next to this interpreter, i.e. the project venv's);
* modelport: ``python -m modelport serve <m> --host 127.0.0.1 --port N``.

Servers are started once per probe module for the whole session (both halves
of a pair always receive the same sequence of requests) and stopped at the end.
``Pair.both(method, path, ...)`` sends one request to each (httpx, no redirect
following) and returns ``(deepaas_response, modelport_response)``.
``assert_same`` compares status, media type and the normalised body.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.compat.conftest import ServerProcess, free_port

HERE = Path(__file__).resolve().parent
PROBE_SITE = HERE.parent.parent / "fixtures" / "probe_site"
DEEPAAS_RUN = Path(sys.executable).parent / "deepaas-run"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,*/*;q=0.8"
#: every module of tests/fixtures/probe_site (deepaas-test is DEEPaaS's own test model)
PROBE_MODELS = [
    "probe-upload-isinstance",
    "probe-accept-header-required",
    "probe-metadata-only",
    "probe-no-train",
    "probe-nested-errors",
    "probe-formats",
    "deepaas-test",
]
NO_ACCEPT = object()  # marker: send the request without any Accept header

PNG_BYTES = (  # a valid 1x1 PNG, used as the uploaded "image"
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
    b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
    b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)


# --------------------------------------------------------------------------- servers


def _env(workdir: Path) -> dict[str, str]:
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop("DEEPAAS_V2_MODEL", None)
    env["PYTHONPATH"] = os.pathsep.join([str(PROBE_SITE), *filter(None, [env.get("PYTHONPATH")])])
    env["TMPDIR"] = str(tmp)
    env["PYTHONWARNINGS"] = "ignore"
    return env


def deepaas_server(model: str, workdir: Path) -> ServerProcess:
    port = free_port()
    argv = [
        str(DEEPAAS_RUN),
        "--listen-ip",
        "127.0.0.1",
        "--listen-port",
        str(port),
        "--model-name",
        model,
    ]
    return ServerProcess(argv, _env(workdir), workdir / "cwd", f"http://127.0.0.1:{port}")


def modelport_server(model: str, workdir: Path) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "modelport", "serve", model, "--host", "127.0.0.1"]
    argv += ["--port", str(port)]
    env = _env(workdir)
    # its own job store: a fresh server knows no trainings, like a fresh DEEPaaS
    env["MODELPORT_DATA_DIR"] = str(workdir / "data")
    return ServerProcess(argv, env, workdir / "cwd", f"http://127.0.0.1:{port}")


@dataclass
class Pair:
    """The same module served by DEEPaaS 2.6.0 and by modelport."""

    model: str
    deepaas_proc: ServerProcess
    modelport_proc: ServerProcess
    deepaas: httpx.Client = field(init=False)
    modelport: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.deepaas = httpx.Client(
            base_url=self.deepaas_proc.base_url, timeout=30, follow_redirects=False
        )
        self.modelport = httpx.Client(
            base_url=self.modelport_proc.base_url, timeout=30, follow_redirects=False
        )

    @property
    def predict(self) -> str:
        return f"/v2/models/{self.model}/predict/"

    @property
    def train(self) -> str:
        return f"/v2/models/{self.model}/train/"

    def tmpdirs(self) -> tuple[Path, Path]:
        return (Path(self.deepaas_proc.env["TMPDIR"]), Path(self.modelport_proc.env["TMPDIR"]))

    def send(self, client: httpx.Client, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", None) or {})
        drop_accept = headers.get("Accept") is NO_ACCEPT
        if drop_accept:
            del headers["Accept"]
        req = client.build_request(method, path, headers=headers, **kw)
        if drop_accept:
            del req.headers["accept"]
        return client.send(req)

    def both(self, method: str, path: str, **kw: Any) -> tuple[httpx.Response, httpx.Response]:
        """Send the same request to DEEPaaS and to modelport.

        ``files`` values are ``(filename, bytes, content type)`` tuples and are
        re-used for both requests. ``headers={"Accept": NO_ACCEPT}`` removes
        httpx's default ``Accept: */*``.
        """
        d = self.send(self.deepaas, method, path, **kw)
        m = self.send(self.modelport, method, path, **kw)
        return d, m

    def close(self) -> None:
        self.deepaas.close()
        self.modelport.close()
        self.deepaas_proc.stop()
        self.modelport_proc.stop()


PairFactory = Callable[[str], Pair]


@pytest.fixture(scope="session")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PairFactory]:
    """``pair(model)``: DEEPaaS 2.6.0 and modelport serving ``model`` (started once per session)."""
    started: dict[str, Pair] = {}
    failed: dict[str, str] = {}

    def _pair(model: str) -> Pair:
        if model in failed:  # do not retry a server that did not start: fail at once
            pytest.fail(failed[model], pytrace=False)
        if model not in started:
            root = tmp_path_factory.mktemp(f"sbs-{model}")
            d = deepaas_server(model, root / "deepaas").start()
            m = modelport_server(model, root / "modelport").start()
            try:
                d.wait_ready("/v2/models/")
                m.wait_ready("/health/ready")
            except BaseException as exc:
                d.stop()
                m.stop()
                failed[model] = f"pair({model!r}) could not start: {exc}"
                raise
            started[model] = Pair(model, d, m)
        return started[model]

    try:
        yield _pair
    finally:
        for p in started.values():
            p.close()


# --------------------------------------------------------------------------- normalising

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
_UUID = re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b")
_DURATION = re.compile(r"(?<![\d:])\d+:\d{2}:\d{2}(?:\.\d+)?(?![\d:])")
_TMP = re.compile(r"(?:/[^\s\"',:]*)?/tmp[^\s\"',]*")
_PORT = re.compile(r"127\.0\.0\.1:\d+")
# JSON keys whose values change on every run (training objects)
_VOLATILE = {"date": "<date>", "finish_date": "<date>", "uuid": "<uuid>", "duration": "<duration>"}


def norm_text(text: str) -> str:
    """A text body: dates, uuids, durations, temp paths and ports replaced by placeholders."""
    text = _DATE.sub("<date>", text)
    text = _UUID.sub("<uuid>", text)
    text = _DURATION.sub("<duration>", text)
    text = _TMP.sub("<tmp>", text)
    return _PORT.sub("127.0.0.1:<port>", text)


def normalise(value: Any) -> Any:
    """A JSON body, recursively: the values of date/finish_date/uuid/duration keys
    become placeholders, and temp paths and ports in every string too (values a
    model computed from its arguments, e.g. a parsed date, are left alone)."""
    if isinstance(value, str):
        return _PORT.sub("127.0.0.1:<port>", _TMP.sub("<tmp>", value))
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {
            k: (_VOLATILE[k] if k in _VOLATILE and isinstance(v, str) else normalise(v))
            for k, v in value.items()
        }
    return value


def media_type(resp: httpx.Response) -> str:
    ctype: str = resp.headers.get("content-type", "")
    return ctype.split(";", maxsplit=1)[0].strip().lower()


def is_json(resp: httpx.Response) -> bool:
    mt = media_type(resp)
    return mt == "application/json" or mt.endswith("+json")


def body(resp: httpx.Response) -> Any:
    """The normalised body: parsed JSON, text, or raw bytes."""
    if is_json(resp):
        try:
            return normalise(resp.json())
        except ValueError:
            return norm_text(resp.text)
    mt = media_type(resp)
    if mt.startswith("text/") or not resp.content:
        return norm_text(resp.text)
    return resp.content


def describe(resp: httpx.Response, limit: int = 400) -> str:
    req = resp.request
    shown: Any = body(resp)
    text = json.dumps(shown) if not isinstance(shown, (str, bytes)) else repr(shown)
    return (
        f"{req.method} {req.url.raw_path.decode()} -> {resp.status_code} "
        f"{resp.headers.get('content-type')!r} {text[:limit]}"
    )


def assert_same(d: httpx.Response, m: httpx.Response, *, what: str = "") -> None:
    """modelport must answer like DEEPaaS: same status, media type and normalised body."""
    diffs = []
    if d.status_code != m.status_code:
        diffs.append("status")
    if media_type(d) != media_type(m):
        diffs.append("media type")
    if body(d) != body(m):
        diffs.append("body")
    assert not diffs, (
        f"{what or 'modelport must match DEEPaaS 2.6.0'}: {', '.join(diffs)} differ\n"
        f"  DEEPaaS:   {describe(d)}\n  modelport: {describe(m)}"
    )


def assert_json_error(
    m: httpx.Response, status: int, d: httpx.Response, improvement: str
) -> dict[str, Any]:
    """A documented improvement: DEEPaaS answers plain text, modelport JSON ``{"message": ...}``.

    The DEEPaaS side is checked as well, so the test documents what DEEPaaS does.
    """
    assert d.status_code == status, f"DEEPaaS changed? {describe(d)}"
    assert m.status_code == status, (
        f"{improvement}\n  DEEPaaS:   {describe(d)}\n  modelport: {describe(m)}"
    )
    assert is_json(m), f"{improvement}: expected JSON\n  modelport: {describe(m)}"
    got = m.json()
    assert isinstance(got, dict), f"{improvement}: expected an object\n  modelport: {describe(m)}"
    assert isinstance(got.get("message"), str), f"{improvement}: no 'message': {describe(m)}"
    assert got["message"], f"{improvement}: empty 'message': {describe(m)}"
    return got


def wait_training(client: httpx.Client, path: str, timeout: float = 20.0) -> httpx.Response:
    """Poll GET ``path`` until the training has left ``running`` (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(path)
        done = not is_json(resp) or resp.json().get("status") != "running"
        if done or time.monotonic() > deadline:
            return resp
        time.sleep(0.05)
