"""Black-box compatibility of modelport with DEEPaaS 2.6.0.

Starts the real modelport server (``python -m modelport serve fake-model``,
see conftest.py) and replays the requests recorded in
``golden/deepaas-2.6.0/*.json`` (captured from the real DEEPaaS 2.6.0 by
``capture_golden.py``), comparing over real HTTP.

Where DEEPaaS 2.6.0 is compatible by contract, modelport must answer the same
(status, JSON body, media type, body bytes). Where modelport deliberately
fixes DEEPaaS bugs, the tests assert modelport's behaviour and say so:

* model exceptions: JSON 500 ``{"message": ...}`` without traceback, instead of
  DEEPaaS's plain-text "Server got itself in trouble";
* unknown paths/models and wrong methods: JSON 404/405 with ``message``
  instead of aiohttp's plain text;
* paths answer with and without the trailing slash, instead of a 308;
* uploaded temp files are deleted (DEEPaaS leaks every one);
* a broken JSON body's 400 says where it breaks.

Self-check of the goldens: start DEEPaaS 2.6.0 on the fake model and run this
suite with ``MODELPORT_COMPAT_BASE_URL=http://127.0.0.1:<port>``; then only the
tests of intentional differences (and /openapi.json) fail.
"""

from __future__ import annotations

import base64
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.compat.conftest import find_path

pytestmark = pytest.mark.slow

MODEL = "fake-model"
PREDICT = f"/v2/models/{MODEL}/predict/"
TRAIN = f"/v2/models/{MODEL}/train/"


# --------------------------------------------------------------------------- helpers


def media_type(resp_or_ctype: httpx.Response | str) -> str:
    ctype = (
        resp_or_ctype
        if isinstance(resp_or_ctype, str)
        else resp_or_ctype.headers.get("content-type", "")
    )
    return ctype.split(";")[0].strip().lower()


def golden_bytes(gold: dict[str, Any]) -> bytes:
    enc = gold["body_encoding"]
    if enc == "base64":
        return base64.b64decode(gold["body"])
    if enc == "text":
        return str(gold["body"]).encode()
    if enc == "empty":
        return b""
    raise AssertionError(f"golden body is {enc}, not raw bytes")


def describe(resp: httpx.Response) -> str:
    return (
        f"{resp.request.method} {resp.request.url} -> {resp.status_code} "
        f"{resp.headers.get('content-type')!r} {resp.text[:500]!r}"
    )


def json_body(resp: httpx.Response) -> Any:
    assert media_type(resp) == "application/json", f"expected JSON: {describe(resp)}"
    return resp.json()


def assert_superset(expected: dict[str, Any], got: dict[str, Any], where: str) -> None:
    """Every expected key is present in ``got`` with an equal value (extra keys allowed)."""
    missing = sorted(set(expected) - set(got))
    assert not missing, f"{where}: keys missing from modelport: {missing}\ngot: {got}"
    different = {k: (expected[k], got[k]) for k in expected if expected[k] != got[k]}
    assert not different, f"{where}: values differ (expected, got): {different}"


