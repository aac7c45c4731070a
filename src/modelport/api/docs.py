"""The API's documents: OpenAPI 3.1, Swagger 2.0, and Swagger UI served from packaged assets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from modelport import __version__
from modelport.api.openapi import COMPONENTS_REF, add_model_paths
from modelport.api.swagger2 import to_swagger2
from modelport.errors import NotFound
from modelport.runtime import ModelRuntime
from modelport.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"

DESCRIPTION = """\
Models served by modelport behind the DEEPaaS v2 API.

`GET /v2/models/` lists the models; `POST /v2/models/{name}/predict/` runs one. Arguments go in
the query string, a form, multipart/form-data (files) or a JSON object body. Errors are JSON:
`{"field": ["message"]}` for invalid arguments (422), `{"message": "..."}` otherwise.
"""


def install_openapi(app: FastAPI, runtime: ModelRuntime, settings: Settings) -> None:
    """Make ``app.openapi()`` return the full 3.1 document, model routes included."""
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if "spec" not in cache:
            spec = get_openapi(
                title="modelport",
                version=__version__,
                description=DESCRIPTION,
                routes=app.routes,
                tags=[
                    {"name": "versions", "description": "API versions"},
                    {"name": "models", "description": "Served models: metadata and predictions"},
                    {"name": "training (DEEPaaS v2)", "description": "DEEPaaS training routes"},
                    {"name": "jobs", "description": "Training jobs: follow, cancel, retry"},
                    {"name": "operations", "description": "Health and metrics"},
                    {"name": "catalog", "description": "The Open Catalog"},
                    {"name": "catalog models", "description": "Catalog modules served on demand"},
                    {"name": "auth", "description": "Who you are, API tokens, browser sign-in"},
                ],
            )
            cache["spec"] = add_model_paths(spec, [r.model for r in runtime], settings.base_path)
            if settings.auth != "off":
                add_security(cache["spec"])
        spec_doc: dict[str, Any] = cache["spec"]
        return spec_doc

    app.openapi = openapi  # type: ignore[method-assign]


SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An OIDC access token of a trusted issuer, or a modelport API token "
        "(mp_...) from POST /auth/tokens",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "modelport_session",
        "description": "The dashboard's session after browser sign-in (/auth/login)",
    },
}


def add_security(spec: dict[str, Any]) -> None:
    """Declare the credentials every route needs once sign-in is on (the open ones excepted)."""
    spec.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    spec["security"] = [{"bearer": []}, {"session": []}]


def model_openapi(spec: dict[str, Any], name: str, base_path: str) -> dict[str, Any]:
    """``spec`` restricted to one model's paths and the components they use; NotFound if none."""
    prefix = f"{base_path}/v2/models/{name}/"
    paths = {p: op for p, op in spec.get("paths", {}).items() if p.startswith(prefix)}
    if not paths:
        raise NotFound(f"model '{name}' is not served here")
    schemas = spec.get("components", {}).get("schemas", {})
    used: dict[str, Any] = {}
    pending = [paths]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(COMPONENTS_REF):
                key = ref.removeprefix(COMPONENTS_REF)
                if key not in used and key in schemas:
                    used[key] = schemas[key]
                    pending.append(schemas[key])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return {
        **{k: v for k, v in spec.items() if k not in ("paths", "components", "tags")},
        "info": {**spec.get("info", {}), "title": f"modelport: {name}"},
        "paths": paths,
        "components": {"schemas": used},
    }


def docs_router(app: FastAPI, settings: Settings) -> APIRouter:
    """OpenAPI and Swagger 2.0 documents; Swagger UI at ``/api`` and ``/docs``."""
    router = APIRouter()
    base = settings.base_path
    cache: dict[str, Any] = {}

    async def openapi_json() -> JSONResponse:
        return JSONResponse(app.openapi())

    async def swagger_json() -> JSONResponse:
        if "v2" not in cache:
            cache["v2"] = to_swagger2(app.openapi())
        return JSONResponse(cache["v2"])

    router.add_api_route(
        f"{base}/openapi.json", openapi_json, methods=["GET"], include_in_schema=False
    )
    router.add_api_route(
        f"{base}/swagger.json", swagger_json, methods=["GET"], include_in_schema=False
    )

    async def one_model_openapi(name: str) -> JSONResponse:
        return JSONResponse(model_openapi(app.openapi(), name, base))

    router.add_api_route(
        f"{base}/v2/models/{{name}}/openapi.json",
        one_model_openapi,
        methods=["GET"],
        include_in_schema=False,
    )
    if not settings.docs:
        return router

    async def swagger_ui() -> HTMLResponse:
        static = f"{base}/static/swagger-ui"
        return get_swagger_ui_html(
            openapi_url=f"{base}/openapi.json",
            title="modelport API",
            swagger_js_url=f"{static}/swagger-ui-bundle.js",
            swagger_css_url=f"{static}/swagger-ui.css",
            swagger_favicon_url=f"{static}/favicon-32x32.png",
        )

    async def ui_redirect() -> RedirectResponse:
        return RedirectResponse(f"{base}/api", status_code=302)

    for path in ("/api", "/api/", "/docs", "/docs/"):
        router.add_api_route(f"{base}{path}", swagger_ui, methods=["GET"], include_in_schema=False)
    for path in ("/ui", "/ui/"):
        router.add_api_route(f"{base}{path}", ui_redirect, methods=["GET"], include_in_schema=False)
    app.mount(f"{base}/static", StaticFiles(directory=STATIC_DIR), name="static")
    return router
