"""The bundled example: a real classifier, fitted on first use and cached."""

from __future__ import annotations

import json
import os
from pathlib import Path

from modelport.contract import discovery
from modelport.contract.base import RawArgs
from modelport.examples.iris import _cache_file


def test_iris_classifies_known_flowers() -> None:
    model = discovery.load("iris")
    model.warm()
    assert _cache_file().exists()
    assert str(_cache_file()).startswith(os.environ["MODELPORT_DATA_DIR"])
    cases = {
        "setosa": {
            "sepal_length": 5.1,
            "sepal_width": 3.5,
            "petal_length": 1.4,
            "petal_width": 0.2,
        },
        "versicolor": {
            "sepal_length": 6.4,
            "sepal_width": 3.2,
            "petal_length": 4.5,
            "petal_width": 1.5,
        },
        "virginica": {
            "sepal_length": 6.3,
            "sepal_width": 3.3,
            "petal_length": 6.0,
            "petal_width": 2.5,
        },
    }
    for expected, flower in cases.items():
        result = json.loads(
            model.predict(model.prepare(RawArgs(json={**flower, "top_k": 2}))).content
        )
        assert len(result) == 2
        assert result[0]["label"] == expected
        assert result[0]["probability"] > 0.5
        assert result[0]["probability"] >= result[1]["probability"]


def test_second_warm_reads_the_cache_without_refitting() -> None:
    model = discovery.load("iris")
    model.warm()
    cache = Path(_cache_file())
    params = json.loads(cache.read_text())
    assert params["train_accuracy"] > 0.9
    params["classes"] = ["a", "b", "c"]  # a changed cache shows it is what gets loaded
    cache.write_text(json.dumps(params))
    try:
        again = discovery.load("iris")
        again.warm()
        result = json.loads(
            again.predict(
                again.prepare(
                    RawArgs(
                        json={
                            "sepal_length": 5.1,
                            "sepal_width": 3.5,
                            "petal_length": 1.4,
                            "petal_width": 0.2,
                        }
                    )
                )
            ).content
        )
        assert result[0]["label"] == "a"
    finally:
        cache.unlink()
