"""The engine's own rules, over an in-process step caller: the graph's order and parallelism,
fan-out bounds, the first failure cancelling the rest, files and base64 between steps.

(Through real workers: tests/pipelines/test_platform.py.)
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from modelport.pipelines.document import load_document
from modelport.pipelines.engine import FileValue, StepAnswer, StepFailed, encode, run_pipeline


class Steps:
    """A step caller answering JSON by module: ``add`` (x + 1), ``slow`` (waits), ``fail``."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.cancelled = 0
        self.bodies: list[tuple[str, bytes, str]] = []

    async def __call__(self, module: str, ref: str, body: bytes, media: str) -> StepAnswer:
        self.bodies.append((module, body, media))
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            if module == "fail":
                await asyncio.sleep(0.01)
                return StepAnswer(500, "application/json", b'{"message": "no"}', "2.0.0")
            args = json.loads(body) if media == "application/json" else {}
            if module == "slow":
                await asyncio.sleep(0.05)
            return StepAnswer(
                200, "application/json", json.dumps({"x": args.get("x", 0) + 1}).encode(), "1.0.0"
            )
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        finally:
            self.running -= 1


def pipeline(steps: list[dict[str, Any]], output: Any) -> Any:
    return load_document({"name": "p", "version": "1.0.0", "steps": steps, "output": output})


async def test_independent_steps_run_together_and_a_fan_out_keeps_its_bound() -> None:
    steps = Steps()
    document = pipeline(
        [
            {"id": "a", "module": "slow", "inputs": {"x": "$input.x"}},
            {"id": "b", "module": "slow", "inputs": {"x": 10}},
            {
                "id": "each",
                "module": "slow",
                "for_each": "$input.items",
                "max_parallel": 2,
                "inputs": {"x": "$item"},
                "collect": {"in": "$item", "out": "$output.x"},
            },
            {"id": "sum", "module": "add", "inputs": {"x": "$steps.a.x"}},
        ],
        {"a": "$steps.a.x", "b": "$steps.b.x", "each": "$steps.each", "sum": "$steps.sum.x"},
    )
    result = await run_pipeline(document, {"x": 1, "items": [1, 2, 3, 4, 5]}, steps)
    assert result.output == {
        "a": 2,
        "b": 11,
        "each": [{"in": i, "out": i + 1} for i in range(1, 6)],
        "sum": 3,
    }
    assert steps.most >= 3  # a, b and the fan-out at once
    assert steps.most <= 4  # a, b and two of the fan-out, at most
    assert [t.step for t in result.timings][:3] == ["a", "b", "each"]
    assert {t.step: t.calls for t in result.timings}["each"] == 5


async def test_the_first_failure_cancels_the_others_and_names_the_item() -> None:
    steps = Steps()
    document = pipeline(
        [
            {"id": "s", "module": "slow", "inputs": {}},
            {"id": "f", "module": "fail", "for_each": "$input.items", "inputs": {"x": "$item"}},
        ],
        "$steps.f",
    )
    with pytest.raises(StepFailed) as caught:
        await run_pipeline(document, {"items": [1]}, steps)
    failed = caught.value
    assert (failed.step, failed.item, failed.status, failed.step_status) == ("f", 0, 502, 500)
    assert failed.body()["detail"] == {"message": "no"}
    await asyncio.sleep(0)
    assert steps.cancelled == 1  # the slow step, still running


async def test_base64_strings_become_files_and_files_go_as_multipart() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 8
    body, media = encode(
        {"image": FileValue(png, "a.png", "image/png"), "k": 2, "tags": ["a", "b"]}
    )
    assert media.startswith("multipart/form-data; boundary=")
    assert b'name="image"; filename="a.png"' in body
    assert b"Content-Type: image/png" in body
    assert body.count(b'name="tags"') == 2
    steps = Steps()
    document = pipeline(
        [{"id": "a", "module": "add", "inputs": {"image": "$input.crop"}}], "$steps.a"
    )
    encoded = base64.b64encode(png).decode()
    await run_pipeline(document, {"crop": encoded}, steps, files={"steps[0]": ["image"]})
    _module, sent, sent_media = steps.bodies[0]
    assert sent_media.startswith("multipart/form-data")
    assert b"Content-Type: image/png" in sent
    assert png in sent
    with pytest.raises(StepFailed, match="input 'image' is not base64"):
        await run_pipeline(document, {"crop": "%%%"}, steps, files={"steps[0]": ["image"]})


async def test_missing_fields_in_an_answer_fail_the_step_that_reads_them() -> None:
    document = pipeline(
        [
            {"id": "a", "module": "add", "inputs": {}},
            {"id": "b", "module": "add", "inputs": {"x": "$steps.a.nothing"}},
        ],
        "$steps.b",
    )
    with pytest.raises(StepFailed) as caught:
        await run_pipeline(document, {}, Steps())
    assert caught.value.step == "b"
    assert "the value has no 'nothing'" in caught.value.message


async def test_a_callers_value_of_the_wrong_shape_is_their_mistake() -> None:
    document = pipeline(
        [
            {"id": "each", "module": "add", "for_each": "$input.items", "inputs": {"x": "$item"}},
            {"id": "one", "module": "add", "inputs": {"x": "$input.point.x"}},
        ],
        {"each": "$steps.each", "one": "$steps.one"},
    )
    for inputs in ({"items": "not a list", "point": {"x": 1}}, {"items": [], "point": "flat"}):
        with pytest.raises(StepFailed) as caught:
            await run_pipeline(document, inputs, Steps())
        assert caught.value.status == 422
