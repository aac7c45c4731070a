"""Typed models the gateway tests publish into a catalog (loaded by worker processes)."""

from __future__ import annotations

import os

from modelport import Model


class Answer(Model):
    """Answer with the text of its version's ``answer.txt`` artifact."""

    name = "answer"

    def warm(self) -> None:
        self.text = self.artifact("answer.txt").read_text()

    def predict(self) -> dict[str, str]:
        return {"answer": self.text, "model_dir": os.environ["MODELPORT_MODEL_DIR"]}


class Double(Model):
    """Double a number (a rollout's primary)."""

    name = "double"

    def predict(self, x: int = 1) -> dict[str, int]:
        return {"y": 2 * x}


class DoubleToo(Model):
    """Double a number too, another way (a canary or shadow that agrees with ``Double``)."""

    name = "double-too"

    def predict(self, x: int = 1) -> dict[str, int]:
        return {"y": x + x}


class Triple(Model):
    """Triple a number (a shadow that disagrees with ``Double``)."""

    name = "triple"

    def predict(self, x: int = 1) -> dict[str, int]:
        return {"y": 3 * x}


class Faulty(Model):
    """Fail every prediction (a canary with an injected fault: 500)."""

    name = "faulty"

    def predict(self, x: int = 1) -> dict[str, int]:
        raise RuntimeError("an injected fault")
