"""How a model's refusals and failures reach a client, in-process: a module's own validation
(modelport's InvalidInput, or marshmallow's in a DEEPaaS module) is a 422 naming the field; any
other exception a 500 with only its type and an error id; no answer ever holds a server path."""

from __future__ import annotations

import logging

import pytest

from modelport.errors import ModelError, redact_paths
from tests.conftest import AppFactory

LEGACY = "mp_fixtures.legacy_refusals"
URL = "/v2/models/mp_fixtures/predict/"  # a module given by import path is named by its package


async def test_a_deepaas_module_raising_marshmallows_validation_error(serve: AppFactory) -> None:
    client = await serve(LEGACY)
    odd = await client.post(URL, params={"number": 3})
    assert odd.status_code == 422
    assert odd.json() == {"number": ["odd: give an even number"]}
    negative = await client.post(URL, params={"number": -2})
    assert negative.status_code == 422
    assert negative.json() == {"_schema": ["negative numbers have no meaning here"]}
    assert (await client.post(URL, params={"number": 4})).json() == {
        "status": "OK",
        "predictions": {"half": 2},
    }


async def test_an_upload_named_by_a_module_shows_its_own_file_name(serve: AppFactory) -> None:
    client = await serve(LEGACY)
    refused = await client.post(URL, files={"data": ("photo.jpg", b"\xff\xd8", "image/jpeg")})
    assert refused.status_code == 422
    assert refused.json() == {"data": ["cannot use photo.jpg"]}


async def test_a_failure_is_logged_once_with_its_id_and_answered_without_its_text(
    serve: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await serve(LEGACY)
    with caplog.at_level(logging.INFO):
        failed = await client.post(URL, params={"number": 42})
    assert failed.status_code == 500
    error_id = failed.json()["error_id"]
    assert failed.json() == {
        "message": f"the model failed: OSError (error id {error_id})",
        "error_id": error_id,
    }
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    logged = errors[0].getMessage()
    assert logged.startswith(f"error {error_id} on POST {URL}: OSError: cannot open /srv/models/")
    assert "Traceback (most recent call last)" in logged


async def test_debug_answers_the_traceback_too(serve: AppFactory) -> None:
    client = await serve(LEGACY, debug=True)
    failed = await client.post(URL, params={"number": 42})
    assert failed.status_code == 500
    assert failed.json()["message"].startswith("the model failed: OSError (error id ")
    assert "Traceback" in failed.json()["traceback"]


async def test_a_caller_mistake_logs_no_error(
    serve: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await serve(LEGACY, "echo")
    with caplog.at_level(logging.INFO):
        assert (await client.post(URL, params={"number": 3})).status_code == 422
        assert (await client.post(URL, params={"number": "x"})).status_code == 422
        assert (await client.post("/v2/models/echo/predict/")).status_code == 422
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_model_error_keeps_its_text_for_the_log_and_the_local_cli() -> None:
    try:
        raise FileNotFoundError("/srv/x/weights.pt")
    except FileNotFoundError as exc:
        error = ModelError.raised(exc, "Traceback ...")
    assert error.message == "FileNotFoundError: /srv/x/weights.pt"
    assert error.error_type == "FileNotFoundError"
    assert error.detail == "Traceback ..."


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "cannot identify image file <_io.BufferedReader name='/dev/shm/modelport-uploads-1/0'>",
            "cannot identify image file <_io.BufferedReader name='.../0'>",
        ),
        ("[Errno 2] No such file: '/srv/m/weights.pt'", "[Errno 2] No such file: '.../weights.pt'"),
        ("read file:///etc/passwd", "read .../passwd"),
        ("see https://example.org/a/b", "see https://example.org/a/b"),
        ("a/b and 1/2 stay", "a/b and 1/2 stay"),
    ],
)
def test_redact_paths(text: str, shown: str) -> None:
    assert redact_paths(text) == shown


def test_redact_paths_names_known_paths_as_told() -> None:
    upload = "/dev/shm/modelport-uploads-1-x/0"
    assert redact_paths(f"bad file {upload}", {upload: "photo.jpg"}) == "bad file photo.jpg"
