"""A running guest's statistics from libvirt (what Nova's server diagnostics show).

Called in the driver's worker thread: every call here is a libvirt round trip.
Disks and NICs are read from the domain's XML (their target devices), then
counted with ``blockStats`` and ``interfaceStats``; memory is what the balloon
reports (``memoryStats``: ``actual``, less ``unused`` when the guest tells).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import libvirt

from cairn.events import compute as ev

_STATES = {
    libvirt.VIR_DOMAIN_RUNNING: "running",
    libvirt.VIR_DOMAIN_BLOCKED: "blocked",
    libvirt.VIR_DOMAIN_PAUSED: "paused",
    libvirt.VIR_DOMAIN_SHUTDOWN: "shutdown",
    libvirt.VIR_DOMAIN_SHUTOFF: "shutoff",
    libvirt.VIR_DOMAIN_CRASHED: "crashed",
    libvirt.VIR_DOMAIN_PMSUSPENDED: "suspended",
}


def collect(dom: libvirt.virDomain, hypervisor: str) -> ev.GuestStats:
    state, max_kib, memory_kib, _vcpus, _cpu_time = dom.info()
    running = state == libvirt.VIR_DOMAIN_RUNNING
    cpu_times = [int(v[2]) for v in dom.vcpus()[0]] if running else []
    used = memory_kib
    if running:
        memory = dom.memoryStats()
        if "actual" in memory:
            used = int(memory["actual"]) - int(memory.get("unused", 0))
    root = ET.fromstring(dom.XMLDesc(0))
    disks, nics = [], []
    for device in root.findall("./devices/disk/target"):
        name = device.get("dev", "")
        if running and name:
            rd_req, rd_bytes, wr_req, wr_bytes, errs = dom.blockStats(name)
            counted = ev.DiskStats(
                name=name,
                read_requests=rd_req,
                read_bytes=rd_bytes,
                write_requests=wr_req,
                write_bytes=wr_bytes,
                errors=max(errs, 0),
            )
            disks.append(counted)
    for interface in root.findall("./devices/interface"):
        tap, mac = interface.find("target"), interface.find("mac")
        name = tap.get("dev", "") if tap is not None else ""
        address = mac.get("address", "") if mac is not None else ""
        if running and name:
            rx, rx_p, rx_e, rx_d, tx, tx_p, tx_e, tx_d = dom.interfaceStats(name)
            nic = ev.NicStats(
                name=name,
                mac_address=address,
                rx_bytes=rx,
                rx_packets=rx_p,
                rx_errors=rx_e,
                rx_drop=rx_d,
                tx_bytes=tx,
                tx_packets=tx_p,
                tx_errors=tx_e,
                tx_drop=tx_d,
            )
            nics.append(nic)
    return ev.GuestStats(
        state=_STATES.get(state, "unknown"),
        hypervisor=hypervisor.lower(),
        cpu_times=cpu_times,
        memory_max_kib=max_kib,
        memory_used_kib=used,
        disks=disks,
        nics=nics,
    )
