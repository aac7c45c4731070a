"""Adapter serving a legacy DEEPaaS v2 module unchanged.

The module (or object) offers ``get_metadata``, ``warm``, ``get_predict_args``/``get_train_args``
returning marshmallow/webargs fields, ``predict(**kwargs)``, ``train(**kwargs)`` and optionally a
``schema`` validating predict's output. Arguments are validated with marshmallow itself, so
custom fields behave exactly as under DEEPaaS, and errors keep its ``{"field": [...]}`` shape.
"""

from __future__ import annotations

import traceback
from typing import Any

from modelport.contract.base import (
    ANY_MEDIA_TYPE,
    JSON_MEDIA_TYPE,
    Prediction,
    RawArgs,
    ServedModel,
    Signature,
    choose_accept,
    encode_json,
    encode_raw,
    is_raw_result,
)
from modelport.contract.marshmallow_schema import choices_of, fields_schema
from modelport.errors import InvalidInput, InvalidOutput, ModelError, ModelLoadError

_ACCEPT = "accept"


def _import_marshmallow(source: str) -> Any:
    try:
        import marshmallow
    except ImportError as exc:
        raise ModelLoadError(
            f"{source} is a DEEPaaS v2 module, which needs marshmallow 3: "
            "pip install 'modelport[deepaas]'"
        ) from exc
    return marshmallow


class DeepaasModel(ServedModel):
    """Adapter serving a DEEPaaS v2 module (module-level functions or an object)."""

    kind = "deepaas"

    def __init__(self, obj: Any, name: str, source: str) -> None:
        self.obj = obj
        self.name = name
        self.source = source
        self._mm = _import_marshmallow(source)
        if not callable(getattr(obj, "predict", None)):
            raise ModelLoadError(f"model '{name}' ({source}) has no predict() function")
        self._predict_fields = self._args("get_predict_args")
        accept_field = self._predict_fields.pop(_ACCEPT, None)
        accept: tuple[str, ...] = ()
        if accept_field is not None:
            accept = tuple(str(c) for c in choices_of(accept_field) or [JSON_MEDIA_TYPE])
        self._predict_schema = self._schema_for(self._predict_fields, "predict")
        self.predict_signature = Signature(fields_schema(self._predict_fields), accept)
        self._train_schema: Any = None
        if callable(getattr(obj, "train", None)):
            self._train_fields = self._args("get_train_args")
            self._train_schema = self._schema_for(self._train_fields, "train")
            self.train_signature = Signature(fields_schema(self._train_fields))
        self._output_schema = self._load_output_schema()
        if self._output_schema is not None:
            self.response_schema = fields_schema(dict(self._output_schema().fields))

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
        """Validate with marshmallow, as DEEPaaS's webargs parser does."""
        accept = self.predict_signature.accept
        chosen = choose_accept(raw, accept) if accept else None
        kwargs = self._load(self._predict_schema, self.predict_signature.collect(raw))
        if chosen is not None:
            kwargs[_ACCEPT] = chosen
        return kwargs

    def _load(self, schema: Any, data: dict[str, Any]) -> dict[str, Any]:
        try:
            loaded: dict[str, Any] = schema.load(data, unknown=self._mm.EXCLUDE)
        except self._mm.ValidationError as exc:
            messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
            raise InvalidInput(
                {k: v if isinstance(v, list) else [str(v)] for k, v in messages.items()}
            ) from None
        return loaded

    def prepare_train(self, raw: RawArgs) -> dict[str, Any]:
        """Validate training arguments with marshmallow; store their serialised form."""
        if self._train_schema is None or self.train_signature is None:
            return super().prepare_train(raw)
        loaded = self._load(self._train_schema, self.train_signature.collect(raw))
        dumped: dict[str, Any] = self._train_schema.dump(loaded)
        return dumped

    def train(self, args: dict[str, Any], context: Any) -> Any:
        """Call the module's ``train(**kwargs)``; its return value is the result."""
        if self._train_schema is None:
            return super().train(args, context)
        return self.obj.train(**self._load(self._train_schema, args))

    def predict(self, kwargs: dict[str, Any]) -> Prediction:
        """Call predict(**kwargs); encode as DEEPaaS does (schema, wrapper, or raw by accept)."""
        try:
            value = self.obj.predict(**kwargs)
        except Exception as exc:
            raise ModelError(f"{type(exc).__name__}: {exc}", traceback.format_exc()) from exc
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
