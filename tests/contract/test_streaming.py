"""A typed predict returning an iterator streams: items validated one by one, closed early."""

from __future__ import annotations

from pathlib import Path

import pytest
from mp_fixtures.streaming import AsyncCounter, Counter

from modelport.contract.typed import TypedModel
from modelport.errors import ModelError


def test_an_iterator_return_streams_its_items() -> None:
    served = TypedModel(Counter(), "test")
    assert served.streaming
    assert served.response_schema is not None
    assert served.response_schema["additionalProperties"] == {"type": "integer"}  # one item
    assert list(served.stream({"n": 3, "fail_at": -1, "gate": "", "log": "", "delay": 0})) == [
        b'{"i":0}',
        b'{"i":1}',
        b'{"i":2}',
    ]
    whole = served.predict({"n": 2, "fail_at": -1, "gate": "", "log": "", "delay": 0})
    assert whole.content == b'[{"i":0},{"i":1}]'  # called once (CLI, batch jobs): a JSON list


def test_a_failure_mid_stream_is_a_model_error(tmp_path: Path) -> None:
    log = tmp_path / "log"
    items = TypedModel(Counter(), "test").stream(
        {"n": 5, "fail_at": 2, "gate": "", "log": str(log), "delay": 0}
    )
    assert next(items) == b'{"i":0}'
    assert next(items) == b'{"i":1}'
    with pytest.raises(ModelError, match="asked to fail at 2") as failed:
        next(items)
    assert failed.value.error_type == "ValueError"
    assert log.read_text().splitlines() == ["item 0", "item 1", "closed"]


def test_closing_the_stream_closes_the_models_generator(tmp_path: Path) -> None:
    for model, args in ((Counter(), {"fail_at": -1, "gate": "", "delay": 0}), (AsyncCounter(), {})):
        log = tmp_path / f"{model.name}.log"
        items = TypedModel(model, "test").stream({"n": 100, "log": str(log), **args})
        next(items)
        next(items)
        items.close()
        assert log.read_text().splitlines() == ["item 0", "item 1", "closed"]


def test_an_async_generator_streams_too() -> None:
    served = TypedModel(AsyncCounter(), "test")
    assert served.streaming
    assert list(served.stream({"n": 3, "log": ""})) == [b"0", b"1", b"2"]
