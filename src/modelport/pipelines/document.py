"""A pipeline's document: what a scientist writes (YAML or JSON), parsed and checked in itself.

::

    name: digits-in-a-scene          # the catalog module it is published as
    version: 1.0.0
    metadata: {title: ..., summary: ...}   # AI4OS metadata; the rest is filled in
    steps:
      - id: detect
        module: tiny-detector        # a catalog module
        ref: latest                  # a version or an alias (default latest)
        inputs: {image: $input.image, min_area: 20}
      - id: classify
        module: image-classifier
        for_each: $steps.detect.objects      # fan-out: once per item, in parallel
        max_parallel: 4
        inputs: {image: $item.crop, top_k: 1}
        collect: {box: $item.box, label: $output.0.label}   # each item's result
      - id: explain
        switch: $input.mode                  # one case, chosen by a value
        cases:
          short: {module: summarizer, inputs: {text: $steps.classify}}
        default: {module: ..., inputs: {...}}
    output: {objects: $steps.classify}

A value starting with ``$`` is a reference: ``$input.<field>`` (the pipeline's caller's
argument), ``$steps.<id>`` (a step's answer), ``$item`` (the fan-out's item), ``$output``
(in ``collect``: the step's answer for that item), each followed by a dotted path (numbers index
lists). ``$$`` starts a literal string that begins with ``$``. Anything else is a literal.
The steps form a graph by their references; a loop is refused. Problems are
:class:`~modelport.errors.InvalidInput`, keyed by where they are (``steps[1].inputs.image``).
"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from modelport.errors import InvalidInput

STEP_ID = r"^[a-z][a-z0-9_-]{0,62}$"
ROOTS = ("input", "steps", "item", "output")
#: The most items one fan-out step calls its module for, per request.
MAX_ITEMS = 256
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")


class Call(BaseModel):
    """A call of one module version (or alias) with inputs made of references and literals."""

    model_config = ConfigDict(extra="forbid")

    module: str = Field(min_length=1, max_length=200, description="a catalog module")
    ref: str = Field("latest", min_length=1, max_length=100, description="version or alias")
    inputs: dict[str, Any] = Field(default_factory=dict, description="argument: value or $ref")


class Step(BaseModel):
    """One step: a call (optionally once per item of a list), or a switch between calls."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=STEP_ID)
    module: str | None = Field(None, min_length=1, max_length=200)
    ref: str = Field("latest", min_length=1, max_length=100)
    inputs: dict[str, Any] = Field(default_factory=dict)
    for_each: str | None = Field(None, description="a $reference to a list: one call per item")
    max_parallel: int = Field(4, ge=1, le=32, description="fan-out calls at once")
    collect: Any = Field(None, description="each item's result ($item, $output); default $output")
    switch: str | None = Field(None, description="a $reference whose value picks a case")
    cases: dict[str, Call] | None = None
    default: Call | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Step:
        if self.switch is None:
            if self.module is None:
                raise ValueError("a step needs a module (a call) or switch (a choice)")
            if self.cases is not None or self.default is not None:
                raise ValueError("cases and default belong to a switch step")
        else:
            if self.module is not None or self.inputs or self.for_each or self.collect:
                raise ValueError("a switch step has cases, not module/inputs/for_each/collect")
            if not self.cases:
                raise ValueError("a switch step needs at least one case")
        if self.collect is not None and self.for_each is None:
            raise ValueError("collect belongs to a for_each step")
        return self

    def calls(self) -> Iterator[tuple[str, Call]]:
        """Each call this step may make, with where it is in the step (``""``, ``cases.a``)."""
        if self.module is not None:
            yield "", Call(module=self.module, ref=self.ref, inputs=self.inputs)
        for name, call in (self.cases or {}).items():
            yield f"cases.{name}", call
        if self.default is not None:
            yield "default", self.default


