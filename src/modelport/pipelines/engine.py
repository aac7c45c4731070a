"""Running a checked pipeline: each step as soon as the steps it uses have answered, every call
through ``call`` (the platform's model server: each module in its own worker), a fan-out's
calls in parallel up to its bound.

A step's call is a JSON body, or multipart/form-data when it sends a file (the pipeline's
upload, a step's binary answer, or a base64 string feeding a file input). A step that answers
an error stops the pipeline (its other calls are cancelled) with :class:`StepFailed`, which
names the step, the item of a fan-out, the version that answered and its answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import graphlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from modelport.errors import (
    ModelNotReady,
    ModelportError,
    Overloaded,
    PredictTimeout,
    StoreError,
    redact_paths,
)
from modelport.pipelines.document import (
    MAX_ITEMS,
    Call,
    PipelineDocument,
    Step,
    dependencies,
    is_ref,
    literal,
    parse_ref,
)

_MAGIC = (
    (b"\x89PNG", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


@dataclass(frozen=True)
class FileValue:
    """A file flowing through a pipeline: an upload, or a step's binary answer."""

    data: bytes
    filename: str = "file"
    media_type: str = "application/octet-stream"


@dataclass(frozen=True)
class StepAnswer:
    """What one step call answered."""

    status: int
    media_type: str
    body: bytes
    version: str


#: (module, ref, body, content type) → its answer
StepCaller = Callable[[str, str, bytes, str], Awaitable[StepAnswer]]


class StepFailed(ModelportError):
    """A step that answered an error, or whose inputs could not be made from what came before.

    ``status`` is what the pipeline answers: the step's 4xx becomes 422 (the pipeline's input
    was wrong for it), 503 and 504 stay, any other failure is 502 (a step failed).
    """

    def __init__(
        self,
        step: str,
        message: str,
        *,
        status: int = 502,
        module: str | None = None,
        version: str | None = None,
        item: int | None = None,
        detail: Any = None,
        step_status: int | None = None,
    ) -> None:
        where = f"step '{step}'" + (f" (item {item})" if item is not None else "")
        super().__init__(f"{where}: {message}")
        self.step = step
        self.status = status
        self.module = module
        self.version = version
        self.item = item
        self.detail = detail
        self.step_status = step_status

    def body(self) -> dict[str, Any]:
        """The pipeline's error answer."""
        shown: dict[str, Any] = {"message": self.message, "step": self.step}
        for key in ("item", "module", "version", "step_status", "detail"):
            if getattr(self, key) is not None:
                shown[key] = getattr(self, key)
        return shown


@dataclass
class Timing:
    """One step's time (a fan-out's: all its calls) and what answered it."""

    step: str
    seconds: float = 0.0
    calls: int = 0
    versions: set[str] = field(default_factory=set)


@dataclass
class Result:
    """A pipeline's answer and its steps' timings, in the order they finished."""

    output: Any
    timings: list[Timing]
    seconds: float


