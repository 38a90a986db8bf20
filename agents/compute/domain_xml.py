"""libvirt domain XML for a :class:`GuestDefinition`, and what Cairn reads back.

What matters under TCG (see docs/adr/0009-hypervisor-driver.md): ``type='qemu'``
always (KVM is advertised but unusable here), ``<acpi/>`` (without it ACPI shutdown
and PCI hot-plug fail and ``poweroff`` leaves QEMU running), the plain ``qemu64``
CPU model, a serial console whose log file is the console output, no balloon.
Spawn records the files it created in the domain's metadata, so a later destroy
(even by another process) knows what to remove.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from cairn.agents.compute.driver import GuestDefinition, Nic, VolumeDisk

#: The XML namespace of Cairn's element in a domain's <metadata>.
NAMESPACE = "urn:x-cairn:guest:1"
ET.register_namespace("cairn", NAMESPACE)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def render(definition: GuestDefinition, *, owned: list[Path], tb_cache_mib: int = 32) -> str:
    """The domain XML; ``owned`` lists the files destroy must remove."""
    d = definition
    domain = ET.Element("domain", type="qemu")
    _sub(domain, "name", d.name)
    _sub(domain, "uuid", str(d.uuid))
    metadata = _sub(domain, "metadata")
    guest = _sub(metadata, f"{{{NAMESPACE}}}guest")
    for path in owned:
        _sub(guest, f"{{{NAMESPACE}}}owned", path=str(path))
    _sub(domain, "memory", str(d.memory_mib), unit="MiB")
    _sub(domain, "vcpu", str(d.vcpus))

    os_ = _sub(domain, "os")
    _sub(os_, "type", "hvm", arch="x86_64", machine="pc")
    if d.kernel is not None:
        _sub(os_, "kernel", str(d.kernel))
        if d.initramfs is not None:
            _sub(os_, "initrd", str(d.initramfs))
        _sub(os_, "cmdline", d.cmdline)
    else:
        _sub(os_, "boot", dev="hd")

    features = _sub(domain, "features")
    _sub(features, "acpi")
    # TCG's translation cache defaults to a quarter of guest RAM or more; cap it.
    _sub(_sub(features, "tcg"), "tb-cache", str(tb_cache_mib), unit="MiB")
    cpu = _sub(domain, "cpu", mode="custom", match="exact")
    _sub(cpu, "model", "qemu64", fallback="allow")
    _sub(domain, "clock", offset="utc")
    _sub(domain, "on_poweroff", "destroy")
    _sub(domain, "on_reboot", "restart")
    _sub(domain, "on_crash", "destroy")

    devices = _sub(domain, "devices")
    if d.root_disk is not None:
        disk = _sub(devices, "disk", type="file", device="disk")
        _sub(disk, "driver", name="qemu", type=d.root_disk.format)
        _sub(disk, "source", file=str(d.root_disk.path))
        _sub(disk, "target", dev="vda", bus="virtio")
        _sub(disk, "serial", "root")
    targets = iter(f"vd{letter}" for letter in "abcdefghijklmnopqrstuvwxyz"[bool(d.root_disk) :])
    for index, path in enumerate(d.data_disks):
        data = _sub(devices, "disk", type="file", device="disk")
        _sub(data, "driver", name="qemu", type="qcow2")
        _sub(data, "source", file=str(path))
        _sub(data, "target", dev=next(targets), bus="virtio")
        _sub(data, "serial", f"data-{index}")
    if d.config_drive is not None:
        drive = _sub(devices, "disk", type="file", device="disk")
        _sub(drive, "driver", name="qemu", type="raw")
        _sub(drive, "source", file=str(d.config_drive))
        _sub(drive, "target", dev=next(targets), bus="virtio")
        _sub(drive, "readonly")
        _sub(drive, "serial", "config-2")
    for volume in d.volumes:
        devices.append(_disk(volume))
    for nic in d.nics:
        devices.append(_interface(nic))
    serial = _sub(devices, "serial", type="pty")
    _sub(serial, "log", file=str(d.console_log), append="off")
    _sub(serial, "target", port="0")
    console = _sub(devices, "console", type="pty")
    _sub(console, "target", type="serial", port="0")
    # The guest agent's virtio port (libvirt makes the host side's socket): how a
    # password reaches the guest (changePassword), as qemu-ga on Nova's images.
    channel = _sub(devices, "channel", type="unix")
    _sub(channel, "target", type="virtio", name=GUEST_AGENT_PORT)
    _sub(devices, "memballoon", model="none")
    return ET.tostring(domain, encoding="unicode")


GUEST_AGENT_PORT = "org.qemu.guest_agent.0"


def _interface(nic: Nic) -> ET.Element:
    interface = ET.Element("interface", type="bridge")
    _sub(interface, "source", bridge=nic.bridge)
    _sub(interface, "mac", address=nic.mac)
    _sub(interface, "model", type="virtio")
    if nic.tap is not None:
        _sub(interface, "target", dev=nic.tap)
    return interface


def _disk(volume: VolumeDisk) -> ET.Element:
    disk = ET.Element("disk", type="file", device="disk")
    # cache='none': the guest's writes reach the volume's file at once (a snapshot
    # or backup of the file, or another host's QEMU, sees them), as Nova attaches.
    _sub(disk, "driver", name="qemu", type=volume.format, cache="none")
    _sub(disk, "source", file=str(volume.path))
    _sub(disk, "target", dev=volume.target, bus="virtio")
    _sub(disk, "serial", volume.serial)
    if volume.readonly:
        _sub(disk, "readonly")
    return disk


def disk_xml(volume: VolumeDisk) -> str:
    """The ``<disk>`` device of a volume, as a guest's definition has it (for hot-plug)."""
    return ET.tostring(_disk(volume), encoding="unicode")


