"""Real public DEEPaaS v2 modules, side by side (opt-in; nothing of them is committed).

The probe modules of this directory are ours; this file compares DEEPaaS 2.6.0 and
modelport on *real* modules (e.g. ai4os-hub/ai4os-demo-app) installed in a virtual
environment built outside the repository::

    python3 -m venv /tmp/wild/venv
    /tmp/wild/venv/bin/pip install -e '/path/to/modelport[deepaas]' deepaas==2.6.0 \\
        -e /tmp/wild/ai4os-demo-app            # a checkout of the module
    MODELPORT_WILD_VENV=/tmp/wild/venv MODELPORT_WILD_MODULES=ai4os_demo_app \\
        uv run --locked --all-extras pytest tests/compat/side_by_side/test_wild_modules.py -v

``MODELPORT_WILD_MODULES`` is a comma-separated list of ``deepaas.v2.model`` entry-point
names. Per module, ``<venv>/bin/deepaas-run`` and ``<venv>/bin/python -m modelport serve
<name>`` are started on free 127.0.0.1 ports (own working directory, ``TMPDIR`` and, for
modelport, ``MODELPORT_DATA_DIR``; ``DEEPAAS_V2_MODEL=<name>``) and compared as the other
side-by-side tests do (status, media type, body normalised by ``conftest.body``):
discovery routes (and that a keep-alive connection survives them), swagger.json
parameters, predictions built from DEEPaaS's own swagger.json (each argument its default,
else its first enum value, else a value made from its type; uploads a 1x1 PNG, a tiny WAV
or a tiny MP4 by the argument's name and description; ``accept`` each of DEEPaaS's
choices, where DEEPaaS reads it), a few invalid requests, and a training (POST, GET until
done, list, DELETE, GET 404, list).

Randomness: a prediction is also sent to DEEPaaS a second time; where its two answers
differ (e.g. the demo app's random ``probabilities``) values are compared by structure and
types only. Trainings run twice for the same reason. ZIP answers are compared member by
member, PDF answers without their creation date. One documented improvement is accepted
everywhere: DEEPaaS's plain-text error bodies answered as JSON ``{"message": ...}`` with
the same status.

Optional settings (they apply to every module named; run one module at a time when they
are module-specific):

* ``MODELPORT_WILD_ARGS``: a query string laid over the generated values of predict and
  train (e.g. ``model_name=simple_convolution``; only names a module declares are sent);
* ``MODELPORT_WILD_TRAIN_ARGS``: the same for train only, to keep trainings short
  (default ``epoch_num=1&epochs=1&num_epochs=1``);
* ``MODELPORT_WILD_FILES``: ``name=path,...``: the file to upload for an argument instead
  of the generated sample (e.g. ``input_file=/tmp/wild/demo-advanced/tests/data/x.npy``);
* ``MODELPORT_WILD_CWD``: a directory copied into each server's own working directory
  (a module that finds ``models/`` or ``data/`` relative to the working directory, and
  may write there when it trains);
* ``MODELPORT_WILD_ENV``: extra environment for both servers, ``KEY=VALUE`` words;
* ``MODELPORT_WILD_TRAIN_TIMEOUT``: seconds to wait for a training (default 180);
* ``MODELPORT_WILD_READY_TIMEOUT``: seconds to wait for a server to start (default 120).

Modules are run as they are, with one exception: ``tensorboard`` and ``fuser`` are
replaced by no-op stand-ins first on ``PATH``. Training in AI4OS modules (the demo app's
``misc.launch_tensorboard``) runs ``fuser -k 6006/tcp`` (it kills whatever listens on
port 6006 of this machine) and starts TensorBoard on 0.0.0.0:6006, which outlives the
servers. The Python side (the ``multiprocessing.Process`` it starts from the training)
still runs, so a server that cannot start one would still show.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import signal
import struct
import time
import wave
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from tests.compat.conftest import ServerProcess, free_port

from .conftest import (
    BROWSER_ACCEPT,
    PNG_BYTES,
    Pair,
    assert_json_error,
    body,
    describe,
    is_json,
    media_type,
    normalise,
)
from .test_swagger import PARAM_KEYS, _op, param_table

pytestmark = pytest.mark.slow

VENV_ENV = "MODELPORT_WILD_VENV"
MODULES_ENV = "MODELPORT_WILD_MODULES"
HOW = (
    f"opt-in: set {VENV_ENV} to a virtualenv with deepaas==2.6.0, modelport[deepaas] "
    f"(editable) and the real module installed, and {MODULES_ENV} to its deepaas.v2.model "
    f"entry point name(s), comma-separated; e.g. {VENV_ENV}=/tmp/wild/venv "
    f"{MODULES_ENV}=ai4os_demo_app (see this file's docstring)"
)
VENV = os.environ.get(VENV_ENV, "").strip()
MODULES = [m.strip() for m in os.environ.get(MODULES_ENV, "").split(",") if m.strip()]
if not VENV or not MODULES:
    pytest.skip(HOW, allow_module_level=True)

ARGS = dict(parse_qsl(os.environ.get("MODELPORT_WILD_ARGS", "")))
TRAIN_ARGS = ARGS | dict(
    parse_qsl(os.environ.get("MODELPORT_WILD_TRAIN_ARGS", "epoch_num=1&epochs=1&num_epochs=1"))
)
FILES = dict(
    item.split("=", 1) for item in os.environ.get("MODELPORT_WILD_FILES", "").split(",") if item
)
SEED_CWD = os.environ.get("MODELPORT_WILD_CWD", "")
EXTRA_ENV = dict(w.split("=", 1) for w in shlex.split(os.environ.get("MODELPORT_WILD_ENV", "")))
TRAIN_TIMEOUT = float(os.environ.get("MODELPORT_WILD_TRAIN_TIMEOUT", "180"))
READY_TIMEOUT = float(os.environ.get("MODELPORT_WILD_READY_TIMEOUT", "120"))
STAND_INS = ("tensorboard", "fuser")  # see the docstring


# --------------------------------------------------------------------------- sample files


def _wav() -> bytes:
    """0.01 s of 8 kHz mono 16-bit silence."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 80)
    return buf.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _mp4() -> bytes:
    """An ISO base media file: ``ftyp`` plus a ``moov`` holding only an ``mvhd`` (no tracks)."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41")
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = _box(
        b"mvhd",
        struct.pack(">IIIII", 0, 0, 0, 1000, 0)  # version+flags, times, timescale, duration
        + struct.pack(">IH", 0x10000, 0x100)  # rate 1.0, volume 1.0
        + b"\x00" * 10
        + matrix
        + b"\x00" * 24
        + struct.pack(">I", 1),  # next track id
    )
    return ftyp + _box(b"moov", mvhd)


WAV_BYTES = _wav()
MP4_BYTES = _mp4()


def sample_file(param: dict[str, Any]) -> tuple[str, bytes, str]:
    """A small real file for an upload argument, chosen by its name and description."""
    if param.get("name") in FILES:
        path = Path(FILES[param["name"]])
        return (path.name, path.read_bytes(), "application/octet-stream")
    words = f"{param.get('name', '')} {param.get('description', '')}".lower()
    if any(w in words for w in ("audio", "sound", "wav")):
        return ("sample.wav", WAV_BYTES, "audio/x-wav")
    if any(w in words for w in ("video", "mp4", "movie")):
        return ("sample.mp4", MP4_BYTES, "video/mp4")
    return ("sample.png", PNG_BYTES, "image/png")


# --------------------------------------------------------------------------- servers


def _venv_bin(name: str) -> Path:
    return Path(VENV) / "bin" / name


def _stand_ins(root: Path) -> Path:
    bin_dir = root / "stand-ins"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in STAND_INS:
        path = bin_dir / tool
        path.write_text(f'#!/bin/sh\necho "{tool} stand-in (test_wild_modules): $*" >&2\nexit 0\n')
        path.chmod(0o755)
    return bin_dir


def _env(model: str, workdir: Path, stand_ins: Path) -> dict[str, str]:
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["VIRTUAL_ENV"] = VENV
    env["PATH"] = os.pathsep.join([str(stand_ins), str(_venv_bin("")), env.get("PATH", "")])
    env["DEEPAAS_V2_MODEL"] = model
    env["TMPDIR"] = str(tmp)
    env["PYTHONWARNINGS"] = "ignore"
    env.update(EXTRA_ENV)
    if SEED_CWD:
        shutil.copytree(SEED_CWD, workdir / "cwd", dirs_exist_ok=True)
    return env


def _start_pair(model: str, root: Path) -> Pair:
    stand_ins = _stand_ins(root)
    d_port, m_port = free_port(), free_port()
    d_argv = [str(_venv_bin("deepaas-run")), "--listen-ip", "127.0.0.1"]
    d_argv += ["--listen-port", str(d_port), "--model-name", model]
    m_argv = [str(_venv_bin("python")), "-m", "modelport", "serve", model]
    m_argv += ["--host", "127.0.0.1", "--port", str(m_port)]
    d_env = _env(model, root / "deepaas", stand_ins)
    m_env = _env(model, root / "modelport", stand_ins)
    m_env["MODELPORT_DATA_DIR"] = str(root / "modelport" / "data")
    d = ServerProcess(d_argv, d_env, root / "deepaas" / "cwd", f"http://127.0.0.1:{d_port}")
    m = ServerProcess(m_argv, m_env, root / "modelport" / "cwd", f"http://127.0.0.1:{m_port}")
    d.start()
    m.start()
    try:
        # not /v2/models/: it calls get_metadata(), which may fail (that is compared below)
        d.wait_ready("/swagger.json", timeout=READY_TIMEOUT)
        m.wait_ready("/health/ready", timeout=READY_TIMEOUT)
    except BaseException:
        d.stop()
        m.stop()
        raise
    return Pair(model, d, m)


def _stop(p: Pair) -> None:
    """Stop both servers and anything their trainings left in their process groups."""
    p.close()
    for proc in (p.deepaas_proc.proc, p.modelport_proc.proc):
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def wild(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``wild(model)``: DEEPaaS 2.6.0 and modelport serving a real module (once per module)."""
    missing = [str(_venv_bin(n)) for n in ("python", "deepaas-run") if not _venv_bin(n).exists()]
    started: dict[str, Pair] = {}
    failed: dict[str, str] = {}

    def _pair(model: str) -> Pair:
        if missing:
            pytest.fail(f"{VENV_ENV}={VENV}: missing {missing}\n{HOW}", pytrace=False)
        if model in failed:
            pytest.fail(failed[model], pytrace=False)
        if model not in started:
            try:
                started[model] = _start_pair(model, tmp_path_factory.mktemp(f"wild-{model}"))
            except BaseException as exc:
                failed[model] = f"wild({model!r}) could not start: {exc}"
                raise
        return started[model]

    try:
        yield _pair
    finally:
        for p in started.values():
            _stop(p)


# --------------------------------------------------------------------------- comparing


_specs: dict[str, tuple[httpx.Response, httpx.Response]] = {}


def _swagger(p: Pair) -> tuple[httpx.Response, httpx.Response]:
    if p.model not in _specs:
        _specs[p.model] = p.both("GET", "/swagger.json")
    return _specs[p.model]


def specs(p: Pair) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both swagger.json documents (the swagger tests)."""
    d, m = _swagger(p)
    assert d.status_code == 200, describe(d)
    assert m.status_code == 200, f"DEEPaaS serves swagger.json, modelport: {describe(m)}"
    return d.json(), m.json()


def deepaas_spec(p: Pair) -> dict[str, Any]:
    """DEEPaaS's swagger.json: what the requests are built from."""
    d, _ = _swagger(p)
    assert d.status_code == 200, describe(d)
    spec: dict[str, Any] = d.json()
    return spec


def _shape(value: Any) -> Any:
    """What a random value is reduced to: its structure and its scalars' types."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return f"<{type(value).__name__}>"


def _varying(a: Any, b: Any, path: tuple[Any, ...] = ()) -> set[tuple[Any, ...]]:
    """Where two answers of DEEPaaS to the same request differ (the module's randomness)."""
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        return set().union(*(_varying(a[k], b[k], (*path, k)) for k in a))
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return set().union(
            *(_varying(x, y, (*path, i)) for i, (x, y) in enumerate(zip(a, b, strict=True)))
        )
    return set() if a == b else {path}


def _mask(value: Any, varying: set[tuple[Any, ...]], path: tuple[Any, ...] = ()) -> Any:
    if path in varying:
        return _shape(value)
    if isinstance(value, dict):
        return {k: _mask(v, varying, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, varying, (*path, i)) for i, v in enumerate(value)]
    return value


# modelport keeps small uploads on a RAM-backed tmpfs (settings.upload_memory_dir, /dev/shm),
# DEEPaaS in $TMPDIR (mkstemp): a module that echoes UploadedFile.filename shows either path
_SHM = re.compile(r"/dev/shm/[^\s\"',]*")


_PDF_VOLATILE = re.compile(rb"(/CreationDate |/ModDate |/ID )(\(D:[^)]*\)|\[[^\]]*\])")


def _unshm(value: Any) -> Any:
    if isinstance(value, str):
        return _SHM.sub("<tmp>", value)
    if isinstance(value, list):
        return [_unshm(v) for v in value]
    if isinstance(value, dict):
        return {k: _unshm(v) for k, v in value.items()}
    return value


def comparable(resp: httpx.Response) -> Any:
    """See _comparable; upload paths on /dev/shm normalised as conftest does $TMPDIR's."""
    return _unshm(_comparable(resp))


def _comparable(resp: httpx.Response) -> Any:
    """The normalised body (conftest.body); a ZIP answer as ``{member: content}``, JSON
    members parsed and normalised (the archive's own bytes hold timestamps)."""
    content = resp.content
    if not is_json(resp) and content[:5] == b"%PDF-":
        # the creation date (and the file ID derived from it) change on every answer
        return {"<pdf>": _PDF_VOLATILE.sub(rb"\1<volatile>", content)}
    if not is_json(resp) and content[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            out: dict[str, Any] = {}
            for name in sorted(zf.namelist()):
                data = zf.read(name)
                try:
                    out[name] = normalise(json.loads(data))
                except ValueError:
                    out[name] = data
            return {"<zip>": out}
    return body(resp)


def compare(
    d: httpx.Response,
    m: httpx.Response,
    d_again: httpx.Response | None = None,
    varying: set[tuple[Any, ...]] | None = None,
) -> str | None:
    """None when modelport answered as DEEPaaS, else what differs.

    ``d_again`` is DEEPaaS's answer to the same request once more: the places where the
    two DEEPaaS answers differ are the module's randomness (e.g. the demo app's random
    ``probabilities``), compared by structure and types only; ``varying`` names such
    places directly.
    """
    d_body, m_body = comparable(d), comparable(m)
    varying = set(varying or ())
    if d_again is not None and d_again.status_code == d.status_code:
        varying |= _varying(d_body, comparable(d_again))
    diffs = []
    if d.status_code != m.status_code:
        diffs.append("status")
    if media_type(d) != media_type(m):
        diffs.append("media type")
    if _mask(d_body, varying) != _mask(m_body, varying):
        diffs.append("body")
    if diffs == ["media type", "body"] and _json_error_for_text_error(d, m):
        return None
    if not diffs:
        return None
    note = f" (random in DEEPaaS's answers: {sorted(map(str, varying))})" if varying else ""
    where = _differing(_mask(d_body, varying), _mask(m_body, varying))
    return (
        f"{', '.join(diffs)} differ{note}\n"
        + (f"    body differs at: {where[:8]}\n" if where and where != [()] else "")
        + f"    DEEPaaS:   {_describe(d)}\n    modelport: {_describe(m)}"
    )


def _json_error_for_text_error(d: httpx.Response, m: httpx.Response) -> bool:
    """A documented improvement: where DEEPaaS answers an error in plain text, modelport
    answers the same status with a JSON ``{"message": ...}``."""
    if d.status_code < 400 or media_type(d) != "text/plain" or not is_json(m):
        return False
    got = m.json()
    return isinstance(got, dict) and isinstance(got.get("message"), str) and bool(got["message"])


def _differing(a: Any, b: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The places where two (normalised) bodies differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [(*path, k) for k in sorted(a.keys() ^ b.keys(), key=str)]
        for k in a.keys() & b.keys():
            out += _differing(a[k], b[k], (*path, k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            q
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for q in _differing(x, y, (*path, i))
        ]
    return [] if a == b else [path]


def _describe(resp: httpx.Response, limit: int = 600) -> str:
    shown = comparable(resp)
    if isinstance(shown, dict) and "<zip>" in shown:
        members = {
            k: v if not isinstance(v, bytes) else f"<{len(v)} bytes>"
            for k, v in shown["<zip>"].items()
        }
        req = resp.request
        return (
            f"{req.method} {req.url.raw_path.decode()} -> {resp.status_code} "
            f"{resp.headers.get('content-type')!r} zip {json.dumps(members, default=str)[:2000]}"
        )
    return describe(resp, limit)


def assert_same_random(p: Pair, method: str, path: str, **kw: Any) -> None:
    d, m = p.both(method, path, **kw)
    problem = compare(d, m, p.send(p.deepaas, method, path, **kw))
    assert problem is None, f"{method} {path}: {problem}"


# --------------------------------------------------------------------------- requests


def _value(prm: dict[str, Any], *, as_json: bool = False) -> Any:
    """A value for a documented parameter: its default, else its first enum value, else
    one generated from its type and format."""
    if "default" in prm and prm["default"] is not None:
        value = prm["default"]
    elif prm.get("enum"):
        value = prm["enum"][0]
    else:
        value = _generated(prm)
    if as_json:
        return value
    if isinstance(value, list):
        return [_text(v) for v in value]
    return _text(value)


def _generated(prm: dict[str, Any]) -> Any:
    kind, fmt = prm.get("type"), prm.get("format")
    if kind == "array":
        return [_generated(prm.get("items") or {"type": "string"})]
    if kind == "integer":
        return int(prm.get("minimum", 1))
    if kind == "number":
        return float(prm.get("minimum", 1.5))
    if kind == "boolean":
        return True
    if "$ref" in prm or kind == "object":
        return "{}"
    return {
        "date": "2024-02-29",
        "date-time": "2024-02-29T12:30:00",
        "email": "a@b.org",
        "url": "https://example.org/x",
        "uri": "https://example.org/x",
        "uuid": "12345678-1234-5678-1234-567812345678",
    }.get(fmt or "", "text")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _params(spec: dict[str, Any], op: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for raw in op.get("parameters", []):
        prm = raw if "name" in raw else spec.get("definitions", {}).get(raw["$ref"].split("/")[-1])
        if prm and prm.get("in") != "path":
            out.append(prm)
    return out


def build_request(
    params: list[dict[str, Any]],
    *,
    where: str,
    only_required: bool = False,
    overrides: dict[str, str] | None = None,
    accept: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``Pair.both``: every documented argument (or only the required
    ones) filled; uploads as multipart files; the rest in the query string (``where="query"``),
    the form (``"form"``) or a JSON body (``"json"``); header-located ones as headers.
    ``accept`` goes where DEEPaaS reads the ``accept`` argument: the ``Accept`` header if
    swagger.json documents it ``in: header``, else with the other arguments."""
    files: dict[str, Any] = {}
    values: dict[str, Any] = {}
    headers: dict[str, Any] = {}
    for prm in params:
        name = prm["name"]
        if prm.get("type") == "file":
            files[name] = sample_file(prm)
            continue
        if name == "accept" and accept is not None:
            value: Any = accept
        elif overrides and name in overrides:
            value = overrides[name]
        elif only_required and not prm.get("required"):
            continue
        else:
            value = _value(prm, as_json=where == "json")
        if prm.get("in") == "header":
            headers[name] = value
        else:
            values[name] = value
    if "accept" in headers:
        headers["Accept"] = headers.pop("accept")
    kw: dict[str, Any] = {"headers": headers}
    if files:
        kw["files"] = files
    if values:
        kw[{"query": "params", "form": "data", "json": "json"}[where]] = values
    return kw


def _accepts(params: list[dict[str, Any]]) -> list[str | None]:
    for prm in params:
        if prm["name"] == "accept":
            return list(prm.get("enum") or [prm.get("default", "application/json")])
    return [None]


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("model", MODULES)
@pytest.mark.parametrize("path", ["/v2/models/", "/v2/models/{m}/"])
def test_discovery(wild: Any, model: str, path: str) -> None:
    p = wild(model)
    d, m = p.both("GET", path.format(m=model))
    problem = compare(d, m)
    assert problem is None, problem


@pytest.mark.parametrize("model", MODULES)
@pytest.mark.parametrize("path", ["/v2/models/", "/v2/models/{m}/", "/swagger.json"])
def test_connection_reusable(wild: Any, model: str, path: str) -> None:
    """The same GET five times on one keep-alive connection: every answer arrives (DEEPaaS
    says ``Connection: close`` when it is going to close one, e.g. on its 500s)."""
    p = wild(model)
    for client in (p.deepaas, p.modelport):
        seen: list[tuple[int, str | None]] = []
        for _ in range(5):
            try:
                resp = client.get(path.format(m=model))
            except httpx.TransportError as exc:
                pytest.fail(f"{client.base_url}: after {seen}: GET {path}: {exc!r}", pytrace=False)
            seen.append((resp.status_code, resp.headers.get("connection")))


@pytest.mark.parametrize("model", MODULES)
def test_swagger_paths(wild: Any, model: str) -> None:
    d, m = specs(wild(model))
    missing = [
        f"{method.upper()} {path}"
        for path, ops in d["paths"].items()
        for method in ops
        if _op(m, path, method) is None
    ]
    assert not missing, f"DEEPaaS documents, modelport does not: {missing}"


@pytest.mark.parametrize("model", MODULES)
@pytest.mark.parametrize("route", ["predict/", "train/"])
def test_swagger_parameters(wild: Any, model: str, route: str) -> None:
    d, m = specs(wild(model))
    path = f"/v2/models/{model}/{route}"
    d_op, m_op = _op(d, path, "post"), _op(m, path, "post")
    assert d_op is not None, sorted(d["paths"])
    assert m_op is not None, f"modelport does not document POST {path}"
    d_params, m_params = param_table(d, d_op), param_table(m, m_op)
    diffs: dict[str, dict[str, Any]] = {}
    for n in sorted(set(d_params) | set(m_params)):
        dv, mv = d_params.get(n), m_params.get(n)
        if dv == mv:
            continue
        if dv is None or mv is None:
            diffs[n] = {"deepaas": dv or "missing", "modelport": mv or "missing"}
            continue
        keys = [k for k, a, b in zip(PARAM_KEYS, dv, mv, strict=True) if a != b]
        diffs[n] = {
            "deepaas": {k: dv[PARAM_KEYS.index(k)] for k in keys},
            "modelport": {k: mv[PARAM_KEYS.index(k)] for k in keys},
        }
    assert not diffs, f"POST {path} parameters differ: {diffs}"
    if route == "predict/":
        d_prod, m_prod = set(d_op.get("produces", [])), set(m_op.get("produces", []))
        assert d_prod == m_prod, f"produces: DEEPaaS {d_prod}, modelport {m_prod}"


VARIANTS = ["required-only", "query", "form", "json"]


@pytest.mark.parametrize("model", MODULES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_predict(wild: Any, model: str, variant: str) -> None:
    """One request per declared ``accept`` choice (DEEPaaS's list, ``*/*`` included),
    arguments filled from DEEPaaS's swagger.json; ``required-only`` sends only the
    required arguments and no ``accept``. Every difference is reported at once."""
    p = wild(model)
    d_spec = deepaas_spec(p)
    op = _op(d_spec, p.predict, "post")
    assert op is not None
    params = _params(d_spec, op)
    if variant == "json" and any(prm.get("type") == "file" for prm in params):
        pytest.skip("uploads cannot travel in a JSON body")
    accepts = [None] if variant == "required-only" else _accepts(params)
    problems = []
    for accept in accepts:
        kw = build_request(
            params,
            where="query" if variant == "required-only" else variant,
            only_required=variant == "required-only",
            overrides=ARGS,
            accept=accept,
        )
        d, m = p.both("POST", p.predict, **kw)
        problem = compare(d, m, p.send(p.deepaas, "POST", p.predict, **kw))
        if problem:
            problems.append(f"accept={accept!r}: {problem}")
    assert not problems, f"{len(problems)} of {len(accepts)} differ:\n" + "\n".join(problems)


@pytest.mark.parametrize("model", MODULES)
@pytest.mark.parametrize(
    "case", ["nothing", "accept-not-a-choice", "browser-accept", "not-a-number"]
)
def test_predict_invalid(wild: Any, model: str, case: str) -> None:
    """Requests a client gets wrong: no arguments at all; ``accept=text/csv`` (where the
    module has ``accept``); a browser's ``Accept`` header; ``x`` for every number."""
    p = wild(model)
    d_spec = deepaas_spec(p)
    op = _op(d_spec, p.predict, "post")
    assert op is not None
    params = _params(d_spec, op)
    if case == "nothing":
        kw: dict[str, Any] = {}
    elif case == "accept-not-a-choice":
        if _accepts(params) == [None]:
            pytest.skip("the module has no accept argument")
        kw = build_request(params, where="query", overrides=ARGS, accept="text/csv")
    elif case == "browser-accept":
        kw = build_request(params, where="query", overrides=ARGS)
        kw["headers"] = {**kw["headers"], "Accept": BROWSER_ACCEPT}
    else:
        numbers = {prm["name"]: "x" for prm in params if prm.get("type") in ("integer", "number")}
        if not numbers:
            pytest.skip("the module has no number argument")
        kw = build_request(params, where="query", overrides=ARGS | numbers)
    assert_same_random(p, "POST", p.predict, **kw)


@pytest.mark.parametrize("model", MODULES)
def test_train_invalid(wild: Any, model: str) -> None:
    """``x`` for every number argument of train: 422 from both (nothing is started)."""
    p = wild(model)
    d_spec = deepaas_spec(p)
    op = _op(d_spec, p.train, "post")
    assert op is not None
    params = _params(d_spec, op)
    numbers = {prm["name"]: "x" for prm in params if prm.get("type") in ("integer", "number")}
    if not numbers:
        pytest.skip("train has no number argument")
    kw = build_request(params, where="query", only_required=True, overrides=TRAIN_ARGS | numbers)
    d, m = p.both("POST", p.train, **kw)
    assert d.status_code == 422, describe(d)
    problem = compare(d, m)
    assert problem is None, f"POST train {kw}: {problem}"


def _wait(client: httpx.Client, path: str) -> httpx.Response:
    deadline = time.monotonic() + TRAIN_TIMEOUT
    while True:
        resp = client.get(path)
        running = is_json(resp) and resp.json().get("status") == "running"
        if not running or time.monotonic() > deadline:
            return resp
        time.sleep(0.2)


def _train_once(p: Pair, kw: dict[str, Any]) -> tuple[httpx.Response, ...]:
    """POST train to both, then GET both until done: (POST d, POST m, done d, done m)."""
    d, m = p.both("POST", p.train, **kw)
    if d.status_code != 200 or m.status_code != 200:
        return d, m, d, m
    d_done = _wait(p.deepaas, p.train + d.json()["uuid"])
    m_done = _wait(p.modelport, p.train + m.json()["uuid"])
    return d, m, d_done, m_done


def _in_list(varying: set[tuple[Any, ...]], length: int) -> set[tuple[Any, ...]]:
    return {(i, *path) for i in range(length) for path in varying}


@pytest.mark.parametrize("model", MODULES)
def test_train_roundtrip(wild: Any, model: str) -> None:
    """POST train (defaults, MODELPORT_WILD_TRAIN_ARGS laid over), GET until done, the list,
    DELETE, GET (404: JSON in modelport, a documented improvement), the list without it.

    Two trainings, one after the other, on each server: where DEEPaaS's two results differ
    is the module's randomness (e.g. a loss history), compared by structure and types."""
    p = wild(model)
    d_spec = deepaas_spec(p)
    op = _op(d_spec, p.train, "post")
    assert op is not None
    params = _params(d_spec, op)
    kw = build_request(params, where="query", only_required=True, overrides=TRAIN_ARGS)
    d, m, d_done, m_done = _train_once(p, kw)
    problem = compare(d, m)
    assert problem is None, f"POST train {kw}: {problem}"
    if d.status_code != 200:
        pytest.skip(f"DEEPaaS did not start a training: {describe(d)}")
    d_path, m_path = p.train + d.json()["uuid"], p.train + m.json()["uuid"]
    assert d_done.json().get("status") != "running", f"DEEPaaS still running: {describe(d_done)}"
    _, _, d_done2, m_done2 = _train_once(p, kw)
    varying = _varying(comparable(d_done), comparable(d_done2))

    problem = compare(d_done, m_done, varying=varying)
    assert problem is None, f"GET train/{{uuid}} once finished: {problem}"
    problem = compare(d_done2, m_done2, varying=varying)
    assert problem is None, f"GET train/{{uuid}} of the second training: {problem}"

    d_list, m_list = p.both("GET", p.train)
    problem = compare(d_list, m_list, varying=_in_list(varying, len(d_list.json())))
    assert problem is None, f"GET train/ with the trainings: {problem}"

    d_del, m_del = p.deepaas.delete(d_path), p.modelport.delete(m_path)
    problem = compare(d_del, m_del, varying=varying)
    assert problem is None, f"DELETE train/{{uuid}} of a finished training: {problem}"

    d_get, m_get = p.deepaas.get(d_path), p.modelport.get(m_path)
    assert_json_error(m_get, 404, d_get, "GET of a deleted training: 404 (JSON)")

    d_list, m_list = p.both("GET", p.train)
    assert d.json()["uuid"] not in {t.get("uuid") for t in d_list.json()}, describe(d_list)
    problem = compare(d_list, m_list, varying=_in_list(varying, len(d_list.json())))
    assert problem is None, f"GET train/ after DELETE: {problem}"
