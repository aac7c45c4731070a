"""What crosses between callers and module code: requests stripped, responses made data.

Module code is untrusted (the catalog is crowdsourced), so:

- **Requests**: a worker gets only what the model's contract reads — the body and its
  ``Content-Type``/``Content-Length``, ``Accept``, ``Host`` and the Open Inference Protocol's
  ``Inference-Header-Content-Length``. ``Authorization``, ``Cookie``,
  ``X-Forwarded-*`` and every other header stay at the gateway, as does the caller's address.
- **Responses**: a module's answer is data, never a page of the platform. Only the headers a
  prediction needs pass (``Content-Type``, ``Content-Length``, ``Content-Disposition``,
  ``Inference-Header-Content-Length``); no
  ``Set-Cookie``, no redirects, no caching or security headers of the module's. Every proxied
  answer carries ``Content-Security-Policy: default-src 'none'; sandbox`` (a browser that opens it
  runs no script and gets an opaque origin: no cookies, no storage of the platform's),
  ``X-Content-Type-Options: nosniff`` and ``Cache-Control: no-store``; markup media types
  (HTML, XHTML, SVG, XML) are also sent as downloads. A module's documents (its OpenAPI) are
  parsed and re-serialised as JSON: anything else is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from modelport.errors import ModelError

Headers = list[tuple[bytes, bytes]]

#: Request headers a worker receives (lower case).
FORWARDED: Final = frozenset(
    {b"content-type", b"content-length", b"accept", b"host", b"inference-header-content-length"}
)
#: Response headers a worker may set (lower case).
PASSED_BACK: Final = frozenset(
    {b"content-type", b"content-length", b"content-disposition", b"inference-header-content-length"}
)
MODEL_RESPONSE_POLICY: Final = (
    (b"content-security-policy", b"default-src 'none'; sandbox"),
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
)
_MARKUP: Final = (b"text/html", b"application/xhtml", b"image/svg", b"text/xml", b"application/xml")


#: The parts of an ASGI scope a worker gets (plain data: Ray pickles it).
SCOPE_KEYS: Final = (
    "method",
    "path",
    "raw_path",
    "query_string",
    "root_path",
    "server",
    "scheme",
    "http_version",
)


def worker_scope(
    scope: Mapping[str, Any], headers: Iterable[tuple[bytes, bytes]]
) -> dict[str, Any]:
    """What a worker's app sees of a request: no credentials, no caller address."""
    picked: dict[str, Any] = {k: scope[k] for k in SCOPE_KEYS if k in scope}
    picked["headers"] = request_headers(headers)
    picked["client"] = None
    if picked.get("server") is not None:
        picked["server"] = tuple(picked["server"])
    return picked


def request_headers(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """The caller's headers a worker may see (credentials and proxy headers stay out)."""
    return [(k, v) for k, v in headers if k.lower() in FORWARDED]


def response_headers(headers: Iterable[tuple[bytes, bytes]]) -> Headers:
    """A worker's response headers as the platform sends them: filtered, then its policy."""
    kept: Headers = []
    markup = False
    for key, value in headers:
        name = key.lower()
        if name not in PASSED_BACK:
            continue
        if name == b"content-type" and value.strip().lower().startswith(_MARKUP):
            markup = True
        if name == b"content-disposition" and markup:
            continue
        kept.append((name, value))
    if markup:  # never rendered on the platform's origin, even if a browser ignores the policy
        kept = [(k, v) for k, v in kept if k != b"content-disposition"]
        kept.append((b"content-disposition", b"attachment"))
    return [*kept, *MODEL_RESPONSE_POLICY]


def module_document(status: int, body: bytes, module: str) -> dict[str, Any]:
    """A module's OpenAPI document, parsed: the platform re-serialises it as JSON.

    ModelError (a 500 naming the module) when the worker did not answer a JSON object.
    """
    if status != 200:
        raise ModelError(f"module '{module}' did not answer its document (HTTP {status})")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        document = None
    if not isinstance(document, dict):
        raise ModelError(f"module '{module}' answered a document that is not a JSON object")
    return document
