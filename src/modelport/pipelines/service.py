"""Pipelines as catalog modules: check, publish and run them over the platform's model server.

Checking reads each step's interface from its module version's own OpenAPI document (its
worker answers it; versions are immutable, so an interface is kept once read), checks every
link, and derives what the pipeline takes and answers. Publishing stores the checked document
as a catalog version of its own (``VersionRecord.pipeline``), with AI4OS metadata filled in
from the document. Running calls each step through the model server: each module in its own
worker and sandbox, exactly as a caller's prediction would be.
"""

from __future__ import annotations

import asyncio
import graphlib
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelport.auth import policy
from modelport.catalog.domain import NewVersion, VersionRecord
from modelport.catalog.metadata import validate_metadata
from modelport.catalog.versions import check_version
from modelport.errors import InvalidInput, NotFound
from modelport.pipelines.document import PipelineDocument, dependencies, load_document
from modelport.pipelines.engine import Result, StepAnswer, StepFailed, run_pipeline
from modelport.pipelines.interfaces import Interface, interface_of, is_file
from modelport.pipelines.links import Derived, check_links
from modelport.pipelines.metrics import PipelineMetrics

if TYPE_CHECKING:
    from modelport.auth.config import Principal
    from modelport.catalog.service import CatalogService
    from modelport.gateway.base import ModelServer
    from modelport.gateway.process import GatewayResponse
    from modelport.rollouts.router import RolloutRouter

#: Checks that the caller may call a module (by name); raises NotFound or Forbidden.
MayCall = Callable[[str], Awaitable[None]]
_KEPT = 512


@dataclass(frozen=True)
class Checked:
    """A checked pipeline: its document, what it takes and answers, and its file inputs."""

    document: PipelineDocument
    derived: Derived
    files: dict[str, list[str]]
    #: each step's module and the version its reference named when checked
    resolved: dict[str, str]

    @property
    def modules(self) -> list[str]:
        """The modules its steps may call."""
        calls = (call for step in self.document.steps for _, call in step.calls())
        return list(dict.fromkeys(call.module for call in calls))

    def stored(self) -> dict[str, Any]:
        """What the catalog keeps (``VersionRecord.pipeline``)."""
        return {
            "document": self.document.model_dump(mode="json", exclude_none=True),
            "inputs": self.derived.inputs,
            "output": self.derived.output,
            "takes_files": self.derived.takes_files,
            "files": self.files,
            "checked_against": self.resolved,
        }

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> Checked:
        """A published pipeline, as kept (it was checked when published)."""
        document = PipelineDocument.model_validate(stored["document"])
        derived = Derived(stored["inputs"], stored["output"], bool(stored.get("takes_files")))
        return cls(document, derived, dict(stored.get("files") or {}), {})


def _scope(method: str, path: str, body: bytes, content_type: str) -> dict[str, Any]:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)))]
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k, v.encode() if isinstance(v, str) else v) for k, v in headers],
        "server": ("127.0.0.1", 80),
    }


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body


