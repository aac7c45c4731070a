"""The API's documents: OpenAPI 3.1, Swagger 2.0, and Swagger UI served from packaged assets."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

from modelport import __version__
from modelport.api.landing import SWAGGER_UI_ROUTE
from modelport.api.openapi import COMPONENTS_REF, add_model_paths
from modelport.api.swagger2 import to_swagger2
from modelport.errors import NotFound, Unauthorized
from modelport.runtime import ModelRuntime
from modelport.settings import Settings

if TYPE_CHECKING:
    from modelport.catalog.service import CatalogService

STATIC_DIR = Path(__file__).parent / "static"
#: The selector's entry for the whole API (module names cannot hold a space or a colon).
PLATFORM_DOCUMENT: Final = "modelport: every route"
#: Which models' own documents Swagger UI offers to whoever asks.
ModelNames = Callable[[Request], Awaitable[list[str]]]

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


def served_model_names(runtime: ModelRuntime) -> ModelNames:
    """The models ``runtime`` serves (``modelport serve``)."""

    async def names(request: Request) -> list[str]:
        return [runner.name for runner in runtime]

    return names


def catalog_model_names(catalog: CatalogService) -> ModelNames:
    """The catalog modules the caller may see (the platform serves each on demand)."""
    from modelport.api.auth import current_principal

    async def names(request: Request) -> list[str]:
        try:
            principal = await current_principal(request)
        except Unauthorized:  # signed out: their documents would answer 401 anyway
            return []
        return await anyio.to_thread.run_sync(catalog.names, principal)

    return names


def swagger_ui_page(base: str, documents: list[dict[str, str]], primary: str | None) -> str:
    """Swagger UI (standalone layout: a selector of ``documents``), from packaged assets."""
    config: dict[str, Any] = {"urls": documents}
    if primary is not None:
        config["urls.primaryName"] = primary
    # JSON inside <script>: no "</script>" or "<!--" can end it early
    data = json.dumps(config).replace("<", "\\u003c").replace(">", "\\u003e")
    data = data.replace("&", "\\u0026")
    static = f"{base}/static"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>modelport API</title>
<link rel="stylesheet" href="{static}/swagger-ui/swagger-ui.css">
<link rel="icon" type="image/png" href="{static}/swagger-ui/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script id="swagger-config" type="application/json">{data}</script>
<script src="{static}/swagger-ui/swagger-ui-bundle.js"></script>
<script src="{static}/swagger-ui/swagger-ui-standalone-preset.js"></script>
<script src="{static}/swagger-init.js"></script>
</body>
</html>
"""


def docs_router(
    app: FastAPI, settings: Settings, model_names: ModelNames | None = None
) -> APIRouter:
    """OpenAPI and Swagger 2.0 documents; Swagger UI at ``/api`` and ``/docs``.

    Swagger UI offers the whole API's document and, from ``model_names``, each model's own
    (``/v2/models/{name}/openapi.json``: its real arguments); ``?urls.primaryName=<name>``
    opens one of them.
    """
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

    async def swagger_ui(request: Request) -> HTMLResponse:
        names = await model_names(request) if model_names is not None else []
        documents = [{"name": PLATFORM_DOCUMENT, "url": f"{base}/openapi.json"}]
        documents += [{"name": n, "url": f"{base}/v2/models/{n}/openapi.json"} for n in names]
        asked = request.query_params.get("urls.primaryName")
        primary = asked if asked in {d["name"] for d in documents} else None
        return HTMLResponse(swagger_ui_page(base, documents, primary))

    async def ui_redirect() -> RedirectResponse:
        return RedirectResponse(f"{base}/api", status_code=302)

    for path in ("/api", "/api/", "/docs", "/docs/"):
        name = SWAGGER_UI_ROUTE if path == "/api" else None
        router.add_api_route(
            f"{base}{path}", swagger_ui, methods=["GET"], name=name, include_in_schema=False
        )
    for path in ("/ui", "/ui/"):
        router.add_api_route(f"{base}{path}", ui_redirect, methods=["GET"], include_in_schema=False)
    app.mount(f"{base}/static", StaticFiles(directory=STATIC_DIR), name="static")
    return router
