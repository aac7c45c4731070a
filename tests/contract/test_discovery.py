"""Discovery through entry points, import paths and $DEEPAAS_V2_MODEL."""

from __future__ import annotations

import pytest

from modelport.contract import discovery
from modelport.errors import ModelLoadError, NotFound


def test_discover_lists_both_groups() -> None:
    refs = {r.name: r for r in discovery.discover()}
    assert refs["echo"].kind == "typed"
    assert refs["legacy"].kind == "deepaas"
    assert refs["legacy"].target == "mp_fixtures.legacy"
    assert refs["legacy"].distribution == "mp-fixtures"
    assert refs["iris"].target == "modelport.examples.iris:IrisClassifier"


def test_load_by_entry_point_name_keeps_that_name() -> None:
    model = discovery.load("legacy")
    assert (model.name, model.kind) == ("legacy", "deepaas")
    assert "deepaas.v2.model entry point 'legacy'" in model.source


def test_load_by_import_path() -> None:
    assert discovery.load("mp_fixtures.typed:Echo").name == "echo"
    assert discovery.load("mp_fixtures.legacy").kind == "deepaas"
    assert discovery.load("mp_fixtures.legacy").name == "mp_fixtures"
    assert discovery.load("modelport.examples.iris").name == "iris"  # the module's only Model


def test_unknown_names_list_what_is_installed() -> None:
    with pytest.raises(NotFound, match="no model named 'nothing'") as caught:
        discovery.load("nothing")
    assert "legacy" in caught.value.message


def test_import_failure_names_the_module_and_the_cause() -> None:
    with pytest.raises(ModelLoadError) as caught:
        discovery.load("broken-import")
    message = caught.value.message
    assert "broken-import" in message
    assert "mp_fixtures.broken_import" in message
    assert "No module named 'a_module_that_does_not_exist'" in message


def test_not_a_model() -> None:
    with pytest.raises(ModelLoadError, match="neither a modelport Model nor a DEEPaaS"):
        discovery.load("json:JSONDecoder")


def test_default_specs_follow_deepaas_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPAAS_V2_MODEL", "legacy")
    assert discovery.default_specs() == ["legacy"]
    monkeypatch.delenv("DEEPAAS_V2_MODEL")
    assert {"legacy", "echo", "iris"} <= set(discovery.default_specs())
