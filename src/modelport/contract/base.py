"""What the server needs from a model, whatever form the scientist wrote it in.

Two adapters implement :class:`ServedModel`: ``typed.TypedModel`` (the new typed contract) and
``deepaas.DeepaasModel`` (legacy DEEPaaS v2 modules, unchanged). Everything above this layer
(runtime, HTTP, CLI, OpenAPI) talks only to this interface.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Generator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from modelport.contract.batching import BatchPolicy
from modelport.contract.files import Binary, UploadedFile
from modelport.errors import InvalidInput, ModelportError, NotImplementedByModel

JSON_MEDIA_TYPE = "application/json"
ANY_MEDIA_TYPE = "*/*"
MISSING_MESSAGE = "Missing data for required field."


@dataclass(frozen=True)
class Prediction:
    """An encoded prediction, ready to send: bytes and their media type."""

    content: bytes
    media_type: str
    filename: str | None = None


@dataclass(frozen=True)
class PreparedTraining:
    """Validated training arguments: what the job stores (and its worker reads with the model's
    own code), and, for a legacy module, the arguments as its fields read them (the DEEPaaS
    training view shows those: defaults filled in, values transformed)."""

    args: dict[str, Any]
    shown: dict[str, Any] | None = None


@dataclass
class RawArgs:
    """Arguments as they arrived, before validation.

    ``multi`` holds strings from the query string and form fields, and uploads, every value of a
    repeated key kept in order (the query string's first); ``query`` the query string's own, for
    adapters that rank it above the body, as DEEPaaS does; ``json`` holds the typed values of a
    JSON object body; ``accept`` is the request's Accept header (or the CLI's choice).
    """

    multi: dict[str, list[str | UploadedFile]] = field(default_factory=dict)
    json: dict[str, Any] = field(default_factory=dict)
    accept: str | None = None
    query: dict[str, list[str]] = field(default_factory=dict)

    def add(self, key: str, value: str | UploadedFile) -> None:
        """Append one value of ``key``."""
        self.multi.setdefault(key, []).append(value)

    def add_query(self, key: str, value: str) -> None:
        """Append one value of ``key`` from the query string."""
        self.query.setdefault(key, []).append(value)
        self.add(key, value)

    def form(self, key: str) -> list[str | UploadedFile]:
        """The values of ``key`` that came in the body (form fields and uploads)."""
        return self.multi.get(key, [])[len(self.query.get(key, ())) :]


@dataclass(frozen=True)
class Signature:
    """The arguments of predict (or train): a JSON schema plus what the schema cannot say."""

    schema: dict[str, Any]
    accept: tuple[str, ...] = ()
    #: where the ``accept`` argument is read: the Accept ``header`` (negotiated), or the ``query``
    #: string and body like any argument (a legacy module's ``accept`` without a location)
    accept_in: str = "header"
    accept_required: bool = False
    #: the value of ``accept`` when none is given (None: it has no default)
    accept_default: str | None = None

    @cached_property
    def properties(self) -> dict[str, Any]:
        """The schema of each argument, ``$ref`` and nullable unions resolved."""
        defs = self.schema.get("$defs", {})
        return {k: resolve(v, defs) for k, v in self.schema.get("properties", {}).items()}

    @property
    def required(self) -> list[str]:
        """Names of the arguments without a default."""
        return list(self.schema.get("required", []))

    def files(self) -> list[str]:
        """Names of the file-upload arguments."""
        return [k for k, v in self.properties.items() if is_file_schema(v)]

    def collect(self, raw: RawArgs) -> dict[str, Any]:
        """Pick each declared argument's value from ``raw``: JSON body first, then form/query."""
        props = self.properties
        data: dict[str, Any] = {}
        for name, prop in props.items():
            if name in raw.json:
                data[name] = raw.json[name]
                continue
            values = raw.multi.get(name)
            if not values:
                continue
            kind = prop.get("type")
            # a form's empty field is "not given", unless an empty string is a valid choice
            if (
                kind != "string"
                or is_file_schema(prop)
                or ("enum" in prop and "" not in prop["enum"])
            ):
                values = [v for v in values if not is_blank(v)]
                if not values:
                    continue
            data[name] = list(values) if kind == "array" else values[-1]
        return data


def is_blank(value: str | UploadedFile) -> bool:
    """Whether a form value means "not given": an empty string, or an empty file input."""
    if isinstance(value, UploadedFile):  # a form's empty file input: no name, no bytes
        return not value.original_filename and Path(value.filename).stat().st_size == 0
    return value == ""