class PipelineDocument(BaseModel):
    """A whole pipeline document."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["pipeline"] = "pipeline"
    name: str = Field(min_length=1, max_length=200, description="its catalog module name")
    version: str = Field(min_length=1, max_length=100)
    metadata: dict[str, Any] = Field(default_factory=dict, description="AI4OS metadata")
    steps: list[Step] = Field(min_length=1, max_length=50)
    output: Any = Field(description="the answer: a mapping of $references and literals")


@dataclass(frozen=True)
class Ref:
    """A parsed reference: its root, the step it names (``steps``), and the path after it."""

    root: str
    step: str | None
    path: tuple[str | int, ...]

    def __str__(self) -> str:
        head = f"$steps.{self.step}" if self.step else f"${self.root}"
        return ".".join([head, *map(str, self.path)])


def is_ref(value: object) -> bool:
    """Whether a document value is a reference (a string starting with one ``$``)."""
    return isinstance(value, str) and value.startswith("$") and not value.startswith("$$")


def literal(value: Any) -> Any:
    """A literal as it is sent (``$$x`` is the string ``$x``), recursively."""
    if isinstance(value, str) and value.startswith("$$"):
        return value[1:]
    if isinstance(value, dict):
        return {k: literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [literal(v) for v in value]
    return value


def parse_ref(text: str) -> Ref:
    """``$steps.detect.objects.0`` as a :class:`Ref`; ValueError saying what is wrong."""
    parts = text[1:].split(".")
    root = parts[0]
    if root not in ROOTS:
        raise ValueError(f"'{text}': a reference starts with ${', $'.join(ROOTS)}")
    step = None
    if root == "steps":
        if len(parts) < 2 or not re.match(STEP_ID, parts[1]):
            raise ValueError(f"'{text}': name a step, $steps.<id>")
        step = parts[1]
        parts = parts[1:]
    if root == "input" and len(parts) < 2:
        raise ValueError(f"'{text}': name an input, $input.<name>")
    path: list[str | int] = []
    for part in parts[1:]:
        if not _SEGMENT.match(part):
            raise ValueError(f"'{text}': '{part}' is not a field name or a list index")
        path.append(int(part) if part.isdigit() else part)
    return Ref(root, step, tuple(path))


def refs_in(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every reference in a value, with where it is (``where.key.0``)."""
    if is_ref(value):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from refs_in(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from refs_in(item, f"{where}.{index}")


def load_document(source: str | bytes | dict[str, Any]) -> PipelineDocument:
    """A document from YAML/JSON text or a mapping, checked in itself (see :func:`check`)."""
    try:
        if not isinstance(source, dict):
            source = yaml.safe_load(source)
        if not isinstance(source, dict):
            raise InvalidInput({"document": ["a pipeline document is a mapping"]})
        document = PipelineDocument.model_validate(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise InvalidInput({"document": [f"not YAML or JSON{at}"]}) from None
    except RecursionError:
        raise InvalidInput({"document": ["nested too deeply"]}) from None
    except ValidationError as exc:
        raise InvalidInput(_pydantic_errors(exc)) from None
    check(document)
    return document


def _pydantic_errors(exc: ValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors():
        where = ""
        for part in error["loc"]:
            where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
        message = error["msg"].removeprefix("Value error, ")
        errors.setdefault(where or "document", []).append(message)
    return errors


def check(document: PipelineDocument) -> None:
    """Every reference well-formed and in its place, step ids unique, no loop; InvalidInput
    naming each problem."""
    errors: dict[str, list[str]] = {}
    ids = [step.id for step in document.steps]
    graph: dict[str, set[str]] = {step_id: set() for step_id in ids}
    for index, step in enumerate(document.steps):
        at = f"steps[{index}]"
        if ids.count(step.id) > 1:
            errors.setdefault(f"{at}.id", []).append(f"'{step.id}' names two steps")
        for where, text in _step_refs(step, at):
            try:
                ref = parse_ref(text)
            except ValueError as exc:
                errors.setdefault(where, []).append(str(exc))
                continue
            problem = _misplaced(ref, where, at, step)
            if problem is None and ref.step is not None and ref.step not in graph:
                problem = f"'{text}': there is no step '{ref.step}'"
            if problem is not None:
                errors.setdefault(where, []).append(problem)
            elif ref.step is not None:
                graph[step.id].add(ref.step)
    for where, text in refs_in(document.output, "output"):
        try:
            ref = parse_ref(text)
        except ValueError as exc:
            errors.setdefault(where, []).append(str(exc))
            continue
        if ref.root in ("item", "output"):
            errors.setdefault(where, []).append(f"'{text}': only $input and $steps here")
        elif ref.step is not None and ref.step not in graph:
            errors.setdefault(where, []).append(f"'{text}': there is no step '{ref.step}'")
    if not errors:
        try:
            graphlib.TopologicalSorter(graph).prepare()
        except graphlib.CycleError as exc:
            loop = " → ".join(exc.args[1][::-1])
            errors["steps"] = [f"the steps form a loop ({loop}): a pipeline runs each step once"]
    if errors:
        raise InvalidInput(errors)


def _step_refs(step: Step, at: str) -> Iterator[tuple[str, str]]:
    for name, call in step.calls():
        prefix = f"{at}.{name}" if name else at
        yield from refs_in(call.inputs, f"{prefix}.inputs")
    if step.for_each is not None:
        yield f"{at}.for_each", step.for_each
    if step.switch is not None:
        yield f"{at}.switch", step.switch
    yield from refs_in(step.collect, f"{at}.collect")


def _misplaced(ref: Ref, where: str, at: str, step: Step) -> str | None:
    """Why a reference cannot be where it is (None: it can)."""
    if ref.step == step.id:
        return f"'{ref}': a step cannot use its own answer"
    in_collect = where.startswith(f"{at}.collect")
    if ref.root == "output" and not in_collect:
        return f"'{ref}': $output is each item's answer, only in collect"
    if ref.root == "item" and (step.for_each is None or where == f"{at}.for_each"):
        return f"'{ref}': $item is the item of for_each, only in a for_each step's inputs"
    if where in (f"{at}.for_each", f"{at}.switch") and ref.root not in ("input", "steps"):
        return f"'{ref}': only $input and $steps here"
    return None


def dependencies(document: PipelineDocument) -> dict[str, set[str]]:
    """Each step's id → the ids of the steps whose answers it uses."""
    graph: dict[str, set[str]] = {}
    for index, step in enumerate(document.steps):
        graph[step.id] = {
            ref.step
            for _, text in _step_refs(step, f"steps[{index}]")
            if (ref := parse_ref(text)).step is not None
        }
    return graph
