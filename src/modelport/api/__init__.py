"""HTTP edge: FastAPI app factory, routes, error mapping, OpenAPI/Swagger documents."""

from modelport.api.app import create_app

__all__ = ["create_app"]
