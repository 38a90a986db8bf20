"""Server body fields that boot and update share: access addresses, and tags at boot.

``accessIPv4``/``accessIPv6`` are what the user says the server is reached at
(behind a NAT, say): Nova records and shows them and configures nothing; an
empty string clears one. Nova's schema checks their format. Tags at boot
arrived in 2.52 and follow the tag API's rules (:mod:`cairn.compute.tags`).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from aiohttp import web

from cairn.api.compute.common import invalid, v
from cairn.api.faults import HTTPFault
from cairn.compute import tags


def _address(data: dict[str, Any], key: str, version: int, current: str) -> str:
    if key not in data:
        return current
    raw = data[key]
    if raw == "" or raw is None:
        return ""
    kind = f"ipv{version}"
    try:
        if not isinstance(raw, str) or ipaddress.ip_address(raw).version != version:
            raise ValueError(raw)
    except ValueError:
        raise invalid(key, raw, f"{raw!r} is not a '{kind}'") from None
    return str(ipaddress.ip_address(raw))


def access_ips(data: dict[str, Any], current: tuple[str, str] = ("", "")) -> tuple[str, str]:
    """``(accessIPv4, accessIPv6)`` of ``data``, keeping ``current`` where absent."""
    return (
        _address(data, "accessIPv4", 4, current[0]),
        _address(data, "accessIPv6", 6, current[1]),
    )


def boot_tags(request: web.Request, data: dict[str, Any]) -> list[str]:
    """The boot's ``tags`` (2.52+; before, the property does not exist)."""
    if "tags" not in data:
        return []
    if v(request) < (2, 52):
        raise HTTPFault.bad_request(
            "Invalid input for field/attribute server. Additional properties are not allowed "
            "('tags' was unexpected)"
        )
    raw = data["tags"]
    if not isinstance(raw, list):
        raise invalid("tags", raw, f"{raw!r} is not of type 'array'")
    for tag in raw:
        problem = tags.tag_problem(tag)
        if problem is not None:
            raise invalid("tags", tag, problem)
    unique = list(dict.fromkeys(raw))
    if len(unique) > tags.MAX_TAGS:
        raise HTTPFault.bad_request(
            f"The number of tags exceeded the per-server limit {tags.MAX_TAGS}"
        )
    return unique
