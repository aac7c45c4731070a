"""The one exception tree of modelport.

Every error raised on purpose by modelport derives from :class:`ModelportError`. The edges map
them once: ``api/errors.py`` to HTTP status codes and JSON bodies, the CLI to exit codes.

::

    ModelportError
    ├── NotFound                 unknown model, route or object           (HTTP 404)
    ├── Conflict                 the object's state forbids it            (HTTP 409)
    │   └── IllegalTransition    a lifecycle transition that is not allowed
    ├── NotImplementedByModel    e.g. training a model without train()   (HTTP 501)
    ├── Unauthorized             no, invalid or expired credentials        (HTTP 401)
    │   └── InvalidToken         a bearer token refused, with a reason code
    ├── Forbidden                authenticated, but not allowed            (HTTP 403)
    ├── QuotaExceeded            over a per-user or per-group quota        (HTTP 429)
    ├── StoreError               the database or artifact store failed    (HTTP 503)
    │   └── IdentityProviderUnavailable  an issuer's JWKS/discovery unreachable
    ├── ExecutorError            the executor could not run a job         (HTTP 503)
    ├── InvalidInput             bad arguments, naming every bad field    (HTTP 422)
    │   └── InvalidMetadata      a module's metadata AI4OS refuses (which file, which schema)
    ├── BadRequest               a malformed request body                 (HTTP 400)
    ├── PayloadTooLarge          upload over the configured limit         (HTTP 413)
    ├── UnsupportedMediaType     request body type we cannot parse        (HTTP 415)
    ├── Overloaded               concurrency limit and wait queue full    (HTTP 503 + Retry-After)
    ├── PredictTimeout           a prediction ran past its deadline       (HTTP 504)
    ├── ModelLoadError           a model failed to import, adapt or warm  (server refuses to start)
    ├── ModelNotReady            a model has not finished warm()          (HTTP 503)
    │   └── StartFailed          a module version's worker or replica could not start
    └── ModelError               the model's own code raised              (HTTP 500)
        ├── InvalidOutput        the model returned what its schema rejects
        └── JobFailed            a training job ended failed or cancelled (Client.wait)

A model's own code raising ``InvalidInput`` is the caller's fault (422, naming the field); any
other exception from it is a ``ModelError``, which a client sees only as its type and an error
id (the server's log has the rest). :func:`redact_paths` takes server paths out of messages
that reach a client.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping, Sequence

_PATH_CHARS = r"[^\s'\"<>()\[\]{},;|`]"
#: An absolute POSIX path that is not part of a URL or of a relative path (``a/b``, ``1/2``),
#: or a ``file:`` URL.
_ABSOLUTE_PATH = re.compile(rf"\bfile:/{_PATH_CHARS}*|(?<![\w./:~\\-])/{_PATH_CHARS}+")


def redact_paths(text: str, names: Mapping[str, str] | None = None) -> str:
    """``text`` without server paths: each of ``names`` (a path: what to show instead, such as
    an upload's own file name), then any other absolute path as ``.../<its last part>``."""
    for path, shown in sorted((names or {}).items(), key=lambda item: -len(item[0])):
        if path:
            text = text.replace(path, shown)
    return _ABSOLUTE_PATH.sub(lambda m: ".../" + os.path.basename(m.group().rstrip("/.")), text)


def new_error_id() -> str:
    """A fresh id naming one server error in both its answer and the server's log."""
    return secrets.token_hex(6)


class ModelportError(Exception):
    """Base class of every error modelport raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ModelportError):
    """A model, route or object that does not exist."""


class Conflict(ModelportError):
    """An operation the object's current state does not allow."""


class IllegalTransition(Conflict):
    """A lifecycle transition that is not allowed (e.g. cancelling a finished job)."""


class NotImplementedByModel(ModelportError):
    """The model does not offer this function (e.g. no train())."""


class Unauthorized(ModelportError):
    """Missing, invalid, expired or revoked credentials."""


class InvalidToken(Unauthorized):
    """A bearer token that is malformed, untrusted, expired or otherwise not acceptable.

    ``reason`` is one of: ``malformed``, ``algorithm``, ``unknown_issuer``, ``unknown_key``,
    ``signature``, ``expired``, ``not_yet_valid``, ``audience``, ``missing_claim``, ``invalid``.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Forbidden(ModelportError):
    """The caller is known but may not do this."""


class QuotaExceeded(ModelportError):
    """A per-user or per-group quota (jobs, GPUs, GPU-hours) would be exceeded."""


class StoreError(ModelportError):
    """The database or the artifact store failed (wrapping the library's error)."""


class IdentityProviderUnavailable(StoreError):
    """An issuer's discovery document or JWKS could not be fetched or read."""


class ExecutorError(ModelportError):
    """The executor could not start or control a job."""


class InvalidInput(ModelportError):
    """Arguments that fail validation; ``errors`` maps each bad field to its messages.

    ``detail``, when given, is the same errors in the shape a client expects on the wire
    (a legacy module's nested marshmallow messages); ``errors`` stays flat, by dotted path.
    """

    def __init__(
        self, errors: Mapping[str, Sequence[str]], detail: Mapping[str, object] | None = None
    ) -> None:
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in errors.items()}
        self.detail = dict(detail) if detail is not None else None
        fields = ", ".join(sorted(self.errors)) or "input"
        super().__init__(f"invalid value for: {fields}")

    def redacted(self, names: Mapping[str, str] | None = None) -> InvalidInput:
        """The same errors without server paths (see :func:`redact_paths`), for a client."""

        def clean(value: object) -> object:
            if isinstance(value, str):
                return redact_paths(value, names)
            if isinstance(value, Mapping):
                return {key: clean(item) for key, item in value.items()}
            if isinstance(value, list | tuple):
                return [clean(item) for item in value]
            return value

        errors = {
            key: [redact_paths(m, names) for m in messages] for key, messages in self.errors.items()
        }
        detail = None if self.detail is None else {k: clean(v) for k, v in self.detail.items()}
        return InvalidInput(errors, detail)


class InvalidMetadata(InvalidInput):
    """A module's metadata file that AI4OS refuses: ``errors`` by field, plus which file and
    which AI4OS schema judged it (for messages: ``ai4-metadata.yml (AI4OS schema 2.0.0)``)."""

    def __init__(self, errors: Mapping[str, Sequence[str]], file: str, schema: str) -> None:
        super().__init__(errors)
        self.file = file
        self.schema = schema

    @property
    def source(self) -> str:
        """The file, and the schema that judged it."""
        return f"{self.file} (AI4OS schema {self.schema})" if self.schema else self.file


class BadRequest(ModelportError):
    """A request body that cannot be read (malformed JSON or multipart).

    ``field``, when given, names the part of the request at fault; the answer is then in the
    field-error shape, ``{field: [message]}`` (as DEEPaaS answers a broken JSON body).
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PayloadTooLarge(ModelportError):
    """A request body larger than the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds the limit of {limit} bytes")
        self.limit = limit


class UnsupportedMediaType(ModelportError):
    """A request body in a media type the endpoint does not accept."""


class Overloaded(ModelportError):
    """All prediction slots and the wait queue of a model are taken."""

    def __init__(self, model: str, retry_after: int) -> None:
        super().__init__(f"model '{model}' is busy: too many concurrent predictions, retry later")
        self.retry_after = retry_after


class PredictTimeout(ModelportError):
    """A prediction did not finish within its deadline."""


class ModelLoadError(ModelportError):
    """A model could not be imported, adapted to the contract, or warmed."""


class ModelNotReady(ModelportError):
    """A model whose warm() has not finished yet."""


class StartFailed(ModelNotReady):
    """A catalog module version could not be made ready: its artifacts, its code, its worker
    process or Ray replica; the message names the module, version and cause."""


class ModelError(ModelportError):
    """The model's own code raised; ``detail`` keeps the formatted traceback for --debug.

    ``error_type`` names the exception the model's code raised (``ValueError``), when that is
    the cause: a client is told only that, with an error id, as its text may hold server paths
    or data; ``message`` (the type and the text) is for the server's log and the local CLI.
    """

    def __init__(
        self, message: str, detail: str | None = None, *, error_type: str | None = None
    ) -> None:
        super().__init__(message)
        self.detail = detail
        self.error_type = error_type
        #: the id the server logged this failure under (a client's copy, from the 500 answer)
        self.error_id: str | None = None

    @classmethod
    def raised(cls, exc: BaseException, detail: str | None = None) -> ModelError:
        """The error for an exception the model's code raised (``detail``: its traceback)."""
        kind = type(exc).__name__
        return cls(f"{kind}: {exc}", detail, error_type=kind)


class InvalidOutput(ModelError):
    """A model returned a value its declared response schema rejects."""


class JobFailed(ModelError):
    """A training job ended failed or cancelled (``Client.wait``); ``job`` is its record."""

    def __init__(self, message: str, job: dict[str, object]) -> None:
        super().__init__(message)
        self.job = job
