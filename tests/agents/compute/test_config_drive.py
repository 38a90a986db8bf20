"""The config drive as a guest reads it: an ISO 9660 image labelled config-2 whose
Rock Ridge (and Joliet) tree holds Nova's documents for the boot request."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pycdlib

from cairn.agents.compute import config_drive
from cairn.agents.compute.instance_metadata import OPENSTACK_VERSIONS, FixedAddress, meta_data
from cairn.agents.compute.nics import BoundPort
from cairn.events import compute as ev

REQUEST = ev.ServerCreateRequested(
    server_id="5d3f3b1e-2f43-4a57-9d1b-4c1f8a7e0a11",
    project_id="p1",
    user_id="u1",
    name="Web Server 1",
    flavor=ev.FlavorSnapshot(flavor_id="1", name="m1.nano", vcpus=1, ram_mb=128, disk_gb=1),
    image=ev.ImageSnapshot(image_id="i", name="img", disk_format="qcow2"),
    created_at="2026-12-03T10:00:00Z",
    key_name="mine",
    public_key="ssh-ed25519 AAAAC3Nza mine",
    user_data=base64.b64encode(b"#!/bin/sh\necho hi\n").decode(),
    metadata={"role": "web"},
    config_drive=True,
)
PORT = BoundPort(
    port_id="a1b2c3d4-0000-4000-8000-000000000001",
    network_id="n1",
    network_name="blue",
    mac="fa:16:3e:00:00:01",
    fixed_ips=("10.0.0.5",),
    mtu=1450,
    addressing=(
        FixedAddress(
            ip_address="10.0.0.5",
            network_id="n1",
            ip_version=4,
            cidr="10.0.0.0/24",
            gateway_ip="10.0.0.1",
            enable_dhcp=False,
            dns_nameservers=("10.0.0.2",),
        ),
    ),
)


def _read(iso: pycdlib.PyCdlib, **path: str) -> bytes:
    out = io.BytesIO()
    iso.get_file_from_iso_fp(out, **path)
    return out.getvalue()


def test_the_drive_holds_novas_documents_under_their_long_names(tmp_path: Path) -> None:
    instance = config_drive.for_request(REQUEST, [PORT], "nova")
    path = tmp_path / "disk.config"
    config_drive.write(path, instance)
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        assert iso.pvd.volume_identifier.decode().strip() == "config-2"
        for version in OPENSTACK_VERSIONS:
            meta = json.loads(_read(iso, rr_path=f"/openstack/{version}/meta_data.json"))
            assert meta == json.loads(json.dumps(meta_data(instance)))
        assert meta["hostname"] == "web-server-1"
        assert meta["public_keys"] == {"mine": "ssh-ed25519 AAAAC3Nza mine"}
        assert meta["meta"] == {"role": "web"}
        user_data = _read(iso, rr_path="/openstack/latest/user_data")
        assert user_data == b"#!/bin/sh\necho hi\n"
        assert _read(iso, joliet_path="/openstack/latest/user_data") == user_data
        assert _read(iso, rr_path="/ec2/latest/user-data") == user_data
        ec2 = json.loads(_read(iso, rr_path="/ec2/2009-04-04/meta-data.json"))
        assert ec2["public-keys"] == {"0=mine": {"openssh-key": "ssh-ed25519 AAAAC3Nza mine"}}
        network = json.loads(_read(iso, rr_path="/openstack/latest/network_data.json"))
        assert network["links"] == [
            {
                "id": "tapa1b2c3d4-00",
                "vif_id": PORT.port_id,
                "type": "bridge",
                "ethernet_mac_address": PORT.mac,
                "mtu": 1450,
            }
        ]
        assert network["networks"][0]["ip_address"] == "10.0.0.5"
        assert network["networks"][0]["type"] == "ipv4"  # no DHCP: the netmask is given
        assert network["networks"][0]["netmask"] == "255.255.255.0"
        assert network["services"] == [{"type": "dns", "address": "10.0.0.2"}]
    finally:
        iso.close()


def test_a_drive_without_user_data_has_no_user_data_file(tmp_path: Path) -> None:
    request = ev.ServerCreateRequested(**{**_fields(REQUEST), "user_data": None})
    files = config_drive.contents(config_drive.for_request(request, [], "nova"))
    assert "openstack/latest/meta_data.json" in files
    assert not [name for name in files if name.endswith(("user_data", "user-data"))]
    assert json.loads(files["openstack/latest/network_data.json"]) == {
        "links": [],
        "networks": [],
        "services": [],
    }


def _fields(event: ev.ServerCreateRequested) -> dict[str, object]:
    return {name: getattr(event, name) for name in event.__struct_fields__}
