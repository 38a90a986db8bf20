"""QoS specs deciders: named sets of limits (``read_iops_sec``, ``total_bytes_sec``,
...) for a consumer (``front-end``: the hypervisor, ``back-end``: the storage,
``both``), associated with volume types (one spec per type, as Cinder allows).

They are recorded and shown; the hypervisor applies a type's front-end specs
when a volume is attached, which arrives with attachments to guests.
"""

from __future__ import annotations

from cairn.events import volume as ev
from cairn.projections.volume import QosSpecs, VolumeState, qos_stream, type_stream
from cairn.volume.errors import Conflict, Invalid, NotFound
from cairn.volume.writes import Writes

CONSUMERS = ("front-end", "back-end", "both")


def find(state: VolumeState, qos_id: str) -> QosSpecs:
    found = state.qos_specs.get(qos_id)
    if found is None:
        raise NotFound(f"QoS Specs {qos_id} could not be found.")
    return found


def associated_types(state: VolumeState, qos_id: str) -> list[str]:
    return sorted(t.id for t in state.types.values() if t.qos_specs_id == qos_id)


def create(
    state: VolumeState, qos_id: str, name: str, consumer: str, specs: dict[str, str], w: Writes
) -> None:
    if consumer not in CONSUMERS:
        raise Invalid(
            f"Invalid input received: consumer {consumer!r} must be one of {', '.join(CONSUMERS)}."
        )
    if any(q.name == name for q in state.qos_specs.values()):
        raise Conflict(f"QoS Specs {name} already exists.")
    w.add(
        qos_stream(qos_id),
        ev.QosSpecsCreated(qos_id=qos_id, name=name, consumer=consumer, specs=specs),
        new=True,
    )


def update(state: VolumeState, qos_id: str, specs: dict[str, str], w: Writes) -> None:
    find(state, qos_id)
    w.add(qos_stream(qos_id), ev.QosSpecsUpdated(qos_id=qos_id, specs=specs))


def delete(state: VolumeState, qos_id: str, w: Writes, *, force: bool) -> None:
    find(state, qos_id)
    if associated_types(state, qos_id) and not force:
        raise Invalid(f"QoS Specs {qos_id} is still associated with entities.")
    w.add(qos_stream(qos_id), ev.QosSpecsDeleted(qos_id=qos_id))


def associate(state: VolumeState, qos_id: str, type_id: str, w: Writes) -> None:
    find(state, qos_id)
    volume_type = state.types.get(type_id)
    if volume_type is None:
        raise NotFound(f"Volume type {type_id} could not be found.")
    if volume_type.qos_specs_id == qos_id:
        return
    if volume_type.qos_specs_id is not None:
        raise Invalid(
            f"Type {type_id} is already associated with another qos specs: "
            f"{volume_type.qos_specs_id}"
        )
    # on the type's stream too: a type changed meanwhile is decided again
    w.add(type_stream(type_id), ev.QosSpecsAssociated(qos_id=qos_id, type_id=type_id))


def disassociate(state: VolumeState, qos_id: str, type_id: str, w: Writes) -> None:
    find(state, qos_id)
    if type_id not in state.types:
        raise NotFound(f"Volume type {type_id} could not be found.")
    if state.types[type_id].qos_specs_id == qos_id:
        w.add(type_stream(type_id), ev.QosSpecsDisassociated(qos_id=qos_id, type_id=type_id))


def disassociate_all(state: VolumeState, qos_id: str, w: Writes) -> None:
    for type_id in associated_types(state, qos_id):
        disassociate(state, qos_id, type_id, w)
