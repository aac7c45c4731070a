"""@batch in the typed contract: per-request signatures, splitting results, isolating failures."""

from __future__ import annotations

import pytest
from mp_fixtures.batched import Mlp, Tally

from modelport import Model, batch
from modelport.contract.base import RawArgs
from modelport.contract.typed import TypedModel
from modelport.errors import InvalidInput, InvalidOutput, ModelError, ModelLoadError


def test_a_batched_predict_is_described_per_request() -> None:
    served = TypedModel(Mlp(), "test")
    assert served.batch is not None
    assert served.batch.max_size == 64
    x = served.predict_signature.properties["x"]
    assert x["type"] == "array"
    assert x["items"] == {"type": "number"}
    assert served.response_schema == {"type": "array", "items": {"type": "number"}}
    tally = TypedModel(Tally(), "test")
    assert tally.predict_signature.properties["n"]["type"] == "integer"
    assert tally.prepare(RawArgs(json={"n": 3})) == {"n": 3, "delay": 0.0}
    with pytest.raises(InvalidInput) as bad:
        tally.prepare(RawArgs(json={"n": "three"}))
    assert list(bad.value.errors) == ["n"]


def test_batch_arguments_and_return_must_be_lists() -> None:
    class Scalar(Model):
        @batch()
        def predict(self, x: float) -> list[float]:
            return [x]

    class ScalarOut(Model):
        @batch()
        def predict(self, x: list[float]) -> float:
            return x[0]

    class Accepting(Model):
        @batch()
        def predict(self, x: list[float], accept: list[str]) -> list[float]:
            return x

    with pytest.raises(ModelLoadError, match=r"scalar\.predict\(x\).*lists.*not <class 'float'>"):
        TypedModel(Scalar(), "test")
    with pytest.raises(ModelLoadError, match="its return"):
        TypedModel(ScalarOut(), "test")
    with pytest.raises(ModelLoadError, match="cannot take 'accept'"):
        TypedModel(Accepting(), "test")
    with pytest.raises(ValueError, match="at least 1"):
        batch(max_size=0)
    with pytest.raises(ValueError, match="max_wait_ms"):
        batch(max_wait_ms=-1)


def test_results_are_split_back_in_order_and_a_failure_stays_with_its_request() -> None:
    model = Tally()
    served = TypedModel(model, "test")
    answers = served.predict_batch(
        [{"n": 1, "delay": 0}, {"n": -1, "delay": 0}, {"n": 3, "delay": 0}]
    )
    assert [a.content if not isinstance(a, Exception) else a for a in answers][0::2] == [b"2", b"6"]
    assert isinstance(answers[1], ModelError)
    assert answers[1].error_type == "ValueError"
    assert model.batches == [[1, -1, 3]]  # one call

    model.batches.clear()
    answers = served.predict_batch(
        [{"n": 2, "delay": 0}, {"n": 13, "delay": 0}, {"n": 4, "delay": 0}]
    )
    assert isinstance(answers[1], ModelError)
    assert "13 is not allowed" in answers[1].message
    assert [answers[0].content, answers[2].content] == [b"4", b"8"]  # type: ignore[union-attr]
    assert model.batches == [[2, 13, 4], [2], [13], [4]]  # the batch raised: each alone


def test_a_batched_model_called_alone_is_a_batch_of_one() -> None:
    served = TypedModel(Tally(), "test")
    assert served.predict({"n": 21, "delay": 0}).content == b"42"
    with pytest.raises(ModelError, match="negative"):
        served.predict({"n": -5, "delay": 0})


def test_a_batch_returning_the_wrong_number_of_results_fails_every_request() -> None:
    class Short(Model):
        @batch()
        def predict(self, x: list[int]) -> list[int]:
            return x[:1]

    answers = TypedModel(Short(), "test").predict_batch([{"x": 1}, {"x": 2}])
    assert all(isinstance(a, InvalidOutput) for a in answers)
    assert "returned 1 results for 2 requests" in str(answers[0])
