"""The ``accept`` argument, side by side: query string vs form field vs ``Accept`` header.

DEEPaaS 2.6.0 appends ``*/*`` to the choices and sets ``field.location = "headers"``,
an attribute webargs 5.5.3 never reads: webargs reads ``field.metadata["location"]``.
So where the module says nothing (``probe-upload-isinstance``), ``accept`` is
read from the query string or the form and the ``Accept`` header is ignored;
where the module declares ``metadata={"location": "headers"}``
(``probe-accept-header-required``, ``deepaas-test``) only the header counts, a
browser's ``Accept`` is a 422 and no header at all is "Missing data" when
required. httpx sends ``Accept: */*`` unless told otherwise (NO_ACCEPT).
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import BROWSER_ACCEPT, NO_ACCEPT, PNG_BYTES, PairFactory, assert_same

pytestmark = pytest.mark.slow

IMG = {"demo-image": ("img.png", PNG_BYTES, "image/png")}
TXT = {"data": ("hello.txt", b"hello world\n", "text/plain")}


def _h(value: Any) -> dict[str, Any]:
    return {"headers": {"Accept": value}}


# accept without a location: query string / form only
NO_LOCATION: list[tuple[str, dict[str, Any]]] = [
    ("query-zip", {"params": {"accept": "application/zip"}}),
    ("query-image", {"params": {"accept": "image/*"}}),
    ("query-json", {"params": {"accept": "application/json"}}),
    ("query-star", {"params": {"accept": "*/*"}}),
    ("form-image", {"data": {"accept": "image/*"}}),
    ("form-zip", {"data": {"accept": "application/zip"}}),
    ("header-image-ignored", _h("image/*")),
    ("header-zip-ignored", _h("application/zip")),
    ("header-json", _h("application/json")),
    ("header-browser", _h(BROWSER_ACCEPT)),
    ("httpx-default-star", {}),
    ("no-accept-at-all", _h(NO_ACCEPT)),
    ("query-json-header-image", {"params": {"accept": "application/json"}, **_h("image/*")}),
    ("query-not-a-choice", {"params": {"accept": "text/csv"}}),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in NO_LOCATION], ids=[c[0] for c in NO_LOCATION])
def test_accept_without_location(pair: PairFactory, kwargs: dict[str, Any]) -> None:
    p = pair("probe-upload-isinstance")
    d, m = p.both("POST", p.predict, files=IMG, **kwargs)
    assert_same(d, m)


# accept required, metadata location "headers" (demo-advanced style)
TEXT = {"text": "hi"}
HEADERS_REQUIRED: list[tuple[str, dict[str, Any]]] = [
    ("header-text", {"params": TEXT, **_h("text/plain")}),
    ("header-json", {"params": TEXT, **_h("application/json")}),
    ("httpx-default-star", {"params": TEXT}),
    ("header-browser-422", {"params": TEXT, **_h(BROWSER_ACCEPT)}),
    ("header-not-a-choice-422", {"params": TEXT, **_h("image/png")}),
    ("no-header-missing-422", {"params": TEXT, **_h(NO_ACCEPT)}),
    ("query-ignored", {"params": {**TEXT, "accept": "text/plain"}}),
    ("form-ignored", {"data": {**TEXT, "accept": "text/plain"}}),
    ("json-body-ignored", {"json": {**TEXT, "accept": "text/plain"}}),
    ("query-without-header-422", {"params": {**TEXT, "accept": "text/plain"}, **_h(NO_ACCEPT)}),
    ("nothing-at-all-422", _h(NO_ACCEPT)),
]


@pytest.mark.parametrize(
    "kwargs", [c[1] for c in HEADERS_REQUIRED], ids=[c[0] for c in HEADERS_REQUIRED]
)
def test_accept_header_location_required(pair: PairFactory, kwargs: dict[str, Any]) -> None:
    p = pair("probe-accept-header-required")
    d, m = p.both("POST", p.predict, **kwargs)
    assert_same(d, m)


TRAIN_ACCEPT: list[tuple[str, dict[str, Any]]] = [
    ("header-json", _h("application/json")),
    ("header-text", _h("text/plain")),
    # */* passes: DEEPaaS appended it to the choices list that predict and
    # train share (one module-level list, like demo-advanced's parsers.content_types)
    ("httpx-default-star", {}),
    ("header-browser-422", _h(BROWSER_ACCEPT)),
    ("no-header-missing-422", _h(NO_ACCEPT)),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in TRAIN_ACCEPT], ids=[c[0] for c in TRAIN_ACCEPT])
def test_train_accept_header_location_required(pair: PairFactory, kwargs: dict[str, Any]) -> None:
    """Train does not special-case ``accept``: it is an ordinary required header argument."""
    p = pair("probe-accept-header-required")
    d, m = p.both("POST", p.train, params={"input_file": "demo"}, **kwargs)
    assert_same(d, m)


# accept optional, metadata location "headers" (DEEPaaS's own test model)
PARAM = {"parameter": "1"}
HEADERS_OPTIONAL: list[tuple[str, dict[str, Any]]] = [
    ("header-text", {"params": PARAM, **_h("text/plain")}),
    ("header-png", {"params": PARAM, **_h("image/png")}),
    ("header-json", {"params": PARAM, **_h("application/json")}),
    ("httpx-default-star", {"params": PARAM}),
    ("header-browser-422", {"params": PARAM, **_h(BROWSER_ACCEPT)}),
    ("no-header-default-json", {"params": PARAM, **_h(NO_ACCEPT)}),
    ("query-png-ignored", {"params": {**PARAM, "accept": "image/png"}}),
    ("form-png-ignored", {"data": {**PARAM, "accept": "image/png"}}),
    ("query-png-no-header-ignored", {"params": {**PARAM, "accept": "image/png"}, **_h(NO_ACCEPT)}),
]


@pytest.mark.parametrize(
    "kwargs", [c[1] for c in HEADERS_OPTIONAL], ids=[c[0] for c in HEADERS_OPTIONAL]
)
def test_accept_header_location_optional(pair: PairFactory, kwargs: dict[str, Any]) -> None:
    p = pair("deepaas-test")
    d, m = p.both("POST", p.predict, files=TXT, **kwargs)
    assert_same(d, m)
