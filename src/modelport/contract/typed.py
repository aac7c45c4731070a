"""The typed model contract: a class whose type hints are the API.

A scientist subclasses :class:`Model`, declares ``predict`` (and optionally ``train``) with
type hints and defaults, and gets the HTTP API, its OpenAPI schema and a CLI from them.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import traceback
import typing
from collections.abc import Generator, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model

from modelport.contract.base import (
    ANY_MEDIA_TYPE,
    JSON_MEDIA_TYPE,
    MISSING_MESSAGE,
    Prediction,
    PreparedTraining,
    RawArgs,
    ServedModel,
    Signature,
    choose_accept,
    encode_json,
    encode_raw,
    is_raw_result,
)
from modelport.contract.batching import batch_policy, call_batch, element_type
from modelport.contract.files import RESOLVED, TRAINING, Binary, File
from modelport.contract.streaming import iterate, stream_item_type
from modelport.errors import (
    InvalidInput,
    InvalidOutput,
    ModelError,
    ModelLoadError,
    ModelportError,
    NotFound,
)

#: The environment variable naming a directory of artifacts, for a model served or tested
#: outside the platform (the platform hands its workers the directory itself).
MODEL_DIR_ENV = "MODELPORT_MODEL_DIR"
#: The artifacts directory of the model being built (so ``__init__`` may call ``artifact()``).
_BUILDING_WITH: ContextVar[Path | None] = ContextVar("modelport_artifacts", default=None)
_TEXT_MEDIA_TYPE = "text/plain"
_OCTET_STREAM = "application/octet-stream"
_ACCEPT = "accept"


class Model:
    """Base class of typed models. Subclass it, set the metadata attributes, write ``predict``.

    The docstring is the description. ``warm()`` runs once before serving; ``train(ctx, ...)``
    is optional.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "0.0.0"
    license: ClassVar[str] = ""
    authors: ClassVar[list[str]] = []
    links: ClassVar[dict[str, str]] = {}
    #: anything else to publish with the metadata (datasets, references, ...)
    extra_metadata: ClassVar[dict[str, Any]] = {}
    #: where :meth:`artifact` looks, set by the platform when it loads the model
    _modelport_artifacts: Path | None = None

    def warm(self) -> None:
        """Load weights and the like; called once before the first prediction."""

    def artifact(self, name: str) -> Path:
        """The local path of one of this version's published catalog artifacts.

        When a catalog module is served or trained (``modelport up``), its version's artifacts
        are fetched, checksum-verified, into a directory the platform loads the model with;
        elsewhere (``modelport serve``, a test) ``$MODELPORT_MODEL_DIR`` names one. ``name`` is
        the artifact's name as published (e.g. ``"weights.pt"`` or ``"weights/model.pt"``).
        Raises NotFound when there is no such artifact, or no artifacts directory at all.
        """
        given = self._modelport_artifacts or _BUILDING_WITH.get()
        root = str(given) if given is not None else os.environ.get(MODEL_DIR_ENV)
        if not root:
            raise NotFound(
                f"model '{self.model_name()}' has no artifacts here: it is not served from the "
                f"catalog (${MODEL_DIR_ENV} is not set)"
            )
        path = Path(root) / name
        if ".." in Path(name).parts or Path(name).is_absolute() or not path.is_file():
            raise NotFound(f"model '{self.model_name()}' has no artifact '{name}' in {root}")
        return path

    @classmethod
    def model_name(cls) -> str:
        """The served name: ``name`` if set, else the class name in kebab-case."""
        if cls.name:
            return cls.name
        return re.sub(r"(?<!^)(?=[A-Z])", "-", cls.__name__).lower()

    @classmethod
    def description(cls) -> str:
        """The class docstring, dedented."""
        return inspect.cleandoc(cls.__doc__ or "") if cls.__doc__ != Model.__doc__ else ""


def _param_default(param: inspect.Parameter) -> Any:
    if param.default is inspect.Parameter.empty:
        return ...
    return param.default


def _is_media_literal(annotation: Any) -> bool:
    return get_origin(annotation) is Literal and all(
        isinstance(a, str) and "/" in a for a in get_args(annotation)
    )


