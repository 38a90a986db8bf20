"""``cairn events tail`` logs in with the one Keystone client Cairn's tools share
(agents/compute/keystone_auth.py's PasswordAuth), not a second copy."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from cairn.agents.compute import keystone_auth
from cairn.agents.compute.keystone_auth import PasswordAuth, Token
from cairn.cli.login import Login


async def test_a_clouds_yaml_login_goes_through_password_auth(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    used: list[PasswordAuth] = []

    async def token(self: PasswordAuth, session: aiohttp.ClientSession) -> Token:
        used.append(self)
        return Token("t-1", 0.0, [])

    monkeypatch.setattr(keystone_auth.PasswordAuth, "token", token)
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        "clouds:\n  c:\n    auth:\n      auth_url: http://x/identity\n      username: u\n"
        "      password: pw\n      project_id: p-1\n      user_domain_id: d-1\n"
    )
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    async with aiohttp.ClientSession() as session:
        login = await Login.resolve(session, None, None, "c")
    assert (login.url, login.token) == ("http://x", "t-1")
    [auth] = used
    assert (auth.auth_url, auth.username, auth.project_id, auth.user_domain_id) == (
        "http://x/identity/v3",
        "u",
        "p-1",
        "d-1",
    )
