"""Error answers, side by side: 422 validation (flat and nested), 400 bad JSON, 501.

All 422s of DEEPaaS 2.6.0 are ``application/json`` (no charset), every bad
field at once, ``{"field": ["message", ...]}``; nested fields and list items
nest the same way (``{"payload": {"a": [...]}, "numbers": {"1": [...]}}``).
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import PNG_BYTES, PairFactory, assert_json_error, assert_same, describe

pytestmark = pytest.mark.slow

IMG = {"demo-image": ("img.png", PNG_BYTES, "image/png")}
TXT = {"data": ("hello.txt", b"hello world\n", "text/plain")}

CASES: list[tuple[str, str, dict[str, Any]]] = [
    # missing required
    ("upload-missing-file", "probe-upload-isinstance", {}),
    ("test-model-missing-all", "deepaas-test", {}),
    ("test-model-missing-file", "deepaas-test", {"params": {"parameter": "1"}}),
    ("notrain-missing", "probe-no-train", {}),
    ("demoadv-missing-text", "probe-accept-header-required", {}),
    ("nested-missing-payload", "probe-nested-errors", {"json": {}}),
    # bad enum
    (
        "test-model-bad-enum",
        "deepaas-test",
        {"params": {"parameter": "1", "parameter_three": "baz"}, "files": TXT},
    ),
    ("formats-bad-choice", "probe-formats", {"params": {"an_int": "1", "a_choice": "d"}}),
    (
        "upload-bad-accept",
        "probe-upload-isinstance",
        {"params": {"accept": "text/csv"}, "files": IMG},
    ),
    # out of range / bad values
    (
        "upload-out-of-range",
        "probe-upload-isinstance",
        {"params": {"demo-int-range": "500"}, "files": IMG},
    ),
    (
        "upload-bad-types-and-list-item",
        "probe-upload-isinstance",
        {
            "params": {
                "demo-list-of-floats": ["1.5", "x"],
                "demo-int": "1.5",
                "demo-bool": "maybe",
            },
            "files": IMG,
        },
    ),
    ("notrain-out-of-range", "probe-no-train", {"params": {"x": "3", "scale": "11"}}),
    ("notrain-not-an-int", "probe-no-train", {"params": {"x": "a"}}),
    (
        "formats-all-bad",
        "probe-formats",
        {
            "params": {
                "an_int": "6",
                "an_int64": "1.5",
                "a_float": "nan",
                "a_decimal": "x",
                "a_date": "2024-02-30",
                "a_datetime": "yesterday",
                "an_email": "nope",
                "a_url": "notaurl",
                "a_uuid": "1234",
                "a_list": ["1", "2", "3", "4"],
                "a_bool": "maybe",
            }
        },
    ),
    ("formats-infinity", "probe-formats", {"params": {"an_int": "1", "a_float": "inf"}}),
    (
        "formats-file-for-a-string",
        "probe-formats",
        {"data": {"an_int": "2"}, "files": {"a_password": ("p.txt", b"pw", "text/plain")}},
    ),
    (
        "demoadv-custom-field",
        "probe-accept-header-required",
        {"params": {"text": "hi", "dataset": "nope"}},
    ),
    # nested
    (
        "nested-both-levels",
        "probe-nested-errors",
        {"json": {"payload": {"b": "toolong"}, "numbers": [1, "x"]}},
    ),
    (
        "nested-wrong-types",
        "probe-nested-errors",
        {"json": {"payload": {"a": "z", "b": 5}, "numbers": "notalist"}},
    ),
    ("nested-not-an-object", "probe-nested-errors", {"json": {"payload": "str"}}),
    ("nested-unknown-key", "probe-nested-errors", {"json": {"payload": {"a": 1, "c": 2}}}),
    (
        "nested-two-bad-items",
        "probe-nested-errors",
        {"json": {"payload": {"a": 1}, "numbers": [1, "x", 3, "y"]}},
    ),
    ("nested-list-in-query", "probe-nested-errors", {"params": {"numbers": ["1", "x"]}}),
    ("nested-object-as-form-string", "probe-nested-errors", {"data": {"payload": '{"a": 1}'}}),
]


@pytest.mark.parametrize(("model", "kwargs"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_identical(pair: PairFactory, model: str, kwargs: dict[str, Any]) -> None:
    p = pair(model)
    d, m = p.both("POST", p.predict, **kwargs)
    assert d.status_code in (400, 422), describe(d)
    assert_same(d, m)


def test_nested_422_exact_deepaas_body(pair: PairFactory) -> None:
    """The exact DEEPaaS 2.6.0 body for nested errors (see FINDINGS.md), and modelport's."""
    p = pair("probe-nested-errors")
    d, m = p.both("POST", p.predict, json={"payload": {"b": "toolong"}, "numbers": [1, "x"]})
    expected = {
        "payload": {
            "a": ["Missing data for required field."],
            "b": ["Longer than maximum length 3."],
        },
        "numbers": {"1": ["Not a valid integer."]},
    }
    assert (d.status_code, d.json()) == (422, expected), describe(d)
    assert (m.status_code, m.json()) == (422, expected), describe(m)


# --------------------------------------------------------------------------- 501


@pytest.mark.parametrize(
    ("model", "route", "kwargs"),
    [
        ("probe-metadata-only", "predict", {}),
        ("probe-metadata-only", "predict", {"params": {"x": "1"}}),
        ("probe-metadata-only", "train", {}),
        ("probe-no-train", "train", {}),
        ("probe-no-train", "train", {"params": {"x": "1"}}),
    ],
)
def test_not_implemented_is_501(
    pair: PairFactory, model: str, route: str, kwargs: dict[str, Any]
) -> None:
    """A module lacking predict/train: DEEPaaS keeps the route and answers 501.

    DEEPaaS: ``text/plain; charset=utf-8``,
    ``501: Not implemented by underlying model (loaded '<model>')``. The status
    must match; the body may be modelport's JSON error (the same rule as its
    JSON 404/405/500), which must carry the same message.
    """
    p = pair(model)
    d, m = p.both("POST", p.predict if route == "predict" else p.train, **kwargs)
    assert d.text == f"501: Not implemented by underlying model (loaded '{model}')", describe(d)
    got = assert_json_error(m, 501, d, f"{route} on a module without {route}: 501")
    assert "Not implemented by underlying model" in got["message"], describe(m)


def test_a_broken_json_body_says_where_it_breaks(pair: PairFactory) -> None:
    # Documented improvement: DEEPaaS's 400 {"json": ["Invalid JSON body."]}, plus the position.
    p = pair("probe-nested-errors")
    kwargs: dict[str, Any] = {
        "content": b"{not json",
        "headers": {"Content-Type": "application/json"},
    }
    d, m = p.both("POST", p.predict, **kwargs)
    assert (d.status_code, d.json()) == (400, {"json": ["Invalid JSON body."]})
    assert m.status_code == 400
    assert m.json() == {
        "json": [
            "Invalid JSON body (line 1, column 2: "
            "Expecting property name enclosed in double quotes)."
        ]
    }
