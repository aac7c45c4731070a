"""The Ray Serve application of modelport models: ``import_path: modelport.deploy.ray_app:build``.

``build(args)`` is a Serve application builder: ``serve run config.yaml`` (or ``serve deploy``)
calls it with the application's ``args``::

    models: [iris]              # entry-point names or import paths, installed on the cluster
    settings: {predict_timeout: 30}   # modelport Settings for the replicas (optional)

Each replica builds the same ASGI app ``modelport serve`` runs (DEEPaaS v2 routes, OpenAPI,
health, metrics), loading and warming the models in the replica, and Serve's HTTP proxy sends it
every request under the application's ``route_prefix`` (FastAPI ingress).
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, Field

#: The deployment's name; a config's ``deployments:`` entries override its options by this name.
DEPLOYMENT_NAME: Final = "modelport"


class AppArgs(BaseModel):
    """The ``args`` of the application in a Serve config."""

    models: list[str] = Field(min_length=1, description="Entry-point names or import paths")
    settings: dict[str, Any] = Field(default_factory=dict, description="modelport Settings")


def build_asgi_app(models: list[str], settings: dict[str, Any]) -> Any:
    """The modelport ASGI app serving ``models`` (warmed by its lifespan, in the replica)."""
    from modelport.apps.model import model_app
    from modelport.contract import discovery
    from modelport.settings import Settings

    return model_app(Settings(**settings), [discovery.load(spec) for spec in models])


def build(args: dict[str, Any]) -> Any:
    """Serve application builder: one ingress deployment running the modelport app."""
    from ray import serve

    parsed = AppArgs.model_validate(args)

    def asgi_app() -> Any:  # evaluated in each replica, not in the driver
        return build_asgi_app(parsed.models, parsed.settings)

    ingress = serve.ingress(asgi_app)()
    return serve.deployment(name=DEPLOYMENT_NAME)(ingress).bind()
