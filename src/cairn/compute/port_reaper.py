"""Letting go of the ports of servers that are gone.

A server's NICs are ports the boot made (deleted with it) or ports the user
gave (unbound and kept), as Nova does. Whichever way a server ends (deleted by
its agent, deleted before it ever reached a host, ended by the deadline
sweeper and deleted), its ``deleted`` state is in the compute read model: the
reaper follows that model and asks the network port to release the ports of
each deleted server once, and of each NIC a living server let go of (an
unplugged interface, a hot-plug that failed) once. Releasing is idempotent
(decided on the networking state: a port already gone, or given to another
server, is left alone), so a
restart simply looks at every deleted server again, and several API processes
may reap side by side.
"""

from __future__ import annotations

import asyncio

from cairn.compute.networks import NetworkPort
from cairn.logs import get_logger
from cairn.projections.compute import ComputeState, Server
from cairn.readmodel import ProjectionRunner

log = get_logger(__name__)


class PortReaper:
    def __init__(
        self,
        runner: ProjectionRunner[ComputeState],
        networks: NetworkPort,
        *,
        interval: float = 0.5,
    ) -> None:
        self.runner = runner
        self.networks = networks
        self.interval = interval
        self._released: set[str] = set()
        #: server id -> how many of its dropped NICs were released
        self._dropped: dict[str, int] = {}

    async def sweep(self) -> int:
        """Release the ports of every deleted server not released yet, and the
        NICs living servers dropped; how many servers' ports were released."""
        count = 0
        for server in list(self.runner.state.servers.values()):
            if not server.deleted and len(server.dropped_nics) > self._dropped.get(server.id, 0):
                count += await self._release_dropped(server)
            if not server.deleted or server.id in self._released:
                continue
            if not any(n.get("port") for n in server.networks):
                self._released.add(server.id)
                continue
            try:
                await self.networks.release(server.id, server.networks)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next sweep tries again
                log.warning("cannot release a server's ports", server_id=server.id, error=str(exc))
                continue
            self._released.add(server.id)
            count += 1
        return count

    async def _release_dropped(self, server: Server) -> int:
        done = self._dropped.get(server.id, 0)
        # A port plugged in again since it was dropped stays the server's.
        current = {n.get("port") for n in server.networks}
        entries = [n for n in server.dropped_nics[done:] if n.get("port") not in current]
        try:
            await self.networks.release(server.id, entries)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next sweep tries again
            log.warning("cannot release a dropped NIC", server_id=server.id, error=str(exc))
            return 0
        self._dropped[server.id] = len(server.dropped_nics)
        return 1

    async def run(self) -> None:
        seen = -1
        while True:
            if self.runner.changed_position != seen:
                seen = self.runner.changed_position
                await self.sweep()
            await asyncio.sleep(self.interval)
