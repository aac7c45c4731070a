"""Storage backends: which file system a storage URL names, with which options, and its errors.

Stored bytes live under fsspec URLs, chosen in Settings (``artifacts_url``,
``catalog_artifacts_url``): a local directory, ``s3://bucket/prefix`` (s3fs: AWS or any
S3-compatible server), or a WebDAV share, ``webdav+https://host/dav/prefix`` (``webdavs://``
is the same, ``webdav+http://`` plain HTTP; webdav4). Other fsspec URLs work as fsspec has them.

Credentials never go in a URL: URLs reach logs, error messages and job records. They come from
``Settings.storage_options`` (:func:`options_for`: keyed by scheme, ``s3``, or by URL prefix,
``s3://bucket/catalog``, merged over its scheme's) or from the backend's own environment
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``...). A URL with
credentials in it is refused (:func:`check_url`), and :func:`redact_url` is what shows one.

A backend that cannot be reached (connection refused, timeout, a 5xx answer) raises StoreError
(HTTP 503) naming it without credentials: ``storage backend s3://bucket at
http://127.0.0.1:9000 is unavailable (...)`` (:meth:`StorageBackend.errors`).
"""

from __future__ import annotations

import copy
import functools
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Final

import fsspec

from modelport.errors import InvalidInput, ModelportError, StoreError

#: WebDAV URL schemes that name their server, and the HTTP scheme each speaks.
DAV_SCHEMES: Final = {"webdav+http": "http", "webdav+https": "https", "webdavs": "https"}
#: Object stores: no directories to make before writing a key.
OBJECT_STORES: Final = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})

#: ``user:password@`` in a URL, anywhere in a text.
_USERINFO: Final = re.compile(r"(?<=://)[^/?#@\s]*@")
#: Query parameters that carry secrets (presigned URLs, tokens).
_SECRET_QUERY: Final = re.compile(
    r"(?i)([?&](?:x-amz-(?:signature|credential|security-token)|signature|sig|token|"
    r"access_token|password|secret|key)=)[^&#\s\"']*"
)
#: S3 defaults, each kept unless the options set it: botocore's "standard" retries (3
#: attempts) and a short connect timeout, so that a store that is down answers 503 in seconds.
_S3_CONFIG: Final = {"connect_timeout": 5, "retries": {"max_attempts": 3, "mode": "standard"}}


def redact_url(text: str) -> str:
    """A URL (or a text with URLs in it) without credentials: no ``user:password@``, no secret
    query parameters. Whatever prints a storage URL prints it through this."""
    return _SECRET_QUERY.sub(r"\1***", _USERINFO.sub("", text))


def scheme_of(url: str) -> str:
    """A URL's scheme, lower case (``""`` for a local path)."""
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep and "::" not in scheme else ""


def check_url(url: str, field: str = "url") -> str:
    """``url`` when no credentials are written in it; else InvalidInput naming ``field``."""
    if redact_url(url) != url:
        raise InvalidInput(
            {
                field: [
                    f"{redact_url(url)} has credentials in the URL: put them in storage_options "
                    "(or the backend's environment, e.g. AWS_ACCESS_KEY_ID), never in a URL"
                ]
            }
        )
    return url


