"""A Keystone v3 token for the compute agent: password authentication, cached.

The agent talks to other services (the image service) as a user, the way
nova-compute uses its ``[glance]`` / keystoneauth credentials. The all-in-one
default is the ``cairn-admin`` cloud of ``<data-dir>/clouds.yaml``, which
``cairn up`` writes (:meth:`PasswordAuth.from_clouds_yaml`). The token is
reused until a minute before it expires, or until a service answers 401.
The password never appears in a log line or an error message.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from cairn.agents.compute.images import ImageUnavailable
from cairn.errors import CairnError


class AuthFailed(CairnError):
    """Keystone refused the credentials, or they cannot be read."""


#: Renew a token this many seconds before it expires.
RENEW_MARGIN = 60.0


@dataclass
class Token:
    value: str
    expires: float  # time.time() seconds
    catalog: list[dict[str, Any]]

    def endpoint(self, service_type: str, interface: str = "public") -> str | None:
        for service in self.catalog:
            if service.get("type") != service_type:
                continue
            for endpoint in service.get("endpoints", []):
                if endpoint.get("interface") == interface:
                    return str(endpoint["url"]).rstrip("/")
        return None


@dataclass
class PasswordAuth:
    """Project-scoped password authentication against ``auth_url`` (…/identity)."""

    auth_url: str
    username: str
    password: str = field(repr=False)
    project_name: str
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    _token: Token | None = field(default=None, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @classmethod
    def from_clouds_yaml(
        cls, path: Path, cloud: str = "cairn-admin", *, password: str | None = None
    ) -> PasswordAuth:
        """The credentials of ``cloud`` in a ``clouds.yaml``; ``password`` overrides its own."""
        try:
            document = yaml.safe_load(path.read_text())
            auth = document["clouds"][cloud]["auth"]
        except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
            raise AuthFailed(
                f"cannot read the {cloud!r} credentials from {path}: {exc!r}"
            ) from None
        secret = password or auth.get("password")
        if not secret:
            raise AuthFailed(f"{path} has no password for {cloud!r}")
        return cls(
            auth_url=str(auth["auth_url"]).rstrip("/"),
            username=str(auth["username"]),
            password=str(secret),
            project_name=str(auth["project_name"]),
            user_domain_name=str(auth.get("user_domain_name", "Default")),
            project_domain_name=str(auth.get("project_domain_name", "Default")),
        )

    def invalidate(self) -> None:
        """Forget the token (a service answered 401): the next :meth:`token` asks again."""
        self._token = None

    async def token(self, session: aiohttp.ClientSession) -> Token:
        async with self._lock:
            token = self._token
            if token is None or token.expires - RENEW_MARGIN < time.time():
                token = self._token = await self._authenticate(session)
            return token

    async def _authenticate(self, session: aiohttp.ClientSession) -> Token:
        url = self.auth_url if self.auth_url.endswith("/v3") else self.auth_url + "/v3"
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self.username,
                            "domain": {"name": self.user_domain_name},
                            "password": self.password,
                        }
                    },
                },
                "scope": {
                    "project": {
                        "name": self.project_name,
                        "domain": {"name": self.project_domain_name},
                    }
                },
            }
        }
        try:
            async with session.post(url + "/auth/tokens", json=body) as response:
                if response.status in (401, 403):
                    raise AuthFailed(
                        f"Keystone at {url} refused {self.username!r} ({response.status})"
                    )
                if response.status != 201:
                    raise ImageUnavailable(f"Keystone at {url} answered {response.status}")
                value = response.headers["X-Subject-Token"]
                document = await response.json()
        except aiohttp.ClientError as exc:
            raise ImageUnavailable(f"cannot reach Keystone at {url}: {exc}") from exc
        token = document["token"]
        expires = datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00")).timestamp()
        return Token(value, expires, token.get("catalog", []))


class CloudsYamlAuth:
    """:class:`PasswordAuth` with the credentials of ``cloud`` in a ``clouds.yaml``,
    read on first use (``cairn up`` writes the file once identity has started,
    after the agents), and read again after Keystone refused them."""

    def __init__(self, path: Path, cloud: str = "cairn-admin", *, password: str | None = None):
        self.path = path
        self.cloud = cloud
        self._password = password
        self._auth: PasswordAuth | None = None

    def invalidate(self) -> None:
        if self._auth is not None:
            self._auth.invalidate()

    async def token(self, session: aiohttp.ClientSession) -> Token:
        if self._auth is None:
            self._auth = await asyncio.to_thread(
                PasswordAuth.from_clouds_yaml, self.path, self.cloud, password=self._password
            )
        try:
            return await self._auth.token(session)
        except AuthFailed:
            self._auth = None
            raise


class AgentSession:
    """The agent's HTTP session to one of the cloud's services, made on first use
    (inside the event loop) and closed with :meth:`close`."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout, sock_connect=10),
                headers={"User-Agent": "cairn-compute-agent"},
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
