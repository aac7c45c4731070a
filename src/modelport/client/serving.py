"""The client's models and predictions: ``/v2/models/...``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from typing import Any, cast

import httpx

from modelport.client.files import FileValue, form, jsonable, upload
from modelport.client.transport import Transport, error_from_response, is_json, segment
from modelport.contract.streaming import NDJSON


class ServingCalls:
    """The served models, their metadata and predictions (a part of :class:`Client`)."""

    _transport: Transport

    def models(self) -> list[dict[str, Any]]:
        """The served models and their metadata."""
        return cast(list[dict[str, Any]], self._transport.document("GET", "/v2/models/")["models"])

    def model(self, name: str) -> dict[str, Any]:
        """A served model's metadata."""
        return self._transport.document("GET", f"/v2/models/{segment(name)}/")

    def predict(
        self,
        model: str,
        /,
        *,
        files: Mapping[str, FileValue] | None = None,
        accept: str | None = None,
        version: str | None = None,
        **args: Any,
    ) -> Any:
        """Run a prediction; a JSON result comes back decoded, any other media type as ``bytes``.

        ``args`` are the model's arguments: sent as a JSON body, or as form fields next to
        ``files`` (multipart) when there are files. ``accept`` picks the response media type of
        models that offer several (sent both as the ``Accept`` header and as an ``accept`` query
        argument: DEEPaaS modules read one or the other, as their field declares). ``version``
        (a platform server's catalog version or alias) addresses
        ``/v2/models/{model}/versions/{version}/``.
        """
        path = f"/v2/models/{segment(model)}/predict/"
        if version is not None:
            path = f"/v2/models/{segment(model)}/versions/{segment(version)}/predict/"
        headers = {"Accept": accept} if accept else {}
        params = {"accept": accept} if accept else None
        if not files:
            response = self._transport.request(
                "POST", path, json=jsonable(args), headers=headers, params=params
            )
        else:
            with ExitStack() as stack:
                uploads = [(field, upload(field, value, stack)) for field, value in files.items()]
                response = self._transport.request(
                    "POST", path, data=form(args), files=uploads, headers=headers, params=params
                )
        if is_json(response):
            return response.json()
        return response.content

    def stream(self, model: str, /, *, version: str | None = None, **args: Any) -> Iterator[Any]:
        """A streaming model's results, each decoded as it arrives (NDJSON).

        ``args`` are the model's arguments (a JSON body). An error after the first item raises
        the error it stands for where the stream stopped; leaving the loop early closes the
        connection, which stops the model at its next item.
        """
        path = f"/v2/models/{segment(model)}/predict/"
        if version is not None:
            path = f"/v2/models/{segment(model)}/versions/{segment(version)}/predict/"
        headers = {"Accept": NDJSON}
        with self._transport.stream("POST", path, json=jsonable(args), headers=headers) as answer:
            if not answer.headers.get("content-type", "").startswith(NDJSON):
                answer.read()  # not a streaming model: its one answer
                yield answer.json() if is_json(answer) else answer.content
                return
            for line in answer.iter_lines():
                if not line:
                    continue
                item = json.loads(line)
                if isinstance(item, dict) and item.keys() == {"error", "status"}:
                    failed = httpx.Response(item["status"], json=item["error"])
                    failed.request = answer.request
                    raise error_from_response(failed)
                yield item