def build_signature(
    func: Any, model_name: str, kind: str, skip: int = 0, *, batched: bool = False
) -> tuple[type[BaseModel], Signature, Any]:
    """Turn a function's parameters into a pydantic model, a Signature and its return hint.

    ``batched``: the function takes lists (one element per request) and returns one; the
    signature is a request's, of the elements.
    """
    hints = typing.get_type_hints(func, include_extras=True)
    params = list(inspect.signature(func).parameters.values())[skip:]
    fields: dict[str, Any] = {}
    accept: tuple[str, ...] = ()
    where = f"{model_name}.{kind}"
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ModelLoadError(f"{model_name}.{kind}: *args/**kwargs cannot be served")
        annotation = hints.get(param.name, Any)
        if batched:
            if param.name == _ACCEPT:
                raise ModelLoadError(f"{where}: a batched predict cannot take 'accept'")
            annotation = element_type(annotation, f"{where}({param.name})")
        if param.name == _ACCEPT and _is_media_literal(annotation):
            accept = tuple(get_args(annotation))
            continue
        fields[param.name] = (annotation, _param_default(param))
    title = re.sub(r"[^0-9A-Za-z]+", " ", f"{model_name} {kind} args").title().replace(" ", "")
    try:
        args_model: type[BaseModel] = create_model(
            title, __config__=ConfigDict(extra="ignore"), **fields
        )
        schema = args_model.model_json_schema()
    except Exception as exc:  # pydantic raises several kinds on unusable hints
        raise ModelLoadError(f"{model_name}.{kind}: cannot build its arguments: {exc}") from exc
    signature = Signature(schema, accept, accept_default=accept[0] if accept else None)
    returned = hints.get("return", Any)
    if batched:
        returned = element_type(returned, f"{where} -> (its return)")
    return args_model, signature, returned


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """pydantic errors in DEEPaaS's shape: ``{"field": ["message", ...]}``."""
    errors: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]] or ["_schema"]
        message = MISSING_MESSAGE if err["type"] == "missing" else err["msg"]
        if len(loc) > 1:
            message = f"{'.'.join(loc[1:])}: {message}"
        errors.setdefault(loc[0], []).append(message)
    return errors


class _Output:
    """How a typed predict's return hint becomes a response and its schema."""

    def __init__(self, hint: Any, model_name: str) -> None:
        self.adapter: TypeAdapter[Any] | None = None
        self.schema: dict[str, Any] | None = None
        self.media_type = JSON_MEDIA_TYPE
        if hint is str:
            self.media_type = _TEXT_MEDIA_TYPE
        elif hint in (bytes, Binary):
            self.media_type = _OCTET_STREAM
        elif hint not in (Any, None, type(None), inspect.Signature.empty):
            try:
                self.adapter = TypeAdapter(hint)
                self.schema = self.adapter.json_schema()
            except Exception as exc:
                raise ModelLoadError(
                    f"{model_name}.predict: unusable return type {hint!r}: {exc}"
                ) from exc

    def encode(self, value: Any, accept: str | None) -> Prediction:
        if accept and accept not in (JSON_MEDIA_TYPE, ANY_MEDIA_TYPE):
            return encode_raw(value, accept)
        if is_raw_result(value):
            fallback = _OCTET_STREAM if self.media_type == JSON_MEDIA_TYPE else self.media_type
            return encode_raw(value, fallback)
        if isinstance(value, str) and self.media_type == _TEXT_MEDIA_TYPE:
            return encode_raw(value, _TEXT_MEDIA_TYPE)
        if self.adapter is not None:
            try:
                return Prediction(
                    self.adapter.dump_json(self.adapter.validate_python(value)), JSON_MEDIA_TYPE
                )
            except ValidationError as exc:
                raise InvalidOutput(f"the model returned an invalid result: {exc}") from exc
        return Prediction(encode_json(value), JSON_MEDIA_TYPE)


@contextlib.contextmanager
def artifacts_of(artifacts: Path | None) -> Iterator[None]:
    """Models built inside find their artifacts in ``artifacts`` (None: the environment's)."""
    token = _BUILDING_WITH.set(artifacts)
    try:
        yield
    finally:
        _BUILDING_WITH.reset(token)


def bind_artifacts(model: Model, artifacts: Path | None) -> None:
    """Give a built model its artifacts directory for good (its calls run in other contexts)."""
    if artifacts is not None:
        model._modelport_artifacts = artifacts


