"""Adaptive batching in the typed contract: ``@modelport.batch`` on a vectorised ``predict``.

A batched ``predict`` receives each argument as a list, one element per request, and returns a
list of results in the same order::

    class Mlp(Model):
        @batch(max_size=64, max_wait_ms=5)
        def predict(self, x: list[list[float]]) -> list[list[float]]:
            return self.net(np.asarray(x)).tolist()

Its annotations describe the batch (each argument ``list[T]``, the return ``list[R]``); the
per-request API, schema and documents say ``T`` -> ``R``, so a caller cannot tell a batched
model from an unbatched one. The runtime (``runtime/batching.py``) coalesces concurrent requests
for the model and calls ``predict`` once per batch; this module says what a batch is and how
its results are split back: an element that is an exception fails that request only, and a
``predict`` that raises for a batch of several is called again for each request alone, so that
one bad request fails alone (its neighbours are answered, at the cost of the retries).
"""

from __future__ import annotations

import collections.abc
import traceback
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, get_args, get_origin

from modelport.errors import InvalidInput, InvalidOutput, ModelError, ModelLoadError

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute ``@batch`` sets on the function it decorates.
BATCH_ATTRIBUTE = "__modelport_batch__"
_LISTS = (list, collections.abc.Sequence, collections.abc.MutableSequence)


@dataclass(frozen=True)
class BatchPolicy:
    """How many requests one call may take, how long the first may wait for others, and how
    many batches run at once."""

    max_size: int = 64
    max_wait_ms: float = 5.0
    #: batches running at once (at most the server's ``predict_concurrency``); one by default:
    #: the next batch forms while one runs, so a loaded model gets full batches rather than
    #: several small ones sharing the cores and re-reading the weights
    concurrency: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.max_size, int) or isinstance(self.max_size, bool):
            raise TypeError("batch: max_size must be an int")
        if self.max_size < 1:
            raise ValueError(f"batch: max_size must be at least 1, not {self.max_size}")
        if not 0 <= self.max_wait_ms <= 60_000:
            raise ValueError(f"batch: max_wait_ms must be 0..60000, not {self.max_wait_ms}")
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ValueError(f"batch: concurrency must be an int of at least 1: {self.concurrency}")

    @property
    def max_wait(self) -> float:
        """``max_wait_ms`` in seconds."""
        return self.max_wait_ms / 1000.0


def batch(max_size: int = 64, max_wait_ms: float = 5.0, concurrency: int = 1) -> Callable[[F], F]:
    """Mark a typed model's ``predict`` as vectorised: concurrent requests are merged into one
    call of up to ``max_size`` requests, dispatched when full or ``max_wait_ms`` after the first
    request of the batch arrived (at once when ``max_wait_ms`` is 0), ``concurrency`` batches at
    a time (at most the server's ``predict_concurrency``)."""
    policy = BatchPolicy(max_size, max_wait_ms, concurrency)

    def mark(func: F) -> F:
        setattr(func, BATCH_ATTRIBUTE, policy)
        return func

    return mark


def batch_policy(func: Any) -> BatchPolicy | None:
    """The policy ``@batch`` put on ``func`` (a bound method reads its function's), if any."""
    policy = getattr(func, BATCH_ATTRIBUTE, None)
    return policy if isinstance(policy, BatchPolicy) else None


def element_type(hint: Any, where: str) -> Any:
    """``T`` of a batched ``list[T]`` annotation; ModelLoadError naming ``where`` otherwise."""
    if hint is typing.Any or hint is list:
        return typing.Any
    origin = get_origin(hint)
    if origin is typing.Annotated:
        return element_type(get_args(hint)[0], where)
    if origin in _LISTS:
        args = get_args(hint)
        return args[0] if args else typing.Any
    raise ModelLoadError(
        f"{where}: a batched predict takes and returns lists, one element per request "
        f"(e.g. list[float]), not {hint!r}"
    )


def call_batch(
    predict: Callable[..., Any], items: Sequence[dict[str, Any]], names: Sequence[str]
) -> list[Any | Exception]:
    """Call a batched ``predict`` on ``items`` (each a request's keyword arguments); one value,
    or the exception that request fails with, per item, in order."""
    columns = {name: [item[name] for item in items] for name in names}
    try:
        results = predict(**columns)
    except Exception as exc:
        if len(items) > 1:  # find who is at fault: each request alone
            return [call_batch(predict, [item], names)[0] for item in items]
        return [_failure(exc)]
    if not isinstance(results, list | tuple) or len(results) != len(items):
        got = f"{len(results)} results" if isinstance(results, list | tuple) else repr(results)
        wrong = InvalidOutput(
            f"the model's batched predict returned {got[:200]} for {len(items)} requests: "
            "it must return a list of one result per request, in order"
        )
        return [wrong] * len(items)
    return [_failure(r) if isinstance(r, Exception) else r for r in results]


def _failure(exc: Exception) -> Exception:
    """What a request fails with when the model's code raised (or returned) ``exc``."""
    if isinstance(exc, InvalidInput):
        return exc
    details = "".join(traceback.format_exception(exc)) if exc.__traceback__ else None
    return ModelError.raised(exc, details)
