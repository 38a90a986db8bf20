"""``/v2.0/agents``: the network agents of the cloud, for admins.

Each machine's network agent is Neutron's Linux bridge, DHCP, L3 and metadata
agents at once; it is listed as one row per role, each alive while its
heartbeats (``NetworkAgentHeartbeat``, every 30 s) keep coming (Neutron's
``agent_down_time``: 75 s). Others see an empty list, as Neutron's policy
answers them. Only listing and showing are built (no ``agent`` extension yet:
updating and deleting agents are not).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from cairn.api.network.common import caller, networking
from cairn.api.network.listing import filter_items
from cairn.api.network.render import timestamp
from cairn.network.errors import NotFound
from cairn.projections.network import AgentInfo

DOWN_AFTER = 75.0
_NAMESPACE = uuid.UUID("c1f7c0de-3f4e-4a57-9d6a-0a9e1f3b5c21")
BINARIES = {
    "Linux bridge agent": "neutron-linuxbridge-agent",
    "DHCP agent": "neutron-dhcp-agent",
    "L3 agent": "neutron-l3-agent",
    "Metadata agent": "neutron-metadata-agent",
}
TOPICS = {
    "Linux bridge agent": "N/A",
    "DHCP agent": "dhcp_agent",
    "L3 agent": "l3_agent",
    "Metadata agent": "N/A",
}


def _rows(agent: AgentInfo, now: datetime) -> list[dict[str, Any]]:
    alive = (now - agent.last_seen).total_seconds() < DOWN_AFTER
    return [
        {
            "id": str(uuid.uuid5(_NAMESPACE, f"{agent.host}/{kind}")),
            "agent_type": kind,
            "binary": BINARIES.get(kind, kind),
            "host": agent.host,
            "topic": TOPICS.get(kind, "N/A"),
            "alive": alive,
            "admin_state_up": True,
            "description": None,
            "configurations": {},
            "created_at": timestamp(agent.first_seen),
            "started_at": agent.started_at.replace("T", " ").rstrip("Z"),
            "heartbeat_timestamp": timestamp(agent.last_seen),
            "availability_zone": "nova" if kind in ("DHCP agent", "L3 agent") else None,
            "resources_synced": None,
        }
        for kind in agent.kinds
    ]


def _all(request: web.Request) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = []
    for agent in networking(request).state.agents.values():
        rows += _rows(agent, now)
    return sorted(rows, key=lambda r: (r["host"], r["agent_type"]))


async def list_agents(request: web.Request) -> web.Response:
    who = caller(request)
    if not who.is_admin:
        return web.json_response({"agents": []})
    rows = _all(request)
    known = set(rows[0]) if rows else {"id", "agent_type", "binary", "host", "alive"}
    return web.json_response({"agents": filter_items(rows, request.query, known=known)})


async def show_agent(request: web.Request) -> web.Response:
    who = caller(request)
    agent_id = request.match_info["id"]
    found = next((r for r in _all(request) if r["id"] == agent_id), None) if who.is_admin else None
    if found is None:
        raise NotFound(f"Agent {agent_id} could not be found.", "AgentNotFound")
    return web.json_response({"agent": found})
