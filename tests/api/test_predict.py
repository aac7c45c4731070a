"""POST /v2/models/{name}/predict/: argument sources, results, and every bad-input case."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import pytest

from tests.conftest import AppFactory
from tests.fixtures.site.mp_fixtures.legacy import PNG_1X1

PREDICT = "/v2/models/legacy/predict/"


async def test_legacy_multipart_upload_and_query_args(serve: AppFactory) -> None:
    client = await serve("legacy")
    response = await client.post(
        PREDICT,
        params={"number": "7", "flavour": "bar"},
        files={"data": ("cat.jpg", b"12345", "image/jpeg")},
    )
    assert response.status_code == 200
    assert response.json() == {
        "number": 7,
        "flavour": "bar",
        "size": 5,
        "names": [],
        "label": "none",
        "original_filename": "cat.jpg",
        "content_type": "image/jpeg",
        "field": "data",
    }


@pytest.mark.parametrize("slash", ["/", ""])
async def test_args_from_json_form_and_repeated_query_keys(serve: AppFactory, slash: str) -> None:
    client = await serve("legacy")
    url = PREDICT.rstrip("/") + slash
    as_json = await client.post(url, json={"number": 5, "names": ["a", "b"]})
    assert as_json.status_code == 200
    assert as_json.json()["names"] == ["a", "b"]
    as_form = await client.post(url, data={"number": "6", "flavour": "bar"})
    assert as_form.json()["number"] == 6
    assert as_form.json()["flavour"] == "bar"
    repeated = await client.post(url + "?number=1&names=x&names=y")
    assert repeated.json()["names"] == ["x", "y"]
    curl_style = await client.post(
        url,
        content=b'{"number": 8}',
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert curl_style.json()["number"] == 8


async def test_legacy_without_schema_is_wrapped_like_deepaas(serve: AppFactory) -> None:
    client = await serve("legacy-bare")
    response = await client.post("/v2/models/legacy-bare/predict/", params={"x": 4})
    assert response.json() == {"status": "OK", "predictions": [4, 8]}


@pytest.mark.parametrize(
    ("accept", "media_type", "body"),
    [
        ("text/plain", "text/plain; charset=utf-8", b"slept 0.0"),
        ("image/png", "image/png", PNG_1X1),
        ("image/*", "image/png", PNG_1X1),
        ("text/html;q=0.9, text/plain", "text/plain; charset=utf-8", b"slept 0.0"),
    ],
)
async def test_accept_header_selects_the_media_type_of_a_typed_model(
    serve: AppFactory, accept: str, media_type: str, body: bytes
) -> None:
    client = await serve("slow")
    response = await client.post("/v2/models/slow/predict/", headers={"accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.content == body


async def test_typed_accept_outside_the_choices_is_422_on_accept(serve: AppFactory) -> None:
    client = await serve("slow")
    response = await client.post("/v2/models/slow/predict/", headers={"accept": "video/mp4"})
    assert response.status_code == 422
    assert list(response.json()) == ["accept"]


@pytest.mark.parametrize(
    ("where", "media_type", "body"),
    [
        ({"params": {"accept": "text/plain"}}, "text/plain; charset=utf-8", b"number=3"),
        ({"data": {"accept": "image/png"}}, "image/png", PNG_1X1),
        ({"json": {"accept": "text/plain"}}, "text/plain; charset=utf-8", b"number=3"),
        # as DEEPaaS 2.6: an accept argument without a location ignores the Accept header
        ({"headers": {"accept": "image/png"}}, "application/json", None),
    ],
)
async def test_a_legacy_accept_argument_is_read_where_deepaas_reads_it(
    serve: AppFactory, where: dict[str, dict[str, str]], media_type: str, body: bytes | None
) -> None:
    client = await serve("legacy")
    params = {"number": "3", **where.get("params", {})}
    if "json" in where:
        response = await client.post(PREDICT, json={"number": 3, **where["json"]})
    else:
        response = await client.post(
            PREDICT, params=params, data=where.get("data"), headers=where.get("headers")
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    if body is not None:
        assert response.content == body


async def test_legacy_accept_outside_the_choices_is_422_on_accept(serve: AppFactory) -> None:
    client = await serve("legacy")
    response = await client.post(PREDICT, params={"number": 3, "accept": "video/mp4"})
    assert response.status_code == 422
    assert list(response.json()) == ["accept"]


async def test_validation_names_every_bad_field_in_deepaas_shape(serve: AppFactory) -> None:
    client = await serve("legacy")
    missing = await client.post(PREDICT)
    assert missing.status_code == 422
    assert missing.json() == {"number": ["Missing data for required field."]}
    bad = await client.post(PREDICT, params={"number": "200", "flavour": "baz", "ratio": "x"})
    assert bad.status_code == 422
    assert set(bad.json()) == {"number", "flavour", "ratio"}
    assert all(isinstance(m, list) and m for m in bad.json().values())


async def test_typed_model_validation_and_result(serve: AppFactory) -> None:
    client = await serve("echo")
    url = "/v2/models/echo/predict/"
    ok = await client.post(url, data={"text": "hi", "times": "2", "colour": "green"})
    assert ok.status_code == 200
    body = ok.json()
    assert body["text"] == "hihi"
    assert body["colour"] == "green"
    assert not body["thread"].startswith("MainThread"), "model code must not run on the loop"
    bad = await client.post(url, json={"times": 9, "colour": "blue"})
    assert bad.status_code == 422
    assert set(bad.json()) == {"text", "times", "colour"}
    assert bad.json()["text"] == ["Missing data for required field."]


async def test_typed_file_upload(serve: AppFactory) -> None:
    client = await serve("echo")
    response = await client.post(
        "/v2/models/echo/predict",
        data={"text": "x", "tags": ["a", "b"]},
        files={"upload": ("notes.txt", b"hello world", "text/plain")},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["size"], body["filename"], body["media_type"]) == (11, "notes.txt", "text/plain")
    assert body["tags"] == ["a", "b"]
    as_json = await client.post("/v2/models/echo/predict", json={"text": "x", "upload": "a.txt"})
    assert as_json.status_code == 422
    assert "multipart" in as_json.json()["upload"][0]


async def test_typed_accept_renders_text_png_and_json(serve: AppFactory) -> None:
    client = await serve("slow")
    url = "/v2/models/slow/predict/"
    text = await client.post(url, headers={"accept": "text/plain"})
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text == "slept 0.0"
    png = await client.post(url, headers={"accept": "image/png"})
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    data = await client.post(url)
    assert data.json() == {"slept": 0.0}


async def test_model_exception_is_json_500_without_traceback(serve: AppFactory) -> None:
    client = await serve("legacy")
    response = await client.post(PREDICT, params={"number": 13})
    assert response.status_code == 500
    body = response.json()
    # what failed and an id the server's log names, never the exception's text
    assert body == {
        "message": f"the model failed: RuntimeError (error id {body['error_id']})",
        "error_id": body["error_id"],
    }


async def test_debug_adds_the_traceback(serve: AppFactory) -> None:
    client = await serve("legacy", debug=True)
    response = await client.post(PREDICT, params={"number": 13})
    assert response.status_code == 500
    assert "Traceback" in response.json()["traceback"]
    assert "unlucky thirteen" in response.json()["traceback"]


async def test_output_violating_the_schema_is_500(serve: AppFactory) -> None:
    legacy = await serve("legacy")
    response = await legacy.post(PREDICT, params={"number": 99})
    assert response.status_code == 500
    assert "schema" in response.json()["message"]
    typed = await serve("echo")
    response = await typed.post(
        "/v2/models/echo/predict/", json={"text": "a", "mode": "bad-output"}
    )
    assert response.status_code == 500
    assert "invalid result" in response.json()["message"]


async def test_malformed_bodies(serve: AppFactory) -> None:
    client = await serve("legacy")
    bad_json = await client.post(
        PREDICT, content=b"{nope", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    # DEEPaaS's field shape, saying where the JSON breaks
    assert bad_json.json() == {
        "json": [
            "Invalid JSON body (line 1, column 2: "
            "Expecting property name enclosed in double quotes)."
        ]
    }
    not_object = await client.post(PREDICT, json=[1, 2])
    assert not_object.status_code == 400
    unsupported = await client.post(PREDICT, content=b"x", headers={"content-type": "text/csv"})
    assert unsupported.status_code == 415
    assert "message" in unsupported.json()
    no_boundary = await client.post(
        PREDICT, content=b"--x\r\n", headers={"content-type": "multipart/form-data"}
    )
    assert no_boundary.status_code == 400


async def test_upload_over_the_limit_is_413_before_reading_it(serve: AppFactory) -> None:
    client = await serve("legacy", max_upload_size=1000)
    declared = await client.post(
        PREDICT, params={"number": 1}, files={"data": ("big.bin", b"x" * 5000, "a/b")}
    )
    assert declared.status_code == 413
    assert declared.json()["message"] == "request body exceeds the limit of 1000 bytes"

    async def chunks():  # no Content-Length: the limit is enforced while streaming
        yield b'--b\r\nContent-Disposition: form-data; name="data"; filename="f"\r\n\r\n'
        for _ in range(100):
            yield b"y" * 100

    streamed = await client.post(
        PREDICT, content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert streamed.status_code == 413


async def test_no_upload_survives_the_request(
    serve: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk, memory = tmp_path / "disk", tmp_path / "memory"
    disk.mkdir()
    memory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(disk))
    client = await serve(
        "legacy", max_upload_size=8192, upload_memory_dir=memory, upload_memory_limit=1000
    )
    statuses: dict[int, int] = {}
    for i in range(100):
        number = {0: "5", 1: "13", 2: "500", 3: "x"}[i % 4]  # ok, model error, 422, 422
        # small bodies go to the memory tmpfs, larger ones to disk, every tenth is a 413
        size = 9000 if i % 10 == 9 else (2000 if i % 2 else 10)
        response = await client.post(
            PREDICT, params={"number": number}, files={"data": ("f.bin", b"z" * size, "a/b")}
        )
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    assert set(statuses) == {200, 413, 422, 500}, statuses
    for root in (disk, memory):
        used = list(root.iterdir())
        assert len(used) == 1, f"{root}: the private upload directory was used"
        assert [p for p in used[0].rglob("*")] == [], "no upload survives its request"


async def test_full_queue_answers_503_with_retry_after(serve: AppFactory) -> None:
    client = await serve("slow", predict_concurrency=1, predict_queue=1)
    url = "/v2/models/slow/predict/"
    first = asyncio.ensure_future(client.post(url, json={"seconds": 0.5}))
    second = asyncio.ensure_future(client.post(url, json={"seconds": 0.01}))
    await asyncio.sleep(0.15)
    third = await client.post(url, json={"seconds": 0})
    assert third.status_code == 503
    assert third.headers["retry-after"].isdigit()
    assert "busy" in third.json()["message"]
    assert (await first).status_code == 200
    assert (await second).status_code == 200
    assert (await client.post(url, json={"seconds": 0})).status_code == 200


async def test_timeout_answers_504(serve: AppFactory) -> None:
    client = await serve("slow", predict_timeout=0.2)
    response = await client.post("/v2/models/slow/predict/", json={"seconds": 1})
    assert response.status_code == 504
    assert "0.2 s" in response.json()["message"]


async def test_metrics_count_requests_errors_and_latency(serve: AppFactory) -> None:
    client = await serve("legacy")
    await client.post(PREDICT, params={"number": 1})
    await client.post(PREDICT, params={"number": 13})
    await client.post(PREDICT)
    text = (await client.get("/metrics")).text
    assert 'modelport_requests_total{endpoint="predict",model="legacy",status="200"} 1.0' in text
    assert 'modelport_requests_total{endpoint="predict",model="legacy",status="500"} 1.0' in text
    assert 'modelport_errors_total{kind="invalid_input",model="legacy"} 1.0' in text
    assert 'modelport_errors_total{kind="ModelError",model="legacy"} 1.0' in text
    assert 'modelport_request_duration_seconds_count{endpoint="predict",model="legacy"} 3.0' in text
    assert 'modelport_in_flight{model="legacy"} 0.0' in text
    assert "modelport_model_warm_seconds" in text
    json.dumps(text)
