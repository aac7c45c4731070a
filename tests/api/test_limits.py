"""The app's limits on what one request may carry: fields, field sizes, parts, JSON depth.

Each answers a clear 400/413 JSON naming the limit (never a 500), refuses as early as it can,
and leaves no uploaded file behind.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import AppFactory

PREDICT = "/v2/models/echo/predict/"
FORM = {"content-type": "application/x-www-form-urlencoded"}
MiB = 1024 * 1024


def assert_clear(response: httpx.Response, status: int, *needles: str) -> None:
    """A JSON error of ``status`` whose text names every needle, without a traceback."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert "Traceback" not in response.text
    assert "site-packages" not in response.text  # no server path
    for needle in needles:
        assert needle in response.text, response.text


async def test_a_form_with_100000_fields_is_400_naming_the_limit(serve: AppFactory) -> None:
    client = await serve("echo")
    body = "&".join(f"f{i}=x" for i in range(100_000))
    many = await client.post(PREDICT, content=body, headers=FORM)
    assert_clear(many, 400, "too many form fields", "max_fields")
    at_limit = "&".join(["text=a", *(f"f{i}=x" for i in range(999))])
    assert (await client.post(PREDICT, content=at_limit, headers=FORM)).status_code == 200


async def test_a_form_field_over_the_size_limit_is_400_naming_the_field(
    serve: AppFactory,
) -> None:
    client = await serve("echo")
    fifty_mb = await client.post(PREDICT, content=b"text=" + b"a" * (50 * MiB), headers=FORM)
    assert_clear(fifty_mb, 400, "max_field_size")
    assert list(fifty_mb.json()) == ["text"]  # the field shape, naming the field
    small = await serve("echo", max_field_size=100)
    refused = await small.post(PREDICT, content="text=" + "é" * 60, headers=FORM)  # 120 bytes
    assert_clear(refused, 400, "limit of 100 bytes")
    fits = await small.post(PREDICT, content="text=" + "a" * 100, headers=FORM)
    assert fits.status_code == 200


async def test_a_multipart_text_field_is_refused_once_it_passes_the_limit(
    serve: AppFactory,
) -> None:
    client = await serve("echo")
    sent = 0

    async def fifty_megabytes() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="text"\r\n\r\n'
        for _ in range(50 * 16):
            sent += 64 * 1024
            yield b"t" * (64 * 1024)
        yield b"\r\n--b--\r\n"

    response = await client.post(
        PREDICT,
        content=fifty_megabytes(),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert_clear(response, 400, "max_field_size")
    assert list(response.json()) == ["text"]
    assert sent < 2 * MiB, "refused as soon as the field passed 1 MiB, not after reading it all"


async def test_10000_multipart_parts_are_400_and_leave_no_file(
    serve: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk, memory = tmp_path / "disk", tmp_path / "memory"
    disk.mkdir()
    memory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(disk))
    client = await serve("echo", upload_memory_dir=memory)
    parts = [
        f'--b\r\nContent-Disposition: form-data; name="f{i}"; filename="f{i}.txt"\r\n\r\nx\r\n'
        for i in range(10_000)
    ]
    body = ("".join(parts) + "--b--\r\n").encode()
    for declared in (True, False):  # sized bodies go to the memory tmpfs, unsized ones to disk
        content = body if declared else _chunks(body)
        response = await client.post(
            PREDICT, content=content, headers={"content-type": "multipart/form-data; boundary=b"}
        )
        assert_clear(response, 400, "too many multipart parts", "more than 1000", "max_fields")
    for root in (disk, memory):
        assert [p for p in root.rglob("*") if p.is_file()] == [], "no upload survives"


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


async def test_a_multipart_part_with_huge_headers_is_400(serve: AppFactory) -> None:
    client = await serve("echo")  # python-multipart's caps: 8 headers of ~4 KiB per part
    body = (
        b'--b\r\nContent-Disposition: form-data; name="text"\r\nX-Pad: '
        + b"p" * (1024 * 1024)
        + b"\r\n\r\nhi\r\n--b--\r\n"
    )
    response = await client.post(
        PREDICT, content=body, headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert_clear(response, 400, "header size exceeded")


async def test_too_many_query_parameters_are_400(serve: AppFactory) -> None:
    client = await serve("echo", max_fields=10)
    query = "&".join(["text=a", *(f"q{i}=1" for i in range(10))])
    assert_clear(await client.post(f"{PREDICT}?{query}"), 400, "too many query parameters")
    assert (await client.post(f"{PREDICT}?text=a&times=2")).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the JSON decoder goes
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"text": "a", "tags": ' + b"[" * 65 + b"]" * 65 + b"}",  # just over max_json_depth
    ],
    ids=["arrays-100000", "objects-100000", "depth-66"],
)
@pytest.mark.parametrize("media", ["application/json", "application/x-www-form-urlencoded"])
async def test_deeply_nested_json_is_422_naming_json(
    serve: AppFactory, body: bytes, media: str
) -> None:
    client = await serve("echo")
    if media != "application/json" and body.startswith(b"["):
        body = b'{"a": ' + body + b"}"  # read as JSON when it starts like an object
    response = await client.post(PREDICT, content=body, headers={"content-type": media})
    assert_clear(response, 422, "max_json_depth")
    assert list(response.json()) == ["json"]  # the field, as every invalid argument


async def test_json_within_the_depth_limit_is_read(serve: AppFactory) -> None:
    client = await serve("echo", max_json_depth=3)
    fits = await client.post(PREDICT, json={"text": "a", "tags": ["x", "y"]})  # depth 2
    assert fits.status_code == 200
    assert fits.json()["tags"] == ["x", "y"]
    deeper = await client.post(PREDICT, json={"text": "a", "tags": [[["x"]]]})  # depth 4
    assert_clear(deeper, 422, "Nested deeper than 3 levels")
    # many brackets, little depth: the cheap count lets it through to the real walk
    wide = await client.post(PREDICT, json={"text": "a", "tags": ["[{"] * 10})
    assert wide.status_code == 200


async def test_large_bodies_parse_off_the_event_loop_with_the_same_result(
    serve: AppFactory,
) -> None:
    client = await serve("echo")
    text = "b" * (512 * 1024)
    as_json = await client.post(PREDICT, json={"text": text, "tags": ["t"] * 1000})
    assert as_json.status_code == 200
    assert as_json.json()["text"] == text
    as_form = await client.post(PREDICT, data={"text": text, "tags": "t"})
    assert as_form.status_code == 200
    assert as_form.json()["text"] == text
