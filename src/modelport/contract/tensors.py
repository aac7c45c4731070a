"""A model's predict signature and result as Open Inference Protocol (KServe v2) tensors.

Each predict argument is one named input tensor, typed by its JSON schema: ``int`` INT64,
``float`` FP64 (FP32, FP16 and integer tensors accepted too), ``bool`` BOOL, ``str`` (and
enums) BYTES, each of shape ``[1]``; a list of them shape ``[-1]``, a list of lists ``[-1, -1]``.
Any other argument (an object, a list of objects) is one BYTES element holding its JSON text;
file arguments have no tensor form (send them to ``predict``). The result is one output tensor,
``output``: a numeric tensor when the declared return type is a (nested) list of numbers, else
one BYTES element holding the JSON text (or the text, or the bytes, of a non-JSON result).

Requests arrive as JSON (``data`` flattened row-major, or nested, reshaped by ``shape``) or with
the ``binary_data`` extension: a JSON header of ``Inference-Header-Content-Length`` bytes, then
each binary input's raw little-endian bytes in order (BYTES elements as 4-byte-length-prefixed
strings). Decoded tensors become the model's keyword arguments as JSON values, which the model's
own ``prepare`` validates, so every error names the argument (the input) at fault.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any

from modelport.contract.base import (
    JSON_MEDIA_TYPE,
    Prediction,
    ServedModel,
    Signature,
    is_file_schema,
)
from modelport.errors import BadRequest, InvalidInput

#: each numeric datatype's ``struct`` format (little-endian on the wire)
NUMERIC_FORMATS = {
    "BOOL": "?",
    "UINT8": "B",
    "UINT16": "H",
    "UINT32": "I",
    "UINT64": "Q",
    "INT8": "b",
    "INT16": "h",
    "INT32": "i",
    "INT64": "q",
    "FP16": "e",
    "FP32": "f",
    "FP64": "d",
}
_INTEGERS = frozenset(k for k in NUMERIC_FORMATS if "INT" in k)
#: the datatype a JSON schema type is described with, and those accepted for it
_DATATYPES: dict[str, tuple[str, frozenset[str]]] = {
    "integer": ("INT64", _INTEGERS),
    "number": ("FP64", frozenset({"FP16", "FP32", "FP64"}) | _INTEGERS),
    "boolean": ("BOOL", frozenset({"BOOL"})),
    "string": ("BYTES", frozenset({"BYTES"})),
}
#: the element kind of an argument sent as its JSON text
JSON_KIND = "json"
OUTPUT = "output"
#: the ``platform`` a model's OIP metadata names
PLATFORM = "modelport"


@dataclass(frozen=True)
class TensorSpec:
    """One input or output as the model's metadata describes it (-1: any size)."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    #: the JSON schema type of its elements, or ``json`` for one JSON text
    kind: str

    def document(self) -> dict[str, Any]:
        """The ``$metadata_tensor`` object."""
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass
class Tensor:
    """A decoded request tensor: its elements flattened row-major."""

    name: str
    datatype: str
    shape: list[int]
    data: list[Any]


@dataclass
class InferRequest:
    """A decoded inference request."""

    id: str | None
    inputs: list[Tensor]
    #: the requested outputs by name, each with whether it is wanted as binary data
    outputs: dict[str, bool] | None
    binary_output: bool


def _spec_of(name: str, prop: dict[str, Any]) -> TensorSpec | None:
    """The tensor an argument or result schema maps to (None: a file, with no tensor form)."""
    if is_file_schema(prop) or (
        prop.get("type") == "array" and is_file_schema(prop.get("items", {}))
    ):
        return None
    element, rank = prop, 0
    while element.get("type") == "array" and isinstance(element.get("items"), dict):
        element, rank = element["items"], rank + 1
    kind = element.get("type")
    if isinstance(kind, str) and kind in _DATATYPES and rank <= 2:
        return TensorSpec(name, _DATATYPES[kind][0], (1,) if rank == 0 else (-1,) * rank, kind)
    return TensorSpec(name, "BYTES", (1,), JSON_KIND)


def input_specs(signature: Signature) -> list[TensorSpec]:
    """The input tensors of a predict signature, in argument order (files left out)."""
    specs = (_spec_of(name, prop) for name, prop in signature.properties.items())
    return [spec for spec in specs if spec is not None]


def output_spec(response_schema: dict[str, Any] | None, produces: list[str]) -> TensorSpec:
    """The output tensor: numeric for a declared list of numbers, else one BYTES element."""
    spec = _spec_of(OUTPUT, response_schema or {}) if produces == [JSON_MEDIA_TYPE] else None
    if spec is None or spec.kind in ("string", JSON_KIND) or spec.shape == (1,):
        return TensorSpec(OUTPUT, "BYTES", (1,), JSON_KIND)
    return spec


