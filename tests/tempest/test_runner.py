"""scripts/tempest's reading of results and its check against the expected-failures
list (Tempest itself runs in CI's own step: `scripts/tempest --check`)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def runner() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("tempest_runner", str(REPO / "scripts/tempest"))
    spec = importlib.util.spec_from_loader("tempest_runner", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_ids_lose_the_attribute_suffix_and_fixtures_are_named_by_class(runner: ModuleType) -> None:
    assert runner.normal("tempest.api.a.B.test_c[id-1234,smoke]") == "tempest.api.a.B.test_c"
    assert runner.normal("setUpClass (tempest.api.a.B)") == "tempest.api.a.B.setUpClass"
    assert runner.service_of("setUpClass (tempest.api.image.v2.B)") == "image"


def test_every_listed_test_has_a_reason(runner: ModuleType) -> None:
    lines = [line for line in runner.EXPECTED.read_text().splitlines()
             if line.strip() and not line.startswith("#")]  # fmt: skip
    assert lines
    for line in lines:
        test_id, _, why = line.partition("  # ")
        assert test_id.startswith("tempest.api."), line
        assert len(why.strip()) > 10, line
        assert runner.normal(test_id) == test_id, line


def test_the_check_fails_on_new_failures_and_on_listed_passes(
    runner: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = tmp_path / "expected.txt"
    listed.write_text("# a comment\ntempest.api.image.v2.A.test_b  # 404 GET /image/v2/b\n")
    monkeypatch.setattr(runner, "EXPECTED", listed)
    failing = ("failed", "404 GET /image/v2/b")
    assert runner.check(["image"], {"tempest.api.image.v2.A.test_b": failing}) == 0
    assert runner.check(["image"], {"tempest.api.image.v2.A.test_b": ("passed", "")}) == 1
    new = {"tempest.api.image.v2.A.test_c": ("failed", "500")}
    assert runner.check(["image"], new) == 1
    # a service not checked is not judged
    assert runner.check(["identity"], {"tempest.api.image.v2.A.test_b": ("passed", "")}) == 0


def test_a_failure_reason_is_the_failing_request(runner: ModuleType) -> None:
    text = (
        "pythonlogging:'': {{{\n"
        "INFO [tempest.lib.common.rest_client] Request (T:test_x): 404 PUT "
        "http://127.0.0.1:5000/identity/v3/domains/8d5795399d794bd0afcb39625a3652c8/config 0.001s\n"
        '}}}\n\nTraceback (most recent call last):\n  File "x.py", line 1, in f\n    g()\n'
        "tempest.lib.exceptions.NotFound: Object not found\n"
        "Details: {'code': 404, 'title': 'Not Found', "
        "'message': 'The resource could not be found.'}\n"
    )
    assert runner.reason(text) == (
        "404 PUT /identity/v3/domains/<id>/config: The resource could not be found."
    )
