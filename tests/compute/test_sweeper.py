"""Deadlines: nothing stays building, deleting or mid-action once its time is up."""

from __future__ import annotations

from tests.compute.folding import NOW, Log

from cairn.compute.scheduler import SchedulerConfig
from cairn.compute.sweeper import expired, resolve
from cairn.events import compute as ev

DEADLINE = 60.0


def _placed(log: Log) -> tuple[str, str]:
    log.host("a")
    server = log.boot()
    log.add("computequota-p", ev.ComputeQuotaConsumed(
        project_id="p", server_id=server, instances=1, cores=1, ram_mb=128))  # fmt: skip
    host = log.apply_plan(SchedulerConfig())[server]
    return server, host


def _sweep(log: Log, now: float) -> list[str]:
    found = expired(log.state, DEADLINE, now)
    for server in found:
        log.fold(resolve(log.state, server, DEADLINE, now), now)
    return [s.id for s in found]


def test_a_build_that_never_ends_goes_to_error() -> None:
    log = Log()
    server, _ = _placed(log)
    assert _sweep(log, NOW + DEADLINE - 1) == []
    assert _sweep(log, NOW + DEADLINE + 1) == [server]
    found = log.state.servers[server]
    assert (found.vm_state, found.task_state) == ("error", None)
    assert found.fault is not None
    assert "timed out" in found.fault.message
    assert server not in log.state.transitional
    # The claim stays until the server is deleted: the guest may still exist.
    assert server in log.state.hosts["a"].claims


def test_a_delete_on_a_dead_host_completes_here() -> None:
    log = Log()
    server, host = _placed(log)
    log.add(f"server-{server}", ev.ServerSpawned(
        server_id=server, host=host, launched_at="t", instance_name="i"))  # fmt: skip
    later = NOW + 1000
    log.add(f"server-{server}", ev.ServerDeleteRequested(server_id=server, host=host), later)
    # The host's agent fell silent long ago: the sweeper deletes it itself.
    assert _sweep(log, later + DEADLINE + 1) == [server]
    assert log.state.servers[server].deleted
    assert log.state.hosts["a"].claims == {}
    assert log.state.usage["p"].instances == 0


def test_a_delete_on_a_live_but_silent_host_goes_to_error() -> None:
    log = Log()
    server, host = _placed(log)
    log.add(f"server-{server}", ev.ServerDeleteRequested(server_id=server, host=host))
    log.add(f"computehost-{host}", ev.ComputeHostHeartbeat(host=host), NOW + DEADLINE)
    _sweep(log, NOW + DEADLINE + 1)
    found = log.state.servers[server]
    assert (found.vm_state, found.task_state, found.deleted) == ("error", None, False)


def test_an_action_that_never_ends_fails_but_keeps_the_vm_state() -> None:
    log = Log()
    server, host = _placed(log)
    log.add(f"server-{server}", ev.ServerSpawned(
        server_id=server, host=host, launched_at="t", instance_name="i"))  # fmt: skip
    log.add(f"server-{server}", ev.ServerActionRequested(
        server_id=server, host=host, action="stop"), NOW + 500)  # fmt: skip
    assert log.state.servers[server].task_state == "powering-off"
    assert _sweep(log, NOW + 500 + DEADLINE - 1) == []
    _sweep(log, NOW + 500 + DEADLINE + 1)
    found = log.state.servers[server]
    assert (found.vm_state, found.task_state) == ("active", None)
    assert found.actions[-1].message == "Error"


def _volume_action_expires(action: str) -> tuple[list[str], list[str]]:
    """The volume events and the server's fault left by an expired volume action."""
    from cairn.events import ANY_VERSION
    from cairn.events.compute_volumes import volume_entry

    log = Log()
    server, host = _placed(log)
    log.add(
        f"server-{server}",
        ev.ServerSpawned(server_id=server, host=host, launched_at="t", instance_name="i"),
    )
    entry = volume_entry("vol-1", "att-1", "/dev/vdb")
    log.add(
        f"server-{server}",
        ev.ServerActionRequested(server_id=server, host=host, action=action, volume=entry),
    )
    assert log.state.servers[server].pending_volume == entry
    writes = resolve(log.state, log.state.servers[server], DEADLINE, NOW + DEADLINE + 1)
    on_volume = [w for w in writes if w.stream == "volume-vol-1"]
    assert all(w.expected_version == ANY_VERSION for w in on_volume)
    log.fold(writes, NOW + DEADLINE + 1)
    found = log.state.servers[server]
    assert (found.task_state, found.pending_volume) == (None, {})
    assert found.fault is not None
    return [e.type for w in on_volume for e in w.events], [found.fault.message]


def test_an_attach_no_agent_answered_gives_the_volume_back() -> None:
    events, (fault,) = _volume_action_expires("attach_volume")
    assert events == ["VolumeUnreserved"]
    assert "attach_volume" in fault
    assert "timed out" in fault


def test_a_detach_no_agent_answered_leaves_the_volume_in_use() -> None:
    events, _ = _volume_action_expires("detach_volume")
    assert events == ["VolumeDetachRolledBack"]


def test_other_expired_actions_touch_no_volume() -> None:
    log = Log()
    server, host = _placed(log)
    log.add(
        f"server-{server}",
        ev.ServerSpawned(server_id=server, host=host, launched_at="t", instance_name="i"),
    )
    log.add(
        f"server-{server}", ev.ServerActionRequested(server_id=server, host=host, action="reboot")
    )
    writes = resolve(log.state, log.state.servers[server], DEADLINE, NOW + DEADLINE + 1)
    assert [w.stream for w in writes] == [f"server-{server}"]
