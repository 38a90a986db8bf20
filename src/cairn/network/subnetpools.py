"""Subnet pools: prefixes that subnets are carved from.

A subnet asked of a pool (``subnetpool_id`` with ``prefixlen``, or a
``cidr`` inside the pool) takes a block on the *pool's* stream
(``AddressesAllocated`` with the pool's id, the block as the address and the
subnet as the owner), at the version the choice saw: two subnets carved at
once never get one block.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cairn.events import network as ev
from cairn.network import quota
from cairn.network.access import Caller, editable, visible
from cairn.network.common import find, new_id, not_found
from cairn.network.config import NetworkConfig
from cairn.network.errors import Conflict, Forbidden, Invalid
from cairn.network.plan import Plan
from cairn.projections.network import Resource, stream_of


def _prefixes(prefixes: list[str]) -> tuple[list[str], int]:
    nets = []
    for text in prefixes:
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise Invalid(
                f"Invalid input for prefixes. Reason: '{text}' is not a valid IP subnet."
            ) from None
    versions = {n.version for n in nets}
    if len(versions) != 1:
        raise Invalid(
            "Invalid input for operation: Illegal subnetpool prefixes: mixed IP versions."
        )
    collapsed = ipaddress.collapse_addresses(nets)  # type: ignore[type-var]
    return [str(n) for n in collapsed], versions.pop()


def create(
    plan: Plan, caller: Caller, config: NetworkConfig, attrs: dict[str, Any], project_id: str
) -> Resource:
    for name in ("shared", "is_default"):
        if attrs.get(name) and not caller.is_admin:
            raise Forbidden(f"(rule:create_subnetpool:{name}) is disallowed by policy")
    prefixes, version = _prefixes(attrs["prefixes"])
    longest = 32 if version == 4 else 128
    shortest = min(ipaddress.ip_network(p).prefixlen for p in prefixes)
    min_len = attrs.get("min_prefixlen", 8 if version == 4 else 64)
    max_len = attrs.get("max_prefixlen", longest)
    default_len = attrs.get("default_prefixlen", min_len)
    if not (0 <= min_len <= default_len <= max_len <= longest):
        raise Invalid(
            "Invalid input for operation: Illegal prefix bounds: "
            f"min_prefixlen={min_len}, default_prefixlen={default_len}, "
            f"max_prefixlen={max_len}."
        )
    min_len = max(min_len, shortest)
    if attrs.get("is_default"):
        for other in plan.resources("subnetpool"):
            if other.get("is_default") and other.get("ip_version") == version:
                raise Invalid(
                    f"Invalid input for operation: A default subnetpool for IPv"
                    f"{version} already exists ({other.id})."
                )
    values: dict[str, Any] = {
        "name": "",
        "description": "",
        "shared": False,
        "is_default": False,
        "address_scope_id": None,
        "default_quota": None,
        "tags": [],
    }
    values.update(attrs)
    values.update(
        {
            "prefixes": prefixes,
            "ip_version": version,
            "min_prefixlen": min_len,
            "max_prefixlen": max_len,
            "default_prefixlen": default_len,
        }
    )
    pool = plan.create("subnetpool", new_id(), project_id, values)
    quota.take(plan, config.quotas, project_id, "subnetpool")
    return pool


def update(plan: Plan, caller: Caller, pool_id: str, attrs: dict[str, Any]) -> Resource:
    pool = find(plan, caller, "subnetpool", pool_id)
    if not editable(caller, pool):
        raise Forbidden(f"(rule:update_subnetpool) is disallowed by policy on {pool_id}")
    if "prefixes" in attrs:
        prefixes, version = _prefixes(attrs["prefixes"])
        if version != pool.get("ip_version"):
            raise Invalid(
                "Invalid input for operation: Illegal subnetpool prefixes: mixed IP versions."
            )
        old = [ipaddress.ip_network(p) for p in pool.get("prefixes")]
        new = [ipaddress.ip_network(p) for p in prefixes]
        if not all(any(o.subnet_of(n) for n in new) for o in old):  # type: ignore[arg-type]
            raise Invalid(
                "Invalid input for operation: Illegal update to prefixes: a prefix "
                "may be extended, never shrunk."
            )
        attrs["prefixes"] = prefixes
    changes = {k: v for k, v in attrs.items() if pool.get(k) != v}
    plan.update(pool, changes)
    return pool


def delete(plan: Plan, caller: Caller, pool_id: str) -> None:
    pool = find(plan, caller, "subnetpool", pool_id)
    if not editable(caller, pool):
        raise Forbidden(f"(rule:delete_subnetpool) is disallowed by policy on {pool_id}")
    if any(s.get("subnetpool_id") == pool_id for s in plan.resources("subnet")):
        raise Conflict(
            f"Subnet pool {pool_id} cannot be deleted: subnets are allocated from it.",
            "SubnetPoolInUse",
        )
    plan.delete(pool)
    plan.record_usage(pool.project_id, "subnetpool")


def pool_for(plan: Plan, caller: Caller, attrs: dict[str, Any]) -> Resource:
    pool_id = attrs.get("subnetpool_id")
    if pool_id:
        pool = plan.find("subnetpool", pool_id)
        if pool is None or not visible(plan.state, caller, pool):
            raise not_found("subnetpool", pool_id)
        return pool
    version = attrs.get("ip_version", 4)
    for pool in plan.resources("subnetpool"):
        if pool.get("is_default") and pool.get("ip_version") == version:
            return pool
    raise Invalid(f"Invalid input for operation: No default subnetpool found for IPv{version}.")


def carve(plan: Plan, pool: Resource, attrs: dict[str, Any], subnet_id: str) -> str:
    """The block the new subnet takes from ``pool``, recorded on the pool's stream."""
    taken = [ipaddress.ip_network(c) for c in plan.in_use(pool.id)]
    if attrs.get("cidr"):
        wanted = ipaddress.ip_network(attrs["cidr"], strict=False)
        if not any(wanted.subnet_of(ipaddress.ip_network(p)) for p in pool.get("prefixes")):  # type: ignore[arg-type]
            raise Invalid(
                f"Invalid input for operation: Cidr {wanted} is not within the "
                f"prefixes of subnet pool {pool.id}."
            )
        if any(wanted.overlaps(t) for t in taken):
            raise Conflict(
                f"Unable to allocate subnet with prefix {wanted}: it overlaps a "
                f"subnet of pool {pool.id}.",
                "SubnetAllocationError",
            )
        block = wanted
    else:
        length = attrs.get("prefixlen") or pool.get("default_prefixlen")
        if not pool.get("min_prefixlen") <= length <= pool.get("max_prefixlen"):
            raise Invalid(
                f"Invalid input for operation: Illegal prefix length {length}; it "
                f"must be from {pool.get('min_prefixlen')} to "
                f"{pool.get('max_prefixlen')}."
            )
        block = _first_free(pool.get("prefixes"), taken, length)
    plan.add(
        stream_of("subnetpool", pool.id),
        ev.AddressesAllocated(subnet_id=pool.id, owner=subnet_id, addresses=[str(block)]),
    )
    plan.taken[pool.id].add(str(block))
    return str(block)


def _first_free(prefixes: list[str], taken: list[Any], length: int) -> Any:
    for prefix in prefixes:
        net = ipaddress.ip_network(prefix)
        if length < net.prefixlen:
            continue
        for candidate in net.subnets(new_prefix=length):
            if not any(candidate.overlaps(t) for t in taken):
                return candidate
    raise Conflict(
        f"Unable to allocate a subnet with prefix length {length}: the pool is exhausted.",
        "SubnetAllocationError",
    )


def give_back(plan: Plan, subnet: Resource) -> None:
    pool_id = subnet.get("subnetpool_id")
    if plan.find("subnetpool", pool_id) is None:
        return
    plan.add(
        stream_of("subnetpool", pool_id),
        ev.AddressesReleased(subnet_id=pool_id, owner=subnet.id, addresses=[subnet.get("cidr")]),
    )
