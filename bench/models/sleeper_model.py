"""A typed model whose training holds its resources (a GPU, say) for ``seconds`` without
using a CPU: the cluster benchmark's job (bench/cluster.py), so that 8 concurrent jobs on a
2-core machine measure scheduling, not CPU contention."""

import time

from modelport import Field, Model, TrainContext


class Sleeper(Model):
    """Predicts nothing useful; trains by waiting."""

    name = "sleeper"

    def predict(self, x: int = Field(0)) -> int:
        return x

    def train(
        self, ctx: TrainContext, seconds: float = Field(1.0, ge=0, le=600)
    ) -> dict[str, float]:
        ctx.report(progress=0.0, message="holding its resources")  # when it really starts
        time.sleep(seconds)
        return {"slept": seconds}
