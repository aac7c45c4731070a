"""File values crossing the contract: uploads coming in, binary results going out.

A training's :class:`File` argument is not uploaded with the request (a job outlives it): it
names a file of the caller's data on the platform, ``data://<name>`` (``storage.userdata``),
which the job stores as given and its worker replaces with the file's path. Validation tells
these cases apart by its context (:data:`TRAINING`, :data:`RESOLVED`); a prediction's File
is an upload only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, NamedTuple

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from modelport.storage.userdata import SCHEME as DATA_SCHEME

#: Validation context keys: a training's arguments (``data://`` references allowed), and a
#: training's stored arguments whose references the job's worker replaced by paths.
TRAINING: Final = "modelport_training"
RESOLVED: Final = "modelport_resolved"


class UploadedFile(NamedTuple):
    """An upload as DEEPaaS v2 hands it to legacy modules (same fields, same order).

    ``filename`` is the path of a temporary copy on disk, removed after the request.
    """

    name: str
    filename: str
    content_type: str
    original_filename: str


class File:
    """An upload given to a typed model: ``path`` on disk, original ``filename``, ``media_type``."""

    __slots__ = ("filename", "media_type", "path", "ref")

    def __init__(self, path: str | Path, filename: str = "", media_type: str = "") -> None:
        self.path = Path(path)
        self.filename = filename or self.path.name
        self.media_type = media_type or "application/octet-stream"
        #: a training's ``data://`` reference, before its worker resolves it
        self.ref: str | None = None

    def open(self, mode: str = "rb") -> IO[Any]:
        """Open the file (binary by default)."""
        return self.path.open(mode)

    def read_bytes(self) -> bytes:
        """The whole content."""
        return self.path.read_bytes()

    def read_text(self, encoding: str = "utf-8") -> str:
        """The whole content as text."""
        return self.path.read_text(encoding)

    @property
    def size(self) -> int:
        """Size in bytes."""
        return self.path.stat().st_size

    def __repr__(self) -> str:
        return f"File({str(self.path)!r}, {self.filename!r}, {self.media_type!r})"

    @classmethod
    def _validate(cls, value: Any, info: ValidationInfo) -> File:
        if isinstance(value, File):
            return value
        if isinstance(value, UploadedFile):
            return cls(value.filename, value.original_filename, value.content_type)
        context = info.context or {}
        if isinstance(value, str) and context.get(TRAINING):
            if context.get(RESOLVED):
                return cls(value)
            if value.startswith(DATA_SCHEME) and len(value) > len(DATA_SCHEME):
                reference = cls(value[len(DATA_SCHEME) :])
                reference.ref = value
                return reference
            raise PydanticCustomError(
                "data_expected",
                "Expected a file of your data: data://<name> (upload it first: the dashboard, "
                "`modelport data put`, or PUT /data/<name>).",
            )
        raise PydanticCustomError(
            "file_expected", "Expected a file upload (send it as multipart/form-data)."
        )

    def _serialize(self) -> str:
        return self.ref or str(self.path)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.with_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(cls._serialize),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "binary"}


@dataclass(frozen=True)
class Binary:
    """A binary result with its media type: give ``data`` or a ``path`` to read."""

    data: bytes | None = None
    media_type: str = "application/octet-stream"
    path: str | Path | None = None
    filename: str | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError("Binary needs exactly one of data= or path=")

    def read(self) -> bytes:
        """The bytes to send."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return Path(self.path).read_bytes()
