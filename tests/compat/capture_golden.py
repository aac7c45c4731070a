"""Capture golden HTTP responses from the real DEEPaaS 2.6.0 serving the fake model.

Not a test module (pytest does not collect it). Reproduce the goldens with::

    python3 -m venv /tmp/deepaas-venv
    /tmp/deepaas-venv/bin/pip install deepaas==2.6.0
    .venv/bin/python tests/compat/capture_golden.py --venv /tmp/deepaas-venv

It starts ``deepaas-run`` from that venv (``DEEPAAS_V2_MODEL=fake-model``, the
fixture dir ``tests/fixtures/legacy_site`` on ``PYTHONPATH``, its own ``TMPDIR``)
on a free loopback port, waits until it answers, sends the fixed list of
requests in ``CASES`` with httpx (no redirect following) and writes one JSON
file per case to ``tests/compat/golden/deepaas-2.6.0/<case>.json``::

    {"request": {...}, "status": int, "content_type": str,
     "body_encoding": "json" | "text" | "base64" | "empty", "body": ...}

``request`` is self-describing so the compatibility suite replays exactly the
same request against modelport. ``location`` is added for redirects. Finally it
stops the server and writes ``_capture_info.json`` (package versions, leaked
upload temp files).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
FIXTURE_DIR = HERE.parent / "fixtures" / "legacy_site"
GOLDEN_DIR = HERE / "golden" / "deepaas-2.6.0"
MODEL = "fake-model"
PREDICT = f"/v2/models/{MODEL}/predict/"
TRAIN = f"/v2/models/{MODEL}/train/"

UPLOAD = {
    "data": {"filename": "hello.txt", "content_type": "text/plain", "content": "hello world\n"}
}

# (case name, request). Request keys: method, path, and optionally params (query
# string), headers, data (form fields), files ({field: {filename, content_type,
# content}}; content is text, sent UTF-8 encoded).
CASES: list[tuple[str, dict[str, Any]]] = [
    ("get_root", {"method": "GET", "path": "/"}),
    ("get_v2", {"method": "GET", "path": "/v2/"}),
    ("get_models", {"method": "GET", "path": "/v2/models/"}),
    ("get_model", {"method": "GET", "path": f"/v2/models/{MODEL}/"}),
    ("get_swagger", {"method": "GET", "path": "/swagger.json"}),
    (
        "predict_query_args",
        {"method": "POST", "path": PREDICT, "params": {"parameter": "5"}, "files": UPLOAD},
    ),
    (
        "predict_form_args",
        {
            "method": "POST",
            "path": PREDICT,
            "data": {"parameter": "7", "parameter_three": "bar", "label": "from-form"},
            "files": UPLOAD,
        },
    ),
    (
        "predict_accept_text",
        {
            "method": "POST",
            "path": PREDICT,
            "params": {"parameter": "5"},
            "headers": {"Accept": "text/plain"},
            "files": UPLOAD,
        },
    ),
    (
        "predict_accept_png",
        {
            "method": "POST",
            "path": PREDICT,
            "params": {"parameter": "5"},
            "headers": {"Accept": "image/png"},
            "files": UPLOAD,
        },
    ),
    (
        "predict_accept_json",
        {
            "method": "POST",
            "path": PREDICT,
            "params": {"parameter": "5", "parameter_three": "bar"},
            "headers": {"Accept": "application/json"},
            "files": UPLOAD,
        },
    ),
    (
        "predict_accept_browser",
        {
            "method": "POST",
            "path": PREDICT,
            "params": {"parameter": "5"},
            "headers": {
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
            },
            "files": UPLOAD,
        },
    ),
    # DEEPaaS 2.6.0 ignores the Accept *header* (see NOTES.md); it reads
    # "accept" from the query string or the form like any other argument.
    (
        "predict_accept_text_query",
        {
            "method": "POST",
            "path": PREDICT,
            "params": {"parameter": "5", "accept": "text/plain"},
            "files": UPLOAD,
        },
    ),
    (
        "predict_accept_png_query",
        {
            "method": "POST",
            "path": PREDICT,
            "params": {"parameter": "5", "accept": "image/png"},
            "files": UPLOAD,
        },
    ),
    (
        "predict_bad_accept_query",
        {
            "method": "POST",
            "path": PREDICT,
            "params": {"parameter": "5", "accept": "application/xml"},
            "files": UPLOAD,
        },
    ),
    ("predict_missing_all_args", {"method": "POST", "path": PREDICT}),
    (
        "predict_missing_file",
        {"method": "POST", "path": PREDICT, "params": {"parameter": "5"}},
    ),
    (
        "predict_bad_enum",
        {
            "method": "POST",
            "path": PREDICT,
            "params": {"parameter": "5", "parameter_three": "baz"},
            "files": UPLOAD,
        },
    ),
    (
        "predict_out_of_range",
        {"method": "POST", "path": PREDICT, "params": {"parameter": "101"}, "files": UPLOAD},
    ),
    (
        "predict_not_integer",
        {"method": "POST", "path": PREDICT, "params": {"parameter": "abc"}, "files": UPLOAD},
    ),
    (
        "predict_bad_accept",
        {
            "method": "POST",
            "path": PREDICT,
            "params": {"parameter": "5"},
            "headers": {"Accept": "application/xml"},
            "files": UPLOAD,
        },
    ),
    (
        "predict_model_error",
        {"method": "POST", "path": PREDICT, "params": {"parameter": "13"}, "files": UPLOAD},
    ),
    (
        "predict_no_trailing_slash",
        {
            "method": "POST",
            "path": PREDICT.rstrip("/"),
            "params": {"parameter": "5"},
            "files": UPLOAD,
        },
    ),
    ("get_model_no_trailing_slash", {"method": "GET", "path": f"/v2/models/{MODEL}"}),
    ("get_unknown_model", {"method": "GET", "path": "/v2/models/no-such-model/"}),
    (
        "predict_unknown_model",
        {
            "method": "POST",
            "path": "/v2/models/no-such-model/predict/",
            "params": {"parameter": "5"},
            "files": UPLOAD,
        },
    ),
    ("post_models_wrong_method", {"method": "POST", "path": "/v2/models/"}),
    ("delete_models_wrong_method", {"method": "DELETE", "path": "/v2/models/"}),
    ("get_predict_wrong_method", {"method": "GET", "path": PREDICT}),
    ("train_post", {"method": "POST", "path": TRAIN, "params": {"sleep": "0"}}),
    # Sent after waiting for the training above to finish (see _settle_training).
    ("train_list", {"method": "GET", "path": TRAIN}),
    ("train_get_unknown", {"method": "GET", "path": TRAIN + "0123456789abcdef"}),
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_request(client: httpx.Client, req: dict[str, Any]) -> httpx.Request:
    files = None
    if req.get("files"):
        files = {
            name: (f["filename"], f["content"].encode(), f["content_type"])
            for name, f in req["files"].items()
        }
    return client.build_request(
        req["method"],
        req["path"],
        params=req.get("params"),
        headers=req.get("headers"),
        data=req.get("data"),
        files=files,
    )


def encode_response(resp: httpx.Response) -> dict[str, Any]:
    ctype = resp.headers.get("content-type", "")
    media = ctype.split(";")[0].strip().lower()
    out: dict[str, Any] = {"status": resp.status_code, "content_type": ctype}
    if not resp.content:
        out["body_encoding"], out["body"] = "empty", ""
    elif media == "application/json" or media.endswith("+json"):
        out["body_encoding"], out["body"] = "json", resp.json()
    elif media.startswith("text/"):
        out["body_encoding"], out["body"] = "text", resp.text
    else:
        out["body_encoding"] = "base64"
        out["body"] = base64.b64encode(resp.content).decode("ascii")
    if "location" in resp.headers:
        out["location"] = resp.headers["location"]
    return out


def wait_ready(base_url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"deepaas-run exited early with code {proc.returncode}")
        try:
            if httpx.get(base_url + "/v2/models/", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError("deepaas-run did not become ready")


def settle_training(client: httpx.Client, uuid: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll GET train/{uuid} until the training is no longer running."""
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(TRAIN + uuid)
        body = resp.json()
        if body.get("status") != "running" or time.monotonic() > deadline:
            return encode_response(resp)
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def pip_versions(python: Path) -> dict[str, str]:
    wanted = {"deepaas", "aiohttp", "aiohttp-apispec", "apispec", "webargs", "marshmallow"}
    out = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {p["name"]: p["version"] for p in json.loads(out) if p["name"].lower() in wanted}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venv", default="/tmp/deepaas-venv", help="venv with deepaas==2.6.0")
    ap.add_argument("--out", default=str(GOLDEN_DIR))
    args = ap.parse_args()

    venv = Path(args.venv)
    deepaas_run = venv / "bin" / "deepaas-run"
    if not deepaas_run.exists():
        print(f"{deepaas_run} not found", file=sys.stderr)
        return 2
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    tmpdir = tempfile.mkdtemp(prefix="deepaas-golden-tmp-")
    env = dict(os.environ)
    env.update(
        {
            "DEEPAAS_V2_MODEL": MODEL,
            "PYTHONPATH": os.pathsep.join(
                [str(FIXTURE_DIR), *filter(None, [env.get("PYTHONPATH")])]
            ),
            "TMPDIR": tmpdir,
        }
    )
    log_path = Path(tempfile.mkdtemp(prefix="deepaas-golden-log-")) / "deepaas-run.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(deepaas_run), "--listen-ip", "127.0.0.1", "--listen-port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_ready(base_url, proc)
            results: dict[str, dict[str, Any]] = {}
            with httpx.Client(base_url=base_url, timeout=30, follow_redirects=False) as client:
                for name, req in CASES:
                    resp = client.send(build_request(client, req))
                    results[name] = {"request": req, **encode_response(resp)}
                    if name == "train_post":
                        done = settle_training(client, resp.json()["uuid"])
                        results["train_get"] = {
                            "request": {
                                "method": "GET",
                                "path": TRAIN + "{uuid}",
                                "note": "{uuid} is the uuid returned by train_post",
                            },
                            **done,
                        }
        finally:
            stop(proc)

    for name, result in results.items():
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(f"{result['status']}  {result['content_type']:<32} {name}")

    leaked = sorted(str(p.relative_to(tmpdir)) for p in Path(tmpdir).rglob("*") if p.is_file())
    uploads = sum(1 for _, r in CASES if r.get("files"))
    info = {
        "versions": pip_versions(venv / "bin" / "python"),
        "python": subprocess.run(
            [str(venv / "bin" / "python"), "--version"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip(),
        "requests_with_uploads": uploads,
        "files_left_in_tmpdir": len(leaked),
        "default_request_headers": "httpx defaults (Accept: */*, no redirect following)",
    }
    (out_dir / "_capture_info.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(tmpdir, ignore_errors=True)
    print(json.dumps(info, indent=2))
    print(f"server log: {log_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
