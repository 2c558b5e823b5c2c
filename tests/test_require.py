"""``require()``: a missing outside dependency skips locally and fails under CI, whatever
truthy spelling the CI service gives ``CI``."""

from __future__ import annotations

import pytest

from tests.conftest import require, require_module


@pytest.mark.parametrize("value", ["true", "True", "TRUE", "1", "yes", "Yes", " true "])
def test_a_missing_dependency_fails_under_any_truthy_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="required in CI: no frobnicator"):
        require(False, "no frobnicator")
    with pytest.raises(pytest.fail.Exception, match="not_a_module_anywhere"):
        require_module("not_a_module_anywhere")


@pytest.mark.parametrize("value", [None, "", "0", "false", "no"])
def test_a_missing_dependency_skips_outside_ci(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match="no frobnicator"):
        require(False, "no frobnicator")
    with pytest.raises(pytest.skip.Exception):
        require_module("not_a_module_anywhere")


def test_a_present_dependency_passes_and_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    require(True, "unused")
    assert require_module("json").dumps([1]) == "[1]"
