"""One definition of compute's stream names, shared by the control plane and
the agents (a second copy could drift, and a server's events would then land
in two streams)."""

from __future__ import annotations

from cairn.agents.compute import steps
from cairn.compute import quota, servers
from cairn.events import compute as ev


def test_the_control_plane_and_the_agent_name_streams_with_the_same_functions() -> None:
    assert steps.server_stream is servers.server_stream is ev.server_stream
    assert steps.host_stream is servers.host_stream is ev.host_stream
    assert steps.quota_stream is quota.quota_stream is ev.quota_stream
    assert ev.server_stream("s1") == "server-s1"
    assert ev.host_stream("h1") == "computehost-h1"
    assert ev.quota_stream("p1") == "computequota-p1"
