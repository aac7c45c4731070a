"""What the platform's model routes need from a model server: process pool or Ray Serve."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from modelport.catalog.domain import VersionRecord
    from modelport.catalog.service import CatalogService
    from modelport.contract.base import PreparedTraining, RawArgs
    from modelport.gateway.metrics import GatewayMetrics
    from modelport.gateway.process import GatewayResponse, WorkerInfo
    from modelport.gateway.records import CatalogRecords
    from modelport.settings import Settings


class ModelServer(Protocol):
    """Serves catalog module versions on demand (``ModelPool``, ``RayServePool``)."""

    settings: Settings
    catalog: CatalogService
    records: CatalogRecords
    metrics: GatewayMetrics

    async def resolve(self, module: str, ref: str = "latest") -> VersionRecord:
        """The version a reference names; NotFound if unknown."""

    async def call(
        self,
        module: str,
        ref: str,
        scope: Mapping[str, Any],
        receive_body: AsyncIterable[bytes],
    ) -> GatewayResponse:
        """Proxy one HTTP request to the module version's model."""

    async def prepare_train(
        self, module: str, ref: str, raw: RawArgs
    ) -> tuple[VersionRecord, PreparedTraining]:
        """Validate training arguments with the module's own code."""

    def loaded(self) -> list[WorkerInfo]:
        """What is loaded now."""

    async def close(self) -> None:
        """Unload everything."""