def assert_error_json(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, describe(resp)
    body = json_body(resp)
    assert isinstance(body, dict), describe(resp)
    assert isinstance(body.get("message"), str), f"no 'message': {describe(resp)}"
    assert body["message"], describe(resp)
    return body


# --------------------------------------------------------------------------- discovery


@pytest.mark.parametrize("name", ["get_root", "get_v2"])
def test_versions_identical(client: httpx.Client, replay, name: str) -> None:
    gold, resp = replay(client, name)
    assert resp.status_code == gold["status"], describe(resp)
    assert json_body(resp) == gold["body"]


def test_models_list(client: httpx.Client, replay) -> None:
    gold, resp = replay(client, "get_models")
    assert resp.status_code == gold["status"] == 200, describe(resp)
    body = json_body(resp)
    assert set(body) >= {"models"}, body
    assert len(body["models"]) == len(gold["body"]["models"]), body
    for expected, got in zip(gold["body"]["models"], body["models"], strict=True):
        assert_superset(expected, got, "GET /v2/models/ models[]")


def test_model_metadata(client: httpx.Client, replay) -> None:
    gold, resp = replay(client, "get_model")
    assert resp.status_code == gold["status"] == 200, describe(resp)
    assert_superset(gold["body"], json_body(resp), f"GET /v2/models/{MODEL}/")


# --------------------------------------------------------------------------- predict


@pytest.mark.parametrize(
    "name",
    [
        "predict_query_args",  # parameter in the query string, file in multipart
        "predict_form_args",  # all args as multipart form fields
        "predict_accept_json",  # explicit Accept: application/json
        "predict_accept_browser",  # browser-style Accept header with */*
    ],
)
def test_predict_json_identical(client: httpx.Client, replay, name: str) -> None:
    gold, resp = replay(client, name)
    assert resp.status_code == gold["status"] == 200, describe(resp)
    assert json_body(resp) == gold["body"]


@pytest.mark.parametrize("name", ["predict_accept_text_query", "predict_accept_png_query"])
def test_predict_accept_query_identical(client: httpx.Client, replay, name: str) -> None:
    """``?accept=...`` is how DEEPaaS 2.6.0 actually selects a non-JSON output."""
    gold, resp = replay(client, name)
    assert resp.status_code == gold["status"] == 200, describe(resp)
    assert media_type(resp) == media_type(gold["content_type"]), describe(resp)
    assert resp.content == golden_bytes(gold)


@pytest.mark.parametrize("name", ["predict_accept_text", "predict_accept_png"])
def test_predict_accept_header_is_ignored_as_deepaas_ignores_it(
    client: httpx.Client, replay, name: str
) -> None:
    """An ``accept`` argument without a location is read from the query or form only.

    DEEPaaS 2.6.0 ignores the ``Accept`` header then (its golden is JSON), and so does
    modelport: a header-located ``accept`` (``metadata={"location": "headers"}``) is the
    module's way to ask for the header (tests/compat/side_by_side).
    """
    gold, resp = replay(client, name)
    assert resp.status_code == gold["status"] == 200, describe(resp)
    assert media_type(resp) == media_type(gold["content_type"]), describe(resp)
    assert json_body(resp) == gold["body"]


def test_predict_unsupported_accept_header_is_not_a_server_error(
    client: httpx.Client, replay
) -> None:
    """``Accept: application/xml`` (not offered): DEEPaaS ignores it (200 JSON).

    modelport may answer the JSON (identical to DEEPaaS) or refuse with 406/422.
    """
    gold, resp = replay(client, "predict_bad_accept")
    assert resp.status_code in {200, 406, 422}, describe(resp)
    if resp.status_code == 200:
        assert json_body(resp) == gold["body"]
    else:
        assert isinstance(json_body(resp), dict)


VALIDATION_CASES = [
    "predict_missing_all_args",  # {"data": [...], "parameter": [...]}
    "predict_missing_file",  # {"data": [...]}
    "predict_bad_enum",  # {"parameter_three": [...]}
    "predict_out_of_range",  # {"parameter": [...]}
    "predict_not_integer",  # {"parameter": [...]}
    "predict_bad_accept_query",  # {"accept": [...]}
]


@pytest.mark.parametrize("name", VALIDATION_CASES)
def test_validation_error_keys(client: httpx.Client, replay, name: str) -> None:
    gold, resp = replay(client, name)
    assert resp.status_code == gold["status"] == 422, describe(resp)
    body = json_body(resp)
    assert isinstance(body, dict), describe(resp)
    assert sorted(body) == sorted(gold["body"]), (
        f"422 field names differ: expected {sorted(gold['body'])}, got {sorted(body)}: {body}"
    )


@pytest.mark.parametrize("name", VALIDATION_CASES)
def test_validation_error_messages_are_lists_of_strings(
    client: httpx.Client, replay, name: str
) -> None:
    """DEEPaaS's shape is ``{"field": ["message", ...]}``; only the wording may differ."""
    _, resp = replay(client, name)
    assert resp.status_code == 422, describe(resp)
    for field, messages in json_body(resp).items():
        assert isinstance(messages, list), f"{field}: {messages!r}"
        assert messages, f"{field}: empty message list"
        assert all(isinstance(m, str) and m for m in messages), f"{field}: {messages!r}"


def test_model_exception_is_json_500(client: httpx.Client, replay) -> None:
    """Intentional difference: DEEPaaS answers text/plain "Server got itself in trouble"."""
    gold, resp = replay(client, "predict_model_error")
    assert gold["status"] == 500
    body = assert_error_json(resp, 500)
    assert "Traceback" not in resp.text, describe(resp)
    assert 'File "' not in resp.text, describe(resp)
    assert set(body) >= {"message"}


def test_server_survives_model_exception(client: httpx.Client, replay) -> None:
    replay(client, "predict_model_error")
    gold, resp = replay(client, "predict_query_args")
    assert resp.status_code == 200, describe(resp)
    assert json_body(resp) == gold["body"]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name", ["get_unknown_model", "predict_unknown_model"])
def test_unknown_model_is_json_404(client: httpx.Client, replay, name: str) -> None:
    gold, resp = replay(client, name)
    assert gold["status"] == 404
    assert_error_json(resp, 404)


@pytest.mark.parametrize(
    "name", ["post_models_wrong_method", "delete_models_wrong_method", "get_predict_wrong_method"]
)
def test_wrong_method_is_json_405(client: httpx.Client, replay, name: str) -> None:
    gold, resp = replay(client, name)
    assert gold["status"] == 405
    assert_error_json(resp, 405)


def test_unknown_training_is_json_404(client: httpx.Client, replay) -> None:
    gold, resp = replay(client, "train_get_unknown")
    assert gold["status"] == 404
    assert_error_json(resp, 404)


# --------------------------------------------------------------------------- trailing slash


def test_predict_without_trailing_slash_answers_directly(client: httpx.Client, replay) -> None:
    """Intentional difference: DEEPaaS answers 308 (see golden predict_no_trailing_slash)."""
    gold, resp = replay(client, "predict_query_args", path=PREDICT.rstrip("/"))
    assert resp.status_code == 200, describe(resp)
    assert "location" not in resp.headers, describe(resp)
    assert json_body(resp) == gold["body"]


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("get_model", f"/v2/models/{MODEL}"),
        ("get_models", "/v2/models"),
        ("get_v2", "/v2"),
    ],
)
def test_get_without_trailing_slash_answers_directly(
    client: httpx.Client, replay, name: str, path: str
) -> None:
    gold, resp = replay(client, name, path=path)
    assert resp.status_code == 200, describe(resp)
    body = json_body(resp)
    if name == "get_models":
        for expected, got in zip(gold["body"]["models"], body["models"], strict=True):
            assert_superset(expected, got, f"GET {path}")
    elif name == "get_model":
        assert_superset(gold["body"], body, f"GET {path}")
    else:
        assert body == gold["body"]