def output_of(model: ServedModel) -> TensorSpec:
    """The output tensor of ``model``."""
    return output_spec(model.response_schema, model.produces)


def model_metadata(model: ServedModel) -> dict[str, Any]:
    """OIP's model metadata keys (``name``, ``versions``, ``platform``, ``inputs``, ``outputs``)."""
    version = model.metadata().get("version")
    return {
        "name": model.name,
        "versions": [str(version)] if version else [],
        "platform": PLATFORM,
        "inputs": [spec.document() for spec in input_specs(model.predict_signature)],
        "outputs": [output_of(model).document()],
    }


# -- requests ----------------------------------------------------------------------------------


def parse_request(body: bytes, header_length: str | None) -> InferRequest:
    """Decode a body (JSON, or a JSON header then binary tensors); BadRequest if malformed."""
    size = len(body)
    if header_length is not None:
        try:
            size = int(header_length)
        except ValueError:
            raise BadRequest("Inference-Header-Content-Length is not a number") from None
        if not 0 < size <= len(body):
            raise BadRequest("Inference-Header-Content-Length is not within the body")
    try:
        header = json.loads(body[:size])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the inference request is not valid JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("inputs"), list):
        raise BadRequest("the inference request needs an 'inputs' list")
    binary = memoryview(body)[size:]
    inputs = []
    for item in header["inputs"]:
        tensor, used = _read_tensor(item, binary)
        binary = binary[used:]
        inputs.append(tensor)
    if len(binary):
        raise BadRequest(f"{len(binary)} bytes of binary data follow the inputs unclaimed")
    params = header.get("parameters") or {}
    outputs = None
    if isinstance(header.get("outputs"), list):
        outputs = {}
        for out in header["outputs"]:
            if not isinstance(out, dict) or not isinstance(out.get("name"), str):
                raise BadRequest("each requested output needs a 'name'")
            out_params = out.get("parameters") or {}
            outputs[out["name"]] = bool(out_params.get("binary_data", False))
    request_id = header.get("id")
    return InferRequest(
        str(request_id) if request_id is not None else None,
        inputs,
        outputs,
        bool(isinstance(params, dict) and params.get("binary_data_output", False)),
    )


def _read_tensor(item: Any, binary: memoryview) -> tuple[Tensor, int]:
    """One input tensor and how many bytes of the binary part it took."""
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise BadRequest("each input needs a 'name'")
    name, datatype, shape = item["name"], item.get("datatype"), item.get("shape")
    if datatype not in NUMERIC_FORMATS and datatype != "BYTES":
        raise InvalidInput({name: [f"unsupported datatype {datatype!r}"]})
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise InvalidInput({name: [f"shape must be a list of sizes, not {shape!r}"]})
    count = math.prod(shape)
    params = item.get("parameters") or {}
    size = params.get("binary_data_size") if isinstance(params, dict) else None
    if size is not None:
        if not isinstance(size, int) or not 0 <= size <= len(binary):
            raise BadRequest(f"input '{name}': binary_data_size is not within the body")
        data = _unpack(name, datatype, bytes(binary[:size]), count)
        return Tensor(name, datatype, shape, data), size
    if "data" not in item:
        raise InvalidInput({name: ["the input has neither 'data' nor binary data"]})
    data = _flatten(item["data"])
    if len(data) != count:
        raise InvalidInput({name: [f"{len(data)} values do not fill shape {shape}"]})
    return Tensor(name, datatype, shape, data), 0


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    return [x for item in data for x in _flatten(item)]


def _unpack(name: str, datatype: str, raw: bytes, count: int) -> list[Any]:
    if datatype != "BYTES":
        fmt = f"<{count}{NUMERIC_FORMATS[datatype]}"
        if struct.calcsize(fmt) != len(raw):
            raise InvalidInput({name: [f"{len(raw)} bytes do not fill {count} {datatype} values"]})
        return list(struct.unpack(fmt, raw))
    items: list[Any] = []
    offset = 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise InvalidInput({name: ["truncated BYTES element"]})
        (length,) = struct.unpack_from("<I", raw, offset)
        items.append(raw[offset + 4 : offset + 4 + length])
        offset += 4 + length
    if offset != len(raw) or len(items) != count:
        raise InvalidInput({name: [f"the BYTES data does not hold {count} elements"]})
    return items


def to_arguments(request: InferRequest, specs: list[TensorSpec]) -> dict[str, Any]:
    """The request's tensors as predict's JSON arguments, for the model's ``prepare``.

    InvalidInput names each input that is unknown, of the wrong datatype or shape.
    """
    by_name = {spec.name: spec for spec in specs}
    arguments: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for tensor in request.inputs:
        spec = by_name.get(tensor.name)
        if spec is None:
            known = ", ".join(by_name) or "none"
            errors[tensor.name] = [f"the model has no such input (its inputs: {known})"]
            continue
        try:
            arguments[tensor.name] = _value(tensor, spec)
        except ValueError as exc:
            errors[tensor.name] = [str(exc)]
    if errors:
        raise InvalidInput(errors)
    return arguments


