"""Training routes, side by side: POST, GET list, GET/DELETE one, modules without train.

DEEPaaS 2.6.0 keeps trainings in memory; DELETE pops the entry (so a later GET
is 404 and the list no longer shows it) and answers the training object; for a
*finished* training that is a 200 with ``status: done``, for a *running* one
it is a plain-text 500 (its CancellablePool swallows the CancelledError).
Both servers of a pair always get the same requests, so their lists match.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from .conftest import (
    Pair,
    PairFactory,
    assert_json_error,
    assert_same,
    body,
    describe,
    is_json,
    wait_training,
)

pytestmark = pytest.mark.slow

# a valid train request per model (the training takes 0.1 s at most)
TRAINABLE: dict[str, dict[str, Any]] = {
    "probe-upload-isinstance": {"params": {"epoch_num": "1"}},
    "probe-accept-header-required": {
        "params": {"input_file": "demo"},
        "headers": {"Accept": "application/json"},
    },
    "deepaas-test": {"params": {"sleep": "0"}},
}
# a training that runs for 30 s unless cancelled
LONG: dict[str, dict[str, Any]] = {
    "probe-upload-isinstance": {"params": {"epoch_num": "300"}},
    "deepaas-test": {"params": {"sleep": "30"}},
}


def _settle(p: Pair, timeout: float = 30.0) -> None:
    """Wait until neither server lists a running training."""
    for client in (p.deepaas, p.modelport):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resp = client.get(p.train)
            if not is_json(resp) or not isinstance(resp.json(), list):
                break
            if all(t.get("status") != "running" for t in resp.json()):
                break
            time.sleep(0.05)


def _start(p: Pair, kwargs: dict[str, Any]) -> tuple[httpx.Response, httpx.Response]:
    d, m = p.both("POST", p.train, **kwargs)
    assert d.status_code == 200, describe(d)
    assert_same(d, m, what="POST train")
    return d, m


@pytest.mark.parametrize("model", list(TRAINABLE))
def test_train_post_then_get_finished(pair: PairFactory, model: str) -> None:
    p = pair(model)
    d, m = _start(p, TRAINABLE[model])
    assert d.json()["status"] == "running", describe(d)
    d_done = wait_training(p.deepaas, p.train + d.json()["uuid"])
    m_done = wait_training(p.modelport, p.train + m.json()["uuid"], timeout=30)
    assert d_done.json()["status"] == "done", describe(d_done)
    assert_same(d_done, m_done, what="GET train/{uuid} once finished")


@pytest.mark.parametrize(
    ("model", "kwargs"),
    [
        ("probe-upload-isinstance", {"params": {"epoch_num": "abc"}}),
        ("probe-accept-header-required", {"params": {"input_file": "nope", "epochs": "0"}}),
        ("probe-accept-header-required", {"json": {"input_file": 5}}),
        ("deepaas-test", {}),
        ("deepaas-test", {"params": {"sleep": "x", "parameter_two": "y"}}),
    ],
)
def test_train_invalid_422(pair: PairFactory, model: str, kwargs: dict[str, Any]) -> None:
    p = pair(model)
    d, m = p.both("POST", p.train, **kwargs)
    assert d.status_code == 422, describe(d)
    assert_same(d, m)


@pytest.mark.parametrize("model", list(TRAINABLE))
def test_train_list_identical(pair: PairFactory, model: str) -> None:
    """A bare JSON list of every training of the session, in start order."""
    p = pair(model)
    _start(p, TRAINABLE[model])
    _settle(p)
    d, m = p.both("GET", p.train)
    assert isinstance(d.json(), list), describe(d)
    assert_same(d, m)


@pytest.mark.parametrize("model", list(LONG))
def test_delete_finished_training(pair: PairFactory, model: str) -> None:
    p = pair(model)
    d, m = _start(p, TRAINABLE[model])
    d_path, m_path = p.train + d.json()["uuid"], p.train + m.json()["uuid"]
    wait_training(p.deepaas, d_path)
    wait_training(p.modelport, m_path, timeout=30)

    d_del, m_del = p.deepaas.delete(d_path), p.modelport.delete(m_path)
    assert d_del.status_code == 200, describe(d_del)
    assert d_del.json()["status"] == "done", describe(d_del)
    assert_same(d_del, m_del, what="DELETE of a finished training")

    d_get, m_get = p.deepaas.get(d_path), p.modelport.get(m_path)
    assert_json_error(m_get, 404, d_get, "GET of a deleted training: 404 (JSON)")

    _settle(p)
    d_list, m_list = p.both("GET", p.train)
    assert d.json()["uuid"] not in {t["uuid"] for t in d_list.json()}, describe(d_list)
    assert_same(d_list, m_list, what="list after DELETE")


@pytest.mark.parametrize("model", list(LONG))
def test_delete_running_training(pair: PairFactory, model: str) -> None:
    """Documented improvement: DEEPaaS answers a plain-text 500, modelport 200 JSON ``cancelled``.

    The rest must match: the training is gone afterwards (GET 404, not listed).
    """
    p = pair(model)
    d, m = _start(p, LONG[model])
    d_path, m_path = p.train + d.json()["uuid"], p.train + m.json()["uuid"]
    time.sleep(0.3)  # let both actually start
    d_del, m_del = p.deepaas.delete(d_path), p.modelport.delete(m_path)
    assert d_del.status_code == 500, describe(d_del)
    assert "Server got itself in trouble" in d_del.text, describe(d_del)
    assert m_del.status_code == 200, describe(m_del)
    assert is_json(m_del), describe(m_del)
    got = m_del.json()
    assert got.get("status") == "cancelled", describe(m_del)
    assert got.get("uuid") == m.json()["uuid"], describe(m_del)
    assert body(m_del)["args"] == body(d)["args"], describe(m_del)

    d_get, m_get = p.deepaas.get(d_path), p.modelport.get(m_path)
    assert_json_error(m_get, 404, d_get, "GET of a cancelled (deleted) training: 404")
    _settle(p)
    d_list, m_list = p.both("GET", p.train)
    assert_same(d_list, m_list, what="list after DELETE of a running training")


def test_delete_unknown_training(pair: PairFactory) -> None:
    p = pair("deepaas-test")
    d, m = p.both("DELETE", p.train + "0123456789abcdef0123456789abcdef")
    assert_json_error(m, 404, d, "DELETE of an unknown training: JSON 404")


# --------------------------------------------------------------------------- no train


@pytest.mark.parametrize("model", ["probe-no-train", "probe-metadata-only"])
def test_train_list_without_train(pair: PairFactory, model: str) -> None:
    """DEEPaaS keeps every train route for a module without train: the list is ``[]``."""
    p = pair(model)
    d, m = p.both("GET", p.train)
    assert (d.status_code, d.json()) == (200, []), describe(d)
    assert_same(d, m)


@pytest.mark.parametrize("model", ["probe-no-train", "probe-metadata-only"])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_train_uuid_without_train(pair: PairFactory, model: str, method: str) -> None:
    p = pair(model)
    d, m = p.both(method, p.train + "0123456789abcdef0123456789abcdef")
    assert_json_error(m, 404, d, "unknown training on a module without train: JSON 404")
