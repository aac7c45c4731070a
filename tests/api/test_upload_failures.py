"""An upload the server cannot store is its own failure (503), never the caller's (400), and its
answer never names the server's upload directory."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import AppFactory


async def test_an_upload_area_that_cannot_be_written_is_a_503_without_its_path(
    serve: AppFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_directory = tmp_path / "shm"
    not_a_directory.write_text("a file where the upload directory's parent should be")
    client = await serve(
        "echo", upload_memory_dir=str(not_a_directory), upload_memory_limit=1024 * 1024
    )
    with caplog.at_level(logging.INFO):
        response = await client.post(
            "/v2/models/echo/predict/",
            data={"text": "a"},
            files={"upload": ("a.png", b"\x89PNG", "image/png")},
        )
    assert response.status_code == 503, response.text
    assert response.json() == {
        "message": "the server cannot store the uploaded file now: Not a directory"
    }
    assert str(tmp_path) not in response.text
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert str(not_a_directory) in record.getMessage()  # the log says where, for the admin
