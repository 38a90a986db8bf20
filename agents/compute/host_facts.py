"""What the agent says about the machine it runs on (not its hypervisor's view):
its address, when it booted, its load. Nova's compute service reports the same
as ``host_ip`` (``my_ip``) and answers ``uptime`` from the host; Cairn's API
never reaches into a host, so the agent puts these in its registration and
heartbeats, and the API reads them from the log.

Each function is cheap but touches the kernel (``/proc``, a socket), so the
agent calls them in a thread.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

#: Any address off this host: connecting a UDP socket sends nothing, it only
#: asks the kernel which source address its routes would use (TEST-NET-1).
_PROBE = ("192.0.2.1", 9)


def host_ip() -> str:
    """The source address of this host's default route ("127.0.0.1" without one)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(_PROBE)
            address: str = probe.getsockname()[0]
            return address
    except OSError:
        return "127.0.0.1"


def booted_at(proc_stat: Path = Path("/proc/stat")) -> float:
    """When the host booted, epoch seconds (the kernel's ``btime``; 0.0 unknown)."""
    try:
        for line in proc_stat.read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (empty where the platform has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []
