"""Valid predictions, side by side: query string, form, multipart with files, JSON body.

DEEPaaS 2.6.0 (webargs 5.5.3) reads every argument from the query string, the
form (urlencoded or multipart) or a JSON body, whatever swagger.json says.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import PNG_BYTES, PairFactory, assert_same

pytestmark = pytest.mark.slow

IMG = {"demo-image": ("img.png", PNG_BYTES, "image/png")}
TXT = {"data": ("hello.txt", b"hello world\n", "text/plain")}
DEMO_FORM = {
    "demo-str": "form",
    "demo-str-choice": "choice1",
    "demo-password": "pw",
    "demo-int": "3",
    "demo-int-range": "100",
    "demo-float": "2",
    "demo-bool": "false",
    "demo-list-of-floats": ["1.5", "2"],
}
FORMATS = {
    "an_int": "-5",
    "an_int64": "9007199254740993",
    "a_float": "1e3",
    "a_decimal": "1.10",
    "a_date": "2024-02-29",
    "a_datetime": "2024-02-29T12:30:00",
    "an_email": "a@b.org",
    "a_url": "https://example.org/x",
    "a_uuid": "12345678-1234-5678-1234-567812345678",
    "a_password": "pw",
    "a_list": ["x", "y"],
    "a_bool": "yes",
    "a_choice": "c",
}
FORMATS_JSON: dict[str, Any] = dict(
    FORMATS, an_int=-5, an_int64=9007199254740993, a_float=1000.0, a_decimal=1.1, a_bool=True
)

CASES: list[tuple[str, str, dict[str, Any]]] = [
    # (id, model, request keyword arguments)
    ("upload-defaults", "probe-upload-isinstance", {"files": IMG}),
    ("upload-query-args", "probe-upload-isinstance", {"files": IMG, "params": DEMO_FORM}),
    ("upload-form-args", "probe-upload-isinstance", {"files": IMG, "data": DEMO_FORM}),
    (
        "upload-bad-enum-not-validated",
        "probe-upload-isinstance",
        {"files": IMG, "params": {"demo-str-choice": "not-a-choice"}},
    ),
    (
        "demoadv-query",
        "probe-accept-header-required",
        {"params": {"text": "hi", "dataset": "demo"}},
    ),
    ("demoadv-form", "probe-accept-header-required", {"data": {"text": "hi", "dataset": "other"}}),
    ("demoadv-json", "probe-accept-header-required", {"json": {"text": "hi", "dataset": "other"}}),
    ("notrain-query", "probe-no-train", {"params": {"x": "3"}}),
    ("notrain-form", "probe-no-train", {"data": {"x": "3", "scale": "0.5"}}),
    ("notrain-json", "probe-no-train", {"json": {"x": 3, "scale": 0.5}}),
    ("notrain-query-beats-json", "probe-no-train", {"params": {"x": "4"}, "json": {"x": 3}}),
    (
        "nested-json",
        "probe-nested-errors",
        {"json": {"payload": {"a": 1, "b": "xy"}, "numbers": [1, 2]}},
    ),
    (
        "nested-json-and-query-list",
        "probe-nested-errors",
        {"params": {"numbers": ["1", "2"]}, "json": {"payload": {"a": 1}}},
    ),
    ("formats-defaults", "probe-formats", {"params": {"an_int": "1"}}),
    ("formats-query", "probe-formats", {"params": FORMATS}),
    ("formats-form", "probe-formats", {"data": FORMATS}),
    ("formats-json", "probe-formats", {"json": FORMATS_JSON}),
    (
        "formats-multipart",
        "probe-formats",
        {"data": {"an_int": "2"}, "files": {"a_password": ("p.txt", b"pw", "text/plain")}},
    ),
    ("test-model-query-and-file", "deepaas-test", {"params": {"parameter": "1"}, "files": TXT}),
    (
        "test-model-form-and-file",
        "deepaas-test",
        {"data": {"parameter": "1", "parameter_three": "bar"}, "files": TXT},
    ),
]


@pytest.mark.parametrize(("model", "kwargs"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_predict_identical(pair: PairFactory, model: str, kwargs: dict[str, Any]) -> None:
    p = pair(model)
    d, m = p.both("POST", p.predict, **kwargs)
    assert_same(d, m)


def _holding(root: Path, marker: bytes) -> list[Path]:
    return [f for f in root.rglob("*") if f.is_file() and marker in f.read_bytes()]


def test_uploads_deleted(pair: PairFactory) -> None:
    """Documented improvement: DEEPaaS leaves every upload's mkstemp() copy in TMPDIR."""
    p = pair("deepaas-test")
    marker = f"upload-marker-{time.time_ns()}".encode()
    d, m = p.both(
        "POST",
        p.predict,
        params={"parameter": "1"},
        files={"data": ("u.txt", marker, "text/plain")},
    )
    assert_same(d, m)
    d_tmp, m_tmp = p.tmpdirs()
    assert len(_holding(d_tmp, marker)) == 1, "DEEPaaS 2.6.0 leaks the upload"
    deadline = time.monotonic() + 5
    while _holding(m_tmp, marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _holding(m_tmp, marker), f"modelport left the upload in {m_tmp}"
