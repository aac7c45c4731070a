"""The Open Inference Protocol on ``modelport serve``, driven by the real OIP clients
(``tritonclient.http`` and KServe's ``InferenceRESTClient``) over a real server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from tritonclient.utils import InferenceServerException

from tests.cli.test_cli import free_port, wait_ready
from tests.conftest import subprocess_env

pytestmark = pytest.mark.slow

SCALE = "mp_fixtures.numeric:Scale"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """``modelport serve`` for iris, the numeric fixture model and a legacy module."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelport",
            "serve",
            "iris",
            SCALE,
            "legacy-bare",
            "--port",
            str(port),
        ],
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}", limit_s=60)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


@pytest.fixture
def client(server: str) -> Iterator[triton.InferenceServerClient]:
    with triton.InferenceServerClient(url=server) as found:
        yield found


def tensor(name: str, value: np.ndarray, binary: bool) -> triton.InferInput:
    datatype = "BYTES" if value.dtype == np.object_ else None
    made = triton.InferInput(name, list(value.shape), datatype or _triton_type(value))
    return made.set_data_from_numpy(value, binary_data=binary)


def _triton_type(value: np.ndarray) -> str:
    from tritonclient.utils import np_to_triton_dtype

    return str(np_to_triton_dtype(value.dtype))


@pytest.mark.parametrize("binary", [False, True])
def test_tritonclient_infers_iris(client: triton.InferenceServerClient, binary: bool) -> None:
    inputs = [
        tensor(name, np.array([value], dtype=np.float32), binary)
        for name, value in [
            ("sepal_length", 5.1),
            ("sepal_width", 3.5),
            ("petal_length", 1.4),
            ("petal_width", 0.2),
        ]
    ]
    inputs.append(tensor("top_k", np.array([2], dtype=np.int64), binary))
    outputs = [triton.InferRequestedOutput("output", binary_data=binary)]
    result = client.infer("iris", inputs, outputs=outputs, request_id="r1")
    (text,) = result.as_numpy("output")
    species = json.loads(text)
    assert species[0]["label"] == "setosa"
    assert len(species) == 2
    assert result.get_response()["id"] == "r1"
    assert result.get_response()["model_version"] == "1.0.0"


@pytest.mark.parametrize("binary", [False, True])
def test_tritonclient_numeric_tensors_round_trip(
    client: triton.InferenceServerClient, binary: bool
) -> None:
    inputs = [
        tensor("values", np.array([1.0, 2.0, 3.0], dtype=np.float64), binary),
        tensor("factor", np.array([0.5], dtype=np.float32), binary),
        tensor("negate", np.array([True]), binary),
        tensor("rows", np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float64), binary),
        tensor("label", np.array(["abc"], dtype=np.object_), binary),
    ]
    # no outputs named: tritonclient asks for every output in binary
    result = client.infer("scale", inputs)
    out = result.as_numpy("output")
    assert out.dtype == np.float64
    assert out.tolist() == [-0.5, -1.0, -1.5, 3.0, 7.0, 3.0]


def test_server_and_model_metadata(client: triton.InferenceServerClient, server: str) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("scale")
    assert client.is_model_ready("iris", model_version="1.0.0")
    assert not client.is_model_ready("no-such-model")
    meta = client.get_model_metadata("scale")
    assert meta["versions"] == ["1.0.0"]
    assert meta["platform"] == "modelport"
    assert meta["description"].startswith("Scale a vector")  # the DEEPaaS keys too
    inputs = {t["name"]: (t["datatype"], t["shape"]) for t in meta["inputs"]}
    assert inputs["values"] == ("FP64", [-1])
    assert inputs["repeat"] == ("INT64", [1])
    assert inputs["rows"] == ("FP64", [-1, -1])
    assert inputs["label"] == ("BYTES", [1])
    assert meta["outputs"] == [{"name": "output", "datatype": "FP64", "shape": [-1]}]
    iris = client.get_model_metadata("iris", model_version="1.0.0")
    assert iris["outputs"] == [{"name": "output", "datatype": "BYTES", "shape": [1]}]
    # a legacy module: its DEEPaaS document unchanged, its OIP document under its version
    legacy = httpx.get(f"http://{server}/v2/models/legacy-bare").json()
    assert "inputs" not in legacy
    legacy_oip = client.get_model_metadata("legacy-bare", model_version="any")
    assert legacy_oip["inputs"] == [{"name": "x", "datatype": "INT64", "shape": [1]}]


