"""Checking a pipeline's links against its steps' interfaces, and deriving its own.

Each call's inputs must be inputs its module declares, every required one given; each
reference must lead somewhere in the schema it reads (``$steps.detect.objects`` exists in
the detector's answer) and what it gives must fit what it feeds (:func:`interfaces.fits`);
each literal must be valid for its input. What the pipeline takes is derived from the inputs
its ``$input`` references feed (a file input makes it take multipart/form-data); what it
answers, from its output mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from modelport.errors import InvalidInput
from modelport.pipelines.document import Call, PipelineDocument, Ref, Step, is_ref, parse_ref
from modelport.pipelines.interfaces import UNKNOWN, Interface, Schema, at_path, fits, is_file

#: (module, ref) → that version's interface
Interfaces = Mapping[tuple[str, str], Interface]


@dataclass(frozen=True)
class Derived:
    """What a checked pipeline takes and answers."""

    inputs: Schema
    output: Schema
    #: whether it takes files (multipart/form-data)
    takes_files: bool


class _Links:
    def __init__(
        self, document: PipelineDocument, interfaces: Interfaces, versions: Mapping[str, str]
    ) -> None:
        self.document = document
        self.interfaces = interfaces
        self.versions = versions
        self.errors: dict[str, list[str]] = {}
        self.answers: dict[str, Schema] = {}
        self.inputs: dict[str, Schema] = {}
        self.required: set[str] = set()

    def problem(self, where: str, message: str) -> None:
        self.errors.setdefault(where, []).append(message)

    def schema_of(self, ref: Ref, item: Schema, output: Schema) -> Schema | str:
        base = {"input": UNKNOWN, "item": item, "output": output}.get(ref.root)
        if ref.root == "steps":
            assert ref.step is not None
            base = self.answers.get(ref.step, UNKNOWN)
        if ref.root == "input":  # its schema is what it feeds; deeper parts are unknown
            return UNKNOWN
        return at_path(base or UNKNOWN, ref.path)

    def value_schema(self, value: Any, where: str, item: Schema, output: Schema) -> Schema:
        """The schema of a mapping's value (references resolved, literals by their type)."""
        if is_ref(value):
            found = self.schema_of(parse_ref(value), item, output)
            if isinstance(found, str):
                self.problem(where, f"'{value}': {found}")
                return UNKNOWN
            return found
        if isinstance(value, dict):
            return {
                "type": "object",
                "properties": {
                    k: self.value_schema(v, f"{where}.{k}", item, output) for k, v in value.items()
                },
                "required": sorted(value),
            }
        if isinstance(value, list):
            return {"type": "array"}
        kinds: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}
        return {"type": kinds[type(value)]} if type(value) in kinds else UNKNOWN

    def call(self, call: Call, where: str, item: Schema) -> Schema:
        """Check one call; its answer's schema."""
        interface = self.interfaces.get((call.module, call.ref))
        if interface is None:
            return UNKNOWN
        label = f"{call.module} {call.ref}"
        version = self.versions.get(label)
        if version is not None and version != call.ref:
            label = f"{label} ({version})"
        for name in interface.required:
            if name not in call.inputs and "default" not in interface.inputs.get(name, {}):
                self.problem(f"{where}.inputs", f"{label} requires the input '{name}'")
        for name, value in call.inputs.items():
            at = f"{where}.inputs.{name}"
            target = interface.inputs.get(name)
            if target is None:
                known = ", ".join(sorted(interface.inputs)) or "none"
                self.problem(at, f"{label} has no input '{name}' (its inputs: {known})")
                continue
            if is_ref(value):
                self.link(value, target, at, item, required=name in interface.required)
            elif not is_file(target):
                self.check_literal(value, target, at)
            else:
                self.problem(at, "a file input takes a $reference to a file, not a literal")
        return interface.output

    def link(self, value: str, target: Schema, at: str, item: Schema, *, required: bool) -> None:
        ref = parse_ref(value)
        if ref.root == "input" and len(ref.path) == 1:
            name = str(ref.path[0])
            known = self.inputs.get(name)
            if known is not None and (problem := fits(known, target)) is not None:
                self.problem(at, f"'{value}' also feeds another input: {problem}")
            self.inputs.setdefault(name, target)
            if required:
                self.required.add(name)
            return
        source = self.schema_of(ref, item, UNKNOWN)
        if isinstance(source, str):
            self.problem(at, f"'{value}': {source}")
        elif (problem := fits(source, target)) is not None:
            self.problem(at, f"'{value}' does not fit: {problem}")

    def check_literal(self, value: Any, target: Schema, at: str) -> None:
        try:
            jsonschema.validate(value, target, cls=jsonschema.Draft202012Validator)
        except jsonschema.ValidationError as exc:
            self.problem(at, f"{value!r} is not valid here: {exc.message}")
        except jsonschema.SchemaError:
            return

    def step(self, index: int, step: Step) -> None:
        at = f"steps[{index}]"
        item: Schema = UNKNOWN
        if step.for_each is not None:
            listed = self.schema_of(parse_ref(step.for_each), UNKNOWN, UNKNOWN)
            if isinstance(listed, str):
                self.problem(f"{at}.for_each", f"'{step.for_each}': {listed}")
            elif listed.get("type") not in (None, "array"):
                self.problem(f"{at}.for_each", f"'{step.for_each}' is not a list")
            else:
                item = listed.get("items") or UNKNOWN
        if step.switch is not None:
            found = self.schema_of(parse_ref(step.switch), UNKNOWN, UNKNOWN)
            if isinstance(found, str):
                self.problem(f"{at}.switch", f"'{step.switch}': {found}")
        answers = [
            self.call(call, f"{at}.{name}" if name else at, item) for name, call in step.calls()
        ]
        answer = answers[0] if len(answers) == 1 else {"anyOf": answers}
        if step.for_each is not None:
            if step.collect is not None:
                answer = self.value_schema(step.collect, f"{at}.collect", item, answer)
            answer = {"type": "array", "items": answer}
        self.answers[step.id] = answer

    def derive(self, order: list[str]) -> Derived:
        by_id = {step.id: (index, step) for index, step in enumerate(self.document.steps)}
        for step_id in order:
            self.step(*by_id[step_id])
        output = self.value_schema(self.document.output, "output", UNKNOWN, UNKNOWN)
        inputs: Schema = {
            "type": "object",
            "properties": self.inputs,
            "required": sorted(self.required),
        }
        if self.errors:
            raise InvalidInput(self.errors)
        return Derived(inputs, output, any(is_file(s) for s in self.inputs.values()))


def check_links(
    document: PipelineDocument,
    interfaces: Interfaces,
    order: list[str],
    versions: Mapping[str, str] | None = None,
) -> Derived:
    """Check every link of ``document`` (its steps in ``order``, dependencies first);
    InvalidInput naming each problem by where it is. ``versions``: ``"module ref"`` → the
    version it named (for the messages)."""
    return _Links(document, interfaces, versions or {}).derive(order)
