"""QoS specs: create, keys, associations with volume types, deletes (admins only)."""

from __future__ import annotations

from tests.volume.conftest import VolumeCloud


async def test_qos_specs_and_their_types(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    status, _ = await cloud.call("POST", "/qos-specs", demo, {"qos_specs": {"name": "q"}})
    assert status == 403
    for bad in ({}, {"name": ""}, {"name": "q", "consumer": "nobody"}, {"name": "q", "x": []}):
        status, _ = await cloud.call("POST", "/qos-specs", None, {"qos_specs": bad})
        assert status == 400, bad
    made = await cloud.ok(
        "POST", "/qos-specs", None, {"qos_specs": {"name": "fast", "read_iops_sec": 500}}
    )
    qos = made["qos_specs"]
    assert (qos["consumer"], qos["specs"]) == ("back-end", {"read_iops_sec": "500"})
    status, _ = await cloud.call("POST", "/qos-specs", None, {"qos_specs": {"name": "fast"}})
    assert status == 409
    qid = qos["id"]
    assert (await cloud.ok("PUT", f"/qos-specs/{qid}", None, {"qos_specs": {"iops": "9"}}))[
        "qos_specs"
    ] == {"iops": "9"}
    await cloud.ok("PUT", f"/qos-specs/{qid}/delete_keys", None, {"keys": ["read_iops_sec"]})
    status, _ = await cloud.call("PUT", f"/qos-specs/{qid}/delete_keys", None, {"keys": ["nope"]})
    assert status == 404
    assert (await cloud.ok("GET", f"/qos-specs/{qid}"))["qos_specs"]["specs"] == {"iops": "9"}
    tid = (await cloud.ok("POST", "/types", None, {"volume_type": {"name": "t1"}}))["volume_type"][
        "id"
    ]
    await cloud.ok("GET", f"/qos-specs/{qid}/associate?vol_type_id={tid}")
    assert (await cloud.ok("GET", f"/types/{tid}"))["volume_type"]["qos_specs_id"] == qid
    associations = (await cloud.ok("GET", f"/qos-specs/{qid}/associations"))["qos_associations"]
    assert associations == [{"association_type": "volume_type", "id": tid, "name": "t1"}]
    status, _ = await cloud.call("DELETE", f"/qos-specs/{qid}")
    assert status == 400  # still associated
    status, _ = await cloud.call("GET", f"/qos-specs/{qid}/associate?vol_type_id=nope")
    assert status == 404
    await cloud.ok("GET", f"/qos-specs/{qid}/disassociate_all")
    assert (await cloud.ok("GET", f"/qos-specs/{qid}/associations"))["qos_associations"] == []
    await cloud.ok("DELETE", f"/qos-specs/{qid}")
    status, _ = await cloud.call("GET", f"/qos-specs/{qid}")
    assert status == 404
    assert (await cloud.ok("GET", "/qos-specs"))["qos_specs"] == []
