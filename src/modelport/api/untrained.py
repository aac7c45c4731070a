"""The DEEPaaS training routes of a server whose models cannot train (so it has no job store).

Kept apart from :mod:`modelport.api.training` so that serving such models never imports the job
stack. As DEEPaaS 2.6: POST answers 501, the list ``[]``, a training uuid 404.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from modelport.contract.base import not_implemented
from modelport.errors import NotFound, NotImplementedByModel
from modelport.runtime import ModelRuntime
from modelport.settings import Settings


def untrained_router(runtime: ModelRuntime, settings: Settings) -> APIRouter:
    """POST 501, list ``[]``, a uuid 404 (an unknown model 404 everywhere)."""
    router = APIRouter(tags=["training (DEEPaaS v2)"])
    base = f"{settings.base_path}/v2/models/{{name}}/train"

    async def train(name: str) -> None:
        raise NotImplementedByModel(not_implemented(runtime.get(name).model.name))

    async def list_trainings(name: str) -> list[dict[str, Any]]:
        runtime.get(name)
        return []

    async def no_training(name: str, uuid: str) -> None:
        runtime.get(name)
        raise NotFound(f"training '{uuid}' not found")

    hidden: dict[str, Any] = {"include_in_schema": False, "response_model": None}
    for path in (base, f"{base}/"):
        router.add_api_route(path, train, methods=["POST"], **hidden)
        router.add_api_route(path, list_trainings, methods=["GET"], **hidden)
    for path in (f"{base}/{{uuid}}", f"{base}/{{uuid}}/"):
        router.add_api_route(path, no_training, methods=["GET", "DELETE"], **hidden)
    return router
