"""Adapter serving a legacy DEEPaaS v2 module unchanged.

The module (or object) offers ``get_metadata``, ``warm``, ``get_predict_args``/``get_train_args``
returning marshmallow/webargs fields, ``predict(**kwargs)``, ``train(**kwargs)`` and optionally a
``schema`` validating predict's output. As under DEEPaaS 2.6: arguments are read where webargs 5
reads them (:mod:`modelport.contract.deepaas_args`) and validated by marshmallow itself, so
custom fields behave exactly as there, errors keep its nested ``{"field": [...]}`` shape; uploads
are DEEPaaS's own ``UploadedFile`` when the ``deepaas`` package is importable (modules check
``isinstance``); a module without ``predict`` or ``train`` is served and answers 501 for it.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

from pydantic_core import to_json

from modelport.contract import deepaas_args
from modelport.contract.base import (
    ANY_MEDIA_TYPE,
    JSON_MEDIA_TYPE,
    Prediction,
    PreparedTraining,
    RawArgs,
    ServedModel,
    Signature,
    encode_json,
    encode_raw,
    is_raw_result,
    not_implemented,
)
from modelport.contract.files import UploadedFile
from modelport.contract.marshmallow_schema import (
    choices_of,
    field_default,
    fields_schema,
)
from modelport.errors import (
    InvalidInput,
    InvalidOutput,
    ModelError,
    ModelLoadError,
    NotImplementedByModel,
)

_ACCEPT = deepaas_args.ACCEPT


def _import_marshmallow(source: str) -> Any:
    try:
        import marshmallow
    except ImportError as exc:
        raise ModelLoadError(
            f"{source} is a DEEPaaS v2 module, which needs marshmallow 3: "
            "pip install 'modelport[deepaas]'"
        ) from exc
    return marshmallow


def _deepaas_upload_class() -> Any:
    """DEEPaaS's own ``UploadedFile`` namedtuple when ``deepaas`` is installed, else None (then
    modelport's, which has the same fields in the same order)."""
    try:
        from deepaas.model.v2.wrapper import UploadedFile as DeepaasUploadedFile
    except Exception:  # not installed, or broken beyond what a module could rely on
        return None
    return DeepaasUploadedFile


