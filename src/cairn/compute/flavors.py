"""Flavor deciders, and the flavors a new cloud starts with.

Every flavor event goes to the one ``computeflavors-catalog`` stream at the
version the decision saw, so two admins creating the same name or id at
once cannot both succeed.
"""

from __future__ import annotations

from cairn.compute.decide import Writes, write
from cairn.compute.errors import Conflict, Invalid, NotFound
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.projections.compute import FLAVOR_STREAM, ComputeState, Flavor

#: (id, name, vcpus, ram MB, disk GB): Nova's classic m1 set, plus two small
#: ones that boot fast as TCG guests (a guest needs at least 72 MB to boot the
#: test kernel, so DevStack's 64 MB nano is raised to 128 MB here).
DEFAULT_FLAVORS: tuple[tuple[str, str, int, int, int], ...] = (
    ("1", "m1.tiny", 1, 512, 1),
    ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160),
    ("42", "m1.nano", 1, 128, 1),
    ("84", "m1.micro", 1, 256, 1),
)


def default_flavors(state: ComputeState, meta: Metadata) -> Writes:
    """The default set, once: only while the catalog stream has never been written
    (flavors an admin deleted later do not come back on a restart)."""
    if state.versions.get(FLAVOR_STREAM, 0):
        return []
    events = [
        ev.FlavorCreated(flavor_id=i, name=n, vcpus=c, ram_mb=r, disk_gb=d)
        for i, n, c, r, d in DEFAULT_FLAVORS
    ]
    return [write(state, FLAVOR_STREAM, events, meta)]


def find(state: ComputeState, flavor_id: str) -> Flavor:
    flavor = state.flavors.get(flavor_id)
    if flavor is None:
        raise NotFound(f"Flavor {flavor_id} could not be found.")
    return flavor


def visible(flavor: Flavor, project_id: str | None, is_admin: bool) -> bool:
    return (
        flavor.is_public or is_admin or (project_id is not None and project_id in flavor.projects)
    )


def create(state: ComputeState, meta: Metadata, d: ev.FlavorCreated) -> Writes:
    if d.flavor_id in state.flavors:
        raise Conflict(f"Flavor with ID {d.flavor_id} already exists.")
    if any(f.name == d.name for f in state.flavors.values()):
        raise Conflict(f"Flavor with name {d.name} already exists.")
    return [write(state, FLAVOR_STREAM, [d], meta)]


def update(state: ComputeState, meta: Metadata, flavor_id: str, description: str | None) -> Writes:
    find(state, flavor_id)
    return [write(state, FLAVOR_STREAM, [ev.FlavorUpdated(flavor_id, description)], meta)]


def delete(state: ComputeState, meta: Metadata, flavor_id: str) -> Writes:
    find(state, flavor_id)
    return [write(state, FLAVOR_STREAM, [ev.FlavorDeleted(flavor_id)], meta)]


def set_extra_specs(
    state: ComputeState, meta: Metadata, flavor_id: str, specs: dict[str, str]
) -> Writes:
    flavor = find(state, flavor_id)
    merged = {**flavor.extra_specs, **specs}
    if merged == flavor.extra_specs:
        return []
    event = ev.FlavorExtraSpecsChanged(flavor_id=flavor_id, extra_specs=merged)
    return [write(state, FLAVOR_STREAM, [event], meta)]


def unset_extra_spec(state: ComputeState, meta: Metadata, flavor_id: str, key: str) -> Writes:
    flavor = find(state, flavor_id)
    if key not in flavor.extra_specs:
        raise NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
    specs = {k: v for k, v in flavor.extra_specs.items() if k != key}
    event = ev.FlavorExtraSpecsChanged(flavor_id=flavor_id, extra_specs=specs)
    return [write(state, FLAVOR_STREAM, [event], meta)]


def add_access(state: ComputeState, meta: Metadata, flavor_id: str, project_id: str) -> Writes:
    flavor = find(state, flavor_id)
    if flavor.is_public:
        raise Conflict("Can not add access to a public flavor.")
    if project_id in flavor.projects:
        raise Conflict(
            f"Flavor access already exists for flavor {flavor_id} and project {project_id} "
            "combination."
        )
    event = ev.FlavorAccessAdded(flavor_id=flavor_id, project_id=project_id)
    return [write(state, FLAVOR_STREAM, [event], meta)]


def remove_access(state: ComputeState, meta: Metadata, flavor_id: str, project_id: str) -> Writes:
    flavor = find(state, flavor_id)
    if flavor.is_public:
        raise Invalid("Can not remove access from a public flavor.")
    if project_id not in flavor.projects:
        raise NotFound(f"Flavor access not found for {flavor_id} / {project_id} combination.")
    event = ev.FlavorAccessRemoved(flavor_id=flavor_id, project_id=project_id)
    return [write(state, FLAVOR_STREAM, [event], meta)]