def _value(tensor: Tensor, spec: TensorSpec) -> Any:
    """A tensor's elements shaped as the argument's JSON value; ValueError says what is wrong."""
    accepted = _DATATYPES[spec.kind][1] if spec.kind in _DATATYPES else frozenset({"BYTES"})
    if tensor.datatype not in accepted:
        raise ValueError(f"datatype {tensor.datatype} given, {spec.datatype} expected")
    data = [_text(x) if isinstance(x, bytes) else x for x in tensor.data]
    rank = 0 if spec.shape == (1,) else len(spec.shape)
    shape = list(tensor.shape)
    while len(shape) > max(rank, 1) and shape[0] == 1:  # a batch of one
        shape.pop(0)
    if rank == 0:
        if len(data) != 1:
            raise ValueError(f"shape {tensor.shape} given, one value ([1]) expected")
        if spec.kind == JSON_KIND:
            try:
                return json.loads(data[0])
            except (TypeError, json.JSONDecodeError) as exc:
                raise ValueError(f"the value is not JSON text: {exc}") from None
        return data[0]
    if len(shape) != rank:
        raise ValueError(f"shape {tensor.shape} given, {list(spec.shape)} expected")
    return _reshape(data, shape)


def _text(value: bytes) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise ValueError("a BYTES element is not UTF-8 text") from None


def _reshape(data: list[Any], shape: list[int]) -> list[Any]:
    if len(shape) == 1:
        return data
    step = math.prod(shape[1:])
    return [_reshape(data[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


# -- responses ---------------------------------------------------------------------------------


def encode_response(
    prediction: Prediction, spec: TensorSpec, request: InferRequest, model: str, version: str
) -> tuple[bytes, int | None]:
    """The response body, and the length of its JSON header when binary outputs follow it."""
    binary = request.binary_output
    if request.outputs is not None:
        unknown = [name for name in request.outputs if name != spec.name]
        if unknown:
            raise BadRequest(f"the model has no output {unknown[0]!r} (its output: {spec.name})")
        if spec.name not in request.outputs:
            return _document(request, model, version, []), None
        binary = request.outputs[spec.name]
    datatype, shape, data = _tensor_of(prediction, spec)
    output: dict[str, Any] = {"name": spec.name, "datatype": datatype, "shape": shape}
    if not binary:
        output["data"] = [x.decode(errors="replace") if isinstance(x, bytes) else x for x in data]
        return _document(request, model, version, [output]), None
    raw = _pack(datatype, data)
    output["parameters"] = {"binary_data_size": len(raw)}
    header = _document(request, model, version, [output])
    return header + raw, len(header)


def _document(request: InferRequest, model: str, version: str, outputs: list[Any]) -> bytes:
    doc: dict[str, Any] = {"model_name": model, "model_version": version, "outputs": outputs}
    if request.id is not None:
        doc["id"] = request.id
    return json.dumps(doc, separators=(",", ":")).encode()


def _tensor_of(prediction: Prediction, spec: TensorSpec) -> tuple[str, list[int], list[Any]]:
    """The prediction as (datatype, shape, flat elements): numeric when it fits ``spec``."""
    if prediction.media_type != JSON_MEDIA_TYPE or spec.datatype == "BYTES":
        return "BYTES", [1], [prediction.content]
    value = json.loads(prediction.content)
    shape = _shape_of(value, len(spec.shape))
    flat = _flatten(value)
    numeric: dict[str, type | tuple[type, ...]] = {"BOOL": bool, "INT64": int, "FP64": (int, float)}
    fits = all(
        isinstance(x, numeric[spec.datatype]) and (spec.datatype == "BOOL") == isinstance(x, bool)
        for x in flat
    )
    if shape is None or not fits:
        return "BYTES", [1], [prediction.content]
    return spec.datatype, shape, [float(x) for x in flat] if spec.datatype == "FP64" else flat


def _shape_of(value: Any, rank: int) -> list[int] | None:
    """The shape of a rectangular nested list of ``rank`` levels (None: it is not one)."""
    if rank == 0:
        return [] if not isinstance(value, list) else None
    if not isinstance(value, list):
        return None
    inner = [_shape_of(item, rank - 1) for item in value]
    if any(s is None or s != inner[0] for s in inner):
        return None
    return [len(value), *(inner[0] or [0] * (rank - 1))] if inner else [0] * rank


def _pack(datatype: str, data: list[Any]) -> bytes:
    if datatype != "BYTES":
        return struct.pack(f"<{len(data)}{NUMERIC_FORMATS[datatype]}", *data)
    return b"".join(struct.pack("<I", len(x)) + x for x in data)
