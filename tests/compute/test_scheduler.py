"""The scheduler's decisions as pure functions: events in, a plan out.

State is folded from the same events agents and the API append; ``plan`` is
called with an explicit clock, so "up" and "down" are exact.
"""

from __future__ import annotations

from tests.compute.folding import NOW, Log

from cairn.compute.scheduler import SchedulerConfig, plan
from cairn.events import compute as ev


def test_spread_goes_to_the_emptiest_host_and_stack_to_the_fullest() -> None:
    log = Log()
    log.host("a", memory_mb=1024)
    log.host("b", memory_mb=2048)
    first = log.boot()
    assert log.apply_plan() == {first: "b"}
    stacked = Log()
    stacked.host("a", memory_mb=1024)
    stacked.host("b", memory_mb=2048)
    second = stacked.boot()
    assert stacked.apply_plan(SchedulerConfig(strategy="stack")) == {second: "a"}


def test_a_pass_counts_its_own_claims() -> None:
    log = Log()
    log.host("a", memory_mb=256)  # room for two m1.nano
    ids = [log.boot() for _ in range(3)]
    placed = log.apply_plan()
    assert placed == {ids[0]: "a", ids[1]: "a"}
    failed = log.state.servers[ids[2]]
    assert failed.vm_state == "error"
    assert failed.fault is not None
    assert failed.fault.message == "No valid host was found. "
    assert log.state.hosts["a"].used_memory_mb == 256


def test_hosts_down_or_disabled_are_skipped() -> None:
    log = Log()
    log.host("old", at=NOW - 31)  # silent for more than three 10 s heartbeats
    log.host("off")
    log.add("computehost-off", ev.ComputeServiceDisabled(host="off", reason="maintenance"))
    log.host("ok", memory_mb=128)
    server = log.boot()
    assert log.apply_plan() == {server: "ok"}
    log.add("computehost-ok", ev.ComputeHostStopped(host="ok"))
    other = log.boot()
    assert log.apply_plan() == {}
    assert log.state.servers[other].vm_state == "error"


def test_zone_requested_host_and_image_properties() -> None:
    log = Log()
    log.host("a", zone="az1")
    log.host("b", zone="az2", architecture="aarch64")
    in_az2 = log.boot(availability_zone="az2")
    on_a = log.boot(requested_host="a")
    arm = log.boot(image=ev.ImageSnapshot(image_id="i", properties={"architecture": "arm64"}))
    x86 = log.boot(image=ev.ImageSnapshot(image_id="i", properties={"hw_architecture": "amd64"}))
    hv = log.boot(image=ev.ImageSnapshot(image_id="i", properties={"hypervisor_type": "xen"}))
    placed = log.apply_plan()
    assert placed == {in_az2: "b", on_a: "a", arm: "b", x86: "a"}
    assert log.state.servers[hv].vm_state == "error"


def test_same_host_different_host_and_group_policies() -> None:
    log = Log()
    for name in ("a", "b", "c"):
        log.host(name, memory_mb=4096)
    first = log.boot()
    where = log.apply_plan()[first]
    same = log.boot(scheduler_hints={"same_host": [first]})
    different = log.boot(scheduler_hints={"different_host": [first]})
    placed = log.apply_plan()
    assert placed[same] == where
    assert placed[different] != where

    log.add("servergroup-g", ev.ServerGroupCreated(
        group_id="g", project_id="p", user_id="u", name="g", policy="anti-affinity"))  # fmt: skip
    spread = [log.boot(scheduler_hints={"group": ["g"]}) for _ in range(3)]
    hosts = log.apply_plan()
    assert sorted(hosts[s] for s in spread) == ["a", "b", "c"]
    assert log.state.server_groups["g"].members == spread
    fourth = log.boot(scheduler_hints={"group": ["g"]})
    assert log.apply_plan() == {}
    assert log.state.servers[fourth].vm_state == "error"

    log.add("servergroup-h", ev.ServerGroupCreated(
        group_id="h", project_id="p", user_id="u", name="h", policy="affinity"))  # fmt: skip
    together = [log.boot(scheduler_hints={"group": ["h"]}) for _ in range(3)]
    hosts = log.apply_plan()
    assert len({hosts[s] for s in together}) == 1