class _Run:
    def __init__(
        self,
        document: PipelineDocument,
        files: Mapping[str, Sequence[str]],
        inputs: Mapping[str, Any],
        call: StepCaller,
    ) -> None:
        self.document = document
        self.files = files
        self.inputs = inputs
        self.caller = call
        self.answers: dict[str, Any] = {}
        self.timings: list[Timing] = []

    def resolve(self, value: Any, step: str, item: Any = None, output: Any = None) -> Any:
        """A value with its references replaced by what they name now."""
        if is_ref(value):
            ref = parse_ref(value)
            roots = {"input": self.inputs, "item": item, "output": output}
            current = self.answers.get(ref.step) if ref.step else roots[ref.root]
            if ref.root == "input" and ref.path[0] not in self.inputs:
                return None  # an optional input the caller left out
            status = 422 if ref.root == "input" else 502  # the caller's value, or a step's
            for part in ref.path:
                current = _part(current, part, str(ref), step, status)
            return current
        if isinstance(value, dict):
            return {k: self.resolve(v, step, item, output) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, step, item, output) for v in value]
        return literal(value)

    async def call(self, step: Step, where: str, call: Call, item: Any, index: int | None) -> Any:
        args: dict[str, Any] = {}
        for name, value in call.inputs.items():
            resolved = self.resolve(value, step.id, item)
            if resolved is None and is_ref(value):
                continue  # not given (an optional $input): the module's default holds
            if name in self.files.get(where, ()) and isinstance(resolved, str):
                resolved = _decoded(resolved, name, step.id, index)
            args[name] = resolved
        body, content_type = encode(args)
        try:
            answer = await self.caller(call.module, call.ref, body, content_type)
        except StepFailed:
            raise
        except ModelportError as exc:  # not answered: busy, not loadable, gone, too slow
            status = 504 if isinstance(exc, PredictTimeout) else 502
            if isinstance(exc, Overloaded | ModelNotReady | StoreError):
                status = 503
            raise StepFailed(
                step.id, redact_paths(exc.message), status=status, module=call.module, item=index
            ) from None
        timing = self._timing(step.id)
        timing.calls += 1
        timing.versions.add(f"{call.module} {answer.version}")
        return decode(answer, step.id, call.module, index)

    def _timing(self, step: str) -> Timing:
        for timing in self.timings:
            if timing.step == step:
                return timing
        timing = Timing(step)
        self.timings.append(timing)
        return timing

    async def step(self, index: int, step: Step) -> Any:
        started = time.perf_counter()
        at = f"steps[{index}]"
        self._timing(step.id)
        if step.switch is not None:
            value = self.resolve(step.switch, step.id)
            key = value if isinstance(value, str) else json.dumps(value)
            chosen = (step.cases or {}).get(key)
            where = f"{at}.cases.{key}"
            if chosen is None:
                chosen, where = step.default, f"{at}.default"
            if chosen is None:
                cases = ", ".join(step.cases or {})
                raise StepFailed(
                    step.id, f"no case for {key!r} (cases: {cases}) and no default", status=422
                )
            answer = await self.call(step, where, chosen, None, None)
        elif step.for_each is not None:
            answer = await self.fan_out(step, at)
        else:
            answer = await self.call(step, at, next(iter(step.calls()))[1], None, None)
        self._timing(step.id).seconds = time.perf_counter() - started
        return answer

    async def fan_out(self, step: Step, at: str) -> list[Any]:
        assert step.for_each is not None
        items = self.resolve(step.for_each, step.id)
        if not isinstance(items, list):
            status = 422 if step.for_each.startswith("$input") else 502
            raise StepFailed(step.id, f"'{step.for_each}' is not a list", status=status)
        if len(items) > MAX_ITEMS:
            raise StepFailed(
                step.id,
                f"'{step.for_each}' has {len(items)} items, at most {MAX_ITEMS}",
                status=422,
            )
        bound = asyncio.Semaphore(step.max_parallel)
        call = next(iter(step.calls()))[1]

        async def one(index: int, item: Any) -> Any:
            async with bound:
                output = await self.call(step, at, call, item, index)
            if step.collect is None:
                return output
            return self.resolve(step.collect, step.id, item, output)

        return await _all([one(index, item) for index, item in enumerate(items)])

    async def run(self) -> Any:
        by_id = {step.id: (index, step) for index, step in enumerate(self.document.steps)}
        sorter = graphlib.TopologicalSorter(dependencies(self.document))
        sorter.prepare()
        running: dict[asyncio.Task[Any], str] = {}
        try:
            while sorter.is_active():
                ready = sorter.get_ready()
                if len(ready) == 1 and not running:  # a chain: no task needed
                    self.answers[ready[0]] = await self.step(*by_id[ready[0]])
                    sorter.done(ready[0])
                    continue
                for step_id in ready:
                    running[asyncio.ensure_future(self.step(*by_id[step_id]))] = step_id
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    step_id = running.pop(task)
                    self.answers[step_id] = task.result()
                    sorter.done(step_id)
        finally:
            for task in running:
                task.cancel()
        return self.resolve(self.document.output, "output")