def disks(xml: str) -> dict[str, str]:
    """The disks of a domain's XML that have a serial, by serial: each one's own
    ``<disk>`` XML (what a detach must name)."""
    found: dict[str, str] = {}
    for disk in ET.fromstring(xml).iterfind("devices/disk"):
        serial = disk.findtext("serial")
        if serial:
            found[serial] = ET.tostring(disk, encoding="unicode")
    return found


def with_disk(xml: str, volume: VolumeDisk | None, *, without: str | None = None) -> str:
    """A domain's XML with ``volume``'s disk added, or the disk of serial ``without``
    removed (a definition changed without hot-plug)."""
    root = ET.fromstring(xml)
    devices = root.find("devices")
    assert devices is not None
    if without is not None:
        for disk in list(devices.iterfind("disk")):
            if disk.findtext("serial") == without:
                devices.remove(disk)
    if volume is not None:
        devices.append(_disk(volume))
    return ET.tostring(root, encoding="unicode")


def interface_xml(nic: Nic) -> str:
    """The ``<interface>`` device of ``nic``, as a guest's definition has it (for hot-plug)."""
    return ET.tostring(_interface(nic), encoding="unicode")


def interfaces(xml: str) -> dict[str, tuple[Nic, str]]:
    """The bridge NICs of a domain's XML by MAC: the NIC and its own ``<interface>`` XML
    (what a detach must name)."""
    found: dict[str, tuple[Nic, str]] = {}
    for interface in ET.fromstring(xml).iterfind("devices/interface"):
        mac = interface.find("mac")
        source = interface.find("source")
        if mac is None or source is None or mac.get("address") is None:
            continue
        target = interface.find("target")
        nic = Nic(
            bridge=source.get("bridge") or "",
            mac=(mac.get("address") or "").lower(),
            tap=None if target is None else target.get("dev"),
        )
        found[nic.mac] = (nic, ET.tostring(interface, encoding="unicode"))
    return found


def owned_files(xml: str) -> list[Path]:
    """The files spawn created for a domain, from its XML's metadata."""
    root = ET.fromstring(xml)
    return [
        Path(element.attrib["path"])
        for element in root.iterfind(f"metadata/{{{NAMESPACE}}}guest/{{{NAMESPACE}}}owned")
    ]


def is_managed(xml: str) -> bool:
    """Whether Cairn's spawn created the domain."""
    return ET.fromstring(xml).find(f"metadata/{{{NAMESPACE}}}guest") is not None


def console_log(xml: str) -> Path | None:
    """The file the domain's first serial port is logged to."""
    log = ET.fromstring(xml).find("devices/serial/log")
    return None if log is None else Path(log.attrib["file"])
