"""The compute projection: events in, state out; its snapshot survives a restart."""

from __future__ import annotations

from tests.compute.folding import Log

from cairn.compute.scheduler import SchedulerConfig
from cairn.events import compute as ev
from cairn.projections.compute import ComputeProjection


def _history() -> Log:
    log = Log()
    log.host("a")
    log.add("computeflavors-catalog", ev.FlavorCreated(
        flavor_id="1", name="tiny", vcpus=1, ram_mb=128, disk_gb=1, is_public=False))  # fmt: skip
    log.add("computeflavors-catalog", ev.FlavorAccessAdded(flavor_id="1", project_id="p"))
    log.add("keypairs-u", ev.KeypairCreated(user_id="u", name="k", public_key="ssh-ed25519 A",
                                            fingerprint="f"))  # fmt: skip
    server = log.boot(metadata={"role": "db"})
    log.add("computequota-p", ev.ComputeQuotaConsumed(
        project_id="p", server_id=server, instances=1, cores=1, ram_mb=128))  # fmt: skip
    log.apply_plan(SchedulerConfig())
    log.add(f"server-{server}", ev.ServerSpawned(
        server_id=server, host="a", launched_at="t", instance_name="i",
        addresses={"net": [{"addr": "10.0.0.5", "version": 4}]}))  # fmt: skip
    log.add(f"server-{server}", ev.ServerActionRequested(server_id=server, host="a", action="stop"))
    return log


def test_a_server_life_folds_to_novas_states() -> None:
    log = _history()
    (server,) = log.state.servers.values()
    assert (server.vm_state, server.task_state, server.power_state) == (
        "active", "powering-off", 1,
    )  # fmt: skip
    assert server.host == "a"
    assert server.addresses["net"][0]["addr"] == "10.0.0.5"
    assert [a.action for a in server.actions] == ["create", "stop"]
    assert server.actions[0].events[0].result == "Success"
    assert server.actions[1].events[0].finish_time is None
    done = ev.ServerActionCompleted(
        server_id=server.id, host="a", action="stop", vm_state="stopped", power_state=4
    )
    log.add(f"server-{server.id}", done)
    assert (server.vm_state, server.task_state, server.power_state) == ("stopped", None, 4)
    assert server.id not in log.state.transitional
    log.add(f"server-{server.id}", ev.ServerPowerStateChanged(
        server_id=server.id, host="a", vm_state="active", power_state=1))  # fmt: skip
    assert server.vm_state == "active"
    assert log.state.usage["p"].instances == 1
    assert log.state.hosts["a"].used_memory_mb == 128
    assert log.state.flavors["1"].projects == ["p"]


def test_the_state_survives_a_snapshot() -> None:
    log = _history()
    projection = ComputeProjection()
    restored = projection.decode_state(projection.encode_state(log.state))
    assert restored == log.state
