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
