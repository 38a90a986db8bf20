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
