"""JSON schema for marshmallow/webargs fields, as legacy DEEPaaS modules declare them.

marshmallow is imported only by callers that already hold marshmallow objects (the module
being adapted brought it); modelport itself does not depend on it.
"""

from __future__ import annotations

from typing import Any

# Formats as DEEPaaS's apispec writes them into swagger.json (the DEEPaaS UI reads them).
_STRING_FORMATS = {
    "DateTime": "date-time",
    "NaiveDateTime": "date-time",
    "AwareDateTime": "date-time",
    "Date": "date",
    "Time": None,
    "Email": "email",
    "Url": "url",
    "URL": "url",
    "UUID": "uuid",
}
_NUMBER_FORMATS = {"Integer": "int32", "Int": "int32", "Float": "float"}
_TYPES = {
    "Integer": "integer",
    "Int": "integer",
    "Float": "number",
    "Number": "number",
    "Decimal": "number",
    "Boolean": "boolean",
    "Bool": "boolean",
    "String": "string",
    "Str": "string",
    "Dict": "object",
    "Mapping": "object",
    "Nested": "object",
    "List": "array",
    "Tuple": "array",
    "DelimitedList": "array",
}


def _type_of(field: Any) -> str:
    for cls in type(field).__mro__:
        if cls.__name__ in _STRING_FORMATS:
            return "string"
        if cls.__name__ in _TYPES:
            return _TYPES[cls.__name__]
    return "string"


def _format_of(field: Any) -> str | None:
    declared = field_metadata(field).get("format")  # e.g. "password", "int64"
    if isinstance(declared, str):
        return declared
    for cls in type(field).__mro__:
        if cls.__name__ in _STRING_FORMATS:
            return _STRING_FORMATS[cls.__name__]
        if cls.__name__ in _NUMBER_FORMATS:
            return _NUMBER_FORMATS[cls.__name__]
        if cls.__name__ in _TYPES:
            return None
    return None


def field_metadata(field: Any) -> dict[str, Any]:
    """The field's metadata, merging marshmallow-2-style free keywords (``description=``...)."""
    meta = dict(getattr(field, "metadata", {}) or {})
    meta.update(getattr(field, "_extra_metadata", {}) or {})
    return meta


def is_file_field(field: Any) -> bool:
    """Whether a field is DEEPaaS's file upload (``metadata={"type": "file"}``)."""
    return field_metadata(field).get("type") == "file"


def field_default(field: Any) -> Any:
    """The field's load default, or ``None`` when it has none (callables are not evaluated)."""
    import marshmallow

    if hasattr(field, "load_default"):
        default = field.load_default
    else:  # marshmallow < 3.13
        default = getattr(field, "missing", marshmallow.missing)
    if default is marshmallow.missing or callable(default):
        return None
    return default


def _validators(field: Any) -> list[Any]:
    validators = getattr(field, "validators", None) or []
    return list(validators)


def choices_of(field: Any) -> list[Any] | None:
    """Allowed values from ``validate.OneOf`` or the old ``enum=`` keyword."""
    for validator in _validators(field):
        if type(validator).__name__ == "OneOf":
            return list(validator.choices)
    enum = field_metadata(field).get("enum")
    return list(enum) if enum else None


def field_schema(field: Any) -> dict[str, Any]:
    """JSON schema (draft 2020-12, as OpenAPI 3.1 uses) of one marshmallow field."""
    meta = field_metadata(field)
    if is_file_field(field):
        schema: dict[str, Any] = {"type": "string", "format": "binary"}
    else:
        schema = {"type": _type_of(field)}
        fmt = _format_of(field)
        if fmt:
            schema["format"] = fmt
    if schema["type"] == "array":
        inner = getattr(field, "inner", None) or getattr(field, "container", None)
        schema["items"] = field_schema(inner) if inner is not None else {}
    if schema["type"] == "object":
        nested = getattr(field, "nested", None)
        if nested is not None and not isinstance(nested, str):
            schema.update(_nested_schema(nested))
    description = meta.get("description")
    if description:
        schema["description"] = str(description)
    choices = choices_of(field)
    if choices:
        schema["enum"] = choices
    for validator in _validators(field):
        kind = type(validator).__name__
        if kind == "Range":
            lo, hi = validator.min, validator.max
            if lo is not None:
                key = "minimum" if getattr(validator, "min_inclusive", True) else "exclusiveMinimum"
                schema[key] = lo
            if hi is not None:
                key = "maximum" if getattr(validator, "max_inclusive", True) else "exclusiveMaximum"
                schema[key] = hi
        elif kind == "Length":
            prefix = "Items" if schema["type"] == "array" else "Length"
            if validator.min is not None:
                schema[f"min{prefix}"] = validator.min
            if validator.max is not None:
                schema[f"max{prefix}"] = validator.max
            if validator.equal is not None:
                schema[f"min{prefix}"] = schema[f"max{prefix}"] = validator.equal
    default = field_default(field)
    if default is not None and not is_file_field(field):
        schema["default"] = default
    return schema


def _nested_schema(nested: Any) -> dict[str, Any]:
    import marshmallow

    if isinstance(nested, type) and issubclass(nested, marshmallow.Schema):
        nested = nested()
    if isinstance(nested, marshmallow.Schema):
        return fields_schema(dict(nested.fields))
    return {}


def fields_schema(fields: dict[str, Any]) -> dict[str, Any]:
    """JSON schema of an object whose properties are marshmallow fields."""
    properties = {
        getattr(field, "data_key", None) or name: field_schema(field)
        for name, field in fields.items()
    }
    required = [
        getattr(field, "data_key", None) or name
        for name, field in fields.items()
        if getattr(field, "required", False)
    ]
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema
