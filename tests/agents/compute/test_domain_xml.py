"""Domain XML: what TCG guests need, and what Cairn reads back from it."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cairn.agents.compute import domain_xml
from cairn.agents.compute.driver import GuestDefinition, Nic, RootDisk


def kernel_guest(**changes: object) -> GuestDefinition:
    fields: dict[str, object] = {
        "name": "g1",
        "vcpus": 2,
        "memory_mib": 96,
        "console_log": Path("/var/log/g1.log"),
        "kernel": Path("/k/vmlinuz"),
        "initramfs": Path("/k/initrd"),
        "cmdline": "console=ttyS0 quiet",
    }
    fields.update(changes)
    return GuestDefinition(**fields)  # type: ignore[arg-type]


def test_a_kernel_guest_is_a_tcg_domain_with_acpi_and_a_logged_serial_console() -> None:
    definition = kernel_guest(uuid=uuid.UUID(int=7))

    root = ET.fromstring(domain_xml.render(definition, owned=[]))

    assert root.get("type") == "qemu"  # never kvm: it is not usable on these machines
    assert root.findtext("name") == "g1"
    assert root.findtext("uuid") == str(uuid.UUID(int=7))
    assert root.findtext("memory") == "96"
    assert root.find("memory").get("unit") == "MiB"  # type: ignore[union-attr]
    assert root.findtext("vcpu") == "2"
    assert root.findtext("os/kernel") == "/k/vmlinuz"
    assert root.findtext("os/initrd") == "/k/initrd"
    assert root.findtext("os/cmdline") == "console=ttyS0 quiet"
    assert root.find("features/acpi") is not None
    assert root.findtext("cpu/model") == "qemu64"
    assert root.find("devices/memballoon").get("model") == "none"  # type: ignore[union-attr]
    assert root.find("devices/console/target").get("type") == "serial"  # type: ignore[union-attr]
    assert root.find("devices/disk") is None
    assert domain_xml.console_log(ET.tostring(root, encoding="unicode")) == Path("/var/log/g1.log")


def test_a_disk_guest_boots_from_vda_with_its_nics_on_bridges() -> None:
    definition = kernel_guest(
        kernel=None,
        initramfs=None,
        root_disk=RootDisk(Path("/i/root.qcow2")),
        nics=(Nic("br-a", "52:54:00:00:00:01", tap="tap-g1"), Nic("br-b", "52:54:00:00:00:02")),
    )

    root = ET.fromstring(domain_xml.render(definition, owned=[]))

    assert root.find("os/kernel") is None
    assert root.find("os/boot").get("dev") == "hd"  # type: ignore[union-attr]
    disk = root.find("devices/disk")
    assert disk is not None
    assert disk.find("source").get("file") == "/i/root.qcow2"  # type: ignore[union-attr]
    assert disk.find("target").get("dev") == "vda"  # type: ignore[union-attr]
    assert disk.find("driver").get("type") == "qcow2"  # type: ignore[union-attr]
    nics = root.findall("devices/interface")
    assert [n.find("source").get("bridge") for n in nics] == ["br-a", "br-b"]  # type: ignore[union-attr]
    assert [n.find("mac").get("address") for n in nics] == [  # type: ignore[union-attr]
        "52:54:00:00:00:01",
        "52:54:00:00:00:02",
    ]
    assert nics[0].find("target").get("dev") == "tap-g1"  # type: ignore[union-attr]
    assert nics[1].find("target") is None


def test_owned_files_round_trip_through_the_metadata() -> None:
    owned = [Path("/i/root.qcow2"), Path("/var/log/g1.log")]

    xml = domain_xml.render(kernel_guest(), owned=owned)

    assert domain_xml.owned_files(xml) == owned
    assert domain_xml.is_managed(xml)
    assert not domain_xml.is_managed("<domain type='qemu'><name>other</name></domain>")
    assert domain_xml.owned_files("<domain type='qemu'><name>other</name></domain>") == []


def test_a_definition_needs_something_to_boot_and_some_resources() -> None:
    with pytest.raises(ValueError, match="root disk or a kernel"):
        kernel_guest(kernel=None)
    with pytest.raises(ValueError, match="vCPU"):
        kernel_guest(vcpus=0)


def test_data_disks_follow_the_root_disk_and_the_config_drive_follows_them() -> None:
    xml = domain_xml.render(
        kernel_guest(
            root_disk=RootDisk(Path("/i/disk.rescue")),
            data_disks=(Path("/i/disk"),),
            config_drive=Path("/i/disk.config"),
        ),
        owned=[],
    )
    disks = ET.fromstring(xml).findall("devices/disk")
    found = [
        (d.find("source").get("file"), d.find("target").get("dev"))  # type: ignore[union-attr]
        for d in disks
    ]
    assert found == [("/i/disk.rescue", "vda"), ("/i/disk", "vdb"), ("/i/disk.config", "vdc")]