def test_train_list_without_trailing_slash_answers_directly(client: httpx.Client) -> None:
    resp = client.get(TRAIN.rstrip("/"))
    assert resp.status_code == 200, describe(resp)
    assert isinstance(json_body(resp), list)


# --------------------------------------------------------------------------- training


def _wait_training(client: httpx.Client, uuid: str, timeout: float = 20.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        resp = client.get(TRAIN + uuid)
        assert resp.status_code == 200, describe(resp)
        if json_body(resp).get("status") != "running" or time.monotonic() > deadline:
            return resp
        time.sleep(0.1)


def _assert_date(value: Any) -> None:
    # DEEPaaS sends str(datetime.now()), e.g. "2026-11-29 11:21:36.893788".
    assert isinstance(value, str), value
    datetime.fromisoformat(value)


def test_train_post_get_and_list(client: httpx.Client, replay, golden) -> None:
    gold, resp = replay(client, "train_post")
    assert resp.status_code == gold["status"] == 200, describe(resp)
    started = json_body(resp)
    assert set(started) >= set(gold["body"]), f"expected keys {sorted(gold['body'])}: {started}"
    assert started["args"] == gold["body"]["args"] == {"sleep": 0.0}
    assert started["status"] in {"running", "done"}, started
    assert isinstance(started["uuid"], str), started
    assert started["uuid"], started
    _assert_date(started["date"])

    done = json_body(_wait_training(client, started["uuid"]))
    gold_done = golden("train_get")["body"]
    assert set(done) >= set(gold_done), f"expected keys {sorted(gold_done)}: {done}"
    assert done["status"] == gold_done["status"] == "done", done
    assert done["uuid"] == started["uuid"]
    assert done["args"] == gold_done["args"]
    assert set(done["result"]) >= set(gold_done["result"]), done["result"]
    assert done["result"]["output"] == gold_done["result"]["output"] == {"slept": 0.0}
    _assert_date(done["result"]["finish_date"])
    assert isinstance(done["result"]["duration"], str), done["result"]

    gold_list, resp = replay(client, "train_list")
    assert resp.status_code == gold_list["status"] == 200, describe(resp)
    listed = json_body(resp)
    assert isinstance(listed, list), f"DEEPaaS returns a bare JSON list, got {listed!r}"
    mine = [t for t in listed if t.get("uuid") == started["uuid"]]
    assert len(mine) == 1, listed
    assert set(mine[0]) >= set(gold_list["body"][0]), mine[0]
    assert mine[0]["status"] == "done", mine[0]


# --------------------------------------------------------------------------- specs


@pytest.fixture(scope="module")
def swagger(client: httpx.Client) -> dict[str, Any]:
    resp = client.get("/swagger.json")
    assert resp.status_code == 200, describe(resp)
    spec: dict[str, Any] = json_body(resp)
    return spec


@pytest.fixture(scope="module")
def predict_op(swagger: dict[str, Any]) -> dict[str, Any]:
    # deepaas_ui looks the predict operation up by DEEPaaS's path, with the slash.
    assert PREDICT in swagger.get("paths", {}), (
        f"{PREDICT} missing from swagger.json paths: {sorted(swagger.get('paths', {}))}"
    )
    op: dict[str, Any] = swagger["paths"][PREDICT]["post"]
    return op


def test_swagger_is_2_0(swagger: dict[str, Any]) -> None:
    assert swagger.get("swagger") == "2.0", {k: swagger[k] for k in swagger if k != "paths"}


def test_swagger_documents_deepaas_model_paths(swagger: dict[str, Any], golden) -> None:
    gold_paths = golden("get_swagger")["body"]["paths"]
    missing = [
        p
        for p in gold_paths
        if p.startswith("/v2/models/") and find_path(swagger["paths"], p, templates=True) is None
    ]
    assert not missing, f"paths documented by DEEPaaS but not by modelport: {missing}"


def test_swagger_predict_parameters(predict_op: dict[str, Any], golden) -> None:
    params = {p["name"]: p for p in predict_op["parameters"]}
    gold_op = golden("get_swagger")["body"]["paths"][PREDICT]["post"]
    assert set(params) == {p["name"] for p in gold_op["parameters"]}, sorted(params)
    for name, p in params.items():
        assert p["in"] in {"query", "formData", "header"}, (name, p)

    data = params["data"]
    assert (data["in"], data["type"], data.get("required")) == ("formData", "file", True), data

    parameter = params["parameter"]
    assert parameter["type"] == "integer", parameter
    assert parameter.get("required") is True, parameter
    assert (parameter.get("minimum"), parameter.get("maximum")) == (0, 100), parameter
    assert parameter.get("description") == "an int in [0,100]", parameter

    three = params["parameter_three"]
    assert three.get("enum") == ["foo", "bar"], three
    assert three.get("default") == "foo", three

    # DEEPaaS 2.6.0 documents accept as "in: query" and reads it only from the query/form.
    accept = params["accept"]
    assert accept["in"] == "query", accept

    # marshmallow-2 style kwargs (missing=, description=) must still be understood.
    label = params["label"]
    assert label.get("default") == "none", label
    assert label.get("description") == "old style", label
    assert not label.get("required"), label


def test_swagger_predict_produces(predict_op: dict[str, Any]) -> None:
    produces = predict_op.get("produces", [])
    assert {"application/json", "text/plain", "image/png"} <= set(produces), produces


def test_swagger_prediction_response_definition(
    swagger: dict[str, Any], predict_op: dict[str, Any]
) -> None:
    definitions = swagger.get("definitions", {})
    assert "ModelPredictionResponse" in definitions, sorted(definitions)
    props = definitions["ModelPredictionResponse"].get("properties", {})
    assert {"labels", "size", "parameter"} <= set(props), props
    # DEEPaaS refers to it from the predict 200 response; another name is fine
    # as long as it describes the same object.
    ok = predict_op.get("responses", {}).get("200", {})
    ref = ok.get("schema", {}).get("$ref", "")
    assert ref.startswith("#/definitions/"), ok
    target = definitions.get(ref.removeprefix("#/definitions/"), {})
    assert set(target.get("properties", {})) == set(props), (ref, target)


def test_openapi_3_1(client: httpx.Client) -> None:
    resp = client.get("/openapi.json")
    assert resp.status_code == 200, describe(resp)
    spec = json_body(resp)
    assert str(spec.get("openapi", "")).startswith("3.1"), spec.get("openapi")
    key = find_path(spec.get("paths", {}), PREDICT)
    assert key is not None, sorted(spec.get("paths", {}))
    assert "post" in spec["paths"][key], spec["paths"][key]


# --------------------------------------------------------------------------- uploads


def _files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def test_uploads_never_leak(tmp_path: Path, modelport_factory, replay) -> None:
    """Intentional difference: DEEPaaS never deletes the temp copy of an upload."""
    upload_tmp = tmp_path / "server-tmp"
    upload_tmp.mkdir()
    # small bodies are kept on a RAM tmpfs (MODELPORT_UPLOAD_MEMORY_DIR), larger ones in TMPDIR:
    # point both into upload_tmp and send each kind
    server = modelport_factory(
        tmp_path / "server",
        TMPDIR=str(upload_tmp),
        MODELPORT_UPLOAD_MEMORY_DIR=str(upload_tmp),
        MODELPORT_UPLOAD_MEMORY_LIMIT="400",
    )
    mix = [
        ("predict_query_args", 200),
        ("predict_accept_png_query", 200),
        ("predict_bad_enum", 422),
        ("predict_out_of_range", 422),
        ("predict_model_error", 500),
    ]
    statuses: dict[str, list[int]] = {}
    with httpx.Client(base_url=server.base_url, timeout=30, follow_redirects=False) as c:
        for i in range(100):
            name, expected = mix[i % len(mix)]
            _, resp = replay(c, name)
            statuses.setdefault(name, []).append(resp.status_code)
            assert resp.status_code == expected, f"request {i}: {describe(resp)}"
        for parameter in (5, 13, 500):  # bodies over the memory limit: on disk
            resp = c.post(
                PREDICT,
                params={"parameter": parameter},
                files={"data": ("big.bin", b"b" * 2000, "application/octet-stream")},
            )
            assert resp.status_code in (200, 500, 422), describe(resp)
    assert server.alive(), server.output()
    assert sum(len(v) for v in statuses.values()) == 100

    # Allow a moment for clean-up that runs after the response is sent.
    deadline = time.monotonic() + 5
    left = _files_under(upload_tmp)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _files_under(upload_tmp)
    assert not left, f"{len(left)} file(s) left in the server's TMPDIR: {left[:10]}"
    used = sorted(p for p in upload_tmp.iterdir() if p.is_dir())
    assert len(used) == 2, f"both upload directories (memory, disk) were used: {used}"
