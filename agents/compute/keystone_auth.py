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
    """Password authentication against ``auth_url`` (…/identity), project-scoped
    when a project is named (by name, or by id). Users and projects are named
    within their domain, given by name or by id, as in ``clouds.yaml``. The one
    Keystone client of Cairn's own tools: the agents and ``cairn events tail``."""

    auth_url: str
    username: str
    password: str = field(repr=False)
    project_name: str | None = None
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"
    project_id: str | None = None
    user_domain_id: str | None = None
    project_domain_id: str | None = None
    _token: Token | None = field(default=None, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @classmethod
    def from_auth(
        cls, auth: dict[str, Any], *, auth_url: str | None = None, password: str | None = None
    ) -> PasswordAuth:
        """From the ``auth`` section of a ``clouds.yaml`` cloud (``auth_url``, when
        given, replaces its own; ``password`` its password)."""
        secret = password or auth.get("password")
        url = auth_url or auth.get("auth_url")
        if not secret or not url or not auth.get("username"):
            raise AuthFailed("the cloud's auth needs an auth_url, a username and a password")

        def text(key: str) -> str | None:
            value = auth.get(key)
            return None if value is None else str(value)

        return cls(
            auth_url=str(url).rstrip("/"),
            username=str(auth["username"]),
            password=str(secret),
            project_name=text("project_name"),
            user_domain_name=str(auth.get("user_domain_name") or "Default"),
            project_domain_name=str(auth.get("project_domain_name") or "Default"),
            project_id=text("project_id"),
            user_domain_id=None if auth.get("user_domain_name") else text("user_domain_id"),
            project_domain_id=(
                None if auth.get("project_domain_name") else text("project_domain_id")
            ),
        )

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
        if not (password or (isinstance(auth, dict) and auth.get("password"))):
            raise AuthFailed(f"{path} has no password for {cloud!r}")
        return cls.from_auth(auth, password=password)

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
        user_domain = (
            {"id": self.user_domain_id} if self.user_domain_id else {"name": self.user_domain_name}
        )
        user = {"name": self.username, "domain": user_domain, "password": self.password}
        body: dict[str, Any] = {
            "auth": {"identity": {"methods": ["password"], "password": {"user": user}}}
        }
        if self.project_id:
            body["auth"]["scope"] = {"project": {"id": self.project_id}}
        elif self.project_name:
            project_domain = (
                {"id": self.project_domain_id}
                if self.project_domain_id
                else {"name": self.project_domain_name}
            )
            body["auth"]["scope"] = {
                "project": {"name": self.project_name, "domain": project_domain}
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
