"""Reading interfaces from OpenAPI documents, and which schemas fit which."""

from __future__ import annotations

from typing import Any

import pytest

from modelport.pipelines.interfaces import FILE, at_path, fits, interface_of

INTEGER = {"type": "integer"}
NUMBER = {"type": "number"}
STRING = {"type": "string"}
CROP = {"type": "string", "contentEncoding": "base64", "contentMediaType": "image/png"}
BOX = {
    "type": "object",
    "properties": {"box": {"type": "array", "items": INTEGER}, "crop": CROP},
    "required": ["box", "crop"],
}


@pytest.mark.parametrize(
    ("source", "target", "fit"),
    [
        (INTEGER, NUMBER, True),
        (NUMBER, INTEGER, False),
        (STRING, INTEGER, False),
        (CROP, FILE, True),
        ({"type": "string", "format": "byte"}, FILE, True),
        (STRING, FILE, False),
        (FILE, STRING, False),
        ({}, INTEGER, True),  # unknown: judged when it runs
        (INTEGER, {}, True),
        ({"type": "array", "items": INTEGER}, {"type": "array", "items": NUMBER}, True),
        ({"type": "array", "items": STRING}, {"type": "array", "items": NUMBER}, False),
        (
            BOX,
            {"type": "object", "properties": {"box": {"type": "array"}}, "required": ["box"]},
            True,
        ),
        (BOX, {"type": "object", "required": ["label"]}, False),
        ({"anyOf": [INTEGER, {"type": "null"}]}, NUMBER, True),
        ({"anyOf": [INTEGER, STRING]}, NUMBER, False),
        (INTEGER, {"anyOf": [STRING, NUMBER]}, True),
        ({"type": "string", "enum": ["a", "b"]}, {"type": "string", "enum": ["a"]}, False),
        ({"type": "string", "enum": ["a"]}, {"type": "string", "enum": ["a", "b"]}, True),
    ],
)
def test_fits(source: dict[str, Any], target: dict[str, Any], fit: bool) -> None:
    assert (fits(source, target) is None) == fit


def test_the_reason_says_what_is_wanted_and_given() -> None:
    assert fits(STRING, FILE) == "a file is wanted, but a string is given"
    listed = {"type": "array", "items": {"type": "object", "title": "Word"}}
    assert fits(listed, INTEGER) == "an integer is wanted, but a list of an object (Word) is given"


def test_paths_walk_objects_lists_and_optionals() -> None:
    answer = {
        "type": "object",
        "properties": {"objects": {"type": "array", "items": BOX}, "count": INTEGER},
    }
    assert at_path(answer, ("objects", 0, "crop")) == CROP
    assert at_path(answer, ("count",)) == INTEGER
    assert at_path(answer, ("objecs",)) == "there is no 'objecs' (there is: count, objects)"
    assert at_path(answer, ("count", 0)) == "'count' is an integer, not a list"
    optional = {"anyOf": [answer, {"type": "null"}]}
    assert at_path(optional, ("count",)) == INTEGER
    assert at_path({}, ("anything", 3)) == {}
    free = {"type": "object", "additionalProperties": INTEGER}
    assert at_path(free, ("k",)) == INTEGER


def test_an_interface_is_read_from_a_modules_openapi_document() -> None:
    openapi = {
        "paths": {
            "/v2/models/det/predict/": {
                "post": {
                    "requestBody": {
                        "content": {
                            "multipart/form-data": {"schema": {"$ref": "#/components/schemas/Args"}}
                        }
                    },
                    "parameters": [{"in": "query", "name": "q", "schema": STRING}],
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Found"}
                                }
                            }
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Args": {
                    "type": "object",
                    "properties": {"image": FILE, "k": INTEGER},
                    "required": ["image"],
                },
                "Found": {
                    "type": "object",
                    "properties": {
                        "objects": {"type": "array", "items": {"$ref": "#/components/schemas/Box"}}
                    },
                },
                "Box": BOX,
            }
        },
    }
    interface = interface_of(openapi, "det")
    assert interface.inputs == {"image": FILE, "k": INTEGER, "q": STRING}
    assert interface.required == ["image"]
    assert interface.output["properties"]["objects"]["items"] == BOX
    image = {
        **openapi,
        "paths": {
            "/v2/models/det/predict/": {
                "post": {"responses": {"200": {"content": {"image/png": {}}}}}
            }
        },
    }
    assert interface_of(image, "det").output == FILE
    assert interface_of(image, "det").output_media == "image/png"
