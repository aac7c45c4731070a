"""The :class:`Client` facade: one object over a server's areas, sharing one transport."""

from __future__ import annotations

from types import TracebackType

import httpx

from modelport.client.catalog import CatalogCalls
from modelport.client.data import DataCalls
from modelport.client.jobs import JobCalls
from modelport.client.pipelines import PipelineCalls
from modelport.client.rollouts import RolloutCalls
from modelport.client.serving import ServingCalls
from modelport.client.transport import Transport


class Client(ServingCalls, JobCalls, CatalogCalls, RolloutCalls, PipelineCalls, DataCalls):
    """A modelport server: models and predictions, training jobs, the Open Catalog, its
    rollouts and pipelines."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 60,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._transport = Transport(self.url, token, timeout, transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._transport.close()

    def __repr__(self) -> str:
        return f"Client({self.url!r})"
