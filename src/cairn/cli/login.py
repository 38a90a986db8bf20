"""Reach a cloud's API from the command line: its URL and an identity token.

The token is ``--token`` or ``OS_TOKEN``; without one, a password login (a
project-scoped token) with the credentials of a cloud in ``clouds.yaml``,
named by ``--os-cloud`` or ``OS_CLOUD``, looked for where the OpenStack
clients look (``OS_CLIENT_CONFIG_FILE``, ``./clouds.yaml``,
``~/.config/openstack/clouds.yaml``, ``/etc/openstack/clouds.yaml``). The
cloud's URL is ``--url``, else the origin of that cloud's ``auth_url``
(``cairn up`` writes a clouds.yaml with both clouds it creates); the login
goes to that URL's identity service.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from yarl import URL

from cairn.errors import CairnError


class LoginError(CairnError):
    """No URL or token could be found or obtained; the message says why."""


def clouds_files() -> list[Path]:
    named = os.environ.get("OS_CLIENT_CONFIG_FILE")
    places = [Path(named)] if named else []
    places += [
        Path.cwd() / "clouds.yaml",
        Path.home() / ".config" / "openstack" / "clouds.yaml",
        Path("/etc/openstack/clouds.yaml"),
    ]
    return places


def find_cloud(name: str) -> dict[str, Any]:
    for path in clouds_files():
        if not path.is_file():
            continue
        try:
            clouds = (yaml.safe_load(path.read_text()) or {}).get("clouds") or {}
        except (OSError, yaml.YAMLError) as exc:
            raise LoginError(f"cannot read {path}: {exc}") from None
        if name in clouds:
            return dict(clouds[name])
    looked = ", ".join(str(p) for p in clouds_files())
    raise LoginError(f"no cloud named {name!r} in clouds.yaml (looked in {looked})")


@dataclass(frozen=True)
class Login:
    url: str
    token: str

    @classmethod
    async def resolve(
        cls, session: aiohttp.ClientSession, url: str | None, token: str | None,
        cloud_name: str | None,
    ) -> Login:  # fmt: skip
        token = token or os.environ.get("OS_TOKEN")
        cloud_name = cloud_name or os.environ.get("OS_CLOUD")
        cloud = find_cloud(cloud_name) if cloud_name and not (url and token) else None
        auth = (cloud or {}).get("auth") or {}
        if url is None:
            if not auth.get("auth_url"):
                raise LoginError("give --url, or --os-cloud naming a cloud with an auth_url")
            url = str(URL(auth["auth_url"]).origin())
        if token:
            return cls(url, token)
        if cloud is None:
            raise LoginError("give --token (or OS_TOKEN), or --os-cloud (or OS_CLOUD) to log in")
        return cls(url, await _password_login(session, url + "/identity/v3", auth))


async def _password_login(
    session: aiohttp.ClientSession, auth_url: str, auth: dict[str, Any]
) -> str:
    """A token for the cloud's credentials, by the one Keystone client Cairn's
    tools share (the compute agent's :class:`PasswordAuth`)."""
    from cairn.agents.compute.keystone_auth import AuthFailed, PasswordAuth

    try:
        token = await PasswordAuth.from_auth(auth, auth_url=auth_url).token(session)
    except AuthFailed as exc:
        raise LoginError(f"the login at {auth_url} was refused: {exc}") from None
    except CairnError as exc:  # Keystone did not answer
        raise LoginError(str(exc)) from None
    return token.value
