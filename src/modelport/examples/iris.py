"""Iris species from flower measurements: a real classifier behind the typed contract.

At first use it fits a multinomial logistic regression on the Iris dataset that scikit-learn
ships (no download) and caches the fitted coefficients as JSON in the data directory; later
starts load them without importing scikit-learn. Predictions are the softmax of the linear
scores, exactly what the fitted model's ``predict_proba`` computes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from modelport import Field, Model
from modelport.settings import default_data_dir

_CACHE_VERSION = 1


class Species(BaseModel):
    """One candidate species and its probability."""

    label: str
    probability: float


def _cache_file() -> Path:
    root = Path(os.environ.get("MODELPORT_DATA_DIR") or default_data_dir())
    return root / "examples" / f"iris-logreg-v{_CACHE_VERSION}.json"


def _fit() -> dict[str, Any]:
    try:
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise RuntimeError(
            "the iris example needs scikit-learn: pip install 'modelport[examples]'"
        ) from exc
    data = load_iris()
    clf = LogisticRegression(max_iter=1000).fit(data.data, data.target)
    return {
        "classes": [str(n) for n in data.target_names],
        "coef": clf.coef_.tolist(),
        "intercept": clf.intercept_.tolist(),
        "train_accuracy": float(clf.score(data.data, data.target)),
    }


class IrisClassifier(Model):
    """Identify an iris species (setosa, versicolor, virginica) from four flower measurements in cm.

    A multinomial logistic regression fitted on Fisher's Iris dataset (150 flowers).
    """

    name = "iris"
    version = "1.0.0"
    license = "Apache-2.0"
    authors = ["modelport developers"]
    links = {"dataset": "https://archive.ics.uci.edu/dataset/53/iris"}

    def warm(self) -> None:
        """Load the cached coefficients, fitting and caching them on first use."""
        import numpy as np

        cache = _cache_file()
        if cache.exists():
            params = json.loads(cache.read_text())
        else:
            params = _fit()
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps(params))
            tmp.replace(cache)  # atomic: a concurrent start never reads half a file
        self.classes: list[str] = params["classes"]
        self.coef = np.asarray(params["coef"])
        self.intercept = np.asarray(params["intercept"])

    def predict(
        self,
        sepal_length: float = Field(ge=0, le=20, description="Sepal length in cm", examples=[5.1]),
        sepal_width: float = Field(ge=0, le=20, description="Sepal width in cm", examples=[3.5]),
        petal_length: float = Field(ge=0, le=20, description="Petal length in cm", examples=[1.4]),
        petal_width: float = Field(ge=0, le=20, description="Petal width in cm", examples=[0.2]),
        top_k: int = Field(3, ge=1, le=3, description="How many species to return"),
    ) -> list[Species]:
        """The ``top_k`` most likely species, most likely first."""
        import numpy as np

        x = np.array([sepal_length, sepal_width, petal_length, petal_width])
        scores = self.coef @ x + self.intercept
        probs = np.exp(scores - scores.max())
        probs /= probs.sum()
        order = np.argsort(probs)[::-1][:top_k]
        return [
            Species(label=self.classes[i], probability=round(float(probs[i]), 6)) for i in order
        ]
