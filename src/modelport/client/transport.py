"""The client's transport: one ``httpx.Client``, and HTTP errors mapped back to modelport's own.

:func:`error_from_response` is the status → exception table, read backwards from the server's
edge (``api/errors.py``); a server that cannot be reached raises
:class:`~modelport.errors.ModelportError` naming the URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final, cast
from urllib.parse import quote

import httpx

from modelport import errors
from modelport.errors import ModelportError

_LIMIT: Final = re.compile(r"limit of (\d+) bytes")

_BY_STATUS: dict[int, Callable[[str], ModelportError]] = {
    400: errors.BadRequest,
    401: errors.Unauthorized,
    403: errors.Forbidden,
    404: errors.NotFound,
    409: errors.Conflict,
    415: errors.UnsupportedMediaType,
    429: errors.QuotaExceeded,
    501: errors.NotImplementedByModel,
    504: errors.PredictTimeout,
}


class Transport:
    """Requests to one server: errors raised as modelport's, JSON bodies decoded."""

    def __init__(
        self,
        url: str,
        token: str | None,
        timeout: float,
        transport: httpx.BaseTransport | None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        headers = {"User-Agent": "modelport-client", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """A request's decoded JSON answer."""
        return self.request(method, path, **kwargs).json()

    def document(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """A request's JSON answer, an object."""
        return cast(dict[str, Any], self.json(method, path, **kwargs))

    def documents(self, method: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        """A request's JSON answer, an array of objects."""
        return cast(list[dict[str, Any]], self.json(method, path, **kwargs))

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; its response, or the modelport error it stands for."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self.unreachable(exc) from exc
        if response.is_error:
            raise error_from_response(response)
        return response

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """Send a request whose successful response body is read as it arrives."""
        try:
            with self.http.stream(method, path, **kwargs) as response:
                if response.is_error:
                    response.read()
                    raise error_from_response(response)
                yield response
        except httpx.TransportError as exc:
            raise self.unreachable(exc) from exc

    def unreachable(self, exc: httpx.TransportError) -> ModelportError:
        """The error for a server that did not answer, naming its URL."""
        if isinstance(exc, httpx.TimeoutException):
            return ModelportError(f"no answer from {self.url} within {self.timeout} s ({exc})")
        if isinstance(exc, httpx.ConnectError):
            return ModelportError(f"cannot connect to {self.url}: {exc}")
        return ModelportError(f"the connection to {self.url} failed: {exc}")


def error_from_response(response: httpx.Response) -> ModelportError:
    """The modelport error an error response stands for (the server's message kept)."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str):
        message = response.text.strip() or response.reason_phrase or f"HTTP {status}"
    path = response.request.url.path
    exc: ModelportError
    if status == 422 and isinstance(body, dict) and "message" not in body:
        return errors.InvalidInput(
            {str(k): v if isinstance(v, list) else [str(v)] for k, v in body.items()}
        )
    if status == 422:
        exc = errors.InvalidInput({"_schema": [message]})
    elif status in _BY_STATUS:
        exc = _BY_STATUS[status](message)
    elif status == 413:
        found = _LIMIT.search(message)
        exc = errors.PayloadTooLarge(int(found.group(1)) if found else 0)
    elif status == 503 and "retry-after" in response.headers:
        model = path.split("/models/", 1)[-1].split("/", 1)[0]
        retry_after = response.headers["retry-after"]
        exc = errors.Overloaded(model, int(retry_after) if retry_after.isdigit() else 1)
    elif status == 503:
        # 503 is shared: a model still warming, the executor, the store; the path tells which
        if "/v2/models/" in path:
            exc = errors.ModelNotReady(message)
        elif "/jobs" in path:
            exc = errors.ExecutorError(message)
        else:
            exc = errors.StoreError(message)
    elif status == 500:
        traceback = body.get("traceback") if isinstance(body, dict) else None
        exc = errors.ModelError(message, traceback if isinstance(traceback, str) else None)
        error_id = body.get("error_id") if isinstance(body, dict) else None
        exc.error_id = error_id if isinstance(error_id, str) else None
    else:
        exc = ModelportError(f"HTTP {status} from {response.request.url}: {message}")
    exc.message, exc.args = message, (message,)
    return exc


def segment(value: str) -> str:
    """``value`` quoted as one path segment."""
    return quote(value, safe="")


def json_or_empty(response: httpx.Response) -> dict[str, Any]:
    """A response's JSON object, or ``{}`` when its body is not one."""
    try:
        found = response.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def is_json(response: httpx.Response) -> bool:
    """Whether a response's media type is JSON."""
    media = str(response.headers.get("content-type", "")).partition(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")
