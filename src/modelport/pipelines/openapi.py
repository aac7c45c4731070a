"""A published pipeline's own OpenAPI document: its predict route, taking what its ``$input``
references feed (multipart/form-data when it takes files, else JSON) and answering what its
output mapping makes."""

from __future__ import annotations

from typing import Any

from modelport.pipelines.links import Derived

_FAILED = {
    "description": "A step failed (the message names it)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["message", "step"],
                "properties": {
                    "message": {"type": "string"},
                    "step": {"type": "string", "description": "the step that failed"},
                    "item": {"type": "integer", "description": "a fan-out's item"},
                    "module": {"type": "string"},
                    "version": {"type": "string"},
                    "step_status": {"type": "integer", "description": "what the step answered"},
                    "detail": {"description": "the step's own error answer"},
                },
            }
        }
    },
}


def pipeline_openapi(
    name: str, version: str, derived: Derived, *, title: str, summary: str, base: str
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of pipeline ``name`` ``version``."""
    media = "multipart/form-data" if derived.takes_files else "application/json"
    operation = {
        "summary": f"Run the pipeline {name}",
        "description": summary,
        "operationId": f"predict_{name}".replace("-", "_").replace(".", "_"),
        "tags": ["pipelines"],
        "requestBody": {"required": True, "content": {media: {"schema": derived.inputs}}},
        "responses": {
            "200": {
                "description": "The pipeline's answer (Server-Timing names each step's time)",
                "content": {"application/json": {"schema": derived.output}},
            },
            "422": {"description": "Invalid arguments, or a step refused what it was given"},
            "502": _FAILED,
            "503": {"description": "A step's module cannot answer now"},
            "504": {"description": "A step did not answer in time"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": summary},
        "paths": {f"{base}/v2/models/{name}/predict/": {"post": operation}},
    }
