"""Secrets are withheld by type and field, and by field name for types not yet known."""

from __future__ import annotations

import json

import pytest

from cairn.stream.redact import REDACTED, redact


def withheld(event_type: str, data: dict[str, object]) -> object:
    return json.loads(redact(event_type, json.dumps(data).encode()))


def test_known_secret_fields_are_withheld_and_nulls_stay() -> None:
    assert withheld("UserCreated", {"user_id": "u", "password_hash": "$2b$04$x"}) == {
        "user_id": "u",
        "password_hash": REDACTED,
    }
    assert withheld("UserCreated", {"user_id": "u", "password_hash": None}) == {
        "user_id": "u",
        "password_hash": None,
    }
    assert withheld("CredentialCreated", {"sealed_blob": "abc", "type": "ec2"}) == {
        "sealed_blob": REDACTED,
        "type": "ec2",
    }


def test_a_servers_user_data_is_withheld() -> None:
    """Nova shows user_data to admins only (extended attributes policy)."""
    data = {"server_id": "s1", "project_id": "p", "user_data": "I2Nsb3VkLWNvbmZpZw=="}
    assert withheld("ServerCreateRequested", data) == {**data, "user_data": REDACTED}
    assert withheld("ServerCreateRequested", {**data, "user_data": None})["user_data"] is None


@pytest.mark.parametrize(
    "key",
    ["password", "adminPass", "admin_pass", "db_password", "secret", "secret_hash",
     "private_key", "key_material", "token", "auth_token", "passphrase"],
)  # fmt: skip
def test_secret_names_are_withheld_at_any_depth(key: str) -> None:
    data = {"a": [{"b": {key: "s3cret"}}], key: {"x": 1}}
    assert withheld("SomeFutureEvent", data) == {"a": [{"b": {key: REDACTED}}], key: REDACTED}


@pytest.mark.parametrize("key", ["method", "token_id", "audit_id", "public_key", "tokens", "name"])
def test_other_names_are_left_alone(key: str) -> None:
    data = {key: "password"}
    raw = json.dumps(data).encode()
    assert redact("AuthenticationFailed", raw) == raw


def test_payloads_without_telltale_words_are_passed_as_stored() -> None:
    raw = b'{"server_id":"s1","flavor":"m1.tiny"}'
    assert redact("ServerRequested", raw) is raw


def test_a_payload_that_is_not_json_is_withheld_whole() -> None:
    assert json.loads(redact("UserCreated", b"\x00not json")) == REDACTED
