"""The Python SDK: a small, typed client for a modelport server, over ``httpx``.

::

    from modelport import Client

    with Client("http://127.0.0.1:5000", token="...") as mp:
        mp.predict("echo", text="hi", times=2)                  # JSON results come back decoded
        png = mp.predict("legacy", number=5, accept="image/png")  # anything else as bytes
        job = mp.train("trainer", epochs=3)
        done = mp.wait(job["id"], on_event=print)               # follows /jobs/{id}/events
        mp.download_artifact(done["id"], "weights.json", Path("out"))
        mp.pull("iris", Path("iris"))                           # artifacts, sha256 checked

Results are the server's JSON documents as plain ``dict``/``list`` (see README.md for their
shapes). HTTP errors raise modelport's own exceptions (:mod:`modelport.errors`), mapped back from
the status code: 404 → NotFound, 409 → Conflict, 422 → InvalidInput (with the server's field
errors), 500 → ModelError, ... A server that cannot be reached raises :class:`ModelportError`
naming the URL.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, suppress
from enum import Enum
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import IO, Any, cast
from urllib.parse import quote

import httpx

from modelport import errors
from modelport.errors import ModelportError

#: A file to upload: its bytes, a path, or ``(filename, bytes, media_type)``.
FileValue = Path | bytes | tuple[str, bytes, str]
#: An event of a job's stream: ``{"id": int, "event": str, "data": dict}``.
JobEvent = dict[str, Any]

_CHUNK = 1 << 16
#: The server sends a keep-alive every 15 s; a quiet stream longer than this has dropped.
_EVENTS_READ_TIMEOUT = 45.0
_LIMIT = re.compile(r"limit of (\d+) bytes")

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


class Client:
    """A modelport server: models and predictions, training jobs, the Open Catalog."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 60,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        headers = {"User-Agent": "modelport-client", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    # -- models and predictions -------------------------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        """The served models and their metadata."""
        return cast(list[dict[str, Any]], self._dict("GET", "/v2/models/")["models"])

    def model(self, name: str) -> dict[str, Any]:
        """A served model's metadata."""
        return self._dict("GET", f"/v2/models/{_segment(name)}/")

    def predict(
        self,
        model: str,
        /,
        *,
        files: Mapping[str, FileValue] | None = None,
        accept: str | None = None,
        version: str | None = None,
        **args: Any,
    ) -> Any:
        """Run a prediction; a JSON result comes back decoded, any other media type as ``bytes``.

        ``args`` are the model's arguments: sent as a JSON body, or as form fields next to
        ``files`` (multipart) when there are files. ``accept`` picks the response media type of
        models that offer several (sent both as the ``Accept`` header and as an ``accept`` query
        argument: DEEPaaS modules read one or the other, as their field declares). ``version``
        (a platform server's catalog version or alias) addresses
        ``/v2/models/{model}/versions/{version}/``.
        """
        path = f"/v2/models/{_segment(model)}/predict/"
        if version is not None:
            path = f"/v2/models/{_segment(model)}/versions/{_segment(version)}/predict/"
        headers = {"Accept": accept} if accept else {}
        params = {"accept": accept} if accept else None
        if not files:
            response = self._request(
                "POST", path, json=_jsonable(args), headers=headers, params=params
            )
        else:
            with ExitStack() as stack:
                uploads = [(field, _upload(field, value, stack)) for field, value in files.items()]
                response = self._request(
                    "POST", path, data=_form(args), files=uploads, headers=headers, params=params
                )
        if _is_json(response):
            return response.json()
        return response.content

    # -- training jobs ----------------------------------------------------------------------------

    def train(
        self,
        model: str,
        /,
        *,
        resources: Mapping[str, Any] | None = None,
        priority: int = 0,
        max_attempts: int = 1,
        version: str | None = None,
        **args: Any,
    ) -> dict[str, Any]:
        """Submit a training job (``args`` are the model's training arguments); the new job.

        ``version`` picks a catalog version or alias on a platform server (default: latest).
        """
        body: dict[str, Any] = {
            "model": model,
            "args": _jsonable(args),
            "priority": priority,
            "max_attempts": max_attempts,
        }
        if resources is not None:
            body["resources"] = dict(resources)
        if version is not None:
            body["version"] = version
        return self._dict("POST", "/jobs", json=body)

    def job(self, job_id: str) -> dict[str, Any]:
        """A job: status, progress, result or error, ..."""
        return self._dict("GET", f"/jobs/{_segment(job_id)}")

    def jobs(
        self,
        model: str | None = None,
        status: str | Sequence[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> dict[str, Any]:
        """A page of jobs, newest first: ``{"jobs": [...], "total", "limit", "offset"}``."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if model is not None:
            params["model"] = model
        if status is not None:
            params["status"] = [status] if isinstance(status, str) else list(status)
        return self._dict("GET", "/jobs", params=params)

    def logs(self, job_id: str, offset: int = 0, limit: int = 1000) -> dict[str, Any]:
        """Log lines from ``offset``: ``{"lines": [...], "offset", "next_offset"}``."""
        params = {"offset": offset, "limit": limit}
        return self._dict("GET", f"/jobs/{_segment(job_id)}/logs", params=params)

    def metrics(self, job_id: str) -> list[dict[str, Any]]:
        """A job's metric points (``name``, ``value``, ``step``, ...)."""
        return self._list("GET", f"/jobs/{_segment(job_id)}/metrics")

    def cancel(self, job_id: str) -> dict[str, Any]:
        """Cancel a job (Conflict if it has already finished); the job."""
        return self._dict("POST", f"/jobs/{_segment(job_id)}/cancel")

    def retry(self, job_id: str) -> dict[str, Any]:
        """Run a finished job again; the new job."""
        return self._dict("POST", f"/jobs/{_segment(job_id)}/retry")

    def events(self, job_id: str, after: int = 0, *, reconnects: int = 3) -> Iterator[JobEvent]:
        """Follow a job's events after event id ``after``, up to and including the ``end`` event.

        Each event is ``{"id": int, "event": "status"|"progress"|"metric"|"log"|"artifact"|"end",
        "data": dict}``. A dropped connection is resumed with ``Last-Event-ID``, at most
        ``reconnects`` times in a row without a new event in between.
        """
        return self._events(job_id, after, reconnects, deadline=None)

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        on_event: Callable[[JobEvent], object] | None = None,
        *,
        raise_on_failure: bool = True,
    ) -> dict[str, Any]:
        """Follow a job's events until it ends; the final job. TimeoutError past ``timeout`` s.

        A job that ended ``failed`` or ``cancelled`` raises :class:`~modelport.errors.ModelError`
        naming the job, its status and its error; with ``raise_on_failure=False`` it is
        returned like a succeeded one (check its ``status``).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        for event in self._events(job_id, 0, 3, deadline=deadline):
            if on_event is not None:
                on_event(event)
        job = self.job(job_id)
        status = job.get("status")
        if raise_on_failure and status in ("failed", "cancelled"):
            reason = job.get("error") or status
            raise errors.JobFailed(f"job {job_id} ({job.get('model')}) {status}: {reason}", job)
        return job

    def artifacts(self, job_id: str) -> list[dict[str, Any]]:
        """The files a job wrote: ``[{"name", "size", "href"}]``."""
        return self._list("GET", f"/jobs/{_segment(job_id)}/artifacts")

    def download_artifact(self, job_id: str, name: str, dest: Path) -> Path:
        """Stream one of a job's artifacts to ``dest`` (a file, or a directory to write it in)."""
        target = dest / PurePosixPath(name).name if dest.is_dir() else dest
        path = f"/jobs/{_segment(job_id)}/artifacts/{quote(name, safe='/')}"
        with self._stream("GET", path) as response:
            _write_file(response, target)
        return target

    # -- the Open Catalog -------------------------------------------------------------------------

    def search(self, q: str = "", **filters: Any) -> dict[str, Any]:
        """Search the catalog: ``{"total", "modules": [...], "facets": {...}, ...}``.

        ``filters`` are the route's query parameters: ``libraries``, ``tasks``, ``categories``,
        ``data_type`` (sent as ``data-type``), ``license``, ``tags`` (each a value or a list),
        ``include_deprecated``, ``sort``, ``limit``, ``offset``.
        """
        params: dict[str, Any] = {"q": q}
        for key, value in filters.items():
            if value is not None:
                params[key.replace("_", "-") if key == "data_type" else key] = _param(value)
        return self._dict("GET", "/catalog/modules", params=params)

    def module(self, name: str) -> dict[str, Any]:
        """A catalog module, its aliases and a summary of its latest version."""
        return self._dict("GET", f"/catalog/modules/{_segment(name)}")

    def versions(self, name: str, include_yanked: bool = False) -> list[dict[str, Any]]:
        """A module's versions, highest first (yanked ones too, marked, when asked)."""
        params = {"include_yanked": "true"} if include_yanked else None
        return self._list("GET", f"/catalog/modules/{_segment(name)}/versions", params=params)

    def version(self, name: str, version: str = "latest") -> dict[str, Any]:
        """One version (a number or an alias) with its metadata and artifacts."""
        path = f"/catalog/modules/{_segment(name)}/versions/{_segment(version)}"
        return self._dict("GET", path)

    def metadata(self, name: str, version: str = "latest") -> dict[str, Any]:
        """A version's AI4OS metadata."""
        path = f"/catalog/modules/{_segment(name)}/metadata"
        return self._dict("GET", path, params={"version": version})

    def publish(
        self,
        source: str | Path,
        ref: str | None = None,
        version: str | None = None,
        *,
        visibility: str | None = None,
        groups: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Publish a module from a git URL or a directory *on the server*; the new version.

        ``visibility`` (``public``, ``group`` or ``private``; default: public for a new module,
        unchanged for an existing one) and ``groups`` (for ``group``) say who sees the module.
        """
        body: dict[str, Any] = {"source": str(source), "ref": ref, "version": version}
        if visibility is not None:
            body["visibility"] = str(visibility)
        if groups:
            body["groups"] = list(groups)
        return self._dict("POST", "/catalog/modules", json=body)

    def publish_job(
        self,
        name: str,
        job_id: str,
        version: str,
        *,
        base_version: str | None = None,
        data_url: str | None = None,
    ) -> dict[str, Any]:
        """Publish a succeeded job's artifacts as a new version of module ``name``."""
        body = {
            "job_id": job_id,
            "version": version,
            "base_version": base_version,
            "data_url": data_url,
        }
        path = f"/catalog/modules/{_segment(name)}/versions"
        return self._dict("POST", path, json=body)

    def set_alias(self, name: str, alias: str, version: str) -> dict[str, Any]:
        """Point an alias (``stable``, ...) at a version; the module."""
        path = f"/catalog/modules/{_segment(name)}/aliases/{_segment(alias)}"
        return self._dict("PUT", path, json={"version": version})

    def remove_alias(self, name: str, alias: str) -> dict[str, Any]:
        """Remove an alias; the module."""
        return self._dict("DELETE", f"/catalog/modules/{_segment(name)}/aliases/{_segment(alias)}")

    def yank(self, name: str, version: str, reason: str) -> dict[str, Any]:
        """Yank a version (hidden from latest and listings, callable by number); the version."""
        path = f"/catalog/modules/{_segment(name)}/versions/{_segment(version)}/yank"
        return self._dict("POST", path, json={"reason": reason})

    def unyank(self, name: str, version: str) -> dict[str, Any]:
        """Undo a yank; the version."""
        path = f"/catalog/modules/{_segment(name)}/versions/{_segment(version)}/yank"
        return self._dict("DELETE", path)

    def publication(self, job_id: str) -> dict[str, Any]:
        """Whether a job was published: ``{"job_id", "published", "module", "version"}``."""
        return self._dict("GET", f"/catalog/jobs/{_segment(job_id)}/publication")

    def deprecate(
        self, name: str, deprecated: bool = True, message: str | None = None
    ) -> dict[str, Any]:
        """Flag (or unflag) a module as deprecated; the module."""
        body = {"deprecated": deprecated, "message": message}
        path = f"/catalog/modules/{_segment(name)}/deprecate"
        return self._dict("POST", path, json=body)

    def pull(self, name: str, dest: Path, version: str = "latest") -> list[Path]:
        """Download every artifact of a version into ``dest``, checking each one's sha256.

        A file whose bytes do not match its record is deleted and raises StoreError; the
        paths written are returned.
        """
        record = self.version(name, version)
        base = (
            f"/catalog/modules/{_segment(record['module'])}/versions/{_segment(record['version'])}"
        )
        root = dest.resolve()
        written = []
        for artifact in record["artifacts"]:
            target = (root / artifact["name"]).resolve()
            if not target.is_relative_to(root) or target == root:
                raise errors.InvalidInput({artifact["name"]: ["leaves the destination directory"]})
            with self._stream("GET", f"{base}/artifacts/{quote(artifact['name'], safe='/')}") as r:
                _write_file(r, target, sha256=artifact["sha256"], size=artifact["size"])
            written.append(target)
        return written

    # -- your data on the platform ----------------------------------------------------------------

    def data(self) -> dict[str, Any]:
        """Your data area: ``{"files": [{"name", "size", "modified"}], "used", "quota"}``."""
        return self._dict("GET", "/data/")

    def put_data(
        self,
        source: Path,
        name: str | None = None,
        *,
        chunk_size: int = 8 * 1024 * 1024,
        progress: Callable[[int, int], object] | None = None,
    ) -> dict[str, Any]:
        """Upload the file ``source`` to your data as ``name`` (default: its file name), in
        chunks of ``chunk_size`` bytes, resuming an upload of it that was cut off; train on it
        as ``data://<name>``. ``progress(sent, total)`` is called after each chunk."""
        name = name or source.name
        path = f"/data/{quote(name, safe='/')}"
        total = source.stat().st_size
        if total == 0:
            return self._dict("PUT", path, content=b"")
        asked = self._request("PUT", path, headers={"Content-Range": f"bytes */{total}"})
        offset = cast(int, asked.json()["offset"])
        offset = 0 if offset >= total else offset
        answer: dict[str, Any] = {}
        with source.open("rb") as handle:
            while offset < total:
                handle.seek(offset)
                piece = handle.read(chunk_size)
                end = offset + len(piece) - 1
                headers = {"Content-Range": f"bytes {offset}-{end}/{total}"}
                response = self._http.put(path, content=piece, headers=headers)
                if response.status_code == 409 and "offset" in _json_or_empty(response):
                    offset = int(response.json()["offset"])  # another try of ours got further
                    continue
                if response.is_error:
                    raise error_from_response(response)
                answer = response.json()
                offset = int(answer["offset"])
                if progress is not None:
                    progress(offset, total)
        return answer

    def get_data(self, name: str, dest: Path) -> Path:
        """Download your file ``name`` to ``dest`` (a file, or a directory to write it in)."""
        target = dest / PurePosixPath(name).name if dest.is_dir() else dest
        with self._stream("GET", f"/data/{quote(name, safe='/')}") as response:
            _write_file(response, target)
        return target

    def delete_data(self, name: str) -> None:
        """Delete your file ``name``."""
        self._request("DELETE", f"/data/{quote(name, safe='/')}")

    # -- transport --------------------------------------------------------------------------------

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def _dict(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return cast(dict[str, Any], self._json(method, path, **kwargs))

    def _list(self, method: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        return cast(list[dict[str, Any]], self._json(method, path, **kwargs))

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.is_error:
            raise error_from_response(response)
        return response

    @contextmanager
    def _stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        try:
            with self._http.stream(method, path, **kwargs) as response:
                if response.is_error:
                    response.read()
                    raise error_from_response(response)
                yield response
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: httpx.TransportError) -> ModelportError:
        if isinstance(exc, httpx.TimeoutException):
            return ModelportError(f"no answer from {self.url} within {self.timeout} s ({exc})")
        if isinstance(exc, httpx.ConnectError):
            return ModelportError(f"cannot connect to {self.url}: {exc}")
        return ModelportError(f"the connection to {self.url} failed: {exc}")

    def _events(
        self, job_id: str, after: int, reconnects: int, deadline: float | None
    ) -> Iterator[JobEvent]:
        last, failures = after, 0
        path = f"/jobs/{_segment(job_id)}/events"
        while True:
            read = max(self.timeout, _EVENTS_READ_TIMEOUT)
            if deadline is not None:
                read = max(min(read, deadline - time.monotonic()), 0.001)
            headers = {"Accept": "text/event-stream", "Last-Event-ID": str(last)}
            timeout = httpx.Timeout(self.timeout, read=read)
            try:
                with self._http.stream("GET", path, headers=headers, timeout=timeout) as response:
                    if response.is_error:
                        response.read()
                        raise error_from_response(response)
                    for event in parse_sse(response.iter_lines()):
                        if isinstance(event["id"], int):
                            last, failures = event["id"], 0
                        yield event
                        if event["event"] == "end":
                            return
                        if deadline is not None and time.monotonic() > deadline:
                            raise TimeoutError(f"job {job_id} did not finish in time")
                problem: Exception = ModelportError("the event stream ended before the job did")
            except httpx.TransportError as exc:
                problem = exc
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} did not finish in time") from problem
            failures += 1
            if failures > reconnects:
                if isinstance(problem, httpx.TransportError):
                    raise self._unreachable(problem) from problem
                raise problem
            time.sleep(min(0.25 * 2**failures, 2.0))


def parse_sse(lines: Iterator[str]) -> Iterator[JobEvent]:
    """Server-Sent Events from a stream's lines: ``{"id", "event", "data"}`` with JSON data."""
    event_id: str | None = None
    kind = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                text = "\n".join(data)
                try:
                    payload: Any = json.loads(text)
                except json.JSONDecodeError:
                    payload = text
                number = int(event_id) if event_id and event_id.isdigit() else event_id
                yield {"id": number, "event": kind, "data": payload}
            kind, data = "message", []
            continue
        if line.startswith(":"):
            continue  # a comment: the server's keep-alive
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "id":
            event_id = value
        elif field == "event":
            kind = value
        elif field == "data":
            data.append(value)


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


# -- encoding -------------------------------------------------------------------------------------


def _segment(value: str) -> str:
    return quote(value, safe="")


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        found = response.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _is_json(response: httpx.Response) -> bool:
    media = str(response.headers.get("content-type", "")).partition(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _jsonable(args: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, Enum) else v for k, v in args.items() if v is not None}


def _param(value: Any) -> Any:
    if isinstance(value, list | tuple | set):
        return [_form_value(v) for v in value]
    return _form_value(value)


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _form(args: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """Arguments as form fields: lists repeat their field, booleans are ``true``/``false``."""
    form: dict[str, str | list[str]] = {}
    for key, value in args.items():
        if value is not None:
            form[key] = _param(value)
    return form


def _upload(field: str, value: FileValue, stack: ExitStack) -> tuple[str, IO[bytes] | bytes, str]:
    if isinstance(value, Path):
        media_type = mimetypes.guess_type(value.name)[0] or "application/octet-stream"
        return value.name, stack.enter_context(value.open("rb")), media_type
    if isinstance(value, bytes):
        return field, value, "application/octet-stream"
    return value


def _write_file(
    response: httpx.Response, target: Path, *, sha256: str | None = None, size: int | None = None
) -> None:
    """Stream a response body to ``target`` via a partial file; nothing is left on failure."""
    partial = target.with_name(f".{target.name}.part")
    hasher, written = hashlib.sha256(), 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as out:
            for chunk in response.iter_bytes(_CHUNK):
                hasher.update(chunk)
                written += len(chunk)
                out.write(chunk)
        if sha256 is not None and (
            hasher.hexdigest() != sha256 or (size is not None and written != size)
        ):
            raise errors.StoreError(
                f"checksum mismatch for {target.name}: expected sha256 {sha256} ({size} bytes), "
                f"got {hasher.hexdigest()} ({written} bytes); not written"
            )
        partial.replace(target)
    except OSError as exc:
        raise errors.StoreError(f"cannot write {target}: {exc.strerror}") from exc
    finally:
        with suppress(OSError):
            partial.unlink(missing_ok=True)
