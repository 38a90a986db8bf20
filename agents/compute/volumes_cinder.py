"""The volume connector on the block storage service's Cinder v3 HTTP API.

What a compute host asks Cinder around a hot-plug, as the cloud's admin:
``os-initialize_connection`` with the host's connector (the connection info
that says how this host reaches the volume), ``os-terminate_connection`` when
the guest let go, and a volume's deletion (a server's volume that was to go
with it). The endpoint is the ``block-storage`` (or ``volumev3``) entry of the
token's catalog; a 401 renews the token once, and a 5xx or a connection
failure is retried briefly, as the image source does.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any
from urllib.parse import quote

import aiohttp

from cairn.agents.compute.keystone_auth import AgentSession, CloudsYamlAuth, PasswordAuth
from cairn.errors import CairnError


class VolumeServiceError(CairnError):
    """The block storage service refused or did not answer."""


class VolumeGone(VolumeServiceError):
    """The volume does not exist (any more)."""


def connector(host: str) -> dict[str, Any]:
    """This compute host as Cinder's connector describes one (os-brick's keys)."""
    return {
        "host": host,
        "hostname": socket.gethostname(),
        "platform": "x86_64",
        "os_type": "linux",
        "multipath": False,
        "protocols": ["file"],
    }


class CinderVolumes(AgentSession):
    def __init__(
        self, auth: PasswordAuth | CloudsYamlAuth, *, retry_for: float = 30.0, timeout: float = 30.0
    ) -> None:
        self.auth = auth
        self._retry_for = retry_for
        super().__init__(timeout)

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        session = self._client()
        deadline = time.monotonic() + self._retry_for
        delay, renewed = 0.2, False
        while True:
            try:
                token = await self.auth.token(session)
                base = token.endpoint("block-storage") or token.endpoint("volumev3")
                if base is None:
                    raise VolumeServiceError("the service catalog has no block-storage endpoint")
                async with session.request(
                    method,
                    f"{base.rstrip('/')}{path}",
                    json=body,
                    headers={"X-Auth-Token": token.value},
                ) as response:
                    if response.status == 401 and not renewed:
                        self.auth.invalidate()
                        renewed = True
                        continue
                    if response.status < 300:
                        return await response.json() if await response.read() else None
                    text = (await response.text())[:300]
                    if response.status == 404:
                        raise VolumeGone(f"the block storage service answered 404: {text}")
                    if response.status < 500:
                        raise VolumeServiceError(
                            f"the block storage service answered {response.status}: {text}"
                        )
                    failure = VolumeServiceError(
                        f"the block storage service answered {response.status}"
                    )
            except aiohttp.ClientError as exc:
                failure = VolumeServiceError(f"the block storage service: {exc}")
            if time.monotonic() + delay > deadline:
                raise failure
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _action(self, volume_id: str) -> str:
        return f"/volumes/{quote(volume_id, safe='')}/action"

    async def initialize_connection(self, volume_id: str, host: str) -> dict[str, Any]:
        """The connection info for this host (``driver_volume_type``, ``data``)."""
        answer = await self._call(
            "POST",
            self._action(volume_id),
            {"os-initialize_connection": {"connector": connector(host)}},
        )
        info: dict[str, Any] = answer["connection_info"]
        return info

    async def terminate_connection(self, volume_id: str, host: str) -> None:
        body = {"os-terminate_connection": {"connector": connector(host)}}
        await self._call("POST", self._action(volume_id), body)

    async def reserve(self, volume_id: str) -> None:
        await self._call("POST", self._action(volume_id), {"os-reserve": {}})

    async def show(self, volume_id: str) -> dict[str, Any]:
        answer = await self._call("GET", f"/volumes/{quote(volume_id, safe='')}")
        volume: dict[str, Any] = answer["volume"]
        return volume

    async def delete(self, volume_id: str) -> None:
        await self._call("DELETE", f"/volumes/{quote(volume_id, safe='')}")
