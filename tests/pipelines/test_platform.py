"""Pipelines through the platform's HTTP API, each step in its module's own worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from modelport.catalog.setup import build_catalog_service
from modelport.settings import Settings
from tests.gateway.conftest import META

pytestmark = pytest.mark.slow

WORDS = {
    "name": "loud-words",
    "version": "1.0.0",
    "metadata": {"title": "Loud words", "summary": "Every word of a text, shouted."},
    "steps": [
        {"id": "split", "module": "split", "inputs": {"text": "$input.text"}},
        {
            "id": "shout",
            "module": "shout",
            "for_each": "$steps.split.words",
            "max_parallel": 3,
            "inputs": {"word": "$item.word", "marks": "$input.marks"},
            "collect": {"at": "$item.position", "loud": "$output.upper"},
        },
    ],
    "output": {"count": "$steps.split.count", "words": "$steps.shout"},
}


async def publish(http: httpx.AsyncClient, document: dict[str, Any]) -> httpx.Response:
    return await http.post("/pipelines", json=document)


async def test_a_fan_out_pipeline_is_published_and_called_like_a_module(
    platform: httpx.AsyncClient,
) -> None:
    checked = await platform.post("/pipelines/check", json=WORDS)
    assert checked.status_code == 200, checked.text
    assert checked.json()["inputs"]["required"] == ["text"]
    assert set(checked.json()["inputs"]["properties"]) == {"text", "marks"}
    published = await publish(platform, WORDS)
    assert published.status_code == 201, published.text
    assert published.json()["pipeline"]["document"]["name"] == "loud-words"

    answer = await platform.post(
        "/v2/models/loud-words/predict/", json={"text": "a b c d e", "marks": 2}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "count": 5,
        "words": [{"at": i, "loud": f"{w}!!"} for i, w in enumerate("ABCDE")],
    }
    timing = answer.headers["server-timing"]
    assert "split;dur=" in timing
    assert 'desc="shout 1.0.0"' in timing
    assert "pipeline;dur=" in timing
    assert answer.headers["x-modelport-model-version"] == "1.0.0"

    # a form works too (values as text), and the optional input may be left out
    form = await platform.post("/v2/models/loud-words/predict/", data={"text": "hi"})
    assert form.json() == {"count": 1, "words": [{"at": 0, "loud": "HI!"}]}

    # it is a catalog module: listed, with metadata and its own OpenAPI document
    module = await platform.get("/catalog/modules/loud-words")
    assert module.status_code == 200
    openapi = (await platform.get("/v2/models/loud-words/openapi.json")).json()
    operation = openapi["paths"]["/v2/models/loud-words/predict/"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["text"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["type"] == (
        "object"
    )

    page = await platform.get("/dashboard/modules/loud-words")
    assert page.status_code == 200
    assert "once per item of $steps.split.words, 3 at a time" in page.text
    assert 'href="/dashboard/modules/shout"' in page.text
    assert "/dashboard/modules/loud-words/train" not in page.text  # a pipeline is not trained

    missing = await platform.post("/v2/models/loud-words/predict/", json={})
    assert missing.status_code == 422
    assert "text" in missing.json()


async def test_a_failing_step_is_named_with_its_item(platform: httpx.AsyncClient) -> None:
    assert (await publish(platform, WORDS)).status_code == 201
    crashed = await platform.post("/v2/models/loud-words/predict/", json={"text": "fine boom fine"})
    assert crashed.status_code == 502, crashed.text
    body = crashed.json()
    assert body["step"] == "shout"
    assert body["item"] == 1
    assert body["step_status"] == 500
    assert body["module"] == "shout"
    assert body["version"] == "1.0.0"
    assert "step 'shout' (item 1)" in body["message"]
    assert "Traceback" not in crashed.text

    refused = await platform.post("/v2/models/loud-words/predict/", json={"text": "bad"})
    assert refused.status_code == 422
    assert refused.json()["step"] == "shout"
    assert refused.json()["detail"] == {"word": ["not this word"]}


async def test_publish_refuses_loops_and_links_that_do_not_fit(
    platform: httpx.AsyncClient,
) -> None:
    loop = {
        **WORDS,
        "steps": [
            {"id": "a", "module": "shout", "inputs": {"word": "$steps.b.upper"}},
            {"id": "b", "module": "shout", "inputs": {"word": "$steps.a.upper"}},
        ],
        "output": "$steps.b",
    }
    refused = await publish(platform, loop)
    assert refused.status_code == 422
    assert "loop (a → b → a)" in refused.json()["steps"][0]

    wrong_type = {
        **WORDS,
        "steps": [
            {"id": "split", "module": "split", "inputs": {"text": "$input.text"}},
            {"id": "count", "module": "count", "inputs": {"n": "$steps.split.words"}},
        ],
        "output": "$steps.count",
    }
    refused = await publish(platform, wrong_type)
    assert refused.status_code == 422, refused.text
    message = refused.json()["steps[1].inputs.n"][0]
    assert "an integer is wanted, but a list of an object (Word) is given" in message

    typo = {
        **WORDS,
        "steps": [
            {"id": "split", "module": "split", "inputs": {"txt": "$input.text"}},
            {"id": "up", "module": "shout", "inputs": {"word": "$steps.split.wrds"}},
            {"id": "gone", "module": "no-such-module", "inputs": {}},
        ],
        "output": "$steps.up",
    }
    refused = await publish(platform, typo)
    errors = refused.json()
    assert refused.status_code == 422
    assert errors == {"steps[2].module": ["module 'no-such-module' not found"]}
    del typo["steps"][2]  # type: ignore[attr-defined]
    errors = (await publish(platform, typo)).json()
    assert (
        "split latest (1.0.0) has no input 'txt' (its inputs: limit, text)"
        in errors["steps[0].inputs.txt"]
    )
    assert "split latest (1.0.0) requires the input 'text'" in errors["steps[0].inputs"]
    assert "there is no 'wrds' (there is: count, words)" in errors["steps[1].inputs.word"][0]

    literal = {**WORDS, "steps": [{**WORDS["steps"][0], "inputs": {"text": 5}}]}  # type: ignore[list-item, dict-item]
    literal["output"] = "$steps.split"
    errors = (await publish(platform, literal)).json()
    assert "5 is not valid here" in errors["steps[0].inputs.text"][0]
    # nothing was published
    assert (await platform.get("/catalog/modules/loud-words")).status_code == 404


async def test_a_switch_and_a_file_flowing_between_steps(platform: httpx.AsyncClient) -> None:
    document = {
        "name": "file-and-switch",
        "version": "1.0.0",
        "steps": [
            {"id": "invert", "module": "invert", "inputs": {"data": "$input.data"}},
            {"id": "measure", "module": "measure", "inputs": {"data": "$steps.invert"}},
            {
                "id": "tone",
                "switch": "$input.tone",
                "cases": {
                    "loud": {"module": "shout", "inputs": {"word": "$input.word"}},
                    "quiet": {"module": "whisper", "inputs": {"word": "$input.word"}},
                },
            },
        ],
        "output": {"measured": "$steps.measure", "said": "$steps.tone.upper"},
    }
    assert (await publish(platform, document)).status_code == 201
    url = "/v2/models/file-and-switch/predict/"
    files = {"data": ("x.bin", b"\x00\x10\x20", "application/octet-stream")}
    answer = await platform.post(url, data={"tone": "quiet", "word": "HeLLo"}, files=files)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"measured": {"size": 3, "first": 255}, "said": "hello"}
    loud = await platform.post(url, data={"tone": "loud", "word": "hey"}, files=files)
    assert loud.json()["said"] == "HEY!"
    unknown = await platform.post(url, data={"tone": "odd", "word": "hey"}, files=files)
    assert unknown.status_code == 422
    assert unknown.json()["step"] == "tone"
    assert "no case for 'odd'" in unknown.json()["message"]
    openapi = (await platform.get("/v2/models/file-and-switch/openapi.json")).json()
    content = openapi["paths"]["/v2/models/file-and-switch/predict/"]["post"]["requestBody"]
    assert content["content"]["multipart/form-data"]["schema"]["properties"]["data"] == {
        "type": "string",
        "format": "binary",
        "title": "Data",
    }


async def test_try_runs_a_document_without_publishing_it(platform: httpx.AsyncClient) -> None:
    tried = await platform.post(
        "/pipelines/try", json={"document": WORDS, "inputs": {"text": "x y"}}
    )
    assert tried.status_code == 200, tried.text
    assert tried.json()["count"] == 2
    assert (await platform.get("/catalog/modules/loud-words")).status_code == 404
    deep = await platform.post(
        "/pipelines/check", content=b"[" * 100_000, headers={"content-type": "application/json"}
    )
    assert deep.status_code == 400
    assert deep.json() == {"document": ["the body is not JSON (or nested too deeply)"]}
    yaml_deep = await platform.post(
        "/pipelines/check", content=b"a: " + b"[" * 100_000, headers={"content-type": "text/plain"}
    )
    assert yaml_deep.status_code == 422
    interface = (await platform.get("/pipelines/interfaces/shout")).json()
    assert interface["required"] == ["word"]
    assert interface["output"]["type"] == "object"


async def test_a_step_naming_an_alias_under_a_rollout_is_split_like_any_call(
    platform: httpx.AsyncClient, tmp_path: Path
) -> None:
    # "shout" 2.0.0 whispers: a canary that answers differently
    catalog = build_catalog_service(Settings(data_dir=tmp_path / "data"))
    catalog.registry.publish(
        "shout", "2.0.0", META, load_spec="mp_fixtures.pipes:Whisper", package="mp_fixtures"
    )
    started = await platform.put(
        "/catalog/modules/shout/rollouts/stable",
        json={"primary": "1.0.0", "canary": "2.0.0", "weight": 100},
    )
    assert started.status_code in (200, 201), started.text
    staged = {
        **WORDS,
        "name": "staged-words",
        "steps": [
            WORDS["steps"][0],
            {**WORDS["steps"][1], "ref": "stable", "inputs": {"word": "$item.word"}},
        ],
    }
    assert (await publish(platform, staged)).status_code == 201
    answer = await platform.post("/v2/models/staged-words/predict/", json={"text": "Ab Cd"})
    assert answer.status_code == 200, answer.text
    assert [w["loud"] for w in answer.json()["words"]] == ["ab", "cd"]  # the canary's answers
    assert 'desc="shout 2.0.0"' in answer.headers["server-timing"]


async def test_a_pipeline_itself_is_not_rolled_out(platform: httpx.AsyncClient) -> None:
    assert (await publish(platform, WORDS)).status_code == 201
    newer = {**WORDS, "version": "1.1.0"}
    assert (await publish(platform, newer)).status_code == 201
    refused = await platform.put(
        "/catalog/modules/loud-words/rollouts/stable",
        json={"primary": "1.0.0", "canary": "1.1.0", "weight": 10},
    )
    assert refused.status_code == 409
    assert "is a pipeline: roll out the modules of its steps" in refused.json()["message"]
