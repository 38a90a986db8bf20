"""Placing a new volume: the backend whose capabilities its type asks for.

As Cinder's filter scheduler does with its AvailabilityZone and Capabilities
filters: a backend is a candidate when its agent is registered and not stopped,
its service is neither disabled nor frozen by an admin,
it is in the requested availability zone, and every extra spec of the volume
type that names a capability (unscoped, or scoped ``capabilities:``) matches
what the backend reports. Other scopes (``qos:``, ``hw:``, ...) are left to
others. Among the candidates the one with the most free capacity wins (Cinder's
CapacityWeigher). No candidate: the volume is made in ``error`` at once, with a
user message saying so.
"""

from __future__ import annotations

from cairn.projections.volume import Backend, VolumeState, VolumeType

VENDOR = "Cairn"
PROTOCOL = "file"


def capabilities(backend: Backend) -> dict[str, str]:
    """What a backend reports to the scheduler (and to pools and capabilities)."""
    return {
        "volume_backend_name": backend.driver,
        "vendor_name": VENDOR,
        "storage_protocol": PROTOCOL,
        "driver_version": backend.driver_version,
        "QoS_support": "False",
        "multiattach": "False",
        "thin_provisioning_support": "True" if backend.volume_format == "qcow2" else "False",
    }


def _matches(wanted: str, have: str) -> bool:
    """Cinder's extra-spec operators that matter here: ``<is>``, ``<in>``, ``<or>``,
    else an exact value."""
    parts = wanted.split()
    if len(parts) >= 2 and parts[0] == "<is>":
        return have.lower() == parts[1].lower()
    if len(parts) >= 2 and parts[0] == "<in>":
        return parts[1] in have
    if parts and parts[0] == "<or>":
        return have in parts[1::2]
    return wanted == have


def satisfies(backend: Backend, volume_type: VolumeType) -> bool:
    caps = capabilities(backend)
    for key, wanted in volume_type.extra_specs.items():
        scope, _, name = key.rpartition(":")
        if scope and scope != "capabilities":
            continue
        have = caps.get(name)
        if have is None or not _matches(wanted, have):
            return False
    return True


def place(state: VolumeState, volume_type: VolumeType, zone: str) -> Backend | None:
    candidates = [
        b
        for b in state.backends.values()
        if b.running
        and not (b.disabled or b.frozen)
        and b.availability_zone == zone
        and satisfies(b, volume_type)
    ]
    return max(candidates, key=lambda b: (b.free_capacity_gb, b.host), default=None)