def resolve(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline a top-level ``$ref`` and collapse ``anyOf: [X, null]`` into X (keeping the rest)."""
    ref = prop.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1], {})
        prop = {**target, **{k: v for k, v in prop.items() if k != "$ref"}}
    any_of = prop.get("anyOf")
    if isinstance(any_of, list):
        non_null = [s for s in any_of if s.get("type") != "null"]
        if len(non_null) == 1:
            rest = {k: v for k, v in prop.items() if k != "anyOf"}
            return {**resolve(non_null[0], defs), **rest}
    return prop


def is_file_schema(prop: dict[str, Any]) -> bool:
    """Whether an argument schema describes a file upload."""
    return prop.get("type") == "string" and prop.get("format") == "binary"


def choose_accept(raw: RawArgs, choices: tuple[str, ...]) -> str:
    """The media type for a model's special ``accept`` argument.

    An explicit ``accept`` argument (query, form or JSON, which is how DEEPaaS 2.6 clients send
    it) must be one of the choices or ``*/*``; otherwise the Accept header is negotiated.
    """
    explicit: object = raw.json.get("accept")
    if explicit is None and raw.multi.get("accept"):
        explicit = raw.multi["accept"][-1]
    if explicit is None:
        return negotiate(raw.accept, choices)
    if isinstance(explicit, str) and (explicit in choices or explicit == ANY_MEDIA_TYPE):
        return explicit
    raise InvalidInput({"accept": [_not_one_of(choices)]})


def _not_one_of(choices: tuple[str, ...]) -> str:
    return f"Must be one of: {', '.join(choices)}."


def negotiate(header: str | None, choices: tuple[str, ...]) -> str:
    """Pick the media type for a model's special ``accept`` argument.

    No header picks the first choice; ``*/*`` is passed through (as DEEPaaS does); a list with
    q-values picks the best listed choice. Nothing acceptable raises InvalidInput on ``accept``.
    """
    if not header or not header.strip():
        return choices[0]
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranked.append((-quality, index, media.strip().lower()))
    for _, _, media in sorted(ranked):
        if media in choices or media == ANY_MEDIA_TYPE:
            return media
        if media.endswith("/*"):
            family = media[:-1]
            match = next((c for c in choices if c.startswith(family)), None)
            if match:
                return match
    raise InvalidInput({"accept": [_not_one_of(choices)]})


def not_implemented(model: str) -> str:
    """What DEEPaaS says of a function a model lacks (its 501's message)."""
    return f"Not implemented by underlying model (loaded '{model}')"


def _json_fallback(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return tolist()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode_json(value: Any) -> bytes:
    """Encode a model's result as JSON (pydantic models, dataclasses, numpy values included)."""
    return to_json(value, fallback=_json_fallback)


def encode_raw(value: Any, media_type: str) -> Prediction:
    """Encode a non-JSON result (bytes, text, open file, Binary) with ``media_type``."""
    if isinstance(value, Binary):
        return Prediction(value.read(), value.media_type or media_type, value.filename)
    if isinstance(value, bytes | bytearray | memoryview):
        return Prediction(bytes(value), media_type)
    if isinstance(value, str):
        return Prediction(value.encode(), _with_charset(media_type))
    if isinstance(value, io.IOBase):
        try:
            data = value.read()
        finally:
            value.close()
        return Prediction(data if isinstance(data, bytes) else str(data).encode(), media_type)
    return Prediction(encode_json(value), JSON_MEDIA_TYPE)


def _with_charset(media_type: str) -> str:
    if media_type.startswith("text/") and "charset" not in media_type:
        return f"{media_type}; charset=utf-8"
    return media_type


def is_raw_result(value: Any) -> bool:
    """Whether a result is binary/file-like rather than JSON data."""
    return isinstance(value, Binary | bytes | bytearray | memoryview | io.IOBase)


class ServedModel(ABC):
    """A model as the server sees it: metadata, argument signatures, warm, prepare, predict."""

    #: the name it is served under (``/v2/models/{name}``)
    name: str
    #: ``typed`` or ``deepaas``
    kind: str
    #: where it came from (entry point or import path), for messages
    source: str
    #: how a worker process loads it again (an entry-point name or import path)
    spec: str = ""
    predict_signature: Signature
    train_signature: Signature | None = None
    #: JSON schema of a JSON prediction, when the model declares one
    response_schema: dict[str, Any] | None = None
    #: how the runtime merges concurrent requests into one call (None: a call per request)
    batch: BatchPolicy | None = None
    #: whether predict streams its results (an iterator): see :meth:`stream`
    streaming: bool = False

    @abstractmethod
    def metadata(self) -> dict[str, Any]:
        """Metadata in DEEPaaS's shape (id, name, description, license, author, version, ...)."""

    @property
    def produces(self) -> list[str]:
        """Media types predict can answer with."""
        return list(self.predict_signature.accept) or [JSON_MEDIA_TYPE]

    def warm(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Load weights and whatever else predict needs; called once before serving."""

    @abstractmethod
    def prepare(self, raw: RawArgs) -> dict[str, Any]:
        """Validate raw arguments into keyword arguments; InvalidInput names every bad field."""

    @abstractmethod
    def predict(self, kwargs: dict[str, Any]) -> Prediction:
        """Run the model (in a worker thread, never on the event loop) and encode its result."""

    def predict_batch(self, items: list[dict[str, Any]]) -> list[Prediction | ModelportError]:
        """Answer several requests (each's keyword arguments) at once: an answer or an error
        per request, in order. Only called when ``batch`` is set; by default one by one."""
        answers: list[Prediction | ModelportError] = []
        for kwargs in items:
            try:
                answers.append(self.predict(kwargs))
            except ModelportError as exc:
                answers.append(exc)
        return answers

    def stream(self, kwargs: dict[str, Any]) -> Generator[bytes, None, None]:
        """A streaming model's results, each encoded (JSON), as the model produces them (in a
        worker thread); closing the iterator stops the model. By default: one, the prediction."""
        yield self.predict(kwargs).content

    @property
    def trainable(self) -> bool:
        """Whether the model has a train function."""
        return self.train_signature is not None

    def prepare_train(self, raw: RawArgs) -> PreparedTraining:
        """Validate training arguments into their JSON form (what a job stores)."""
        raise NotImplementedByModel(not_implemented(self.name))

    def train(self, args: dict[str, Any], context: Any) -> Any:
        """Run the training with stored arguments (in a worker process); return its result."""
        raise NotImplementedByModel(not_implemented(self.name))
