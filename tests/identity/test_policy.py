"""The policy engine: oslo.policy's language, the defaults, and a YAML override."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.identity.policy import Credentials, PolicyEngine, PolicyError, parse_rule


def creds(*roles: str, project: str | None = "p1", **extra: str | None) -> Credentials:
    return Credentials(
        user_id="u1", user_domain_id="default", roles=frozenset(roles), project_id=project,
        **extra,  # type: ignore[arg-type]
    )  # fmt: skip


ENGINE = PolicyEngine()


@pytest.mark.parametrize(
    ("rule", "who", "target", "allowed"),
    [
        ("admin_or_project_reader", creds("reader"), {"project_id": "p1"}, True),
        ("admin_or_project_reader", creds("reader"), {"project_id": "p2"}, False),
        ("admin_or_project_member", creds("reader"), {"project_id": "p1"}, False),
        ("admin_or_project_member", creds("member", "reader"), {"project_id": "p1"}, True),
        ("admin_or_project_member", creds("admin"), {"project_id": "p2"}, True),
        ("identity:get_project", creds("reader"), {"target.project.id": "p1"}, True),
        ("identity:get_project", creds("member"), {"target.project.id": "p2"}, False),
        ("identity:list_projects", creds("member"), {}, False),
        ("identity:list_projects", creds("admin"), {}, True),
        ("identity:get_user", creds("member"), {"target.user.id": "u1"}, True),
        ("identity:get_user", creds("member"), {"target.user.id": "u2"}, False),
        ("identity:list_services", creds("reader", project=None, system_scope="all"), {}, True),
        ("no-such-rule", creds("member"), {}, False),  # falls back to "default"
        ("no-such-rule", creds("admin"), {}, True),
    ],
)
def test_defaults(rule: str, who: Credentials, target: dict[str, str], allowed: bool) -> None:
    assert ENGINE.check(rule, who, target) is allowed


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("@", True),
        ("!", False),
        ("", True),
        ("role:member or role:admin", True),
        ("role:member and not role:reader", False),
        ("(role:admin or role:member) and project_id:%(project_id)s", True),
        ("((role:admin) or (role:member and project_id:p1))", True),
        ("project_id:p2", False),
        ("user_id:'u1'", True),
    ],
)
def test_the_language(text: str, allowed: bool) -> None:
    assert parse_rule(text)(creds("member", "reader"), {"project_id": "p1"}, ENGINE) is allowed


@pytest.mark.parametrize("text", ["role:a or", "(role:a", "role:a)", "and role:a", "nocolon"])
def test_bad_rules_are_refused(text: str) -> None:
    with pytest.raises(PolicyError):
        parse_rule(text)


def test_a_yaml_file_overrides_a_rule(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text('"identity:list_projects": "role:reader"\n"custom": "rule:admin_required"\n')
    engine = PolicyEngine.from_file(path)
    assert engine.check("identity:list_projects", creds("reader"), {})
    assert not engine.check("custom", creds("member"), {})
    path.write_text("- a list\n")
    with pytest.raises(PolicyError):
        PolicyEngine.from_file(path)
    path.write_text('"x": "role:a or"\n')
    with pytest.raises(PolicyError):
        PolicyEngine.from_file(path)


def test_a_rule_that_refers_to_itself_is_an_error() -> None:
    engine = PolicyEngine({"loop": "rule:loop"})
    with pytest.raises(PolicyError):
        engine.check("loop", creds("admin"), {})