def options_for(url: str, storage_options: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The fsspec options for ``url``: those of its scheme, then of each URL prefix it starts
    with (shortest first, so the longest wins), a deep copy (libraries mutate what they get)."""
    merged: dict[str, Any] = dict(copy.deepcopy(storage_options.get(scheme_of(url), {})))
    prefixes = sorted((key for key in storage_options if "://" in key), key=len)
    for prefix in prefixes:
        base = prefix.rstrip("/")
        if url == base or url.startswith(base + "/"):
            merged.update(copy.deepcopy(dict(storage_options[prefix])))
    return merged


def _with_defaults(url: str, options: Mapping[str, Any]) -> dict[str, Any]:
    resolved = copy.deepcopy(dict(options))
    if scheme_of(url) in ("s3", "s3a"):
        config = resolved.setdefault("config_kwargs", {})
        for key, value in _S3_CONFIG.items():
            config.setdefault(key, copy.deepcopy(value))
    return resolved


def describe(url: str, options: Mapping[str, Any]) -> str:
    """How messages name the backend of ``url``: ``s3://bucket/prefix at <endpoint>`` (an S3
    endpoint other than AWS's), the URL otherwise; never with credentials."""
    name = redact_url(url)
    if scheme_of(url) in ("s3", "s3a"):
        client = options.get("client_kwargs") or {}
        endpoint = (
            options.get("endpoint_url")
            or client.get("endpoint_url")
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL")
        )
        if endpoint:
            name = f"{name} at {redact_url(str(endpoint))}"
    return name


@dataclass(frozen=True)
class StorageBackend:
    """An opened storage URL: its fsspec file system, the path of the URL on it, the name
    messages give it (:func:`describe`), and whether it has directories to make (object stores
    have none: making them costs requests, and s3fs would even create a missing bucket)."""

    fs: Any
    path: str
    name: str
    directories: bool = True

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Map what the backend's library raises: an unreachable backend becomes StoreError
        naming it; another library error (not an OSError) becomes StoreError; OSErrors and
        modelport's own errors pass, for the caller to word."""
        try:
            yield
        except (ModelportError, FileNotFoundError):
            raise
        except _unavailable_errors() as exc:
            raise StoreError(
                f"storage backend {self.name} is unavailable ({_reason(exc)})"
            ) from exc
        except OSError:
            raise
        except Exception as exc:
            if _is_library_error(exc):
                status = getattr(exc, "status_code", None)
                if isinstance(status, int) and status >= 500:
                    raise StoreError(
                        f"storage backend {self.name} is unavailable ({_reason(exc)})"
                    ) from exc
                raise StoreError(f"storage backend {self.name} failed: {_reason(exc)}") from exc
            raise


def open_url(url: str, field: str = "url", /, **options: Any) -> StorageBackend:
    """The backend of ``url``, opened with ``options`` (fsspec's, e.g. from :func:`options_for`).

    InvalidInput (naming ``field``) for credentials in the URL or an unknown protocol;
    StoreError when the protocol's package is not installed (``modelport[s3]``, ``[webdav]``).
    """
    check_url(url, field)
    resolved = _with_defaults(url, options)
    try:
        fs, path = fsspec.core.url_to_fs(url, **resolved)
    except ValueError as exc:  # "Protocol not known: ..."
        raise InvalidInput({field: [redact_url(str(exc))]}) from exc
    except ImportError as exc:  # the protocol's package (s3fs, webdav4) is not installed
        raise StoreError(f"cannot open the storage backend {redact_url(url)}: {exc}") from exc
    directories = scheme_of(url) not in OBJECT_STORES
    return StorageBackend(fs, path, describe(url, resolved), directories)


# -- WebDAV URLs that name their server ------------------------------------------------------


def _register_dav_schemes() -> None:
    """``webdav+http://``, ``webdav+https://``, ``webdavs://``: :mod:`modelport.storage.webdav`
    (imported by fsspec on first use: webdav4 is optional)."""
    for scheme in DAV_SCHEMES:
        fsspec.register_implementation(
            scheme, "modelport.storage.webdav.DavFileSystem", clobber=True
        )


_register_dav_schemes()


# -- what counts as "unavailable" -------------------------------------------------------------


@functools.cache
def _unavailable_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the backend could not be reached (its libraries' and Python's)."""
    found: list[type[BaseException]] = [ConnectionError, TimeoutError]
    with suppress(ImportError):
        import httpx  # webdav4

        found.append(httpx.TransportError)
    with suppress(ImportError):
        from botocore import exceptions as boto  # type: ignore[import-untyped]

        found += [boto.ConnectionError, boto.ConnectTimeoutError, boto.ReadTimeoutError]
    with suppress(ImportError):
        import aiohttp  # s3fs (aiobotocore), http

        found.append(aiohttp.ClientConnectionError)
    with suppress(ImportError):
        from webdav4.client import BadGatewayError  # type: ignore[import-untyped]

        found.append(BadGatewayError)
    return tuple(found)


def _is_library_error(exc: Exception) -> bool:
    """Whether ``exc`` comes from a storage library (not a bug of ours to show as one)."""
    module = type(exc).__module__.split(".", 1)[0]
    return module in {"botocore", "aiobotocore", "s3fs", "webdav4", "httpx", "aiohttp", "fsspec"}


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return redact_url(text if len(text) <= 300 else text[:300] + "...")