class DeepaasModel(ServedModel):
    """Adapter serving a DEEPaaS v2 module (module-level functions or an object)."""

    kind = "deepaas"

    def __init__(self, obj: Any, name: str, source: str) -> None:
        self.obj = obj
        self.name = name
        self.source = source
        self._mm = _import_marshmallow(source)
        self._not_implemented = not_implemented(name)
        self._predict_fields: dict[str, Any] = {}
        if callable(getattr(obj, "predict", None)):
            self._predict_fields = self._args("get_predict_args")
        self._predict_schema = self._schema_for(self._predict_fields, "predict")
        self.predict_signature = self._signature(self._predict_fields, predict=True)
        # DEEPaaS's class is looked up on the first upload: importing deepaas (aiohttp, oslo)
        # costs ~0.4 s, which a module that imports it itself has paid already
        self._upload_class: Any = None
        self._train_schema: Any = None
        if callable(getattr(obj, "train", None)):
            self._train_fields = self._args("get_train_args")
            self._train_schema = self._schema_for(self._train_fields, "train")
            self.train_signature = self._signature(self._train_fields, predict=False)
        self._output_schema = self._load_output_schema()
        if self._output_schema is not None:
            self.response_schema = fields_schema(dict(self._output_schema().fields))

    def _signature(self, fields: dict[str, Any], *, predict: bool) -> Signature:
        """The documented arguments: ``accept`` apart, where DEEPaaS reads it."""
        others = {k: v for k, v in fields.items() if k != _ACCEPT}
        field = fields.get(_ACCEPT)
        if field is None:
            return Signature(fields_schema(others))
        # predict's accept is DEEPaaS's special case; train's an argument like any other
        choices = deepaas_args.adopt_accept(field) if predict else tuple(choices_of(field) or ())
        header = deepaas_args.location_of(field) == "headers"
        default = field_default(field)
        return Signature(
            fields_schema(others),
            choices or (JSON_MEDIA_TYPE,),
            accept_in="header" if header else "query",
            accept_required=bool(getattr(field, "required", False)),
            accept_default=None if default is None else str(default),
        )

    def _args(self, getter: str) -> dict[str, Any]:
        func = getattr(self.obj, getter, None)
        if func is None:
            return {}
        try:
            fields = func()
        except NotImplementedError:
            return {}
        except Exception as exc:
            raise ModelLoadError(
                f"model '{self.name}' ({self.source}): {getter}() raised {exc!r}"
            ) from exc
        if not isinstance(fields, dict):
            raise ModelLoadError(f"model '{self.name}': {getter}() must return a dict of fields")
        return dict(fields)

    def _schema_for(self, fields: dict[str, Any], what: str) -> Any:
        try:
            return self._mm.Schema.from_dict(fields, name=f"{what}Args")()
        except Exception as exc:
            raise ModelLoadError(f"model '{self.name}': invalid {what} arguments: {exc}") from exc

    def _load_output_schema(self) -> Any:
        schema = getattr(self.obj, "schema", None)
        if schema is None:
            return None
        if isinstance(schema, dict):
            try:
                return self._mm.Schema.from_dict(schema, name="ModelPredictionResponse")
            except Exception as exc:
                raise ModelLoadError(f"model '{self.name}': invalid schema: {exc}") from exc
        if isinstance(schema, type) and issubclass(schema, self._mm.Schema):
            return schema
        raise ModelLoadError(
            f"model '{self.name}': schema must be a marshmallow Schema class or a dict of fields"
        )

    def metadata(self) -> dict[str, Any]:
        """The module's get_metadata() merged over DEEPaaS's defaults."""
        meta: dict[str, Any] = {"id": self.name, "name": self.name}
        func = getattr(self.obj, "get_metadata", None)
        try:
            if func is None:
                raise NotImplementedError
            meta.update(func())
        except NotImplementedError:
            meta["id"] = "0"
            meta["description"] = (
                f"Could not load description from underlying model (loaded '{self.name}')"
            )
        return meta

    def warm(self) -> None:
        """Call the module's warm(), if it has one."""
        func = getattr(self.obj, "warm", None)
        if func is None:
            return
        try:
            func()
        except NotImplementedError:
            return

    def prepare(self, raw: RawArgs) -> dict[str, Any]:
        """Read and validate predict's arguments as DEEPaaS does (uploads as its own class)."""
        if not callable(getattr(self.obj, "predict", None)):
            raise NotImplementedByModel(self._not_implemented)
        kwargs = self._load(self._predict_schema, deepaas_args.collect(self._predict_fields, raw))
        for key, value in kwargs.items():
            if isinstance(value, UploadedFile):
                if self._upload_class is None:
                    self._upload_class = _deepaas_upload_class() or UploadedFile
                kwargs[key] = self._upload_class(*value)
        return kwargs

    def _load(self, schema: Any, data: dict[str, Any]) -> dict[str, Any]:
        try:
            loaded: dict[str, Any] = schema.load(data, unknown=self._mm.EXCLUDE)
        except self._mm.ValidationError as exc:
            raise deepaas_args.invalid(exc.messages) from None
        return loaded

    def prepare_train(self, raw: RawArgs) -> PreparedTraining:
        """Check training arguments with the module's fields; keep them as sent.

        The job stores what the caller sent, and the worker that calls ``train()`` reads that
        with the module's fields: a field that transforms its value (a dataset name into a
        path) is not read twice. The training view shows them as read here (as DEEPaaS does).
        """
        if self._train_schema is None:
            raise NotImplementedByModel(self._not_implemented)
        sent = deepaas_args.collect(self._train_fields, raw)
        loaded = self._load(self._train_schema, dict(sent))
        return PreparedTraining(sent, json.loads(to_json(loaded, fallback=str)))

    def train(self, args: dict[str, Any], context: Any) -> Any:
        """Read the stored arguments with the module's fields; ``train(**kwargs)``'s value."""
        if self._train_schema is None:
            raise NotImplementedByModel(self._not_implemented)
        return self.obj.train(**self._load(self._train_schema, args))

    def predict(self, kwargs: dict[str, Any]) -> Prediction:
        """Call predict(**kwargs); encode as DEEPaaS does (schema, wrapper, or raw by accept)."""
        func = getattr(self.obj, "predict", None)
        if not callable(func):
            raise NotImplementedByModel(self._not_implemented)
        try:
            value = func(**kwargs)
        except NotImplementedError as exc:
            raise NotImplementedByModel(self._not_implemented) from exc
        except InvalidInput as exc:  # the caller's fault, as the module says
            raise exc.redacted(_upload_names(kwargs.values())) from None
        except self._mm.ValidationError as exc:  # the module validating with marshmallow
            raise deepaas_args.invalid(exc.messages).redacted(
                _upload_names(kwargs.values())
            ) from None
        except Exception as exc:
            raise ModelError.raised(exc, traceback.format_exc()) from exc
        accept = kwargs.get(_ACCEPT, JSON_MEDIA_TYPE)
        if accept not in (JSON_MEDIA_TYPE, ANY_MEDIA_TYPE):
            return encode_raw(value, accept)
        if is_raw_result(value):
            return encode_raw(value, "application/octet-stream")
        if self._output_schema is not None:
            try:
                self._output_schema().load(value)
            except self._mm.ValidationError as exc:
                raise InvalidOutput(
                    f"the model's output does not match its schema: {exc.messages}"
                ) from exc
            except Exception as exc:
                raise InvalidOutput(f"the model's output cannot be validated: {exc}") from exc
            return Prediction(encode_json(value), JSON_MEDIA_TYPE)
        return Prediction(encode_json({"status": "OK", "predictions": value}), JSON_MEDIA_TYPE)


def _upload_names(values: Any) -> dict[str, str]:
    """The uploads among predict's arguments (DEEPaaS's ``UploadedFile``, whatever its class):
    their temporary path, and their own file name."""
    names: dict[str, str] = {}
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            path, original = (
                getattr(item, "filename", None),
                getattr(item, "original_filename", None),
            )
            if isinstance(path, str) and path:
                names[path] = original if isinstance(original, str) and original else "the upload"
    return names
