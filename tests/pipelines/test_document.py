"""Pipeline documents checked in themselves: shape, references, loops."""

from __future__ import annotations

from typing import Any

import pytest

from modelport.errors import InvalidInput
from modelport.pipelines.document import dependencies, literal, load_document, parse_ref


def document(steps: list[dict[str, Any]], output: Any = "$steps.a") -> dict[str, Any]:
    return {"name": "p", "version": "1.0.0", "steps": steps, "output": output}


def errors(source: Any) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as caught:
        load_document(source)
    return caught.value.errors


def test_yaml_and_json_read_alike_and_references_parse() -> None:
    text = """
name: p
version: 1.0.0
steps:
  - {id: a, module: m, inputs: {x: $input.x, y: $$literal, z: [1, $input.z]}}
  - {id: b, module: n, for_each: $steps.a.items, inputs: {v: $item.value.0}}
output: {b: $steps.b, a: $steps.a.count}
"""
    parsed = load_document(text)
    assert parsed == load_document(parsed.model_dump(mode="json"))
    assert dependencies(parsed) == {"a": set(), "b": {"a"}}
    assert literal("$$literal") == "$literal"
    ref = parse_ref("$steps.a.items.0.box")
    assert (ref.root, ref.step, ref.path) == ("steps", "a", ("items", 0, "box"))
    assert str(ref) == "$steps.a.items.0.box"


def test_loops_are_refused_naming_the_loop() -> None:
    found = errors(
        document(
            [
                {"id": "a", "module": "m", "inputs": {"x": "$steps.c.x"}},
                {"id": "b", "module": "m", "inputs": {"x": "$steps.a.x"}},
                {"id": "c", "module": "m", "inputs": {"x": "$steps.b.x"}},
            ]
        )
    )
    assert list(found) == ["steps"]
    assert "loop" in found["steps"][0]
    own = errors(document([{"id": "a", "module": "m", "inputs": {"x": "$steps.a"}}]))
    assert own == {"steps[0].inputs.x": ["'$steps.a': a step cannot use its own answer"]}


def test_misplaced_and_malformed_references_are_named_where_they_are() -> None:
    found = errors(
        document(
            [
                {"id": "a", "module": "m", "inputs": {"x": "$item.v", "y": "$nope.q"}},
                {"id": "a", "module": "m", "for_each": "$item", "inputs": {"z": "$output"}},
                {"id": "c", "module": "m", "inputs": {"w": "$input"}},
            ],
            output={"k": "$steps.zz", "i": "$item"},
        )
    )
    assert set(found) == {
        "steps[0].inputs.x",
        "steps[0].inputs.y",
        "steps[0].id",
        "steps[1].id",
        "steps[1].for_each",
        "steps[1].inputs.z",
        "steps[2].inputs.w",
        "output.k",
        "output.i",
    }
    assert "only in a for_each step's inputs" in found["steps[0].inputs.x"][0]
    assert "'a' names two steps" in found["steps[1].id"][0]


def test_step_shapes_and_document_fields_are_checked() -> None:
    assert "document" in errors("- not\n- a mapping")
    assert "not YAML or JSON" in errors("name: [")["document"][0]
    found = errors(
        {
            "name": "p",
            "version": "1.0.0",
            "steps": [
                {"id": "Bad Id", "module": "m"},
                {"id": "s", "switch": "$input.k"},
                {"id": "t", "module": "m", "collect": {"a": 1}},
                {"id": "u", "module": "m", "max_parallel": 99},
            ],
            "output": 1,
            "extra": True,
        }
    )
    assert "steps[0].id" in found
    assert found["steps[1]"] == ["a switch step needs at least one case"]
    assert found["steps[2]"] == ["collect belongs to a for_each step"]
    assert "steps[3].max_parallel" in found
    assert "extra" in found
    assert "steps" in errors({"name": "p", "version": "1", "steps": [], "output": 1})


def test_a_document_nested_too_deeply_is_refused_not_crashed_on() -> None:
    assert errors("a: " + "[" * 100_000) == {"document": ["nested too deeply"]}
    assert errors({"name": "p", "version": "1", "steps": [], "output": 1, "x": None})
