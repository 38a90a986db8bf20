"""Inputs Nova accepts that Cairn does not build yet: refused, never ignored.

A client that sends a ``personality``, or a ``hostname``, and gets 202
believes the cloud did what it asked; when the server then runs without the
file or with another hostname, the answer was a lie. So until a feature is
built, a request that needs it is a 400 ``badRequest`` (the status Nova gives
an input it cannot honour) whose message names the input and says it is not
supported, and nothing is decided.

Each refusal says what is missing. When a feature lands, its input leaves
:data:`BOOT` (or :data:`UPDATE`) and the code that honours it reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cairn.api.faults import HTTPFault
from cairn.events.compute import FlavorSnapshot


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {} or value == ""


Check = Callable[[Any, Mapping[str, Any]], bool]
"""``(value, whole server body) -> whether Cairn can honour it``."""

#: boot input -> (what Cairn can honour, why the rest is refused)
BOOT: dict[str, tuple[Check, str]] = {
    "personality": (
        lambda value, _: _empty(value),
        "Personality (file injection) is not supported: use user_data.",
    ),
    "hostname": (
        lambda value, _: value is None,
        "Setting a server's hostname is not supported: it is derived from its name.",
    ),
    "trusted_image_certificates": (
        lambda value, _: _empty(value),
        "Trusted image certificate validation is not supported.",
    ),
}

#: ``PUT /servers/{id}`` input -> (what Cairn can honour, why the rest is refused)
UPDATE: dict[str, tuple[Check, str]] = {"hostname": BOOT["hostname"]}


def _refuse(rules: Mapping[str, tuple[Check, str]], data: Mapping[str, Any]) -> None:
    for key, (honoured, reason) in rules.items():
        if key in data and not honoured(data[key], data):
            raise HTTPFault.bad_request(reason)


def refuse_unbuilt_boot(data: Mapping[str, Any]) -> None:
    """400 when ``data`` (a ``POST /servers`` server body) needs an unbuilt feature."""
    _refuse(BOOT, data)
    for network in data.get("networks") or ():
        if isinstance(network, dict) and "tag" in network:
            raise HTTPFault.bad_request("Device tagging is not supported.")


def refuse_unbuilt_update(data: Mapping[str, Any]) -> None:
    """400 when ``data`` (a ``PUT /servers/{id}`` server body) needs an unbuilt feature."""
    _refuse(UPDATE, data)


def refuse_unbuilt_flavor(flavor: FlavorSnapshot) -> None:
    """400 when booting ``flavor`` needs what the compute agent does not build:
    a flavor is only data until a server is made of it, so flavors with swap,
    ephemeral disks or extra specs may be created and listed, but a guest
    would silently lack them (the agent makes the root disk only, and no
    filter or driver reads an extra spec)."""
    unbuilt = []
    if flavor.swap_mb:
        unbuilt.append(f"a {flavor.swap_mb} MB swap disk")
    if flavor.ephemeral_gb:
        unbuilt.append(f"a {flavor.ephemeral_gb} GB ephemeral disk")
    if flavor.extra_specs:
        unbuilt.append(f"extra specs ({', '.join(sorted(flavor.extra_specs))})")
    if unbuilt:
        raise HTTPFault.bad_request(
            f"Flavor {flavor.name} asks for {' and '.join(unbuilt)}, which this cloud does "
            f"not support yet: use a flavor without them."
        )