def test_legacy_module_infers(client: triton.InferenceServerClient) -> None:
    result = client.infer("legacy-bare", [tensor("x", np.array([4], dtype=np.int32), False)])
    (text,) = result.as_numpy("output")
    assert json.loads(text) == {"status": "OK", "predictions": [4, 8]}


def test_errors_name_the_input(client: triton.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException) as unknown:
        client.infer("no-such-model", [tensor("x", np.array([1], dtype=np.int64), False)])
    assert unknown.value.status() == "404"
    assert "no-such-model" in unknown.value.message()

    wrong_type = tensor("repeat", np.array([1.5], dtype=np.float32), False)
    with pytest.raises(InferenceServerException) as bad_type:
        client.infer("scale", [tensor("values", np.array([1.0]), True), wrong_type])
    assert bad_type.value.status() == "422"
    assert "repeat" in bad_type.value.message()
    assert "FP32" in bad_type.value.message()

    too_many = tensor("repeat", np.array([7], dtype=np.int64), False)
    with pytest.raises(InferenceServerException) as out_of_range:
        client.infer("scale", [tensor("values", np.array([1.0]), False), too_many])
    assert out_of_range.value.status() == "422"
    assert out_of_range.value.message().startswith("repeat:")

    flat_rows = tensor("rows", np.array([1.0, 2.0]), False)
    with pytest.raises(InferenceServerException) as bad_shape:
        client.infer("scale", [tensor("values", np.array([1.0]), False), flat_rows])
    assert "rows" in bad_shape.value.message()
    assert "shape" in bad_shape.value.message()

    with pytest.raises(InferenceServerException) as missing:
        client.infer("scale", [tensor("factor", np.array([1.0]), False)])
    assert missing.value.message() == "values: Missing data for required field."


def test_malformed_requests_answer_400_json(server: str) -> None:
    base = f"http://{server}/v2/models/scale/infer"
    broken = httpx.post(base, content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400
    assert "not valid JSON" in broken.json()["error"]
    short = httpx.post(
        base,
        content=b'{"inputs": []}',
        headers={"Inference-Header-Content-Length": "999"},
    )
    assert short.status_code == 400
    assert "Inference-Header-Content-Length" in short.json()["error"]


async def test_kserve_client_infers_and_checks_health(server: str) -> None:
    base = f"http://{server}"
    client = InferenceRESTClient(RESTConfig(protocol="v2"))
    try:
        assert await client.is_server_live(base)
        assert await client.is_server_ready(base)
        assert await client.is_model_ready(base, "iris")
        values = InferInput("values", [2], "FP64", [1.5, 2.5])
        factor = InferInput("factor", [1], "FP64")
        factor.set_data_from_numpy(np.array([2.0]), binary_data=True)
        request = InferRequest("scale", [values, factor], request_id="k1")
        response = await client.infer(base, request, model_name="scale")
        assert response.outputs[0].as_numpy().tolist() == [3.0, 5.0]
        assert response.id == "k1"

        names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
        flower = [
            InferInput(n, [1], "FP32", [v])
            for n, v in zip(names, [6.7, 3.0, 5.2, 2.3], strict=True)
        ]
        iris = await client.infer(base, InferRequest("iris", flower), model_name="iris")
        species = json.loads(iris.outputs[0].data[0])
        assert species[0]["label"] == "virginica"

        wrong = InferInput("values", [1], "BYTES", ["x"])
        with pytest.raises(httpx.HTTPStatusError) as bad:
            await client.infer(base, InferRequest("scale", [wrong]), model_name="scale")
        assert bad.value.response.status_code == 422
        assert "values: datatype BYTES given, FP64 expected" in str(bad.value)
    finally:
        await client.close()