def test_anti_affinity_max_server_per_host_is_enforced() -> None:
    log = Log()
    for name in ("a", "b"):
        log.host(name, memory_mb=4096)
    log.add("servergroup-g", ev.ServerGroupCreated(
        group_id="g", project_id="p", user_id="u", name="g", policy="anti-affinity",
        rules={"max_server_per_host": 2}))  # fmt: skip
    four = [log.boot(scheduler_hints={"group": ["g"]}) for _ in range(4)]
    hosts = log.apply_plan()
    assert sorted(hosts[s] for s in four) == ["a", "a", "b", "b"]
    fifth = log.boot(scheduler_hints={"group": ["g"]})
    assert log.apply_plan() == {}
    assert log.state.servers[fifth].vm_state == "error"


def test_a_failed_spawn_is_retried_elsewhere_up_to_the_limit() -> None:
    log = Log()
    for name in ("a", "b", "c"):
        log.host(name)
    server = log.boot()
    config = SchedulerConfig(max_attempts=2)
    first = log.apply_plan(config)[server]

    def fail_on(host: str, retryable: bool = True) -> None:
        attempt = log.state.servers[server].attempt
        log.add(f"server-{server}", ev.ServerSpawnFailed(
            server_id=server, host=host, attempt=attempt, reason="disk full",
            retryable=retryable))  # fmt: skip
        log.add(f"computehost-{host}", ev.HostResourcesReleased(host=host, server_id=server))

    fail_on(first)
    assert log.state.servers[server].task_state == "scheduling"
    second = log.apply_plan(config)[server]
    assert second != first
    assert log.state.servers[server].attempt == 2
    fail_on(second)
    assert log.apply_plan(config) == {}
    failed = log.state.servers[server]
    assert failed.vm_state == "error"
    assert failed.fault is not None
    assert failed.fault.message.startswith("Exceeded maximum number of retries")
    assert "disk full" in failed.fault.message
    assert all(not h.claims for h in log.state.hosts.values())


def test_a_spawn_failure_that_no_host_can_fix_is_not_retried() -> None:
    log = Log()
    log.host("a")
    log.host("b")
    server = log.boot()
    host = log.apply_plan()[server]
    failure = ev.ServerSpawnFailed(
        server_id=server, host=host, attempt=1, reason="image corrupt", retryable=False
    )
    log.add(f"server-{server}", failure)
    assert log.apply_plan() == {}
    fault = log.state.servers[server].fault
    assert fault is not None
    assert "image corrupt" in fault.message


def test_claims_are_appended_at_the_version_the_plan_saw() -> None:
    log = Log()
    log.host("a")
    log.add("computehost-a", ev.ComputeHostHeartbeat(host="a"))
    server = log.boot()
    writes = {w.stream: w for w in plan(log.state, SchedulerConfig(), NOW).writes()}
    assert writes["computehost-a"].expected_version == 2
    assert writes[f"server-{server}"].expected_version == 1


def test_soft_affinity_prefers_the_groups_host_and_soft_anti_affinity_avoids_it() -> None:
    # spread alone would put each server on another host: soft-affinity keeps them together
    log = Log()
    for name in ("a", "b", "c"):
        log.host(name, memory_mb=4096)
    group = ev.ServerGroupCreated(
        group_id="s", project_id="p", user_id="u", name="s", policy="soft-affinity"
    )
    log.add("servergroup-s", group)
    together = [log.boot(scheduler_hints={"group": ["s"]}) for _ in range(3)]
    hosts = log.apply_plan()
    assert len({hosts[s] for s in together}) == 1
    # stack alone would fill one host: soft-anti-affinity spreads them, and a
    # fourth member still finds a host (soft: preferred, never required)
    log = Log()
    for name in ("a", "b", "c"):
        log.host(name, memory_mb=4096)
    group = ev.ServerGroupCreated(
        group_id="t", project_id="p", user_id="u", name="t", policy="soft-anti-affinity"
    )
    log.add("servergroup-t", group)
    apart = [log.boot(scheduler_hints={"group": ["t"]}) for _ in range(4)]
    hosts = log.apply_plan(SchedulerConfig(strategy="stack"))
    assert sorted(hosts) == sorted(apart)
    assert sorted(hosts[s] for s in apart[:3]) == ["a", "b", "c"]
