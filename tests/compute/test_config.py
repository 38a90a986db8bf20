"""Compute settings: the hypervisor, in-process hosts and the scheduler's knobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn.config import ConfigError, Settings, default_hypervisor

HOME = {"HOME": "/home/ada"}


def test_compute_defaults() -> None:
    settings = Settings.resolve({}, HOME)
    assert settings.hypervisor is None
    assert settings.compute_hosts == 1
    assert settings.scheduler_strategy == "spread"
    assert settings.scheduler_max_attempts == 3
    assert settings.compute_deadline == 600.0


def test_the_hypervisor_defaults_to_qemu_only_where_libvirtd_listens(tmp_path: Path) -> None:
    socket = tmp_path / "libvirt-sock"
    assert default_hypervisor((socket,)) == "test:///default"
    socket.touch()
    assert default_hypervisor((socket,)) == "qemu:///system"


def test_flags_and_variables() -> None:
    env = {"CAIRN_HYPERVISOR": "test:///default", "CAIRN_COMPUTE_HOSTS": "4", **HOME}
    settings = Settings.resolve({"scheduler_strategy": "STACK"}, env)
    assert settings.hypervisor_uri == "test:///default"
    assert settings.compute_hosts == 4
    assert settings.scheduler_strategy == "stack"
    assert Settings.resolve({"compute_hosts": "0"}, HOME).compute_hosts == 0


@pytest.mark.parametrize(
    ("field", "raw", "names"),
    [
        ("hypervisor", "qemu", "--hypervisor"),
        ("compute_hosts", "-1", "--compute-hosts"),
        ("scheduler_strategy", "random", "--scheduler-strategy"),
        ("scheduler_max_attempts", "0", "--scheduler-max-attempts"),
        ("compute_deadline", "0", "--compute-deadline"),
    ],
)
def test_bad_values_name_their_flag(field: str, raw: str, names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        Settings.resolve({field: raw}, HOME)