class TypedModel(ServedModel):
    """Adapter serving a :class:`Model` instance."""

    kind = "typed"

    def __init__(self, instance: Model, source: str) -> None:
        cls = type(instance)
        self.instance = instance
        self.name = cls.model_name()
        self.source = source
        predict = getattr(instance, "predict", None)
        if not callable(predict):
            raise ModelLoadError(f"model '{self.name}' ({source}) has no predict() method")
        self.batch = batch_policy(predict)
        self._args, self.predict_signature, hint = build_signature(
            predict, self.name, "predict", batched=self.batch is not None
        )
        item = stream_item_type(hint)
        self.streaming = item is not None
        if self.streaming and self.batch is not None:
            raise ModelLoadError(f"model '{self.name}': a batched predict cannot stream")
        self._output = _Output(item if self.streaming else hint, self.name)
        self.response_schema = self._output.schema
        self._train_args: type[BaseModel] | None = None
        train = getattr(instance, "train", None)
        if callable(train):
            self._train_args, self.train_signature, _ = build_signature(
                train, self.name, "train", skip=1
            )

    def metadata(self) -> dict[str, Any]:
        """Metadata in DEEPaaS's shape, built from the class attributes."""
        cls = type(self.instance)
        meta: dict[str, Any] = {
            "id": self.name,
            "name": self.name,
            "description": cls.description(),
            "version": cls.version,
            "license": cls.license,
            "author": ", ".join(cls.authors),
            "authors": list(cls.authors),
        }
        if cls.links:
            meta["url"] = next(iter(cls.links.values()))
            meta["links"] = [{"rel": rel, "href": href} for rel, href in cls.links.items()]
        meta.update(cls.extra_metadata)
        return meta

    @property
    def produces(self) -> list[str]:
        """Media types predict can answer with."""
        return list(self.predict_signature.accept) or [self._output.media_type]

    def warm(self) -> None:
        """Call the model's warm()."""
        self.instance.warm()

    def prepare(self, raw: RawArgs) -> dict[str, Any]:
        """Validate with the pydantic model built from predict's hints."""
        accept = self.predict_signature.accept
        chosen = choose_accept(raw, accept) if accept else None
        try:
            parsed = self._args.model_validate(self.predict_signature.collect(raw))
        except ValidationError as exc:
            raise InvalidInput(field_errors(exc)) from None
        kwargs = {name: getattr(parsed, name) for name in type(parsed).model_fields}
        if chosen is not None:
            kwargs[_ACCEPT] = chosen
        return kwargs

    def prepare_train(self, raw: RawArgs) -> PreparedTraining:
        """Validate training arguments; their JSON form is what the job stores."""
        if self._train_args is None or self.train_signature is None:
            return super().prepare_train(raw)
        try:
            parsed = self._train_args.model_validate(
                self.train_signature.collect(raw), context={TRAINING: True}
            )
        except ValidationError as exc:
            raise InvalidInput(field_errors(exc)) from None
        return PreparedTraining(parsed.model_dump(mode="json"))

    def train(self, args: dict[str, Any], context: Any) -> Any:
        """Call ``train(ctx, **args)`` (args re-validated from their stored JSON form)."""
        if self._train_args is None:
            return super().train(args, context)
        # the stored JSON form: File arguments are paths now (the worker resolved data://)
        parsed = self._train_args.model_validate(args, context={TRAINING: True, RESOLVED: True})
        kwargs = {name: getattr(parsed, name) for name in type(parsed).model_fields}
        return self.instance.train(context, **kwargs)  # type: ignore[attr-defined]

    def predict(self, kwargs: dict[str, Any]) -> Prediction:
        """Call predict and encode the result by its declared return type.

        The model raising InvalidInput is the caller's fault (422, uploads named by their own
        file names); any other exception is a ModelError. A batched model is called with a
        batch of one.
        """
        if self.streaming:  # called once for the whole answer: a JSON list of the items
            items = b",".join(self.stream(kwargs))
            return Prediction(b"[" + items + b"]", JSON_MEDIA_TYPE)
        if self.batch is not None:
            answer = self.predict_batch([kwargs])[0]
            if isinstance(answer, Exception):
                raise answer
            return answer
        try:
            value = self.instance.predict(**kwargs)  # type: ignore[attr-defined]
        except InvalidInput as exc:
            raise exc.redacted(_upload_names(kwargs.values())) from None
        except Exception as exc:
            raise ModelError.raised(exc, traceback.format_exc()) from exc
        return self._output.encode(value, kwargs.get(_ACCEPT))

    def stream(self, kwargs: dict[str, Any]) -> Generator[bytes, None, None]:
        """Each item a streaming predict yields, validated and encoded as JSON."""
        if not self.streaming:
            yield from super().stream(kwargs)
            return
        names = _upload_names(kwargs.values())
        with _model_errors(names):
            items = iterate(self.instance.predict(**kwargs))  # type: ignore[attr-defined]
        try:
            while True:
                with _model_errors(names):
                    try:
                        item = next(items)
                    except StopIteration:
                        return
                yield self._output.encode(item, None).content
        finally:
            items.close()  # the caller stopped early: the model's generator closes too

    def predict_batch(self, items: list[dict[str, Any]]) -> list[Prediction | ModelportError]:
        """One call of a batched predict for ``items``; each request's answer or error."""
        if self.batch is None:
            return super().predict_batch(items)
        predict = self.instance.predict  # type: ignore[attr-defined]
        values = call_batch(predict, items, list(self._args.model_fields))
        answers: list[Prediction | ModelportError] = []
        for value, kwargs in zip(values, items, strict=True):
            if isinstance(value, InvalidInput):
                answers.append(value.redacted(_upload_names(kwargs.values())))
            elif isinstance(value, ModelportError):
                answers.append(value)
            else:
                try:
                    answers.append(self._output.encode(value, None))
                except ModelportError as exc:
                    answers.append(exc)
        return answers


@contextlib.contextmanager
def _model_errors(upload_names: dict[str, str]) -> Iterator[None]:
    """The model's own code raising: InvalidInput stays the caller's fault (uploads named by
    their file names), anything else is a ModelError."""
    try:
        yield
    except InvalidInput as exc:
        raise exc.redacted(upload_names) from None
    except ModelportError:
        raise
    except Exception as exc:
        raise ModelError.raised(exc, traceback.format_exc()) from exc


def _upload_names(values: Any) -> dict[str, str]:
    """The uploads among predict's arguments: their temporary path, and their own file name."""
    names: dict[str, str] = {}
    for value in values:
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, File):
                names[str(item.path)] = (
                    item.filename if item.filename != item.path.name else "the upload"
                )
    return names
