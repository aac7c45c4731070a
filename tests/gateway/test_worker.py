"""The worker's artifact fetching and Model.artifact()."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from modelport import Model
from modelport.contract.typed import MODEL_DIR_ENV
from modelport.errors import NotFound, StoreError
from modelport.gateway.artifacts import materialize
from modelport.storage import ArtifactStore


def stored(store: ArtifactStore, name: str, data: bytes) -> dict[str, object]:
    put = store.put(data)
    return {"name": name, "sha256": put.sha256, "size": put.size}


def test_artifacts_are_fetched_verified_and_reused(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    artifacts = [stored(store, "weights.bin", b"w" * 10), stored(store, "sub/vocab.txt", b"v")]
    target = tmp_path / "models" / "m" / "1.0"
    assert materialize(store.root_url, artifacts, target) == target
    assert (target / "weights.bin").read_bytes() == b"w" * 10
    assert (target / "sub" / "vocab.txt").read_bytes() == b"v"
    (target / "weights.bin").write_bytes(b"changed")  # complete: reused as it is
    materialize(store.root_url, artifacts, target)
    assert (target / "weights.bin").read_bytes() == b"changed"
    assert sorted(p.name for p in target.parent.iterdir()) == ["1.0"]  # no staging left


def test_a_corrupt_or_unsafe_artifact_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    store = ArtifactStore(str(tmp_path / "store"))
    good = stored(store, "weights.bin", b"good")
    digest = str(good["sha256"])
    (tmp_path / "store" / "sha256" / digest[:2] / digest).write_bytes(b"evil")
    target = tmp_path / "models" / "m" / "1.0"
    with pytest.raises(StoreError, match="corrupt"):
        materialize(store.root_url, [good], target)
    unsafe = {**stored(store, "../escape", b"x")}
    with pytest.raises(StoreError, match="not a relative path"):
        materialize(store.root_url, [unsafe], target)
    assert list(target.parent.iterdir()) == []
    assert hashlib.sha256(b"good").hexdigest() == digest


class Weighted(Model):
    """Uses an artifact."""

    def predict(self) -> str:
        return self.artifact("weights.bin").read_text()


def test_model_artifact_names_a_file_of_the_served_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = Weighted()
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    with pytest.raises(NotFound, match="not served from the catalog"):
        model.artifact("weights.bin")
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path))
    (tmp_path / "weights.bin").write_text("w")
    assert model.artifact("weights.bin") == tmp_path / "weights.bin"
    assert model.predict() == "w"
    with pytest.raises(NotFound, match=r"no artifact 'other\.bin'"):
        model.artifact("other.bin")
    with pytest.raises(NotFound):
        model.artifact("../weights.bin")
