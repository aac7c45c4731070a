"""The Open Inference Protocol through the platform's gateway (``modelport up``): the platform's
app on a real server on 127.0.0.1, catalog modules in real worker processes, ``tritonclient``."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as triton
import uvicorn
from fastapi import FastAPI, Request
from tritonclient.utils import InferenceServerException

from modelport.api.errors import install_error_handlers
from modelport.api.gateway import gateway_router
from modelport.apps.platform import build_platform
from modelport.catalog.domain import ModuleRecord
from modelport.catalog.setup import build_catalog_service
from modelport.errors import NotFound
from modelport.gateway.pool import ModelPool
from modelport.settings import Settings
from tests.cli.test_cli import free_port
from tests.gateway.conftest import publish

pytestmark = pytest.mark.slow

SCALE = "mp_fixtures.numeric:Scale"


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` (its lifespan included) on 127.0.0.1 in a thread; yield its host:port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server stopped"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def values(binary: bool) -> list[triton.InferInput]:
    """The ``scale`` module's inputs: values [1, 2] times 3."""
    made = triton.InferInput("values", [2], "FP64").set_data_from_numpy(
        np.array([1.0, 2.0]), binary_data=binary
    )
    factor = triton.InferInput("factor", [1], "FP32").set_data_from_numpy(
        np.array([3.0], dtype=np.float32), binary_data=binary
    )
    return [made, factor]


def test_tritonclient_through_the_platform(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    catalog = build_catalog_service(settings)
    publish(catalog, "scale", SCALE, "1.0.0")
    publish(catalog, "scale", SCALE, "1.1.0")
    app, _ = build_platform(settings, seed=False)
    with running(app) as address, triton.InferenceServerClient(url=address) as client:
        assert client.is_server_live()
        assert client.is_server_ready()
        assert client.is_model_ready("scale")
        assert client.is_model_ready("scale", model_version="1.0.0")
        assert not client.is_model_ready("nope")

        for binary in (False, True):
            outputs = [triton.InferRequestedOutput("output", binary_data=binary)]
            result = client.infer("scale", values(binary), outputs=outputs)
            assert result.as_numpy("output").tolist() == [3.0, 6.0]
        older = client.infer("scale", values(True), model_version="1.0.0")
        assert older.as_numpy("output").tolist() == [3.0, 6.0]

        meta = client.get_model_metadata("scale", model_version="latest")
        assert meta["platform"] == "modelport"
        assert {"name": "values", "datatype": "FP64", "shape": [-1]} in meta["inputs"]
        assert meta["outputs"] == [{"name": "output", "datatype": "FP64", "shape": [-1]}]

        with pytest.raises(InferenceServerException) as unknown:
            client.infer("nope", values(False))
        assert unknown.value.status() == "404"
        assert "nope" in unknown.value.message()
        with pytest.raises(InferenceServerException) as invalid:
            client.infer("scale", values(False)[1:])
        assert invalid.value.status() == "422"
        assert invalid.value.message() == "values: Missing data for required field."


async def hide_secret(request: Request, module: ModuleRecord) -> None:
    """Authorization as the platform's for a caller who may not see ``secret``."""
    if module.name == "secret":
        raise NotFound(f"module '{module.name}' not found")


def test_a_hidden_module_is_not_found(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    catalog = build_catalog_service(settings)
    publish(catalog, "secret", SCALE)
    publish(catalog, "scale", SCALE)
    pool = ModelPool(settings, catalog, spool_dir=tmp_path)
    app = FastAPI()
    install_error_handlers(app, settings.debug)
    app.include_router(gateway_router(pool, catalog, settings, authorize=hide_secret))
    try:
        with running(app) as address, triton.InferenceServerClient(url=address) as client:
            with pytest.raises(InferenceServerException) as hidden:
                client.infer("secret", values(False))
            assert hidden.value.status() == "404"
            assert hidden.value.message() == "module 'secret' not found"
            assert not client.is_model_ready("secret")
            assert [w.module for w in pool.loaded()] == []  # nothing was started for it
            assert client.infer("scale", values(True)).as_numpy("output").tolist() == [3.0, 6.0]
    finally:
        asyncio.run(pool.close())
