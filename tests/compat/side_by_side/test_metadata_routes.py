"""Discovery routes side by side: /, /v2/, /v2/models/, /v2/models/{m}/, 404/405, no slash."""

from __future__ import annotations

import pytest

from .conftest import PROBE_MODELS, PairFactory, assert_json_error, assert_same, body, describe

pytestmark = pytest.mark.slow

MODELS = PROBE_MODELS


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("path", ["/", "/v2/", "/v2/models/", "/v2/models/{m}/"])
def test_discovery_identical(pair: PairFactory, model: str, path: str) -> None:
    p = pair(model)
    d, m = p.both("GET", path.format(m=model))
    assert_same(d, m)


def test_debug_endpoint_disabled(pair: PairFactory) -> None:
    """DEEPaaS documents GET /v2/debug/ and answers 204 (empty) unless --debug-endpoint."""
    d, m = pair("probe-no-train").both("GET", "/v2/debug/")
    assert (d.status_code, d.content) == (204, b""), describe(d)
    assert_same(d, m)


@pytest.mark.parametrize("model", ["probe-no-train", "probe-metadata-only", "deepaas-test"])
@pytest.mark.parametrize("path", ["/v2", "/v2/models", "/v2/models/{m}"])
def test_no_trailing_slash_answers_directly(pair: PairFactory, model: str, path: str) -> None:
    """Documented improvement: DEEPaaS answers 308 to the slash form; modelport answers it."""
    p = pair(model)
    d, m = p.both("GET", path.format(m=model))
    assert d.status_code == 308, describe(d)
    assert d.headers["location"] == path.format(m=model) + "/", d.headers
    d_slash = p.deepaas.get(path.format(m=model) + "/")
    assert m.status_code == 200, f"no 308 and no redirect expected\n  modelport: {describe(m)}"
    assert "location" not in m.headers, describe(m)
    assert body(m) == body(d_slash), (
        f"same body as DEEPaaS's slash form\n  DEEPaaS:   {describe(d_slash)}\n"
        f"  modelport: {describe(m)}"
    )


def test_predict_without_trailing_slash(pair: PairFactory) -> None:
    """Documented improvement: POST .../predict (no slash) answers; DEEPaaS 308s (keeping ?x=3)."""
    p = pair("probe-no-train")
    d, m = p.both("POST", p.predict.rstrip("/"), params={"x": "3"})
    assert d.status_code == 308, describe(d)
    assert d.headers["location"] == p.predict + "?x=3", d.headers
    d_slash = p.deepaas.post(p.predict, params={"x": "3"})
    assert m.status_code == 200, describe(m)
    assert body(m) == body(d_slash), f"{describe(d_slash)}\n{describe(m)}"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/models/no-such-model/"),
        ("POST", "/v2/models/no-such-model/predict/"),
        ("GET", "/v2/models/no-such-model/train/"),
        ("GET", "/no/such/path"),
    ],
)
def test_unknown_is_json_404(pair: PairFactory, method: str, path: str) -> None:
    """Documented improvement: DEEPaaS answers aiohttp's text/plain ``404: Not Found``."""
    d, m = pair("probe-no-train").both(method, path)
    assert d.text == "404: Not Found", describe(d)
    assert_json_error(m, 404, d, "JSON 404 instead of plain text")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/models/"),
        ("DELETE", "/v2/models/"),
        ("GET", "/v2/models/{m}/predict/"),
        ("PUT", "/v2/models/{m}/"),
    ],
)
def test_wrong_method_is_json_405(pair: PairFactory, method: str, path: str) -> None:
    """Documented improvement: DEEPaaS answers aiohttp's text/plain ``405: Method Not Allowed``."""
    p = pair("probe-no-train")
    d, m = p.both(method, path.format(m=p.model))
    assert d.text == "405: Method Not Allowed", describe(d)
    assert_json_error(m, 405, d, "JSON 405 instead of plain text")
