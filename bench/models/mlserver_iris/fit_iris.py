"""Fit the iris classifier modelport's example fits and save it for MLServer with joblib.

    /tmp/bench-mlserver/bin/python bench/models/mlserver_iris/fit_iris.py OUT/model.joblib

The same data and estimator as ``modelport.examples.iris._fit``: scikit-learn's bundled Iris
dataset and ``LogisticRegression(max_iter=1000)`` (deterministic: lbfgs, no random state used).
Fitted at run time because a joblib pickle is tied to the scikit-learn version that wrote it.
"""

import sys

import joblib
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

data = load_iris()
joblib.dump(LogisticRegression(max_iter=1000).fit(data.data, data.target), sys.argv[1])
