"""Argument collection and content negotiation shared by both contracts."""

from __future__ import annotations

import pytest

from modelport.contract.base import RawArgs, Signature, choose_accept, negotiate
from modelport.contract.files import UploadedFile
from modelport.errors import InvalidInput

CHOICES = ("application/json", "text/plain", "image/png")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "*/*"),
        ("image/png", "image/png"),
        ("image/*", "image/png"),
        ("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", "*/*"),
        ("application/json;q=0.5, text/plain;q=0.9", "text/plain"),
        ("text/plain;q=0, image/png", "image/png"),
    ],
)
def test_negotiate(header: str | None, expected: str) -> None:
    assert negotiate(header, CHOICES) == expected


def test_negotiate_without_a_match_names_accept() -> None:
    with pytest.raises(InvalidInput) as caught:
        negotiate("video/mp4", CHOICES)
    assert caught.value.errors == {
        "accept": ["Must be one of: application/json, text/plain, image/png."]
    }


def test_explicit_accept_argument_wins_over_the_header() -> None:
    raw = RawArgs(accept="image/png")
    raw.add("accept", "text/plain")
    assert choose_accept(raw, CHOICES) == "text/plain"
    assert choose_accept(RawArgs(json={"accept": "*/*"}), CHOICES) == "*/*"
    with pytest.raises(InvalidInput):
        choose_accept(RawArgs(json={"accept": "application/xml"}), CHOICES)


def test_collect_prefers_json_keeps_lists_and_drops_blank_non_strings(tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    sig = Signature(
        {
            "type": "object",
            "properties": {
                "n": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "text": {"type": "string"},
                "opt": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "f": {"type": "string", "format": "binary"},
            },
        }
    )
    raw = RawArgs(json={"n": 3})
    raw.add("n", "9")
    raw.add("tags", "a")
    raw.add("tags", "b")
    raw.add("text", "")
    raw.add("opt", "")
    raw.add("f", UploadedFile("f", str(empty), "application/octet-stream", ""))
    raw.add("unknown", "x")
    assert sig.collect(raw) == {"n": 3, "tags": ["a", "b"], "text": ""}
    assert sig.files() == ["f"]