class PipelineService:
    """Check, publish and run pipelines over ``server`` and its catalog."""

    def __init__(
        self, server: ModelServer, catalog: CatalogService, rollouts: RolloutRouter | None = None
    ) -> None:
        self.server = server
        self.catalog = catalog
        #: a step naming an alias under a rollout is split as any caller's request is
        self.rollouts = rollouts
        self._shadows: set[asyncio.Future[None]] = set()
        self.base = server.settings.base_path
        self.metrics = PipelineMetrics(server.metrics.registry)
        self._interfaces: OrderedDict[tuple[str, str], Interface] = OrderedDict()
        self._checked: OrderedDict[tuple[str, str], Checked] = OrderedDict()
        #: the modules that are pipelines, and the catalog generation they were read at
        self._names: tuple[int | None, set[str]] | None = None

    def may_call(self, principal: Principal) -> MayCall:
        """The check that ``principal`` may call a module (NotFound if hidden, Forbidden)."""

        async def check(module: str) -> None:
            policy.check_call(principal, await self.server.records.module(module))

        return check

    async def is_pipeline(self, module: str) -> bool:
        """Whether ``module`` is a pipeline, as of the generation the gateway checked last
        (the module lookup of the request at hand checks it)."""
        held = self.server.records.held
        if self._names is None or held is None or self._names[0] != held:
            self._names = (held, await asyncio.to_thread(self.catalog.pipeline_names))
        return module in self._names[1]

    async def interface(self, module: str, ref: str, may_call: MayCall) -> Interface:
        """What a module version's predict takes and answers; a pipeline's, as published."""
        await may_call(module)
        record = await self.server.resolve(module, ref)
        if record.pipeline is not None:
            derived = Checked.from_stored(record.pipeline).derived
            return Interface(
                derived.inputs.get("properties", {}),
                derived.inputs.get("required", []),
                derived.output,
            )
        key = (module, record.version)
        kept = self._interfaces.get(key)
        if kept is None:
            path = f"{self.base}/openapi.json"
            scope = _scope("GET", path, b"", "")
            answer = await self.server.call(module, record.version, scope, _once(b""))
            if answer.status != 200:
                raise InvalidInput(
                    {"module": [f"{module} {record.version} did not give its OpenAPI document"]}
                )
            kept = interface_of(json.loads(answer.body), module)
            self._keep(self._interfaces, key, kept)
        return kept

    async def check(self, source: str | bytes | dict[str, Any], may_call: MayCall) -> Checked:
        """Check a document (its shape, then every link against its steps' interfaces)."""
        document = load_document(source)
        check_version(document.version)
        interfaces: dict[tuple[str, str], Interface] = {}
        resolved: dict[str, str] = {}
        errors: dict[str, list[str]] = {}
        for index, step in enumerate(document.steps):
            for name, call in step.calls():
                where = f"steps[{index}].{name}" if name else f"steps[{index}]"
                key = (call.module, call.ref)
                if key in interfaces or where in errors:
                    continue
                try:
                    record = await self._step_record(call.module, call.ref, may_call)
                    interfaces[key] = await self.interface(call.module, record.version, may_call)
                except NotFound as exc:
                    errors.setdefault(f"{where}.module", []).append(exc.message)
                    continue
                except InvalidInput as exc:
                    for messages in exc.errors.values():
                        errors.setdefault(f"{where}.module", []).extend(messages)
                    continue
                resolved[f"{call.module} {call.ref}"] = record.version
        if errors:
            raise InvalidInput(errors)
        order = list(graphlib.TopologicalSorter(dependencies(document)).static_order())
        derived = check_links(document, interfaces, order, resolved)
        return Checked(document, derived, _file_inputs(document, interfaces), resolved)

    async def _step_record(self, module: str, ref: str, may_call: MayCall) -> VersionRecord:
        await may_call(module)
        record = await self.server.resolve(module, ref)
        if record.pipeline is not None:
            raise InvalidInput(
                {"module": [f"'{module}' is a pipeline: a step calls a model (no nesting)"]}
            )
        return record

    async def publish(
        self, source: str | bytes | dict[str, Any], principal: Principal, may_call: MayCall
    ) -> VersionRecord:
        """Check, then publish as a catalog version owned by ``principal``."""
        policy.check_publish(principal)
        checked = await self.check(source, may_call)
        document = checked.document
        metadata = validate_metadata(_metadata(document))
        new = NewVersion(
            document.name,
            document.version,
            metadata,
            published_by=principal.identity,
            expect_owner=policy.expected_owner(principal),
            pipeline=checked.stored(),
        )
        return await asyncio.to_thread(self.catalog.publish_new, new, principal)

    def checked(self, record: VersionRecord) -> Checked:
        """A published pipeline version, parsed once."""
        assert record.pipeline is not None
        key = (record.module, record.version)
        kept = self._checked.get(key)
        if kept is None:
            kept = Checked.from_stored(record.pipeline)
            self._keep(self._checked, key, kept)
        return kept

    async def run(
        self,
        pipeline: str,
        checked: Checked,
        inputs: Mapping[str, Any],
        may_call: MayCall,
    ) -> Result:
        """Run a checked pipeline on a caller's inputs (files as ``engine.FileValue``)."""
        missing = [n for n in checked.derived.inputs.get("required", []) if n not in inputs]
        if missing:
            raise InvalidInput({name: ["Missing data for required field."] for name in missing})

        async def call(module: str, ref: str, body: bytes, content_type: str) -> StepAnswer:
            path = f"{self.base}/v2/models/{module}/predict/"
            scope = _scope("POST", path, body, content_type)
            answer = await self._call(module, ref, scope, body)
            media = next(
                (v.decode("latin-1") for k, v in answer.headers if k.lower() == b"content-type"),
                "application/octet-stream",
            )
            return StepAnswer(answer.status, media, answer.body, answer.version)

        pinned = await self.server.records.pin()  # one catalog check for all its calls
        try:
            for module in checked.modules:  # every step's: a pipeline opens no module to more
                await may_call(module)  # callers than the module itself does
            result = await run_pipeline(checked.document, inputs, call, checked.files)
        except StepFailed as exc:
            self.metrics.failures.labels(pipeline, exc.step).inc()
            raise
        finally:
            self.server.records.unpin(pinned)
        for timing in result.timings:
            self.metrics.steps.labels(pipeline, timing.step).observe(timing.seconds)
        return result

    async def _call(
        self, module: str, ref: str, scope: dict[str, Any], body: bytes
    ) -> GatewayResponse:
        """One step's call: through the rollout router when there is one (its shadow's copy
        is sent in the background)."""
        if self.rollouts is None:
            return await self.server.call(module, ref, scope, _once(body))
        routed = await self.rollouts.call(module, ref, scope, _once(body))
        if routed.after is not None:
            shadow = asyncio.ensure_future(routed.after())
            self._shadows.add(shadow)
            shadow.add_done_callback(self._shadows.discard)
        return routed.response

    @staticmethod
    def _keep(table: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        table[key] = value
        if len(table) > _KEPT:
            table.popitem(last=False)


def _file_inputs(
    document: PipelineDocument, interfaces: Mapping[tuple[str, str], Interface]
) -> dict[str, list[str]]:
    files: dict[str, list[str]] = {}
    for index, step in enumerate(document.steps):
        for name, call in step.calls():
            interface = interfaces.get((call.module, call.ref))
            if interface is None:
                continue
            where = f"steps[{index}].{name}" if name else f"steps[{index}]"
            wanted = [arg for arg in call.inputs if is_file(interface.inputs.get(arg, {}))]
            if wanted:
                files[where] = wanted
    return files


def _metadata(document: PipelineDocument) -> dict[str, Any]:
    """AI4OS metadata for a pipeline: the document's, with what it leaves out filled in."""
    given = dict(document.metadata)
    title = given.get("title") or document.name
    steps = ", ".join(dict.fromkeys(c.module for s in document.steps for _, c in s.calls()))
    summary = given.get("summary") or f"A pipeline of {steps}."
    filled: dict[str, Any] = {
        "metadata_version": "2.0.0",
        "title": title,
        "summary": summary,
        "description": f"{summary}\n\nA modelport pipeline calling: {steps}.",
        "links": {"source_code": f"https://modelport.invalid/pipelines/{document.name}"},
        "libraries": ["Other"],
        "tasks": ["Other"],
        "categories": ["AI4 inference"],
        "tags": ["pipeline"],
        "license": "Apache-2.0",
    }
    filled.update(given)
    return filled