async def _all(calls: list[Awaitable[Any]]) -> list[Any]:
    """Every call's result in order; the first failure cancels the others and is raised."""
    tasks = [asyncio.ensure_future(c) for c in calls]
    if not tasks:  # a fan-out over an empty list
        return []
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        return [task.result() for task in tasks]
    finally:
        for task in tasks:
            task.cancel()


def _part(current: Any, part: str | int, ref: str, step: str, status: int) -> Any:
    if isinstance(part, int) and isinstance(current, list):
        if part < len(current):
            return current[part]
        many = f"'{ref}': the list has {len(current)} items, no item {part}"
        raise StepFailed(step, many, status=status)
    if isinstance(current, dict) and str(part) in current:
        return current[str(part)]
    if current is None:
        return None
    raise StepFailed(step, f"'{ref}': the value has no '{part}'", status=status)


def _decoded(text: str, name: str, step: str, index: int | None) -> FileValue:
    """A base64 string (or a ``data:`` URI) feeding a file input, as a file."""
    media = None
    if text.startswith("data:") and "," in text:
        head, text = text.split(",", 1)
        media = head[5:].split(";")[0] or None
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise StepFailed(step, f"input '{name}' is not base64", item=index) from None
    media = media or next((m for magic, m in _MAGIC if data.startswith(magic)), None)
    return FileValue(data, name, media or "application/octet-stream")


def encode(args: Mapping[str, Any]) -> tuple[bytes, str]:
    """A step's arguments as a request body: JSON, or multipart when a file is among them."""
    if not any(isinstance(v, FileValue) for v in args.values()):
        return json.dumps(args, default=_jsonable).encode(), "application/json"
    data: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes, str]] = {}
    for name, value in args.items():
        if isinstance(value, FileValue):
            files[name] = (value.filename, value.data, value.media_type)
        elif isinstance(value, list):
            data[name] = [_form(v) for v in value]
        else:
            data[name] = _form(value)
    request = httpx.Request("POST", "http://step/", data=data, files=files)
    return request.read(), request.headers["content-type"]


def _form(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, FileValue):
        return base64.b64encode(value.data).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")


def to_json(value: Any) -> bytes:
    """A pipeline's answer as JSON (files as base64)."""
    return json.dumps(value, default=_jsonable, separators=(",", ":")).encode()


def decode(answer: StepAnswer, step: str, module: str, index: int | None) -> Any:
    """A step's answer as a value; StepFailed for an error answer."""
    is_json = answer.media_type.split(";")[0].strip().endswith("json")
    parsed: Any = None
    if is_json:
        try:
            parsed = json.loads(answer.body)
        except ValueError:
            parsed = None
    if answer.status >= 400:
        status = answer.status if answer.status in (503, 504) else 502
        if 400 <= answer.status < 500:
            status = 422
        raise StepFailed(
            step,
            f"{module} {answer.version} answered {answer.status}",
            status=status,
            module=module,
            version=answer.version,
            item=index,
            detail=parsed,
            step_status=answer.status,
        )
    if is_json:
        return parsed
    return FileValue(answer.body, f"{step}.out", answer.media_type.split(";")[0].strip())


async def run_pipeline(
    document: PipelineDocument,
    inputs: Mapping[str, Any],
    call: StepCaller,
    files: Mapping[str, Sequence[str]] | None = None,
) -> Result:
    """Run ``document`` on ``inputs`` (files as :class:`FileValue`); ``files``: for each call
    (``steps[1]``, ``steps[2].cases.a``), its inputs that are files."""
    started = time.perf_counter()
    run = _Run(document, files or {}, inputs, call)
    output = await run.run()
    return Result(output, run.timings, time.perf_counter() - started)
