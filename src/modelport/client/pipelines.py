"""The client's pipelines: ``/pipelines/...`` (see ``api/pipelines.py``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelport.client.transport import Transport, segment


def _body(document: str | Mapping[str, Any]) -> dict[str, Any]:
    """A document as a request: YAML/JSON text as it is, a mapping as JSON."""
    if isinstance(document, str):
        return {"content": document.encode(), "headers": {"Content-Type": "application/yaml"}}
    return {"json": dict(document)}


class PipelineCalls:
    """Check, try and publish pipeline documents (a part of :class:`Client`); each answers the
    server's JSON. A document is YAML or JSON text, or a mapping."""

    _transport: Transport

    def check_pipeline(self, document: str | Mapping[str, Any]) -> dict[str, Any]:
        """Check a document against its steps: what it takes and answers (InvalidInput naming
        every problem by where it is)."""
        return self._transport.document("POST", "/pipelines/check", **_body(document))

    def publish_pipeline(self, document: str | Mapping[str, Any]) -> dict[str, Any]:
        """Check and publish a document as a catalog version; the version record."""
        return self._transport.document("POST", "/pipelines", **_body(document))

    def try_pipeline(
        self,
        document: str | Mapping[str, Any],
        inputs: Mapping[str, Any] | None = None,
        files: Mapping[str, str | Path] | None = None,
    ) -> Any:
        """Run a document without publishing it; its answer (JSON decoded, else bytes)."""
        text = document if isinstance(document, str) else json.dumps(dict(document))
        if files:
            data = {
                k: v if isinstance(v, str) else json.dumps(v) for k, v in (inputs or {}).items()
            }
            data["document"] = text
            opened = {name: (Path(p).name, Path(p).read_bytes()) for name, p in files.items()}
            response = self._transport.request("POST", "/pipelines/try", data=data, files=opened)
        else:
            body = {"document": text, "inputs": dict(inputs or {})}
            response = self._transport.request("POST", "/pipelines/try", json=body)
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def pipeline_interface(self, module: str, ref: str = "latest") -> dict[str, Any]:
        """A module version's predict inputs and output (for composing)."""
        path = f"/pipelines/interfaces/{segment(module)}"
        return self._transport.document("GET", path, params={"ref": ref})
